package blog_test

import (
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/2coffee/mcp-2coffee/internal/blog"
	"github.com/2coffee/mcp-2coffee/internal/errdefs"
	"github.com/2coffee/mcp-2coffee/internal/store/sqlite"
)

// The Service owns cursors: these tests page through it over the real
// embedded store, as the MCP tools and the REST API do.

func newService(t *testing.T) *blog.Service {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "blog.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return blog.NewService(db, nil)
}

func createAll(t *testing.T, svc *blog.Service, as ...*blog.Article) {
	t.Helper()
	for _, a := range as {
		if _, err := svc.Create(t.Context(), a); err != nil {
			t.Fatalf("Create(%q): %v", a.Slug, err)
		}
	}
}

var day = time.Date(2024, 3, 1, 9, 0, 0, 0, time.UTC)

func post(slug string, at time.Duration, body string) *blog.Article {
	return &blog.Article{Slug: slug, Title: "Title of " + slug, Body: body, PublishedAt: day.Add(at)}
}

func TestListPagesThroughCursors(t *testing.T) {
	t.Parallel()
	svc := newService(t)
	createAll(t, svc,
		post("oldest", 0, "x"),
		post("same-b", 24*time.Hour, "x"),
		post("same-c", 24*time.Hour, "x"),
		post("same-a", 24*time.Hour, "x"),
		post("newest", 48*time.Hour, "x"),
	)
	want := []string{"newest", "same-a", "same-b", "same-c", "oldest"}
	for _, limit := range []int{1, 2, 4, 5, blog.MaxPage} {
		var got []string
		opts := blog.ListOptions{Limit: limit}
		for pages := 1; ; pages++ {
			page, err := svc.List(t.Context(), opts)
			if err != nil {
				t.Fatalf("List(%+v): %v", opts, err)
			}
			if len(page.Articles) > limit {
				t.Fatalf("page of %d articles, limit %d", len(page.Articles), limit)
			}
			for _, a := range page.Articles {
				got = append(got, a.Slug)
			}
			if page.NextCursor == "" {
				break
			}
			if len(page.Articles) < limit {
				t.Fatalf("a short page (%d of %d) has a next cursor", len(page.Articles), limit)
			}
			if pages > 10 {
				t.Fatal("List keeps returning a next cursor")
			}
			opts.Cursor = page.NextCursor
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("listing in pages of %d (-want +got):\n%s", limit, diff)
		}
	}
	// A listing that fits one full page exactly says no page follows.
	page, err := svc.List(t.Context(), blog.ListOptions{Limit: len(want)})
	if err != nil || page.NextCursor != "" {
		t.Errorf("a page holding the last article: cursor %q, error %v; want no cursor", page.NextCursor, err)
	}
	// Limit 0 means the default page size.
	for i := range blog.DefaultPage {
		createAll(t, svc, post(fmt.Sprintf("more-%02d", i), -time.Duration(i+1)*time.Hour, "x"))
	}
	page, err = svc.List(t.Context(), blog.ListOptions{})
	if err != nil || len(page.Articles) != blog.DefaultPage || page.NextCursor == "" {
		t.Errorf("List with limit 0: %d articles, cursor %q, error %v; want %d and a cursor",
			len(page.Articles), page.NextCursor, err, blog.DefaultPage)
	}
}

func TestSearchPagesThroughCursors(t *testing.T) {
	t.Parallel()
	svc := newService(t)
	for i := range 5 {
		createAll(t, svc, post(fmt.Sprintf("kettle-%d", i), time.Duration(i)*time.Hour, "A kettle on the stove."))
	}
	createAll(t, svc, post("teapot", 0, "A teapot."), post("cup", 0, "A cup."))
	for _, tt := range []struct {
		query   string
		want    int
		relaxed bool
	}{
		{"kettle", 5, false},
		// No article holds both words: the Service relaxes to any word,
		// and every later page must stay relaxed, through its cursor.
		{"kettle teapot", 6, true},
	} {
		var got []string
		opts := blog.SearchOptions{Query: tt.query, Limit: 2}
		for pages := 1; ; pages++ {
			page, err := svc.Search(t.Context(), opts)
			if err != nil {
				t.Fatalf("Search(%+v): %v", opts, err)
			}
			if page.Relaxed != tt.relaxed {
				t.Errorf("Search %q page %d: Relaxed = %v, want %v", tt.query, pages, page.Relaxed, tt.relaxed)
			}
			for _, h := range page.Hits {
				got = append(got, h.Article.Slug)
				if h.Snippet == "" {
					t.Errorf("hit %q has no snippet", h.Article.Slug)
				}
			}
			if page.NextCursor == "" {
				break
			}
			if pages > 10 {
				t.Fatal("Search keeps returning a next cursor")
			}
			opts.Cursor = page.NextCursor
		}
		seen := map[string]bool{}
		for _, s := range got {
			if seen[s] {
				t.Errorf("Search %q returned %q twice across pages: %q", tt.query, s, got)
			}
			seen[s] = true
		}
		if len(got) != tt.want {
			t.Errorf("Search %q found %q across pages, want %d articles", tt.query, got, tt.want)
		}
	}
}

func TestCursorsAreChecked(t *testing.T) {
	t.Parallel()
	svc := newService(t)
	createAll(t, svc, post("a", 0, "coffee"), post("b", time.Hour, "coffee"), post("c", 2*time.Hour, "coffee"))
	list, err := svc.List(t.Context(), blog.ListOptions{Limit: 1})
	if err != nil || list.NextCursor == "" {
		t.Fatalf("List: %v, cursor %q", err, list.NextCursor)
	}
	search, err := svc.Search(t.Context(), blog.SearchOptions{Query: "coffee", Limit: 1})
	if err != nil || search.NextCursor == "" {
		t.Fatalf("Search: %v, cursor %q", err, search.NextCursor)
	}
	for _, bad := range []string{"not a cursor", "%%%", "bm90LWpzb24", "eyJvIjotMX0"} { // the last two: "not-json", {"o":-1}
		if _, err := svc.List(t.Context(), blog.ListOptions{Cursor: bad}); !errors.Is(err, errdefs.ErrInvalid) {
			t.Errorf("List with cursor %q: error %v, want ErrInvalid", bad, err)
		}
		if _, err := svc.Search(t.Context(), blog.SearchOptions{Query: "coffee", Cursor: bad}); !errors.Is(err, errdefs.ErrInvalid) {
			t.Errorf("Search with cursor %q: error %v, want ErrInvalid", bad, err)
		}
	}
	if _, err := svc.List(t.Context(), blog.ListOptions{Cursor: search.NextCursor}); !errors.Is(err, errdefs.ErrInvalid) {
		t.Errorf("List with a search cursor: error %v, want ErrInvalid", err)
	}
	if _, err := svc.Search(t.Context(), blog.SearchOptions{Query: "coffee", Cursor: list.NextCursor}); !errors.Is(err, errdefs.ErrInvalid) {
		t.Errorf("Search with a listing cursor: error %v, want ErrInvalid", err)
	}
	for _, limit := range []int{-1, blog.MaxPage + 1} {
		if _, err := svc.List(t.Context(), blog.ListOptions{Limit: limit}); !errors.Is(err, errdefs.ErrInvalid) {
			t.Errorf("List with limit %d: error %v, want ErrInvalid", limit, err)
		}
	}
}
