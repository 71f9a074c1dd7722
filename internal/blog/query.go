package blog

import (
	"strings"
	"unicode/utf8"

	"github.com/2coffee/mcp-2coffee/internal/errdefs"
)

// Query is a parsed, store-independent search query. Every term must match
// (AND) unless Any is set. Words are folded (see Fold) and contain only word
// characters, so no store ever sees operator syntax that came from a user.
type Query struct {
	Terms []Term
	// Any asks for documents matching at least one term (OR) instead of all.
	Any bool
}

// Term is one word, a phrase of several words that must appear in order,
// or (with Prefix) a word or phrase whose last word may continue.
type Term struct {
	Words  []string
	Prefix bool
}

// ParseQuery turns what a user or model typed into a Query. Double quotes
// group a phrase; a trailing '*' on a word asks for a prefix match; every
// other character that is not part of a word separates words. Operators of
// any search syntax (AND, OR, NOT, NEAR, column filters, parentheses) are
// therefore plain words or separators, never syntax. It fails only when the
// query is empty or longer than MaxQueryLen characters; extra terms beyond
// MaxQueryTerms are dropped.
func ParseQuery(s string) (Query, error) {
	if !utf8.ValidString(s) {
		return Query{}, errdefs.Invalid("query", "is not valid UTF-8")
	}
	if n := utf8.RuneCountInString(s); n > MaxQueryLen {
		return Query{}, errdefs.Invalid("query", "has %d characters; the limit is %d", n, MaxQueryLen)
	}
	var q Query
	words := 0
	inPhrase := false
	for i, chunk := range strings.Split(s, `"`) {
		if i > 0 {
			inPhrase = !inPhrase
		}
		if inPhrase {
			ws := Words(chunk)
			prefix := strings.HasSuffix(strings.TrimSpace(chunk), "*")
			if len(ws) > 0 && words+len(ws) <= MaxQueryTerms {
				q.Terms = append(q.Terms, Term{Words: ws, Prefix: prefix})
				words += len(ws)
			}
			continue
		}
		for _, field := range strings.Fields(chunk) {
			// A star directly after a word marks a prefix; anywhere else
			// it is just a separator.
			prefix := strings.HasSuffix(field, "*")
			ws := Words(field)
			for j, w := range ws {
				if words >= MaxQueryTerms {
					break
				}
				q.Terms = append(q.Terms, Term{Words: []string{w}, Prefix: prefix && j == len(ws)-1})
				words++
			}
		}
	}
	if len(q.Terms) == 0 {
		return Query{}, errdefs.Invalid("query", "has no words to search for")
	}
	return q, nil
}

// Words returns every word of every term, in order.
func (q Query) Words() []string {
	var out []string
	for _, t := range q.Terms {
		out = append(out, t.Words...)
	}
	return out
}
