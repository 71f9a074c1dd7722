package blog

import (
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/2coffee/mcp-2coffee/internal/errdefs"
)

// Limits on what an article and a query may hold. They live here, in one
// place, so the MCP tools, the REST API, the importer and every store agree.
const (
	MaxSlugLen    = 100
	MaxTitleLen   = 200     // characters
	MaxSummaryLen = 1000    // characters
	MaxBodyBytes  = 1 << 20 // 1 MiB of Markdown
	// MaxRequestBytes is the default bound on a request body at every
	// edge (the HTTP server, the MCP scope check, the REST API): an
	// article holds up to MaxBodyBytes of Markdown, and JSON escaping of
	// quotes, backslashes and newlines can double it.
	MaxRequestBytes = 3 << 20
	MaxTags         = 20
	MaxTagLen       = 40
	MaxAuthorLen    = 100
	MaxQueryLen     = 256 // characters of a search query
	MaxQueryTerms   = 16  // words kept from a search query
	DefaultPage     = 10
	MaxPage         = 50
	MaxLanguageLen  = 35 // BCP 47 tags are short; this is generous
	// MaxTranslationKeyLen bounds a translation key (Hugo's
	// translationKey; the importer derives one from a path).
	MaxTranslationKeyLen = 200 // characters
)

// Article is one blog post. Body is Markdown. Times are UTC.
type Article struct {
	Slug        string    `json:"slug"`
	Title       string    `json:"title"`
	Summary     string    `json:"summary,omitempty"`
	Body        string    `json:"body"`
	Tags        []string  `json:"tags"`
	Language    string    `json:"language"`
	Author      string    `json:"author,omitempty"`
	PublishedAt time.Time `json:"published_at"`
	UpdatedAt   time.Time `json:"updated_at"`
	Draft       bool      `json:"draft"`
	// TranslationKey is shared by the articles that are one text in
	// several languages (Hugo's translationKey); empty for an article
	// with no translations.
	TranslationKey string `json:"translation_key,omitempty"`
}

// Public reports whether everyone may see the article at now: it is not a
// draft, and its publication time has come. An article published in the
// future is scheduled: it appears by itself at that moment, with no job
// to run, because every read judges it at its own now.
func (a *Article) Public(now time.Time) bool {
	return !a.Draft && !a.PublishedAt.After(now)
}

// State is "draft", "scheduled" (published after now) or "published".
func (a *Article) State(now time.Time) string {
	switch {
	case a.Draft:
		return "draft"
	case a.PublishedAt.After(now):
		return "scheduled"
	}
	return "published"
}

// The patterns are compiled on first use rather than at start: a process
// may answer its first request before it validates any article.
var (
	slugRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z0-9]+(?:-[a-z0-9]+)*$`) })
	langRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z]{2,3}(?:-[A-Za-z0-9]{2,8})*$`) })
)

// ValidateSlug reports whether s is a well-formed slug: lower-case ASCII
// letters and digits in groups joined by single hyphens.
func ValidateSlug(s string) error {
	switch {
	case s == "":
		return errdefs.Invalid("slug", "must not be empty")
	case len(s) > MaxSlugLen:
		return errdefs.Invalid("slug", "is longer than %d characters", MaxSlugLen)
	case !slugRE().MatchString(s):
		return errdefs.Invalid("slug", "%q must be lower-case letters, digits and single hyphens (like %q)", s, "my-first-post")
	}
	return nil
}

// Normalize trims and canonicalises the fields of a in place: tags are
// lower-cased, trimmed, de-duplicated and sorted; the language defaults to
// "en"; times are UTC and truncated to seconds.
func (a *Article) Normalize() {
	a.Body = NormalizeBody(a.Body)
	a.Slug = strings.TrimSpace(a.Slug)
	a.Title = strings.TrimSpace(a.Title)
	a.Summary = strings.TrimSpace(a.Summary)
	a.Author = strings.TrimSpace(a.Author)
	a.TranslationKey = strings.TrimSpace(a.TranslationKey)
	a.Language = NormalizeLanguage(a.Language)
	a.Tags = NormalizeTags(a.Tags)
	a.PublishedAt = a.PublishedAt.UTC().Truncate(time.Second)
	a.UpdatedAt = a.UpdatedAt.UTC().Truncate(time.Second)
}

// NormalizeBody is how every body is stored, whoever writes it (a tool,
// the API, the importer): LF line ends, no blank lines before the text and
// no white space after it; the indentation of its first line is kept (an
// indented code block). A file's body and a tool's are then the same
// text, so an export imports unchanged.
func NormalizeBody(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.TrimRight(s, " \t\r\n")
	for {
		line, rest, found := strings.Cut(s, "\n")
		if !found || strings.TrimSpace(line) != "" {
			break
		}
		s = rest
	}
	if strings.TrimSpace(s) == "" {
		return ""
	}
	return s
}

