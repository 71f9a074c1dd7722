package importer

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/2coffee/mcp-2coffee/internal/store/sqlite"
)

// TestImportSQLite imports the testdata site into the real embedded store
// twice: the second run must find every article unchanged, which only holds
// if what the store reads back equals what Parse produced.
func TestImportSQLite(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "blog.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })

	sum, err := Import(ctx, db, []string{site}, Options{BatchSize: 3})
	if err != nil {
		t.Fatalf("first Import: %v", err)
	}
	if want := (&Summary{Files: 21, Created: 10, Skipped: siteSkips}); !cmp.Equal(want, sum) {
		t.Errorf("first import (-want +got):\n%s", cmp.Diff(want, sum))
	}
	sum, err = Import(ctx, db, []string{site}, Options{BatchSize: 3})
	if err != nil {
		t.Fatalf("second Import: %v", err)
	}
	if want := (&Summary{Files: 21, Unchanged: 10, Skipped: siteSkips}); !cmp.Equal(want, sum) {
		t.Errorf("second import (-want +got):\n%s", cmp.Diff(want, sum))
	}

	if n, err := db.CountArticles(ctx); err != nil || n != len(siteSlugs) {
		t.Errorf("CountArticles = %d, %v; want %d", n, err, len(siteSlugs))
	}
	const file = "vi/ca-phe-sua-da.md"
	want, err := Parse(file, readSite(t, file))
	if err != nil {
		t.Fatal(err)
	}
	got, err := db.GetArticle(ctx, want.Slug)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got, equateEmpty); diff != "" {
		t.Errorf("stored article (-parsed +stored):\n%s", diff)
	}
}
