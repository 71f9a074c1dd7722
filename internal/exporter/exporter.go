// Package exporter writes the blog back to Markdown files with front
// matter, in the shape a static site generator reads (Hugo, Jekyll, Astro,
// Eleventy), so that a blog whose source is Markdown in git sees what an
// assistant changed: export, review the diff, commit.
//
// An article the importer read goes back to the path it came from, in its
// front-matter format (YAML or TOML), with the front matter no article
// field holds (unknown keys, a permalink) written back after the fields;
// any other article gets the format's usual path. The output is a pure
// function of what is stored: exporting, importing the files into a new
// database and exporting again gives the same bytes, and importing an
// export into the database it came from changes nothing.
package exporter

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"path"
	"regexp"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
	"go.yaml.in/yaml/v3"

	"github.com/2coffee/mcp-2coffee/internal/blog"
)

// The formats Export writes.
const (
	Hugo     = "hugo"
	Jekyll   = "jekyll"
	Astro    = "astro"
	Eleventy = "eleventy"
)

// Formats lists them, for messages.
var Formats = []string{Hugo, Jekyll, Astro, Eleventy}

// Store is what Export reads.
type Store interface {
	ListArticles(ctx context.Context, r blog.ListRange) ([]*blog.Article, error)
	ListSources(ctx context.Context) ([]*blog.Source, error)
}

// Options tune Export.
type Options struct {
	// Format names the generator whose conventions new files follow
	// (paths, key names); required.
	Format string
	// Since, when not zero, exports only the articles changed after it
	// (updated_at), so the files an assistant touched are the diff.
	Since time.Time
}

// Summary says what Export wrote.
type Summary struct {
	Written int      // files written
	Paths   []string // their paths, relative to the directory
}

// Export writes the articles of st (drafts and scheduled ones too; not
// the trash) under dir, which it creates. It writes only inside dir,
// whatever a stored path says.
func Export(ctx context.Context, st Store, dir string, opts Options) (Summary, error) {
	var sum Summary
	conv, ok := conventions[opts.Format]
	if !ok {
		return sum, fmt.Errorf("format %q: want one of %s", opts.Format, strings.Join(Formats, ", "))
	}
	sources, err := st.ListSources(ctx)
	if err != nil {
		return sum, err
	}
	bySlug := make(map[string]*blog.Source, len(sources))
	for _, s := range sources {
		bySlug[s.Slug] = s
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return sum, err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return sum, err
	}
	defer root.Close()
	// Every stored path is its article's: a new article whose usual
	// path one of them holds gets another.
	taken := map[string]string{} // path → slug
	for _, s := range sources {
		if s.Path != "" {
			taken[s.Path] = s.Slug
		}
	}
	since := opts.Since.Truncate(time.Second) // times are stored in whole seconds
	r := blog.ListRange{Filter: blog.Filter{IncludeDrafts: true}, Limit: blog.MaxPage + 1}
	for {
		as, err := st.ListArticles(ctx, r)
		if err != nil {
			return sum, err
		}
		if len(as) == 0 {
			break
		}
		for _, a := range as {
			if err := ctx.Err(); err != nil {
				return sum, err
			}
			if !opts.Since.IsZero() && a.UpdatedAt.Before(since) {
				continue
			}
			src := bySlug[a.Slug]
			p, format, extra, zone := "", "yaml", "", time.UTC
			if src != nil {
				p, format, extra = src.Path, src.Format, src.Extra
				if src.Zone != "" {
					if z, err := time.Parse("-07:00", src.Zone); err == nil {
						_, off := z.Zone()
						zone = time.FixedZone("", off)
					}
				}
			}
			if p != "" && opts.Format == Jekyll && strings.HasPrefix(p, "_drafts/") && !a.Draft {
				// Published since it was imported: Jekyll reads a file
				// in _drafts as a draft, so it moves to _posts.
				p = ""
			}
			if p == "" {
				p = freePath(conv.path(a), a.Slug, taken)
			}
			if err := checkPath(p); err != nil {
				return sum, fmt.Errorf("article %q: %w", a.Slug, err)
			}
			if other, dup := taken[p]; dup && other != a.Slug {
				return sum, fmt.Errorf("articles %q and %q would both be written to %s", other, a.Slug, p)
			}
			taken[p] = a.Slug
			data, err := render(conv, a, p, format, extra, zone)
			if err != nil {
				return sum, fmt.Errorf("article %q: %w", a.Slug, err)
			}
			if d := path.Dir(p); d != "." {
				if err := root.MkdirAll(d, 0o755); err != nil {
					return sum, err
				}
			}
			if err := root.WriteFile(p, data, 0o644); err != nil {
				return sum, err
			}
			sum.Written++
			sum.Paths = append(sum.Paths, p)
		}
		last := as[len(as)-1]
		r.After = &blog.Position{PublishedAt: last.PublishedAt, Slug: last.Slug}
	}
	return sum, nil
}