// NormalizeTags lower-cases, trims, de-duplicates and sorts tags, dropping
// empty ones. Inner spaces become hyphens so "Machine Learning" and
// "machine-learning" are one tag.
func NormalizeTags(tags []string) []string {
	out := make([]string, 0, len(tags))
	for _, t := range tags {
		if !utf8.ValidString(t) {
			out = append(out, t) // left as is, for Validate to refuse
			continue
		}
		t = strings.ToLower(strings.TrimSpace(t))
		t = strings.Join(strings.Fields(t), "-")
		if t != "" {
			out = append(out, t)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// TagKey is the form in which tags are compared when filtering: the
// normalised tag (see NormalizeTags), folded like search text (Fold), so
// "ca-phe", "cà phê" and "Cà-Phê" all find an article tagged "cà phê".
// Tags are stored and shown as written; every backend filters on this key.
func TagKey(tag string) string {
	ts := NormalizeTags([]string{tag})
	if len(ts) == 0 {
		return ""
	}
	return Fold(ts[0])
}

// NormalizeLanguage canonicalises a language tag the way people and tools
// write it: "EN" is "en", "vi_VN" (a POSIX locale) is "vi-VN". Empty means
// "en".
func NormalizeLanguage(s string) string {
	s = strings.ReplaceAll(strings.TrimSpace(s), "_", "-")
	if s == "" {
		return "en"
	}
	primary, rest, found := strings.Cut(s, "-")
	primary = strings.ToLower(primary)
	if !found {
		return primary
	}
	parts := strings.Split(rest, "-")
	for i, p := range parts {
		if len(p) == 2 { // a region: upper case by convention
			parts[i] = strings.ToUpper(p)
		}
	}
	return primary + "-" + strings.Join(parts, "-")
}

// Validate checks every rule an article must obey before it is stored. It
// expects a normalised article (see Normalize).
func (a *Article) Validate() error {
	if err := ValidateSlug(a.Slug); err != nil {
		return err
	}
	if a.Title == "" {
		return errdefs.Invalid("title", "must not be empty")
	}
	if n := utf8.RuneCountInString(a.Title); n > MaxTitleLen {
		return errdefs.Invalid("title", "has %d characters; the limit is %d", n, MaxTitleLen)
	}
	if n := utf8.RuneCountInString(a.Summary); n > MaxSummaryLen {
		return errdefs.Invalid("summary", "has %d characters; the limit is %d", n, MaxSummaryLen)
	}
	if len(a.Body) > MaxBodyBytes {
		return errdefs.Invalid("body", "is %d bytes; the limit is %d", len(a.Body), MaxBodyBytes)
	}
	for _, f := range []struct{ name, text string }{{"title", a.Title}, {"summary", a.Summary}, {"body", a.Body}, {"author", a.Author}, {"translation_key", a.TranslationKey}} {
		if !utf8.ValidString(f.text) {
			return errdefs.Invalid(f.name, "is not valid UTF-8")
		}
		if strings.ContainsRune(f.text, 0) {
			return errdefs.Invalid(f.name, "contains a NUL character")
		}
	}
	if utf8.RuneCountInString(a.Author) > MaxAuthorLen {
		return errdefs.Invalid("author", "is longer than %d characters", MaxAuthorLen)
	}
	if n := utf8.RuneCountInString(a.TranslationKey); n > MaxTranslationKeyLen {
		return errdefs.Invalid("translation_key", "has %d characters; the limit is %d", n, MaxTranslationKeyLen)
	}
	if len(a.Tags) > MaxTags {
		return errdefs.Invalid("tags", "has %d tags; the limit is %d", len(a.Tags), MaxTags)
	}
	for _, t := range a.Tags {
		if utf8.RuneCountInString(t) > MaxTagLen {
			return errdefs.Invalid("tags", "tag %q is longer than %d characters", t, MaxTagLen)
		}
		if !utf8.ValidString(t) || strings.ContainsAny(t, ",\x00") {
			return errdefs.Invalid("tags", "tag %q contains a comma or invalid text", t)
		}
	}
	if len(a.Language) > MaxLanguageLen || !langRE().MatchString(a.Language) {
		return errdefs.Invalid("language", "%q is not a language tag such as \"en\" or \"vi\"", a.Language)
	}
	if a.PublishedAt.IsZero() {
		return errdefs.Invalid("published_at", "must be set")
	}
	return nil
}

// Clone returns a deep copy of a.
func (a *Article) Clone() *Article {
	c := *a
	c.Tags = slices.Clone(a.Tags)
	return &c
}
