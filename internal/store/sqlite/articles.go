package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/2coffee/mcp-2coffee/internal/blog"
	"github.com/2coffee/mcp-2coffee/internal/errdefs"
)

var _ blog.Store = (*DB)(nil)

// articleColumns are the columns scanArticle reads, in its order, from
// articleTables.
const articleColumns = `a.slug, a.title, a.summary, a.tags, a.language, a.author,
	a.published_at, a.updated_at, a.draft, a.translation_key, b.body`

// articleTables joins each article to its body.
const articleTables = `articles a JOIN article_bodies b ON b.article_id = a.id`

// rowScanner is a *sql.Row or *sql.Rows.
type rowScanner interface {
	Scan(dest ...any) error
}

// scanArticle reads articleColumns, then any extra columns into extra.
func scanArticle(s rowScanner, extra ...any) (*blog.Article, error) {
	var (
		a                  blog.Article
		tags               string
		published, updated int64
	)
	dest := append([]any{&a.Slug, &a.Title, &a.Summary, &tags, &a.Language, &a.Author,
		&published, &updated, &a.Draft, &a.TranslationKey, &a.Body}, extra...)
	if err := s.Scan(dest...); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(tags), &a.Tags); err != nil {
		return nil, fmt.Errorf("article %q: stored tags: %w", a.Slug, err)
	}
	if a.Tags == nil {
		a.Tags = []string{} // as blog.NormalizeTags makes them: "tags": [] rather than null
	}
	a.PublishedAt = time.Unix(published, 0).UTC()
	a.UpdatedAt = time.Unix(updated, 0).UTC()
	return &a, nil
}

// GetArticle returns the article with this slug, drafts included.
func (db *DB) GetArticle(ctx context.Context, slug string) (*blog.Article, error) {
	stmt, err := db.prepared(ctx, `SELECT `+articleColumns+` FROM `+articleTables+` WHERE a.slug = ?`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: get article %q: %w", slug, err)
	}
	a, err := scanArticle(stmt.QueryRowContext(ctx, slug))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("article %q: %w", slug, errdefs.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: get article %q: %w", slug, err)
	}
	return a, nil
}

// filter collects the WHERE conditions and arguments that listings,
// searches and tag counts share.
type filter struct {
	conds []string
	args  []any
}

func (f *filter) add(cond string, args ...any) {
	f.conds = append(f.conds, cond)
	f.args = append(f.args, args...)
}

// common adds the tag, language and draft filters on the articles table
// aliased "a".
func (f *filter) common(bf blog.Filter) {
	if !bf.IncludeDrafts {
		f.add(`a.draft = 0`)
		if !bf.Now.IsZero() {
			f.add(`a.published_at <= ?`, bf.Now.Unix()) // not scheduled
		}
	}
	if bf.Language != "" {
		f.add(`a.language = ?`, bf.Language)
	}
	if bf.Tag != "" {
		f.add(`a.id IN (SELECT article_id FROM article_tags WHERE tag_key = ?)`, blog.TagKey(bf.Tag))
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
		p := r.After.PublishedAt.Unix()
		f.add(`a.published_at <= ? AND (a.published_at < ? OR a.slug > ?)`, p, p, r.After.Slug)
	}
	query := `SELECT ` + articleColumns + ` FROM ` + articleTables + f.where() +
		` ORDER BY a.published_at DESC, a.slug LIMIT ?`
	stmt, err := db.prepared(ctx, query)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list articles: %w", err)
	}
	rows, err := stmt.QueryContext(ctx, append(f.args, r.Limit)...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list articles: %w", err)
	}
	defer rows.Close()
	as := make([]*blog.Article, 0, min(r.Limit, blog.MaxPage+1))
	for rows.Next() {
		a, err := scanArticle(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list articles: %w", err)
		}
		as = append(as, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list articles: %w", err)
	}
	return as, nil
}

