package mcpserver

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/2coffee/mcp-2coffee/internal/authn"
	"github.com/2coffee/mcp-2coffee/internal/blog"
	"github.com/2coffee/mcp-2coffee/internal/errdefs"
)

// Tool names: the tools' own definitions (tools) use them, and so do the
// messages that point a model from one tool to another.
const (
	ToolSearch = "search_articles"
	ToolGet    = "get_article"
	ToolList   = "list_articles"
	ToolTags   = "list_tags"
	ToolCreate = "create_article"
	ToolUpdate = "update_article"
	ToolDelete = "delete_article"
	// The history: nothing a tool does is irreversible.
	ToolRestore         = "restore_article"
	ToolRevisions       = "list_revisions"
	ToolRevision        = "get_revision"
	ToolRestoreRevision = "restore_revision"
)

// SearchInput is the input of search_articles.
type SearchInput struct {
	Query    string `json:"query" jsonschema:"words to search for; \"quoted phrase\", prefix*; case and Vietnamese diacritics are ignored"`
	Tag      string `json:"tag,omitempty" jsonschema:"only articles with this tag, compared without diacritics (ca-phe finds cà phê)"`
	Language string `json:"language,omitempty" jsonschema:"only articles in this language, e.g. en or vi"`
	// IncludeDrafts mirrors list_articles: drafts stay out of results
	// unless asked for, even for a caller who may see them.
	IncludeDrafts bool   `json:"include_drafts,omitempty" jsonschema:"also search drafts (needs write permission)"`
	Limit         int    `json:"limit,omitempty" jsonschema:"results per page (1-50, default 10)"`
	Cursor        string `json:"cursor,omitempty" jsonschema:"next_cursor from the previous page"`
}

// SearchHit is one ranked result.
type SearchHit struct {
	ArticleSummary
	Score   float64 `json:"score" jsonschema:"relevance; higher is better"`
	Snippet string  `json:"snippet" jsonschema:"the matching passage, matches in **bold**"`
}

// SearchOutput is the structured result of search_articles.
type SearchOutput struct {
	Results    []SearchHit `json:"results"`
	NextCursor string      `json:"next_cursor,omitempty" jsonschema:"pass as cursor for more results; absent on the last page"`
	Relaxed    bool        `json:"relaxed,omitempty" jsonschema:"true when no article held every word and results hold any of them"`
}

// GetInput is the input of get_article.
type GetInput struct {
	Slug string `json:"slug" jsonschema:"the article's slug, from search_articles or list_articles"`
}

// ListInput is the input of list_articles.
type ListInput struct {
	Tag           string `json:"tag,omitempty" jsonschema:"only articles with this tag, compared without diacritics (ca-phe finds cà phê)"`
	Language      string `json:"language,omitempty" jsonschema:"only articles in this language, e.g. en or vi"`
	IncludeDrafts bool   `json:"include_drafts,omitempty" jsonschema:"also list drafts (needs write permission)"`
	Limit         int    `json:"limit,omitempty" jsonschema:"articles per page (1-50, default 10)"`
	Cursor        string `json:"cursor,omitempty" jsonschema:"next_cursor from the previous page"`
}

// ListOutput is the structured result of list_articles.
type ListOutput struct {
	Articles   []ArticleSummary `json:"articles"`
	NextCursor string           `json:"next_cursor,omitempty" jsonschema:"pass as cursor for the next page; absent on the last page"`
}

// TagsInput is the input of list_tags.
type TagsInput struct {
	Language      string `json:"language,omitempty" jsonschema:"count only articles in this language"`
	IncludeDrafts bool   `json:"include_drafts,omitempty" jsonschema:"also count drafts (needs write permission)"`
}

// TagsOutput is the structured result of list_tags.
type TagsOutput struct {
	Tags []blog.TagCount `json:"tags"`
}

