package storetest

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/2coffee/mcp-2coffee/internal/blog"
)

// CorpusSize is the size of the corpus the backends' benchmarks search.
const CorpusSize = 10_000

// BenchQuery is one query of the search benchmarks.
type BenchQuery struct {
	Name, Query string
}

// BenchQueries are the queries every backend's search benchmark runs
// over Corpus(CorpusSize), so their numbers compare: a specialist word in
// a few percent of the articles, a topical word in a good share, two
// topical words, a prefix, Vietnamese typed without diacritics, and a
// Vietnamese phrase.
var BenchQueries = []BenchQuery{
	{"OneWord", "goroutines"},
	{"CommonWord", "database"},
	{"TwoWords", "database performance"},
	{"Prefix", "concurr*"},
	{"VietnameseNoDiacritics", "ca phe sua"},
	{"VietnamesePhrase", `"duong pho"`},
}

// Corpus returns n generated articles, the same ones on every call (the
// first n of any longer corpus): English posts about programming and
// some Vietnamese posts, normalised and valid, with slugs post-00000,
// post-00001 and so on. Word frequencies follow a Zipf law over a
// vocabulary of a few thousand words, as in real text: function words
// are in nearly every article, topical words ("database") in a good
// share, specialist words ("goroutines") in a few percent, and a long
// tail of rare words in a handful each.
func Corpus(n int) []*blog.Article {
	c := newCorpus()
	as := make([]*blog.Article, n)
	for i := range as {
		as[i] = c.article(i)
	}
	return as
}

// WriteCorpus writes Corpus(n) into dir, one Markdown file per article
// (post-00000.md, …) with YAML front matter, in the form `mcp-2coffee
// import` reads back into the same articles.
func WriteCorpus(dir string, n int) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, a := range Corpus(n) {
		if err := os.WriteFile(filepath.Join(dir, a.Slug+".md"), []byte(Markdown(a)), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// Markdown renders a as a Markdown file with YAML front matter. Strings
// are written as JSON strings, which YAML reads as double-quoted scalars,
// so no title or summary can break the front matter.
func Markdown(a *blog.Article) string {
	q := func(s string) string {
		js, err := json.Marshal(s)
		if err != nil {
			panic(err) // a string always marshals
		}
		return string(js)
	}
	var b strings.Builder
	b.WriteString("---\n")
	fmt.Fprintf(&b, "title: %s\n", q(a.Title))
	fmt.Fprintf(&b, "slug: %s\n", q(a.Slug))
	fmt.Fprintf(&b, "date: %s\n", a.PublishedAt.UTC().Format(time.RFC3339))
	fmt.Fprintf(&b, "updated: %s\n", a.UpdatedAt.UTC().Format(time.RFC3339))
	if a.Summary != "" {
		fmt.Fprintf(&b, "description: %s\n", q(a.Summary))
	}
	if len(a.Tags) > 0 {
		ts := make([]string, len(a.Tags))
		for i, t := range a.Tags {
			ts[i] = q(t)
		}
		fmt.Fprintf(&b, "tags: [%s]\n", strings.Join(ts, ", "))
	}
	fmt.Fprintf(&b, "lang: %s\n", q(a.Language))
	if a.Author != "" {
		fmt.Fprintf(&b, "author: %s\n", q(a.Author))
	}
	if a.TranslationKey != "" {
		fmt.Fprintf(&b, "translationKey: %s\n", q(a.TranslationKey))
	}
	if a.Draft {
		b.WriteString("draft: true\n")
	}
	b.WriteString("---\n\n")
	b.WriteString(a.Body)
	b.WriteString("\n")
	return b.String()
}

// corpus is the state of the generator.
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
		// The first letter, not the first byte, is capitalised: half
		// of a Vietnamese "đ" would leave the text invalid UTF-8, which
		// PostgreSQL and the importer refuse.
		r, size := utf8.DecodeRuneInString(ws[0])
		ws[0] = string(unicode.ToUpper(r)) + ws[0][size:]
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

// LoopWithMedian runs fn for every iteration of b and reports, beside
// the mean b reports, the median time as "p50-ms": a shared machine's
// stalls inflate a mean, and speed goals are stated as medians.
func LoopWithMedian(b *testing.B, fn func() error) {
	var took []time.Duration
	for b.Loop() {
		start := time.Now()
		if err := fn(); err != nil {
			b.Fatal(err)
		}
		took = append(took, time.Since(start))
	}
	if len(took) > 0 {
		slices.Sort(took)
		b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "p50-ms")
	}
}
