package importer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/2coffee/mcp-2coffee/internal/blog"
	"github.com/2coffee/mcp-2coffee/internal/errdefs"
)

// memStore is an in-memory Upserter with the all-or-nothing behaviour the
// interface promises. fail, when set, is asked before every call and can
// make it fail without writing anything.
type memStore struct {
	articles map[string]*blog.Article
	batches  [][]string // slugs of every committed batch
	calls    int
	fail     func(call int) error
}

func newMemStore() *memStore { return &memStore{articles: map[string]*blog.Article{}} }

func (m *memStore) UpsertArticles(ctx context.Context, as []*blog.Article, _ blog.Change) ([]blog.UpsertOutcome, error) {
	m.calls++
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if m.fail != nil {
		if err := m.fail(m.calls); err != nil {
			return nil, err
		}
	}
	outcomes := make([]blog.UpsertOutcome, len(as))
	staged := map[string]*blog.Article{}
	var slugs []string
	for i, a := range as {
		if err := a.Validate(); err != nil {
			return nil, err // nothing of this batch is kept
		}
		if _, dup := staged[a.Slug]; dup {
			return nil, fmt.Errorf("slug %q twice in one batch: %w", a.Slug, errdefs.ErrConflict)
		}
		switch old, ok := m.articles[a.Slug]; {
		case !ok:
			outcomes[i] = blog.Created
		case cmp.Equal(old, a):
			outcomes[i] = blog.Unchanged
		default:
			outcomes[i] = blog.Updated
		}
		staged[a.Slug] = a.Clone()
		slugs = append(slugs, a.Slug)
	}
	for slug, a := range staged {
		m.articles[slug] = a
	}
	m.batches = append(m.batches, slugs)
	return outcomes, nil
}

