package importer

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"net/url"
	"path"
	"regexp"
	"strings"
	"sync"
	"time"

	htmltomarkdown "github.com/JohannesKaufmann/html-to-markdown/v2"
	"go.yaml.in/yaml/v3"

	"github.com/2coffee/mcp-2coffee/internal/blog"
)

// The exports of the platforms bloggers leave: a WordPress export (WXR,
// an RSS 2.0 file with WordPress's elements), a Ghost export (JSON), and
// RSS 2.0 and Atom feeds. Each entry becomes an article whose HTML is
// turned into Markdown by html-to-markdown; drafts stay drafts; categories
// and tags become tags; pages are skipped unless Options.Pages says to keep
// them (tagged "page"); the entry's original URL is kept as the front
// matter "url" an export writes back. Only files named on the command line
// are read this way, never .xml or .json files found while walking a
// directory (a site's own feeds and sitemaps).

// FeedKind is what kind of export a file is.
type FeedKind string

// The kinds of export file.
const (
	KindWXR   FeedKind = "wordpress"
	KindGhost FeedKind = "ghost"
	KindRSS   FeedKind = "rss"
	KindAtom  FeedKind = "atom"
)

// entry is one article of an export, or why it is none.
type entry struct {
	name string // for the summary: "file.xml: item 3 (slug)"
	a    *blog.Article
	src  *blog.Source
	err  error
	page bool // a page, not a post
}

// isFeedFile reports whether a root file is an export to read as a feed.
func isFeedFile(name string) bool {
	switch strings.ToLower(path.Ext(name)) {
	case ".xml", ".rss", ".atom", ".json":
		return true
	}
	return false
}

// parseFeed reads the entries of an export file.
func parseFeed(name string, data []byte) (FeedKind, []entry, error) {
	trimmed := bytes.TrimSpace(bytes.TrimPrefix(data, utf8BOM))
	if len(trimmed) > 0 && trimmed[0] == '{' {
		es, err := parseGhost(name, trimmed)
		return KindGhost, es, err
	}
	var probe struct {
		XMLName xml.Name
	}
	if err := xml.Unmarshal(trimmed, &probe); err != nil {
		return "", nil, fmt.Errorf("not an RSS, Atom, WordPress or Ghost export: %w", err)
	}
	switch probe.XMLName.Local {
	case "rss":
		return parseRSS(name, trimmed)
	case "feed":
		es, err := parseAtom(name, trimmed)
		return KindAtom, es, err
	}
	return "", nil, fmt.Errorf("not an RSS, Atom, WordPress or Ghost export: the document is <%s>", probe.XMLName.Local)
}

// rssDoc holds RSS 2.0 and its WordPress extension (WXR): encoding/xml
// matches elements by local name when the field names no namespace, and
// the namespaced ones by their URI.
type rssDoc struct {
	Channel struct {
		Items []rssItem `xml:"item"`
	} `xml:"channel"`
}

type rssItem struct {
	Title       string `xml:"title"`
	Link        string `xml:"link"`
	PubDate     string `xml:"pubDate"`
	Description string `xml:"description"`
	Content     string `xml:"http://purl.org/rss/1.0/modules/content/ encoded"`
	Creator     string `xml:"http://purl.org/dc/elements/1.1/ creator"`
	Categories  []struct {
		Domain   string `xml:"domain,attr"`
		Nicename string `xml:"nicename,attr"`
		Text     string `xml:",chardata"`
	} `xml:"category"`
	// WordPress.
	Excerpt  string `xml:"http://wordpress.org/export/1.2/excerpt/ encoded"`
	PostName string `xml:"http://wordpress.org/export/1.2/ post_name"`
	PostType string `xml:"http://wordpress.org/export/1.2/ post_type"`
	Status   string `xml:"http://wordpress.org/export/1.2/ status"`
	DateGMT  string `xml:"http://wordpress.org/export/1.2/ post_date_gmt"`
	Date     string `xml:"http://wordpress.org/export/1.2/ post_date"`
	Modified string `xml:"http://wordpress.org/export/1.2/ post_modified_gmt"`
	Password string `xml:"http://wordpress.org/export/1.2/ post_password"`
}

// wxrNamespaces are the older WXR versions' namespaces, read as 1.2's:
// the elements are the same.
var wxrNamespaces = [][2]string{
	{"http://wordpress.org/export/1.0/", "http://wordpress.org/export/1.2/"},
	{"http://wordpress.org/export/1.1/", "http://wordpress.org/export/1.2/"},
}

