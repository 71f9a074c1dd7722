package blog_test

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
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

// TestConcurrentPatchesAllHold: patches of different fields racing on one
// article all hold; none is lost to a copy read before another's write
// (each writer read, patched and wrote the whole article, so the last
// writer put back the fields the others had changed).
func TestConcurrentPatchesAllHold(t *testing.T) {
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "blog.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	svc := blog.NewService(db, nil)
	ctx := t.Context()
	if _, err := svc.Create(ctx, &blog.Article{Slug: "raced", Title: "Raced", Body: "Body."}); err != nil {
		t.Fatal(err)
	}
	const n = 6
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			tag := fmt.Sprintf("tag-%d", i)
			switch i % 3 {
			case 0:
				_, errs[i] = svc.Update(ctx, "raced", blog.Patch{Summary: new("summary " + tag)})
			case 1:
				_, errs[i] = svc.Update(ctx, "raced", blog.Patch{Author: new("author " + tag)})
			default:
				_, errs[i] = svc.Update(ctx, "raced", blog.Patch{Title: new("title " + tag)})
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	a, err := db.GetArticle(ctx, "raced")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(a.Summary, "summary ") || !strings.HasPrefix(a.Author, "author ") || !strings.HasPrefix(a.Title, "title ") {
		t.Errorf("a patch was lost: %+v", a)
	}
	page, _ := svc.Revisions(ctx, "raced", 50, "")
	if len(page.Revisions) != n+1 {
		t.Errorf("%d revisions, want %d", len(page.Revisions), n+1)
	}
}