// ListTags returns every tag with the number of articles carrying it, most
// used first, then alphabetically.
func (db *DB) ListTags(ctx context.Context, opts blog.TagOptions) ([]blog.TagCount, error) {
	var f filter
	f.common(blog.Filter{Language: opts.Language, IncludeDrafts: opts.IncludeDrafts, Now: opts.Now})
	query := `SELECT t.tag, count(*) AS n FROM article_tags t JOIN articles a ON a.id = t.article_id` +
		f.where() + ` GROUP BY t.tag ORDER BY n DESC, t.tag`
	stmt, err := db.prepared(ctx, query)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list tags: %w", err)
	}
	rows, err := stmt.QueryContext(ctx, f.args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list tags: %w", err)
	}
	defer rows.Close()
	tags := []blog.TagCount{}
	for rows.Next() {
		var tc blog.TagCount
		if err := rows.Scan(&tc.Tag, &tc.Count); err != nil {
			return nil, fmt.Errorf("sqlite: list tags: %w", err)
		}
		tags = append(tags, tc)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list tags: %w", err)
	}
	return tags, nil
}

// CountArticles returns how many articles are stored, drafts included.
func (db *DB) CountArticles(ctx context.Context) (int, error) {
	var n int
	if err := db.db.QueryRowContext(ctx, `SELECT count(*) FROM articles`).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlite: count articles: %w", err)
	}
	return n, nil
}

// CreateArticle stores a new article; the slug must be free.
func (db *DB) CreateArticle(ctx context.Context, a *blog.Article, c blog.Change) error {
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := insertArticle(ctx, tx, a); err != nil {
			return err
		}
		// A new article is no file's, even if a trashed one of its slug
		// was (purge would have dropped that source).
		if _, err := tx.ExecContext(ctx, `DELETE FROM article_sources WHERE slug = ?`, a.Slug); err != nil {
			return err
		}
		return keepRevision(ctx, tx, c, blog.ActionCreated, blog.ChangedFields(nil, a), a)
	})
	if err != nil {
		return fmt.Errorf("sqlite: create article %q: %w", a.Slug, err)
	}
	return nil
}

// storedArticle reads the article with slug and its row id in tx, or
// errdefs.ErrNotFound.
func storedArticle(ctx context.Context, tx *sql.Tx, slug string) (*blog.Article, int64, error) {
	var id int64
	a, err := scanArticle(tx.QueryRowContext(ctx, `SELECT `+articleColumns+`, a.id FROM `+articleTables+` WHERE a.slug = ?`, slug), &id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, 0, errdefs.ErrNotFound
	}
	return a, id, err
}

// UpdateArticle replaces every field of the stored article with a.Slug.
func (db *DB) UpdateArticle(ctx context.Context, a *blog.Article, c blog.Change) error {
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		old, id, err := storedArticle(ctx, tx, a.Slug)
		if err != nil {
			return err
		}
		if c.Expect != nil && !sameArticle(old, c.Expect) {
			return fmt.Errorf("the article changed since it was read: %w", errdefs.ErrConflict)
		}
		if err := replaceArticle(ctx, tx, id, a); err != nil {
			return err
		}
		return keepRevision(ctx, tx, c, blog.ActionUpdated, blog.ChangedFields(old, a), a)
	})
	if err != nil {
		return fmt.Errorf("sqlite: update article %q: %w", a.Slug, err)
	}
	return nil
}

