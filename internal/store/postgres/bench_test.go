package postgres_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/2coffee/mcp-2coffee/internal/blog"
	"github.com/2coffee/mcp-2coffee/internal/store/postgres"
	"github.com/2coffee/mcp-2coffee/internal/store/storetest"
)

// benchDB loads storetest's corpus into a new schema, outside the
// benchmark timer, as the SQLite benchmarks do, and ANALYZEs it (as
// autovacuum would soon after a bulk load), so the planner works from the
// statistics a running blog has.
func benchDB(b *testing.B) *postgres.DB {
	b.Helper()
	b.StopTimer()
	defer b.StartTimer()
	db := openTest(b)
	corpus := storetest.Corpus(storetest.CorpusSize)
	start := time.Now()
	const batch = 500
	for i := 0; i < len(corpus); i += batch {
		if _, err := db.UpsertArticles(b.Context(), corpus[i:min(i+batch, len(corpus))], blog.Change{Actor: "test", At: time.Now()}); err != nil {
			b.Fatalf("UpsertArticles: %v", err)
		}
	}
	if _, err := db.Pool().Exec(b.Context(), `ANALYZE articles; ANALYZE article_tags`); err != nil {
		b.Fatalf("ANALYZE: %v", err)
	}
	var schema string
	if err := db.Pool().QueryRow(b.Context(), `SELECT current_schema()`).Scan(&schema); err != nil {
		b.Fatal(err)
	}
	b.Logf("built a corpus of %d articles in %v in schema %s", len(corpus), time.Since(start).Round(time.Millisecond), schema)
	return db
}

func BenchmarkSearch(b *testing.B) {
	db := benchDB(b)
	for _, bm := range storetest.BenchQueries {
		q, err := blog.ParseQuery(bm.Query)
		if err != nil {
			b.Fatal(err)
		}
		r := blog.SearchRange{Limit: 11} // a page of 10, and one to tell whether more follow
		hits, err := db.SearchArticles(b.Context(), q, r)
		if err != nil {
			b.Fatal(err)
		}
		if len(hits) == 0 {
			b.Fatalf("query %q finds nothing in the corpus", bm.Query)
		}
		var matches int
		if err := db.Pool().QueryRow(b.Context(), `SELECT count(*) FROM articles WHERE search @@ $1::tsquery`,
			postgres.TSQuery(q)).Scan(&matches); err != nil {
			b.Fatal(err)
		}
		b.Logf("%s: %q matches %d articles", bm.Name, bm.Query, matches)
		b.Run(bm.Name, func(b *testing.B) {
			// Measured at the client, the median bounds the server's
			// time from above (a loopback round trip and the decoding of
			// a page are in it).
			storetest.LoopWithMedian(b, func() error {
				_, err := db.SearchArticles(b.Context(), q, r)
				return err
			})
		})
	}
}

func BenchmarkGetArticle(b *testing.B) {
	db := benchDB(b)
	rng := rand.New(rand.NewPCG(1, 2))
	for b.Loop() {
		slug := fmt.Sprintf("post-%05d", rng.IntN(storetest.CorpusSize))
		if _, err := db.GetArticle(b.Context(), slug); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkListArticles(b *testing.B) {
	db := benchDB(b)
	for b.Loop() {
		if _, err := db.ListArticles(b.Context(), blog.ListRange{Limit: 11}); err != nil {
			b.Fatal(err)
		}
	}
}