// CreateInput is the input of create_article.
type CreateInput struct {
	Title       string   `json:"title"`
	Body        string   `json:"body" jsonschema:"the article in Markdown"`
	Slug        string   `json:"slug,omitempty" jsonschema:"lower-case words joined by hyphens; derived from the title when empty"`
	Summary     string   `json:"summary,omitempty"`
	Tags        []string `json:"tags,omitempty"`
	Language    string   `json:"language,omitempty" jsonschema:"language tag, default en"`
	Author      string   `json:"author,omitempty"`
	PublishedAt string   `json:"published_at,omitempty" jsonschema:"RFC 3339 time; default now"`
	PublishAt   string   `json:"publish_at,omitempty" jsonschema:"RFC 3339 time to publish at: a future time schedules the article, hidden from readers until then and public from that moment by itself (another name for published_at; give one)"`
	Draft       bool     `json:"draft,omitempty" jsonschema:"save as an unpublished draft"`
	// TranslationKey links the new article to its translations.
	TranslationKey string `json:"translation_key,omitempty" jsonschema:"the translation_key of the article this one translates, to link them"`
}

// UpdateInput is the input of update_article: fields left out stay as
// they are.
type UpdateInput struct {
	Slug        string    `json:"slug" jsonschema:"the article to change"`
	Title       *string   `json:"title,omitempty"`
	Body        *string   `json:"body,omitempty" jsonschema:"the new Markdown body"`
	Summary     *string   `json:"summary,omitempty"`
	Tags        *[]string `json:"tags,omitempty" jsonschema:"replaces all tags"`
	Language    *string   `json:"language,omitempty"`
	Author      *string   `json:"author,omitempty"`
	PublishedAt *string   `json:"published_at,omitempty" jsonschema:"RFC 3339 time"`
	PublishAt   *string   `json:"publish_at,omitempty" jsonschema:"RFC 3339 time to publish at: a future time schedules the article (another name for published_at; give one)"`
	Draft       *bool     `json:"draft,omitempty"`
	// TranslationKey "" unlinks the article from its translations.
	TranslationKey *string `json:"translation_key,omitempty" jsonschema:"links the article to the translations sharing this key; empty unlinks it"`
}

// DeleteOutput is the structured result of delete_article.
type DeleteOutput struct {
	Slug    string `json:"slug"`
	Deleted bool   `json:"deleted"`
	// InTrash says where it went: restore_article brings it back.
	InTrash bool `json:"in_trash" jsonschema:"true: the article is in the trash, and restore_article brings it back"`
}

// RevisionsInput is the input of list_revisions.
type RevisionsInput struct {
	Slug   string `json:"slug" jsonschema:"the article, which may be in the trash"`
	Limit  int    `json:"limit,omitempty" jsonschema:"revisions per page (1-50, default 10)"`
	Cursor string `json:"cursor,omitempty" jsonschema:"next_cursor from the previous page"`
}

// RevisionSummary is one revision in a listing.
type RevisionSummary struct {
	ID      int64    `json:"id" jsonschema:"pass as revision to get_revision or restore_revision"`
	At      string   `json:"at" jsonschema:"when, RFC 3339"`
	Actor   string   `json:"actor" jsonschema:"who: key:ID (an API key), user:NAME client:ID (a person through an app), client:ID, local (stdio), import"`
	Action  string   `json:"action" jsonschema:"created, updated, deleted or restored"`
	Changed []string `json:"changed" jsonschema:"the fields that changed from the revision before"`
}

// RevisionsOutput is the structured result of list_revisions.
type RevisionsOutput struct {
	Revisions  []RevisionSummary `json:"revisions"`
	NextCursor string            `json:"next_cursor,omitempty" jsonschema:"pass as cursor for older revisions; absent on the last page"`
}

// RevisionInput is the input of get_revision and restore_revision.
type RevisionInput struct {
	Slug     string `json:"slug" jsonschema:"the article"`
	Revision int64  `json:"revision" jsonschema:"the revision id, from list_revisions"`
}

// RevisionOutput is the structured result of get_revision.
type RevisionOutput struct {
	RevisionSummary
	Article *Article `json:"article" jsonschema:"the article as it was at this revision"`
}

