package restapi

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/2coffee/mcp-2coffee/internal/authn"
	"github.com/2coffee/mcp-2coffee/internal/blog"
	"github.com/2coffee/mcp-2coffee/internal/errdefs"
)

// The response bodies that are not a blog type as they are. blog's page
// types carry no JSON names, and their wire form is this API's contract,
// so it is spelled out here.
type (
	listResponse struct {
		Articles   []articleSummary `json:"articles"`
		NextCursor string           `json:"next_cursor,omitempty"`
	}
	searchHit struct {
		Article articleSummary `json:"article"`
		Score   float64        `json:"score"`
		Snippet string         `json:"snippet"`
	}
	searchResponse struct {
		Hits       []searchHit `json:"hits"`
		NextCursor string      `json:"next_cursor,omitempty"`
		Relaxed    bool        `json:"relaxed"`
	}
	tagsResponse struct {
		Tags []blog.TagCount `json:"tags"`
	}
)

// articleSummary is an article as listings and searches send it: every
// member of blog.Article, under the same names, but body. A page of up to
// blog.MaxPage articles of up to blog.MaxBodyBytes each would be too big
// to send or to hold; a caller reads the bodies it wants one article at a
// time. Keep the members in step with blog.Article's (a test compares the
// two).
type articleSummary struct {
	Slug        string    `json:"slug"`
	Title       string    `json:"title"`
	Summary     string    `json:"summary,omitempty"`
	Tags        []string  `json:"tags"`
	Language    string    `json:"language"`
	Author      string    `json:"author,omitempty"`
	PublishedAt time.Time `json:"published_at"`
	UpdatedAt   time.Time `json:"updated_at"`
	Draft       bool      `json:"draft"`
	// TranslationKey is blog.Article's.
	TranslationKey string `json:"translation_key,omitempty"`
	// State is blog.Article.State: published, scheduled or draft.
	State string `json:"state"`
}

func summarize(a *blog.Article) articleSummary {
	a = tagsArray(a)
	return articleSummary{
		Slug: a.Slug, Title: a.Title, Summary: a.Summary, Tags: a.Tags,
		Language: a.Language, Author: a.Author,
		PublishedAt: a.PublishedAt, UpdatedAt: a.UpdatedAt, Draft: a.Draft,
		TranslationKey: a.TranslationKey, State: a.State(time.Now()),
	}
}

// articleOut is a whole article as the API sends it: blog.Article's
// members and its state.
type articleOut struct {
	*blog.Article
	State string `json:"state"`
}

func notFoundSlug(slug string) messages {
	return messages{notFound: fmt.Sprintf("no article with slug %q", slug)}
}

// tagsArray fills in the empty slices JSON would otherwise render as
// null, so clients can rely on "tags" always being an array.
func tagsArray(a *blog.Article) *blog.Article {
	if a != nil && a.Tags == nil {
		a.Tags = []string{}
	}
	return a
}

// wire is a as the API sends it: tags an array, and its state
// (published, scheduled or draft) judged now.
func wire(a *blog.Article) articleOut {
	return articleOut{Article: tagsArray(a), State: a.State(time.Now())}
}

func (h *handler) list(w http.ResponseWriter, r *http.Request) {
	if !require(w, r, authn.ScopeRead) {
		return
	}
	v, ok := params(w, r, "tag", "language", "limit", "cursor", "include_drafts")
	if !ok {
		return
	}
	opts := blog.ListOptions{Tag: v.Get("tag"), Language: v.Get("language"), Cursor: v.Get("cursor")}
	if opts.Limit, ok = intParam(w, v, "limit"); !ok {
		return
	}
	if opts.IncludeDrafts, ok = boolParam(w, v, "include_drafts"); !ok {
		return
	}
	// Asking is not enough: drafts are for those who may write.
	opts.IncludeDrafts = opts.IncludeDrafts && canWrite(r)

	page, err := h.articles.List(r.Context(), opts)
	if err != nil {
		h.fail(w, r, err, messages{})
		return
	}
	resp := listResponse{Articles: make([]articleSummary, 0, len(page.Articles)), NextCursor: page.NextCursor}
	for _, a := range page.Articles {
		resp.Articles = append(resp.Articles, summarize(a))
	}
	h.writeJSON(w, r, http.StatusOK, resp)
}

