package importer

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/2coffee/mcp-2coffee/internal/blog"
	"github.com/2coffee/mcp-2coffee/internal/errdefs"
)

// site is the testdata tree of real-looking blog sources.
const site = "testdata/site"

func date(t *testing.T, s string) time.Time {
	t.Helper()
	d, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return d.UTC()
}

// equateEmpty treats nil and empty tag lists as equal: Normalize makes an
// empty list either way, and a test should not care.
var equateEmpty = cmpopts.EquateEmpty()

func readSite(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(site, filepath.FromSlash(name)))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestParseSite checks the good files of every generator's shape.
func TestParseSite(t *testing.T) {
	tests := []struct {
		file string
		want blog.Article
	}{
		{
			file: "hugo/posts/toml-post.md",
			want: blog.Article{
				Slug:    "profiling-go",
				Title:   "Profiling Go services",
				Summary: "pprof, traces and what to look for.",
				Body:    "## Why profile\n\nMeasure before you optimise.",
				// categories merged, keywords not, params.author not read
				Tags:        []string{"backend", "go", "performance"},
				Language:    "en",
				PublishedAt: date(t, "2024-01-15T02:30:00Z"),
				UpdatedAt:   date(t, "2024-02-01T10:00:00Z"),
			},
		},
		{
			file: "hugo/posts/yaml-post.md",
			want: blog.Article{
				Slug:        "yaml-post",
				Title:       "Notes on context cancellation",
				Summary:     "Cancel early, cancel often.",
				Body:        "Every goroutine needs a way to stop.",
				Tags:        []string{"concurrency", "go"},
				Language:    "en",
				Author:      "Lan Nguyen",
				PublishedAt: date(t, "2024-02-10T01:00:00Z"),
				UpdatedAt:   date(t, "2024-02-12T00:00:00Z"),
				Draft:       true,
			},
		},
		{
			file: "hugo/posts/bundle-post/index.md",
			want: blog.Article{
				Slug:        "bundle-post",
				Title:       "A page bundle",
				Body:        "![cover](cover.jpg)\n\nImages live next to the post.",
				Tags:        []string{"hugo"},
				Language:    "en",
				PublishedAt: date(t, "2023-12-24T00:00:00Z"), // TOML local date, read as UTC
				UpdatedAt:   date(t, "2023-12-24T00:00:00Z"),
			},
		},
		{
			file: "jekyll/_posts/2024-03-01-first-steps.md",
			want: blog.Article{
				Slug:        "first-steps",
				Title:       "First steps",
				Body:        "Hello from Jekyll.",
				Tags:        []string{"beginner", "go", "web"},
				Language:    "en",
				Author:      "Minh Tran",
				PublishedAt: date(t, "2024-03-01T00:00:00Z"),
				UpdatedAt:   date(t, "2024-03-01T00:00:00Z"),
			},
		},
		{
			file: "jekyll/_posts/2024-03-05-unpublished.md",
			want: blog.Article{
				Slug:        "unpublished",
				Title:       "Not ready yet",
				Body:        "Work in progress.",
				Language:    "en",
				PublishedAt: date(t, "2024-03-05T02:30:00Z"),
				UpdatedAt:   date(t, "2024-03-05T02:30:00Z"),
				Draft:       true,
			},
		},
		{
			file: "astro/src/content/blog/astro-post.mdx",
			want: blog.Article{
				Slug:        "astro-post",
				Title:       "Islands architecture",
				Summary:     "Ship less JavaScript.",
				Body:        "import Chart from '../../components/Chart.astro';\n\nAstro renders <Chart /> on the server.",
				Tags:        []string{"astro", "web-performance"},
				Language:    "en",
				PublishedAt: date(t, "2022-07-08T00:00:00Z"),
				UpdatedAt:   date(t, "2022-07-10T00:00:00Z"),
			},
		},
		{
			file: "eleventy/posts/eleventy-post.md",
			want: blog.Article{
				Slug:        "hello-eleventy",
				Title:       "Hello Eleventy",
				Body:        "Built with 11ty.",
				Tags:        []string{"javascript", "post"},
				Language:    "en",
				Author:      "Hoa Le, Sam Park",
				PublishedAt: date(t, "2023-11-20T00:00:00Z"),
				UpdatedAt:   date(t, "2023-11-20T00:00:00Z"),
			},
		},
		{
			file: "eleventy/posts/excluded.md",
			want: blog.Article{
				Slug:        "excluded", // the templated permalink gives no slug
				Title:       "Unlisted page",
				Body:        "Not in any collection.",
				Language:    "en",
				PublishedAt: date(t, "2023-11-21T00:00:00Z"),
				UpdatedAt:   date(t, "2023-11-21T00:00:00Z"),
				Draft:       true,
			},
		},
		{
			file: "vi/ca-phe-sua-da.md",
			want: blog.Article{
				Slug:        "ca-phe-sua-da",
				Title:       "Cà phê sữa đá Sài Gòn",
				Summary:     "Một ly cà phê sữa đá buổi sáng.",
				Body:        "Sáng nào tôi cũng uống một ly **cà phê sữa đá** ở góc phố.",
				Tags:        []string{"cà-phê", "việt-nam"},
				Language:    "vi",
				PublishedAt: date(t, "2024-04-30T00:00:00Z"),
				UpdatedAt:   date(t, "2024-04-30T00:00:00Z"),
			},
		},
		{
			file: "misc/bad-slug.md",
			want: blog.Article{
				Slug:        "hello-world-unicode-post",
				Title:       "Hello World",
				Body:        "The slug is not valid as written, so it is slugified.",
				Language:    "en",
				PublishedAt: date(t, "2024-05-01T12:00:00Z"),
				UpdatedAt:   date(t, "2024-05-01T12:00:00Z"),
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			got, err := Parse(tt.file, readSite(t, tt.file))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if diff := cmp.Diff(&tt.want, got, equateEmpty); diff != "" {
				t.Errorf("Parse(%s) mismatch (-want +got):\n%s", tt.file, diff)
			}
		})
	}
}

