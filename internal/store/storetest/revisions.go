package storetest

import (
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/2coffee/mcp-2coffee/internal/blog"
	"github.com/2coffee/mcp-2coffee/internal/errdefs"
)

// by is a change by actor at minute m of the suite's day.
func by(actor string, m int) blog.Change {
	return blog.Change{Actor: actor, At: day.Add(time.Duration(m) * time.Minute)}
}

func revisions(t *testing.T, s blog.Store, slug string) []*blog.Revision {
	t.Helper()
	revs, err := s.ListRevisions(t.Context(), blog.RevisionRange{Slug: slug, Limit: blog.MaxPage + 1})
	if err != nil {
		t.Fatalf("ListRevisions(%s): %v", slug, err)
	}
	return revs
}

// summary is what a listing says of each revision.
func summary(revs []*blog.Revision) []string {
	var out []string
	for _, r := range revs {
		out = append(out, r.Action+" by "+r.Actor+" "+r.At.Format("15:04")+" ["+strings.Join(r.Changed, ",")+"]")
	}
	return out
}

// mustQuery parses a search query.
func mustQuery(t *testing.T, q string) blog.Query {
	t.Helper()
	pq, err := blog.ParseQuery(q)
	if err != nil {
		t.Fatal(err)
	}
	return pq
}

// testRevisionsOfALife: an article created, updated, deleted and
// restored keeps four revisions, newest first, each with when, who, what
// changed and the article as it was; in the trash it is gone from every
// read, and it comes back whole.
func testRevisionsOfALife(t *testing.T, s blog.Store) {
	ctx := t.Context()
	a := article(t, "life", title("First"), body("First body."), tags("go"))
	if err := s.CreateArticle(ctx, a, by("key:k1", 1)); err != nil {
		t.Fatal(err)
	}
	b := a.Clone()
	b.Body, b.Tags, b.UpdatedAt = "Second body.", []string{"go", "news"}, day.Add(2*time.Minute)
	if err := s.UpdateArticle(ctx, b, by("user:ann client:c1", 2)); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteArticle(ctx, "life", by("local", 3)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetArticle(ctx, "life"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("GetArticle of a trashed article: %v, want ErrNotFound", err)
	}
	if as, _ := s.ListArticles(ctx, blog.ListRange{Filter: blog.Filter{IncludeDrafts: true}, Limit: 10}); len(as) != 0 {
		t.Errorf("the trashed article is listed: %v", as)
	}
	if hits, _ := s.SearchArticles(ctx, mustQuery(t, "second"), blog.SearchRange{Filter: blog.Filter{IncludeDrafts: true}, Limit: 10}); len(hits) != 0 {
		t.Errorf("the trashed article is found by search")
	}
	if n, _ := s.CountArticles(ctx); n != 0 {
		t.Errorf("CountArticles with one article in the trash = %d", n)
	}
	trash, err := s.ListTrash(ctx)
	if err != nil || len(trash) != 1 || trash[0].DeletedBy != "local" || !trash[0].DeletedAt.Equal(day.Add(3*time.Minute)) {
		t.Fatalf("ListTrash = %+v, %v", trash, err)
	}
	if diff := cmp.Diff(b, trash[0].Article); diff != "" {
		t.Errorf("the trashed article (-want +got):\n%s", diff)
	}
	back, err := s.RestoreArticle(ctx, "life", by("key:k2", 4))
	if err != nil {
		t.Fatal(err)
	}
	want := b.Clone()
	want.UpdatedAt = day.Add(4 * time.Minute)
	if diff := cmp.Diff(want, back); diff != "" {
		t.Errorf("the restored article (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want, mustGet(t, s, "life")); diff != "" {
		t.Errorf("the restored article as stored (-want +got):\n%s", diff)
	}
	if hits, _ := s.SearchArticles(ctx, mustQuery(t, "second"), blog.SearchRange{Limit: 10}); len(hits) != 1 {
		t.Errorf("the restored article is not found by search: %d hits", len(hits))
	}
	if trash, _ := s.ListTrash(ctx); len(trash) != 0 {
		t.Errorf("the trash after a restore: %v", trash)
	}
	if _, err := s.RestoreArticle(ctx, "life", by("key:k2", 5)); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("restoring what is not in the trash: %v, want ErrNotFound", err)
	}

	revs := revisions(t, s, "life")
	got := summary(revs)
	wantRevs := []string{
		"restored by key:k2 09:04 []",
		"deleted by local 09:03 []",
		"updated by user:ann client:c1 09:02 [body,tags]",
		"created by key:k1 09:01 [slug,title,body,tags,language,published_at]",
	}
	if diff := cmp.Diff(wantRevs, got); diff != "" {
		t.Errorf("revisions (-want +got):\n%s", diff)
	}
	for _, r := range revs {
		if r.Article != nil {
			t.Errorf("a listed revision carries its article")
		}
	}
	first, err := s.GetRevision(ctx, "life", revs[3].ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(a, first.Article); diff != "" {
		t.Errorf("the first revision's article (-want +got):\n%s", diff)
	}
	if _, err := s.GetRevision(ctx, "other", revs[3].ID); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("a revision under another slug: %v, want ErrNotFound", err)
	}
	// Paging: older than the second newest.
	older, err := s.ListRevisions(ctx, blog.RevisionRange{Slug: "life", Before: revs[1].ID, Limit: 1})
	if err != nil || len(older) != 1 || older[0].ID != revs[2].ID {
		t.Errorf("the page before revision %d: %+v, %v", revs[1].ID, older, err)
	}
}

// testRevisionsKeep: Keep bounds an article's revisions to the newest.
func testRevisionsKeep(t *testing.T, s blog.Store) {
	ctx := t.Context()
	c := by("key:k", 1)
	c.Keep = 2
	a := article(t, "kept")
	if err := s.CreateArticle(ctx, a, c); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		a.Body = "Version " + string(rune('a'+i))
		if err := s.UpdateArticle(ctx, a, c); err != nil {
			t.Fatal(err)
		}
	}
	other := article(t, "other")
	if err := s.CreateArticle(ctx, other, c); err != nil {
		t.Fatal(err)
	}
	revs := revisions(t, s, "kept")
	if len(revs) != 2 {
		t.Fatalf("%d revisions kept, want 2", len(revs))
	}
	newest, err := s.GetRevision(ctx, "kept", revs[0].ID)
	if err != nil || newest.Article.Body != "Version c" {
		t.Errorf("the newest kept revision: %+v, %v", newest, err)
	}
	if n := len(revisions(t, s, "other")); n != 1 {
		t.Errorf("another article's revisions: %d, want 1", n)
	}
}

