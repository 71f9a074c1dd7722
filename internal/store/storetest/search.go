package storetest

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/2coffee/mcp-2coffee/internal/blog"
)

// The search half of Run: hits, ranking, all versus any word, Vietnamese
// with and without diacritics, words beside symbols, prefixes, filters,
// paging by offset, and an index that follows every write. Both backends
// must rank by the same properties (a title match above a body match),
// though not by the same numbers.

// search returns the slugs of the first page (up to blog.MaxPage) of hits.
func search(t *testing.T, s blog.Store, q blog.Query, f blog.Filter) []string {
	t.Helper()
	r := blog.SearchRange{Filter: f, Limit: blog.MaxPage}
	hits, err := s.SearchArticles(t.Context(), q, r)
	if err != nil {
		t.Fatalf("SearchArticles(%+v, %+v): %v", q, r, err)
	}
	return hitSlugs(hits)
}

func testSearchHits(t *testing.T, s blog.Store) {
	want := article(t, "espresso-guide", title("Espresso at home"), tags("coffee"),
		func(a *blog.Article) { a.Summary = "Pulling a shot."; a.Author = "An" }, body("Grind fine, tamp evenly."))
	create(t, s, want, article(t, "tea", title("Green tea"), body("Steep gently.")))
	hits, err := s.SearchArticles(t.Context(), parse(t, "espresso"), blog.SearchRange{Limit: 10})
	if err != nil {
		t.Fatalf("SearchArticles: %v", err)
	}
	if len(hits) != 1 {
		t.Fatalf("search for espresso found %q, want [espresso-guide]", hitSlugs(hits))
	}
	// The Service builds snippets from the hit, so it must be the whole article.
	if diff := cmp.Diff(want, hits[0].Article); diff != "" {
		t.Errorf("hit article mismatch (-want +got):\n%s", diff)
	}
	hits, err = s.SearchArticles(t.Context(), parse(t, "nonexistentword"), blog.SearchRange{Limit: 10})
	if err != nil || len(hits) != 0 {
		t.Errorf("search without matches = %d hits, error %v; want none, no error",
			len(hits), err)
	}
}

func testSearchRanking(t *testing.T, s blog.Store) {
	create(t, s,
		// Newer articles come first among equals, so make the body-only
		// match the newest: only a better score can put the others first.
		article(t, "in-title", title("Understanding goroutines"), body("How the scheduler runs them."), published(0)),
		article(t, "in-tags", title("Weekly notes"), tags("goroutines"), body("Notes on the scheduler."), published(time.Hour)),
		article(t, "in-body", title("Notes from a week"), body("I also wrote goroutines for the scheduler."), published(2*time.Hour)),
		article(t, "filler-1", title("Green tea"), body("Steep it gently.")),
		article(t, "filler-2", title("Black tea"), body("Steep it longer.")),
		article(t, "filler-3", title("Espresso"), body("Grind it fine.")),
		article(t, "filler-4", title("Phin coffee"), body("Wait for the drip.")),
	)
	hits, err := s.SearchArticles(t.Context(), parse(t, "goroutines"), blog.SearchRange{Limit: 10})
	if err != nil {
		t.Fatalf("SearchArticles: %v", err)
	}
	got := hitSlugs(hits)
	if len(got) != 3 || got[0] != "in-title" || got[2] != "in-body" {
		t.Errorf("ranking for goroutines = %q, want in-title first and in-body (word only in the body) last", got)
	}
	for i := 1; i < len(hits); i++ {
		if hits[i].Score > hits[i-1].Score {
			t.Errorf("hit %d (%s) scores %v, above hit %d's %v: scores must not increase down the page",
				i, hits[i].Article.Slug, hits[i].Score, i-1, hits[i-1].Score)
		}
	}
	if len(hits) == 3 && !(hits[0].Score > hits[2].Score) {
		t.Errorf("title match scores %v, body match %v: want the title match higher", hits[0].Score, hits[2].Score)
	}
}

func testSearchAny(t *testing.T, s blog.Store) {
	create(t, s,
		article(t, "both", body("Coffee first, then tea in the afternoon.")),
		article(t, "coffee-only", body("Coffee first, then water in the afternoon.")),
		article(t, "tea-only", body("Water first, then tea in the afternoon.")),
		article(t, "neither", body("Water first, then juice in the afternoon.")),
	)
	q := parse(t, "coffee tea")
	if diff := cmp.Diff([]string{"both"}, search(t, s, q, blog.Filter{})); diff != "" {
		t.Errorf("search for every word (-want +got):\n%s", diff)
	}
	q.Any = true
	got := search(t, s, q, blog.Filter{})
	if len(got) == 0 || got[0] != "both" {
		t.Errorf("search for any word = %q, want the article holding both words first", got)
	}
	slices.Sort(got)
	if diff := cmp.Diff([]string{"both", "coffee-only", "tea-only"}, got); diff != "" {
		t.Errorf("search for any word found (-want +got, sorted):\n%s", diff)
	}
}

