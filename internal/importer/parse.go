// Package importer turns Markdown files with YAML or TOML front matter, in
// the shapes Hugo, Jekyll, Astro and Eleventy use, into blog articles
// (Parse), and imports whole trees of them into a store in batches, one
// transaction per batch (Import).
package importer

import (
	"bytes"
	"errors"
	"fmt"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"golang.org/x/text/language"

	"github.com/2coffee/mcp-2coffee/internal/blog"
	"github.com/2coffee/mcp-2coffee/internal/errdefs"
)

// ParseError says why one file could not become an article, and where.
// Line is 1-based and counts from the start of the file; 0 means the
// error is about the file as a whole.
type ParseError struct {
	File string
	Line int
	Err  error
}

// Error formats e as "file:line: message", or "file: message" without a
// line.
func (e *ParseError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err)
	}
	return fmt.Sprintf("%s: %v", e.File, e.Err)
}

// Unwrap returns the underlying error, so errors.Is(err, errdefs.ErrInvalid)
// and errors.As(err, **errdefs.ValidationError) see through a ParseError.
func (e *ParseError) Unwrap() error { return e.Err }

// ErrNotArticle is wrapped by the error Parse returns for a Hugo section
// list page (_index.md): it holds a section's title and intro, not a post.
var ErrNotArticle = errors.New("a section list page (_index.md), not an article")

// maxFileBytes bounds what Parse will look at: the largest body an article
// may have plus a generous allowance for front matter. It keeps a stray
// multi-gigabyte file from being read and parsed at all.
const maxFileBytes = blog.MaxBodyBytes + 256<<10

var utf8BOM = []byte("\uFEFF")

// located is an error about a field, with the file line it refers to.
type located struct {
	line int
	err  error
}

func (e *located) Error() string { return e.err.Error() }
func (e *located) Unwrap() error { return e.err }

// errorf builds an error about f, located at f's line.
func (f field) errorf(format string, args ...any) error {
	return &located{line: f.line, err: errdefs.Invalid(f.name, format, args...)}
}

// Parse turns one Markdown file into a normalised, validated article. name
// is the file's path relative to the import root: the slug and the date
// fall back to it (Jekyll's 2006-01-02-slug.md, Hugo's bundle/index.md),
// and errors name it. Every error is a *ParseError.
//
// Front matter is YAML between --- lines or TOML between +++ lines, with
// keys matched case-insensitively. Where several keys mean the same thing
// the first present one wins, in this order:
//
//	slug:      slug, url, permalink (their last path segment, if a valid slug), the file name
//	published: date, pubDate, publishDate, published, created, the file name
//	           (Jekyll's 2006-01-02-slug.md)
//	updated:   updated, lastmod, updatedDate, modified, last_modified_at, else published
//	summary:   description, summary, excerpt, subtitle
//	language:  lang, language, locale, the file name (Hugo's post.vi.md)
//	translation key: translationKey, the file name (post.vi.md and
//	           post.en.md in one directory share "dir/post")
//	author:    author, authors
//
// tags, categories and category are merged. draft: true, published: false
// (Jekyll), eleventyExcludeFromCollections: true and a _drafts directory
// (Jekyll) each make a draft.
// Times without a zone are taken as UTC.
//
// A file named with a language, post.vi.md, gets the slug "post-vi" from its
// name (a slug in the front matter wins), so each language is an article
// of its own, linked to the others by the translation key. An unsuffixed
// post.md beside them is "post" with no key: give it translationKey (or
// name it post.en.md) to make it one of the set.
func Parse(name string, data []byte) (*blog.Article, error) {
	a, _, err := parse(name, data)
	return a, err
}

// parseInfo is what Import needs besides the article.
type parseInfo struct {
	slugLine int // line of the key the slug came from; 0 for the file name
	// format and extra are what an export needs to write the front
	// matter back: FormatYAML or FormatTOML, and the keys no rule maps;
	// zone is the publication date's UTC offset, "" for UTC.
	format, extra, zone string
}