// tools is the tool table: every tool the server offers, declared once
// with its definition, the scope a call needs and its handler. Everything
// else about a tool (its registration, the scope checks over HTTP and in
// the tool, read-only mode, its metrics) is derived from this entry.
func tools() []tool {
	readOnly := &mcp.ToolAnnotations{ReadOnlyHint: true, IdempotentHint: true, OpenWorldHint: ptr(false)}
	return []tool{
		newTool(&mcp.Tool{
			Name:        ToolSearch,
			Title:       "Search articles",
			Description: "Full-text search over the blog's articles, best matches first, with a snippet of each match. Ignores case and Vietnamese diacritics. Use a few distinctive words; quote phrases; end a word with * for a prefix.",
			Annotations: readOnly,
		}, authn.ScopeRead, (*handlers).search),
		newTool(&mcp.Tool{
			Name:        ToolGet,
			Title:       "Get an article",
			Description: "Returns one article with its full Markdown body, by slug.",
			Annotations: readOnly,
		}, authn.ScopeRead, (*handlers).get),
		newTool(&mcp.Tool{
			Name:        ToolList,
			Title:       "List articles",
			Description: "Lists articles newest first, optionally filtered by tag or language, one page at a time.",
			Annotations: readOnly,
		}, authn.ScopeRead, (*handlers).list),
		newTool(&mcp.Tool{
			Name:        ToolTags,
			Title:       "List tags",
			Description: "Lists every tag with the number of articles that carry it, most used first.",
			Annotations: readOnly,
		}, authn.ScopeRead, (*handlers).tags),
		newTool(&mcp.Tool{
			Name:        ToolCreate,
			Title:       "Create an article",
			Description: "Publishes a new article (or saves a draft). Needs write permission. The slug is derived from the title when not given.",
			Annotations: &mcp.ToolAnnotations{DestructiveHint: ptr(false), OpenWorldHint: ptr(false)},
		}, authn.ScopeWrite, (*handlers).create),
		newTool(&mcp.Tool{
			Name:        ToolUpdate,
			Title:       "Update an article",
			Description: "Changes the given fields of an existing article; fields left out stay as they are. Needs write permission.",
			Annotations: &mcp.ToolAnnotations{DestructiveHint: ptr(true), IdempotentHint: true, OpenWorldHint: ptr(false)},
		}, authn.ScopeWrite, (*handlers).update),
		newTool(&mcp.Tool{
			Name:        ToolDelete,
			Title:       "Delete an article",
			Description: "Moves an article to the trash: it no longer shows in reads, listings or search, and restore_article brings it back with its revisions (only the blog's owner can empty the trash). Needs write permission. Still confirm with the user before deleting.",
			Annotations: &mcp.ToolAnnotations{DestructiveHint: ptr(true), IdempotentHint: true, OpenWorldHint: ptr(false)},
		}, authn.ScopeWrite, (*handlers).delete),
		newTool(&mcp.Tool{
			Name:        ToolRestore,
			Title:       "Restore a deleted article",
			Description: "Brings an article back from the trash, as it was when deleted, with its revisions. Needs write permission.",
			Annotations: &mcp.ToolAnnotations{DestructiveHint: ptr(false), OpenWorldHint: ptr(false)},
		}, authn.ScopeWrite, (*handlers).restore),
		newTool(&mcp.Tool{
			Name:        ToolRevisions,
			Title:       "List an article's revisions",
			Description: "Lists the kept versions of an article, newest first: each create, update, delete and restore, with when, who, and which fields changed; an article in the trash too. Needs write permission (the history holds drafts and deleted text).",
			Annotations: readOnly,
		}, authn.ScopeWrite, (*handlers).revisions),
		newTool(&mcp.Tool{
			Name:        ToolRevision,
			Title:       "Get a revision",
			Description: "Returns one kept version of an article, body included, by revision id from list_revisions. Needs write permission.",
			Annotations: readOnly,
		}, authn.ScopeWrite, (*handlers).revision),
		newTool(&mcp.Tool{
			Name:        ToolRestoreRevision,
			Title:       "Restore a revision",
			Description: "Makes an article what it was at an earlier revision (from list_revisions); the restore is itself a new revision, so it can be undone too. Needs write permission. The article must not be in the trash (restore_article first).",
			Annotations: &mcp.ToolAnnotations{DestructiveHint: ptr(true), IdempotentHint: true, OpenWorldHint: ptr(false)},
		}, authn.ScopeWrite, (*handlers).restoreRevision),
	}
}