func (m *memStore) slugs() []string {
	var out []string
	for s := range m.articles {
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

// siteSkips are the files of testdata/site that cannot be imported, in
// walk order.
var siteSkips = []Skip{
	{File: "testdata/site/broken/bad-date.md", Line: 3, Reason: `date: "tomorrow" is not a date; write it like 2024-03-01, 2024-03-01 09:30:00 +0700 or 2024-03-01T09:30:00Z`},
	{File: "testdata/site/broken/draft-maybe.md", Line: 4, Reason: `draft: "maybe" is not true or false`},
	{File: "testdata/site/broken/duplicate-slug.md", Line: 3, Reason: `slug "astro-post" is already used by testdata/site/astro/src/content/blog/astro-post.mdx`},
	{File: "testdata/site/broken/invalid-toml.md", Line: 5, Reason: "invalid TOML front matter: expected a comma (',') or array terminator (']'), but got 'd'"},
	{File: "testdata/site/broken/invalid-yaml.md", Line: 5, Reason: "invalid YAML front matter: did not find expected key"},
	{File: "testdata/site/broken/missing-title.md", Line: 1, Reason: "title: is missing; every article needs one"},
	{File: "testdata/site/broken/no-front-matter.md", Line: 1, Reason: "no front matter: the file must start with a --- (YAML) or +++ (TOML) line"},
	{File: "testdata/site/broken/non-utf8.md", Line: 5, Reason: "the file is not UTF-8 text (byte 0xe9); save it as UTF-8"},
	{File: "testdata/site/broken/title-list.md", Line: 3, Reason: "title: is a list; want text"},
	{File: "testdata/site/broken/unterminated.md", Line: 1, Reason: "the YAML front matter opened on line 1 is never closed by a --- line"},
	{File: "testdata/site/hugo/posts/_index.md", Reason: "a section list page (_index.md), not an article", Benign: true},
}

// siteSlugs are the articles of testdata/site. Nothing from node_modules
// or hidden directories is among them.
var siteSlugs = []string{
	"astro-post", "bundle-post", "ca-phe-sua-da", "excluded", "first-steps",
	"hello-eleventy", "hello-world-unicode-post", "profiling-go", "unpublished", "yaml-post",
}

func TestImportSite(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := newMemStore()

	sum, err := Import(ctx, store, []string{site}, Options{})
	if err != nil {
		t.Fatalf("Import: %v", err)
	}
	want := &Summary{Files: 21, Created: 10, Skipped: siteSkips}
	if diff := cmp.Diff(want, sum); diff != "" {
		t.Errorf("first import summary (-want +got):\n%s", diff)
	}
	if got := sum.Failed(); got != len(siteSkips)-1 {
		t.Errorf("Failed() = %d, want every skip but the _index.md page (%d)", got, len(siteSkips)-1)
	}
	if diff := cmp.Diff(siteSlugs, store.slugs()); diff != "" {
		t.Errorf("stored slugs (-want +got):\n%s", diff)
	}
	if len(store.batches) != 1 {
		t.Errorf("%d batches, want 1", len(store.batches))
	}

	// Again: idempotent by slug.
	sum, err = Import(ctx, store, []string{site}, Options{})
	if err != nil {
		t.Fatalf("second Import: %v", err)
	}
	want = &Summary{Files: 21, Unchanged: 10, Skipped: siteSkips}
	if diff := cmp.Diff(want, sum); diff != "" {
		t.Errorf("second import summary (-want +got):\n%s", diff)
	}
}

// writeTree creates files (slash-separated name → content) under a new
// temporary directory and returns it.
func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// posts returns n good posts named p01.md, p02.md, ….
func posts(n int) map[string]string {
	files := map[string]string{}
	for i := 1; i <= n; i++ {
		files[fmt.Sprintf("p%02d.md", i)] = fmt.Sprintf("---\ntitle: Post %d\ndate: 2024-03-%02d\n---\nBody %d.\n", i, i, i)
	}
	return files
}

func TestImportUpdatedAndCreated(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := writeTree(t, posts(3))
	store := newMemStore()
	if _, err := Import(ctx, store, []string{dir}, Options{}); err != nil {
		t.Fatal(err)
	}

	// Change one post, add one.
	files := posts(4)
	files["p02.md"] = "---\ntitle: Post 2, revised\ndate: 2024-03-02\nlastmod: 2024-04-01\n---\nBody 2.\n"
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	sum, err := Import(ctx, store, []string{dir}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := &Summary{Files: 4, Created: 1, Updated: 1, Unchanged: 2}
	if diff := cmp.Diff(want, sum); diff != "" {
		t.Errorf("summary (-want +got):\n%s", diff)
	}
	if got := store.articles["p02"].Title; got != "Post 2, revised" {
		t.Errorf("stored title %q, want the revised one", got)
	}
}

// TestImportBatchFailure: batch 2 fails, so batch 1 stays committed,
// nothing of batch 2 is written and batch 3 is never tried.
func TestImportBatchFailure(t *testing.T) {
	t.Parallel()
	dir := writeTree(t, posts(5))
	store := newMemStore()
	boom := errors.New("disk full")
	store.fail = func(call int) error {
		if call == 2 {
			return boom
		}
		return nil
	}
	var progress bytes.Buffer
	sum, err := Import(context.Background(), store, []string{dir}, Options{BatchSize: 2, Progress: &progress})
	if !errors.Is(err, boom) {
		t.Fatalf("Import error = %v, want %v", err, boom)
	}
	if want := "writing articles 3 to 4: disk full"; err.Error() != want {
		t.Errorf("error = %q, want %q", err, want)
	}
	if want := (&Summary{Files: 5, Created: 2}); !cmp.Equal(want, sum) {
		t.Errorf("summary = %+v, want %+v", sum, want)
	}
	if diff := cmp.Diff([]string{"p01", "p02"}, store.slugs()); diff != "" {
		t.Errorf("stored (-want +got):\n%s", diff)
	}
	if store.calls != 2 {
		t.Errorf("%d calls to UpsertArticles, want 2", store.calls)
	}
	if got, want := progress.String(), "imported 2/5 files\n"; got != want {
		t.Errorf("progress = %q, want %q", got, want)
	}

	var out bytes.Buffer
	sum.Write(&out)
	if got, want := out.String(), "5 files: 2 created, 0 updated, 0 unchanged, 0 skipped, 3 not written\n"; got != want {
		t.Errorf("summary text = %q, want %q", got, want)
	}
}

func TestImportProgress(t *testing.T) {
	t.Parallel()
	dir := writeTree(t, posts(5))
	tests := []struct {
		batch int
		want  string
	}{
		{2, "imported 2/5 files\nimported 4/5 files\nimported 5/5 files\n"},
		{5, ""}, // one batch: nothing to report
		{0, ""}, // the default batch
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.batch), func(t *testing.T) {
			var progress bytes.Buffer
			store := newMemStore()
			if _, err := Import(context.Background(), store, []string{dir}, Options{BatchSize: tt.batch, Progress: &progress}); err != nil {
				t.Fatal(err)
			}
			if got := progress.String(); got != tt.want {
				t.Errorf("progress = %q, want %q", got, tt.want)
			}
			if len(store.articles) != 5 {
				t.Errorf("%d articles stored, want 5", len(store.articles))
			}
		})
	}
}

func TestImportCancel(t *testing.T) {
	t.Parallel()
	dir := writeTree(t, posts(5))

	t.Run("before", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		store := newMemStore()
		_, err := Import(ctx, store, []string{dir}, Options{BatchSize: 2})
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Import error = %v, want context.Canceled", err)
		}
		if store.calls != 0 {
			t.Errorf("%d calls to UpsertArticles, want 0", store.calls)
		}
	})

	t.Run("between batches", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		store := newMemStore()
		store.fail = func(call int) error {
			if call == 1 {
				cancel() // the user presses ^C while batch 1 commits
			}
			return nil
		}
		sum, err := Import(ctx, store, []string{dir}, Options{BatchSize: 2})
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Import error = %v, want context.Canceled", err)
		}
		if store.calls != 1 || sum.Created != 2 || len(store.articles) != 2 {
			t.Errorf("calls=%d created=%d stored=%d, want 1, 2, 2", store.calls, sum.Created, len(store.articles))
		}
	})
}

