package blog

import (
	"context"
	"time"
)

// ListOptions filter and page a listing of articles, newest first.
type ListOptions struct {
	Tag           string // only articles with this tag (normalised like tags)
	Language      string // only articles in this language, e.g. "vi"
	IncludeDrafts bool
	Limit         int    // 1..MaxPage; 0 means DefaultPage
	Cursor        string // from a previous page's NextCursor
}

// SearchOptions are the inputs of a full-text search.
type SearchOptions struct {
	Query         string // as typed; parsed with ParseQuery
	Tag           string
	Language      string
	IncludeDrafts bool
	Limit         int
	Cursor        string
}

// TagOptions filter a tag listing.
type TagOptions struct {
	Language      string
	IncludeDrafts bool
	// Now, set by the Service, hides the articles scheduled after it
	// unless IncludeDrafts.
	Now time.Time
}

// ArticlePage is one page of a listing.
type ArticlePage struct {
	Articles   []*Article
	NextCursor string // empty on the last page
}

// SearchHit is one ranked search result. Score is higher for better
// matches; Snippet shows the query words in context.
type SearchHit struct {
	Article *Article
	Score   float64
	Snippet string
}

// SearchPage is one page of ranked search results.
type SearchPage struct {
	Hits       []SearchHit
	NextCursor string
	// Relaxed is set when no article held every word, so the results are
	// those holding any of them.
	Relaxed bool
}

// TagCount is a tag and how many articles carry it.
type TagCount struct {
	Tag   string `json:"tag"`
	Count int    `json:"count"`
}

// UpsertOutcome says what an upsert did to one article.
type UpsertOutcome int

// The outcomes of an upsert.
const (
	Created UpsertOutcome = iota + 1
	Updated
	Unchanged
)

func (o UpsertOutcome) String() string {
	switch o {
	case Created:
		return "created"
	case Updated:
		return "updated"
	case Unchanged:
		return "unchanged"
	}
	return "unknown"
}

// Filter narrows the articles a listing, a search or a tag count looks
// at. Its fields are normalised (the Service sees to that).
type Filter struct {
	Tag      string // only articles with this tag
	Language string // only articles in this language
	// IncludeDrafts also takes drafts and scheduled articles (published
	// after Now); without it only public articles count.
	IncludeDrafts bool
	// Now is the moment "published" is judged at: an article whose
	// PublishedAt is after it is scheduled. The Service sets it; zero
	// hides nothing by time.
	Now time.Time
}

// Position is a place in the listing order (newest first: publication
// time descending, then slug ascending, so articles published in the same
// second still page in a stable order). A listing page that starts after
// a Position holds the articles that follow it in that order.
type Position struct {
	PublishedAt time.Time // compared as the Unix seconds stores keep
	Slug        string
}

// ListRange is one page of a listing as a Store sees it: a typed keyset
// position, never a cursor.
type ListRange struct {
	Filter
	After *Position // nil: from the newest article
	// Limit is the most articles to return: always > 0, and up to
	// MaxPage+1 (a full page and one more to see whether another follows).
	Limit int
}

// SearchRange is one page of ranked search results as a Store sees it.
type SearchRange struct {
	Filter
	Offset int // ranked results to skip
	Limit  int // the most hits to return: > 0, up to MaxPage+1 (see ListRange)
}