func (h *handlers) search(ctx context.Context, in SearchInput) (string, SearchOutput, error) {
	if err := h.draftsAllowed(ctx, in.IncludeDrafts); err != nil {
		return "", SearchOutput{}, err
	}
	page, err := h.articles.Search(ctx, blog.SearchOptions{
		Query: in.Query, Tag: in.Tag, Language: in.Language,
		IncludeDrafts: in.IncludeDrafts, Limit: in.Limit, Cursor: in.Cursor,
	})
	if err != nil {
		return "", SearchOutput{}, err
	}
	out := SearchOutput{Results: []SearchHit{}, NextCursor: page.NextCursor, Relaxed: page.Relaxed}
	var b strings.Builder
	switch {
	case len(page.Hits) == 0 && in.Cursor == "":
		fmt.Fprintf(&b, "No articles match %q. Try fewer or different words, or list_tags to see the topics covered.", in.Query)
	case len(page.Hits) == 0:
		b.WriteString("No more results.")
	case page.Relaxed:
		fmt.Fprintf(&b, "No article holds every word of %q; these hold some of them:\n", in.Query)
	default:
		fmt.Fprintf(&b, "Articles matching %q, best first:\n", in.Query)
	}
	for i, hit := range page.Hits {
		out.Results = append(out.Results, SearchHit{ArticleSummary: toSummary(hit.Article), Score: hit.Score, Snippet: hit.Snippet})
		a := hit.Article
		fmt.Fprintf(&b, "\n%d. %s (slug: %s, %s, %s)\n   %s\n", i+1, a.Title, a.Slug, a.Language, a.PublishedAt.UTC().Format("2006-01-02"), hit.Snippet)
	}
	if page.NextCursor != "" {
		fmt.Fprintf(&b, "\nMore results: call %s again with cursor %q.", ToolSearch, page.NextCursor)
	}
	return b.String(), out, nil
}

// draftsAllowed refuses include_drafts to callers who may not see drafts.
func (h *handlers) draftsAllowed(ctx context.Context, include bool) error {
	if include && !h.canWrite(ctx) {
		return fmt.Errorf("include_drafts needs the %s scope: %w", authn.ScopeWrite, errdefs.ErrForbidden)
	}
	return nil
}

// visible fetches an article the caller may see: drafts only for callers
// who may write.
func (h *handlers) visible(ctx context.Context, slug string) (*blog.Article, error) {
	a, err := h.articles.Get(ctx, slug)
	if err != nil {
		return nil, err
	}
	if !a.Public(time.Now()) && !h.canWrite(ctx) {
		return nil, fmt.Errorf("article %q: %w", slug, errdefs.ErrNotFound)
	}
	return a, nil
}

func (h *handlers) get(ctx context.Context, in GetInput) (string, *Article, error) {
	a, err := h.visible(ctx, in.Slug)
	if err != nil {
		return "", nil, err
	}
	return markdown(a), toArticle(a), nil
}

