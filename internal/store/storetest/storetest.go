// Package storetest is the behaviour suite every blog.Store backend must
// pass. A backend's own tests call Run with a function that opens a fresh,
// empty store; the suite then checks, as a user of the blog would notice
// them, the round trip of every field, errors, listing order and paging,
// filters, tag counts, search ranking, Vietnamese text with and without
// diacritics, upserts, the longest body, and writes racing each other.
//
// Articles are built the way the blog.Service builds them (normalised,
// valid), because that is the only input a Store ever receives.
package storetest

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/2coffee/mcp-2coffee/internal/blog"
	"github.com/2coffee/mcp-2coffee/internal/errdefs"
)

// Run runs the suite as subtests of t. open must return a new, empty store
// for each call and arrange (with t.Cleanup) to close it.
func Run(t *testing.T, open func(t *testing.T) blog.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s blog.Store)
	}{
		{"CreateGetRoundTrip", testRoundTrip},
		{"CreateConflict", testConflict},
		{"Update", testUpdate},
		{"Delete", testDelete},
		{"NotFound", testNotFound},
		{"Count", testCount},
		{"ListOrderAndPaging", testListPaging},
		{"FullPageAndOneMore", testFullPageAndOneMore},
		{"ListFilters", testListFilters},
		{"TagFiltersFoldDiacritics", testTagFolding},
		{"ListTags", testListTags},
		{"SearchHits", testSearchHits},
		{"SearchRanking", testSearchRanking},
		{"SearchAllVersusAny", testSearchAny},
		{"SearchVietnamese", testSearchVietnamese},
		{"SearchWordsBesideSymbols", testSearchSymbols},
		{"SearchPrefix", testSearchPrefix},
		{"SearchFilters", testSearchFilters},
		{"SearchPaging", testSearchPaging},
		{"SearchFollowsUpdateAndDelete", testSearchFollowsWrites},
		{"SearchRankingOnCorpus", testSearchRankingOnCorpus},
		{"Upsert", testUpsert},
		{"LongBody", testLongBody},
		{"ConcurrentCreateOneSlug", testConcurrentCreate},
		{"ConcurrentUpdates", testConcurrentUpdates},
		{"ConcurrentUpdateAndDelete", testConcurrentUpdateDelete},
		{"ConcurrentUpserts", testConcurrentUpserts},
		{"RevisionsOfALife", testRevisionsOfALife},
		{"RevisionsKeep", testRevisionsKeep},
		{"RestoreConflict", testRestoreConflict},
		{"PurgeTrash", testPurgeTrash},
		{"UpsertRevisions", testUpsertRevisions},
		{"ConcurrentRevisions", testConcurrentRevisions},
		{"Scheduled", testScheduled},
		{"Sources", testSources},
		{"UpdateExpect", testUpdateExpect},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel() // each subtest opens its own store
			tc.fn(t, open(t))
		})
	}
}

// day is the publication time of the suite's articles, plus offsets.
var day = time.Date(2024, 3, 1, 9, 0, 0, 0, time.UTC)

// article returns a normalised, valid article with this slug, changed by
// each edit in turn before normalising.
func article(t *testing.T, slug string, edits ...func(*blog.Article)) *blog.Article {
	t.Helper()
	a := &blog.Article{
		Slug:        slug,
		Title:       "Title of " + slug,
		Body:        "Body text.",
		PublishedAt: day,
		UpdatedAt:   day,
	}
	for _, e := range edits {
		e(a)
	}
	a.Normalize()
	if err := a.Validate(); err != nil {
		t.Fatalf("test article %q is invalid: %v", slug, err)
	}
	return a
}

// Edits for article.
func title(s string) func(*blog.Article)    { return func(a *blog.Article) { a.Title = s } }
func body(s string) func(*blog.Article)     { return func(a *blog.Article) { a.Body = s } }
func lang(s string) func(*blog.Article)     { return func(a *blog.Article) { a.Language = s } }
func tags(ts ...string) func(*blog.Article) { return func(a *blog.Article) { a.Tags = ts } }
func draft(a *blog.Article)                 { a.Draft = true }
func published(d time.Duration) func(*blog.Article) {
	return func(a *blog.Article) { a.PublishedAt = day.Add(d); a.UpdatedAt = day.Add(d) }
}

