package blog_test

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/2coffee/mcp-2coffee/internal/blog"
	"github.com/2coffee/mcp-2coffee/internal/errdefs"
	"github.com/2coffee/mcp-2coffee/internal/store/sqlite"
)

// TestHistoryRules: restoring a revision of an article in the trash is a
// conflict (409 at the edges: restore the article first), not bad input;
// a cursor of revisions is no listing or search cursor, nor they one of
// revisions; the actor of each change is the context's; Keep bounds the
// history.
func TestHistoryRules(t *testing.T) {
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "blog.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	clock := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	svc := blog.NewService(db, func() time.Time { return clock })
	ctx := blog.WithActor(t.Context(), "key:abc")
	for _, slug := range []string{"one", "two"} {
		if _, err := svc.Create(ctx, &blog.Article{Slug: slug, Title: slug, Body: "Body."}); err != nil {
			t.Fatal(err)
		}
	}
	for range 12 {
		if _, err := svc.Update(ctx, "one", blog.Patch{Body: new("Edited.")}); err != nil {
			t.Fatal(err)
		}
	}
	page, err := svc.Revisions(ctx, "one", 5, "")
	if err != nil || len(page.Revisions) != 5 || page.NextCursor == "" || page.Revisions[0].Actor != "key:abc" {
		t.Fatalf("a page of revisions: %+v, %v", page, err)
	}
	if _, err := svc.List(ctx, blog.ListOptions{Cursor: page.NextCursor}); !errors.Is(err, errdefs.ErrInvalid) {
		t.Errorf("a revisions cursor given to a listing: %v", err)
	}
	if _, err := svc.Search(ctx, blog.SearchOptions{Query: "body", Cursor: page.NextCursor}); !errors.Is(err, errdefs.ErrInvalid) {
		t.Errorf("a revisions cursor given to search: %v", err)
	}
	list, err := svc.List(ctx, blog.ListOptions{Limit: 1})
	if err != nil || list.NextCursor == "" {
		t.Fatal(list, err)
	}
	if _, err := svc.Revisions(ctx, "one", 5, list.NextCursor); !errors.Is(err, errdefs.ErrInvalid) {
		t.Errorf("a listing cursor given to revisions: %v", err)
	}
	first := page.Revisions[4].ID
	if err := svc.Delete(ctx, "one"); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.RestoreRevision(ctx, "one", first); !errors.Is(err, errdefs.ErrConflict) {
		t.Errorf("restoring a revision of a trashed article: %v, want ErrConflict", err)
	}
	if _, err := svc.Revision(ctx, "one", 0); !errors.Is(err, errdefs.ErrInvalid) {
		t.Errorf("revision 0: %v", err)
	}
	if _, err := svc.Revision(ctx, "two", first); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("one article's revision under another's slug: %v", err)
	}

	svc.KeepRevisions(3)
	if _, err := svc.Update(ctx, "two", blog.Patch{Body: new("Once more.")}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Update(ctx, "two", blog.Patch{Body: new("And again.")}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Update(ctx, "two", blog.Patch{Body: new("Last.")}); err != nil {
		t.Fatal(err)
	}
	page, err = svc.Revisions(ctx, "two", 50, "")
	if err != nil || len(page.Revisions) != 3 {
		t.Errorf("with KeepRevisions(3): %d revisions, %v", len(page.Revisions), err)
	}
}
