package blog

import (
	"context"
	"strings"
	"time"

	"github.com/2coffee/mcp-2coffee/internal/errdefs"
)

// Service is the blog with its rules: it normalises and validates input,
// fills in times, and adds search snippets, over any Store. It implements
// Articles.
type Service struct {
	store Store
	now   func() time.Time
}

// NewService returns a Service over store. A nil now uses time.Now.
func NewService(store Store, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{store: store, now: now}
}

var _ Articles = (*Service)(nil)

// SnippetWords is how many words a search snippet holds.
const SnippetWords = 30

// Get returns the article with this slug.
func (s *Service) Get(ctx context.Context, slug string) (*Article, error) {
	slug = strings.TrimSpace(slug)
	if err := ValidateSlug(slug); err != nil {
		return nil, err
	}
	return s.store.GetArticle(ctx, slug)
}

// List returns a page of articles, newest first.
func (s *Service) List(ctx context.Context, opts ListOptions) (*ArticlePage, error) {
	limit, err := pageLimit(opts.Limit)
	if err != nil {
		return nil, err
	}
	f, err := newFilter(opts.Tag, opts.Language, opts.IncludeDrafts)
	if err != nil {
		return nil, err
	}
	c, err := decodeCursor(opts.Cursor)
	if err != nil {
		return nil, err
	}
	if c.Offset != 0 || c.Any {
		return nil, errdefs.Invalid("cursor", "is a search cursor; pass it to search, not to a listing")
	}
	r := ListRange{Filter: f, Limit: limit + 1} // one more tells whether a page follows
	if c.Slug != "" {
		r.After = &Position{PublishedAt: time.Unix(c.Published, 0).UTC(), Slug: c.Slug}
	}
	as, err := s.store.ListArticles(ctx, r)
	if err != nil {
		return nil, err
	}
	page := &ArticlePage{Articles: as}
	if len(as) > limit {
		page.Articles = as[:limit]
		last := as[limit-1]
		page.NextCursor = cursor{Published: last.PublishedAt.Unix(), Slug: last.Slug}.encode()
	}
	return page, nil
}

// Search runs a full-text search. When no article holds every word of a
// query of several terms, it retries with any word and marks the page
// Relaxed.
func (s *Service) Search(ctx context.Context, opts SearchOptions) (*SearchPage, error) {
	q, err := ParseQuery(opts.Query)
	if err != nil {
		return nil, err
	}
	limit, err := pageLimit(opts.Limit)
	if err != nil {
		return nil, err
	}
	f, err := newFilter(opts.Tag, opts.Language, opts.IncludeDrafts)
	if err != nil {
		return nil, err
	}
	c, err := decodeCursor(opts.Cursor)
	if err != nil {
		return nil, err
	}
	if c.Slug != "" {
		return nil, errdefs.Invalid("cursor", "is a listing cursor; pass it to a listing, not to search")
	}
	q.Any = c.Any // later pages carry on as the first one did
	r := SearchRange{Filter: f, Offset: c.Offset, Limit: limit + 1}
	hits, err := s.store.SearchArticles(ctx, q, r)
	if err != nil {
		return nil, err
	}
	relaxed := q.Any
	if len(hits) == 0 && len(q.Terms) > 1 && !q.Any && c.Offset == 0 {
		q.Any = true
		if hits, err = s.store.SearchArticles(ctx, q, r); err != nil {
			return nil, err
		}
		relaxed = len(hits) > 0
	}
	page := &SearchPage{Hits: hits, Relaxed: relaxed}
	if len(hits) > limit {
		page.Hits = hits[:limit]
		page.NextCursor = cursor{Offset: c.Offset + limit, Any: q.Any}.encode()
	}
	for i := range page.Hits {
		a := page.Hits[i].Article
		text := a.Body
		if a.Summary != "" {
			text = a.Summary + "\n\n" + a.Body
		}
		page.Hits[i].Snippet = Snippet(text, q, SnippetWords)
	}
	return page, nil
}

// Tags lists every tag with its article count, most used first.
func (s *Service) Tags(ctx context.Context, opts TagOptions) ([]TagCount, error) {
	opts.Language = strings.TrimSpace(opts.Language)
	return s.store.ListTags(ctx, opts)
}

// Create stores a new article. A missing slug is derived from the title;
// a missing publication time is now.
func (s *Service) Create(ctx context.Context, a *Article) (*Article, error) {
	a = a.Clone()
	now := s.now()
	if strings.TrimSpace(a.Slug) == "" {
		// Say what is wrong with the title rather than with a slug the
		// caller never gave.
		if strings.TrimSpace(a.Title) == "" {
			return nil, errdefs.Invalid("title", "must not be empty")
		}
		if a.Slug = Slugify(a.Title); a.Slug == "" {
			return nil, errdefs.Invalid("slug", "cannot be derived from the title %q (it has no Latin letters or digits); give one", a.Title)
		}
	}
	if a.PublishedAt.IsZero() {
		a.PublishedAt = now
	}
	a.UpdatedAt = now
	a.Normalize()
	if err := a.Validate(); err != nil {
		return nil, err
	}
	if err := s.store.CreateArticle(ctx, a); err != nil {
		return nil, err
	}
	return a, nil
}

// Update applies p to the article with this slug.
func (s *Service) Update(ctx context.Context, slug string, p Patch) (*Article, error) {
	a, err := s.Get(ctx, slug)
	if err != nil {
		return nil, err
	}
	p.Apply(a)
	a.UpdatedAt = s.now()
	a.Normalize()
	if err := a.Validate(); err != nil {
		return nil, err
	}
	if err := s.store.UpdateArticle(ctx, a); err != nil {
		return nil, err
	}
	return a, nil
}

// Delete removes the article with this slug.
func (s *Service) Delete(ctx context.Context, slug string) error {
	slug = strings.TrimSpace(slug)
	if err := ValidateSlug(slug); err != nil {
		return err
	}
	return s.store.DeleteArticle(ctx, slug)
}

// newFilter normalises the filters of a listing or search.
func newFilter(tag, language string, includeDrafts bool) (Filter, error) {
	f := Filter{Language: strings.TrimSpace(language), IncludeDrafts: includeDrafts}
	if strings.TrimSpace(tag) == "" {
		return f, nil
	}
	ts := NormalizeTags([]string{tag})
	if len(ts) != 1 || len(ts[0]) > MaxTagLen*4 {
		return Filter{}, errdefs.Invalid("tag", "is not a tag")
	}
	f.Tag = ts[0]
	return f, nil
}
