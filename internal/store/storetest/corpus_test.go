package storetest_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/2coffee/mcp-2coffee/internal/importer"
	"github.com/2coffee/mcp-2coffee/internal/store/storetest"
)

// TestCorpus: the corpus is the same on every call, valid, and written
// to Markdown files that the importer reads back into the same articles.
func TestCorpus(t *testing.T) {
	const n = 300
	as := storetest.Corpus(n)
	if diff := cmp.Diff(as, storetest.Corpus(n)); diff != "" {
		t.Fatalf("Corpus differs between calls (-first +second):\n%s", diff)
	}
	if diff := cmp.Diff(as[:10], storetest.Corpus(10)); diff != "" {
		t.Fatalf("Corpus(10) is not the start of Corpus(%d) (-want +got):\n%s", n, diff)
	}
	for _, a := range as {
		if err := a.Validate(); err != nil {
			t.Fatalf("article %q is invalid: %v", a.Slug, err)
		}
	}
	dir := t.TempDir()
	if err := storetest.WriteCorpus(dir, n); err != nil {
		t.Fatalf("WriteCorpus: %v", err)
	}
	for _, want := range as {
		name := want.Slug + ".md"
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		got, err := importer.Parse(name, data)
		if err != nil {
			t.Fatalf("importer.Parse(%s): %v", name, err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("%s imports as another article (-want +got):\n%s", name, diff)
		}
	}
}
