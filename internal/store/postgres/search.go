package postgres

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/2coffee/mcp-2coffee/internal/blog"
	"github.com/2coffee/mcp-2coffee/internal/errdefs"
)

// The search index is the tsvector column articles.search, built here in
// Go from the words blog.Words finds (folded, so "ca phe" matches "cà
// phê"), exactly the words the SQLite backend indexes and blog.ParseQuery
// builds queries from. The text never goes through to_tsvector: its
// parser and dictionaries would split and stem words their own way (and
// drop English stop words), so a query would no longer mean what it means
// on SQLite. The vector travels as a tsvector literal of quoted lexemes
// with positions and weights, and the query as a tsquery literal of quoted
// lexemes, so no text a user wrote is ever read as tsvector or tsquery
// syntax.

// Limits of PostgreSQL's tsvector (src/include/tsearch/ts_type.h), which
// searchVector keeps within so that any article can be stored.
const (
	// maxLexemeBytes is the longest lexeme PostgreSQL accepts (MAXSTRLEN).
	// A longer word is cut to it, at a character boundary, in the index
	// and in queries alike; no query word (blog.MaxQueryLen characters at
	// most) is that long, so only prefix queries can tell.
	maxLexemeBytes = 2047
	// maxPosition is the largest position PostgreSQL keeps (MAXENTRYPOS
	// - 1); larger ones would be clamped to it, making every later word
	// "adjacent" to nothing and equal to each other.
	maxPosition = 16383
	// maxPositions is how many positions PostgreSQL keeps per lexeme
	// (MAXNUMPOS); later ones are dropped here rather than there.
	maxPositions = 256
	// maxVectorBytes bounds the size of a vector's lexemes and positions
	// together (MAXSTRPOS, 1 MiB less a byte). PostgreSQL counts each
	// lexeme's bytes and, for one with positions, 2 bytes per position
	// and 2 for their count, after aligning to an even offset;
	// vectorBuilder counts an alignment byte for every such lexeme, so it
	// never comes short.
	maxVectorBytes = 1<<20 - 1
)

// The weights of the four parts of an article, in the order they are
// indexed (title, tags, summary, body), and the ranking weights of
// rankWeights for them.
const (
	weightTitle   = 'A'
	weightTags    = 'B'
	weightSummary = 'C'
	weightBody    = 'D'
)

// rankWeights is ts_rank's weights array, in its order {D, C, B, A}: a
// word in the title counts ten times one in the body, in the tags six
// times, in the summary four times, as SQLite's bm25 weights (10, 6, 4,
// 1) have it.
const rankWeights = `'{0.1, 0.4, 0.6, 1.0}'`

// rankNormalization is ts_rank's normalization flag 32: the rank is
// scaled to rank/(rank+1), below 1, so that the number of terms an article
// matches can be added in front of it (see SearchArticles).
const rankNormalization = `32`

// bodyScore is the score of an article whose only match is in its body,
// so that every hit scores above 0; a match in the title, tags or summary
// adds ts_rank of the head to it. Body-only matches therefore tie and go
// newest first, below the articles holding a query word in their head.
const bodyScore = `0.01`

// vectorPos is one position of a lexeme with its weight.
type vectorPos struct {
	pos    uint16
	weight byte
}

// lexeme is one distinct word of a vector. positions is empty for a word
// first met past maxPosition.
type lexeme struct {
	word      string
	positions []vectorPos
}

// vectorBuilder collects the words of an article's parts into a tsvector.
type vectorBuilder struct {
	byWord map[string]*lexeme
	order  []*lexeme
	next   int // the position of the next word
	size   int // of the vector so far, as maxVectorBytes counts it
}

// positionCost is what one more position adds to a vector's size, and
// positionsCost what a lexeme's first position adds besides (the count and
// an alignment byte).
const (
	positionCost  = 2
	positionsCost = 3
)

