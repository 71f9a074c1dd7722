package blog

import (
	"context"
	"errors"
	"fmt"
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
	keep  int
}

// NewService returns a Service over store. A nil now uses time.Now. It
// keeps DefaultKeepRevisions revisions of each article.
func NewService(store Store, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{store: store, now: now, keep: DefaultKeepRevisions}
}

// KeepRevisions sets how many revisions of each article are kept, the
// newest; 0 keeps them all.
func (s *Service) KeepRevisions(n int) { s.keep = max(n, 0) }

// change is who changes what now, from ctx.
func (s *Service) change(ctx context.Context, action string) Change {
	return Change{Actor: ActorFrom(ctx), At: s.now().UTC().Truncate(time.Second), Action: action, Keep: s.keep}
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
	f.Now = s.now()
	c, err := decodeCursor(opts.Cursor)
	if err != nil {
		return nil, err
	}
	if c.Offset != 0 || c.Any {
		return nil, errdefs.Invalid("cursor", "is a search cursor; pass it to search, not to a listing")
	}
	if c.Revision != 0 {
		return nil, errdefs.Invalid("cursor", "is a cursor of revisions; pass it to the list of revisions")
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
	f.Now = s.now()
	c, err := decodeCursor(opts.Cursor)
	if err != nil {
		return nil, err
	}
	if c.Slug != "" {
		return nil, errdefs.Invalid("cursor", "is a listing cursor; pass it to a listing, not to search")
	}
	if c.Revision != 0 {
		return nil, errdefs.Invalid("cursor", "is a cursor of revisions; pass it to the list of revisions")
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
	opts.Now = s.now()
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
	if err := s.store.CreateArticle(ctx, a, s.change(ctx, "")); err != nil {
		return nil, err
	}
	return a, nil
}

// updateTries bounds how often Update reads again when other writers keep
// changing the article between its read and its write.
const updateTries = 8

// Update applies p to the article with this slug. The patch is applied to
// the article as stored when it is written: if another writer changed it
// after it was read, it is read again and p applied anew, so two patches
// of different fields both hold.
func (s *Service) Update(ctx context.Context, slug string, p Patch) (*Article, error) {
	for range updateTries {
		read, err := s.Get(ctx, slug)
		if err != nil {
			return nil, err
		}
		a := read.Clone()
		p.Apply(a)
		a.UpdatedAt = s.now()
		a.Normalize()
		if err := a.Validate(); err != nil {
			return nil, err
		}
		c := s.change(ctx, "")
		c.Expect = read
		err = s.store.UpdateArticle(ctx, a, c)
		if errors.Is(err, errdefs.ErrConflict) {
			continue // changed meanwhile: read again
		}
		if err != nil {
			return nil, err
		}
		return a, nil
	}
	return nil, fmt.Errorf("the article %q kept changing while this update was made; try again: %w", slug, errdefs.ErrConflict)
}

// Delete moves the article with this slug to the trash, from which
// Restore brings it back.
func (s *Service) Delete(ctx context.Context, slug string) error {
	slug = strings.TrimSpace(slug)
	if err := ValidateSlug(slug); err != nil {
		return err
	}
	return s.store.DeleteArticle(ctx, slug, s.change(ctx, ""))
}

// Restore brings the article with this slug back from the trash, with its
// revisions.
func (s *Service) Restore(ctx context.Context, slug string) (*Article, error) {
	slug = strings.TrimSpace(slug)
	if err := ValidateSlug(slug); err != nil {
		return nil, err
	}
	a, err := s.store.RestoreArticle(ctx, slug, s.change(ctx, ""))
	if errors.Is(err, errdefs.ErrConflict) {
		return nil, fmt.Errorf("another article now has the slug %q; rename or delete it first: %w", slug, err)
	}
	return a, err
}

// Revisions returns a page of the revisions of the article with this
// slug, newest first, without their articles. The article may be in the
// trash.
func (s *Service) Revisions(ctx context.Context, slug string, limit int, cur string) (*RevisionPage, error) {
	slug = strings.TrimSpace(slug)
	if err := ValidateSlug(slug); err != nil {
		return nil, err
	}
	limit, err := pageLimit(limit)
	if err != nil {
		return nil, err
	}
	c, err := decodeCursor(cur)
	if err != nil {
		return nil, err
	}
	if c != (cursor{Revision: c.Revision}) {
		return nil, errdefs.Invalid("cursor", "is not a cursor of revisions")
	}
	revs, err := s.store.ListRevisions(ctx, RevisionRange{Slug: slug, Before: c.Revision, Limit: limit + 1})
	if err != nil {
		return nil, err
	}
	if len(revs) == 0 && c.Revision == 0 {
		return nil, fmt.Errorf("no revisions of %q: %w", slug, errdefs.ErrNotFound)
	}
	page := &RevisionPage{Revisions: revs}
	if len(revs) > limit {
		page.Revisions = revs[:limit]
		page.NextCursor = cursor{Revision: revs[limit-1].ID}.encode()
	}
	return page, nil
}

// Revision returns one revision of the article with this slug, with the
// article as it was.
func (s *Service) Revision(ctx context.Context, slug string, id int64) (*Revision, error) {
	slug = strings.TrimSpace(slug)
	if err := ValidateSlug(slug); err != nil {
		return nil, err
	}
	if id <= 0 {
		return nil, errdefs.Invalid("revision", "must be a revision id (a positive number from the list of revisions)")
	}
	return s.store.GetRevision(ctx, slug, id)
}

// RestoreRevision makes the article what it was at revision id; the
// restore is itself a new revision. The article must not be in the
// trash: Restore brings it back first.
func (s *Service) RestoreRevision(ctx context.Context, slug string, id int64) (*Article, error) {
	rev, err := s.Revision(ctx, slug, id)
	if err != nil {
		return nil, err
	}
	inTrash := fmt.Errorf("the article %q is in the trash; restore it first, then its revision: %w", rev.Slug, errdefs.ErrConflict)
	if _, err := s.store.GetArticle(ctx, rev.Slug); errors.Is(err, errdefs.ErrNotFound) {
		return nil, inTrash
	} else if err != nil {
		return nil, err
	}
	a := rev.Article.Clone()
	a.Slug = rev.Slug
	a.UpdatedAt = s.now()
	a.Normalize()
	if err := a.Validate(); err != nil {
		return nil, err
	}
	if err := s.store.UpdateArticle(ctx, a, s.change(ctx, ActionRestored)); errors.Is(err, errdefs.ErrNotFound) {
		return nil, inTrash // deleted since it was looked up
	} else if err != nil {
		return nil, err
	}
	return a, nil
}

// Trash lists the articles in the trash, most recently deleted first.
func (s *Service) Trash(ctx context.Context) ([]*Trashed, error) { return s.store.ListTrash(ctx) }

// Purge deletes for good the trashed articles deleted at or before before (only
// slug's, unless slug is ""), with their revisions. Only the blog's owner
// does this (the CLI); no tool can.
func (s *Service) Purge(ctx context.Context, slug string, before time.Time) (int, error) {
	if slug = strings.TrimSpace(slug); slug != "" {
		if err := ValidateSlug(slug); err != nil {
			return 0, err
		}
	}
	return s.store.PurgeTrash(ctx, slug, before)
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