func create(t *testing.T, s blog.Store, as ...*blog.Article) {
	t.Helper()
	for _, a := range as {
		if err := s.CreateArticle(t.Context(), a.Clone(), testChange); err != nil {
			t.Fatalf("CreateArticle(%q): %v", a.Slug, err)
		}
	}
}

func mustGet(t *testing.T, s blog.Store, slug string) *blog.Article {
	t.Helper()
	a, err := s.GetArticle(t.Context(), slug)
	if err != nil {
		t.Fatalf("GetArticle(%q): %v", slug, err)
	}
	return a
}

func slugs(as []*blog.Article) []string {
	out := []string{}
	for _, a := range as {
		out = append(out, a.Slug)
	}
	return out
}

func hitSlugs(hs []blog.SearchHit) []string {
	out := []string{}
	for _, h := range hs {
		out = append(out, h.Article.Slug)
	}
	return out
}

func parse(t *testing.T, query string) blog.Query {
	t.Helper()
	q, err := blog.ParseQuery(query)
	if err != nil {
		t.Fatalf("ParseQuery(%q): %v", query, err)
	}
	return q
}

func testRoundTrip(t *testing.T, s blog.Store) {
	ict := time.FixedZone("ICT", 7*60*60)
	full := &blog.Article{
		Slug:        "cafe-notes",
		Title:       "  Cà phê & Go  ",
		Summary:     "Notes on coffee.",
		Body:        "# Heading\n\nSome **Markdown**, Tiếng Việt and an emoji ☕.\n",
		Tags:        []string{"Go", " databases ", "go", "Machine Learning"},
		Language:    "vi",
		Author:      "Ngọc Anh",
		PublishedAt: time.Date(2024, 5, 6, 7, 8, 9, 123456789, ict),
		UpdatedAt:   time.Date(2024, 5, 7, 7, 8, 9, 987654321, ict),
		Draft:       true,
		// Hugo's translationKey, kept as written.
		TranslationKey: " posts/Cà-phê notes ",
	}
	full.Normalize()
	bare := article(t, "bare") // no summary, author or tags
	create(t, s, full, bare)

	for _, want := range []*blog.Article{full, bare} {
		got := mustGet(t, s, want.Slug)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("GetArticle(%q) after CreateArticle mismatch (-want +got):\n%s", want.Slug, diff)
		}
		for name, tm := range map[string]time.Time{"PublishedAt": got.PublishedAt, "UpdatedAt": got.UpdatedAt} {
			if tm.Location() != time.UTC {
				t.Errorf("GetArticle(%q).%s location = %v, want UTC", want.Slug, name, tm.Location())
			}
		}
	}
	got := mustGet(t, s, "cafe-notes")
	if want := "posts/Cà-phê notes"; got.TranslationKey != want {
		t.Errorf("TranslationKey = %q, want %q (trimmed, otherwise as written)", got.TranslationKey, want)
	}
	if want := []string{"databases", "go", "machine-learning"}; !slices.Equal(got.Tags, want) {
		t.Errorf("tags = %q, want normalised %q", got.Tags, want)
	}
	if want := time.Date(2024, 5, 6, 0, 8, 9, 0, time.UTC); !got.PublishedAt.Equal(want) {
		t.Errorf("PublishedAt = %v, want %v (UTC, whole seconds)", got.PublishedAt, want)
	}
	// "tags": [] in JSON, not null, for an article without tags.
	if b := mustGet(t, s, "bare"); b.Tags == nil || len(b.Tags) != 0 {
		t.Errorf("tags of an article without tags = %#v, want an empty, non-nil slice", b.Tags)
	}

	// The store keeps its own copy: changing the caller's or a returned
	// article changes nothing stored.
	in := article(t, "copied", tags("one"))
	if err := s.CreateArticle(t.Context(), in, testChange); err != nil {
		t.Fatalf("CreateArticle: %v", err)
	}
	in.Title, in.Tags[0] = "changed", "changed"
	out := mustGet(t, s, "copied")
	out.Tags[0] = "changed too"
	if got := mustGet(t, s, "copied"); got.Title != "Title of copied" || !slices.Equal(got.Tags, []string{"one"}) {
		t.Errorf("stored article changed with the caller's copy: title %q, tags %q", got.Title, got.Tags)
	}
}

