package storetest

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/2coffee/mcp-2coffee/internal/blog"
	"github.com/2coffee/mcp-2coffee/internal/errdefs"
)

// The writes of Run done at once, as two replicas of the server (or a
// server and an import) sharing one database would do them: the store
// must report what a user can act on (ErrConflict, ErrNotFound), never a
// raw database error, and must leave every article whole, its tags and
// search entry those of one write and not a mix.

// writers is how many goroutines race in each test.
const writers = 8

// race runs fn(i) for i in [0, writers) at once and returns the errors.
func race(fn func(i int) error) []error {
	errs := make([]error, writers)
	var start, done sync.WaitGroup
	start.Add(1)
	for i := range writers {
		done.Go(func() {
			start.Wait()
			errs[i] = fn(i)
		})
	}
	start.Done()
	done.Wait()
	return errs
}

// testConcurrentCreate: creates of one slug at once end in one article
// and an ErrConflict for every other.
func testConcurrentCreate(t *testing.T, s blog.Store) {
	for round := range 5 {
		slug := fmt.Sprintf("race-%d", round)
		errs := race(func(i int) error {
			return s.CreateArticle(t.Context(), article(t, slug, title(fmt.Sprintf("Writer %d", i)), tags(fmt.Sprintf("round-%d-writer-%d", round, i))), testChange)
		})
		won := -1
		for i, err := range errs {
			switch {
			case err == nil && won >= 0:
				t.Errorf("round %d: writers %d and %d both created %q", round, won, i, slug)
			case err == nil:
				won = i
			case !errors.Is(err, errdefs.ErrConflict):
				t.Errorf("round %d: writer %d: error %v, want nil or ErrConflict", round, i, err)
			}
		}
		if won < 0 {
			t.Fatalf("round %d: no writer created %q: %v", round, slug, errs)
		}
		got := mustGet(t, s, slug)
		if want := fmt.Sprintf("Writer %d", won); got.Title != want {
			t.Errorf("round %d: stored title %q, want the winner's %q", round, got.Title, want)
		}
		if want := []string{fmt.Sprintf("round-%d-writer-%d", round, won)}; !slices.Equal(got.Tags, want) {
			t.Errorf("round %d: stored tags %q, want the winner's %q", round, got.Tags, want)
		}
	}
	if n, err := s.CountArticles(t.Context()); err != nil || n != 5 {
		t.Errorf("CountArticles = %d, %v; want 5", n, err)
	}
	counts, err := s.ListTags(t.Context(), blog.TagOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(counts) != 5 {
		t.Errorf("ListTags = %v, want the 5 winners' tags alone", counts)
	}
}

// testConcurrentUpdates: updates of one article at once each succeed, and
// the article ends as one of them wrote it, tags and search words
// included: none of the losers' tags or words linger.
func testConcurrentUpdates(t *testing.T, s blog.Store) {
	create(t, s, article(t, "contested", tags("original"), body("The original text.")))
	version := func(i int) *blog.Article {
		return article(t, "contested", title(fmt.Sprintf("Version %d", i)),
			tags(fmt.Sprintf("tag-%d", i), fmt.Sprintf("extra-%d", i), "shared"),
			body(fmt.Sprintf("Words of version%d only.", i)))
	}
	for round := range 3 {
		for i, err := range race(func(i int) error { return s.UpdateArticle(t.Context(), version(i), testChange) }) {
			if err != nil {
				t.Errorf("round %d: update %d: %v", round, i, err)
			}
		}
		got := mustGet(t, s, "contested")
		var n int
		if _, err := fmt.Sscanf(got.Title, "Version %d", &n); err != nil {
			t.Fatalf("round %d: stored title %q is none of the updates'", round, got.Title)
		}
		if diff := cmp.Diff(version(n), got); diff != "" {
			t.Errorf("round %d: stored article is not update %d as written (-want +got):\n%s", round, n, diff)
		}
		counts, err := s.ListTags(t.Context(), blog.TagOptions{})
		if err != nil {
			t.Fatal(err)
		}
		want := []blog.TagCount{{Tag: fmt.Sprintf("extra-%d", n), Count: 1}, {Tag: "shared", Count: 1}, {Tag: fmt.Sprintf("tag-%d", n), Count: 1}}
		if diff := cmp.Diff(want, counts); diff != "" {
			t.Errorf("round %d: ListTags after racing updates (-want +got):\n%s", round, diff)
		}
		for i := range writers {
			hits := search(t, s, parse(t, fmt.Sprintf("version%d", i)), blog.Filter{})
			if found := len(hits) > 0; found != (i == n) {
				t.Errorf("round %d: search for update %d's word found %q; the stored article is update %d", round, i, hits, n)
			}
		}
	}
}

// testConcurrentUpdateDelete: an update racing a delete either lands
// before it (and is deleted) or finds the article gone (ErrNotFound);
// either way nothing of the article is left, not its tags nor its words.
func testConcurrentUpdateDelete(t *testing.T, s blog.Store) {
	for round := range 5 {
		slug := fmt.Sprintf("doomed-%d", round)
		create(t, s, article(t, slug, tags("before"), body("Before the race.")))
		errs := race(func(i int) error {
			if i == 0 {
				return s.DeleteArticle(t.Context(), slug, testChange)
			}
			return s.UpdateArticle(t.Context(), article(t, slug, tags(fmt.Sprintf("update-%d", i)), body("Racing words.")), testChange)
		})
		for i, err := range errs {
			if err != nil && (i == 0 || !errors.Is(err, errdefs.ErrNotFound)) {
				t.Errorf("round %d: writer %d: error %v", round, i, err)
			}
		}
		if _, err := s.GetArticle(t.Context(), slug); !errors.Is(err, errdefs.ErrNotFound) {
			t.Errorf("round %d: GetArticle after the delete: error %v, want ErrNotFound", round, err)
		}
	}
	if counts, err := s.ListTags(t.Context(), blog.TagOptions{IncludeDrafts: true}); err != nil || len(counts) != 0 {
		t.Errorf("ListTags after every article was deleted = %v, %v; want none", counts, err)
	}
	if got := search(t, s, parse(t, "racing"), blog.Filter{IncludeDrafts: true}); len(got) != 0 {
		t.Errorf("search after every article was deleted found %q", got)
	}
}

// testConcurrentUpserts: imports of overlapping batches at once, each in
// its own order, all succeed (a store that locks rows in batch order would
// deadlock here), and every slug is created by exactly one of them.
func testConcurrentUpserts(t *testing.T, s blog.Store) {
	const n = 20
	batch := func(i int) []*blog.Article {
		as := make([]*blog.Article, n)
		for j := range n {
			as[j] = article(t, fmt.Sprintf("imported-%02d", j), body("Imported text."), tags("imported"))
		}
		// Every writer its own order: rotated, and reversed for odd ones.
		as = append(as[i%n:], as[:i%n]...)
		if i%2 == 1 {
			slices.Reverse(as)
		}
		return as
	}
	outcomes := make([][]blog.UpsertOutcome, writers)
	batches := make([][]*blog.Article, writers)
	for i := range writers {
		batches[i] = batch(i)
	}
	errs := race(func(i int) error {
		var err error
		outcomes[i], err = s.UpsertArticles(t.Context(), batches[i], testChange)
		return err
	})
	created := map[string]int{}
	for i, err := range errs {
		if err != nil {
			t.Errorf("upsert %d: %v", i, err)
			continue
		}
		for j, o := range outcomes[i] {
			switch o {
			case blog.Created:
				created[batches[i][j].Slug]++
			case blog.Unchanged:
			default:
				t.Errorf("upsert %d: %q %v, want created or unchanged (every batch is the same)", i, batches[i][j].Slug, o)
			}
		}
	}
	for j := range n {
		if slug := fmt.Sprintf("imported-%02d", j); created[slug] != 1 {
			t.Errorf("%q created %d times, want once", slug, created[slug])
		}
	}
	if c, err := s.CountArticles(t.Context()); err != nil || c != n {
		t.Errorf("CountArticles = %d, %v; want %d", c, err, n)
	}
	if diff := cmp.Diff([]blog.TagCount{{Tag: "imported", Count: n}}, mustTags(t, s)); diff != "" {
		t.Errorf("ListTags after the imports (-want +got):\n%s", diff)
	}
}

func mustTags(t *testing.T, s blog.Store) []blog.TagCount {
	t.Helper()
	counts, err := s.ListTags(t.Context(), blog.TagOptions{IncludeDrafts: true})
	if err != nil {
		t.Fatalf("ListTags: %v", err)
	}
	return counts
}

// testLongBody: the longest body an article may have (blog.MaxBodyBytes),
// every word of it distinct, is stored whole, and words near its start
// and its end are both found.
func testLongBody(t *testing.T, s blog.Store) {
	long := longBody(blog.MaxBodyBytes)
	create(t, s,
		article(t, "long", title("A very long post"), body(long), published(time.Hour)),
		article(t, "short", body("Nothing much."), published(0)))
	if got := mustGet(t, s, "long").Body; got != long {
		t.Fatalf("stored body is %d bytes, want the %d bytes written", len(got), len(long))
	}
	first, last := strings.Fields(long)[1], strings.Fields(long)[len(strings.Fields(long))-1]
	for _, w := range []string{first, last, "long"} {
		if diff := cmp.Diff([]string{"long"}, search(t, s, parse(t, w), blog.Filter{})); diff != "" {
			t.Errorf("search %q in a %d-byte body (-want +got):\n%s", w, len(long), diff)
		}
	}
	if diff := cmp.Diff([]string{"short"}, search(t, s, parse(t, "nothing"), blog.Filter{})); diff != "" {
		t.Errorf("search beside a long body (-want +got):\n%s", diff)
	}
}

// longBody returns n bytes of text whose words are all distinct ("w0 w1
// w2 …"), the hardest case for an index that keeps each word once.
func longBody(n int) string {
	var b strings.Builder
	b.Grow(n)
	for i := 0; ; i++ {
		w := fmt.Sprintf("w%d ", i)
		if b.Len()+len(w) > n {
			break
		}
		b.WriteString(w)
	}
	return strings.TrimSpace(b.String())
}
