package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/2coffee/mcp-2coffee/internal/blog"
	"github.com/2coffee/mcp-2coffee/internal/errdefs"
)

// bm25Weights rank a word in the title above the same word in the tags,
// the summary and then the body, in the column order of articles_fts.
// Only searches for any of several terms rank with them (see searchAll).
const bm25Weights = `10.0, 6.0, 4.0, 1.0`

// headWeights are bm25Weights for the columns of articles_head_fts.
const headWeights = `10.0, 6.0, 4.0`

// matchExpr builds the FTS5 MATCH expression for q. It uses only the words
// of q's terms, each term as one double-quoted FTS5 string, so nothing a
// user typed can become FTS5 syntax: inside a string only '"' is special,
// and it is doubled. A '*' after the closing quote marks the last word as a
// prefix. Terms are joined by FTS5's implicit AND, or by OR when q.Any.
// It returns "" when q holds no words.
func matchExpr(q blog.Query) string {
	var b strings.Builder
	for _, t := range q.Terms {
		if len(t.Words) == 0 {
			continue
		}
		if b.Len() > 0 {
			if q.Any {
				b.WriteString(" OR ")
			} else {
				b.WriteByte(' ')
			}
		}
		b.WriteByte('"')
		for i, w := range t.Words {
			if i > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(strings.ReplaceAll(w, `"`, `""`))
		}
		b.WriteByte('"')
		if t.Prefix {
			b.WriteByte('*')
		}
	}
	return b.String()
}

// headExpr is the MATCH expression for articles_head_fts: the terms of q
// joined by OR, so that an article whose head holds some of the terms (and
// its body the others) is ranked by those it holds, as PostgreSQL's ts_rank
// over its head vector does. It returns "" when q holds no words.
func headExpr(q blog.Query) string {
	q.Any = true
	return matchExpr(q)
}

// termCount is the number of terms of q that hold words.
func termCount(q blog.Query) int {
	n := 0
	for _, t := range q.Terms {
		if len(t.Words) > 0 {
			n++
		}
	}
	return n
}

// SearchArticles returns up to r.Limit of the articles matching q, best
// first, after skipping r.Offset. The articles holding a query word in
// their head (title, tags or summary) come first, ranked by bm25 over the
// head; those matching only in their body follow, newest first, scoring 0.
// Articles with equal scores are ordered as listings are, so pages neither
// repeat nor skip an article.
//
// A search for any of several terms ranks every match by bm25 over the
// whole article instead (searchAll), so that an article holding more of
// the terms ranks above one holding fewer wherever they are.
func (db *DB) SearchArticles(ctx context.Context, q blog.Query, r blog.SearchRange) ([]blog.SearchHit, error) {
	match := matchExpr(q)
	if match == "" {
		return nil, errdefs.Invalid("query", "has no words to search for")
	}
	var hits []blog.SearchHit
	var err error
	if q.Any && termCount(q) > 1 {
		hits, err = db.searchAll(ctx, match, r)
	} else {
		hits, err = db.searchHeads(ctx, q, match, r)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: search articles: %w", err)
	}
	return hits, nil
}

