package exporter_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/2coffee/mcp-2coffee/internal/blog"
	"github.com/2coffee/mcp-2coffee/internal/exporter"
)

// tree writes files (path → content) under a new directory.
func tree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for p, c := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestRoundTripReview: what a review found, each failing before its fix.
func TestRoundTripReview(t *testing.T) {
	ctx := context.Background()

	t.Run("bodies written through the tools import unchanged", func(t *testing.T) {
		db := openDB(t)
		svc := blog.NewService(db, nil)
		for i, body := range []string{"Hello.\n", "    code block\n", "a\r\nb", "\n\nx", "trailing   \n\n"} {
			if _, err := svc.Create(ctx, &blog.Article{Slug: "body-" + string(rune('a'+i)), Title: "T", Body: body}); err != nil {
				t.Fatal(err)
			}
		}
		if sum := importTree(t, db, export(t, db, "hugo")); sum.Updated != 0 || sum.Created != 0 {
			t.Errorf("re-importing the export: %+v", sum)
		}
		if a, _ := db.GetArticle(ctx, "body-b"); a.Body != "    code block" {
			t.Errorf("an indented code block became %q", a.Body)
		}
	})

	t.Run("a Jekyll draft published since moves to _posts", func(t *testing.T) {
		db := openDB(t)
		importTree(t, db, filepath.Join("testdata", "jekyll"))
		if _, err := blog.NewService(db, nil).Update(ctx, "unfinished", blog.Patch{Draft: new(false)}); err != nil {
			t.Fatal(err)
		}
		out := export(t, db, "jekyll")
		if _, err := os.Stat(filepath.Join(out, "_posts", "2023-07-01-unfinished.md")); err != nil {
			t.Errorf("the published draft is not in _posts: %v (%v)", err, keys(files(t, out)))
		}
		if sum := importTree(t, db, out); sum.Updated != 0 {
			t.Errorf("re-importing: %+v (it became a draft again?)", sum)
		}
	})

	t.Run("an alias to a known key's anchor", func(t *testing.T) {
		db := openDB(t)
		importTree(t, db, tree(t, map[string]string{"posts/a.md": "---\ntitle: &t Hello\nog_title: *t\ndate: 2024-01-01\n---\nBody.\n"}))
		out := files(t, export(t, db, "hugo"))["posts/a.md"]
		if !strings.Contains(string(out), "og_title: Hello") {
			t.Errorf("the alias:\n%s", out)
		}
	})

	t.Run("paths are one article's", func(t *testing.T) {
		dir := tree(t, map[string]string{
			"a/index.md": "---\ntitle: A\ndate: 2024-01-01\n---\nA.\n",
			"b/index.md": "---\ntitle: B\ndate: 2024-01-02\n---\nB.\n",
		})
		db := openDB(t)
		// Named as files, not found by a walk.
		chdir(t, dir)
		importTree(t, db, "a/index.md")
		importTree(t, db, "b/index.md")
		got := keys(files(t, export(t, db, "hugo")))
		if !slices.Equal(got, []string{"a/index.md", "b/index.md"}) {
			t.Errorf("two files named as roots exported as %v", got)
		}
		// A slug changed in the file moves it.
		if err := os.WriteFile(filepath.Join(dir, "a", "index.md"), []byte("---\ntitle: A\nslug: renamed\ndate: 2024-01-01\n---\nA.\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		importTree(t, db, "a/index.md")
		if _, err := exporter.Export(ctx, db, t.TempDir(), exporter.Options{Format: "hugo"}); err != nil {
			t.Errorf("after a slug changed in its file: %v", err)
		}
		// A tool's article whose usual path an imported one holds.
		db2 := openDB(t)
		importTree(t, db2, tree(t, map[string]string{"content/posts/foo.md": "---\ntitle: Bar\nslug: bar\ndate: 2024-01-01\n---\nBar.\n"}))
		if _, err := blog.NewService(db2, nil).Create(ctx, &blog.Article{Slug: "foo", Title: "Foo", Body: "Foo."}); err != nil {
			t.Fatal(err)
		}
		got = keys(files(t, export(t, db2, "hugo")))
		if !slices.Equal(got, []string{"content/posts/foo-2.md", "content/posts/foo.md"}) {
			t.Errorf("a usual path taken: %v", got)
		}
	})

	t.Run("a new article does not inherit a trashed one's file", func(t *testing.T) {
		db := openDB(t)
		importTree(t, db, tree(t, map[string]string{"posts/x.md": "---\ntitle: X\ndate: 2024-01-01\naliases: [/old/x/]\n---\nOld.\n"}))
		svc := blog.NewService(db, nil)
		if err := svc.Delete(ctx, "x"); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Create(ctx, &blog.Article{Slug: "x", Title: "New X", Body: "New."}); err != nil {
			t.Fatal(err)
		}
		for p, b := range files(t, export(t, db, "hugo")) {
			if strings.Contains(string(b), "/old/x/") {
				t.Errorf("%s carries the trashed article's front matter:\n%s", p, b)
			}
		}
	})

	t.Run("a stored path outside what an import reads back is refused", func(t *testing.T) {
		db := openDB(t)
		if _, err := blog.NewService(db, nil).Create(ctx, &blog.Article{Slug: "hook", Title: "Hook", Body: "x"}); err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{".git/hooks/pre-commit.md", "a\\..\\b.md", "posts/x.txt", "c:/x.md"} {
			if err := db.SaveSources(ctx, []*blog.Source{{Slug: "hook", Path: p, Format: "yaml"}}); err != nil {
				t.Fatal(err)
			}
			if _, err := exporter.Export(ctx, db, t.TempDir(), exporter.Options{Format: "hugo"}); err == nil {
				t.Errorf("a stored path %q was written", p)
			}
		}
	})

	t.Run("since counts changes in its own second", func(t *testing.T) {
		db := openDB(t)
		svc := blog.NewService(db, nil)
		if _, err := svc.Create(ctx, &blog.Article{Slug: "old", Title: "Old", Body: "x", PublishedAt: time.Now().Add(-time.Hour)}); err != nil {
			t.Fatal(err)
		}
		cut := time.Now()
		if _, err := svc.Update(ctx, "old", blog.Patch{Body: new("changed")}); err != nil {
			t.Fatal(err)
		}
		sum, err := exporter.Export(ctx, db, t.TempDir(), exporter.Options{Format: "hugo", Since: cut})
		if err != nil || sum.Written != 1 {
			t.Errorf("a change just after the cut: %+v, %v", sum, err)
		}
	})

	t.Run("lang is said when the file name would say otherwise", func(t *testing.T) {
		db := openDB(t)
		importTree(t, db, tree(t, map[string]string{"posts/post.vi.md": "---\ntitle: P\ndate: 2024-01-01\nlang: en\n---\nP.\n"}))
		if sum := importTree(t, db, export(t, db, "hugo")); sum.Updated != 0 {
			t.Errorf("re-importing: %+v", sum)
		}
	})

	t.Run("categories come back", func(t *testing.T) {
		db := openDB(t)
		importTree(t, db, tree(t, map[string]string{"_posts/2024-01-01-news.md": "---\ntitle: News\ncategories: [release, news]\npermalink: /:categories/:title/\n---\nN.\n"}))
		out := string(files(t, export(t, db, "jekyll"))["_posts/2024-01-01-news.md"])
		if !strings.Contains(out, "categories:") || !strings.Contains(out, "release") {
			t.Errorf("the categories:\n%s", out)
		}
		if sum := importTree(t, db, export(t, db, "jekyll")); sum.Updated != 0 {
			t.Errorf("re-importing: %+v", sum)
		}
	})
}

func chdir(t *testing.T, dir string) {
	t.Helper()
	old, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chdir(dir); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chdir(old) })
}
