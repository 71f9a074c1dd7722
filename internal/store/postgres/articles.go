package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/2coffee/mcp-2coffee/internal/blog"
	"github.com/2coffee/mcp-2coffee/internal/errdefs"
)

var _ blog.Store = (*DB)(nil)

// articleColumns are the columns scanArticle reads, in its order, from the
// articles table aliased "a".
const articleColumns = `a.slug, a.title, a.summary, a.tags, a.language, a.author,
	a.published_at, a.updated_at, a.draft, a.translation_key, a.body`

// scanArticle reads articleColumns, then any extra columns into extra.
func scanArticle(row pgx.Row, extra ...any) (*blog.Article, error) {
	var a blog.Article
	dest := append([]any{&a.Slug, &a.Title, &a.Summary, &a.Tags, &a.Language, &a.Author,
		&a.PublishedAt, &a.UpdatedAt, &a.Draft, &a.TranslationKey, &a.Body}, extra...)
	if err := row.Scan(dest...); err != nil {
		return nil, err
	}
	if a.Tags == nil {
		a.Tags = []string{} // as blog.NormalizeTags makes them: "tags": [] rather than null
	}
	// pgx gives timestamptz in the local zone; the schema keeps whole
	// seconds already.
	a.PublishedAt = a.PublishedAt.UTC()
	a.UpdatedAt = a.UpdatedAt.UTC()
	return &a, nil
}

// GetArticle returns the article with this slug, drafts included.
func (db *DB) GetArticle(ctx context.Context, slug string) (*blog.Article, error) {
	a, err := scanArticle(db.pool.QueryRow(ctx, `SELECT `+articleColumns+` FROM articles a WHERE a.slug = $1`, slug))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("article %q: %w", slug, errdefs.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: get article %q: %w", slug, err)
	}
	return a, nil
}

// filter collects the WHERE conditions and arguments that listings,
// searches and tag counts share, numbering the placeholders as it goes.
type filter struct {
	conds []string
	args  []any
}

// arg adds v to the arguments and returns its placeholder.
func (f *filter) arg(v any) string {
	f.args = append(f.args, v)
	return fmt.Sprintf("$%d", len(f.args))
}

// common adds the tag, language and draft filters on the articles table
// aliased "a".
func (f *filter) common(bf blog.Filter) {
	if !bf.IncludeDrafts {
		f.conds = append(f.conds, `NOT a.draft`)
		if !bf.Now.IsZero() {
			f.conds = append(f.conds, `a.published_at <= `+f.arg(stamp(bf.Now))) // not scheduled
		}
	}
	if bf.Language != "" {
		f.conds = append(f.conds, `a.language = `+f.arg(bf.Language))
	}
	if bf.Tag != "" {
		f.conds = append(f.conds, `a.id IN (SELECT article_id FROM article_tags WHERE tag_key = `+f.arg(blog.TagKey(bf.Tag))+`)`)
	}
}

