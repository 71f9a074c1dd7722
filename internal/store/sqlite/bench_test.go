package sqlite

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/2coffee/mcp-2coffee/internal/blog"
)

// benchArticles is the size of the generated benchmark corpus.
const benchArticles = 10_000

// corpus generates a deterministic blog: English posts about programming
// and some Vietnamese posts. Word frequencies follow a Zipf law over a
// vocabulary of a few thousand words, as in real text: function words are
// in nearly every article, topical words ("database") in a good share,
// specialist words ("goroutines") in a few percent, and a long tail of
// rare words in a handful each.
type corpus struct {
	rng    *rand.Rand
	en, vi []string
	enZipf *rand.Zipf
	viZipf *rand.Zipf
	tags   []string
}

func newCorpus() *corpus {
	rng := rand.New(rand.NewPCG(2024, 11))
	function := strings.Fields(`the of and to in is that for it with as on this be are by
		we you can not or from at have but an which one all will more if when so they
		there what also about`)
	topical := strings.Fields(`code data go function value type error return server
		client request database query index table performance test memory build deploy
		cache latency network http json api search result page article blog post write
		read file storage user service design version bug fix feature release time
		coffee morning travel city street weather`)
	specialist := strings.Fields(`goroutines channel concurrency concurrent context interface
		struct method package module benchmark docker kubernetes throughput cursor
		transaction lock mutex worker pool queue stream event metric trace debug profile
		allocation garbage collector pointer slice compiler runtime scheduler thread
		signal timeout retry backoff migration schema sqlite postgres replica backup
		restore security token secret password session cookie browser frontend backend
		refactor review pattern`)
	// The long tail: pronounceable made-up words, never colliding with the
	// words above.
	syllables := strings.Fields(`ka lo mi ter son vel ran dis pro ex ment ing tion
		ba cor den fa gul hin jo kes lun mar nor pel qui ros sta tur ul vor wen yam zo`)
	seen := map[string]bool{}
	for _, w := range slices.Concat(function, topical, specialist) {
		seen[w] = true
	}
	var tail []string
	for len(tail) < 4000 {
		var w strings.Builder
		for range 2 + rng.IntN(3) {
			w.WriteString(syllables[rng.IntN(len(syllables))])
		}
		if !seen[w.String()] {
			seen[w.String()] = true
			tail = append(tail, w.String())
		}
	}
	// Function words lead, topical words follow; specialist words are
	// spread through the start of the long tail (ranks of several hundred
	// to about two thousand).
	en := slices.Concat(function, topical)
	for i, w := range tail {
		if i >= 300 && i%15 == 0 && len(specialist) > 0 {
			en = append(en, specialist[0])
			specialist = specialist[1:]
		}
		en = append(en, w)
	}
	vi := strings.Fields(`và của là có không những một các được trong cho với người
		này đã để khi thì sẽ rất nhiều hơn cũng như đến từ về lại ra vào làm
		học viết đọc bài blog trang tìm kiếm kết quả nhanh chậm lỗi sửa
		lập trình máy tính dữ liệu hệ thống mạng phần mềm ứng dụng cơ sở truy vấn
		thành phố biển núi buổi sáng chiều tối mưa nắng quán ăn uống
		cà phê sữa đá đường phố hà nội sài gòn đà lạt huế
		bánh mì phở bò bún chả cơm tấm trà chè`)
	c := &corpus{
		rng: rng,
		en:  en,
		vi:  vi,
		tags: strings.Fields(`go sqlite postgres performance testing concurrency web api
			security devops docker kubernetes database search mcp ai tooling
			coffee travel vietnam food hanoi saigon dalat life notes tutorial`),
	}
	c.enZipf = rand.NewZipf(rng, 1.07, 2, uint64(len(en)-1))
	c.viZipf = rand.NewZipf(rng, 1.07, 2, uint64(len(vi)-1))
	return c
}

// words returns n words, mostly from the article's language; Vietnamese
// posts borrow English technical words now and then, as they do.
func (c *corpus) words(n int, vietnamese bool) []string {
	out := make([]string, n)
	for i := range out {
		if vietnamese && c.rng.IntN(5) > 0 {
			out[i] = c.vi[c.viZipf.Uint64()]
		} else {
			out[i] = c.en[c.enZipf.Uint64()]
		}
	}
	return out
}

func (c *corpus) article(i int) *blog.Article {
	vietnamese := c.rng.IntN(5) == 0
	var body strings.Builder
	for p := range 2 + c.rng.IntN(6) {
		if p > 0 {
			body.WriteString("\n\n")
		}
		ws := c.words(30+c.rng.IntN(60), vietnamese)
		ws[0] = strings.ToUpper(ws[0][:1]) + ws[0][1:]
		body.WriteString(strings.Join(ws, " ") + ".")
	}
	var tags []string
	for range 1 + c.rng.IntN(4) {
		tags = append(tags, c.tags[c.rng.IntN(len(c.tags))])
	}
	published := time.Date(2015, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(c.rng.Int64N(10*365*24)) * time.Hour)
	a := &blog.Article{
		Slug:        fmt.Sprintf("post-%05d", i),
		Title:       strings.Join(c.words(4+c.rng.IntN(6), vietnamese), " "),
		Summary:     strings.Join(c.words(12+c.rng.IntN(20), vietnamese), " "),
		Body:        body.String(),
		Tags:        tags,
		Language:    map[bool]string{false: "en", true: "vi"}[vietnamese],
		Author:      "Bench Author",
		PublishedAt: published,
		UpdatedAt:   published,
		Draft:       c.rng.IntN(50) == 0,
	}
	a.Normalize()
	return a
}

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
	c := newCorpus()
	start := time.Now()
	const batch = 500
	for i := 0; i < benchArticles; i += batch {
		as := make([]*blog.Article, 0, batch)
		for j := i; j < min(i+batch, benchArticles); j++ {
			as = append(as, c.article(j))
		}
		if _, err := db.UpsertArticles(b.Context(), as); err != nil {
			b.Fatalf("UpsertArticles: %v", err)
		}
	}
	b.Logf("built a corpus of %d articles in %v", benchArticles, time.Since(start).Round(time.Millisecond))
	return db
}

func BenchmarkSearch(b *testing.B) {
	db := benchDB(b)
	for _, bm := range []struct {
		name, query string
	}{
		{"OneWord", "goroutines"},
		{"CommonWord", "database"},
		{"TwoWords", "database performance"},
		{"Prefix", "concurr*"},
		{"VietnameseNoDiacritics", "ca phe sua"},
		{"VietnamesePhrase", `"duong pho"`},
	} {
		q, err := blog.ParseQuery(bm.query)
		if err != nil {
			b.Fatal(err)
		}
		r := blog.SearchRange{Limit: 11} // a page of 10, and one to tell whether more follow
		hits, err := db.SearchArticles(b.Context(), q, r)
		if err != nil {
			b.Fatal(err)
		}
		if len(hits) == 0 {
			b.Fatalf("query %q finds nothing in the corpus", bm.query)
		}
		var matches int
		if err := db.SQL().QueryRowContext(b.Context(), `SELECT count(*) FROM articles_fts WHERE articles_fts MATCH ?`,
			matchExpr(q)).Scan(&matches); err != nil {
			b.Fatal(err)
		}
		b.Logf("%s: %q matches %d articles", bm.name, bm.query, matches)
		b.Run(bm.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := db.SearchArticles(b.Context(), q, r); err != nil {
					b.Fatal(err)
				}
			}
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