func parseRSS(name string, data []byte) (FeedKind, []entry, error) {
	for _, ns := range wxrNamespaces {
		data = bytes.ReplaceAll(data, []byte(ns[0]), []byte(ns[1]))
	}
	var doc rssDoc
	if err := xml.Unmarshal(data, &doc); err != nil {
		return "", nil, fmt.Errorf("reading the RSS: %w", err)
	}
	kind := KindRSS
	if bytes.Contains(data, []byte("http://wordpress.org/export/")) {
		kind = KindWXR
	}
	var out []entry
	for i, it := range doc.Channel.Items {
		e := entry{name: fmt.Sprintf("%s: item %d", name, i+1)}
		if kind == KindWXR && it.PostType != "" && it.PostType != "post" && it.PostType != "page" {
			continue // attachments, menu items, blocks: not articles
		}
		if kind == KindWXR && it.Status == "trash" {
			out = append(out, e.failFor(&blog.Article{Slug: it.PostName}, errors.New("in WordPress's trash: not imported")))
			continue
		}
		e.page = it.PostType == "page"
		html := it.Content
		if html == "" {
			html = it.Description
		}
		a := &blog.Article{Title: strings.TrimSpace(it.Title), Author: strings.TrimSpace(it.Creator), Slug: it.PostName}
		if kind == KindWXR {
			a.Summary = plainText(it.Excerpt)
			switch it.Status {
			case "publish", "":
			case "future":
				// Scheduled at WordPress: scheduled here, by its date.
			default: // draft, pending, private
				a.Draft = true
			}
			if strings.TrimSpace(it.Password) != "" {
				// Password-protected at WordPress: not for everyone here
				// either, until its owner says so.
				a.Draft = true
			}
		} else if it.Content != "" {
			a.Summary = plainText(it.Description)
		}
		var err error
		a.PublishedAt, err = firstDate(it.DateGMT, it.PubDate, it.Date)
		if err != nil && !a.Draft {
			out = append(out, e.failFor(a, fmt.Errorf("the date: %w", err)))
			continue
		}
		a.UpdatedAt, _ = firstDate(it.Modified)
		for _, c := range it.Categories {
			if t := strings.TrimSpace(c.Text); t != "" {
				a.Tags = append(a.Tags, t)
			}
		}
		out = append(out, e.finish(a, html, it.Link))
	}
	return kind, out, nil
}

type atomDoc struct {
	Entries []struct {
		Title     string `xml:"title"`
		ID        string `xml:"id"`
		Published string `xml:"published"`
		Updated   string `xml:"updated"`
		Summary   string `xml:"summary"`
		Content   struct {
			Type string `xml:"type,attr"`
			Body string `xml:",innerxml"`
			Text string `xml:",chardata"`
		} `xml:"content"`
		Links []struct {
			Rel  string `xml:"rel,attr"`
			Href string `xml:"href,attr"`
		} `xml:"link"`
		Categories []struct {
			Term string `xml:"term,attr"`
		} `xml:"category"`
		Author struct {
			Name string `xml:"name"`
		} `xml:"author"`
		Draft string `xml:"http://www.w3.org/2007/app control>draft"`
	} `xml:"entry"`
}

func parseAtom(name string, data []byte) ([]entry, error) {
	var doc atomDoc
	if err := xml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("reading the Atom feed: %w", err)
	}
	var out []entry
	for i, it := range doc.Entries {
		e := entry{name: fmt.Sprintf("%s: entry %d", name, i+1)}
		a := &blog.Article{Title: strings.TrimSpace(it.Title), Author: strings.TrimSpace(it.Author.Name), Summary: plainText(it.Summary),
			Draft: strings.TrimSpace(it.Draft) == "yes"}
		var err error
		if a.PublishedAt, err = firstDate(it.Published, it.Updated); err != nil {
			out = append(out, e.failFor(a, fmt.Errorf("the date: %w", err)))
			continue
		}
		a.UpdatedAt, _ = firstDate(it.Updated)
		for _, c := range it.Categories {
			if c.Term != "" {
				a.Tags = append(a.Tags, c.Term)
			}
		}
		link := it.ID
		for _, l := range it.Links {
			if l.Rel == "" || l.Rel == "alternate" {
				link = l.Href
				break
			}
		}
		html := it.Content.Text
		switch it.Content.Type {
		case "html":
		case "xhtml":
			html = it.Content.Body
		default: // "text", or no type, which means text (RFC 4287 §3.1.1)
			html = "<p>" + xmlEscape(it.Content.Text) + "</p>"
		}
		out = append(out, e.finish(a, html, link))
	}
	return out, nil
}