// where returns the conditions as a WHERE clause, or "" when there are none.
func (f *filter) where() string {
	if len(f.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(f.conds, " AND ")
}

// ListArticles returns up to r.Limit articles after r.After, newest first,
// by publication time and then slug.
func (db *DB) ListArticles(ctx context.Context, r blog.ListRange) ([]*blog.Article, error) {
	var f filter
	f.common(r.Filter)
	if r.After != nil {
		// After (p, s) in (published_at DESC, slug ASC) order. The first
		// condition is redundant but is the one the index can seek on.
		p, s := f.arg(stamp(r.After.PublishedAt)), f.arg(r.After.Slug)
		f.conds = append(f.conds, `a.published_at <= `+p+` AND (a.published_at < `+p+` OR a.slug > `+s+`)`)
	}
	query := `SELECT ` + articleColumns + ` FROM articles a` + f.where() +
		` ORDER BY a.published_at DESC, a.slug LIMIT ` + f.arg(r.Limit)
	rows, err := db.pool.Query(ctx, query, f.args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: list articles: %w", err)
	}
	defer rows.Close()
	as := make([]*blog.Article, 0, min(r.Limit, blog.MaxPage+1))
	for rows.Next() {
		a, err := scanArticle(rows)
		if err != nil {
			return nil, fmt.Errorf("postgres: list articles: %w", err)
		}
		as = append(as, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: list articles: %w", err)
	}
	return as, nil
}

// ListTags returns every tag with the number of articles carrying it, most
// used first, then in byte order (the tag column is COLLATE "C", as SQLite
// compares text).
func (db *DB) ListTags(ctx context.Context, opts blog.TagOptions) ([]blog.TagCount, error) {
	var f filter
	f.common(blog.Filter{Language: opts.Language, IncludeDrafts: opts.IncludeDrafts, Now: opts.Now})
	query := `SELECT t.tag, count(*) AS n FROM article_tags t JOIN articles a ON a.id = t.article_id` +
		f.where() + ` GROUP BY t.tag ORDER BY n DESC, t.tag`
	rows, err := db.pool.Query(ctx, query, f.args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: list tags: %w", err)
	}
	defer rows.Close()
	tags := []blog.TagCount{}
	for rows.Next() {
		var tc blog.TagCount
		if err := rows.Scan(&tc.Tag, &tc.Count); err != nil {
			return nil, fmt.Errorf("postgres: list tags: %w", err)
		}
		tags = append(tags, tc)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: list tags: %w", err)
	}
	return tags, nil
}

// CountArticles returns how many articles are stored, drafts included.
func (db *DB) CountArticles(ctx context.Context) (int, error) {
	var n int
	if err := db.pool.QueryRow(ctx, `SELECT count(*) FROM articles`).Scan(&n); err != nil {
		return 0, fmt.Errorf("postgres: count articles: %w", err)
	}
	return n, nil
}

// CreateArticle stores a new article and its first revision; the slug
// must be free.
func (db *DB) CreateArticle(ctx context.Context, a *blog.Article, c blog.Change) error {
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		if _, err := insertArticle(ctx, tx, a); err != nil {
			return err
		}
		// A new article is no file's, even if a trashed one of its slug
		// was (purge would have dropped that source).
		if _, err := tx.Exec(ctx, `DELETE FROM article_sources WHERE slug = $1`, a.Slug); err != nil {
			return err
		}
		return keepRevision(ctx, tx, c, blog.ActionCreated, blog.ChangedFields(nil, a), a)
	})
	if err != nil {
		return fmt.Errorf("postgres: create article %q: %w", a.Slug, err)
	}
	return nil
}

// lockArticle reads and locks the article with slug, or reports
// errdefs.ErrNotFound. Every writer of an article takes its row lock
// first, so concurrent changes of one article wait for each other and
// each sees the one before it (and its revision).
func lockArticle(ctx context.Context, tx pgx.Tx, slug string) (*blog.Article, int64, error) {
	var id int64
	a, err := scanArticle(tx.QueryRow(ctx, `SELECT `+articleColumns+`, a.id FROM articles a WHERE a.slug = $1 FOR UPDATE`, slug), &id)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, 0, errdefs.ErrNotFound
	}
	return a, id, err
}

// UpdateArticle replaces every field of the stored article with a.Slug.
func (db *DB) UpdateArticle(ctx context.Context, a *blog.Article, c blog.Change) error {
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		old, id, err := lockArticle(ctx, tx, a.Slug)
		if err != nil {
			return err
		}
		if c.Expect != nil && !sameArticle(old, c.Expect) {
			return fmt.Errorf("the article changed since it was read: %w", errdefs.ErrConflict)
		}
		args := append(articleArgs(a), id)
		if _, err := tx.Exec(ctx, `UPDATE articles SET `+articleSet+` WHERE id = $`+fmt.Sprint(len(args)), args...); err != nil {
			return err
		}
		if err := replaceTags(ctx, tx, id, a); err != nil {
			return err
		}
		return keepRevision(ctx, tx, c, blog.ActionUpdated, blog.ChangedFields(old, a), a)
	})
	if err != nil {
		return fmt.Errorf("postgres: update article %q: %w", a.Slug, err)
	}
	return nil
}