func (h *handlers) list(ctx context.Context, in ListInput) (string, ListOutput, error) {
	if err := h.draftsAllowed(ctx, in.IncludeDrafts); err != nil {
		return "", ListOutput{}, err
	}
	page, err := h.articles.List(ctx, blog.ListOptions{
		Tag: in.Tag, Language: in.Language, IncludeDrafts: in.IncludeDrafts,
		Limit: in.Limit, Cursor: in.Cursor,
	})
	if err != nil {
		return "", ListOutput{}, err
	}
	out := ListOutput{Articles: []ArticleSummary{}, NextCursor: page.NextCursor}
	var b strings.Builder
	if len(page.Articles) == 0 {
		b.WriteString("No articles.")
	}
	for i, a := range page.Articles {
		out.Articles = append(out.Articles, toSummary(a))
		draft := ""
		if a.Draft {
			draft = ", draft"
		}
		fmt.Fprintf(&b, "%d. %s (slug: %s, %s, %s%s) [%s]\n", i+1, a.Title, a.Slug, a.Language,
			a.PublishedAt.UTC().Format("2006-01-02"), draft, strings.Join(a.Tags, ", "))
	}
	if page.NextCursor != "" {
		fmt.Fprintf(&b, "\nMore articles: call %s again with cursor %q.", ToolList, page.NextCursor)
	}
	return b.String(), out, nil
}

func (h *handlers) tags(ctx context.Context, in TagsInput) (string, TagsOutput, error) {
	if err := h.draftsAllowed(ctx, in.IncludeDrafts); err != nil {
		return "", TagsOutput{}, err
	}
	tags, err := h.articles.Tags(ctx, blog.TagOptions{Language: in.Language, IncludeDrafts: in.IncludeDrafts})
	if err != nil {
		return "", TagsOutput{}, err
	}
	if tags == nil {
		tags = []blog.TagCount{}
	}
	parts := make([]string, len(tags))
	for i, t := range tags {
		parts[i] = fmt.Sprintf("%s (%d)", t.Tag, t.Count)
	}
	msg := "No tags yet."
	if len(parts) > 0 {
		msg = "Tags, most used first: " + strings.Join(parts, ", ")
	}
	return msg, TagsOutput{Tags: tags}, nil
}

// publication picks the one publication time given, published_at or its
// other name publish_at, and says which it was.
func publication(publishedAt, publishAt string) (string, string, error) {
	switch {
	case publishedAt != "" && publishAt != "":
		return "", "", errdefs.Invalid("publish_at", "give publish_at or published_at, not both: they are one time")
	case publishAt != "":
		return publishAt, "publish_at", nil
	}
	return publishedAt, "published_at", nil
}

// scheduledNote tells a model that the article it wrote is not public yet.
func scheduledNote(a *blog.Article) string {
	if a.State(time.Now()) == "scheduled" {
		return "; it is scheduled: readers see it from " + rfc3339(a.PublishedAt)
	}
	return ""
}

// parseTime reads an RFC 3339 time from a tool argument.
func parseTime(field, s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339, strings.TrimSpace(s))
	if err != nil {
		return time.Time{}, errdefs.Invalid(field, "%q is not an RFC 3339 time such as 2025-01-31T09:00:00Z", s)
	}
	return t, nil
}

func (h *handlers) create(ctx context.Context, in CreateInput) (string, *Article, error) {
	a := &blog.Article{
		Slug: in.Slug, Title: in.Title, Summary: in.Summary, Body: in.Body, Tags: in.Tags,
		Language: in.Language, Author: in.Author, Draft: in.Draft, TranslationKey: in.TranslationKey,
	}
	when, field, err := publication(in.PublishedAt, in.PublishAt)
	if err != nil {
		return "", nil, err
	}
	if when != "" {
		t, err := parseTime(field, when)
		if err != nil {
			return "", nil, err
		}
		a.PublishedAt = t
	}
	got, err := h.articles.Create(ctx, a)
	if err != nil {
		return "", nil, err
	}
	return fmt.Sprintf("Created %q with slug %s (%s)%s.", got.Title, got.Slug, ResourceURI(got.Slug), scheduledNote(got)), toArticle(got), nil
}