func parse(name string, data []byte) (*blog.Article, parseInfo, error) {
	name = filepath.ToSlash(name)
	fail := func(line int, err error) (*blog.Article, parseInfo, error) {
		var l *located
		if errors.As(err, &l) {
			line, err = l.line, l.err
		}
		return nil, parseInfo{}, &ParseError{File: name, Line: line, Err: err}
	}

	ff := fileName(name)
	if ff.list {
		return fail(0, ErrNotArticle)
	}
	if len(data) > maxFileBytes {
		return fail(0, fmt.Errorf("the file is larger than %d bytes, more than any article may hold", maxFileBytes))
	}
	data = bytes.TrimPrefix(data, utf8BOM)
	if i := firstInvalidUTF8(data); i >= 0 {
		return fail(lineAt(data, i), fmt.Errorf("the file is not UTF-8 text (byte 0x%02x); save it as UTF-8", data[i]))
	}
	// CRLF → LF keeps line numbers and makes the stored body the same
	// whichever system the file was written on.
	text := strings.ReplaceAll(string(data), "\r\n", "\n")

	fm, line, err := splitFrontMatter(text)
	if err != nil {
		return fail(line, err)
	}
	a, info, err := fm.article(ff)
	if err != nil {
		return fail(fm.startLine, err)
	}
	info.format, info.extra = fm.format, fm.extra
	// Jekyll keeps unfinished posts in _drafts.
	if slices.Contains(strings.Split(path.Dir(name), "/"), "_drafts") {
		a.Draft = true
	}
	return a, info, nil
}

