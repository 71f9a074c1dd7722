package importer

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/2coffee/mcp-2coffee/internal/blog"
	"github.com/2coffee/mcp-2coffee/internal/store/sqlite"
)

func platformFile(name string) string { return filepath.Join("testdata", "platforms", name) }

// TestImportPlatforms imports a WordPress export, a Ghost export, an RSS
// feed and an Atom feed into the real store: HTML becomes Markdown
// (links, code, lists, images, quotes), drafts stay drafts, categories and
// tags become tags, pages and attachments are skipped, each bad entry is
// named with its cause, each article keeps its original URL, and a second
// import finds every article unchanged.
func TestImportPlatforms(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "blog.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	roots := []string{platformFile("wordpress.xml"), platformFile("ghost.json"), platformFile("feed.rss"), platformFile("feed.atom"), platformFile("broken.xml")}
	sum, err := Import(ctx, db, roots, Options{BatchSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	var reasons []string
	for _, sk := range sum.Skipped {
		reasons = append(reasons, sk.File+": "+sk.Reason)
	}
	joined := strings.Join(reasons, "\n")
	for _, want := range []string{
		"wordpress.xml: item 4 (about): a page, not a post",
		"wordpress.xml: item 6 (broken-date): the date:",
		"ghost.json: post 3 (contact): a page, not a post",
		"ghost.json: post 4 (no-title): title",
		"broken.xml: not an RSS, Atom, WordPress or Ghost export",
	} {
		if !strings.Contains(joined, want) {
			t.Errorf("the skips do not say %q:\n%s", want, joined)
		}
	}
	if sum.Files != 14 { // 5 WordPress entries, 4 Ghost, 2 RSS, 2 Atom, and the broken file
		t.Errorf("the summary counts %d files, want 14", sum.Files)
	}
	if sum.Created != 9 {
		t.Errorf("created %d articles, want 9 (3 WordPress, 2 Ghost, 2 RSS, 2 Atom)\n%+v", sum.Created, sum)
	}

	get := func(slug string) *blog.Article {
		t.Helper()
		a, err := db.GetArticle(ctx, slug)
		if err != nil {
			t.Fatalf("%s: %v", slug, err)
		}
		return a
	}
	wp := get("channels-and-goroutines")
	for _, want := range []string{"Go has **channels**. See [the tour](https://go.dev/tour).", "```\nch := make(chan int)\ngo func() { ch <- 1 }()\n```", "- unbuffered\n- buffered", "![A gopher](https://old.example.com/wp-content/uploads/gopher.png)"} {
		if !strings.Contains(wp.Body, want) {
			t.Errorf("the WordPress body lacks %q:\n%s", want, wp.Body)
		}
	}
	if strings.Contains(wp.Body, "wp:paragraph") || !slices.Equal(wp.Tags, []string{"concurrency", "go"}) || wp.Summary != "Talking between goroutines." || wp.Author != "an" ||
		wp.PublishedAt.Format("2006-01-02T15:04") != "2019-05-06T08:30" || wp.UpdatedAt.Format("2006-01-02") != "2019-06-01" {
		t.Errorf("the WordPress post: %+v", wp)
	}
	if c := get("classic-editor-post"); !strings.Contains(c.Body, "written in the classic editor.\n\nSecond paragraph") {
		t.Errorf("classic-editor paragraphs were not kept apart:\n%q", c.Body)
	}
	if d := get("half-written"); !d.Draft {
		t.Error("the WordPress draft is not a draft")
	}
	g := get("ghost-and-go")
	if !strings.Contains(g.Body, "Ghost writes *HTML*.") || !strings.Contains(g.Body, "1. first") || !strings.Contains(g.Body, "```go") ||
		!slices.Equal(g.Tags, []string{"go", "migration"}) || g.Author != "Bình Trần" || g.Summary != "Moving from Ghost." {
		t.Errorf("the Ghost post: %+v", g)
	}
	if !get("unpublished-idea").Draft {
		t.Error("the Ghost draft is not a draft")
	}
	if r := get("feeds-are-files"); r.Body != "The whole post, with `code`." || r.Summary != "A short description." || !slices.Equal(r.Tags, []string{"rss"}) {
		t.Errorf("the RSS item: %+v", r)
	}
	if r := get("only-a-description"); r.Body != "The description is the body here." {
		t.Errorf("an RSS item with only a description: %q", r.Body)
	}
	if a := get("atom-entries"); !strings.Contains(a.Body, "An **Atom** entry.") || !strings.Contains(a.Body, "> Quoted.") || a.Author != "Dũng" {
		t.Errorf("the Atom entry: %+v", a)
	}
	if a := get("xhtml-content"); !strings.Contains(a.Body, "Inline *XHTML*.") {
		t.Errorf("the XHTML entry: %q", a.Body)
	}
	// The original URL is kept, for the export to write back.
	sources, err := db.ListSources(ctx)
	if err != nil {
		t.Fatal(err)
	}
	urls := map[string]string{}
	for _, s := range sources {
		urls[s.Slug] = s.Extra
	}
	if !strings.Contains(urls["channels-and-goroutines"], "url: https://old.example.com/2019/05/channels-and-goroutines/") ||
		!strings.Contains(urls["atom-entries"], "https://atom.example.net/2023/atom-entries/") {
		t.Errorf("the original URLs: %v", urls)
	}

	again, err := Import(ctx, db, roots, Options{BatchSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	if again.Created != 0 || again.Updated != 0 || again.Unchanged != 9 {
		t.Errorf("a second import: %+v, want 9 unchanged", again)
	}
	// With --pages, pages come in tagged page.
	pages, err := Import(ctx, db, []string{platformFile("wordpress.xml")}, Options{Pages: true})
	if err != nil || pages.Created != 1 {
		t.Fatalf("with pages: %+v, %v", pages, err)
	}
	if p := get("about"); !slices.Contains(p.Tags, "page") {
		t.Errorf("the page is not tagged page: %+v", p)
	}
}