func testConflict(t *testing.T, s blog.Store) {
	first := article(t, "taken", title("First"))
	create(t, s, first)
	err := s.CreateArticle(t.Context(), article(t, "taken", title("Second")), testChange)
	if !errors.Is(err, errdefs.ErrConflict) {
		t.Fatalf("CreateArticle with a taken slug: error %v, want ErrConflict", err)
	}
	if diff := cmp.Diff(first, mustGet(t, s, "taken")); diff != "" {
		t.Errorf("first article changed by the conflicting create (-want +got):\n%s", diff)
	}
	if n, err := s.CountArticles(t.Context()); err != nil || n != 1 {
		t.Errorf("CountArticles = %d, %v; want 1", n, err)
	}
}

func testUpdate(t *testing.T, s blog.Store) {
	create(t, s, article(t, "post", tags("old-tag"), body("first words")), article(t, "other", tags("old-tag")))
	want := &blog.Article{
		Slug:        "post",
		Title:       "New title",
		Summary:     "New summary",
		Body:        "Second words",
		Tags:        []string{"new-tag"},
		Language:    "vi",
		Author:      "Someone",
		PublishedAt: day.Add(48 * time.Hour),
		UpdatedAt:   day.Add(72 * time.Hour),
		Draft:       true,
	}
	want.Normalize()
	if err := s.UpdateArticle(t.Context(), want.Clone(), testChange); err != nil {
		t.Fatalf("UpdateArticle: %v", err)
	}
	if diff := cmp.Diff(want, mustGet(t, s, "post")); diff != "" {
		t.Errorf("GetArticle after UpdateArticle mismatch (-want +got):\n%s", diff)
	}
	tagCounts, err := s.ListTags(t.Context(), blog.TagOptions{IncludeDrafts: true})
	if err != nil {
		t.Fatalf("ListTags: %v", err)
	}
	wantTags := []blog.TagCount{{Tag: "new-tag", Count: 1}, {Tag: "old-tag", Count: 1}}
	if diff := cmp.Diff(wantTags, tagCounts); diff != "" {
		t.Errorf("ListTags after the update dropped old-tag (-want +got):\n%s", diff)
	}
}

func testDelete(t *testing.T, s blog.Store) {
	gone := article(t, "gone", tags("gone-tag", "shared"), body("a unique xylophone"))
	kept := article(t, "kept", tags("shared"))
	create(t, s, gone, kept)
	if err := s.DeleteArticle(t.Context(), "gone", testChange); err != nil {
		t.Fatalf("DeleteArticle: %v", err)
	}
	if _, err := s.GetArticle(t.Context(), "gone"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("GetArticle after DeleteArticle: error %v, want ErrNotFound", err)
	}
	as, err := s.ListArticles(t.Context(), blog.ListRange{Limit: blog.MaxPage})
	if err != nil {
		t.Fatalf("ListArticles: %v", err)
	}
	if diff := cmp.Diff([]string{"kept"}, slugs(as)); diff != "" {
		t.Errorf("ListArticles after delete (-want +got):\n%s", diff)
	}
	tagCounts, err := s.ListTags(t.Context(), blog.TagOptions{})
	if err != nil {
		t.Fatalf("ListTags: %v", err)
	}
	if diff := cmp.Diff([]blog.TagCount{{Tag: "shared", Count: 1}}, tagCounts); diff != "" {
		t.Errorf("ListTags after delete (-want +got):\n%s", diff)
	}
	if got := search(t, s, parse(t, "xylophone"), blog.Filter{}); len(got) != 0 {
		t.Errorf("search for a deleted article's word found %q", got)
	}
	// The slug is free again.
	create(t, s, article(t, "gone"))
}