// TestParseSiteErrors checks the broken files: the line, and the message,
// which starts with the field name when a field is at fault.
func TestParseSiteErrors(t *testing.T) {
	tests := []struct {
		file string
		line int
		msg  string // the ParseError's Err, exactly
		is   error  // if set, errors.Is must hold
	}{
		{"broken/no-front-matter.md", 1, "no front matter: the file must start with a --- (YAML) or +++ (TOML) line", ErrNoFrontMatter},
		{"broken/unterminated.md", 1, "the YAML front matter opened on line 1 is never closed by a --- line", nil},
		{"broken/invalid-yaml.md", 5, "invalid YAML front matter: did not find expected key", nil},
		{"broken/invalid-toml.md", 5, "invalid TOML front matter: expected a comma (',') or array terminator (']'), but got 'd'", nil},
		{"broken/missing-title.md", 1, "title: is missing; every article needs one", errdefs.ErrInvalid},
		{"broken/bad-date.md", 3, `date: "tomorrow" is not a date; write it like 2024-03-01, 2024-03-01 09:30:00 +0700 or 2024-03-01T09:30:00Z`, errdefs.ErrInvalid},
		{"broken/title-list.md", 3, "title: is a list; want text", errdefs.ErrInvalid},
		{"broken/draft-maybe.md", 4, `draft: "maybe" is not true or false`, errdefs.ErrInvalid},
		{"broken/non-utf8.md", 5, "the file is not UTF-8 text (byte 0xe9); save it as UTF-8", nil},
		{"hugo/posts/_index.md", 0, "a section list page (_index.md), not an article", ErrNotArticle},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			a, err := Parse(tt.file, readSite(t, tt.file))
			if err == nil {
				t.Fatalf("Parse = %+v, want an error", a)
			}
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %T %v is not a *ParseError", err, err)
			}
			if pe.File != tt.file || pe.Line != tt.line || pe.Err.Error() != tt.msg {
				t.Errorf("got {%q, line %d, %q}\nwant {%q, line %d, %q}", pe.File, pe.Line, pe.Err, tt.file, tt.line, tt.msg)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("errors.Is(%v, %v) = false", err, tt.is)
			}
		})
	}
}