// DeleteArticle moves the article with this slug to the trash (its tags
// go by the foreign key's cascade; its search entry is a column of its
// row), keeping it whole there and in a revision.
func (db *DB) DeleteArticle(ctx context.Context, slug string, c blog.Change) error {
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		old, id, err := lockArticle(ctx, tx, slug)
		if err != nil {
			return err
		}
		js, err := articleJSON(old)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO article_trash (slug, article, deleted_at, deleted_by) VALUES ($1, $2, $3, $4)
			ON CONFLICT (slug) DO UPDATE SET article = excluded.article, deleted_at = excluded.deleted_at, deleted_by = excluded.deleted_by`,
			slug, js, stamp(c.At), c.Actor); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM articles WHERE id = $1`, id); err != nil {
			return err
		}
		return keepRevision(ctx, tx, c, blog.ActionDeleted, []string{}, old)
	})
	if err != nil {
		return fmt.Errorf("postgres: delete article %q: %w", slug, err)
	}
	return nil
}

// RestoreArticle brings a trashed article back.
func (db *DB) RestoreArticle(ctx context.Context, slug string, c blog.Change) (*blog.Article, error) {
	var a *blog.Article
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		var js string
		err := tx.QueryRow(ctx, `DELETE FROM article_trash WHERE slug = $1 RETURNING article`, slug).Scan(&js)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("no article %q in the trash: %w", slug, errdefs.ErrNotFound)
		}
		if err != nil {
			return err
		}
		if a, err = decodeArticle(js); err != nil {
			return err
		}
		a.UpdatedAt = stamp(c.At)
		if _, err := insertArticle(ctx, tx, a); err != nil {
			return err // ErrConflict: a new article has the slug; the rollback keeps the trashed one
		}
		return keepRevision(ctx, tx, c, blog.ActionRestored, []string{}, a)
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: restore article %q: %w", slug, err)
	}
	return a, nil
}

// ListTrash returns the trashed articles, most recently deleted first.
func (db *DB) ListTrash(ctx context.Context) ([]*blog.Trashed, error) {
	rows, err := db.pool.Query(ctx, `SELECT article, deleted_at, deleted_by FROM article_trash ORDER BY deleted_at DESC, slug`)
	if err != nil {
		return nil, fmt.Errorf("postgres: list trash: %w", err)
	}
	defer rows.Close()
	out := []*blog.Trashed{}
	for rows.Next() {
		var (
			js string
			t  blog.Trashed
		)
		if err := rows.Scan(&js, &t.DeletedAt, &t.DeletedBy); err != nil {
			return nil, fmt.Errorf("postgres: list trash: %w", err)
		}
		if t.Article, err = decodeArticle(js); err != nil {
			return nil, fmt.Errorf("postgres: list trash: %w", err)
		}
		t.DeletedAt = t.DeletedAt.UTC()
		out = append(out, &t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: list trash: %w", err)
	}
	return out, nil
}

// PurgeTrash deletes trashed articles for good, with their history.
func (db *DB) PurgeTrash(ctx context.Context, slug string, before time.Time) (int, error) {
	var n int
	err := db.pool.QueryRow(ctx, `WITH gone AS (
			DELETE FROM article_trash WHERE ($1 = '' OR slug = $1) AND deleted_at <= $2 RETURNING slug
		), revs AS (
			-- The trashed article's history is every revision up to its
			-- deletion (earlier lives of the slug too); a live article of
			-- that slug made since keeps its own.
			DELETE FROM article_revisions r USING gone
			WHERE r.slug = gone.slug AND r.id <= coalesce(
				(SELECT max(d.id) FROM article_revisions d WHERE d.slug = gone.slug AND d.action = 'deleted'), 0)
		), srcs AS (
			-- Where it came from goes too, unless a live article has the
			-- slug: a new article with it is not that file.
			DELETE FROM article_sources s USING gone
			WHERE s.slug = gone.slug AND NOT EXISTS (SELECT 1 FROM articles a WHERE a.slug = gone.slug)
		)
		SELECT count(*) FROM gone`, slug, stamp(before)).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("postgres: purge trash: %w", err)
	}
	return n, nil
}

