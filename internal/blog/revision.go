package blog

import (
	"context"
	"slices"
	"time"
)

// Nothing an assistant does to an article is irreversible: every create,
// update, delete and restore keeps a revision (the whole article as it
// was, when, and who), and a deleted article goes to a trash it can be
// restored from. Only the blog's owner empties the trash (the CLI), never
// a tool.

// The actions a revision records.
const (
	ActionCreated  = "created"
	ActionUpdated  = "updated"
	ActionDeleted  = "deleted"
	ActionRestored = "restored"
)

// DefaultKeepRevisions is how many revisions of an article are kept
// unless the operator says otherwise (serve --revisions-keep): generous,
// since an article's revisions are a few kilobytes each.
const DefaultKeepRevisions = 200

// Change says who makes a change, when, and how much history to keep. A
// Store records it with the article, in the same transaction.
type Change struct {
	// Actor is who made the change: "key:ID" for an API key, "user:NAME
	// client:ID" for an OAuth user through a client, "client:ID" for a
	// machine client, "local" for stdio, "import" for the importer.
	Actor string
	At    time.Time
	// Action overrides the action the method implies: ActionRestored for
	// an update that brings back an earlier revision.
	Action string
	// Keep is how many revisions of the article to keep, newest first;
	// 0 keeps them all. The newest is always kept.
	Keep int
	// Quiet records no revision: for a copy of a blog whose history is
	// copied as it was (CopyHistory), not made anew.
	Quiet bool
	// Expect, for UpdateArticle, is the article as the caller read it
	// before changing it: when the stored one differs (another writer came
	// between), nothing is written and errdefs.ErrConflict says to read
	// again, so no change is lost to a stale copy.
	Expect *Article
}

// Revision is one kept version of an article: the article as a create, an
// update or a restore left it, or as it was when it was deleted.
type Revision struct {
	ID     int64     `json:"id"`
	Slug   string    `json:"slug"`
	At     time.Time `json:"at"`
	Actor  string    `json:"actor"`
	Action string    `json:"action"`
	// Changed names the fields (as the JSON of an article names them)
	// that differ from the revision before; every set field for a
	// creation, none for a deletion or a restore from the trash.
	Changed []string `json:"changed"`
	// Article is the version itself; listings leave it out.
	Article *Article `json:"article,omitempty"`
}

// RevisionRange is one page of an article's revisions as a Store sees it,
// newest first.
type RevisionRange struct {
	Slug   string
	Before int64 // only revisions with a smaller id; 0: from the newest
	Limit  int   // > 0, up to MaxPage+1
}

// RevisionPage is one page of revisions.
type RevisionPage struct {
	Revisions  []*Revision `json:"revisions"`
	NextCursor string      `json:"next_cursor,omitempty"`
}

// Trashed is an article in the trash: deleted, restorable until purged.
type Trashed struct {
	Article   *Article  `json:"article"`
	DeletedAt time.Time `json:"deleted_at"`
	DeletedBy string    `json:"deleted_by"`
}

// ChangedFields names the fields of an article that differ between old
// and a (old nil: every field a sets), in the order an article's JSON has
// them. updated_at is not a change of its own.
func ChangedFields(old, a *Article) []string {
	if old == nil {
		old = &Article{}
	}
	out := []string{}
	add := func(name string, differ bool) {
		if differ {
			out = append(out, name)
		}
	}
	add("slug", old.Slug != a.Slug)
	add("title", old.Title != a.Title)
	add("summary", old.Summary != a.Summary)
	add("body", old.Body != a.Body)
	add("tags", !slices.Equal(nonNil(old.Tags), nonNil(a.Tags)))
	add("language", old.Language != a.Language)
	add("author", old.Author != a.Author)
	add("published_at", old.PublishedAt.Unix() != a.PublishedAt.Unix())
	add("draft", old.Draft != a.Draft)
	add("translation_key", old.TranslationKey != a.TranslationKey)
	return out
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

type actorKey struct{}

// WithActor returns a context saying who acts in it; the edges (MCP tools,
// the REST API, stdio) set it from the credential, and the Service records
// it in each revision.
func WithActor(ctx context.Context, actor string) context.Context {
	return context.WithValue(ctx, actorKey{}, actor)
}

// ActorFrom is the actor of ctx, or "unknown".
func ActorFrom(ctx context.Context) string {
	if a, _ := ctx.Value(actorKey{}).(string); a != "" {
		return a
	}
	return "unknown"
}
