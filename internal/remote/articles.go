package remote

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/2coffee/mcp-2coffee/internal/blog"
	"github.com/2coffee/mcp-2coffee/internal/errdefs"
)

var _ blog.Articles = (*Client)(nil)

// The API's page shapes (docs/openapi.yaml). Articles travel as
// blog.Article, whose JSON names are the API's; in pages they come without
// body (the API's ArticleSummary), so Body decodes as "".
type (
	listAnswer struct {
		Articles   []*blog.Article `json:"articles"`
		NextCursor string          `json:"next_cursor"`
	}
	hitAnswer struct {
		Article *blog.Article `json:"article"`
		Score   float64       `json:"score"`
		Snippet string        `json:"snippet"`
	}
	searchAnswer struct {
		Hits       []hitAnswer `json:"hits"`
		NextCursor string      `json:"next_cursor"`
		Relaxed    bool        `json:"relaxed"`
	}
	tagsAnswer struct {
		Tags []blog.TagCount `json:"tags"`
	}
)

// errNoArticle flags an answer that decoded but holds no article where
// one must be; it says more than a nil pointer dereference later would.
var errNoArticle = errors.New("an article in the answer is missing or has no slug")

func (c *Client) checkArticles(as ...*blog.Article) error {
	for _, a := range as {
		if a == nil || a.Slug == "" {
			return &callError{
				msg:     "the blog API at " + c.base + " answered with an incomplete article; is it an mcp-2coffee blog of a matching version?",
				matches: []error{errdefs.ErrUnavailable, errNoArticle},
			}
		}
	}
	return nil
}

// articlePath returns the escaped path of one article. The slug is checked
// here as blog.Service checks it, so a bad slug fails with the same error
// as it would locally, and never reaches the URL as "..", "a/b" or "?x".
func articlePath(slug string) (string, error) {
	slug = strings.TrimSpace(slug)
	if err := blog.ValidateSlug(slug); err != nil {
		return "", err
	}
	return "/articles/" + url.PathEscape(slug), nil
}

// Get returns the article with this slug. A read-only key cannot see
// drafts: for it, a draft is not found.
func (c *Client) Get(ctx context.Context, slug string) (*blog.Article, error) {
	p, err := articlePath(slug)
	if err != nil {
		return nil, err
	}
	var a blog.Article
	if err := c.do(ctx, request{method: http.MethodGet, path: p, want: http.StatusOK, out: &a}); err != nil {
		return nil, err
	}
	if err := c.checkArticles(&a); err != nil {
		return nil, err
	}
	return &a, nil
}

// filters builds the query parameters the listing endpoints share.
func filters(tag, language string, limit int, cursor string, drafts bool) url.Values {
	q := url.Values{}
	set := func(k, v string) {
		if v != "" {
			q.Set(k, v)
		}
	}
	set("tag", tag)
	set("language", language)
	if limit != 0 {
		// Out-of-range values go through, so the server's rule (and
		// message) decides, as it would locally.
		q.Set("limit", strconv.Itoa(limit))
	}
	set("cursor", cursor)
	if drafts {
		q.Set("include_drafts", "true")
	}
	return q
}

// List returns a page of articles, newest first. IncludeDrafts is honoured
// only when the key may write; otherwise the server leaves drafts out.
//
// Unlike blog.Service's, the articles have an empty Body: the API leaves
// bodies out of listings, so a page of long articles stays small. Get
// returns an article with its body.
func (c *Client) List(ctx context.Context, opts blog.ListOptions) (*blog.ArticlePage, error) {
	var ans listAnswer
	err := c.do(ctx, request{
		method: http.MethodGet, path: "/articles",
		query: filters(opts.Tag, opts.Language, opts.Limit, opts.Cursor, opts.IncludeDrafts),
		want:  http.StatusOK, out: &ans,
	})
	if err != nil {
		return nil, err
	}
	if err := c.checkArticles(ans.Articles...); err != nil {
		return nil, err
	}
	for _, a := range ans.Articles {
		a.Body = "" // as documented, even from a server that sent one
	}
	return &blog.ArticlePage{Articles: ans.Articles, NextCursor: ans.NextCursor}, nil
}

// Search runs a full-text search on the server.
//
// Unlike blog.Service's, the hits' articles have an empty Body: the API
// leaves bodies out of search results. Each hit's Snippet, which the
// server cuts from the body, is there as usual. Get returns an article
// with its body.
func (c *Client) Search(ctx context.Context, opts blog.SearchOptions) (*blog.SearchPage, error) {
	q := filters(opts.Tag, opts.Language, opts.Limit, opts.Cursor, opts.IncludeDrafts)
	if strings.TrimSpace(opts.Query) == "" {
		// The server refuses a missing q in its own words; this is the
		// error blog.Service gives for an empty query.
		if _, err := blog.ParseQuery(opts.Query); err != nil {
			return nil, err
		}
	}
	q.Set("q", opts.Query)
	var ans searchAnswer
	if err := c.do(ctx, request{method: http.MethodGet, path: "/search", query: q, want: http.StatusOK, out: &ans}); err != nil {
		return nil, err
	}
	page := &blog.SearchPage{Hits: make([]blog.SearchHit, 0, len(ans.Hits)), NextCursor: ans.NextCursor, Relaxed: ans.Relaxed}
	for _, h := range ans.Hits {
		if err := c.checkArticles(h.Article); err != nil {
			return nil, err
		}
		h.Article.Body = ""
		page.Hits = append(page.Hits, blog.SearchHit{Article: h.Article, Score: h.Score, Snippet: h.Snippet})
	}
	return page, nil
}