func testNotFound(t *testing.T, s blog.Store) {
	create(t, s, article(t, "present"))
	ctx := t.Context()
	for name, err := range map[string]error{
		"GetArticle":    func() error { _, err := s.GetArticle(ctx, "missing"); return err }(),
		"UpdateArticle": s.UpdateArticle(ctx, article(t, "missing"), testChange),
		"DeleteArticle": s.DeleteArticle(ctx, "missing", testChange),
	} {
		if !errors.Is(err, errdefs.ErrNotFound) {
			t.Errorf("%s of a missing slug: error %v, want ErrNotFound", name, err)
		}
	}
	// Updating a missing article must not create it.
	if n, err := s.CountArticles(ctx); err != nil || n != 1 {
		t.Errorf("CountArticles = %d, %v; want 1", n, err)
	}
}

func testCount(t *testing.T, s blog.Store) {
	if n, err := s.CountArticles(t.Context()); err != nil || n != 0 {
		t.Errorf("CountArticles of an empty store = %d, %v; want 0", n, err)
	}
	create(t, s, article(t, "a"), article(t, "b", draft), article(t, "c", lang("vi")))
	if n, err := s.CountArticles(t.Context()); err != nil || n != 3 {
		t.Errorf("CountArticles = %d, %v; want 3 (drafts count)", n, err)
	}
}

// listAll pages through a listing r.Limit articles at a time, each page
// starting after the last article of the one before, until a page comes
// back short, and returns every article's slug in order. It fails on a
// page longer than the limit.
func listAll(t *testing.T, s blog.Store, r blog.ListRange) []string {
	t.Helper()
	var all []string
	for pages := 1; ; pages++ {
		as, err := s.ListArticles(t.Context(), r)
		if err != nil {
			t.Fatalf("ListArticles(%+v) page %d: %v", r, pages, err)
		}
		if len(as) > r.Limit {
			t.Fatalf("ListArticles page %d holds %d articles, limit %d", pages, len(as), r.Limit)
		}
		all = append(all, slugs(as)...)
		if len(as) < r.Limit {
			return all
		}
		if pages > 100 {
			t.Fatalf("ListArticles keeps returning full pages")
		}
		last := as[len(as)-1]
		r.After = &blog.Position{PublishedAt: last.PublishedAt, Slug: last.Slug}
	}
}

func testListPaging(t *testing.T, s blog.Store) {
	create(t, s,
		article(t, "oldest", published(0)),
		// Three articles published in the same second page by slug.
		article(t, "same-b", published(24*time.Hour)),
		article(t, "same-c", published(24*time.Hour)),
		article(t, "same-a", published(24*time.Hour)),
		article(t, "a-second-later", published(24*time.Hour+time.Second)),
		article(t, "newest", published(48*time.Hour)),
		article(t, "draft-newer", published(72*time.Hour), draft),
	)
	published := []string{"newest", "a-second-later", "same-a", "same-b", "same-c", "oldest"}
	all := append([]string{"draft-newer"}, published...)
	for _, limit := range []int{1, 2, 3, 4, 6, 7, blog.MaxPage} {
		if diff := cmp.Diff(published, listAll(t, s, blog.ListRange{Limit: limit})); diff != "" {
			t.Errorf("listing with limit %d (-want +got):\n%s", limit, diff)
		}
		if diff := cmp.Diff(all, listAll(t, s, blog.ListRange{Filter: blog.Filter{IncludeDrafts: true}, Limit: limit})); diff != "" {
			t.Errorf("listing with drafts, limit %d (-want +got):\n%s", limit, diff)
		}
	}
	// A position need not be an article's: a listing after a deleted
	// article (or any time and slug) resumes where that article would be.
	after := &blog.Position{PublishedAt: day.Add(24 * time.Hour), Slug: "same-b0"}
	if diff := cmp.Diff([]string{"same-c", "oldest"}, listAll(t, s, blog.ListRange{After: after, Limit: blog.MaxPage})); diff != "" {
		t.Errorf("listing after a position between articles (-want +got):\n%s", diff)
	}
}