// ghostDoc is a Ghost export (Settings → Labs → Export): the database's
// tables as JSON.
type ghostDoc struct {
	DB []struct {
		Data struct {
			Posts []struct {
				ID            string `json:"id"`
				Title         string `json:"title"`
				Slug          string `json:"slug"`
				HTML          string `json:"html"`
				Plaintext     string `json:"plaintext"`
				Status        string `json:"status"`
				Type          string `json:"type"`
				Page          any    `json:"page"` // older exports: true for a page
				PublishedAt   string `json:"published_at"`
				UpdatedAt     string `json:"updated_at"`
				CreatedAt     string `json:"created_at"`
				CustomExcerpt string `json:"custom_excerpt"`
				CanonicalURL  string `json:"canonical_url"`
				AuthorID      string `json:"author_id"`
			} `json:"posts"`
			Tags []struct {
				ID, Name, Slug string
			} `json:"tags"`
			PostsTags []struct {
				PostID string `json:"post_id"`
				TagID  string `json:"tag_id"`
			} `json:"posts_tags"`
			Users []struct {
				ID, Name string
			} `json:"users"`
			PostsAuthors []struct {
				PostID   string `json:"post_id"`
				AuthorID string `json:"author_id"`
			} `json:"posts_authors"`
		} `json:"data"`
	} `json:"db"`
}

func parseGhost(name string, data []byte) ([]entry, error) {
	var doc ghostDoc
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("reading the Ghost export: %w", err)
	}
	if len(doc.DB) == 0 {
		return nil, errors.New("not a Ghost export: no \"db\" array")
	}
	d := doc.DB[0].Data
	tags := map[string]string{}
	for _, t := range d.Tags {
		tags[t.ID] = t.Name
	}
	users := map[string]string{}
	for _, u := range d.Users {
		users[u.ID] = u.Name
	}
	postTags := map[string][]string{}
	for _, pt := range d.PostsTags {
		if n := tags[pt.TagID]; n != "" && !strings.HasPrefix(n, "#") { // #internal tags are Ghost's own
			postTags[pt.PostID] = append(postTags[pt.PostID], n)
		}
	}
	postAuthor := map[string]string{}
	for _, pa := range d.PostsAuthors {
		if _, seen := postAuthor[pa.PostID]; !seen {
			postAuthor[pa.PostID] = users[pa.AuthorID]
		}
	}
	var out []entry
	for i, p := range d.Posts {
		e := entry{name: fmt.Sprintf("%s: post %d", name, i+1), page: p.Type == "page" || p.Page == true}
		a := &blog.Article{Title: strings.TrimSpace(p.Title), Slug: p.Slug, Summary: strings.TrimSpace(p.CustomExcerpt), Tags: postTags[p.ID]}
		if a.Author = postAuthor[p.ID]; a.Author == "" {
			a.Author = users[p.AuthorID]
		}
		switch p.Status {
		case "published", "scheduled":
		default:
			a.Draft = true
		}
		var err error
		if a.PublishedAt, err = firstDate(p.PublishedAt, p.CreatedAt); err != nil {
			out = append(out, e.failFor(a, fmt.Errorf("the date: %w", err)))
			continue
		}
		a.UpdatedAt, _ = firstDate(p.UpdatedAt)
		html := p.HTML
		if html == "" && p.Plaintext != "" {
			html = "<p>" + xmlEscape(p.Plaintext) + "</p>"
		}
		out = append(out, e.finish(a, html, p.CanonicalURL))
	}
	return out, nil
}

// fail is the entry refused with err.
func (e entry) fail(err error) entry {
	e.err = err
	return e
}

// failFor is fail naming the slug a, not finished, already has.
func (e entry) failFor(a *blog.Article, err error) entry {
	if a.Slug != "" {
		e.name += " (" + a.Slug + ")"
	}
	return e.fail(err)
}