// ListRevisions returns a page of an article's revisions, newest first.
func (db *DB) ListRevisions(ctx context.Context, r blog.RevisionRange) ([]*blog.Revision, error) {
	rows, err := db.pool.Query(ctx, `SELECT id, slug, at, actor, action, changed FROM article_revisions
		WHERE slug = $1 AND ($2 = 0 OR id < $2) ORDER BY id DESC LIMIT $3`, r.Slug, r.Before, r.Limit)
	if err != nil {
		return nil, fmt.Errorf("postgres: list revisions: %w", err)
	}
	defer rows.Close()
	out := []*blog.Revision{}
	for rows.Next() {
		rev, err := scanRevision(rows)
		if err != nil {
			return nil, fmt.Errorf("postgres: list revisions: %w", err)
		}
		out = append(out, rev)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: list revisions: %w", err)
	}
	return out, nil
}

// GetRevision returns one revision with its article.
func (db *DB) GetRevision(ctx context.Context, slug string, id int64) (*blog.Revision, error) {
	var js string
	rev, err := scanRevision(db.pool.QueryRow(ctx, `SELECT id, slug, at, actor, action, changed, article
		FROM article_revisions WHERE slug = $1 AND id = $2`, slug, id), &js)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("revision %d of %q: %w", id, slug, errdefs.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: get revision: %w", err)
	}
	if rev.Article, err = decodeArticle(js); err != nil {
		return nil, fmt.Errorf("postgres: get revision: %w", err)
	}
	return rev, nil
}

// RevisionsAfter returns the whole history in id order, a page at a time.
func (db *DB) RevisionsAfter(ctx context.Context, after int64, limit int) ([]*blog.Revision, error) {
	rows, err := db.pool.Query(ctx, `SELECT id, slug, at, actor, action, changed, article FROM article_revisions
		WHERE id > $1 ORDER BY id LIMIT $2`, after, limit)
	if err != nil {
		return nil, fmt.Errorf("postgres: revisions after %d: %w", after, err)
	}
	defer rows.Close()
	out := []*blog.Revision{}
	for rows.Next() {
		var js string
		rev, err := scanRevision(rows, &js)
		if err == nil {
			rev.Article, err = decodeArticle(js)
		}
		if err != nil {
			return nil, fmt.Errorf("postgres: revisions after %d: %w", after, err)
		}
		out = append(out, rev)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: revisions after %d: %w", after, err)
	}
	return out, nil
}

// CopyHistory stores another database's revisions and trash.
func (db *DB) CopyHistory(ctx context.Context, revs []*blog.Revision, trash []*blog.Trashed) error {
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		for _, r := range revs {
			if err := keepRevision(ctx, tx, blog.Change{Actor: r.Actor, At: r.At, Action: r.Action}, r.Action, r.Changed, r.Article); err != nil {
				return err
			}
		}
		for _, t := range trash {
			js, err := articleJSON(t.Article)
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `INSERT INTO article_trash (slug, article, deleted_at, deleted_by) VALUES ($1, $2, $3, $4)`,
				t.Article.Slug, js, stamp(t.DeletedAt), t.DeletedBy); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("postgres: copy history: %w", err)
	}
	return nil
}

// scanRevision reads id, slug, at, actor, action, changed, then extra.
func scanRevision(row pgx.Row, extra ...any) (*blog.Revision, error) {
	var (
		rev     blog.Revision
		changed string
	)
	if err := row.Scan(append([]any{&rev.ID, &rev.Slug, &rev.At, &rev.Actor, &rev.Action, &changed}, extra...)...); err != nil {
		return nil, err
	}
	rev.At = rev.At.UTC()
	if err := json.Unmarshal([]byte(changed), &rev.Changed); err != nil {
		return nil, fmt.Errorf("revision %d: stored fields: %w", rev.ID, err)
	}
	return &rev, nil
}