func TestParseErrorString(t *testing.T) {
	_, err := Parse("broken/title-list.md", readSite(t, "broken/title-list.md"))
	if got, want := err.Error(), "broken/title-list.md:3: title: is a list; want text"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	_, err = Parse("posts/_index.md", []byte("---\ntitle: x\n---\n"))
	if got, want := err.Error(), "posts/_index.md: a section list page (_index.md), not an article"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

// TestParse covers the rules one at a time with small inline files.
func TestParse(t *testing.T) {
	base := blog.Article{
		Slug:        "post",
		Title:       "T",
		Body:        "Body.",
		Language:    "en",
		PublishedAt: date(t, "2024-03-01T00:00:00Z"),
		UpdatedAt:   date(t, "2024-03-01T00:00:00Z"),
	}
	// with returns base changed by f.
	with := func(f func(a *blog.Article)) blog.Article {
		a := *base.Clone()
		f(&a)
		return a
	}
	tests := []struct {
		name string // file name
		give string
		want blog.Article
	}{
		{
			name: "post.md",
			give: "\uFEFF---\r\ntitle: T\r\ndate: 2024-03-01\r\n---\r\nBody.\r\nLine two.\r\n",
			want: with(func(a *blog.Article) { a.Body = "Body.\nLine two." }),
		},
		{
			name: "post.md",
			give: "+++\r\ntitle = 'T'\r\ndate = 2024-03-01\r\n+++\r\n\r\nBody.\r\n",
			want: base,
		},
		{
			name: "post.md", // YAML's own end-of-document marker closes too
			give: "---\ntitle: T\ndate: 2024-03-01\n...\nBody.\n",
			want: base,
		},
		{
			name: "post.md",
			give: "---\ntitle: T\ndate: 2024-03-01 09:30:00 +0700\n---\nBody.",
			want: with(func(a *blog.Article) { a.PublishedAt = date(t, "2024-03-01T02:30:00Z"); a.UpdatedAt = a.PublishedAt }),
		},
		{
			name: "post.md",
			give: "---\ntitle: T\npubDate: 2024-03-01T10:00:00.123Z\nupdatedDate: 2024-03-02 08:00:00\n---\nBody.",
			want: with(func(a *blog.Article) {
				a.PublishedAt = date(t, "2024-03-01T10:00:00Z") // truncated to seconds
				a.UpdatedAt = date(t, "2024-03-02T08:00:00Z")
			}),
		},
		{
			name: "post.md", // several date keys: date wins over publishDate
			give: "---\ntitle: T\npublishDate: 2025-01-01\ndate: 2024-03-01\nlast_modified_at: 2024-03-09\n---\nBody.",
			want: with(func(a *blog.Article) { a.UpdatedAt = date(t, "2024-03-09T00:00:00Z") }),
		},
		{
			name: "post.md",
			give: "---\ntitle: T\ncreated: 2024-3-1\nmodified: 2024-03-02T01:02:03+00:00\n---\nBody.",
			want: with(func(a *blog.Article) { a.UpdatedAt = date(t, "2024-03-02T01:02:03Z") }),
		},
		{
			name: "post.md", // TOML local datetime and offset datetime
			give: "+++\ntitle = \"T\"\ndate = 2024-03-01T00:00:00\nlastmod = 2024-03-02T07:00:00+07:00\n+++\nBody.",
			want: with(func(a *blog.Article) { a.UpdatedAt = date(t, "2024-03-02T00:00:00Z") }),
		},
		{
			name: "post.md",
			give: "---\ntitle: T\npublished: 2024-03-01\n---\nBody.",
			want: base, // published as a date, not Jekyll's boolean
		},
		{
			name: "2024-03-01-post.md",
			give: "---\ntitle: T\npublished: true\n---\nBody.",
			want: base,
		},
		{
			name: "2024-03-01-post.md", // YAML 1.1, as Jekyll reads it
			give: "---\ntitle: T\npublished: no\n---\nBody.",
			want: with(func(a *blog.Article) { a.Draft = true }),
		},
		{
			name: "_drafts/post.md",
			give: "---\ntitle: T\ndate: 2024-03-01\n---\nBody.",
			want: with(func(a *blog.Article) { a.Draft = true }),
		},
		{
			name: "post.md",
			give: "---\ntitle: T\ndate: 2024-03-01\neleventyExcludeFromCollections: [rss]\n---\nBody.",
			want: base, // only left out of some collections
		},
		{
			name: "post.md",
			give: "---\ntitle: T\ndate: 2024-03-01\ndraft: \"False\"\n---\nBody.",
			want: base,
		},
		{
			name: "post.md",
			give: "---\ntitle: T\ndate: 2024-03-01\ntags: go, machine learning\ncategory: Web\n---\nBody.",
			want: with(func(a *blog.Article) { a.Tags = []string{"go", "machine-learning", "web"} }),
		},
		{
			name: "post.md",
			give: "---\ntitle: T\ndate: 2024-03-01\ntags: [go, 2024, ~]\nkeywords: [seo]\n---\nBody.",
			want: with(func(a *blog.Article) { a.Tags = []string{"2024", "go"} }),
		},
		{
			name: "post.md",
			give: "---\ntitle: T\ndate: 2024-03-01\nlocale: vi_VN\n---\nBody.",
			want: with(func(a *blog.Article) { a.Language = "vi-VN" }),
		},
		{
			name: "post.md",
			give: "---\ntitle: T\ndate: 2024-03-01\nlanguage: en-US\n---\nBody.",
			want: with(func(a *blog.Article) { a.Language = "en-US" }),
		},
		{
			name: "post.md",
			give: "---\ntitle: T\ndate: 2024-03-01\nLang: ZH_hant_tw.UTF-8\n---\nBody.",
			want: with(func(a *blog.Article) { a.Language = "zh-Hant-TW" }),
		},
		{
			name: "post.md",
			give: "---\ntitle: T\ndate: 2024-03-01\nauthors: [{name: A}, B]\n---\nBody.",
			want: with(func(a *blog.Article) { a.Author = "A, B" }),
		},
		{
			name: "post.md",
			give: "+++\ntitle = \"T\"\ndate = 2024-03-01\n[author]\nname = \"Ann\"\n+++\nBody.",
			want: with(func(a *blog.Article) { a.Author = "Ann" }),
		},
		{
			name: "post.md",
			give: "---\ntitle: T\ndate: 2024-03-01\nexcerpt: Short.\nsubtitle: Not used.\n---\nBody.",
			want: with(func(a *blog.Article) { a.Summary = "Short." }),
		},
		{
			name: "post.md",
			give: "---\ntitle: 1984\ndate: 2024-03-01\n---\nBody.",
			want: with(func(a *blog.Article) { a.Title = "1984" }),
		},
		{
			name: "post.md",
			give: "---\ntitle: T\ndate: 2024-03-01\nurl: /blog/2024/from-url.html\n---\nBody.",
			want: with(func(a *blog.Article) { a.Slug = "from-url" }),
		},
		{
			name: "post.md", // Eleventy: permalink false renders no page
			give: "---\ntitle: T\ndate: 2024-03-01\npermalink: false\n---\nBody.",
			want: base,
		},
		{
			name: "post.md", // Jekyll placeholders are not a slug
			give: "---\ntitle: T\ndate: 2024-03-01\npermalink: /:year/:title/\n---\nBody.",
			want: base,
		},
		{
			name: "posts/My Post.md",
			give: "---\ntitle: T\ndate: 2024-03-01\n---\nBody.",
			want: with(func(a *blog.Article) { a.Slug = "my-post" }),
		},
		{
			name: "posts/Cà phê.md",
			give: "---\ntitle: T\ndate: 2024-03-01\n---\nBody.",
			want: with(func(a *blog.Article) { a.Slug = "ca-phe" }),
		},
		{
			name: "posts/日本.md", // nothing to slugify in the name: the title is used
			give: "---\ntitle: Tokyo trip\ndate: 2024-03-01\n---\nBody.",
			want: with(func(a *blog.Article) { a.Slug = "tokyo-trip"; a.Title = "Tokyo trip" }),
		},
		{
			name: "post.md",
			give: "---\ntitle: T\ndate: 2024-03-01\nslug: Cà phê đá\n---\nBody.",
			want: with(func(a *blog.Article) { a.Slug = "ca-phe-da" }),
		},
		{
			name: "posts/2024-03-01-post.md",
			give: "---\ntitle: T\n---\nBody.",
			want: base,
		},
		{
			name: "post.md", // unknown keys and nested tables are ignored
			give: "---\ntitle: T\ndate: 2024-03-01\nlayout: post\nparams: {a: [1, {b: c}]}\n<<: {x: y}\n---\nBody.",
			want: base,
		},
		{
			name: "post.md", // an empty value counts as absent
			give: "---\ntitle: T\ndate: 2024-03-01\nsummary:\ndescription: ~\nsubtitle: Sub\n---\nBody.",
			want: with(func(a *blog.Article) { a.Summary = "Sub" }),
		},
		{
			name: "post.md", // aliases are followed
			give: "---\nx: &d 2024-03-01\ntitle: T\ndate: *d\n---\nBody.",
			want: base,
		},
		{
			name: "post.md", // an empty body is allowed
			give: "---\ntitle: T\ndate: 2024-03-01\n---\n",
			want: with(func(a *blog.Article) { a.Body = "" }),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name+"/"+firstLineAfterTitle(tt.give), func(t *testing.T) {
			got, err := Parse(tt.name, []byte(tt.give))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if diff := cmp.Diff(&tt.want, got, equateEmpty); diff != "" {
				t.Errorf("Parse(%q) mismatch (-want +got):\n%s", tt.give, diff)
			}
		})
	}
}

// firstLineAfterTitle names a subtest after what makes its input special.
func firstLineAfterTitle(s string) string {
	lines := strings.Split(strings.ReplaceAll(s, "\r", ""), "\n")
	if len(lines) > 3 {
		return lines[3]
	}
	return s
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		give string
		line int
		msg  string
	}{
		{"post.md", "", 1, ErrNoFrontMatter.Error()},
		{"post.md", "{\"title\": \"JSON front matter\"}\n", 1, ErrNoFrontMatter.Error()},
		{"post.md", "+++\ntitle = 'x'\n---\n", 1, "the TOML front matter opened on line 1 is never closed by a +++ line"},
		{"post.md", "---\n- a\n- b\n---\n", 2, "invalid YAML front matter: want key: value pairs, found a list"},
		// yaml.v3 gives no line for an error on the first line of the
		// front matter; it is line 2 of the file.
		{"post.md", "---\na: b: c\n---\n", 2, "invalid YAML front matter: mapping values are not allowed in this context"},
		// yaml.v3 reports parser errors with a 0-based line; the
		// unclosed list opens on line 3.
		{"post.md", "---\ntitle: T\ntags: [a, b\ndate: 2024-03-01\n---\n", 3, "invalid YAML front matter: did not find expected ',' or ']'"},
		{"post.md", "---\ntitle: T\n\tdate: x\n---\n", 3, "invalid YAML front matter: found a tab character that violates indentation"},
		{"post.md", "---\ntitle: T\nx: *nope\n---\n", 1, "invalid YAML front matter: unknown anchor 'nope' referenced"},
		{"post.md", "+++\ntitle = 'T'\ntitle = 'U'\n+++\n", 3, "invalid TOML front matter: Key 'title' has already been defined."},
		{"post.md", "---\ntitle: T\nTitle: U\n---\n", 3, `Title: is set twice (as "title" on line 2 and "Title" on line 3)`},
		{"post.md", "---\ntitle:\ndate: 2024-03-01\n---\n", 2, "title: is empty; every article needs one"},
		{"post.md", "---\ntitle: '  '\ndate: 2024-03-01\n---\n", 2, "title: must not be empty"},
		{"post.md", "---\ntitle: {a: b}\n---\n", 2, "title: is a map; want text"},
		{"post.md", "---\ntitle: T\n---\nBody.", 1, "date: is missing; set date (or pubDate) in the front matter, or name the file like 2006-01-02-slug.md"},
		{"2024-13-45-post.md", "---\ntitle: T\n---\nBody.", 1, "date: is missing; set date (or pubDate) in the front matter, or name the file like 2006-01-02-slug.md"},
		{"post.md", "---\ntitle: T\ndate: 2024\n---\n", 3, "date: is a number; want a date like 2024-03-01"},
		{"post.md", "---\ntitle: T\ndate: 2024-02-30\n---\n", 3, `date: "2024-02-30" is not a date; write it like 2024-03-01, 2024-03-01 09:30:00 +0700 or 2024-03-01T09:30:00Z`},
		{"post.md", "---\ntitle: T\ndate: Last Modified\n---\n", 3, `date: "Last Modified" asks Eleventy for the file's own time, which an import cannot know reliably; write the date, like 2024-03-01`},
		{"post.md", "---\ntitle: T\ndate: 2024-03-01\nlastmod: [2024-03-02]\n---\n", 4, "lastmod: is a list; want a date like 2024-03-01"},
		{"post.md", "+++\ntitle = 'T'\ndate = 10:00:00\n+++\n", 3, "date: is a time of day without a date"},
		{"post.md", "---\ntitle: T\ndate: 2024-03-01\ndraft: 1\n---\n", 4, "draft: is a number; want true or false"},
		{"post.md", "---\ntitle: T\ndate: 2024-03-01\neleventyExcludeFromCollections: sometimes\n---\n", 4, `eleventyExcludeFromCollections: "sometimes" is not true or false`},
		{"post.md", "---\ntitle: T\ndate: 2024-03-01\ntags:\n  - go\n  - [nested]\n---\n", 6, "tags: item 2 is a list; want text"},
		{"post.md", "---\ntitle: T\ndate: 2024-03-01\ncategories: {a: b}\n---\n", 4, "categories: is a map; want a list of words"},
		{"post.md", "---\ntitle: T\ndate: 2024-03-01\nauthor: {url: x}\n---\n", 4, "author: the value is a map without a name"},
		{"post.md", "---\ntitle: T\ndate: 2024-03-01\nauthors: [A, [B]]\n---\n", 4, "authors: item 2 is a list; want a name"},
		{"post.md", "---\ntitle: T\ndate: 2024-03-01\nslug: 日本\n---\n", 4, `slug: "日本" has no letters or digits a slug could be made of`},
		{"post.md", "---\ntitle: T\ndate: 2024-03-01\nurl: [a]\n---\n", 4, "url: is a list; want a path like /posts/my-post/"},
		{"日本.md", "---\ntitle: 日本\ndate: 2024-03-01\n---\n", 1, `slug: cannot be made from the file name "日本" or the title; set slug in the front matter`},
		// Validate's errors point at the key the value came from.
		{"post.md", "---\ntitle: T\ndate: 2024-03-01\nlang: english\n---\n", 4, `lang: language: "english" is not a language tag such as "en" or "vi"`},
		{"post.md", "---\ntitle: T\ndate: 2024-03-01\nlocale: '??'\n---\n", 4, `locale: language: "??" is not a language tag such as "en" or "vi"`},
		{"post.md", "---\ntitle: T\ndescription: " + strings.Repeat("x", blog.MaxSummaryLen+1) + "\ndate: 2024-03-01\n---\n", 3, "description: summary: has 1001 characters; the limit is 1000"},
		{"post.md", "---\ntitle: T\ndate: 2024-03-01\ntags: [" + manyTags(blog.MaxTags+1) + "]\n---\n", 4, "tags: has 21 tags; the limit is 20"},
		{"post.md", "---\ntitle: T\ndate: 2024-03-01\n---\n\nBody with a \x00 in it.\n", 5, "body: contains a NUL character"},
		{"post.md", "---\ntitle: T\ndate: 0001-01-01\n---\n", 3, "date: published_at: must be set"},
		{"post.md", "---\ntitle: T\ndate: 2024-03-01\n---\n\n\xff\xfe", 6, "the file is not UTF-8 text (byte 0xff); save it as UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.msg, func(t *testing.T) {
			a, err := Parse(tt.name, []byte(tt.give))
			if err == nil {
				t.Fatalf("Parse(%q) = %+v, want an error", tt.give, a)
			}
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %T %v is not a *ParseError", err, err)
			}
			if pe.Line != tt.line || pe.Err.Error() != tt.msg {
				t.Errorf("Parse(%q):\ngot  line %d: %s\nwant line %d: %s", tt.give, pe.Line, pe.Err, tt.line, tt.msg)
			}
		})
	}
}