// testFullPageAndOneMore: the Service asks for blog.MaxPage+1 items to
// learn whether a full page has a successor; a store that capped a range
// at MaxPage would end every listing and search after the first page.
func testFullPageAndOneMore(t *testing.T, s blog.Store) {
	n := blog.MaxPage + 2
	for i := range n {
		create(t, s, article(t, fmt.Sprintf("post-%03d", i), body("Steam and crema."), published(time.Duration(i)*time.Minute)))
	}
	as, err := s.ListArticles(t.Context(), blog.ListRange{Limit: blog.MaxPage + 1})
	if err != nil || len(as) != blog.MaxPage+1 {
		t.Errorf("ListArticles with Limit MaxPage+1 = %d articles, %v; want %d", len(as), err, blog.MaxPage+1)
	}
	hits, err := s.SearchArticles(t.Context(), parse(t, "crema"), blog.SearchRange{Limit: blog.MaxPage + 1})
	if err != nil || len(hits) != blog.MaxPage+1 {
		t.Errorf("SearchArticles with Limit MaxPage+1 = %d hits, %v; want %d", len(hits), err, blog.MaxPage+1)
	}
}

func testListFilters(t *testing.T, s blog.Store) {
	create(t, s,
		article(t, "en-go", tags("go"), published(1*time.Hour)),
		article(t, "en-go-sql", tags("go", "sql"), published(2*time.Hour)),
		article(t, "vi-go", tags("go"), lang("vi"), published(3*time.Hour)),
		article(t, "vi-coffee", tags("coffee"), lang("vi"), published(4*time.Hour)),
		article(t, "en-go-draft", tags("go"), draft, published(5*time.Hour)),
	)
	tests := []struct {
		r    blog.ListRange
		want []string
	}{
		{blog.ListRange{Filter: blog.Filter{Tag: "go"}}, []string{"vi-go", "en-go-sql", "en-go"}},
		{blog.ListRange{Filter: blog.Filter{Tag: "go", IncludeDrafts: true}}, []string{"en-go-draft", "vi-go", "en-go-sql", "en-go"}},
		{blog.ListRange{Filter: blog.Filter{Language: "vi"}}, []string{"vi-coffee", "vi-go"}},
		{blog.ListRange{Filter: blog.Filter{Language: "en"}}, []string{"en-go-sql", "en-go"}},
		{blog.ListRange{Filter: blog.Filter{Tag: "go", Language: "vi"}}, []string{"vi-go"}},
		{blog.ListRange{Filter: blog.Filter{Tag: "sql"}}, []string{"en-go-sql"}},
		{blog.ListRange{Filter: blog.Filter{Tag: "nothing"}}, []string{}},
		{blog.ListRange{Filter: blog.Filter{Language: "fr"}}, []string{}},
		// Filters hold across pages.
		{blog.ListRange{Filter: blog.Filter{Tag: "go", IncludeDrafts: true}, Limit: 1}, []string{"en-go-draft", "vi-go", "en-go-sql", "en-go"}},
		{blog.ListRange{Filter: blog.Filter{Language: "en", IncludeDrafts: true}, Limit: 2}, []string{"en-go-draft", "en-go-sql", "en-go"}},
	}
	for _, tt := range tests {
		if tt.r.Limit == 0 {
			tt.r.Limit = blog.MaxPage
		}
		got := listAll(t, s, tt.r)
		if got == nil {
			got = []string{}
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("ListArticles(%+v) (-want +got):\n%s", tt.r, diff)
		}
	}
}