// keepRevision records a revision of a and drops the oldest beyond
// c.Keep.
func keepRevision(ctx context.Context, tx pgx.Tx, c blog.Change, action string, changed []string, a *blog.Article) error {
	if c.Quiet {
		return nil
	}
	if c.Action != "" {
		action = c.Action
	}
	js, err := articleJSON(a)
	if err != nil {
		return err
	}
	fields, err := json.Marshal(changed)
	if err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `INSERT INTO article_revisions (slug, at, actor, action, changed, article) VALUES ($1, $2, $3, $4, $5, $6)`,
		a.Slug, stamp(c.At), c.Actor, action, string(fields), js); err != nil {
		return err
	}
	if c.Keep > 0 {
		_, err = tx.Exec(ctx, `DELETE FROM article_revisions WHERE slug = $1 AND id <= (
			SELECT id FROM article_revisions WHERE slug = $1 ORDER BY id DESC OFFSET $2 LIMIT 1)`, a.Slug, c.Keep)
	}
	return err
}

// articleJSON is how revisions and the trash keep an article.
func articleJSON(a *blog.Article) (string, error) {
	c := *a
	c.Tags = tagsOf(a)
	b, err := json.Marshal(&c)
	return string(b), err
}

func decodeArticle(js string) (*blog.Article, error) {
	var a blog.Article
	if err := json.Unmarshal([]byte(js), &a); err != nil {
		return nil, fmt.Errorf("a kept article: %w", err)
	}
	a.Tags = tagsOf(&a)
	a.PublishedAt, a.UpdatedAt = a.PublishedAt.UTC(), a.UpdatedAt.UTC()
	return &a, nil
}

// UpsertArticles creates or replaces every article in one transaction and
// says, per article, what it did. An article equal in every field to the
// stored one is left alone, so re-importing the same files writes nothing.
//
// Articles are written in slug order (outcomes are still reported in the
// order given), and the stored ones are locked up front in that order: two
// imports of overlapping batches running at once then take their row locks
// in the same order and wait for each other instead of deadlocking. A
// slug given twice is written twice, in the order given, as SQLite does.
func (db *DB) UpsertArticles(ctx context.Context, as []*blog.Article, c blog.Change) ([]blog.UpsertOutcome, error) {
	outcomes := make([]blog.UpsertOutcome, len(as))
	if len(as) == 0 {
		return outcomes, nil
	}
	order := make([]int, len(as))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(i, j int) int { return strings.Compare(as[i].Slug, as[j].Slug) })
	slugs := make([]string, 0, len(as))
	for _, i := range order {
		slugs = append(slugs, as[i].Slug)
	}
	slugs = slices.Compact(slugs)

	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		stored, err := lockArticles(ctx, tx, slugs)
		if err != nil {
			return err
		}
		for _, i := range order {
			// A large import should stop promptly when asked to.
			if err := ctx.Err(); err != nil {
				return err
			}
			a := as[i]
			o, err := upsertArticle(ctx, tx, stored, a, c)
			if err != nil {
				return fmt.Errorf("article %q: %w", a.Slug, err)
			}
			outcomes[i] = o
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: upsert articles: %w", err)
	}
	return outcomes, nil
}

// storedArticle is an article as it is in the database, with its row id.
type storedArticle struct {
	id int64
	a  *blog.Article
}

// lockArticles reads the stored articles with these slugs (sorted) and
// locks their rows until the transaction ends.
func lockArticles(ctx context.Context, tx pgx.Tx, slugs []string) (map[string]storedArticle, error) {
	rows, err := tx.Query(ctx, `SELECT `+articleColumns+`, a.id FROM articles a
		WHERE a.slug = ANY($1) ORDER BY a.slug FOR UPDATE`, slugs)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	stored := make(map[string]storedArticle)
	for rows.Next() {
		var id int64
		a, err := scanArticle(rows, &id)
		if err != nil {
			return nil, err
		}
		stored[a.Slug] = storedArticle{id: id, a: a}
	}
	return stored, rows.Err()
}

// maxUpsertTries bounds how often upsertArticle goes round when other
// processes keep creating and deleting the same slug under it.
const maxUpsertTries = 3

