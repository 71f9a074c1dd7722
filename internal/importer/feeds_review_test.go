package importer

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/2coffee/mcp-2coffee/internal/store/sqlite"
)

// writeFile writes data to name in a temporary directory.
func writeFile(t *testing.T, name, data string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func wxr(version, items string) string {
	return `<?xml version="1.0" encoding="UTF-8"?><rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"
xmlns:wp="http://wordpress.org/export/` + version + `/" xmlns:excerpt="http://wordpress.org/export/` + version + `/excerpt/"><channel>` + items + `</channel></rss>`
}

func wxrItem(slug, status, typ, extra string) string {
	return `<item><title>` + slug + `</title><content:encoded><![CDATA[<p>Body of ` + slug + `.</p>]]></content:encoded>
<wp:post_date_gmt>2020-01-02 03:04:05</wp:post_date_gmt><wp:post_name>` + slug + `</wp:post_name><wp:status>` + status + `</wp:status>
<wp:post_type>` + typ + `</wp:post_type>` + extra + `</item>`
}

func openImportDB(t *testing.T) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "blog.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// TestImportPlatformsReview: what a review found, each failing before
// its fix: a WordPress export larger than one article may be is read
// (it was refused at 1.25 MiB); the elements of WXR 1.1 are read (drafts
// came in published, attachments as articles); a password-protected post
// is a draft and a trashed one is not imported; an Atom entry whose
// content has no type is text; a javascript: link loses its target; an
// undated draft imports unchanged a second time; a broken file counts
// once.
func TestImportPlatformsReview(t *testing.T) {
	ctx := context.Background()
	db := openImportDB(t)

	var items strings.Builder
	pad := strings.Repeat("x", 12000)
	for i := range 200 {
		items.WriteString(wxrItem(fmt.Sprintf("post-%03d", i), "publish", "post", "<wp:postmeta><wp:meta_value>"+pad+"</wp:meta_value></wp:postmeta>"))
	}
	big := writeFile(t, "big.xml", wxr("1.2", items.String()))
	if fi, _ := os.Stat(big); fi.Size() < 2<<20 {
		t.Fatalf("the big export is only %d bytes", fi.Size())
	}
	if sum, err := Import(ctx, db, []string{big}, Options{}); err != nil || sum.Created != 200 {
		t.Fatalf("a 2 MB WordPress export: %+v, %v", sum, err)
	}

	old := writeFile(t, "old.xml", wxr("1.1", wxrItem("old-draft", "draft", "post", "")+wxrItem("old-image", "inherit", "attachment", "")+
		wxrItem("locked", "publish", "post", "<wp:post_password>secret</wp:post_password>")+wxrItem("binned", "trash", "post", "")))
	sum, err := Import(ctx, db, []string{old}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Created != 2 || len(sum.Skipped) != 1 || !strings.Contains(sum.Skipped[0].Reason, "trash") {
		t.Errorf("a WXR 1.1 export: %+v", sum)
	}
	for _, slug := range []string{"old-draft", "locked"} {
		if a, err := db.GetArticle(ctx, slug); err != nil || !a.Draft {
			t.Errorf("%s: %+v, %v; want a draft", slug, a, err)
		}
	}
	if _, err := db.GetArticle(ctx, "old-image"); err == nil {
		t.Error("a WXR 1.1 attachment became an article")
	}

	atom := writeFile(t, "feed.atom", `<feed xmlns="http://www.w3.org/2005/Atom"><entry><title>Text content</title>
<link href="https://a.example/text-content/"/><id>1</id><updated>2023-01-01T00:00:00Z</updated>
<content>Use &lt;b&gt; for bold.</content></entry>
<entry><title>Bad link</title><link href="https://a.example/bad-link/"/><id>2</id><updated>2023-01-01T00:00:00Z</updated>
<content type="html">&lt;p&gt;&lt;a href="javascript:alert(1)"&gt;click&lt;/a&gt; and &lt;a href="https://ok.example"&gt;ok&lt;/a&gt;&lt;/p&gt;</content></entry></feed>`)
	if _, err := Import(ctx, db, []string{atom}, Options{}); err != nil {
		t.Fatal(err)
	}
	// Literal text: the tag is written as Markdown shows a "<", not made bold.
	if a, _ := db.GetArticle(ctx, "text-content"); a == nil || !strings.Contains(a.Body, "&lt;b&gt;") || strings.Contains(a.Body, "**") {
		t.Errorf("an Atom text content: %+v", a)
	}
	if a, _ := db.GetArticle(ctx, "bad-link"); a == nil || strings.Contains(a.Body, "javascript:") || !strings.Contains(a.Body, "[ok](https://ok.example)") {
		t.Errorf("a javascript: link: %+v", a)
	}

	undated := writeFile(t, "undated.xml", wxr("1.2", `<item><title>No date</title><content:encoded><![CDATA[<p>x</p>]]></content:encoded>
<wp:post_date_gmt>0000-00-00 00:00:00</wp:post_date_gmt><wp:post_name>no-date</wp:post_name><wp:status>draft</wp:status><wp:post_type>post</wp:post_type></item>`))
	for i, want := range []int{1, 0} {
		sum, err := Import(ctx, db, []string{undated}, Options{})
		if err != nil || sum.Created != want || sum.Updated != 0 {
			t.Errorf("import %d of an undated draft: %+v, %v", i+1, sum, err)
		}
	}

	broken := writeFile(t, "broken.json", `{"db": [`)
	empty := writeFile(t, "empty.rss", `<rss><channel></channel></rss>`)
	sum, err = Import(ctx, db, []string{broken, empty}, Options{})
	if err != nil || sum.Files != 2 || len(sum.Skipped) != 1 {
		t.Errorf("a broken and an empty export: %+v, %v; want 2 files, 1 skipped", sum, err)
	}
}
