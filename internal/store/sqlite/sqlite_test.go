package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/2coffee/mcp-2coffee/internal/blog"
	"github.com/2coffee/mcp-2coffee/internal/oauth"
	"github.com/2coffee/mcp-2coffee/internal/store/storetest"
)

// openTest opens a new database in a fresh directory, closed at the end of
// the test.
func openTest(t testing.TB) *DB {
	t.Helper()
	db, err := Open(t.Context(), filepath.Join(t.TempDir(), "blog.db"), nil)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return db
}

func TestStore(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) blog.Store { return openTest(t) })
}

func testArticle(t *testing.T, slug, body string) *blog.Article {
	t.Helper()
	a := &blog.Article{
		Slug:        slug,
		Title:       "Title " + slug,
		Body:        body,
		Tags:        []string{"test"},
		PublishedAt: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC),
		UpdatedAt:   time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC),
	}
	a.Normalize()
	if err := a.Validate(); err != nil {
		t.Fatalf("invalid test article: %v", err)
	}
	return a
}

type appliedMigration struct {
	Version   int
	Name      string
	AppliedAt int64
}

func applied(t *testing.T, db *DB) []appliedMigration {
	t.Helper()
	rows, err := db.SQL().QueryContext(t.Context(), `SELECT version, name, applied_at FROM schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatalf("reading schema_migrations: %v", err)
	}
	defer rows.Close()
	var out []appliedMigration
	for rows.Next() {
		var m appliedMigration
		if err := rows.Scan(&m.Version, &m.Name, &m.AppliedAt); err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestOpenCreatesPrivateDirectory(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "nested", "data")
	db, err := Open(t.Context(), filepath.Join(dir, "blog.db"), nil)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer db.Close()
	info, err := os.Stat(dir)
	if err != nil {
		t.Fatalf("database directory: %v", err)
	}
	if perm := info.Mode().Perm(); perm != 0o700 {
		t.Errorf("database directory mode = %v, want 0700", perm)
	}
	var mode string
	if err := db.SQL().QueryRowContext(t.Context(), `PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode = %q, %v; want wal", mode, err)
	}
	var fk int
	if err := db.SQL().QueryRowContext(t.Context(), `PRAGMA foreign_keys`).Scan(&fk); err != nil || fk != 1 {
		t.Errorf("foreign_keys = %d, %v; want 1", fk, err)
	}
}

func TestOpenPathWithURICharacters(t *testing.T) {
	t.Parallel()
	// '?' and '#' would otherwise start the query or fragment of the URI.
	path := filepath.Join(t.TempDir(), "odd?name#1%.db")
	db, err := Open(t.Context(), path, nil)
	if err != nil {
		t.Fatalf("Open(%q): %v", path, err)
	}
	db.Close()
	if _, err := os.Stat(path); err != nil {
		t.Errorf("database not created at the exact path: %v", err)
	}
}

func TestReopenKeepsDataAndSkipsMigrations(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "blog.db")
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))

	db, err := Open(t.Context(), path, logger)
	if err != nil {
		t.Fatalf("first Open: %v", err)
	}
	want := testArticle(t, "kept", "Still here after a restart.")
	if err := db.CreateArticle(t.Context(), want, blog.Change{Actor: "test", At: time.Now()}); err != nil {
		t.Fatalf("CreateArticle: %v", err)
	}
	before := applied(t, db)
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	if len(before) != len(ms) {
		t.Errorf("first Open recorded %d migrations, want %d", len(before), len(ms))
	}
	if err := db.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if n := strings.Count(logs.String(), "applied database migration"); n != len(ms) {
		t.Errorf("first Open logged %d applied migrations, want %d:\n%s", n, len(ms), logs.String())
	}

	logs.Reset()
	db, err = Open(t.Context(), path, logger)
	if err != nil {
		t.Fatalf("second Open: %v", err)
	}
	defer db.Close()
	if logs.Len() != 0 {
		t.Errorf("second Open applied migrations again:\n%s", logs.String())
	}
	if diff := cmp.Diff(before, applied(t, db)); diff != "" {
		t.Errorf("schema_migrations changed by reopening (-before +after):\n%s", diff)
	}
	got, err := db.GetArticle(t.Context(), "kept")
	if err != nil {
		t.Fatalf("GetArticle after reopening: %v", err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("article after reopening (-want +got):\n%s", diff)
	}
	hits, err := db.SearchArticles(t.Context(), mustParse(t, "restart"), blog.SearchRange{Limit: 10})
	if err != nil {
		t.Fatalf("search after reopening: %v", err)
	}
	if len(hits) != 1 {
		t.Errorf("search after reopening found %d articles, want 1", len(hits))
	}
}

