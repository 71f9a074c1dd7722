package sqlite

import (
	"context"
	"fmt"
	"strings"

	"github.com/2coffee/mcp-2coffee/internal/blog"
	"github.com/2coffee/mcp-2coffee/internal/errdefs"
)

// bm25Weights rank a word in the title above the same word in the tags,
// the summary and then the body, in the column order of articles_fts.
const bm25Weights = `10.0, 6.0, 4.0, 1.0`

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

// SearchArticles ranks the articles matching q with bm25, best first, and
// returns up to r.Limit of them after skipping r.Offset. Articles with
// equal scores are ordered as listings are, so pages neither repeat nor
// skip an article.
func (db *DB) SearchArticles(ctx context.Context, q blog.Query, r blog.SearchRange) ([]blog.SearchHit, error) {
	match := matchExpr(q)
	if match == "" {
		return nil, errdefs.Invalid("query", "has no words to search for")
	}
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
		return nil, fmt.Errorf("sqlite: search articles: %w", err)
	}
	rows, err := stmt.QueryContext(ctx, append(f.args, r.Limit, r.Offset)...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: search articles: %w", err)
	}
	defer rows.Close()
	hits := make([]blog.SearchHit, 0, min(r.Limit, blog.MaxPage+1))
	for rows.Next() {
		var score float64
		a, err := scanArticle(rows, &score)
		if err != nil {
			return nil, fmt.Errorf("sqlite: search articles: %w", err)
		}
		hits = append(hits, blog.SearchHit{Article: a, Score: score})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: search articles: %w", err)
	}
	return hits, nil
}