func testSearchVietnamese(t *testing.T, s blog.Store) {
	create(t, s,
		article(t, "ca-phe-sua-da", lang("vi"), title("Cà phê sữa đá"), body("Một ly cà phê sữa đá buổi sáng ở Sài Gòn.")),
		article(t, "duong-pho", lang("vi"), title("Đường phố Hà Nội"), body("Những con đường nhỏ buổi tối.")),
		article(t, "da-lat", lang("vi"), title("Mùa hoa ở Đà Lạt"), body("Đà Lạt lạnh và có nhiều hoa.")),
		article(t, "pho-ascii", title("Pho bo recipe"), body("How to cook pho bo at home, typed without accents.")),
		article(t, "english", title("Coffee in Saigon"), body("Iced coffee with condensed milk.")),
	)
	tests := []struct {
		query string
		want  []string
	}{
		{"ca phe", []string{"ca-phe-sua-da"}},
		{"cà phê", []string{"ca-phe-sua-da"}},
		{"CÀ PHÊ", []string{"ca-phe-sua-da"}},
		{"duong", []string{"duong-pho"}},
		{"đường", []string{"duong-pho"}},
		{"Đường", []string{"duong-pho"}},
		{"da lat", []string{"da-lat"}},
		{"Đà Lạt", []string{"da-lat"}},
		{"ha noi", []string{"duong-pho"}},
		// Written without diacritics, found with them.
		{"phở bò", []string{"pho-ascii"}},
		// A quoted phrase keeps its word order.
		{`"sua da"`, []string{"ca-phe-sua-da"}},
		{`"đá sữa"`, []string{}},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, search(t, s, parse(t, tt.query), blog.Filter{})); diff != "" {
			t.Errorf("search %q (-want +got):\n%s", tt.query, diff)
		}
	}
}

func testSearchSymbols(t *testing.T, s blog.Store) {
	create(t, s,
		article(t, "launch", title("Launch🚀day"), body("It went well🥳, the robot🤖helped; C++ and e-mail too.")),
		article(t, "other", title("Other"), body("Nothing to see.")),
	)
	// Every query word is matched as blog.Words splits the text, whatever
	// symbol (old or new emoji, punctuation) sits next to it.
	for _, query := range []string{"launch", "day", "well", "robot", "helped", "c", "mail"} {
		if diff := cmp.Diff([]string{"launch"}, search(t, s, parse(t, query), blog.Filter{})); diff != "" {
			t.Errorf("search %q (-want +got):\n%s", query, diff)
		}
	}
}

func testSearchPrefix(t *testing.T, s blog.Store) {
	create(t, s,
		article(t, "goroutines", title("Goroutines explained")),
		article(t, "gopher", title("The gopher mascot")),
		article(t, "python", title("Python generators")),
		article(t, "vi-street", lang("vi"), title("Đường phố Hà Nội")),
	)
	tests := []struct {
		query string
		want  []string // sorted
	}{
		{"gorout*", []string{"goroutines"}},
		{"gorout", []string{}},
		{"go*", []string{"gopher", "goroutines"}},
		{"GOPH*", []string{"gopher"}},
		{"duo*", []string{"vi-street"}},
		{"đườ*", []string{"vi-street"}},
		{`"pho ha n*"`, []string{"vi-street"}},
		{`"pho ha x*"`, []string{}},
	}
	for _, tt := range tests {
		got := search(t, s, parse(t, tt.query), blog.Filter{})
		slices.Sort(got)
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("search %q (-want +got, sorted):\n%s", tt.query, diff)
		}
	}
}

func testSearchFilters(t *testing.T, s blog.Store) {
	create(t, s,
		article(t, "en-coffee", tags("coffee"), body("An espresso a day."), published(1*time.Hour)),
		article(t, "vi-coffee", tags("coffee"), lang("vi"), body("Một ly espresso."), published(2*time.Hour)),
		article(t, "en-other", tags("gear"), body("An espresso machine."), published(3*time.Hour)),
		article(t, "en-draft", tags("coffee"), draft, body("A secret espresso."), published(4*time.Hour)),
	)
	q := parse(t, "espresso")
	tests := []struct {
		f    blog.Filter
		want []string // sorted
	}{
		{blog.Filter{}, []string{"en-coffee", "en-other", "vi-coffee"}},
		{blog.Filter{IncludeDrafts: true}, []string{"en-coffee", "en-draft", "en-other", "vi-coffee"}},
		{blog.Filter{Tag: "coffee"}, []string{"en-coffee", "vi-coffee"}},
		{blog.Filter{Language: "vi"}, []string{"vi-coffee"}},
		{blog.Filter{Tag: "coffee", Language: "en", IncludeDrafts: true}, []string{"en-coffee", "en-draft"}},
		{blog.Filter{Tag: "tea"}, []string{}},
	}
	for _, tt := range tests {
		got := search(t, s, q, tt.f)
		slices.Sort(got)
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("search espresso with %+v (-want +got, sorted):\n%s", tt.f, diff)
		}
	}
}