// jekyllName matches Jekyll's post file names, 2006-01-02-slug.
// It is compiled on first use: only import needs it, and every command of
// the binary would otherwise compile it at start.
var jekyllName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^(\d{4}-\d{1,2}-\d{1,2})-(.+)$`) })

// fileFacts is what a file's path says about its article.
type fileFacts struct {
	stem string    // the slug falls back to it
	date time.Time // Jekyll's 2006-01-02-slug.md
	// lang is Hugo's language suffix (post.vi.md), lower case; key is the
	// translation key the suffix implies: the path without extension and
	// suffix ("posts/post"), which the other languages' files share.
	lang, key string
	list      bool // a Hugo section list page
}

// fileName derives the slug stem, a date and a language from a file name,
// and reports whether it is a Hugo section list page.
func fileName(name string) fileFacts {
	base := path.Base(name)
	stem := strings.TrimSuffix(base, path.Ext(base))
	if stem == "_index" || strings.HasPrefix(stem, "_index.") {
		return fileFacts{list: true}
	}
	var ff fileFacts
	stem, ff.lang = languageSuffix(stem)
	dir := path.Dir(name)
	ff.key = path.Join(dir, stem)
	// A page bundle (Hugo, and the same habit in Astro and Eleventy) is a
	// directory named after the post holding index.md and its images.
	if stem == "index" {
		if d := path.Base(dir); d != "." && d != "/" && d != ".." {
			stem, ff.key = d, dir
		}
	}
	if m := jekyllName().FindStringSubmatch(stem); m != nil {
		if t, err := time.Parse("2006-1-2", m[1]); err == nil {
			stem, ff.date = m[2], t
		}
	}
	ff.stem = stem
	if ff.lang == "" {
		ff.key = ""
	} else {
		// post.en.md and post.vi.md must not both be "post".
		ff.stem = stem + "-" + ff.lang
	}
	return ff
}

// languageSuffix splits Hugo's language suffix off a file stem: "post.vi"
// is "post" in "vi", "post.zh-cn" is "post" in "zh-cn". Only a known
// two-letter ISO 639-1 code (with an optional region or script) counts,
// so "notes.old" and "v1.2" are left whole.
func languageSuffix(stem string) (string, string) {
	i := strings.LastIndexByte(stem, '.')
	if i <= 0 {
		return stem, ""
	}
	code := strings.ToLower(stem[i+1:])
	primary, rest, _ := strings.Cut(code, "-")
	if len(primary) != 2 || !isASCIILetters(primary) {
		return stem, ""
	}
	if rest != "" && (len(rest) < 2 || len(rest) > 4 || !isASCIILetters(rest)) {
		return stem, ""
	}
	if _, err := language.ParseBase(primary); err != nil {
		return stem, ""
	}
	return stem[:i], code
}

var (
	dateKeys    = []string{"date", "pubdate", "publishdate", "published", "created"}
	updatedKeys = []string{"updated", "lastmod", "updateddate", "modified", "last_modified_at"}
	tagKeys     = []string{"tags", "categories", "category"}
)

// article applies the field rules to the decoded front matter.
func (fm *frontMatter) article(ff fileFacts) (*blog.Article, parseInfo, error) {
	stem, fileDate := ff.stem, ff.date
	var info parseInfo
	a := &blog.Article{Body: fm.body}
	// Where each article field came from, so that a Validate error points
	// at the line and key the user wrote.
	src := map[string]field{"body": {name: "body", line: fm.bodyLine}}

	f, ok := fm.get("title")
	if !ok {
		if f, set := fm.fields["title"]; set {
			return nil, info, f.errorf("is empty; every article needs one")
		}
		return nil, info, errdefs.Invalid("title", "is missing; every article needs one")
	}
	var err error
	if a.Title, err = f.text(); err != nil {
		return nil, info, err
	}
	src["title"] = f

	slugField, err := fm.slug(stem, a.Title)
	if err != nil {
		return nil, info, err
	}
	a.Slug = slugField.val.text
	if info.slugLine = slugField.line; slugField.line > 0 {
		src["slug"] = slugField
	}

	dated := false
	for _, k := range dateKeys {
		f, ok := fm.get(k)
		if !ok {
			continue
		}
		if _, isBool := f.val.boolean(); k == "published" && isBool {
			continue // Jekyll's published: false is about drafts
		}
		if a.PublishedAt, err = f.date(); err != nil {
			return nil, info, err
		}
		if _, off := a.PublishedAt.Zone(); off != 0 {
			// Stored in UTC; an export writes it back in this offset, so
			// a permalink made of the local date stays the same.
			info.zone = a.PublishedAt.Format("-07:00")
		}
		src["published_at"] = f
		dated = true
		break
	}
	if !dated {
		if fileDate.IsZero() {
			return nil, info, errdefs.Invalid("date", "is missing; set date (or pubDate) in the front matter, or name the file like 2006-01-02-slug.md")
		}
		a.PublishedAt = fileDate
	}
	a.UpdatedAt = a.PublishedAt
	if f, ok := fm.get(updatedKeys...); ok {
		if a.UpdatedAt, err = f.date(); err != nil {
			return nil, info, err
		}
	}

	for _, k := range tagKeys {
		f, ok := fm.get(k)
		if !ok {
			continue
		}
		tags, err := f.tags()
		if err != nil {
			return nil, info, err
		}
		a.Tags = append(a.Tags, tags...)
		if _, seen := src["tags"]; !seen {
			src["tags"] = f
		}
	}

	if a.Draft, err = fm.draft(); err != nil {
		return nil, info, err
	}

	if f, ok := fm.get("description", "summary", "excerpt", "subtitle"); ok {
		if a.Summary, err = f.text(); err != nil {
			return nil, info, err
		}
		src["summary"] = f
	}
	if f, ok := fm.get("lang", "language", "locale"); ok {
		s, err := f.text()
		if err != nil {
			return nil, info, err
		}
		a.Language = canonicalLanguage(s)
		src["language"] = f
	} else if ff.lang != "" {
		a.Language = canonicalLanguage(ff.lang)
	}
	a.TranslationKey = ff.key
	if f, ok := fm.get("translationkey"); ok {
		if a.TranslationKey, err = f.text(); err != nil {
			return nil, info, err
		}
		src["translation_key"] = f
	}
	if f, ok := fm.get("author", "authors"); ok {
		if a.Author, err = f.author(); err != nil {
			return nil, info, err
		}
		src["author"] = f
	}

	a.Normalize()
	if err := a.Validate(); err != nil {
		var ve *errdefs.ValidationError
		if errors.As(err, &ve) {
			if f, ok := src[ve.Field]; ok {
				if f.name != ve.Field {
					// The user wrote "description", not "summary".
					err = fmt.Errorf("%s: %w", f.name, err)
				}
				return nil, info, &located{line: f.line, err: err}
			}
		}
		return nil, info, err
	}
	return a, info, nil
}

// slug picks the article's slug; see Parse for the order. The result is
// the field the slug came from with its value replaced by the slug; a slug
// from the file name has line 0.
func (fm *frontMatter) slug(stem, title string) (field, error) {
	found := func(f field, slug string) (field, error) {
		f.val = value{kind: kindString, text: slug, line: f.line}
		return f, nil
	}
	if f, ok := fm.get("slug"); ok {
		s, err := f.text()
		if err != nil {
			return field{}, err
		}
		s = strings.TrimSpace(s)
		if blog.ValidateSlug(s) == nil {
			return found(f, s)
		}
		if s2 := blog.Slugify(s); s2 != "" {
			return found(f, s2)
		}
		return field{}, f.errorf("%q has no letters or digits a slug could be made of", s)
	}
	for _, k := range []string{"url", "permalink"} {
		f, ok := fm.get(k)
		if !ok {
			continue
		}
		switch f.val.kind {
		case kindBool:
			continue // Eleventy's permalink: false (render no page)
		case kindString:
		default:
			return field{}, f.errorf("is %s; want a path like /posts/my-post/", f.val.kind)
		}
		// Templates ("{{ page.fileSlug }}", Jekyll's "/:title/") give no
		// valid slug here and fall through to the file name.
		seg := strings.Trim(strings.TrimSpace(f.val.text), "/")
		if i := strings.LastIndexByte(seg, '/'); i >= 0 {
			seg = seg[i+1:]
		}
		seg = strings.TrimSuffix(strings.TrimSuffix(seg, ".html"), ".htm")
		if blog.ValidateSlug(seg) == nil {
			return found(f, seg)
		}
	}
	fromFile := field{name: "slug"}
	if blog.ValidateSlug(stem) == nil {
		return found(fromFile, stem)
	}
	if s := blog.Slugify(stem); s != "" {
		return found(fromFile, s)
	}
	if s := blog.Slugify(title); s != "" {
		return found(fromFile, s)
	}
	return field{}, errdefs.Invalid("slug", "cannot be made from the file name %q or the title; set slug in the front matter", stem)
}

// draft combines the three ways a post is kept unpublished.
func (fm *frontMatter) draft() (bool, error) {
	draft := false
	if f, ok := fm.get("draft"); ok {
		b, err := f.boolean()
		if err != nil {
			return false, err
		}
		draft = draft || b
	}
	if f, ok := fm.get("published"); ok {
		if published, isBool := f.val.boolean(); isBool {
			draft = draft || !published
		}
	}
	if f, ok := fm.get("eleventyexcludefromcollections"); ok && f.val.kind != kindList {
		// A list (Eleventy 3) only leaves some collections; the post is
		// still published.
		b, err := f.boolean()
		if err != nil {
			return false, err
		}
		draft = draft || b
	}
	return draft, nil
}

// text returns a field that should be a single piece of text. Numbers are
// accepted as written (title: 1984).
func (f field) text() (string, error) {
	switch f.val.kind {
	case kindString, kindNumber:
		return f.val.text, nil
	}
	return "", f.errorf("is %s; want text", f.val.kind)
}

func (f field) boolean() (bool, error) {
	if b, ok := f.val.boolean(); ok {
		return b, nil
	}
	if f.val.kind == kindString {
		return false, f.errorf("%q is not true or false", f.val.text)
	}
	return false, f.errorf("is %s; want true or false", f.val.kind)
}

// boolean reads v as a boolean if it is one. Quoted booleans are accepted
// (some generators quote everything), and so are YAML 1.1's yes/no/on/off,
// which yaml.v3 leaves as strings but Jekyll's Ruby YAML reads as booleans.
func (v value) boolean() (b, ok bool) {
	switch v.kind {
	case kindBool:
		return v.b, true
	case kindString:
		switch strings.ToLower(strings.TrimSpace(v.text)) {
		case "true", "yes", "on":
			return true, true
		case "false", "no", "off":
			return false, true
		}
	}
	return false, false
}

// tags returns a tag field's tags: a list of words, or one string which
// Jekyll splits at spaces; we split at commas instead when it has any, so
// "machine learning, go" keeps its two-word tag.
func (f field) tags() ([]string, error) {
	switch f.val.kind {
	case kindNumber:
		return []string{f.val.text}, nil
	case kindString:
		if strings.Contains(f.val.text, ",") {
			return strings.Split(f.val.text, ","), nil
		}
		return strings.Fields(f.val.text), nil
	case kindList:
		var out []string
		for i, item := range f.val.items {
			switch item.kind {
			case kindString, kindNumber:
				out = append(out, item.text)
			case kindNull:
			default:
				line := item.line
				if line == 0 {
					line = f.line
				}
				return nil, &located{line: line, err: errdefs.Invalid(f.name, "item %d is %s; want text", i+1, item.kind)}
			}
		}
		return out, nil
	}
	return nil, f.errorf("is %s; want a list of words", f.val.kind)
}

// author returns a name, a list of names joined with ", ", or the name
// field of a map (or of each map in a list), as themes and Astro content
// collections write them.
func (f field) author() (string, error) {
	name := func(v value, what string) (string, error) {
		switch v.kind {
		case kindString, kindNumber:
			return v.text, nil
		case kindNull:
			return "", nil
		case kindMap:
			if n, ok := v.fields["name"]; ok && (n.kind == kindString || n.kind == kindNumber) {
				return n.text, nil
			}
			return "", f.errorf("%s is a map without a name", what)
		}
		return "", f.errorf("%s is %s; want a name", what, v.kind)
	}
	if f.val.kind != kindList {
		return name(f.val, "the value")
	}
	var names []string
	for i, item := range f.val.items {
		n, err := name(item, fmt.Sprintf("item %d", i+1))
		if err != nil {
			return "", err
		}
		if n = strings.TrimSpace(n); n != "" {
			names = append(names, n)
		}
	}
	return strings.Join(names, ", "), nil
}

// dateLayouts are tried in order on text dates. Those without a zone are
// read as UTC.
var dateLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05",
	"2006-01-02T15:04",
	"2006-01-02 15:04:05 -0700", // Jekyll
	"2006-01-02 15:04:05 -07:00",
	"2006-01-02 15:04:05Z07:00",
	"2006-01-02 15:04:05",
	"2006-01-02 15:04 -0700",
	"2006-01-02 15:04",
	"2006-01-02",
	// The forms yaml.v3 resolves as timestamps, which allow one-digit
	// months, days and hours.
	"2006-1-2T15:4:5.999999999Z07:00",
	"2006-1-2t15:4:5.999999999Z07:00",
	"2006-1-2 15:4:5.999999999",
	"2006-1-2",
	// Astro's blog template writes pubDate: 'Jul 08 2022' (JavaScript's
	// Date parses it); these are the common spellings of that kind.
	"Jan 2 2006",
	"Jan 2, 2006",
	"January 2 2006",
	"January 2, 2006",
	"2 Jan 2006",
	"2 January 2006",
}

func (f field) date() (time.Time, error) {
	switch f.val.kind {
	case kindTime:
		t := f.val.t
		// BurntSushi/toml gives local dates and datetimes the machine's
		// offset under these zone names. Read them as UTC instead, as we
		// do for text, so an import does not depend on where it runs.
		switch t.Location().String() {
		case "datetime-local", "date-local":
			t = time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC)
		case "time-local":
			return time.Time{}, f.errorf("is a time of day without a date")
		}
		return t, nil
	case kindString:
		s := strings.TrimSpace(f.val.text)
		for _, layout := range dateLayouts {
			if t, err := time.Parse(layout, s); err == nil {
				return t, nil
			}
		}
		switch strings.ToLower(s) {
		case "last modified", "git last modified", "created", "git created":
			return time.Time{}, f.errorf("%q asks Eleventy for the file's own time, which an import cannot know reliably; write the date, like 2024-03-01", s)
		}
		return time.Time{}, f.errorf("%q is not a date; write it like 2024-03-01, 2024-03-01 09:30:00 +0700 or 2024-03-01T09:30:00Z", s)
	}
	return time.Time{}, f.errorf("is %s; want a date like 2024-03-01", f.val.kind)
}

// canonicalLanguage turns locale spellings into BCP 47 case conventions:
// "vi_VN" → "vi-VN", "EN" → "en", "zh_hant_tw" → "zh-Hant-TW",
// "vi_VN.UTF-8" → "vi-VN". Anything still malformed is left for Validate.
func canonicalLanguage(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexAny(s, ".@"); i > 0 {
		s = s[:i] // POSIX locale encoding or modifier
	}
	parts := strings.Split(strings.ReplaceAll(s, "_", "-"), "-")
	for i, p := range parts {
		switch {
		case i == 0:
			p = strings.ToLower(p)
		case len(p) == 2 && isASCIILetters(p):
			p = strings.ToUpper(p)
		case len(p) == 4 && isASCIILetters(p):
			p = strings.ToUpper(p[:1]) + strings.ToLower(p[1:])
		default:
			p = strings.ToLower(p)
		}
		parts[i] = p
	}
	return strings.Join(parts, "-")
}

func isASCIILetters(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i] | 0x20
		if c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}

// firstInvalidUTF8 returns the offset of the first byte of b that is not
// part of valid UTF-8, or -1.
func firstInvalidUTF8(b []byte) int {
	if utf8.Valid(b) {
		return -1
	}
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n == 1 {
			return i
		}
		i += n
	}
	return -1
}

// lineAt returns the 1-based line of byte offset i in b.
func lineAt(b []byte, i int) int { return bytes.Count(b[:i], []byte("\n")) + 1 }