func (h *handler) get(w http.ResponseWriter, r *http.Request) {
	if !require(w, r, authn.ScopeRead) {
		return
	}
	if _, ok := params(w, r); !ok {
		return
	}
	slug := r.PathValue("slug")
	a, err := h.articles.Get(r.Context(), slug)
	if err == nil && !a.Public(time.Now()) && !canWrite(r) {
		// The same answer as for a missing article, so a reader cannot
		// even learn that a draft exists.
		err = errdefs.ErrNotFound
	}
	if err != nil {
		h.fail(w, r, err, notFoundSlug(slug))
		return
	}
	h.writeJSON(w, r, http.StatusOK, wire(a))
}

func (h *handler) search(w http.ResponseWriter, r *http.Request) {
	if !require(w, r, authn.ScopeRead) {
		return
	}
	v, ok := params(w, r, "q", "tag", "language", "limit", "cursor", "include_drafts")
	if !ok {
		return
	}
	opts := blog.SearchOptions{Query: v.Get("q"), Tag: v.Get("tag"), Language: v.Get("language"), Cursor: v.Get("cursor")}
	if strings.TrimSpace(opts.Query) == "" {
		invalid(w, "q", "is required: the words to search for")
		return
	}
	if opts.Limit, ok = intParam(w, v, "limit"); !ok {
		return
	}
	if opts.IncludeDrafts, ok = boolParam(w, v, "include_drafts"); !ok {
		return
	}
	opts.IncludeDrafts = opts.IncludeDrafts && canWrite(r)

	page, err := h.articles.Search(r.Context(), opts)
	if err != nil {
		h.fail(w, r, err, messages{})
		return
	}
	resp := searchResponse{Hits: make([]searchHit, 0, len(page.Hits)), NextCursor: page.NextCursor, Relaxed: page.Relaxed}
	for _, hit := range page.Hits {
		resp.Hits = append(resp.Hits, searchHit{Article: summarize(hit.Article), Score: hit.Score, Snippet: hit.Snippet})
	}
	h.writeJSON(w, r, http.StatusOK, resp)
}

func (h *handler) tags(w http.ResponseWriter, r *http.Request) {
	if !require(w, r, authn.ScopeRead) {
		return
	}
	v, ok := params(w, r, "language", "include_drafts")
	if !ok {
		return
	}
	opts := blog.TagOptions{Language: v.Get("language")}
	if opts.IncludeDrafts, ok = boolParam(w, v, "include_drafts"); !ok {
		return
	}
	opts.IncludeDrafts = opts.IncludeDrafts && canWrite(r)

	tags, err := h.articles.Tags(r.Context(), opts)
	if err != nil {
		h.fail(w, r, err, messages{})
		return
	}
	if tags == nil {
		tags = []blog.TagCount{}
	}
	h.writeJSON(w, r, http.StatusOK, tagsResponse{Tags: tags})
}

func (h *handler) create(w http.ResponseWriter, r *http.Request) {
	if !require(w, r, authn.ScopeWrite) {
		return
	}
	if _, ok := params(w, r); !ok {
		return
	}
	if !contentType(w, r, "application/json") {
		return
	}
	body, ok := h.readBody(w, r)
	if !ok {
		return
	}
	var a blog.Article
	if err := decodeStrict(body, &a); err != nil {
		h.fail(w, r, err, messages{})
		return
	}
	// The slug the service will use, for a conflict message that says
	// which slug is taken: the given one, or one derived from the title.
	slug := strings.TrimSpace(a.Slug)
	if slug == "" {
		slug = blog.Slugify(a.Title)
	}
	created, err := h.articles.Create(r.Context(), &a)
	if err != nil {
		h.fail(w, r, err, messages{conflict: fmt.Sprintf("an article with slug %q already exists", slug)})
		return
	}
	w.Header().Set("Location", Prefix+"/articles/"+url.PathEscape(created.Slug))
	h.writeJSON(w, r, http.StatusCreated, wire(created))
}