func testSearchPaging(t *testing.T, s blog.Store) {
	// Four identical articles tie on score and publication time, so only
	// a total order keeps pages from repeating or skipping one.
	for i := range 4 {
		create(t, s, article(t, fmt.Sprintf("same-%d", i), body("A kettle on the stove.")))
	}
	create(t, s,
		article(t, "title-kettle", title("The kettle"), body("Boiling water.")),
		article(t, "twice", body("Kettle, kettle, boiling on the stove.")),
		article(t, "teapot", body("A teapot, not the other thing."), published(time.Hour)),
		article(t, "long", body("Water boils in a kettle; this body is much longer than the others, "+
			"so the word is a smaller part of it and the article ranks lower.")),
	)
	for _, anyWord := range []bool{false, true} {
		// Seven articles hold "kettle"; one more holds "teapot".
		q, want := parse(t, "kettle"), 7
		if anyWord {
			q, want = parse(t, "kettle teapot"), 8
			q.Any = true
		}
		full := search(t, s, q, blog.Filter{})
		if len(full) != want {
			t.Fatalf("search %+v found %d articles %q, want %d", q, len(full), full, want)
		}
		for _, limit := range []int{1, 2, 3, len(full)} {
			var got []string
			r := blog.SearchRange{Limit: limit}
			for pages := 1; ; pages++ {
				hits, err := s.SearchArticles(t.Context(), q, r)
				if err != nil {
					t.Fatalf("SearchArticles(%+v, %+v): %v", q, r, err)
				}
				if len(hits) > limit {
					t.Fatalf("search page holds %d hits, limit %d", len(hits), limit)
				}
				got = append(got, hitSlugs(hits)...)
				if len(hits) < limit {
					break
				}
				if pages > 20 {
					t.Fatalf("search keeps returning full pages")
				}
				r.Offset += limit
			}
			if diff := cmp.Diff(full, got); diff != "" {
				t.Errorf("search %+v in pages of %d differs from one page (-want +got):\n%s", q, limit, diff)
			}
		}
	}
}

func testSearchFollowsWrites(t *testing.T, s blog.Store) {
	a := article(t, "story", title("Brass kettle"), tags("copper"), body("An old brass kettle whistles."))
	create(t, s, a, article(t, "other", body("Something else entirely.")))
	find := func(query string) []string { return search(t, s, parse(t, query), blog.Filter{}) }

	b := article(t, "story", title("Shiny teapot"), tags("porcelain"), body("A new porcelain teapot sits quietly."))
	if err := s.UpdateArticle(t.Context(), b, testChange); err != nil {
		t.Fatalf("UpdateArticle: %v", err)
	}
	for _, gone := range []string{"brass", "whistles", "copper"} {
		if got := find(gone); len(got) != 0 {
			t.Errorf("after the update, search %q (an old word) found %q, want none", gone, got)
		}
	}
	for _, now := range []string{"shiny", "quietly", "porcelain"} {
		if diff := cmp.Diff([]string{"story"}, find(now)); diff != "" {
			t.Errorf("after the update, search %q (a new word) (-want +got):\n%s", now, diff)
		}
	}

	c := article(t, "story", title("Clay pot"), body("A clay pot now."))
	if _, err := s.UpsertArticles(t.Context(), []*blog.Article{c}, testChange); err != nil {
		t.Fatalf("UpsertArticles: %v", err)
	}
	if got := find("teapot"); len(got) != 0 {
		t.Errorf("after the upsert, search %q found %q, want none", "teapot", got)
	}
	if diff := cmp.Diff([]string{"story"}, find("clay")); diff != "" {
		t.Errorf("after the upsert, search clay (-want +got):\n%s", diff)
	}

	if err := s.DeleteArticle(t.Context(), "story", testChange); err != nil {
		t.Fatalf("DeleteArticle: %v", err)
	}
	if got := find("clay"); len(got) != 0 {
		t.Errorf("after delete, search found %q, want none", got)
	}
	if diff := cmp.Diff([]string{"other"}, find("entirely")); diff != "" {
		t.Errorf("after deleting another article, search entirely (-want +got):\n%s", diff)
	}
}

// rankingCorpusSize is the part of the generated corpus the ranking test
// searches: enough for every BenchQuery to match many articles, few
// enough to load in a second on either backend.
const rankingCorpusSize = 1500

