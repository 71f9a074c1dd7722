package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/2coffee/mcp-2coffee/internal/blog"
	"github.com/2coffee/mcp-2coffee/internal/store"
	"github.com/2coffee/mcp-2coffee/internal/store/postgres/pgtest"
	"github.com/2coffee/mcp-2coffee/internal/store/storetest"
)

// The generated 10,000-article corpus, written as Markdown files, imported
// into PostgreSQL by the real command: every article arrives, a second
// run changes nothing, and search finds what it finds on SQLite.
func TestImportCorpusIntoPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("imports 10,000 files")
	}
	t.Parallel()
	dsn := pgtest.Schema(t)
	dir := t.TempDir()
	if err := storetest.WriteCorpus(dir, storetest.CorpusSize); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	out, errOut, code := runCLI(t, nil, "import", dir, "--database", dsn)
	if code != 0 {
		t.Fatalf("import: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	t.Logf("imported %d files into PostgreSQL in %v", storetest.CorpusSize, time.Since(start).Round(time.Millisecond))
	if want := "10000 files: 10000 created, 0 updated, 0 unchanged, 0 skipped"; !strings.HasPrefix(out, want) {
		t.Errorf("summary = %q, want it to start %q", out, want)
	}
	if strings.Contains(out+errOut, "secret") {
		t.Errorf("output shows the data source name's password")
	}
	start = time.Now()
	out, _, _ = runCLI(t, nil, "import", dir, "--database", dsn)
	if want := "10000 files: 0 created, 0 updated, 10000 unchanged"; !strings.HasPrefix(out, want) {
		t.Errorf("second import: %q, want it to start %q", out, want)
	}
	t.Logf("re-imported (nothing changed) in %v", time.Since(start).Round(time.Millisecond))

	// The same corpus through the SQLite backend, for the search answers.
	lite, err := store.Open(t.Context(), filepath.Join(t.TempDir(), "blog.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer lite.Close()
	corpus := storetest.Corpus(storetest.CorpusSize)
	for i := 0; i < len(corpus); i += 1000 {
		if _, err := lite.UpsertArticles(t.Context(), corpus[i:min(i+1000, len(corpus))], blog.Change{Actor: "test", At: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	pg, err := store.Open(t.Context(), dsn, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	if n, err := pg.CountArticles(t.Context()); err != nil || n != storetest.CorpusSize {
		t.Fatalf("CountArticles = %d, %v", n, err)
	}
	for _, bq := range storetest.BenchQueries {
		q, err := blog.ParseQuery(bq.Query)
		if err != nil {
			t.Fatal(err)
		}
		// Rankings differ between bm25 and ts_rank; what matches must not.
		count := func(s store.Backend) int {
			n := 0
			for r := (blog.SearchRange{Limit: blog.MaxPage}); ; r.Offset += blog.MaxPage {
				hits, err := s.SearchArticles(t.Context(), q, r)
				if err != nil {
					t.Fatalf("%s: %v", bq.Query, err)
				}
				n += len(hits)
				if len(hits) < blog.MaxPage {
					return n
				}
			}
		}
		if p, l := count(pg), count(lite); p != l || p == 0 {
			t.Errorf("%q matches %d articles on PostgreSQL, %d on SQLite", bq.Query, p, l)
		}
	}
}
