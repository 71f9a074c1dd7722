package exporter_test

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/2coffee/mcp-2coffee/internal/blog"
	"github.com/2coffee/mcp-2coffee/internal/exporter"
	"github.com/2coffee/mcp-2coffee/internal/importer"
	"github.com/2coffee/mcp-2coffee/internal/store/sqlite"
)

func openDB(t *testing.T) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "blog.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func importTree(t *testing.T, db *sqlite.DB, dir string) *importer.Summary {
	t.Helper()
	sum, err := importer.Import(context.Background(), db, []string{dir}, importer.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(sum.Skipped) > 0 {
		t.Fatalf("import of %s skipped %+v", dir, sum.Skipped)
	}
	return sum
}

func export(t *testing.T, db *sqlite.DB, format string) string {
	t.Helper()
	dir := t.TempDir()
	if _, err := exporter.Export(context.Background(), db, dir, exporter.Options{Format: format}); err != nil {
		t.Fatal(err)
	}
	return dir
}

// files reads every file under dir, by relative path.
func files(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		out[filepath.ToSlash(rel)] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestRoundTrip: for each front-matter shape (Hugo in YAML and TOML,
// language pairs and a page bundle; Jekyll posts and drafts; Astro;
// Eleventy), import → export → import reports every article unchanged,
// and export → import into a new database → export gives byte-identical
// files, at the paths the files came from, with the front matter no
// article field holds written back.
func TestRoundTrip(t *testing.T) {
	for _, format := range exporter.Formats {
		t.Run(format, func(t *testing.T) {
			tree := filepath.Join("testdata", format)
			first := openDB(t)
			importTree(t, first, tree)
			e1 := export(t, first, format)

			again := importTree(t, first, e1)
			if again.Created != 0 || again.Updated != 0 || again.Unchanged != again.Files {
				t.Errorf("importing the export into its own database: %+v, want every article unchanged", again)
			}

			second := openDB(t)
			importTree(t, second, e1)
			e2 := export(t, second, format)
			f1, f2 := files(t, e1), files(t, e2)
			if len(f1) == 0 {
				t.Fatal("the export wrote nothing")
			}
			for p, b := range f1 {
				if !bytes.Equal(b, f2[p]) {
					t.Errorf("%s differs on the second export:\n--- first\n%s\n--- second\n%s", p, b, f2[p])
				}
			}
			if len(f1) != len(f2) {
				t.Errorf("first export %d files, second %d", len(f1), len(f2))
			}
			// The export writes the original paths back.
			orig := files(t, tree)
			for p := range orig {
				if _, ok := f1[p]; !ok {
					t.Errorf("%s was imported from %s but not exported there (got %v)", format, p, keys(f1))
				}
			}
		})
	}
}

func keys(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// TestExportKeepsWhatNoFieldHolds: unknown keys, nested tables and a
// Jekyll permalink come back; so do the body and the fields.
func TestExportKeepsWhatNoFieldHolds(t *testing.T) {
	for _, tc := range []struct {
		format, file string
		want         []string
	}{
		{"hugo", "content/posts/semaphores.md", []string{"date: 2024-03-01T09:00:00+07:00", "featured_image: /img/sem.png", "weight: 3", "toc: true", "series:", "- /old/semaphores/", "description: Bound the work in flight.", "```go"}},
		{"hugo", "content/posts/ca-phe.vi.md", []string{"+++\n", `cover = "/img/caphe.jpg"`, "[extra]", `origin = "Đà Lạt"`, "rating = 5", "draft = true", "lang = \"vi\""}},
		{"jekyll", "_posts/2023-05-06-hello-jekyll.md", []string{"permalink: /blog/hello/", "layout: post", "last_modified_at: 2023-06-01T10:00:00Z"}},
		{"jekyll", "_drafts/unfinished.md", []string{"published: false"}},
		{"astro", "src/content/blog/first-astro.md", []string{"pubDate: 2024-01-15T12:00:00Z", "updatedDate: 2024-01-16T08:00:00Z", "heroImage: /hero.png", "author: Bình"}},
		{"eleventy", "posts/eleventy-notes.md", []string{"eleventyNavigation:", "order: 2", "layout: layouts/post.njk"}},
	} {
		db := openDB(t)
		importTree(t, db, filepath.Join("testdata", tc.format))
		out := files(t, export(t, db, tc.format))[tc.file]
		for _, w := range tc.want {
			if !strings.Contains(string(out), w) {
				t.Errorf("%s %s lacks %q:\n%s", tc.format, tc.file, w, out)
			}
		}
	}
}

// TestExportSince: --since writes only the articles changed after it, so
// the files an assistant touched are the whole diff; an article made
// through a tool gets the format's usual path.
func TestExportSince(t *testing.T) {
	db := openDB(t)
	importTree(t, db, filepath.Join("testdata", "hugo"))
	svc := blog.NewService(db, nil)
	cut := time.Now().Add(-time.Second)
	if _, err := svc.Update(context.Background(), "semaphores", blog.Patch{Summary: new("Changed by an assistant.")}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Create(context.Background(), &blog.Article{Title: "Made through a tool", Body: "New."}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	sum, err := exporter.Export(context.Background(), db, dir, exporter.Options{Format: "hugo", Since: cut})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(sum.Paths)
	if want := []string{"content/posts/made-through-a-tool.md", "content/posts/semaphores.md"}; !slices.Equal(sum.Paths, want) {
		t.Errorf("exported %v, want %v", sum.Paths, want)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "content/posts/semaphores.md")); !strings.Contains(string(b), "Changed by an assistant.") {
		t.Errorf("the changed article:\n%s", b)
	}
}

// TestExportOfAPlatformImport: articles from a WordPress export have no
// file: they go to the format's usual path, with their original URL in
// the front matter; that export imports unchanged and exports again to
// the same bytes.
func TestExportOfAPlatformImport(t *testing.T) {
	db := openDB(t)
	if _, err := importer.Import(context.Background(), db, []string{filepath.Join("..", "importer", "testdata", "platforms", "wordpress.xml")}, importer.Options{}); err != nil {
		t.Fatal(err)
	}
	e1 := export(t, db, "hugo")
	f1 := files(t, e1)
	post := string(f1["content/posts/channels-and-goroutines.md"])
	if !strings.Contains(post, "url: https://old.example.com/2019/05/channels-and-goroutines/") || !strings.Contains(post, "Go has **channels**.") {
		t.Errorf("the exported WordPress post:\n%s", post)
	}
	again := importTree(t, db, e1)
	if again.Created != 0 || again.Updated != 0 {
		t.Errorf("importing the export: %+v, want every article unchanged", again)
	}
	fresh := openDB(t)
	importTree(t, fresh, e1)
	f2 := files(t, export(t, fresh, "hugo"))
	for p, b := range f1 {
		if !bytes.Equal(b, f2[p]) {
			t.Errorf("%s differs on the second export:\n%s\n---\n%s", p, b, f2[p])
		}
	}
}
