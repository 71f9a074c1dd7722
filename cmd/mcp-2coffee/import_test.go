package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/2coffee/mcp-2coffee/internal/store"
)

// TestImportCommand imports the importer's test site (good and broken files
// of every front-matter shape) through the real command, twice, then serves
// the result over stdio.
func TestImportCommand(t *testing.T) {
	t.Parallel()
	site := filepath.Join("..", "..", "internal", "importer", "testdata", "site")
	db := filepath.Join(t.TempDir(), "blog.db")
	run := func() (string, string, int) {
		return runCLI(t, nil, "import", site, "--database", db, "--batch-size", "3")
	}
	out, errOut, code := run()
	if code != 3 {
		t.Fatalf("exit status %d, want 3 (some files skipped)\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	if !strings.HasPrefix(out, "21 files: 10 created, 0 updated, 0 unchanged, 11 skipped\n") {
		t.Errorf("summary:\n%s", out)
	}
	for _, want := range []string{"broken/invalid-yaml.md:", "broken/no-front-matter.md:1: no front matter", "_index.md: a section list page"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(errOut, "imported 21/21 files") {
		t.Errorf("no progress on stderr with --batch-size 3:\n%s", errOut)
	}
	if strings.Contains(out, "level=") {
		t.Errorf("log lines on stdout:\n%s", out)
	}
	out, _, _ = run()
	if !strings.HasPrefix(out, "21 files: 0 created, 0 updated, 10 unchanged, 11 skipped\n") {
		t.Errorf("second import is not idempotent:\n%s", out)
	}

	cs := connectStdio(t, selfCommand(t, "stdio", "--database", db))
	out2 := structured[struct {
		Articles []struct{ Slug string } `json:"articles"`
	}](t, callTool(t, cs, "list_articles", map[string]any{"limit": 50}))
	if len(out2.Articles) == 0 {
		t.Fatal("imported articles not served")
	}
	for _, a := range out2.Articles {
		if strings.Contains(a.Slug, "semaphore") {
			t.Errorf("the import loaded the bundled samples too: %s", a.Slug)
		}
	}
}

// TestSamplesAreAStepOfServing: a command that only manages the database
// (keys list) makes an empty one; the first stdio (or serve) on it loads
// the samples, because that database was never offered them.
func TestSamplesAreAStepOfServing(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "blog.db")
	if _, errOut, code := runCLI(t, nil, "keys", "list", "--database", path); code != 0 {
		t.Fatalf("keys list: exit %d\n%s", code, errOut)
	}
	db, err := store.Open(t.Context(), path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	n, err := db.CountArticles(t.Context())
	db.Close()
	if err != nil || n != 0 {
		t.Fatalf("keys list on a new path left %d articles (%v), want an empty database", n, err)
	}
	cs := connectStdio(t, selfCommand(t, "stdio", "--database", path))
	out := structured[struct {
		Articles []struct{ Slug string } `json:"articles"`
	}](t, callTool(t, cs, "list_articles", map[string]any{"limit": 50}))
	published := 0
	for _, a := range samples(t) {
		if !a.Draft {
			published++
		}
	}
	if len(out.Articles) != published {
		t.Errorf("stdio on that database lists %d articles, want the %d published samples", len(out.Articles), published)
	}
}