// searchAll ranks every article matching match with bm25 over all of its
// columns. Its cost grows with the number of matches: each one's column
// sizes and row are read.
func (db *DB) searchAll(ctx context.Context, match string, r blog.SearchRange) ([]blog.SearchHit, error) {
	var f filter
	f.add(`articles_fts MATCH ?`, match)
	f.common(r.Filter)
	// The inner query ranks and cuts the page using only the index and the
	// small columns; the outer one then reads the full rows (with their
	// bodies) of that page alone, instead of carrying every match's body
	// through the sort.
	//
	// bm25 is lower-is-better; the alias is not "rank", which is a hidden
	// column of every FTS5 table with its own (unweighted) ranking.
	query := `SELECT ` + articleColumns + `, -r.relevance
		FROM (
			SELECT a.id, bm25(articles_fts, ` + bm25Weights + `) AS relevance, a.published_at, a.slug
			FROM articles_fts JOIN articles a ON a.id = articles_fts.rowid` + f.where() + `
			ORDER BY relevance, a.published_at DESC, a.slug
			LIMIT ? OFFSET ?
		) r JOIN articles a ON a.id = r.id JOIN article_bodies b ON b.article_id = a.id
		ORDER BY r.relevance, r.published_at DESC, r.slug`
	stmt, err := db.prepared(ctx, query)
	if err != nil {
		return nil, err
	}
	rows, err := stmt.QueryContext(ctx, append(f.args, r.Limit, r.Offset)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	hits := make([]blog.SearchHit, 0, min(r.Limit, blog.MaxPage+1))
	for rows.Next() {
		var score float64
		a, err := scanArticle(rows, &score)
		if err != nil {
			return nil, err
		}
		hits = append(hits, blog.SearchHit{Article: a, Score: score})
	}
	return hits, rows.Err()
}

// ranked is a search hit before its article is read: its id, its score
// and the sort keys of listings that order equal scores.
type ranked struct {
	id        int64
	score     float64
	published int64
	slug      string
}

// compareRanked orders hits best first, equal scores as listings are.
func compareRanked(a, b ranked) int {
	if c := cmp.Compare(b.score, a.score); c != 0 {
		return c
	}
	if c := cmp.Compare(b.published, a.published); c != 0 {
		return c
	}
	return strings.Compare(a.slug, b.slug)
}

// searchHeads finds the page of r in three steps, in one read transaction
// so that they see the same articles:
//
//  1. bm25 ranks the head matches in articles_head_fts alone, reading
//     nothing but that small index (headCandidates);
//  2. the filters and sort keys are read from articles for the best of
//     them only, in rank order, until the page and every article tied with
//     its last one are known (filterHeads). Reading a row costs as much as
//     ranking dozens of matches, so this step is what keeps the cost from
//     growing with the matches;
//  3. when the page runs past the head matches, the body-only matches fill
//     it in listing order (bodyOnly).
func (db *DB) searchHeads(ctx context.Context, q blog.Query, match string, r blog.SearchRange) ([]blog.SearchHit, error) {
	// Deferred calls run last first: the statements this search ran
	// unprepared are prepared after its transaction has let go of its
	// connection.
	defer db.prepareMissed(ctx)
	tx, err := db.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	head := headExpr(q)
	// A head match of one term is a match of the query; with several
	// terms, all of which the query needs, it must also match as a whole.
	cands, err := db.headCandidates(ctx, tx, head, match, termCount(q) > 1)
	if err != nil {
		return nil, err
	}
	want := r.Offset + r.Limit
	heads, complete, err := db.filterHeads(ctx, tx, cands, r.Filter, want)
	if err != nil {
		return nil, err
	}
	slices.SortFunc(heads, compareRanked)
	var page []ranked
	if r.Offset < len(heads) {
		page = heads[r.Offset:min(want, len(heads))]
	}
	if complete && len(page) < r.Limit {
		more, err := db.bodyOnly(ctx, tx, head, match, r.Filter, r.Limit-len(page), max(0, r.Offset-len(heads)))
		if err != nil {
			return nil, err
		}
		page = append(page, more...)
	}
	return db.readHits(ctx, tx, page)
}

// headCandidates returns the articles whose head matches head, best first
// by bm25 (equal scores in no particular order), and, when whole is set,
// that also match the query match as a whole. It reads only the indexes.
func (db *DB) headCandidates(ctx context.Context, tx *sql.Tx, head, match string, whole bool) ([]ranked, error) {
	query := `SELECT rowid, -bm25(articles_head_fts, ` + headWeights + `) AS score
		FROM articles_head_fts WHERE articles_head_fts MATCH ?`
	args := []any{head}
	if whole {
		// The unary + keeps SQLite from handing the list to FTS5 as a
		// rowid constraint, which ran the head query once per match of
		// the whole query (600 ms for two common words); this way the
		// matches become one lookup table.
		query += ` AND +rowid IN (SELECT rowid FROM articles_fts WHERE articles_fts MATCH ?)`
		args = append(args, match)
	}
	query += ` ORDER BY score DESC`
	rows, err := db.query(ctx, tx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var cands []ranked
	for rows.Next() {
		var c ranked
		if err := rows.Scan(&c.id, &c.score); err != nil {
			return nil, err
		}
		cands = append(cands, c)
	}
	return cands, rows.Err()
}

// filterHeads reads the sort keys of the candidates that pass f, taking
// them in rank order, in batches, until it holds want of them and every
// further candidate scores below the last of those; what follows cannot
// reach the first want places. complete says that every candidate was
// read, so that the result is all of the head matches passing f.
func (db *DB) filterHeads(ctx context.Context, tx *sql.Tx, cands []ranked, bf blog.Filter, want int) (heads []ranked, complete bool, err error) {
	var f filter
	f.add(`a.id IN (SELECT value FROM json_each(?))`, nil) // the batch, set below
	f.common(bf)
	query := `SELECT a.id, a.published_at, a.slug FROM articles a` + f.where()
	next := 0
	for next < len(cands) {
		end := len(cands)
		if len(heads) < want {
			// Twice what is missing, for the candidates the filter drops.
			end = min(end, next+max(32, 2*(want-len(heads))))
		} else {
			// The page is full: only the candidates tied with its
			// last article may still belong on it.
			last := heads[want-1].score
			end = next
			for end < len(cands) && cands[end].score == last {
				end++
			}
			if end == next {
				return heads, false, nil
			}
		}
		batch := cands[next:end]
		ids := make([]int64, len(batch))
		for i, c := range batch {
			ids[i] = c.id
		}
		js, err := json.Marshal(ids)
		if err != nil {
			return nil, false, err
		}
		f.args[0] = string(js)
		keys, err := db.keys(ctx, tx, query, f.args...)
		if err != nil {
			return nil, false, err
		}
		for _, c := range batch {
			if k, ok := keys[c.id]; ok {
				c.published, c.slug = k.published, k.slug
				heads = append(heads, c)
			}
		}
		// heads stays in rank order until the caller sorts it, so
		// heads[want-1] above is the lowest score of the first want.
		next = end
	}
	return heads, true, nil
}

// keys runs a query returning (id, published_at, slug) rows and returns
// them by id.
func (db *DB) keys(ctx context.Context, tx *sql.Tx, query string, args ...any) (map[int64]ranked, error) {
	rows, err := db.query(ctx, tx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	keys := map[int64]ranked{}
	for rows.Next() {
		var k ranked
		if err := rows.Scan(&k.id, &k.published, &k.slug); err != nil {
			return nil, err
		}
		keys[k.id] = k
	}
	return keys, rows.Err()
}

// bodyOnly returns up to limit of the articles that match the query match,
// pass f and hold no word of head in their head, in listing order, after
// skipping offset of them.
//
// Two plans give that order. Walking the listing index from the newest
// article and keeping the matches stops once the page is full, after
// about (offset+limit)·articles/matches rows; sorting the matches reads
// every one of them. The walk wins for a common word and loses badly for
// a rare one (the whole table for a handful of matches), and SQLite cannot
// tell which it is (FTS5 gives the planner no estimate), so the number of
// matches chooses.
func (db *DB) bodyOnly(ctx context.Context, tx *sql.Tx, head, match string, bf blog.Filter, limit, offset int) ([]ranked, error) {
	var matches, articles int
	if err := db.queryRow(ctx, tx, `SELECT (SELECT count(*) FROM articles_fts WHERE articles_fts MATCH ?),
		(SELECT coalesce(max(id), 0) FROM articles)`, match).Scan(&matches, &articles); err != nil {
		return nil, err
	}
	if matches == 0 {
		return nil, nil
	}
	// A unary + keeps the planner from looking the matches up by id and
	// sorting them, so that it walks articles_published instead.
	walk := ""
	if float64(offset+limit)*float64(articles)/float64(matches) < float64(matches) {
		walk = "+"
	}
	var f filter
	f.add(walk+`a.id IN (SELECT rowid FROM articles_fts WHERE articles_fts MATCH ?)`, match)
	f.add(`a.id NOT IN (SELECT rowid FROM articles_head_fts WHERE articles_head_fts MATCH ?)`, head)
	f.common(bf)
	query := `SELECT a.id, a.published_at, a.slug FROM articles a` + f.where() +
		` ORDER BY a.published_at DESC, a.slug LIMIT ? OFFSET ?`
	rows, err := db.query(ctx, tx, query, append(f.args, limit, offset)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var page []ranked
	for rows.Next() {
		var k ranked
		if err := rows.Scan(&k.id, &k.published, &k.slug); err != nil {
			return nil, err
		}
		page = append(page, k)
	}
	return page, rows.Err()
}

// readHits reads the articles of page and returns them as hits, in order.
func (db *DB) readHits(ctx context.Context, tx *sql.Tx, page []ranked) ([]blog.SearchHit, error) {
	hits := make([]blog.SearchHit, 0, len(page))
	if len(page) == 0 {
		return hits, nil
	}
	ids := make([]int64, len(page))
	for i, p := range page {
		ids[i] = p.id
	}
	js, err := json.Marshal(ids)
	if err != nil {
		return nil, err
	}
	rows, err := db.query(ctx, tx, `SELECT `+articleColumns+`, a.id FROM `+articleTables+`
		WHERE a.id IN (SELECT value FROM json_each(?))`, string(js))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	byID := make(map[int64]*blog.Article, len(page))
	for rows.Next() {
		var id int64
		a, err := scanArticle(rows, &id)
		if err != nil {
			return nil, err
		}
		byID[id] = a
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for _, p := range page {
		if a := byID[p.id]; a != nil {
			hits = append(hits, blog.SearchHit{Article: a, Score: p.score})
		}
	}
	return hits, nil
}

// query runs query in tx, through its cached prepared statement when
// there is one, else as text on tx's own connection (see txStmt).
func (db *DB) query(ctx context.Context, tx *sql.Tx, query string, args ...any) (*sql.Rows, error) {
	if stmt := db.txStmt(ctx, tx, query); stmt != nil {
		return stmt.QueryContext(ctx, args...)
	}
	return tx.QueryContext(ctx, query, args...)
}

// queryRow is query for a single row.
func (db *DB) queryRow(ctx context.Context, tx *sql.Tx, query string, args ...any) *sql.Row {
	if stmt := db.txStmt(ctx, tx, query); stmt != nil {
		return stmt.QueryRowContext(ctx, args...)
	}
	return tx.QueryRowContext(ctx, query, args...)
}