func (h *handler) update(w http.ResponseWriter, r *http.Request) {
	if !require(w, r, authn.ScopeWrite) {
		return
	}
	if _, ok := params(w, r); !ok {
		return
	}
	if !contentType(w, r, "application/merge-patch+json", "application/json") {
		return
	}
	body, ok := h.readBody(w, r)
	if !ok {
		return
	}
	p, err := decodePatch(body)
	if err != nil {
		h.fail(w, r, err, messages{})
		return
	}
	slug := r.PathValue("slug")
	a, err := h.articles.Update(r.Context(), slug, p)
	if err != nil {
		h.fail(w, r, err, notFoundSlug(slug))
		return
	}
	h.writeJSON(w, r, http.StatusOK, wire(a))
}

func (h *handler) delete(w http.ResponseWriter, r *http.Request) {
	if !require(w, r, authn.ScopeWrite) {
		return
	}
	if _, ok := params(w, r); !ok {
		return
	}
	slug := r.PathValue("slug")
	if err := h.articles.Delete(r.Context(), slug); err != nil {
		h.fail(w, r, err, notFoundSlug(slug))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// restore is POST /articles/{slug}/restore: the trashed article back.
func (h *handler) restore(w http.ResponseWriter, r *http.Request) {
	if !require(w, r, authn.ScopeWrite) {
		return
	}
	if _, ok := params(w, r); !ok {
		return
	}
	slug := r.PathValue("slug")
	a, err := h.articles.Restore(r.Context(), slug)
	if err != nil {
		h.fail(w, r, err, messages{notFound: fmt.Sprintf("no article %q in the trash", slug),
			conflict: fmt.Sprintf("another article now has the slug %q", slug)})
		return
	}
	h.writeJSON(w, r, http.StatusOK, wire(a))
}

type revisionsResponse struct {
	Revisions  []*blog.Revision `json:"revisions"`
	NextCursor string           `json:"next_cursor,omitempty"`
}

// revisions is GET /articles/{slug}/revisions: newest first, paged.
func (h *handler) revisions(w http.ResponseWriter, r *http.Request) {
	if !require(w, r, authn.ScopeWrite) {
		return
	}
	v, ok := params(w, r, "limit", "cursor")
	if !ok {
		return
	}
	limit, ok := intParam(w, v, "limit")
	if !ok {
		return
	}
	slug := r.PathValue("slug")
	nf := messages{notFound: fmt.Sprintf("no revisions of an article with slug %q", slug)}
	page, err := h.articles.Revisions(r.Context(), slug, limit, v.Get("cursor"))
	if err != nil {
		h.fail(w, r, err, nf)
		return
	}
	h.writeJSON(w, r, http.StatusOK, revisionsResponse{Revisions: page.Revisions, NextCursor: page.NextCursor})
}

// revisionID reads the {id} of a revision path.
func revisionID(w http.ResponseWriter, r *http.Request) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		invalid(w, "id", "must be a revision id (a positive number from the list of revisions)")
		return 0, false
	}
	return id, true
}

// revision is GET /articles/{slug}/revisions/{id}: that version whole.
func (h *handler) revision(w http.ResponseWriter, r *http.Request) {
	if !require(w, r, authn.ScopeWrite) {
		return
	}
	if _, ok := params(w, r); !ok {
		return
	}
	id, ok := revisionID(w, r)
	if !ok {
		return
	}
	slug := r.PathValue("slug")
	nf := messages{notFound: fmt.Sprintf("no revision %d of an article with slug %q", id, slug)}
	rev, err := h.articles.Revision(r.Context(), slug, id)
	if err != nil {
		h.fail(w, r, err, nf)
		return
	}
	tagsArray(rev.Article)
	h.writeJSON(w, r, http.StatusOK, rev)
}

// restoreRevision is POST /articles/{slug}/revisions/{id}/restore: the
// article as it was then, itself a new revision.
func (h *handler) restoreRevision(w http.ResponseWriter, r *http.Request) {
	if !require(w, r, authn.ScopeWrite) {
		return
	}
	if _, ok := params(w, r); !ok {
		return
	}
	id, ok := revisionID(w, r)
	if !ok {
		return
	}
	slug := r.PathValue("slug")
	a, err := h.articles.RestoreRevision(r.Context(), slug, id)
	if err != nil {
		h.fail(w, r, err, messages{notFound: fmt.Sprintf("no revision %d of an article with slug %q", id, slug),
			conflict: fmt.Sprintf("the article %q is in the trash; restore it first (POST …/restore), then its revision", slug)})
		return
	}
	h.writeJSON(w, r, http.StatusOK, wire(a))
}
