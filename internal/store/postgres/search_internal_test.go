package postgres

import (
	"strconv"
	"strings"
	"testing"

	"github.com/2coffee/mcp-2coffee/internal/blog"
)

func TestSearchVector(t *testing.T) {
	a := &blog.Article{
		Title:   "Cà phê",
		Tags:    []string{"machine-learning", "go"},
		Summary: "It's a \\ test",
		Body:    "Phê again, phê.",
	}
	// Parts are a position apart; tags each a part of their own; weight
	// D is the default and left out; the quote and backslash never
	// reach the literal, as blog.Words drops them.
	want := `'ca':1A 'phe':2A,14,16 'machine':4B 'learning':5B 'go':7B 'it':9C 's':10C 'a':11C 'test':12C 'again':15`
	wantHead := `'ca':1A 'phe':2A 'machine':4B 'learning':5B 'go':7B 'it':9C 's':10C 'a':11C 'test':12C`
	if got, head := searchVectors(a); got != want || head != wantHead {
		t.Errorf("searchVectors =\n%s\n%s\nwant\n%s\n%s", got, head, want, wantHead)
	}
}

func TestSearchVectorLimits(t *testing.T) {
	var body strings.Builder
	body.WriteString(strings.Repeat("x", 3000) + " ")
	for i := range 20000 {
		body.WriteString("same ")
		if i == 19999 {
			body.WriteString("late")
		}
	}
	v, _ := searchVectors(&blog.Article{Title: "t", Body: body.String()})
	for _, lx := range strings.Fields(v) {
		word, positions, _ := strings.Cut(lx, ":")
		switch {
		case len(word) > maxLexemeBytes+2:
			t.Errorf("lexeme of %d bytes, limit %d", len(word)-2, maxLexemeBytes)
		case word == "'same'" && strings.Count(positions, ",")+1 != maxPositions:
			t.Errorf("'same' has %d positions, want the first %d", strings.Count(positions, ",")+1, maxPositions)
		case word == "'late'" && positions != "":
			t.Errorf("'late', past position %d, has positions %q; want none", maxPosition, positions)
		}
	}
	if !strings.Contains(v, "'late'") {
		t.Errorf("a word past the last position is not indexed")
	}
	// Distinct words beyond maxVectorBytes are dropped.
	var many strings.Builder
	for i := 0; many.Len() < 2*maxVectorBytes; i++ {
		many.WriteString("word" + strconv.Itoa(i) + " ")
	}
	b := vectorBuilder{byWord: map[string]*lexeme{}, next: 1}
	b.add(blog.Words(many.String()), weightBody)
	if b.size > maxVectorBytes || b.size < maxVectorBytes-16 {
		t.Errorf("vector size %d, want the limit %d nearly filled", b.size, maxVectorBytes)
	}
}

func TestTSQuery(t *testing.T) {
	for _, tt := range []struct {
		q    blog.Query
		want string
	}{
		{blog.Query{Terms: []blog.Term{{Words: []string{"ca", "phe"}}, {Words: []string{"da"}, Prefix: true}}},
			`('ca' <-> 'phe') & ('da':*)`},
		{blog.Query{Terms: []blog.Term{{Words: []string{"a"}}, {Words: []string{"b"}}}, Any: true},
			`('a') | ('b')`},
		// Words never hold these, but a quote or backslash stays inside
		// its lexeme whatever the caller passes.
		{blog.Query{Terms: []blog.Term{{Words: []string{`it's`, `a\`, `&|!:*()`}}}},
			`('it''s' <-> 'a\\' <-> '&|!:*()')`},
		{blog.Query{Terms: []blog.Term{{}}}, ``},
	} {
		if got := tsQuery(tt.q); got != tt.want {
			t.Errorf("tsQuery(%+v) = %s, want %s", tt.q, got, tt.want)
		}
	}
}