// testTagFolding: a tag filter matches tags as blog.TagKey folds them, so
// "ca-phe", "cà-phê" and "Cà-Phê" (normalised by the Service to "cà-phê")
// find the same articles, in listings and searches alike. Tags are still
// stored and counted as written.
func testTagFolding(t *testing.T, s blog.Store) {
	create(t, s,
		article(t, "accented", tags("Cà phê"), published(1*time.Hour)),
		article(t, "plain", tags("ca-phe"), published(2*time.Hour)),
		article(t, "road", tags("đường"), body("Cà phê on the road."), published(3*time.Hour)),
		article(t, "other", tags("cafe"), body("Cà phê elsewhere."), published(4*time.Hour)),
	)
	for _, tt := range []struct {
		tag  string
		want []string
	}{
		{"ca-phe", []string{"plain", "accented"}},
		{"cà-phê", []string{"plain", "accented"}},
		{blog.NormalizeTags([]string{"Cà-Phê"})[0], []string{"plain", "accented"}},
		{"duong", []string{"road"}},
		{"đường", []string{"road"}},
		{"cafe", []string{"other"}},
		{"ca", []string{}}, // a whole tag, not a prefix
	} {
		got := listAll(t, s, blog.ListRange{Filter: blog.Filter{Tag: tt.tag}, Limit: blog.MaxPage})
		if got == nil {
			got = []string{}
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("ListArticles(tag %q) (-want +got):\n%s", tt.tag, diff)
		}
	}
	hits, err := s.SearchArticles(t.Context(), parse(t, "cà phê"), blog.SearchRange{Filter: blog.Filter{Tag: "duong"}, Limit: blog.MaxPage})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"road"}, hitSlugs(hits)); diff != "" {
		t.Errorf("SearchArticles(cà phê, tag duong) (-want +got):\n%s", diff)
	}
	if got := mustGet(t, s, "accented").Tags; !slices.Equal(got, []string{"cà-phê"}) {
		t.Errorf("stored tags = %q, want them as written (normalised, not folded)", got)
	}
	counts, err := s.ListTags(t.Context(), blog.TagOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := []blog.TagCount{{Tag: "ca-phe", Count: 1}, {Tag: "cafe", Count: 1}, {Tag: "cà-phê", Count: 1}, {Tag: "đường", Count: 1}}
	if diff := cmp.Diff(want, counts); diff != "" {
		t.Errorf("ListTags (-want +got):\n%s", diff)
	}
}

func testListTags(t *testing.T, s blog.Store) {
	got, err := s.ListTags(t.Context(), blog.TagOptions{})
	if err != nil || len(got) != 0 {
		t.Errorf("ListTags of an empty store = %v, %v; want none", got, err)
	}
	create(t, s,
		article(t, "a", tags("go", "sqlite")),
		article(t, "b", tags("go", "coffee"), lang("vi")),
		article(t, "c", tags("go", "coffee", "vietnam"), lang("vi")),
		article(t, "d", tags("go", "secret", "zebra"), draft),
		article(t, "e", tags("zebra")),
	)
	tc := func(tag string, n int) blog.TagCount { return blog.TagCount{Tag: tag, Count: n} }
	tests := []struct {
		opts blog.TagOptions
		want []blog.TagCount
	}{
		// Most used first; equal counts alphabetically.
		{blog.TagOptions{}, []blog.TagCount{tc("go", 3), tc("coffee", 2), tc("sqlite", 1), tc("vietnam", 1), tc("zebra", 1)}},
		{blog.TagOptions{IncludeDrafts: true}, []blog.TagCount{tc("go", 4), tc("coffee", 2), tc("zebra", 2), tc("secret", 1), tc("sqlite", 1), tc("vietnam", 1)}},
		{blog.TagOptions{Language: "vi"}, []blog.TagCount{tc("coffee", 2), tc("go", 2), tc("vietnam", 1)}},
		{blog.TagOptions{Language: "en"}, []blog.TagCount{tc("go", 1), tc("sqlite", 1), tc("zebra", 1)}},
		{blog.TagOptions{Language: "fr"}, []blog.TagCount{}},
	}
	for _, tt := range tests {
		got, err := s.ListTags(t.Context(), tt.opts)
		if err != nil {
			t.Fatalf("ListTags(%+v): %v", tt.opts, err)
		}
		if got == nil {
			got = []blog.TagCount{}
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("ListTags(%+v) (-want +got):\n%s", tt.opts, diff)
		}
	}
}