// upsertArticle writes a and records it in stored (what this transaction
// has locked or written, by slug).
func upsertArticle(ctx context.Context, tx pgx.Tx, stored map[string]storedArticle, a *blog.Article, c blog.Change) (blog.UpsertOutcome, error) {
	for range maxUpsertTries {
		old, ok := stored[a.Slug]
		if !ok {
			id, err := insertArticle(ctx, tx, a)
			if errors.Is(err, errdefs.ErrConflict) {
				// Another process created the slug after lockArticles
				// looked (READ COMMITTED: each statement sees what was
				// committed before it began). The insert waited for that
				// transaction to commit, so it can be read and locked now.
				if err := lockOne(ctx, tx, stored, a.Slug); err != nil {
					return 0, err
				}
				continue
			}
			if err != nil {
				return 0, err
			}
			stored[a.Slug] = storedArticle{id: id, a: a.Clone()}
			return blog.Created, keepRevision(ctx, tx, c, blog.ActionCreated, blog.ChangedFields(nil, a), a)
		}
		if sameArticle(old.a, a) {
			return blog.Unchanged, nil
		}
		// The row is locked, so it is still there: the UPDATE by id
		// cannot miss.
		args := append(articleArgs(a), old.id)
		if _, err := tx.Exec(ctx, `UPDATE articles SET `+articleSet+` WHERE id = $`+fmt.Sprint(len(args)), args...); err != nil {
			return 0, err
		}
		if err := replaceTags(ctx, tx, old.id, a); err != nil {
			return 0, err
		}
		stored[a.Slug] = storedArticle{id: old.id, a: a.Clone()}
		return blog.Updated, keepRevision(ctx, tx, c, blog.ActionUpdated, blog.ChangedFields(old.a, a), a)
	}
	return 0, fmt.Errorf("slug %q was created and deleted by others %d times during the upsert", a.Slug, maxUpsertTries)
}

// lockOne reads and locks the article with slug into stored, or removes it
// from stored when no such article exists (any more).
func lockOne(ctx context.Context, tx pgx.Tx, stored map[string]storedArticle, slug string) error {
	var id int64
	a, err := scanArticle(tx.QueryRow(ctx, `SELECT `+articleColumns+`, a.id FROM articles a
		WHERE a.slug = $1 FOR UPDATE`, slug), &id)
	if errors.Is(err, pgx.ErrNoRows) {
		delete(stored, slug)
		return nil
	}
	if err != nil {
		return err
	}
	stored[slug] = storedArticle{id: id, a: a}
	return nil
}

// sameArticle reports whether storing a over old would change nothing.
// Times compare as the whole seconds they are stored as.
func sameArticle(old, a *blog.Article) bool {
	return old.Slug == a.Slug && old.Title == a.Title && old.Summary == a.Summary &&
		old.Body == a.Body && slices.Equal(old.Tags, tagsOf(a)) && old.Language == a.Language &&
		old.Author == a.Author && stamp(old.PublishedAt).Equal(stamp(a.PublishedAt)) &&
		stamp(old.UpdatedAt).Equal(stamp(a.UpdatedAt)) && old.Draft == a.Draft &&
		old.TranslationKey == a.TranslationKey
}

// tagsOf returns a's tags, never nil, so nil and empty compare and store alike.
func tagsOf(a *blog.Article) []string {
	if a.Tags == nil {
		return []string{}
	}
	return a.Tags
}

// tagKeys returns blog.TagKey of every tag, in order.
func tagKeys(tags []string) []string {
	keys := make([]string, len(tags))
	for i, t := range tags {
		keys[i] = blog.TagKey(t)
	}
	return keys
}

// articleSet assigns every column but id from articleArgs' $1…$13.
const articleSet = `slug = $1, title = $2, summary = $3, tags = $4, language = $5, author = $6,
	published_at = $7, updated_at = $8, draft = $9, translation_key = $10, body = $11,
	search = $12::tsvector, head = $13::tsvector`

// articleArgs are the values of the columns after id, as $1…$13 of
// articleSet and insertArticle.
func articleArgs(a *blog.Article) []any {
	search, head := searchVectors(a)
	return []any{a.Slug, a.Title, a.Summary, tagsOf(a), a.Language, a.Author,
		stamp(a.PublishedAt), stamp(a.UpdatedAt), a.Draft, a.TranslationKey, a.Body,
		search, head}
}