// testRestoreConflict: a trashed article whose slug a new article took
// cannot come back over it, and stays in the trash.
func testRestoreConflict(t *testing.T, s blog.Store) {
	ctx := t.Context()
	if err := s.CreateArticle(ctx, article(t, "twice", body("Old.")), by("key:k", 1)); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteArticle(ctx, "twice", by("key:k", 2)); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateArticle(ctx, article(t, "twice", body("New.")), by("key:k", 3)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RestoreArticle(ctx, "twice", by("key:k", 4)); !errors.Is(err, errdefs.ErrConflict) {
		t.Errorf("restoring over a new article: %v, want ErrConflict", err)
	}
	if got := mustGet(t, s, "twice"); got.Body != "New." {
		t.Errorf("the new article became %q", got.Body)
	}
	if trash, _ := s.ListTrash(ctx); len(trash) != 1 || trash[0].Article.Body != "Old." {
		t.Errorf("the trash after a refused restore: %+v", trash)
	}
	// Its whole history is one slug's: both lives.
	if n := len(revisions(t, s, "twice")); n != 3 {
		t.Errorf("%d revisions, want 3", n)
	}
}

// testPurgeTrash: purging deletes trashed articles deleted before the
// cut-off, with their revisions, except those of a slug a live article
// has; nothing else is touched.
func testPurgeTrash(t *testing.T, s blog.Store) {
	ctx := t.Context()
	for i, slug := range []string{"old", "recent", "reborn"} {
		if err := s.CreateArticle(ctx, article(t, slug), by("key:k", 1)); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteArticle(ctx, slug, by("key:k", 10*(i+1))); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.CreateArticle(ctx, article(t, "reborn"), by("key:k", 40)); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateArticle(ctx, article(t, "live"), by("key:k", 41)); err != nil {
		t.Fatal(err)
	}
	// Deleted at 09:10, 09:20 and 09:30; purge what is older than 09:25.
	n, err := s.PurgeTrash(ctx, "", day.Add(25*time.Minute))
	if err != nil || n != 2 {
		t.Fatalf("PurgeTrash = %d, %v; want 2", n, err)
	}
	if trash, _ := s.ListTrash(ctx); len(trash) != 1 || trash[0].Article.Slug != "reborn" {
		t.Errorf("the trash after the purge: %+v", trash)
	}
	if n := len(revisions(t, s, "old")); n != 0 {
		t.Errorf("a purged article kept %d revisions", n)
	}
	if n := len(revisions(t, s, "live")); n != 1 {
		t.Errorf("a live article's revisions: %d", n)
	}
	// One slug: the reborn one's trashed version goes with its whole
	// history (what was deleted must not survive in a revision); the
	// live article made with the slug since keeps its own.
	if n, err := s.PurgeTrash(ctx, "reborn", day.Add(time.Hour)); err != nil || n != 1 {
		t.Errorf("PurgeTrash(reborn) = %d, %v", n, err)
	}
	if got := summary(revisions(t, s, "reborn")); len(got) != 1 || got[0] != "created by key:k 09:40 [slug,title,body,language,published_at]" {
		t.Errorf("a live slug's revisions after purging its trashed version: %v, want only its own creation", got)
	}
	if got := mustGet(t, s, "reborn"); got == nil {
		t.Error("the live article went")
	}
}

// testUpsertRevisions: an import keeps a revision of each article it
// creates or changes, none of one it leaves alone.
func testUpsertRevisions(t *testing.T, s blog.Store) {
	ctx := t.Context()
	a, b := article(t, "imp-a"), article(t, "imp-b")
	if _, err := s.UpsertArticles(ctx, []*blog.Article{a, b}, by("import", 1)); err != nil {
		t.Fatal(err)
	}
	a2 := a.Clone()
	a2.Title = "Renamed"
	if _, err := s.UpsertArticles(ctx, []*blog.Article{a2, b}, by("import", 2)); err != nil {
		t.Fatal(err)
	}
	if got := summary(revisions(t, s, "imp-a")); len(got) != 2 || got[0] != "updated by import 09:02 [title]" {
		t.Errorf("imp-a's revisions: %v", got)
	}
	if got := summary(revisions(t, s, "imp-b")); len(got) != 1 {
		t.Errorf("imp-b, unchanged the second time, has revisions %v", got)
	}
}

// testConcurrentRevisions: updates racing on one article each keep a
// revision, and each revision's changed fields are against the one before
// it (every writer saw its predecessor).
func testConcurrentRevisions(t *testing.T, s blog.Store) {
	ctx := t.Context()
	if err := s.CreateArticle(ctx, article(t, "raced"), by("key:k", 0)); err != nil {
		t.Fatal(err)
	}
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			a := article(t, "raced", body("Writer "+string(rune('a'+i))))
			errs[i] = s.UpdateArticle(ctx, a, by("key:k", i+1))
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	revs := revisions(t, s, "raced")
	if len(revs) != n+1 {
		t.Fatalf("%d revisions, want %d", len(revs), n+1)
	}
	for _, r := range revs[:n] {
		if !slices.Equal(r.Changed, []string{"body"}) {
			t.Errorf("revision %d changed %v, want [body]", r.ID, r.Changed)
		}
	}
	last, err := s.GetRevision(ctx, "raced", revs[0].ID)
	if err != nil || last.Article.Body != mustGet(t, s, "raced").Body {
		t.Errorf("the newest revision is not the stored article: %+v, %v", last, err)
	}
}

// testScheduled: an article published after the filter's Now is
// scheduled: out of listings, searches and tag counts of public articles,
// in them with IncludeDrafts, and public once Now passes its time.
func testScheduled(t *testing.T, s blog.Store) {
	ctx := t.Context()
	now := day.Add(24 * time.Hour)
	past := article(t, "out-now", title("Gophers out now"), tags("gophers"), published(0))
	future := article(t, "coming-soon", title("Gophers coming soon"), tags("gophers", "soon"), published(48*time.Hour))
	for _, a := range []*blog.Article{past, future} {
		if err := s.CreateArticle(ctx, a, testChange); err != nil {
			t.Fatal(err)
		}
	}
	slugs := func(f blog.Filter) []string {
		as, err := s.ListArticles(ctx, blog.ListRange{Filter: f, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, a := range as {
			out = append(out, a.Slug)
		}
		return out
	}
	if got := slugs(blog.Filter{Now: now}); !slices.Equal(got, []string{"out-now"}) {
		t.Errorf("public listing at %v: %v", now, got)
	}
	if got := slugs(blog.Filter{Now: now, IncludeDrafts: true}); !slices.Equal(got, []string{"coming-soon", "out-now"}) {
		t.Errorf("listing with drafts and scheduled: %v", got)
	}
	if got := slugs(blog.Filter{Now: now.Add(72 * time.Hour)}); len(got) != 2 {
		t.Errorf("public listing after the scheduled time: %v", got)
	}
	hits, err := s.SearchArticles(ctx, mustQuery(t, "gophers"), blog.SearchRange{Filter: blog.Filter{Now: now}, Limit: 10})
	if err != nil || len(hits) != 1 || hits[0].Article.Slug != "out-now" {
		t.Errorf("public search at %v: %d hits, %v", now, len(hits), err)
	}
	tagList, err := s.ListTags(ctx, blog.TagOptions{Now: now})
	if err != nil || len(tagList) != 1 || tagList[0] != (blog.TagCount{Tag: "gophers", Count: 1}) {
		t.Errorf("public tags at %v: %v, %v", now, tagList, err)
	}
	if tagList, _ := s.ListTags(ctx, blog.TagOptions{Now: now, IncludeDrafts: true}); len(tagList) != 2 {
		t.Errorf("tags with scheduled articles: %v", tagList)
	}
}

// testSources: an article's source is saved, replaced by a later save,
// listed by slug, and goes when the article is purged from the trash.
func testSources(t *testing.T, s blog.Store) {
	ss, ok := s.(blog.Sources)
	if !ok {
		t.Skip("this store keeps no sources")
	}
	ctx := t.Context()
	for _, slug := range []string{"b-post", "a-post"} {
		if err := s.CreateArticle(ctx, article(t, slug), testChange); err != nil {
			t.Fatal(err)
		}
	}
	if err := ss.SaveSources(ctx, []*blog.Source{
		{Slug: "b-post", Path: "content/b.md", Format: "yaml", Extra: "weight: 3\n"},
		{Slug: "a-post", Path: "content/a.md", Format: "toml"},
	}); err != nil {
		t.Fatal(err)
	}
	if err := ss.SaveSources(ctx, []*blog.Source{{Slug: "b-post", Path: "content/moved/b.md", Format: "toml", Extra: "weight = 4\n", Zone: "+07:00"}}); err != nil {
		t.Fatal(err)
	}
	got, err := ss.ListSources(ctx)
	want := []*blog.Source{
		{Slug: "a-post", Path: "content/a.md", Format: "toml"},
		{Slug: "b-post", Path: "content/moved/b.md", Format: "toml", Extra: "weight = 4\n", Zone: "+07:00"},
	}
	if err != nil || !cmp.Equal(want, got) {
		t.Errorf("ListSources = %+v, %v; want %+v", got, err, want)
	}
	if err := s.DeleteArticle(ctx, "a-post", testChange); err != nil {
		t.Fatal(err)
	}
	if got, _ := ss.ListSources(ctx); len(got) != 2 {
		t.Errorf("a trashed article's source went: %+v", got)
	}
	if _, err := s.PurgeTrash(ctx, "a-post", time.Now()); err != nil {
		t.Fatal(err)
	}
	if got, _ := ss.ListSources(ctx); len(got) != 1 || got[0].Slug != "b-post" {
		t.Errorf("sources after purging a-post: %+v", got)
	}
}

// testUpdateExpect: an update made against a copy that is no longer the
// stored article writes nothing and says so (ErrConflict); against the
// stored one, it writes.
func testUpdateExpect(t *testing.T, s blog.Store) {
	ctx := t.Context()
	a := article(t, "expected", body("First."))
	if err := s.CreateArticle(ctx, a, testChange); err != nil {
		t.Fatal(err)
	}
	read := a.Clone()
	other := a.Clone()
	other.Summary = "Another writer's."
	if err := s.UpdateArticle(ctx, other, testChange); err != nil {
		t.Fatal(err)
	}
	stale := read.Clone()
	stale.Body = "Written against an old copy."
	c := testChange
	c.Expect = read
	if err := s.UpdateArticle(ctx, stale, c); !errors.Is(err, errdefs.ErrConflict) {
		t.Errorf("an update against a stale copy: %v, want ErrConflict", err)
	}
	if got := mustGet(t, s, "expected"); got.Summary != "Another writer's." || got.Body != "First." {
		t.Errorf("after a refused update: %+v", got)
	}
	fresh := mustGet(t, s, "expected")
	next := fresh.Clone()
	next.Body = "Written against the stored copy."
	c.Expect = fresh
	if err := s.UpdateArticle(ctx, next, c); err != nil {
		t.Errorf("an update against the stored copy: %v", err)
	}
}