// add records the words of one part. A gap of one position is left after
// it, so a phrase (<->, adjacent positions) never matches the end of one
// part and the start of the next.
//
// The limits of PostgreSQL's tsvector are met by dropping what does not
// fit, while the whole text is still stored: words past position 16383
// are kept without a position (a plain word query finds them, a phrase
// does not, and they rank as body words); a word's positions past its
// 256th are dropped (they would only add to its rank); and once the vector
// reaches 1 MiB, further positions are dropped and words not seen before
// are no longer indexed. Title, tags and summary come first, so only the
// far end of a very long body is ever affected. Within blog.MaxBodyBytes
// that takes a body made almost wholly of distinct words averaging a
// dozen letters or more; real text repeats its words and stays far below.
func (v *vectorBuilder) add(words []string, weight byte) {
	if len(words) == 0 {
		return
	}
	for _, w := range words {
		w = cutLexeme(w)
		pos := v.next
		v.next++
		lx, ok := v.byWord[w]
		if !ok {
			if v.size+len(w) > maxVectorBytes {
				continue
			}
			lx = &lexeme{word: w}
			v.byWord[w] = lx
			v.order = append(v.order, lx)
			v.size += len(w)
		}
		if pos > maxPosition || len(lx.positions) == maxPositions {
			continue
		}
		cost := positionCost
		if len(lx.positions) == 0 {
			cost += positionsCost
		}
		if v.size+cost <= maxVectorBytes {
			lx.positions = append(lx.positions, vectorPos{pos: uint16(pos), weight: weight})
			v.size += cost
		}
	}
	v.next++
}

// String is the vector as a tsvector literal: 'word':1A,7 'other':2B …
// (weight D, the default, is left out).
func (v *vectorBuilder) String() string {
	var b strings.Builder
	b.Grow(v.size + 8*len(v.order))
	for i, lx := range v.order {
		if i > 0 {
			b.WriteByte(' ')
		}
		writeQuoted(&b, lx.word)
		for j, p := range lx.positions {
			if j == 0 {
				b.WriteByte(':')
			} else {
				b.WriteByte(',')
			}
			b.WriteString(strconv.Itoa(int(p.pos)))
			if p.weight != weightBody {
				b.WriteByte(p.weight)
			}
		}
	}
	return b.String()
}

// searchVectors returns the tsvector literals of a's articles.search
// column (every part) and articles.head (title, tags and summary, with the
// same positions). Each tag is a part of its own, so a phrase does not run
// from one tag into the next either.
func searchVectors(a *blog.Article) (search, head string) {
	v := vectorBuilder{byWord: make(map[string]*lexeme), next: 1}
	v.add(blog.Words(a.Title), weightTitle)
	for _, t := range tagsOf(a) {
		v.add(blog.Words(t), weightTags)
	}
	v.add(blog.Words(a.Summary), weightSummary)
	head = v.String()
	v.add(blog.Words(a.Body), weightBody)
	return v.String(), head
}

// cutLexeme cuts w to maxLexemeBytes at a character boundary.
func cutLexeme(w string) string {
	if len(w) <= maxLexemeBytes {
		return w
	}
	n := maxLexemeBytes
	for n > 0 && !utf8.RuneStart(w[n]) {
		n--
	}
	return w[:n]
}