func testUpsert(t *testing.T, s blog.Store) {
	ctx := t.Context()
	upsert := func(as []*blog.Article, want ...blog.UpsertOutcome) {
		t.Helper()
		in := make([]*blog.Article, len(as))
		for i, a := range as {
			in[i] = a.Clone()
		}
		got, err := s.UpsertArticles(ctx, in, testChange)
		if err != nil {
			t.Fatalf("UpsertArticles: %v", err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("UpsertArticles outcomes (-want +got):\n%s", diff)
		}
		for _, a := range as {
			if diff := cmp.Diff(a, mustGet(t, s, a.Slug)); diff != "" {
				t.Errorf("GetArticle(%q) after upsert (-want +got):\n%s", a.Slug, diff)
			}
		}
	}

	if got, err := s.UpsertArticles(ctx, nil, testChange); err != nil || len(got) != 0 {
		t.Errorf("UpsertArticles(nil) = %v, %v; want no outcomes, no error", got, err)
	}

	// One article per field, each to be changed in that field alone.
	fields := []struct {
		name string
		edit func(*blog.Article)
	}{
		{"title", func(a *blog.Article) { a.Title = "Changed title" }},
		{"summary", func(a *blog.Article) { a.Summary = "Changed summary" }},
		{"body", func(a *blog.Article) { a.Body = "Changed body" }},
		{"tags", func(a *blog.Article) { a.Tags = []string{"changed"} }},
		{"language", func(a *blog.Article) { a.Language = "vi" }},
		{"author", func(a *blog.Article) { a.Author = "Changed author" }},
		{"published", func(a *blog.Article) { a.PublishedAt = a.PublishedAt.Add(time.Second) }},
		{"updated", func(a *blog.Article) { a.UpdatedAt = a.UpdatedAt.Add(time.Second) }},
		{"draft", func(a *blog.Article) { a.Draft = true }},
		{"translation-key", func(a *blog.Article) { a.TranslationKey = "changed" }},
	}
	var first []*blog.Article
	var created, unchanged, updated []blog.UpsertOutcome
	for _, f := range fields {
		first = append(first, article(t, "change-"+f.name, tags("one", "two"),
			func(a *blog.Article) { a.Summary = "Summary"; a.Author = "Author" }))
		created = append(created, blog.Created)
		unchanged = append(unchanged, blog.Unchanged)
		updated = append(updated, blog.Updated)
	}
	upsert(first, created...)
	// The same articles again change nothing.
	upsert(first, unchanged...)

	var second []*blog.Article
	for i, f := range fields {
		a := first[i].Clone()
		f.edit(a)
		a.Normalize()
		second = append(second, a)
	}
	newcomer := article(t, "newcomer")
	upsert(append(second, newcomer), append(updated, blog.Created)...)
	// Idempotent: the same batch twice is a no-op the second time.
	upsert(append(second, newcomer), append(unchanged, blog.Unchanged)...)

	if n, err := s.CountArticles(ctx); err != nil || n != len(fields)+1 {
		t.Errorf("CountArticles = %d, %v; want %d", n, err, len(fields)+1)
	}
	// An upsert also keeps the tag table in step.
	tagCounts, err := s.ListTags(ctx, blog.TagOptions{IncludeDrafts: true})
	if err != nil {
		t.Fatalf("ListTags: %v", err)
	}
	n := len(fields) - 1
	want := []blog.TagCount{{Tag: "one", Count: n}, {Tag: "two", Count: n}, {Tag: "changed", Count: 1}}
	if diff := cmp.Diff(want, tagCounts); diff != "" {
		t.Errorf("ListTags after upserts (-want +got):\n%s", diff)
	}
}

// testChange is who the cases' writes are by, and when.
var testChange = blog.Change{Actor: "storetest", At: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)}