// DeleteArticle moves the article with this slug to the trash: its row,
// body and tags go (by the foreign keys' cascade) with its search index
// entries, and the whole article is kept in article_trash and in a
// revision.
func (db *DB) DeleteArticle(ctx context.Context, slug string, c blog.Change) error {
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		old, id, err := storedArticle(ctx, tx, slug)
		if err != nil {
			return err
		}
		js, err := articleJSON(old)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO article_trash (slug, article, deleted_at, deleted_by) VALUES (?, ?, ?, ?)
			ON CONFLICT (slug) DO UPDATE SET article = excluded.article, deleted_at = excluded.deleted_at, deleted_by = excluded.deleted_by`,
			slug, js, c.At.Unix(), c.Actor); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM articles WHERE id = ?`, id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM articles_fts WHERE rowid = ?`, id); err != nil {
			return err
		}
		if _, err = tx.ExecContext(ctx, `DELETE FROM articles_head_fts WHERE rowid = ?`, id); err != nil {
			return err
		}
		return keepRevision(ctx, tx, c, blog.ActionDeleted, []string{}, old)
	})
	if err != nil {
		return fmt.Errorf("sqlite: delete article %q: %w", slug, err)
	}
	return nil
}

// RestoreArticle brings a trashed article back.
func (db *DB) RestoreArticle(ctx context.Context, slug string, c blog.Change) (*blog.Article, error) {
	var a *blog.Article
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		var js string
		err := tx.QueryRowContext(ctx, `DELETE FROM article_trash WHERE slug = ? RETURNING article`, slug).Scan(&js)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("no article %q in the trash: %w", slug, errdefs.ErrNotFound)
		}
		if err != nil {
			return err
		}
		if a, err = decodeArticle(js); err != nil {
			return err
		}
		a.UpdatedAt = c.At.UTC().Truncate(time.Second)
		if _, err := insertArticle(ctx, tx, a); err != nil {
			return err // ErrConflict: a new article has the slug; the rollback keeps the trashed one
		}
		return keepRevision(ctx, tx, c, blog.ActionRestored, []string{}, a)
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: restore article %q: %w", slug, err)
	}
	return a, nil
}

// ListTrash returns the trashed articles, most recently deleted first.
func (db *DB) ListTrash(ctx context.Context) ([]*blog.Trashed, error) {
	rows, err := db.db.QueryContext(ctx, `SELECT article, deleted_at, deleted_by FROM article_trash ORDER BY deleted_at DESC, slug`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list trash: %w", err)
	}
	defer rows.Close()
	out := []*blog.Trashed{}
	for rows.Next() {
		var (
			js string
			at int64
			t  blog.Trashed
		)
		if err := rows.Scan(&js, &at, &t.DeletedBy); err != nil {
			return nil, fmt.Errorf("sqlite: list trash: %w", err)
		}
		if t.Article, err = decodeArticle(js); err != nil {
			return nil, fmt.Errorf("sqlite: list trash: %w", err)
		}
		t.DeletedAt = time.Unix(at, 0).UTC()
		out = append(out, &t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list trash: %w", err)
	}
	return out, nil
}

// PurgeTrash deletes trashed articles for good, with their history.
func (db *DB) PurgeTrash(ctx context.Context, slug string, before time.Time) (int, error) {
	n := 0
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `DELETE FROM article_trash WHERE (?1 = '' OR slug = ?1) AND deleted_at <= ?2 RETURNING slug`, slug, before.Unix())
		if err != nil {
			return err
		}
		var slugs []string
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				rows.Close()
				return err
			}
			slugs = append(slugs, s)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, s := range slugs {
			// The trashed article's history is every revision up to its
			// deletion (earlier lives of the slug too); a live article
			// of that slug made since keeps its own.
			if _, err := tx.ExecContext(ctx, `DELETE FROM article_revisions WHERE slug = ?1 AND id <= coalesce(
				(SELECT max(id) FROM article_revisions WHERE slug = ?1 AND action = 'deleted'), 0)`, s); err != nil {
				return err
			}
			// Where it came from goes too, unless a live article has the
			// slug: a new article with it is not that file.
			if _, err := tx.ExecContext(ctx, `DELETE FROM article_sources WHERE slug = ?1
				AND NOT EXISTS (SELECT 1 FROM articles WHERE slug = ?1)`, s); err != nil {
				return err
			}
		}
		n = len(slugs)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("sqlite: purge trash: %w", err)
	}
	return n, nil
}

// ListRevisions returns a page of an article's revisions, newest first.
func (db *DB) ListRevisions(ctx context.Context, r blog.RevisionRange) ([]*blog.Revision, error) {
	rows, err := db.db.QueryContext(ctx, `SELECT id, slug, at, actor, action, changed FROM article_revisions
		WHERE slug = ?1 AND (?2 = 0 OR id < ?2) ORDER BY id DESC LIMIT ?3`, r.Slug, r.Before, r.Limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list revisions: %w", err)
	}
	defer rows.Close()
	out := []*blog.Revision{}
	for rows.Next() {
		rev, err := scanRevision(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list revisions: %w", err)
		}
		out = append(out, rev)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list revisions: %w", err)
	}
	return out, nil
}

// GetRevision returns one revision with its article.
func (db *DB) GetRevision(ctx context.Context, slug string, id int64) (*blog.Revision, error) {
	var js string
	rev, err := scanRevision(db.db.QueryRowContext(ctx, `SELECT id, slug, at, actor, action, changed, article
		FROM article_revisions WHERE slug = ? AND id = ?`, slug, id), &js)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("revision %d of %q: %w", id, slug, errdefs.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: get revision: %w", err)
	}
	if rev.Article, err = decodeArticle(js); err != nil {
		return nil, fmt.Errorf("sqlite: get revision: %w", err)
	}
	return rev, nil
}

// RevisionsAfter returns the whole history in id order, a page at a time.
func (db *DB) RevisionsAfter(ctx context.Context, after int64, limit int) ([]*blog.Revision, error) {
	rows, err := db.db.QueryContext(ctx, `SELECT id, slug, at, actor, action, changed, article FROM article_revisions
		WHERE id > ? ORDER BY id LIMIT ?`, after, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: revisions after %d: %w", after, err)
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
			return nil, fmt.Errorf("sqlite: revisions after %d: %w", after, err)
		}
		out = append(out, rev)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: revisions after %d: %w", after, err)
	}
	return out, nil
}

// CopyHistory stores another database's revisions and trash.
func (db *DB) CopyHistory(ctx context.Context, revs []*blog.Revision, trash []*blog.Trashed) error {
	err := db.inTx(ctx, func(tx *sql.Tx) error {
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
			if _, err := tx.ExecContext(ctx, `INSERT INTO article_trash (slug, article, deleted_at, deleted_by) VALUES (?, ?, ?, ?)`,
				t.Article.Slug, js, t.DeletedAt.Unix(), t.DeletedBy); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlite: copy history: %w", err)
	}
	return nil
}

// scanRevision reads id, slug, at, actor, action, changed, then extra.
func scanRevision(s rowScanner, extra ...any) (*blog.Revision, error) {
	var (
		rev     blog.Revision
		at      int64
		changed string
	)
	if err := s.Scan(append([]any{&rev.ID, &rev.Slug, &at, &rev.Actor, &rev.Action, &changed}, extra...)...); err != nil {
		return nil, err
	}
	rev.At = time.Unix(at, 0).UTC()
	if err := json.Unmarshal([]byte(changed), &rev.Changed); err != nil {
		return nil, fmt.Errorf("revision %d: stored fields: %w", rev.ID, err)
	}
	return &rev, nil
}

// keepRevision records a revision of a and drops the oldest beyond
// c.Keep.
func keepRevision(ctx context.Context, tx *sql.Tx, c blog.Change, action string, changed []string, a *blog.Article) error {
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
	if _, err := tx.ExecContext(ctx, `INSERT INTO article_revisions (slug, at, actor, action, changed, article) VALUES (?, ?, ?, ?, ?, ?)`,
		a.Slug, c.At.Unix(), c.Actor, action, string(fields), js); err != nil {
		return err
	}
	if c.Keep > 0 {
		_, err = tx.ExecContext(ctx, `DELETE FROM article_revisions WHERE slug = ?1 AND id <= (
			SELECT id FROM article_revisions WHERE slug = ?1 ORDER BY id DESC LIMIT 1 OFFSET ?2)`, a.Slug, c.Keep)
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
func (db *DB) UpsertArticles(ctx context.Context, as []*blog.Article, c blog.Change) ([]blog.UpsertOutcome, error) {
	outcomes := make([]blog.UpsertOutcome, 0, len(as))
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		for _, a := range as {
			// A large import should stop promptly when asked to.
			if err := ctx.Err(); err != nil {
				return err
			}
			o, err := upsertArticle(ctx, tx, a, c)
			if err != nil {
				return fmt.Errorf("article %q: %w", a.Slug, err)
			}
			outcomes = append(outcomes, o)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: upsert articles: %w", err)
	}
	return outcomes, nil
}

func upsertArticle(ctx context.Context, tx *sql.Tx, a *blog.Article, c blog.Change) (blog.UpsertOutcome, error) {
	old, id, err := storedArticle(ctx, tx, a.Slug)
	switch {
	case errors.Is(err, errdefs.ErrNotFound):
		if _, err := insertArticle(ctx, tx, a); err != nil {
			return 0, err
		}
		return blog.Created, keepRevision(ctx, tx, c, blog.ActionCreated, blog.ChangedFields(nil, a), a)
	case err != nil:
		return 0, err
	case sameArticle(old, a):
		return blog.Unchanged, nil
	}
	if err := replaceArticle(ctx, tx, id, a); err != nil {
		return 0, err
	}
	return blog.Updated, keepRevision(ctx, tx, c, blog.ActionUpdated, blog.ChangedFields(old, a), a)
}

// sameArticle reports whether storing a over old would change nothing.
// Times compare as the Unix seconds they are stored as.
func sameArticle(old, a *blog.Article) bool {
	return old.Slug == a.Slug && old.Title == a.Title && old.Summary == a.Summary &&
		old.Body == a.Body && slices.Equal(old.Tags, tagsOf(a)) && old.Language == a.Language &&
		old.Author == a.Author && old.PublishedAt.Unix() == a.PublishedAt.Unix() &&
		old.UpdatedAt.Unix() == a.UpdatedAt.Unix() && old.Draft == a.Draft &&
		old.TranslationKey == a.TranslationKey
}

// tagsOf returns a's tags, never nil, so nil and empty compare and store alike.
func tagsOf(a *blog.Article) []string {
	if a.Tags == nil {
		return []string{}
	}
	return a.Tags
}

// inTx runs fn in a write transaction (BEGIN IMMEDIATE, see
// dataSourceName) and commits if it returns nil.
func (db *DB) inTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// articleArgs are the values of the article columns after id, in the order
// of insertArticle and replaceArticle.
func articleArgs(a *blog.Article) ([]any, error) {
	tags, err := json.Marshal(tagsOf(a))
	if err != nil {
		return nil, err
	}
	return []any{a.Slug, a.Title, a.Summary, string(tags), a.Language, a.Author,
		a.PublishedAt.Unix(), a.UpdatedAt.Unix(), a.Draft, a.TranslationKey}, nil
}

// insertArticle adds a new article with its tags and index entry, or fails
// with errdefs.ErrConflict when the slug is taken.
func insertArticle(ctx context.Context, tx *sql.Tx, a *blog.Article) (int64, error) {
	args, err := articleArgs(a)
	if err != nil {
		return 0, err
	}
	var id int64
	err = tx.QueryRowContext(ctx, `INSERT INTO articles
		(slug, title, summary, tags, language, author, published_at, updated_at, draft, translation_key)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (slug) DO NOTHING RETURNING id`, args...).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("slug %q is taken: %w", a.Slug, errdefs.ErrConflict)
	}
	if err != nil {
		return 0, err
	}
	return id, writeTagsAndIndex(ctx, tx, id, a)
}

// replaceArticle overwrites the article stored under id.
func replaceArticle(ctx context.Context, tx *sql.Tx, id int64, a *blog.Article) error {
	args, err := articleArgs(a)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE articles SET
		slug = ?, title = ?, summary = ?, tags = ?, language = ?, author = ?,
		published_at = ?, updated_at = ?, draft = ?, translation_key = ?
		WHERE id = ?`, append(args, id)...); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM article_tags WHERE article_id = ?`, id); err != nil {
		return err
	}
	return writeTagsAndIndex(ctx, tx, id, a)
}

// writeTagsAndIndex writes a's body, its rows in article_tags and its
// search index entry. The index is fed in Go rather than by triggers
// because it holds the folded words of the text, which SQL cannot compute
// (a Go function registered with the driver would make the file unwritable
// by any other SQLite tool).
func writeTagsAndIndex(ctx context.Context, tx *sql.Tx, id int64, a *blog.Article) error {
	if _, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO article_bodies (article_id, body) VALUES (?, ?)`,
		id, a.Body); err != nil {
		return err
	}
	tags := tagsOf(a)
	if len(tags) > 0 {
		// Each tag with its folded key, which filters compare.
		pairs := make([][2]string, len(tags))
		for i, t := range tags {
			pairs[i] = [2]string{t, blog.TagKey(t)}
		}
		js, err := json.Marshal(pairs)
		if err != nil {
			return err
		}
		// One statement for all tags; OR IGNORE tolerates tags that are
		// not de-duplicated, which would otherwise fail the primary key.
		if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO article_tags (article_id, tag, tag_key)
			SELECT ?, json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(?)`, id, string(js)); err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO articles_fts (rowid, title, tags, summary, body)
		VALUES (?, ?, ?, ?, ?)`,
		id, indexText(a.Title), indexText(strings.Join(tags, " ")), indexText(a.Summary), indexText(a.Body)); err != nil {
		return err
	}
	return indexHead(ctx, tx, id, a.Title, tags, a.Summary)
}