func TestOpenRefusesNewerSchema(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "blog.db")
	db, err := Open(t.Context(), path, nil)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if _, err := db.SQL().ExecContext(t.Context(),
		`INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, '9999_future.sql', 0)`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if db, err := Open(t.Context(), path, nil); err == nil {
		db.Close()
		t.Fatal("Open of a database migrated by a newer program succeeded, want an error")
	}
}

func mustParse(t *testing.T, s string) blog.Query {
	t.Helper()
	q, err := blog.ParseQuery(s)
	if err != nil {
		t.Fatalf("ParseQuery(%q): %v", s, err)
	}
	return q
}

// assertUntouched checks that the store holds only the article "before"
// with its original content, in the table, the tags and the search index.
func assertUntouched(t *testing.T, db *DB, before *blog.Article) {
	t.Helper()
	ctx := context.Background()
	if n, err := db.CountArticles(ctx); err != nil || n != 1 {
		t.Errorf("CountArticles after the failed batch = %d, %v; want 1", n, err)
	}
	got, err := db.GetArticle(ctx, before.Slug)
	if err != nil {
		t.Fatalf("GetArticle: %v", err)
	}
	if diff := cmp.Diff(before, got); diff != "" {
		t.Errorf("existing article changed by the failed batch (-want +got):\n%s", diff)
	}
	hits, err := db.SearchArticles(ctx, mustParse(t, "batch"), blog.SearchRange{Filter: blog.Filter{IncludeDrafts: true}, Limit: 10})
	if err != nil {
		t.Fatalf("SearchArticles: %v", err)
	}
	if len(hits) != 0 {
		t.Errorf("search index holds words of the failed batch: %d hits", len(hits))
	}
	tags, err := db.ListTags(ctx, blog.TagOptions{IncludeDrafts: true})
	if err != nil {
		t.Fatalf("ListTags: %v", err)
	}
	if diff := cmp.Diff([]blog.TagCount{{Tag: "test", Count: 1}}, tags); diff != "" {
		t.Errorf("tags after the failed batch (-want +got):\n%s", diff)
	}
}