// Tags lists every tag with its article count, most used first.
func (c *Client) Tags(ctx context.Context, opts blog.TagOptions) ([]blog.TagCount, error) {
	var ans tagsAnswer
	err := c.do(ctx, request{
		method: http.MethodGet, path: "/tags",
		query: filters("", opts.Language, 0, "", opts.IncludeDrafts),
		want:  http.StatusOK, out: &ans,
	})
	if err != nil {
		return nil, err
	}
	return ans.Tags, nil
}

// Create stores a new article on the server and returns it as stored.
// The server derives a missing slug and fills in the times.
func (c *Client) Create(ctx context.Context, a *blog.Article) (*blog.Article, error) {
	var out blog.Article
	err := c.do(ctx, request{
		method: http.MethodPost, path: "/articles",
		body: a, contentType: "application/json",
		want: http.StatusCreated, out: &out,
	})
	if err != nil {
		return nil, err
	}
	if err := c.checkArticles(&out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Update applies p to the article with this slug, as a JSON merge patch.
func (c *Client) Update(ctx context.Context, slug string, p blog.Patch) (*blog.Article, error) {
	path, err := articlePath(slug)
	if err != nil {
		return nil, err
	}
	var out blog.Article
	err = c.do(ctx, request{
		method: http.MethodPatch, path: path,
		// blog.Patch leaves unset fields out (omitempty), so it is a
		// merge patch as it stands: absent members stay as they are.
		body: p, contentType: "application/merge-patch+json",
		want: http.StatusOK, out: &out,
	})
	if err != nil {
		return nil, err
	}
	if err := c.checkArticles(&out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Delete removes the article with this slug.
func (c *Client) Delete(ctx context.Context, slug string) error {
	path, err := articlePath(slug)
	if err != nil {
		return err
	}
	return c.do(ctx, request{method: http.MethodDelete, path: path, want: http.StatusNoContent})
}

// Restore brings a trashed article back.
func (c *Client) Restore(ctx context.Context, slug string) (*blog.Article, error) {
	p, err := articlePath(slug)
	if err != nil {
		return nil, err
	}
	var out blog.Article
	if err := c.do(ctx, request{method: http.MethodPost, path: p + "/restore", want: http.StatusOK, out: &out}); err != nil {
		return nil, err
	}
	if err := c.checkArticles(&out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Revisions returns a page of the article's revisions, newest first.
func (c *Client) Revisions(ctx context.Context, slug string, limit int, cursor string) (*blog.RevisionPage, error) {
	p, err := articlePath(slug)
	if err != nil {
		return nil, err
	}
	var page blog.RevisionPage
	err = c.do(ctx, request{method: http.MethodGet, path: p + "/revisions", query: filters("", "", limit, cursor, false), want: http.StatusOK, out: &page})
	if err != nil {
		return nil, err
	}
	return &page, nil
}

// revisionPath is the path of one revision of slug.
func revisionPath(slug string, id int64) (string, error) {
	p, err := articlePath(slug)
	if err != nil {
		return "", err
	}
	if id <= 0 {
		return "", errdefs.Invalid("revision", "must be a revision id (a positive number from the list of revisions)")
	}
	return p + "/revisions/" + strconv.FormatInt(id, 10), nil
}

// Revision returns one revision with the article as it was.
func (c *Client) Revision(ctx context.Context, slug string, id int64) (*blog.Revision, error) {
	p, err := revisionPath(slug, id)
	if err != nil {
		return nil, err
	}
	var rev blog.Revision
	if err := c.do(ctx, request{method: http.MethodGet, path: p, want: http.StatusOK, out: &rev}); err != nil {
		return nil, err
	}
	if err := c.checkArticles(rev.Article); err != nil {
		return nil, err
	}
	return &rev, nil
}

// RestoreRevision makes the article what it was at revision id.
func (c *Client) RestoreRevision(ctx context.Context, slug string, id int64) (*blog.Article, error) {
	p, err := revisionPath(slug, id)
	if err != nil {
		return nil, err
	}
	var out blog.Article
	if err := c.do(ctx, request{method: http.MethodPost, path: p + "/restore", want: http.StatusOK, out: &out}); err != nil {
		return nil, err
	}
	if err := c.checkArticles(&out); err != nil {
		return nil, err
	}
	return &out, nil
}