// writeQuoted writes w as a quoted lexeme of a tsvector or tsquery
// literal, in which a quote is doubled and a backslash escaped. blog.Words
// never yields either, but nothing here relies on that.
func writeQuoted(b *strings.Builder, w string) {
	b.WriteByte('\'')
	for i := 0; i < len(w); i++ {
		switch c := w[i]; c {
		case '\'':
			b.WriteString(`''`)
		case '\\':
			b.WriteString(`\\`)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('\'')
}

// termQueries builds a tsquery literal for each term of q: its words
// joined by <-> (adjacent, in order), the last one followed by :* for a
// prefix term, in parentheses. Only quoted lexemes and these operators
// appear, so nothing a user typed can become tsquery syntax. Terms without
// words are skipped.
func termQueries(q blog.Query) []string {
	var terms []string
	for _, t := range q.Terms {
		if len(t.Words) == 0 {
			continue
		}
		var b strings.Builder
		b.WriteByte('(')
		for i, w := range t.Words {
			if i > 0 {
				b.WriteString(" <-> ")
			}
			writeQuoted(&b, cutLexeme(w))
		}
		if t.Prefix {
			b.WriteString(":*")
		}
		b.WriteByte(')')
		terms = append(terms, b.String())
	}
	return terms
}

// tsQuery joins the terms of q by & (all), or by | when q.Any. It returns
// "" when q holds no words.
func tsQuery(q blog.Query) string {
	op := " & "
	if q.Any {
		op = " | "
	}
	return strings.Join(termQueries(q), op)
}

// SearchArticles ranks the articles matching q with ts_rank, best first,
// and returns up to r.Limit of them after skipping r.Offset. Articles with
// equal scores are ordered as listings are, so pages neither repeat nor
// skip an article.
func (db *DB) SearchArticles(ctx context.Context, q blog.Query, r blog.SearchRange) ([]blog.SearchHit, error) {
	terms := termQueries(q)
	if len(terms) == 0 {
		return nil, errdefs.Invalid("query", "has no words to search for")
	}
	var f filter
	query := f.arg(tsQuery(q)) + `::tsquery`
	f.conds = append(f.conds, `a.search @@ `+query)
	f.common(r.Filter)
	// Ranking reads the small head vector, never the whole one: the
	// whole one is kilobytes, kept out of line and compressed, and reading
	// it back for every match cost 7 µs an article (27 ms for a word in
	// half of 10,000 articles), where the head costs a fraction of that.
	// What this gives up is the body's share of the rank: how often a
	// word occurs in the body, which orders only body-only matches.
	score := bodyScore + ` + ts_rank(` + rankWeights + `, a.head, ` + query + `, ` + rankNormalization + `)::float8`
	if q.Any && len(terms) > 1 {
		// An article holding more of the terms ranks above one holding
		// fewer, however the words are placed: the score is the number
		// of terms matched plus the rank, which is below 1. (bm25 on
		// SQLite mostly agrees, but only by its numbers.)
		var matched []string
		for _, t := range terms {
			matched = append(matched, `(a.search @@ `+f.arg(t)+`::tsquery)::int`)
		}
		score = strings.Join(matched, ` + `) + ` + ` + score
	}
	// The inner query ranks and cuts the page reading only the search
	// vector and the small columns; the outer one then reads the full
	// rows (with their bodies) of that page alone.
	sql := `SELECT ` + articleColumns + `, r.score
		FROM (
			SELECT a.id, ` + score + ` AS score, a.published_at, a.slug
			FROM articles a` + f.where() + `
			ORDER BY score DESC, a.published_at DESC, a.slug
			LIMIT ` + f.arg(r.Limit) + ` OFFSET ` + f.arg(r.Offset) + `
		) r JOIN articles a ON a.id = r.id
		ORDER BY r.score DESC, r.published_at DESC, r.slug`
	var hits []blog.SearchHit
	// The planner prices a sequential scan's test of search @@ query
	// like any cheap operator, not knowing that each test first reads a
	// vector back from its out-of-line, compressed storage: for a word in
	// half the articles it chose that scan (55 ms over 10,000 articles)
	// over the GIN index (9 ms), which answers a plain word without
	// reading the vectors at all. Sequential scans are therefore ruled
	// out for this one query, in a read-only transaction of its own
	// (three short round trips more).
	err := pgx.BeginTxFunc(ctx, db.pool, pgx.TxOptions{AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SET LOCAL enable_seqscan = off`); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, sql, f.args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		hits = make([]blog.SearchHit, 0, min(r.Limit, blog.MaxPage+1))
		for rows.Next() {
			var score float64
			a, err := scanArticle(rows, &score)
			if err != nil {
				return err
			}
			hits = append(hits, blog.SearchHit{Article: a, Score: score})
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: search articles: %w", err)
	}
	return hits, nil
}