// freePath is p, or p with -2, -3… before its extension when another
// article holds p.
func freePath(p, slug string, taken map[string]string) string {
	ext := path.Ext(p)
	stem := strings.TrimSuffix(p, ext)
	for n := 2; ; n++ {
		if other, ok := taken[p]; !ok || other == slug {
			return p
		}
		p = fmt.Sprintf("%s-%d%s", stem, n, ext)
	}
}

// checkPath refuses a stored path an export must not write: outside the
// directory, a hidden one (.git/hooks/…), or a file the importer would not
// read back as Markdown.
func checkPath(p string) error {
	if !fs.ValidPath(p) || p == "." || strings.ContainsAny(p, "\\:") {
		return fmt.Errorf("the stored path %q is not a plain relative path inside the export", p)
	}
	for part := range strings.SplitSeq(p, "/") {
		if strings.HasPrefix(part, ".") {
			return fmt.Errorf("the stored path %q goes into a hidden directory or file", p)
		}
	}
	switch strings.ToLower(path.Ext(p)) {
	case ".md", ".markdown", ".mdx":
		return nil
	}
	return fmt.Errorf("the stored path %q is not a Markdown file (.md, .markdown, .mdx)", p)
}

// langSuffix matches a file name with Hugo's language suffix (post.vi.md),
// from which the importer takes a language when the front matter names
// none.
var langSuffix = regexp.MustCompile(`\.[A-Za-z]{2}(-[A-Za-z]{2,4})?\.(md|markdown|mdx)$`)

// convention is one generator's: where a new file goes and what its
// front-matter keys are called.
type convention struct {
	path                  func(a *blog.Article) string
	date, updated, draft  string
	draftValue            bool // the draft key's value for a draft (Jekyll: published: false)
	summary, lang, author string
}

var conventions = map[string]convention{
	Hugo: {
		path: func(a *blog.Article) string { return "content/posts/" + a.Slug + ".md" },
		date: "date", updated: "lastmod", draft: "draft", draftValue: true,
		summary: "description", lang: "lang", author: "author",
	},
	Jekyll: {
		path: func(a *blog.Article) string {
			if a.Draft {
				return "_drafts/" + a.Slug + ".md"
			}
			return "_posts/" + a.PublishedAt.UTC().Format("2006-01-02") + "-" + a.Slug + ".md"
		},
		date: "date", updated: "last_modified_at", draft: "published", draftValue: false,
		summary: "description", lang: "lang", author: "author",
	},
	Astro: {
		path: func(a *blog.Article) string { return "src/content/blog/" + a.Slug + ".md" },
		date: "pubDate", updated: "updatedDate", draft: "draft", draftValue: true,
		summary: "description", lang: "lang", author: "author",
	},
	Eleventy: {
		path: func(a *blog.Article) string { return "posts/" + a.Slug + ".md" },
		date: "date", updated: "updated", draft: "draft", draftValue: true,
		summary: "description", lang: "lang", author: "author",
	},
}