// Store is what a persistence backend provides for articles. Every method
// takes normalised, validated input (the Service sees to that) and reports
// errdefs.ErrNotFound and errdefs.ErrConflict through errors.Is. Cursors
// are not a Store's business: the Service decodes them into ListRange and
// SearchRange and encodes the next one. A page method returns at most
// Limit items, in order; the Service asks for one more than a page to learn
// whether another follows. The backends live under internal/store;
// internal/store/storetest holds the behaviour suite they must all pass.
type Store interface {
	GetArticle(ctx context.Context, slug string) (*Article, error)
	// ListArticles returns the articles of r, newest first.
	ListArticles(ctx context.Context, r ListRange) ([]*Article, error)
	// SearchArticles ranks articles matching q, best first, ties in
	// listing order. Hits carry no Snippet; the Service adds it.
	SearchArticles(ctx context.Context, q Query, r SearchRange) ([]SearchHit, error)
	ListTags(ctx context.Context, opts TagOptions) ([]TagCount, error)
	// CreateArticle stores a new article and its first revision.
	CreateArticle(ctx context.Context, a *Article, c Change) error
	// UpdateArticle replaces the stored article with a.Slug and keeps a
	// revision of the result.
	UpdateArticle(ctx context.Context, a *Article, c Change) error
	// DeleteArticle moves the article to the trash (replacing an older
	// trashed article of that slug, whose versions stay in the
	// revisions) and keeps a revision of it as it was.
	DeleteArticle(ctx context.Context, slug string, c Change) error
	// UpsertArticles creates or replaces every article in one
	// transaction: all of them are written, or none. Each one created or
	// updated gets a revision.
	UpsertArticles(ctx context.Context, as []*Article, c Change) ([]UpsertOutcome, error)
	// RestoreArticle brings the trashed article with this slug back,
	// updated at c.At, with a revision: errdefs.ErrNotFound when none is
	// in the trash, errdefs.ErrConflict when another article has taken
	// the slug meanwhile.
	RestoreArticle(ctx context.Context, slug string, c Change) (*Article, error)
	// ListTrash returns the trashed articles, most recently deleted first.
	ListTrash(ctx context.Context) ([]*Trashed, error)
	// PurgeTrash deletes for good the trashed articles deleted at or
	// before before (only the one with slug, unless slug is ""), with
	// their history: every revision of the slug up to the deletion, so a
	// live article made with the slug since keeps only its own. It
	// returns how many articles it purged.
	PurgeTrash(ctx context.Context, slug string, before time.Time) (int, error)
	// ListRevisions returns revisions of r.Slug, newest first, without
	// their articles.
	ListRevisions(ctx context.Context, r RevisionRange) ([]*Revision, error)
	// GetRevision returns one revision with its article, or
	// errdefs.ErrNotFound.
	GetRevision(ctx context.Context, slug string, id int64) (*Revision, error)
	// RevisionsAfter returns up to limit revisions of every article with
	// an id above after, oldest first, with their articles: the whole
	// history, for a copy of the blog.
	RevisionsAfter(ctx context.Context, after int64, limit int) ([]*Revision, error)
	// CopyHistory stores revisions (in the order given, under new ids)
	// and trashed articles as they are, in one transaction: the history
	// of another database.
	CopyHistory(ctx context.Context, revs []*Revision, trash []*Trashed) error
	CountArticles(ctx context.Context) (int, error)
}

// Articles is what the edges (MCP tools, REST handlers) use: the blog with
// its rules applied. *Service implements it over a Store; the remote
// package implements it over the REST API of another mcp-2coffee.
type Articles interface {
	Get(ctx context.Context, slug string) (*Article, error)
	List(ctx context.Context, opts ListOptions) (*ArticlePage, error)
	Search(ctx context.Context, opts SearchOptions) (*SearchPage, error)
	Tags(ctx context.Context, opts TagOptions) ([]TagCount, error)
	Create(ctx context.Context, a *Article) (*Article, error)
	Update(ctx context.Context, slug string, p Patch) (*Article, error)
	// Delete moves the article to the trash.
	Delete(ctx context.Context, slug string) error
	// Restore brings a trashed article back.
	Restore(ctx context.Context, slug string) (*Article, error)
	Revisions(ctx context.Context, slug string, limit int, cursor string) (*RevisionPage, error)
	Revision(ctx context.Context, slug string, id int64) (*Revision, error)
	RestoreRevision(ctx context.Context, slug string, id int64) (*Article, error)
}

// Patch changes some fields of an article; nil fields stay as they are.
type Patch struct {
	Title       *string    `json:"title,omitempty"`
	Summary     *string    `json:"summary,omitempty"`
	Body        *string    `json:"body,omitempty"`
	Tags        *[]string  `json:"tags,omitempty"`
	Language    *string    `json:"language,omitempty"`
	Author      *string    `json:"author,omitempty"`
	PublishedAt *time.Time `json:"published_at,omitempty"`
	Draft       *bool      `json:"draft,omitempty"`
	// TranslationKey set to "" unlinks the article from its translations.
	TranslationKey *string `json:"translation_key,omitempty"`
}

// Apply writes the set fields of p into a.
func (p Patch) Apply(a *Article) {
	set := func(dst *string, src *string) {
		if src != nil {
			*dst = *src
		}
	}
	set(&a.Title, p.Title)
	set(&a.Summary, p.Summary)
	set(&a.Body, p.Body)
	set(&a.Language, p.Language)
	set(&a.Author, p.Author)
	set(&a.TranslationKey, p.TranslationKey)
	if p.Tags != nil {
		a.Tags = append([]string(nil), (*p.Tags)...)
	}
	if p.PublishedAt != nil {
		a.PublishedAt = *p.PublishedAt
	}
	if p.Draft != nil {
		a.Draft = *p.Draft
	}
}