// TestParseOversizeBody builds the body in the test: a megabyte file in
// testdata would only weigh on the repository.
func TestParseOversizeBody(t *testing.T) {
	head := "---\ntitle: Big\ndate: 2024-03-01\n---\n"
	t.Run("at the limit", func(t *testing.T) {
		body := strings.Repeat("a", blog.MaxBodyBytes)
		a, err := Parse("big.md", []byte(head+body))
		if err != nil {
			t.Fatalf("Parse: %v", err)
		}
		if len(a.Body) != blog.MaxBodyBytes {
			t.Errorf("body is %d bytes, want %d", len(a.Body), blog.MaxBodyBytes)
		}
	})
	t.Run("one byte over", func(t *testing.T) {
		body := strings.Repeat("a", blog.MaxBodyBytes+1)
		_, err := Parse("big.md", []byte(head+body))
		var pe *ParseError
		if !errors.As(err, &pe) {
			t.Fatalf("Parse error = %v, want a *ParseError", err)
		}
		want := "body: is 1048577 bytes; the limit is 1048576"
		if pe.Line != 5 || pe.Err.Error() != want {
			t.Errorf("got line %d: %v; want line 5: %s", pe.Line, pe.Err, want)
		}
	})
	t.Run("far too big to read", func(t *testing.T) {
		_, err := Parse("big.md", []byte(head+strings.Repeat("a", maxFileBytes)))
		var pe *ParseError
		if !errors.As(err, &pe) || pe.Line != 0 || !strings.HasPrefix(pe.Err.Error(), "the file is larger than") {
			t.Errorf("Parse error = %v, want one about the file size", err)
		}
	})
}

// TestParseAliasBomb makes sure YAML aliases cannot turn a small file into
// a huge amount of work.
func TestParseAliasBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("---\ntitle: T\ndate: 2024-03-01\na0: &a0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i < 8; i++ {
		b.WriteString("a" + string(rune('0'+i)) + ": &a" + string(rune('0'+i)) + " [")
		for j := range 10 {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString("*a" + string(rune('0'+i-1)))
		}
		b.WriteString("]\n")
	}
	b.WriteString("tags: *a7\n---\n")
	start := time.Now()
	_, err := Parse("bomb.md", []byte(b.String()))
	if err == nil {
		t.Fatal("Parse accepted 10^8 tags")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Parse took %v", d)
	}
	var pe *ParseError
	if !errors.As(err, &pe) || pe.Line != 12 {
		t.Errorf("Parse error = %v, want one on line 12 (tags)", err)
	}
}

// manyTags returns n distinct tags separated by commas.
func manyTags(n int) string {
	tags := make([]string, n)
	for i := range tags {
		tags[i] = fmt.Sprintf("t%d", i)
	}
	return strings.Join(tags, ", ")
}