// indexHead writes the head of article id (its title, tags and summary)
// to articles_head_fts, the index search ranks with.
func indexHead(ctx context.Context, tx *sql.Tx, id int64, title string, tags []string, summary string) error {
	_, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO articles_head_fts (rowid, title, tags, summary) VALUES (?, ?, ?, ?)`,
		id, indexText(title), indexText(strings.Join(tags, " ")), indexText(summary))
	return err
}

// indexText is what the search index holds for s: its words as
// blog.ParseQuery sees them (folded, so "ca phe" matches "cà phê"), joined
// by spaces. Indexing blog.Fold(s) alone would leave the splitting of words
// to FTS5, whose unicode61 tables predate many symbols: it keeps newer
// emoji such as "🥳" inside a token, so "day🥳" would be one word that a
// search for "day" never finds.
func indexText(s string) string {
	return strings.Join(blog.Words(s), " ")
}

// SaveSources creates or replaces the source of each article.
func (db *DB) SaveSources(ctx context.Context, ss []*blog.Source) error {
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		for _, s := range ss {
			// A file is one article's: a slug changed in it moves it.
			if s.Path != "" {
				if _, err := tx.ExecContext(ctx, `DELETE FROM article_sources WHERE path = ? AND slug <> ?`, s.Path, s.Slug); err != nil {
					return err
				}
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO article_sources (slug, path, format, extra, zone) VALUES (?, ?, ?, ?, ?)
				ON CONFLICT (slug) DO UPDATE SET path = excluded.path, format = excluded.format, extra = excluded.extra, zone = excluded.zone`,
				s.Slug, s.Path, s.Format, s.Extra, s.Zone); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlite: save sources: %w", err)
	}
	return nil
}

// ListSources returns every stored source, by slug.
func (db *DB) ListSources(ctx context.Context) ([]*blog.Source, error) {
	rows, err := db.db.QueryContext(ctx, `SELECT slug, path, format, extra, zone FROM article_sources ORDER BY slug`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list sources: %w", err)
	}
	defer rows.Close()
	out := []*blog.Source{}
	for rows.Next() {
		var s blog.Source
		if err := rows.Scan(&s.Slug, &s.Path, &s.Format, &s.Extra, &s.Zone); err != nil {
			return nil, fmt.Errorf("sqlite: list sources: %w", err)
		}
		out = append(out, &s)
	}
	return out, rows.Err()
}
