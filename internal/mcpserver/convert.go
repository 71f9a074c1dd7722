package mcpserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/2coffee/mcp-2coffee/internal/blog"
	"github.com/2coffee/mcp-2coffee/internal/errdefs"
)

// ResourceURI is the URI of an article as an MCP resource.
func ResourceURI(slug string) string { return uriPrefix + slug }

const (
	uriPrefix   = "blog://articles/"
	uriTemplate = "blog://articles/{slug}"
)

// ArticleSummary is an article without its body, as listings return it.
type ArticleSummary struct {
	Slug        string   `json:"slug" jsonschema:"the article's unique id; pass it to get_article"`
	Title       string   `json:"title"`
	Summary     string   `json:"summary,omitempty"`
	Tags        []string `json:"tags"`
	Language    string   `json:"language" jsonschema:"language tag such as en or vi"`
	Author      string   `json:"author,omitempty"`
	PublishedAt string   `json:"published_at" jsonschema:"publication time (RFC 3339)"`
	UpdatedAt   string   `json:"updated_at" jsonschema:"last change (RFC 3339)"`
	Draft       bool     `json:"draft,omitempty" jsonschema:"true for an unpublished draft"`
	State       string   `json:"state" jsonschema:"published; scheduled (it appears by itself at published_at); or draft"`
	URI         string   `json:"uri" jsonschema:"the article as a resource (resources/read)"`
}

// Article is a whole article with its Markdown body.
type Article struct {
	Slug        string   `json:"slug"`
	Title       string   `json:"title"`
	Summary     string   `json:"summary,omitempty"`
	Tags        []string `json:"tags"`
	Language    string   `json:"language"`
	Author      string   `json:"author,omitempty"`
	PublishedAt string   `json:"published_at" jsonschema:"publication time (RFC 3339)"`
	UpdatedAt   string   `json:"updated_at" jsonschema:"last change (RFC 3339)"`
	Draft       bool     `json:"draft,omitempty"`
	State       string   `json:"state" jsonschema:"published; scheduled (it appears by itself at published_at); or draft"`
	URI         string   `json:"uri"`
	Body        string   `json:"body" jsonschema:"the article in Markdown"`
	// TranslationKey links an article to its translations.
	TranslationKey string `json:"translation_key,omitempty" jsonschema:"shared by the articles that are this text in other languages (Hugo's translationKey); absent when it has none"`
}

func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func nonNil(tags []string) []string {
	if tags == nil {
		return []string{}
	}
	return tags
}

func toSummary(a *blog.Article) ArticleSummary {
	return ArticleSummary{
		Slug: a.Slug, Title: a.Title, Summary: a.Summary, Tags: nonNil(a.Tags),
		Language: a.Language, Author: a.Author,
		PublishedAt: rfc3339(a.PublishedAt), UpdatedAt: rfc3339(a.UpdatedAt),
		Draft: a.Draft, State: a.State(time.Now()), URI: ResourceURI(a.Slug),
	}
}

func toArticle(a *blog.Article) *Article {
	return &Article{
		Slug: a.Slug, Title: a.Title, Summary: a.Summary, Tags: nonNil(a.Tags),
		Language: a.Language, Author: a.Author,
		PublishedAt: rfc3339(a.PublishedAt), UpdatedAt: rfc3339(a.UpdatedAt),
		Draft: a.Draft, State: a.State(time.Now()), URI: ResourceURI(a.Slug), Body: a.Body,
		TranslationKey: a.TranslationKey,
	}
}

// markdown renders an article as one Markdown document with a small header,
// the form both get_article's text block and the resource use.
func markdown(a *blog.Article) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n\n", a.Title)
	fmt.Fprintf(&b, "- slug: %s\n- published: %s\n", a.Slug, a.PublishedAt.UTC().Format("2006-01-02"))
	if !a.UpdatedAt.IsZero() && !a.UpdatedAt.Equal(a.PublishedAt) {
		fmt.Fprintf(&b, "- updated: %s\n", a.UpdatedAt.UTC().Format("2006-01-02"))
	}
	if a.Author != "" {
		fmt.Fprintf(&b, "- author: %s\n", a.Author)
	}
	fmt.Fprintf(&b, "- language: %s\n", a.Language)
	if len(a.Tags) > 0 {
		fmt.Fprintf(&b, "- tags: %s\n", strings.Join(a.Tags, ", "))
	}
	if a.Draft {
		b.WriteString("- status: draft (not published)\n")
	}
	if a.Summary != "" {
		fmt.Fprintf(&b, "\n> %s\n", a.Summary)
	}
	b.WriteString("\n")
	b.WriteString(a.Body)
	b.WriteString("\n")
	return b.String()
}

// toolError turns an error from the blog into the message a model sees in
// a tool result with isError set. Errors caused by the caller keep their
// text so the model can correct itself; unexpected ones are logged and
// replaced by a generic message that leaks nothing.
func (h *handlers) toolError(ctx context.Context, tool string, err error) error {
	switch {
	case errors.Is(err, errdefs.ErrNotFound):
		h.record(tool, "user_error")
		return fmt.Errorf("%w. Use search_articles or list_articles to find existing slugs", err)
	case errors.Is(err, errdefs.ErrInvalid), errors.Is(err, errdefs.ErrConflict), errors.Is(err, errdefs.ErrForbidden),
		errors.Is(err, errdefs.ErrUnauthenticated):
		h.record(tool, "user_error")
		return err
	case errors.Is(err, errdefs.ErrUnavailable):
		h.record(tool, "unavailable")
		return fmt.Errorf("the blog is unavailable right now, try again later: %w", err)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		h.record(tool, "cancelled")
		return fmt.Errorf("the request was cancelled or timed out")
	}
	h.record(tool, "error")
	h.opts.Logger.ErrorContext(ctx, "tool failed", slog.String("tool", tool), slog.Any("err", err))
	return fmt.Errorf("internal error while running %s; the server log has details", tool)
}

func (h *handlers) record(tool, outcome string) {
	if h.opts.OnToolCall != nil {
		h.opts.OnToolCall(tool, outcome)
	}
}