// querier is a pool or a transaction.
type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// insertArticle adds a new article with its tags in one statement, or
// fails with errdefs.ErrConflict when the slug is taken. ON CONFLICT DO
// NOTHING makes a concurrent insert of the same slug wait for the other
// transaction and then insert nothing (or insert after all, if the other
// rolled back), so two creates racing end in one article and one
// ErrConflict, never in a unique_violation.
func insertArticle(ctx context.Context, q querier, a *blog.Article) (int64, error) {
	tags := tagsOf(a)
	args := append(articleArgs(a), tags, tagKeys(tags))
	var id int64
	err := q.QueryRow(ctx, `WITH a AS (
			INSERT INTO articles (slug, title, summary, tags, language, author,
				published_at, updated_at, draft, translation_key, body, search, head)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12::tsvector, $13::tsvector)
			ON CONFLICT (slug) DO NOTHING
			RETURNING id
		), t AS (
			INSERT INTO article_tags (article_id, tag, tag_key)
			SELECT a.id, u.tag, u.tag_key FROM a, unnest($14::text[], $15::text[]) AS u (tag, tag_key)
			ON CONFLICT DO NOTHING
		)
		SELECT id FROM a`, args...).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) || isUniqueViolation(err, "articles_slug_key") {
		return 0, fmt.Errorf("slug %q is taken: %w", a.Slug, errdefs.ErrConflict)
	}
	if err != nil {
		return 0, err
	}
	return id, nil
}

// replaceTags makes the rows of article_tags for the article id those of
// a's tags. The caller holds the article's row lock (every writer takes it
// first), so the statement's snapshot, taken after the lock, sees every
// earlier writer's tags. Deleting only the tags that went and inserting
// the new ones keeps both in one statement without it meeting a row it
// deletes itself. ON CONFLICT DO NOTHING keeps the tags that stay.
func replaceTags(ctx context.Context, tx pgx.Tx, id int64, a *blog.Article) error {
	tags := tagsOf(a)
	_, err := tx.Exec(ctx, `WITH gone AS (
			DELETE FROM article_tags WHERE article_id = $1 AND tag <> ALL ($2::text[])
		)
		INSERT INTO article_tags (article_id, tag, tag_key)
		SELECT $1, u.tag, u.tag_key FROM unnest($2::text[], $3::text[]) AS u (tag, tag_key)
		ON CONFLICT DO NOTHING`, id, tags, tagKeys(tags))
	return err
}

// SaveSources creates or replaces the source of each article.
func (db *DB) SaveSources(ctx context.Context, ss []*blog.Source) error {
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		for _, s := range ss {
			// A file is one article's: a slug changed in it moves it.
			if s.Path != "" {
				if _, err := tx.Exec(ctx, `DELETE FROM article_sources WHERE path = $1 AND slug <> $2`, s.Path, s.Slug); err != nil {
					return err
				}
			}
			if _, err := tx.Exec(ctx, `INSERT INTO article_sources (slug, path, format, extra, zone) VALUES ($1, $2, $3, $4, $5)
				ON CONFLICT (slug) DO UPDATE SET path = excluded.path, format = excluded.format, extra = excluded.extra, zone = excluded.zone`,
				s.Slug, s.Path, s.Format, s.Extra, s.Zone); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("postgres: save sources: %w", err)
	}
	return nil
}

// ListSources returns every stored source, by slug.
func (db *DB) ListSources(ctx context.Context) ([]*blog.Source, error) {
	rows, err := db.pool.Query(ctx, `SELECT slug, path, format, extra, zone FROM article_sources ORDER BY slug`)
	if err != nil {
		return nil, fmt.Errorf("postgres: list sources: %w", err)
	}
	defer rows.Close()
	out := []*blog.Source{}
	for rows.Next() {
		var s blog.Source
		if err := rows.Scan(&s.Slug, &s.Path, &s.Format, &s.Extra, &s.Zone); err != nil {
			return nil, fmt.Errorf("postgres: list sources: %w", err)
		}
		out = append(out, &s)
	}
	return out, rows.Err()
}