// pair is one front-matter key and its value.
type pair struct {
	key string
	val any
}

// fields are the article's front-matter keys in the convention's names,
// in a fixed order: every field the importer reads back, and none it would
// not.
func (c convention) fields(a *blog.Article, p string, zone *time.Location) []pair {
	ps := []pair{{"title", a.Title}, {"slug", a.Slug}, {c.date, a.PublishedAt.In(zone)}}
	if !a.UpdatedAt.Equal(a.PublishedAt) {
		ps = append(ps, pair{c.updated, a.UpdatedAt.In(zone)})
	}
	if a.Draft {
		ps = append(ps, pair{c.draft, c.draftValue})
	}
	if len(a.Tags) > 0 {
		ps = append(ps, pair{"tags", a.Tags})
	}
	if a.Summary != "" {
		ps = append(ps, pair{c.summary, a.Summary})
	}
	if a.Author != "" {
		ps = append(ps, pair{c.author, a.Author})
	}
	if a.Language != "" && (a.Language != "en" || langSuffix.MatchString(p)) {
		// Said whenever the file name would say otherwise.
		ps = append(ps, pair{c.lang, a.Language})
	}
	if a.TranslationKey != "" {
		ps = append(ps, pair{"translationKey", a.TranslationKey})
	}
	return ps
}

// render is the whole file: front matter, a blank line, the body.
func render(c convention, a *blog.Article, p, format, extra string, zone *time.Location) ([]byte, error) {
	var b bytes.Buffer
	switch format {
	case "yaml":
		fm, err := yamlFrontMatter(c.fields(a, p, zone), extra)
		if err != nil {
			return nil, err
		}
		b.WriteString("---\n")
		b.Write(fm)
		b.WriteString("---\n")
	case "toml":
		fm, err := tomlFrontMatter(c.fields(a, p, zone), extra)
		if err != nil {
			return nil, err
		}
		b.WriteString("+++\n")
		b.Write(fm)
		b.WriteString("+++\n")
	default:
		return nil, fmt.Errorf("front-matter format %q: want yaml or toml", format)
	}
	if a.Body != "" {
		b.WriteString("\n")
		b.WriteString(a.Body)
		b.WriteString("\n")
	}
	return b.Bytes(), nil
}

func yamlFrontMatter(ps []pair, extra string) ([]byte, error) {
	m := &yaml.Node{Kind: yaml.MappingNode}
	for _, p := range ps {
		k, v := &yaml.Node{}, &yaml.Node{}
		if err := k.Encode(p.key); err != nil {
			return nil, err
		}
		if err := v.Encode(p.val); err != nil {
			return nil, err
		}
		m.Content = append(m.Content, k, v)
	}
	if extra != "" {
		var doc yaml.Node
		if err := yaml.Unmarshal([]byte(extra), &doc); err != nil {
			return nil, fmt.Errorf("the kept front matter: %w", err)
		}
		if len(doc.Content) == 1 && doc.Content[0].Kind == yaml.MappingNode {
			m.Content = append(m.Content, doc.Content[0].Content...)
		}
	}
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(m); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func tomlFrontMatter(ps []pair, extra string) ([]byte, error) {
	var b bytes.Buffer
	for _, p := range ps {
		// One key at a time keeps the order; TOML's encoder sorts a map.
		if err := toml.NewEncoder(&b).Encode(map[string]any{p.key: p.val}); err != nil {
			return nil, err
		}
	}
	if extra != "" {
		var v map[string]any
		if _, err := toml.Decode(extra, &v); err != nil {
			return nil, fmt.Errorf("the kept front matter: %w", err)
		}
		if err := toml.NewEncoder(&b).Encode(v); err != nil {
			return nil, err
		}
	}
	return b.Bytes(), nil
}
