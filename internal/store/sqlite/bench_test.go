package sqlite

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/2coffee/mcp-2coffee/internal/blog"
	"github.com/2coffee/mcp-2coffee/internal/store/storetest"
)

// benchArticles is the size of the generated benchmark corpus, the one
// every backend's benchmarks use.
const benchArticles = storetest.CorpusSize

// benchDB builds the corpus in a new database, outside the benchmark timer.
func benchDB(b *testing.B) *DB {
	b.Helper()
	b.StopTimer()
	defer b.StartTimer()
	db, err := Open(b.Context(), filepath.Join(b.TempDir(), "bench.db"), nil)
	if err != nil {
		b.Fatalf("Open: %v", err)
	}
	b.Cleanup(func() { db.Close() })
	corpus := storetest.Corpus(benchArticles)
	start := time.Now()
	const batch = 500
	for i := 0; i < benchArticles; i += batch {
		if _, err := db.UpsertArticles(b.Context(), corpus[i:min(i+batch, benchArticles)], blog.Change{Actor: "test", At: time.Now()}); err != nil {
			b.Fatalf("UpsertArticles: %v", err)
		}
	}
	b.Logf("built a corpus of %d articles in %v", benchArticles, time.Since(start).Round(time.Millisecond))
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
		if err := db.SQL().QueryRowContext(b.Context(), `SELECT count(*) FROM articles_fts WHERE articles_fts MATCH ?`,
			matchExpr(q)).Scan(&matches); err != nil {
			b.Fatal(err)
		}
		b.Logf("%s: %q matches %d articles", bm.Name, bm.Query, matches)
		b.Run(bm.Name, func(b *testing.B) {
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
		slug := fmt.Sprintf("post-%05d", rng.IntN(benchArticles))
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

// BenchmarkOpen opens a database whose schema is current and closes it:
// what every start of stdio and serve pays before its first answer.
func BenchmarkOpen(b *testing.B) {
	path := filepath.Join(b.TempDir(), "open.db")
	db, err := Open(b.Context(), path, nil)
	if err != nil {
		b.Fatalf("Open: %v", err)
	}
	db.Close()
	for b.Loop() {
		db, err := Open(b.Context(), path, nil)
		if err != nil {
			b.Fatalf("Open: %v", err)
		}
		b.StopTimer()
		db.Close()
		b.StartTimer()
	}
}

// BenchmarkOnceDone is a setup step already recorded, as on every start
// after the first.
func BenchmarkOnceDone(b *testing.B) {
	db, err := Open(b.Context(), filepath.Join(b.TempDir(), "once.db"), nil)
	if err != nil {
		b.Fatalf("Open: %v", err)
	}
	defer db.Close()
	nothing := func(context.Context) error { return nil }
	if _, err := db.Once(b.Context(), "bench", nothing); err != nil {
		b.Fatalf("Once: %v", err)
	}
	for b.Loop() {
		if ran, err := db.Once(b.Context(), "bench", nothing); err != nil || ran {
			b.Fatalf("Once = %v, %v; want false, nil", ran, err)
		}
	}
}