func (h *handlers) update(ctx context.Context, in UpdateInput) (string, *Article, error) {
	p := blog.Patch{
		Title: in.Title, Summary: in.Summary, Body: in.Body, Tags: in.Tags,
		Language: in.Language, Author: in.Author, Draft: in.Draft, TranslationKey: in.TranslationKey,
	}
	if in.PublishedAt != nil && in.PublishAt != nil {
		return "", nil, errdefs.Invalid("publish_at", "give publish_at or published_at, not both: they are one time")
	}
	if w, field := in.PublishedAt, "published_at"; w != nil || in.PublishAt != nil {
		if w == nil {
			w, field = in.PublishAt, "publish_at"
		}
		t, err := parseTime(field, *w)
		if err != nil {
			return "", nil, err
		}
		p.PublishedAt = &t
	}
	got, err := h.articles.Update(ctx, in.Slug, p)
	if err != nil {
		return "", nil, err
	}
	return fmt.Sprintf("Updated %q (slug %s)%s.", got.Title, got.Slug, scheduledNote(got)), toArticle(got), nil
}

func (h *handlers) delete(ctx context.Context, in GetInput) (string, DeleteOutput, error) {
	if err := h.articles.Delete(ctx, in.Slug); err != nil {
		return "", DeleteOutput{}, err
	}
	return fmt.Sprintf("Moved the article %s to the trash; %s brings it back.", in.Slug, ToolRestore), DeleteOutput{Slug: in.Slug, Deleted: true, InTrash: true}, nil
}

func (h *handlers) restore(ctx context.Context, in GetInput) (string, *Article, error) {
	a, err := h.articles.Restore(ctx, in.Slug)
	if err != nil {
		return "", nil, err
	}
	return fmt.Sprintf("Restored %q (slug %s) from the trash.", a.Title, a.Slug), toArticle(a), nil
}

func toRevisionSummary(r *blog.Revision) RevisionSummary {
	return RevisionSummary{ID: r.ID, At: rfc3339(r.At), Actor: r.Actor, Action: r.Action, Changed: nonNil(r.Changed)}
}

func (h *handlers) revisions(ctx context.Context, in RevisionsInput) (string, RevisionsOutput, error) {
	page, err := h.articles.Revisions(ctx, in.Slug, in.Limit, in.Cursor)
	if err != nil {
		return "", RevisionsOutput{}, err
	}
	out := RevisionsOutput{Revisions: []RevisionSummary{}, NextCursor: page.NextCursor}
	var b strings.Builder
	fmt.Fprintf(&b, "Revisions of %s, newest first:\n", in.Slug)
	for _, r := range page.Revisions {
		s := toRevisionSummary(r)
		out.Revisions = append(out.Revisions, s)
		changed := ""
		if len(s.Changed) > 0 {
			changed = " (" + strings.Join(s.Changed, ", ") + ")"
		}
		fmt.Fprintf(&b, "- revision %d: %s %s by %s%s\n", r.ID, r.Action, s.At, r.Actor, changed)
	}
	if page.NextCursor != "" {
		fmt.Fprintf(&b, "\nOlder revisions: call %s again with cursor %q.", ToolRevisions, page.NextCursor)
	}
	return b.String(), out, nil
}

func (h *handlers) revision(ctx context.Context, in RevisionInput) (string, *RevisionOutput, error) {
	r, err := h.articles.Revision(ctx, in.Slug, in.Revision)
	if err != nil {
		return "", nil, err
	}
	msg := fmt.Sprintf("Revision %d of %s (%s %s by %s):\n\n%s", r.ID, r.Slug, r.Action, rfc3339(r.At), r.Actor, markdown(r.Article))
	return msg, &RevisionOutput{RevisionSummary: toRevisionSummary(r), Article: toArticle(r.Article)}, nil
}

func (h *handlers) restoreRevision(ctx context.Context, in RevisionInput) (string, *Article, error) {
	a, err := h.articles.RestoreRevision(ctx, in.Slug, in.Revision)
	if err != nil {
		return "", nil, err
	}
	return fmt.Sprintf("Restored %s to revision %d; this restore is a new revision.", a.Slug, in.Revision), toArticle(a), nil
}