// testSearchRankingOnCorpus runs every BenchQuery over part of the
// generated corpus and checks, paging to the end in pages of 10: every hit
// holds the query's words (in any field, folded); pages neither repeat nor
// skip an article, so that all of them together are exactly the matching
// articles; the first page is the same when asked twice; and an article
// holding a query word in its title ranks above every article holding the
// query's words only in its body (for a query of one term).
func testSearchRankingOnCorpus(t *testing.T, s blog.Store) {
	corpus := Corpus(rankingCorpusSize)
	if _, err := s.UpsertArticles(t.Context(), corpus, testChange); err != nil {
		t.Fatalf("UpsertArticles: %v", err)
	}
	words := func(fields ...string) map[string]bool {
		m := map[string]bool{}
		for _, f := range fields {
			for _, w := range blog.Words(f) {
				m[w] = true
			}
		}
		return m
	}
	// holds says whether ws holds every word of the term, the last one as
	// a prefix when the term is one (adjacency is left to the store).
	holds := func(ws map[string]bool, term blog.Term) bool {
		for i, w := range term.Words {
			if term.Prefix && i == len(term.Words)-1 {
				found := false
				for x := range ws {
					if strings.HasPrefix(x, w) {
						found = true
						break
					}
				}
				if !found {
					return false
				}
			} else if !ws[w] {
				return false
			}
		}
		return true
	}
	for _, bq := range BenchQueries {
		q := parse(t, bq.Query)
		var want []string // the articles holding every term, drafts aside
		for _, a := range corpus {
			all := words(a.Title, strings.Join(a.Tags, " "), a.Summary, a.Body)
			ok := !a.Draft
			for _, term := range q.Terms {
				ok = ok && holds(all, term)
			}
			if ok {
				want = append(want, a.Slug)
			}
		}
		bySlug := map[string]*blog.Article{}
		var got []string
		r := blog.SearchRange{Limit: 10}
		for {
			hits, err := s.SearchArticles(t.Context(), q, r)
			if err != nil {
				t.Fatalf("SearchArticles(%q, %+v): %v", bq.Query, r, err)
			}
			for _, h := range hits {
				bySlug[h.Article.Slug] = h.Article
			}
			got = append(got, hitSlugs(hits)...)
			if len(hits) < r.Limit || len(got) > len(corpus) {
				break
			}
			r.Offset += r.Limit
		}
		if len(want) == 0 {
			t.Fatalf("%s: query %q matches nothing in the corpus", bq.Name, bq.Query)
		}
		distinct := slices.Clone(got)
		slices.Sort(distinct)
		if len(slices.Compact(distinct)) != len(got) {
			t.Errorf("%s: paging to the end repeats articles", bq.Name)
		}
		// A phrase's words must also be adjacent, which only the store
		// checks: its hits are a subset of want, the others exactly want.
		phrase := false
		for _, term := range q.Terms {
			phrase = phrase || len(term.Words) > 1
		}
		wantSet := map[string]bool{}
		for _, w := range want {
			wantSet[w] = true
		}
		for _, g := range got {
			if !wantSet[g] {
				t.Errorf("%s: hit %s does not hold the words of %q", bq.Name, g, bq.Query)
			}
		}
		if !phrase && len(got) != len(want) {
			t.Errorf("%s: paging to the end found %d articles, %d match %q", bq.Name, len(got), len(want), bq.Query)
		}
		first, err := s.SearchArticles(t.Context(), q, blog.SearchRange{Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(got[:min(10, len(got))], hitSlugs(first)); diff != "" {
			t.Errorf("%s: the first page changed when asked again (-before +after):\n%s", bq.Name, diff)
		}
		// Title above body-only, for queries of one term: with several,
		// the backends differ on an article holding only some of them in
		// its head (SQLite ranks it by those, PostgreSQL's ts_rank of an
		// AND query gives it nothing).
		if len(q.Terms) != 1 {
			continue
		}
		lastTitle, firstBodyOnly := -1, -1
		for i, g := range got {
			a := bySlug[g]
			head := words(a.Title, strings.Join(a.Tags, " "), a.Summary)
			inTitle, inHead := false, false
			tw := words(a.Title)
			for _, term := range q.Terms {
				inTitle = inTitle || holds(tw, term)
				inHead = inHead || holds(head, term)
			}
			if inTitle {
				lastTitle = i
			}
			if !inHead && firstBodyOnly < 0 {
				firstBodyOnly = i
			}
		}
		if firstBodyOnly >= 0 && lastTitle > firstBodyOnly {
			t.Errorf("%s: %s (query word in its title) ranks %d, below %s (words only in its body) at %d",
				bq.Name, got[lastTitle], lastTitle, got[firstBodyOnly], firstBodyOnly)
		}
	}
}
