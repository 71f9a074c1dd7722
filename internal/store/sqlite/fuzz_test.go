package sqlite

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/2coffee/mcp-2coffee/internal/blog"
)

// FuzzSearch feeds arbitrary text through blog.ParseQuery and the SQLite
// search. Whatever a user or a model types, a query that parses must never
// make SQLite fail (an FTS5 syntax error above all), and every hit of an
// all-words search must really hold every word.
func FuzzSearch(f *testing.F) {
	for _, s := range []string{
		`"`, `""`, `"""`, `*`, `**`, `a*`, `*a`, `"a b"*`, `"a* b"`,
		`NEAR(a b)`, `NEAR(a b, 2)`, `title:x`, `{title body}:x`, `a AND OR NOT b`, `AND`, `OR`, `NOT`,
		`(`, `)`, `(a OR b) NOT c`, `^`, `^title`, `-x`, `+x`, `'`, `a'b`, `\`, `a:b:c`, `a + b`,
		"\x00", "a\x00b", "\"\x00\"*", "\t\n\r",
		"cà phê sữa đá", "ca phe", "Đà Lạt", "đường", `"Hà Nội"*`, "ĐƯỜNG PHỐ",
		"☕ coffee 🇻🇳", "👩‍💻", "日本語のテキスト", "x\u0301\u0302", "\u200b", "\ufeff",
		"\U0001E900 adlam", "\U0001E900 near", "near\U0001E900x", "\U000F0000", strings.Repeat("a ", 40), strings.Repeat("ab* ", 30),
	} {
		f.Add(s)
	}

	db := openTest(f)
	day := time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)
	for i, a := range []*blog.Article{
		{Slug: "coffee", Title: "Cà phê sữa đá", Body: "Một ly cà phê buổi sáng ở Sài Gòn, near the river.", Tags: []string{"coffee", "vietnam"}, Language: "vi"},
		{Slug: "streets", Title: "Đường phố Hà Nội", Body: "Title and body: AND, OR, NOT are plain words here.", Tags: []string{"travel"}, Language: "vi"},
		{Slug: "dalat", Title: "Đà Lạt", Summary: "Hoa và sương.", Body: "a b c x title near", Language: "vi"},
		{Slug: "goroutines", Title: "Understanding goroutines", Body: "Channels, select and the scheduler. ☕", Tags: []string{"go"}},
		{Slug: "emoji", Title: "Emoji 👩‍💻 and CJK 日本語", Body: "Text with \u200b zero width and 日本語のテキスト."},
		{Slug: "draft", Title: "Draft post", Body: "Secret coffee words.", Draft: true},
	} {
		a.PublishedAt = day.Add(time.Duration(i) * time.Hour)
		a.UpdatedAt = a.PublishedAt
		a.Normalize()
		if err := a.Validate(); err != nil {
			f.Fatalf("seed article %q: %v", a.Slug, err)
		}
		if err := db.CreateArticle(f.Context(), a, blog.Change{Actor: "test", At: time.Now()}); err != nil {
			f.Fatalf("seed article %q: %v", a.Slug, err)
		}
	}

	f.Fuzz(func(t *testing.T, s string) {
		q, err := blog.ParseQuery(s)
		if err != nil {
			return
		}
		for _, r := range []blog.SearchRange{
			{Filter: blog.Filter{IncludeDrafts: true}, Limit: 2},
			{Filter: blog.Filter{Tag: "coffee", Language: "vi"}, Limit: 1},
		} {
			for _, anyWord := range []bool{false, true} {
				q.Any = anyWord
				hits, err := db.SearchArticles(t.Context(), q, r)
				if err != nil {
					t.Fatalf("SearchArticles(%q → %+v, %+v): %v\nMATCH %s", s, q, r, err, matchExpr(q))
				}
				if !anyWord {
					for _, h := range hits {
						checkHolds(t, h.Article, q)
					}
				}
				if len(hits) < r.Limit {
					continue
				}
				next := r
				next.Offset += r.Limit
				if _, err := db.SearchArticles(t.Context(), q, next); err != nil {
					t.Fatalf("SearchArticles(%q → %+v) second page: %v", s, q, err)
				}
			}
		}
	})
}

// checkHolds fails unless a holds every word of q (the last word of a
// prefix term as a prefix of one of a's words).
func checkHolds(t *testing.T, a *blog.Article, q blog.Query) {
	t.Helper()
	words := blog.Words(strings.Join([]string{a.Title, a.Summary, strings.Join(a.Tags, " "), a.Body}, " "))
	for _, term := range q.Terms {
		for i, w := range term.Words {
			prefix := term.Prefix && i == len(term.Words)-1
			if !slices.ContainsFunc(words, func(x string) bool { return x == w || prefix && strings.HasPrefix(x, w) }) {
				t.Errorf("hit %q does not hold query word %q (prefix %v) of %+v", a.Slug, w, prefix, q)
			}
		}
	}
}