func TestImportRoots(t *testing.T) {
	t.Parallel()
	dir := writeTree(t, map[string]string{
		"a/one.md":            "---\ntitle: One\ndate: 2024-01-01\n---\n",
		"a/two.markdown":      "---\ntitle: Two\ndate: 2024-01-02\n---\n",
		"a/three.MDX":         "---\ntitle: Three\ndate: 2024-01-03\n---\n",
		"a/notes.txt":         "not Markdown",
		"a/.draft.md":         "---\ntitle: Hidden\ndate: 2024-01-04\n---\n",
		"a/.git/x.md":         "---\ntitle: Git\ndate: 2024-01-04\n---\n",
		"a/node_modules/x.md": "---\ntitle: Dep\ndate: 2024-01-04\n---\n",
		"b/one.md":            "---\ntitle: Other one\ndate: 2024-01-05\n---\n",
		"single.txt":          "---\ntitle: Named explicitly\ndate: 2024-01-06\n---\n",
	})
	a, b, single := filepath.Join(dir, "a"), filepath.Join(dir, "b"), filepath.Join(dir, "single.txt")
	store := newMemStore()
	// a appears twice (as itself and through dir): each file counts once.
	sum, err := Import(context.Background(), store, []string{a, single, b, a}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := &Summary{Files: 5, Created: 4, Skipped: []Skip{{
		File:   filepath.ToSlash(filepath.Join(b, "one.md")),
		Reason: fmt.Sprintf("slug %q is already used by %s", "one", filepath.ToSlash(filepath.Join(a, "one.md"))),
	}}}
	if diff := cmp.Diff(want, sum); diff != "" {
		t.Errorf("summary (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"one", "single", "three", "two"}, store.slugs()); diff != "" {
		t.Errorf("stored (-want +got):\n%s", diff)
	}

	_, err = Import(context.Background(), store, []string{filepath.Join(dir, "missing")}, Options{})
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Import of a missing root: error = %v, want os.ErrNotExist", err)
	}
}

func TestImportBadOutcomes(t *testing.T) {
	t.Parallel()
	dir := writeTree(t, posts(2))
	tests := []struct {
		name     string
		outcomes []blog.UpsertOutcome
		want     string
	}{
		{"too few", []blog.UpsertOutcome{blog.Created}, "writing articles 1 to 2: the store reported 1 outcomes for 2 articles"},
		{"unknown", []blog.UpsertOutcome{blog.Created, 0}, `writing articles 1 to 2: the store reported outcome 0 for "p02"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := upsertFunc(func(context.Context, []*blog.Article) ([]blog.UpsertOutcome, error) { return tt.outcomes, nil })
			_, err := Import(context.Background(), dst, []string{dir}, Options{})
			if err == nil || err.Error() != tt.want {
				t.Errorf("Import error = %v, want %q", err, tt.want)
			}
		})
	}
}

type upsertFunc func(context.Context, []*blog.Article) ([]blog.UpsertOutcome, error)

func (f upsertFunc) UpsertArticles(ctx context.Context, as []*blog.Article, _ blog.Change) ([]blog.UpsertOutcome, error) {
	return f(ctx, as)
}

func TestSummaryWrite(t *testing.T) {
	sum := &Summary{Files: 4, Created: 1, Updated: 1, Unchanged: 0, Skipped: []Skip{
		{File: "posts/x.md", Line: 3, Reason: "tags: is a map; want a list of words"},
		{File: "posts/_index.md", Reason: "a section list page (_index.md), not an article"},
	}}
	var out bytes.Buffer
	sum.Write(&out)
	want := strings.Join([]string{
		"4 files: 1 created, 1 updated, 0 unchanged, 2 skipped",
		"skipped:",
		"  posts/x.md:3: tags: is a map; want a list of words",
		"  posts/_index.md: a section list page (_index.md), not an article",
		"",
	}, "\n")
	if got := out.String(); got != want {
		t.Errorf("Write:\n%s\nwant:\n%s", got, want)
	}
}

// TestImportStreams: each batch is written before the files after it are
// read, so memory holds one batch, not the tree. The store changes a later
// file while batch 1 commits; the import sees the change.
func TestImportStreams(t *testing.T) {
	t.Parallel()
	dir := writeTree(t, posts(5))
	store := newMemStore()
	store.fail = func(call int) error {
		if call == 1 {
			return os.WriteFile(filepath.Join(dir, "p05.md"), []byte("---\ntitle: Read after batch 1\ndate: 2024-03-05\n---\n"), 0o644)
		}
		return nil
	}
	sum, err := Import(context.Background(), store, []string{dir}, Options{BatchSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	if want := (&Summary{Files: 5, Created: 5}); !cmp.Equal(want, sum) {
		t.Errorf("summary = %+v, want %+v", sum, want)
	}
	if got := store.articles["p05"].Title; got != "Read after batch 1" {
		t.Errorf("p05 was read before batch 1 was written: title %q", got)
	}
	if want := [][]string{{"p01", "p02"}, {"p03", "p04"}, {"p05"}}; !cmp.Equal(want, store.batches) {
		t.Errorf("batches = %v, want %v", store.batches, want)
	}
}

// BenchmarkImport imports a tree of 500 posts of about 8 KB into a store
// that keeps nothing, and reports the allocations per file.
func BenchmarkImport(b *testing.B) {
	dir := b.TempDir()
	body := strings.Repeat("Cà phê sữa đá is coffee with condensed milk, over ice. ", 150)
	const n = 500
	for i := range n {
		text := fmt.Sprintf("---\ntitle: Post %d\ndate: 2024-03-01\ntags: [go, cà phê]\n---\n%s\n", i, body)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("p%04d.md", i)), []byte(text), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	discard := upsertFunc(func(_ context.Context, as []*blog.Article) ([]blog.UpsertOutcome, error) {
		out := make([]blog.UpsertOutcome, len(as))
		for i := range out {
			out[i] = blog.Created
		}
		return out, nil
	})
	b.ReportAllocs()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	runs := 0
	for b.Loop() {
		if _, err := Import(context.Background(), discard, []string{dir}, Options{}); err != nil {
			b.Fatal(err)
		}
		runs++
	}
	runtime.ReadMemStats(&after)
	files := float64(runs * n)
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/files, "allocs/file")
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/files, "B/file")
}

// TestImportTranslations: Hugo's multilingual file names make one article
// per language, with the language from the name and a translation key
// shared by the set, instead of two files fighting over one slug.
func TestImportTranslations(t *testing.T) {
	t.Parallel()
	dir := writeTree(t, map[string]string{
		"posts/ca-phe.en.md":            "---\ntitle: Coffee\ndate: 2024-03-01\n---\n",
		"posts/ca-phe.vi.md":            "---\ntitle: Cà phê\ndate: 2024-03-01\n---\n",
		"posts/bundle/index.vi.md":      "---\ntitle: Gói\ndate: 2024-03-02\n---\n",
		"posts/bundle/index.md":         "---\ntitle: Bundle\ndate: 2024-03-02\ntranslationKey: posts/bundle\n---\n",
		"posts/2024-03-03-tea.zh-cn.md": "---\ntitle: 茶\n---\n",
		"posts/named.vi.md":             "---\ntitle: Có slug\nslug: co-slug\nlang: vi-VN\ndate: 2024-03-04\n---\n",
		"posts/notes.old.md":            "---\ntitle: Not a language\ndate: 2024-03-05\n---\n",
		"posts/own-key.fr.md":           "---\ntitle: Clé\ndate: 2024-03-06\ntranslationKey: shared\n---\n",
	})
	store := newMemStore()
	sum, err := Import(context.Background(), store, []string{dir}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if want := (&Summary{Files: 8, Created: 8}); !cmp.Equal(want, sum) {
		t.Fatalf("summary (-want +got):\n%s", cmp.Diff(want, sum))
	}
	type got struct{ Language, TranslationKey string }
	want := map[string]got{
		"ca-phe-en":  {"en", "posts/ca-phe"},
		"ca-phe-vi":  {"vi", "posts/ca-phe"},
		"bundle-vi":  {"vi", "posts/bundle"},
		"bundle":     {"en", "posts/bundle"}, // the default language, joined by its front matter
		"tea-zh-cn":  {"zh-CN", "posts/2024-03-03-tea"},
		"co-slug":    {"vi-VN", "posts/named"}, // the front matter's slug and lang win
		"notes-old":  {"en", ""},
		"own-key-fr": {"fr", "shared"},
	}
	have := map[string]got{}
	for slug, a := range store.articles {
		have[slug] = got{a.Language, a.TranslationKey}
	}
	if diff := cmp.Diff(want, have); diff != "" {
		t.Errorf("articles (-want +got):\n%s", diff)
	}
}