// finish converts the HTML, fills in what is missing (a slug from the URL
// or the title), normalises and validates the article, and keeps its URL.
func (e entry) finish(a *blog.Article, html, link string) entry {
	body, err := toMarkdown(html)
	if err != nil {
		return e.fail(fmt.Errorf("converting the HTML: %w", err))
	}
	a.Body = body
	if a.Slug == "" {
		a.Slug = slugFromURL(link)
	}
	if a.Slug == "" {
		a.Slug = blog.Slugify(a.Title)
	}
	if a.PublishedAt.IsZero() {
		// A draft its platform never dated: a fixed placeholder, so a
		// second import finds it unchanged.
		a.PublishedAt = undated
	}
	if a.UpdatedAt.IsZero() || a.UpdatedAt.Before(a.PublishedAt) {
		a.UpdatedAt = a.PublishedAt
	}
	if e.page {
		a.Tags = append(a.Tags, "page")
	}
	if r := []rune(a.Summary); len(r) > blog.MaxSummaryLen {
		// A feed's description can be a whole post; the summary is its
		// beginning.
		a.Summary = strings.TrimSpace(string(r[:blog.MaxSummaryLen-1])) + "…"
	}
	a.Normalize()
	if a.Slug != "" {
		e.name += " (" + a.Slug + ")"
	}
	if err := a.Validate(); err != nil {
		return e.fail(err)
	}
	e.a = a
	e.src = &blog.Source{Slug: a.Slug, Format: FormatYAML}
	if link != "" {
		// The original URL, which an export writes back as front matter
		// (a redirect from the old address can be made from it).
		if b, err := yaml.Marshal(map[string]string{"url": link}); err == nil {
			e.src.Extra = string(b)
		}
	}
	return e
}

// undated is the publication time of a draft that had none.
var undated = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// slugFromURL is the last path segment of a post's URL, when it is a
// valid slug ("https://old.example/2019/05/my-post/" → "my-post").
func slugFromURL(link string) string {
	u, err := url.Parse(strings.TrimSpace(link))
	if err != nil {
		return ""
	}
	seg := path.Base(strings.TrimSuffix(u.Path, "/"))
	if seg = strings.TrimSuffix(seg, path.Ext(seg)); blog.ValidateSlug(seg) == nil {
		return seg
	}
	return ""
}

// firstDate parses the first of values that is a date: RFC 3339, RFC
// 1123 (RSS), or WordPress's "2006-01-02 15:04:05" (GMT). WordPress writes
// 0000-00-00 00:00:00 for a draft's unset date.
func firstDate(values ...string) (time.Time, error) {
	var last error = errors.New("none given")
	for _, v := range values {
		v = strings.TrimSpace(v)
		if v == "" || strings.HasPrefix(v, "0000-00-00") {
			continue
		}
		for _, layout := range []string{time.RFC3339, time.RFC1123Z, time.RFC1123, "Mon, 2 Jan 2006 15:04:05 -0700", "Mon, 2 Jan 2006 15:04:05 MST", "2006-01-02 15:04:05", "2006-01-02T15:04:05.000Z"} {
			if t, err := time.Parse(layout, v); err == nil {
				return t.UTC(), nil
			}
		}
		last = fmt.Errorf("%q is not a date this importer reads", v)
	}
	return time.Time{}, last
}

// blockStart finds HTML that already holds blocks; WordPress's classic
// editor stores paragraphs as blank-line-separated text instead.
var blockStart = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`(?i)<(p|div|h[1-6]|ul|ol|pre|blockquote|figure|table)[\s>]`)
})

// toMarkdown converts HTML to Markdown with html-to-markdown (CommonMark),
// first turning WordPress's blank-line paragraphs into <p> elements, as
// WordPress's own wpautop does when it shows them.
func toMarkdown(html string) (string, error) {
	html = strings.TrimSpace(html)
	if html == "" {
		return "", nil
	}
	if !blockStart().MatchString(html) && strings.Contains(html, "\n\n") {
		var b strings.Builder
		for _, p := range strings.Split(strings.ReplaceAll(html, "\r\n", "\n"), "\n\n") {
			if p = strings.TrimSpace(p); p != "" {
				b.WriteString("<p>" + strings.ReplaceAll(p, "\n", "<br>") + "</p>\n")
			}
		}
		html = b.String()
	}
	md, err := htmltomarkdown.ConvertString(html)
	if err != nil {
		return "", err
	}
	// A link that runs code (javascript:, vbscript:) or smuggles content
	// (data:) keeps its text and loses its target.
	md = unsafeLink().ReplaceAllString(md, "$1")
	return strings.TrimSpace(md), nil
}

// unsafeLink matches a Markdown link or image whose target's scheme runs
// code or carries content: [text](javascript:…).
var unsafeLink = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`(?i)!?\[([^\]]*)\]\(\s*<?(?:javascript|vbscript|data):[^)]*\)`)
})

// plainText is HTML (an excerpt, a feed's description) as one line of
// text.
func plainText(html string) string {
	md, err := toMarkdown(html)
	if err != nil {
		return strings.TrimSpace(html)
	}
	return strings.Join(strings.Fields(md), " ")
}

func xmlEscape(s string) string {
	var b bytes.Buffer
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}