func TestUpsertFailureWritesNothing(t *testing.T) {
	t.Parallel()
	db := openTest(t)
	before := testArticle(t, "existing", "The original text.")
	if err := db.CreateArticle(t.Context(), before, blog.Change{Actor: "test", At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	changed := before.Clone()
	changed.Body = "Rewritten by the batch."
	// The last article breaks a schema constraint (an empty title) after
	// the others were written inside the transaction. The Service never
	// sends such an article; the schema refuses it anyway.
	broken := testArticle(t, "broken", "batch")
	broken.Title = ""
	batch := []*blog.Article{
		testArticle(t, "new-one", "Words of the batch."),
		changed,
		testArticle(t, "new-two", "More batch words."),
		broken,
	}
	outcomes, err := db.UpsertArticles(t.Context(), batch, blog.Change{Actor: "test", At: time.Now()})
	if err == nil {
		t.Fatalf("UpsertArticles with a broken article succeeded with %v, want an error", outcomes)
	}
	if !strings.Contains(err.Error(), `"broken"`) {
		t.Errorf("error %q does not name the broken article", err)
	}
	assertUntouched(t, db, before)
}

func TestUpsertCancelledWritesNothing(t *testing.T) {
	t.Parallel()
	db := openTest(t)
	before := testArticle(t, "existing", "The original text.")
	if err := db.CreateArticle(t.Context(), before, blog.Change{Actor: "test", At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	var batch []*blog.Article
	for i := range 200 {
		batch = append(batch, testArticle(t, fmt.Sprintf("batch-%03d", i), "A batch article."))
	}
	changed := before.Clone()
	changed.Body = "Rewritten by the batch."
	batch = append(batch, changed)

	// Cancel for real in the middle of the batch: the context cancels
	// itself the 50th time anyone asks whether it is done.
	parent, cancel := context.WithCancel(t.Context())
	defer cancel()
	ctx := &cancelAfter{Context: parent, cancel: cancel}
	ctx.left.Store(50)
	_, err := db.UpsertArticles(ctx, batch, blog.Change{Actor: "test", At: time.Now()})
	if err == nil {
		t.Fatal("UpsertArticles cancelled mid-way succeeded, want an error")
	}
	t.Logf("cancelled mid-way: %v", err)
	if ctx.left.Load() > 0 {
		t.Fatalf("the batch finished before the context was cancelled; the test needs a bigger batch")
	}
	assertUntouched(t, db, before)

	// Cancelled before it starts.
	cctx, cancel2 := context.WithCancel(t.Context())
	cancel2()
	if _, err := db.UpsertArticles(cctx, batch, blog.Change{Actor: "test", At: time.Now()}); err == nil {
		t.Fatal("UpsertArticles with a cancelled context succeeded")
	}
	assertUntouched(t, db, before)
}

// cancelAfter is a context that cancels itself when its Err method has
// been called left times: a deterministic way to cancel partway through
// work that checks its context as it goes.
type cancelAfter struct {
	context.Context
	cancel context.CancelFunc
	left   atomic.Int32
}

func (c *cancelAfter) Err() error {
	if c.left.Add(-1) == 0 {
		c.cancel()
	}
	return c.Context.Err()
}

func TestSetupSuite(t *testing.T) {
	t.Parallel()
	storetest.RunSetup(t, func(t *testing.T) storetest.Setup { return openTest(t) })
}

func TestSetupStepsSurviveReopen(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "blog.db")
	db, err := Open(t.Context(), path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if ran, err := db.Once(t.Context(), "step", func(context.Context) error { return nil }); err != nil || !ran {
		t.Fatalf("Once = %v, %v", ran, err)
	}
	db.Close()
	db, err = Open(t.Context(), path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if ran, err := db.Once(t.Context(), "step", func(context.Context) error { return nil }); err != nil || ran {
		t.Errorf("Once after reopening = %v, %v; want the step remembered", ran, err)
	}
}

// TestUpgradeRemembersSamplesOffered opens a database as the release
// before setup_steps left it. That release offered the samples to every
// database it created (loaded, or declined with --no-sample), so after the
// upgrade the step is recorded whatever the database holds; only a
// database created by this release is offered them.
func TestUpgradeRemembersSamplesOffered(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name    string
		fill    string
		offered bool
	}{
		{"empty (made with --no-sample)", ``, true},
		{"with an article", `INSERT INTO articles (slug, title, summary, tags, language, author, published_at, updated_at, draft)
			VALUES ('x', 'X', '', '[]', 'en', '', 0, 0, 0)`, true},
		{"with a key", `INSERT INTO api_keys (id, name, hash, scopes, created_at) VALUES ('k', 'admin', zeroblob(32), 'articles:write', 0)`, true},
	} {
		path := filepath.Join(t.TempDir(), "blog.db")
		db, err := Open(t.Context(), path, nil)
		if err != nil {
			t.Fatal(err)
		}
		// Back to the schema before migration 0004.
		if _, err := db.SQL().ExecContext(t.Context(), undo0005+`DROP TABLE setup_steps; DELETE FROM schema_migrations WHERE version >= 4`); err != nil {
			t.Fatal(err)
		}
		if tt.fill != "" {
			if _, err := db.SQL().ExecContext(t.Context(), tt.fill); err != nil {
				t.Fatalf("%s: %v", tt.name, err)
			}
		}
		db.Close()
		db, err = Open(t.Context(), path, nil)
		if err != nil {
			t.Fatal(err)
		}
		ran, err := db.Once(t.Context(), "sample-articles", func(context.Context) error { return nil })
		db.Close()
		if err != nil || ran == tt.offered {
			t.Errorf("%s: after the upgrade Once(sample-articles) ran = %v (%v); want %v", tt.name, ran, err, !tt.offered)
		}
	}
}

// undo0013 takes a database back to before migration 0013.
const undo0013 = `ALTER TABLE article_sources DROP COLUMN zone; DELETE FROM schema_migrations WHERE version >= 13;`

// undo0012 takes a database back to before migration 0012.
const undo0012 = undo0013 + `DROP TABLE article_sources; DELETE FROM schema_migrations WHERE version >= 12;`

// undo0011 takes a database back to before migration 0011.
const undo0011 = undo0012 + `DELETE FROM article_revisions WHERE actor = 'migration'; DELETE FROM schema_migrations WHERE version >= 11;`

// undo0010 takes a database back to the schema before migration 0010.
const undo0010 = undo0011 + `DROP TABLE article_revisions; DROP TABLE article_trash; DELETE FROM schema_migrations WHERE version >= 10;`

// undo0009 takes a database back to the schema before migration 0009.
const undo0009 = undo0010 + `DROP TABLE oauth_spent_assertions; DELETE FROM schema_migrations WHERE version >= 9;`

// undo0008 takes a database back to the schema before migration 0008.
const undo0008 = undo0009 + `DROP INDEX oauth_users_subject; ALTER TABLE oauth_users DROP COLUMN issuer;
	ALTER TABLE oauth_users DROP COLUMN subject; DELETE FROM schema_migrations WHERE version >= 8;`

// undo0006 takes a database back to the schema before migration 0006
// (0007 rebuilds oauth_families as it finds it, so it may run again).
const undo0006 = undo0008 + `DROP TABLE articles_head_fts; DELETE FROM schema_migrations WHERE version >= 6;`

// undo0005 takes a database back to the schema before migration 0005.
const undo0005 = undo0006 + `DROP INDEX articles_translation; DROP INDEX article_tags_key;
	ALTER TABLE articles DROP COLUMN translation_key; ALTER TABLE article_tags DROP COLUMN tag_key;
	DELETE FROM schema_migrations WHERE version >= 5;`

// TestUpgradeFoldsStoredTags opens a database as the release before
// migration 0005 left it, holding tagged articles: after the upgrade a
// tag filter without diacritics finds them.
func TestUpgradeFoldsStoredTags(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "blog.db")
	db, err := Open(t.Context(), path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.SQL().ExecContext(t.Context(), undo0005+`
		INSERT INTO articles (id, slug, title, summary, tags, language, author, published_at, updated_at, draft)
			VALUES (1, 'x', 'X', '', '["cà-phê","go"]', 'vi', '', 0, 0, 0);
		INSERT INTO article_bodies (article_id, body) VALUES (1, 'Body');
		INSERT INTO article_tags (article_id, tag) VALUES (1, 'cà-phê'), (1, 'go');`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	db, err = Open(t.Context(), path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, tag := range []string{"ca-phe", "cà-phê", "go"} {
		as, err := db.ListArticles(t.Context(), blog.ListRange{Filter: blog.Filter{Tag: tag}, Limit: 10})
		if err != nil || len(as) != 1 {
			t.Errorf("after the upgrade, tag %q lists %d articles (%v); want 1", tag, len(as), err)
		}
	}
	if a, err := db.GetArticle(t.Context(), "x"); err != nil || a.TranslationKey != "" {
		t.Errorf("GetArticle after the upgrade = %+v, %v; want no translation key", a, err)
	}
}

// TestUpgradeIndexesHeads opens a database as the release before migration
// 0006 left it, holding articles: after the upgrade search finds and ranks
// them by the head index the migration built.
func TestUpgradeIndexesHeads(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "blog.db")
	db, err := Open(t.Context(), path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []*blog.Article{
		{Slug: "in-body", Title: "Notes", Body: "Tuning the kettle.", Language: "en",
			PublishedAt: time.Unix(2000, 0), UpdatedAt: time.Unix(2000, 0)},
		{Slug: "in-title", Title: "The kettle", Tags: []string{"cà-phê"}, Body: "Boiling.", Language: "en",
			PublishedAt: time.Unix(1000, 0), UpdatedAt: time.Unix(1000, 0)},
	} {
		a.Normalize()
		if err := db.CreateArticle(t.Context(), a, blog.Change{Actor: "test", At: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.SQL().ExecContext(t.Context(), undo0006); err != nil {
		t.Fatal(err)
	}
	db.Close()
	db, err = Open(t.Context(), path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for query, want := range map[string][]string{
		"kettle": {"in-title", "in-body"}, // the newer body-only match below the title match
		"ca phe": {"in-title"},
	} {
		q, err := blog.ParseQuery(query)
		if err != nil {
			t.Fatal(err)
		}
		hits, err := db.SearchArticles(t.Context(), q, blog.SearchRange{Limit: 10})
		var got []string
		for _, h := range hits {
			got = append(got, h.Article.Slug)
		}
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("after the upgrade, search %q = %q (%v); want %q", query, got, err, want)
		}
	}
}

func TestNewDatabaseIsOfferedTheSamples(t *testing.T) {
	t.Parallel()
	db := openTest(t)
	if ran, err := db.Once(t.Context(), "sample-articles", func(context.Context) error { return nil }); err != nil || !ran {
		t.Errorf("Once(sample-articles) on a new database = %v, %v; want it run", ran, err)
	}
}

// TestNewDatabaseOpenedTogetherIsOfferedTheSamples: processes that open
// one new file at once (replicas starting together) all open it, none
// refused with SQLITE_BUSY while another turns it to WAL, and they migrate
// it in turn, so none mistakes the half-migrated schema of another for a
// database of an older release, whose samples were offered long ago.
// Before the fix the refusal came about once in a hundred rounds of
// eight openers, the misread version several times in ten.
func TestNewDatabaseOpenedTogetherIsOfferedTheSamples(t *testing.T) {
	t.Parallel()
	for round := range 30 {
		path := filepath.Join(t.TempDir(), "blog.db")
		dbs := make([]*DB, 8)
		errs := make([]error, len(dbs))
		var wg sync.WaitGroup
		for i := range dbs {
			wg.Go(func() { dbs[i], errs[i] = Open(t.Context(), path, nil) })
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("round %d: Open %d: %v", round, i, err)
			}
			defer dbs[i].Close()
		}
		ran, err := dbs[0].Once(t.Context(), "sample-articles", func(context.Context) error { return nil })
		if err != nil || !ran {
			t.Fatalf("round %d: Once(sample-articles) on a new database opened %d times at once = %v, %v; want it run", round, len(dbs), ran, err)
		}
	}
}

// TestFilesAreOwnerOnly: in an existing, shared directory (0755, umask
// 022) the database and the -wal and -shm files SQLite creates beside it
// are readable by the owner alone.
func TestFilesAreOwnerOnly(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "blog.db")
	db, err := Open(t.Context(), path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// A write makes sure the WAL and its index exist.
	if _, err := db.Once(t.Context(), "step", func(context.Context) error { return nil }); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{path, path + "-wal", path + "-shm"} {
		st, err := os.Stat(name)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if perm := st.Mode().Perm(); perm != 0o600 {
			t.Errorf("%s has mode %04o, want 0600", filepath.Base(name), perm)
		}
	}
}

func TestWarnsOfAReadableDatabase(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "blog.db")
	db, err := Open(t.Context(), path, nil)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	var logs strings.Builder
	db, err = Open(t.Context(), path, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	if !strings.Contains(logs.String(), "readable by other users") || !strings.Contains(logs.String(), "mode=0644") {
		t.Errorf("no warning about a 0644 database:\n%s", logs.String())
	}
}

// Open waits for another process that holds the file's lock (here a
// plain SQLite connection in an exclusive transaction, as a backup tool
// or a replica's checkpoint may hold it) instead of failing with
// "database is locked".
func TestOpenWaitsForALockedFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "blog.db")
	other, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(0)")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	other.SetMaxOpenConns(1)
	tx, err := other.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(`CREATE TABLE held (x)`); err != nil {
		t.Fatal(err)
	}
	released := make(chan struct{})
	go func() {
		time.Sleep(300 * time.Millisecond)
		tx.Commit()
		close(released)
	}()
	db, err := Open(t.Context(), path, nil)
	if err != nil {
		t.Fatalf("Open while another connection held the lock for 300ms: %v", err)
	}
	db.Close()
	<-released
}

// More searches at once than the pool has connections, on a database
// whose statement cache is cold: each holds a connection in its read
// transaction, so none may wait for another connection to prepare a
// statement (that wait never ended, and stdio clients sending requests
// concurrently saw their searches hang).
func TestConcurrentSearchesOnAColdCache(t *testing.T) {
	t.Parallel()
	db := openTest(t)
	var as []*blog.Article
	for i := range 30 {
		a := &blog.Article{Slug: fmt.Sprintf("cafe-%02d", i), Title: "Cà phê " + strconv.Itoa(i), Body: "Sữa đá and more coffee.",
			PublishedAt: time.Unix(1_700_000_000+int64(i), 0)}
		a.Normalize()
		as = append(as, a)
	}
	if _, err := db.UpsertArticles(t.Context(), as, blog.Change{Actor: "test", At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for i := range 32 {
		wg.Go(func() {
			q, _ := blog.ParseQuery([]string{"ca phe", "coffee", "sua da", "more"}[i%4])
			if _, err := db.SearchArticles(ctx, q, blog.SearchRange{Limit: 5, Offset: i % 3}); err != nil {
				t.Errorf("search %d: %v", i, err)
			}
		})
	}
	wg.Wait()
}

// TestUpgradeKeepsTokenFamilies runs migration 0007, which rebuilds
// oauth_families, over a database holding a user's code and tokens: they
// all survive (with foreign keys enforced the rebuild's DROP TABLE would
// have cascaded into both), the families may then be a client's alone,
// and every connection of the pool enforces foreign keys again.
func TestUpgradeKeepsTokenFamilies(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "blog.db")
	db, err := Open(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_800_000_000, 0).UTC()
	if err := db.CreateUser(ctx, &oauth.User{Name: "ann", PasswordHash: "x", CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	code := &oauth.Code{Hash: make([]byte, 32), FamilyID: "fam", ClientID: "c", User: "ann", RedirectURI: "http://127.0.0.1/cb",
		Scopes: []string{"articles:read"}, Resource: "http://127.0.0.1:3000/mcp", Challenge: "ch", CreatedAt: now, ExpiresAt: now.Add(time.Minute)}
	if err := db.CreateCode(ctx, code); err != nil {
		t.Fatal(err)
	}
	tok := &oauth.Token{Hash: bytes.Repeat([]byte{1}, 32), Kind: oauth.KindAccess, FamilyID: "fam", Scopes: []string{"articles:read"},
		CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := db.AddTokens(ctx, "fam", tok); err != nil {
		t.Fatal(err)
	}
	// The release before 0007: its families table, without its record
	// (later migrations, which touch other tables, stay applied).
	if _, err := db.SQL().ExecContext(ctx, `DELETE FROM schema_migrations WHERE version = 7`); err != nil {
		t.Fatal(err)
	}
	db.Close()

	db, err = Open(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if got, err := db.TokenByHash(ctx, tok.Hash); err != nil || got.User != "ann" || got.ClientID != "c" {
		t.Errorf("the token after the upgrade: %+v, %v", got, err)
	}
	if got, err := db.CodeByHash(ctx, code.Hash); err != nil || got.User != "ann" {
		t.Errorf("the code after the upgrade: %+v, %v", got, err)
	}
	machine := &oauth.Token{Hash: bytes.Repeat([]byte{2}, 32), Kind: oauth.KindAccess, FamilyID: "mf", Scopes: []string{"articles:read"},
		CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := db.CreateClient(ctx, &oauth.Client{ID: "machine", Name: "Job", Kind: oauth.KindPreregistered, AuthMethod: oauth.AuthSecretBasic,
		SecretHash: make([]byte, 32), GrantTypes: []string{oauth.GrantClientCredentials}, CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	if err := db.CreateFamily(ctx, "mf", "machine", "", "http://127.0.0.1:3000/mcp", now, machine); err != nil {
		t.Errorf("a client family after the upgrade: %v", err)
	}
	// Hold several connections at once, so the check reaches past the one
	// the migration ran on (which is thrown away).
	var conns []*sql.Conn
	for range 4 {
		c, err := db.SQL().Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	for i, c := range conns {
		var fk int
		if err := c.QueryRowContext(ctx, `PRAGMA foreign_keys`).Scan(&fk); err != nil || fk != 1 {
			t.Errorf("connection %d: foreign_keys = %d, %v; want 1", i, fk, err)
		}
		c.Close()
	}
	// And they are enforced: a token of no family is refused.
	if _, err := db.SQL().ExecContext(ctx, `INSERT INTO oauth_tokens (hash, kind, family_id, scopes, created_at, expires_at)
		VALUES (?, 'access', 'nope', '', 0, 0)`, bytes.Repeat([]byte{3}, 32)); err == nil {
		t.Error("a token of a family that does not exist was stored")
	}
}

// TestUpgradeKeepsARevisionOfEachArticle: an article from before the
// history gets a revision of itself at the upgrade, so the first change
// made after it can be undone (it was the one change that could not).
func TestUpgradeKeepsARevisionOfEachArticle(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "blog.db")
	db, err := Open(t.Context(), path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.SQL().ExecContext(t.Context(), undo0010+`
		INSERT INTO articles (id, slug, title, summary, tags, language, author, published_at, updated_at, draft, translation_key)
			VALUES (1, 'legacy', 'Legacy', 'Old summary', '["go"]', 'en', 'An', 1700000000, 1700000100, 1, '');
		INSERT INTO article_bodies (article_id, body) VALUES (1, 'The original body.');`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	db, err = Open(t.Context(), path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	revs, err := db.ListRevisions(t.Context(), blog.RevisionRange{Slug: "legacy", Limit: 10})
	if err != nil || len(revs) != 1 || revs[0].Actor != "migration" || revs[0].Action != blog.ActionCreated {
		t.Fatalf("revisions after the upgrade: %+v, %v", revs, err)
	}
	rev, err := db.GetRevision(t.Context(), "legacy", revs[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	stored, err := db.GetArticle(t.Context(), "legacy")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(stored, rev.Article); diff != "" {
		t.Errorf("the revision made at the upgrade (-stored +revision):\n%s", diff)
	}
}
