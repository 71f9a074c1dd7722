package postgres_test

import (
	"context"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/2coffee/mcp-2coffee/internal/blog"
	"github.com/2coffee/mcp-2coffee/internal/store/postgres"
	"github.com/2coffee/mcp-2coffee/internal/store/postgres/pgtest"
	"github.com/2coffee/mcp-2coffee/internal/store/storetest"
	"github.com/google/go-cmp/cmp"
)

// openTest opens a new, empty database in a schema of its own.
func openTest(t testing.TB) *postgres.DB {
	t.Helper()
	db, err := postgres.Open(t.Context(), pgtest.Schema(t), postgres.Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestSetup(t *testing.T) {
	t.Parallel()
	storetest.RunSetup(t, func(t *testing.T) storetest.Setup { return openTest(t) })
}

func open(t *testing.T, dsn string, opts postgres.Options) (*postgres.DB, error) {
	t.Helper()
	db, err := postgres.Open(t.Context(), dsn, opts)
	if err == nil {
		t.Cleanup(func() { db.Close() })
	}
	return db, err
}

// Ten replicas starting at once on a new database: every one opens, and
// the migrations are applied once (a second application would fail on
// CREATE TABLE, and would record a version twice).
func TestMigrateTogether(t *testing.T) {
	t.Parallel()
	dsn := pgtest.Schema(t)
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			if _, err := open(t, dsn, postgres.Options{MaxConns: 2}); err != nil {
				t.Errorf("Open: %v", err)
			}
		})
	}
	wg.Wait()
	db, err := open(t, dsn, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var rows, newest int
	if err := db.Pool().QueryRow(t.Context(), `SELECT count(*), max(version) FROM schema_migrations`).Scan(&rows, &newest); err != nil {
		t.Fatal(err)
	}
	if newest != postgres.SchemaVersion() || rows != newest {
		t.Errorf("schema_migrations holds %d rows up to version %d, want one per version up to %d", rows, newest, postgres.SchemaVersion())
	}
}

// A program must not write to a schema it does not know: one a newer
// release migrated is refused, with what to do.
func TestRefusesNewerSchema(t *testing.T) {
	t.Parallel()
	dsn := pgtest.Schema(t)
	db, err := open(t, dsn, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Pool().Exec(t.Context(), `INSERT INTO schema_migrations (version, name) VALUES ($1, 'from_the_future.sql')`, postgres.SchemaVersion()+1); err != nil {
		t.Fatal(err)
	}
	for _, opts := range []postgres.Options{{}, {NoMigrate: true}} {
		if _, err := open(t, dsn, opts); err == nil || !strings.Contains(err.Error(), "newer than this program") || !strings.Contains(err.Error(), "upgrade") {
			t.Errorf("Open(%+v) of a newer schema = %v, want it refused", opts, err)
		}
	}
}

// --no-migrate leaves the schema alone: a new database is refused (and
// left without tables), an up-to-date one opens, even for a role that may
// use the tables but create nothing, as a least-privilege serve runs.
func TestNoMigrate(t *testing.T) {
	t.Parallel()
	dsn := pgtest.Schema(t)
	if _, err := open(t, dsn, postgres.Options{NoMigrate: true}); !errors.Is(err, postgres.ErrSchemaBehind) {
		t.Fatalf("Open --no-migrate of a new schema = %v, want ErrSchemaBehind", err)
	}
	owner, err := open(t, dsn, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var schema string
	if err := owner.Pool().QueryRow(t.Context(), `SELECT current_schema()`).Scan(&schema); err != nil {
		t.Fatal(err)
	}
	role := schema + "_app"
	for _, stmt := range []string{
		`CREATE ROLE ` + role + ` LOGIN`,
		`GRANT USAGE ON SCHEMA ` + schema + ` TO ` + role,
		`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA ` + schema + ` TO ` + role,
	} {
		if _, err := owner.Pool().Exec(t.Context(), stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	t.Cleanup(func() {
		ctx := context.Background()
		owner.Pool().Exec(ctx, `REVOKE ALL ON ALL TABLES IN SCHEMA `+schema+` FROM `+role)
		owner.Pool().Exec(ctx, `REVOKE ALL ON SCHEMA `+schema+` FROM `+role)
		owner.Pool().Exec(ctx, `DROP ROLE `+role)
	})
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.User(role)
	app, err := open(t, u.String(), postgres.Options{NoMigrate: true})
	if err != nil {
		t.Fatalf("Open --no-migrate as a role without CREATE: %v", err)
	}
	a := &blog.Article{Slug: "hello", Title: "Hello", Body: "Body.", PublishedAt: time.Unix(1_700_000_000, 0)}
	a.Normalize()
	if err := app.CreateArticle(t.Context(), a, blog.Change{Actor: "test", At: time.Now()}); err != nil {
		t.Errorf("CreateArticle as that role: %v", err)
	}
	if n, err := app.CountArticles(t.Context()); err != nil || n != 1 {
		t.Errorf("CountArticles as that role = %d, %v", n, err)
	}
}

// TestRevisionsBackfill: migration 0006 gives every article without
// revisions one of itself as it is (actor "migration"), exactly the
// article GetArticle reads, so the first change after an upgrade can be
// undone.
func TestRevisionsBackfill(t *testing.T) {
	db := openTest(t)
	a := &blog.Article{Slug: "legacy", Title: "Legacy", Summary: "Old summary", Body: "The original body.", Tags: []string{"go", "cà-phê"},
		Language: "vi", Author: "An", PublishedAt: time.Unix(1_700_000_000, 0), UpdatedAt: time.Unix(1_700_000_100, 0), Draft: true}
	a.Normalize()
	if err := db.CreateArticle(t.Context(), a, blog.Change{Actor: "test", At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	// As a database from before the history holds it.
	if _, err := db.Pool().Exec(t.Context(), `DELETE FROM article_revisions`); err != nil {
		t.Fatal(err)
	}
	backfill, err := os.ReadFile(filepath.Join("migrations", "0006_revisions_backfill.sql"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Pool().Exec(t.Context(), string(backfill)); err != nil {
		t.Fatalf("the backfill: %v", err)
	}
	revs, err := db.ListRevisions(t.Context(), blog.RevisionRange{Slug: "legacy", Limit: 10})
	if err != nil || len(revs) != 1 || revs[0].Actor != "migration" {
		t.Fatalf("revisions after the backfill: %+v, %v", revs, err)
	}
	rev, err := db.GetRevision(t.Context(), "legacy", revs[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	stored, _ := db.GetArticle(t.Context(), "legacy")
	if diff := cmp.Diff(stored, rev.Article); diff != "" {
		t.Errorf("the backfilled revision (-stored +revision):\n%s", diff)
	}
	// Run again, it adds nothing.
	if _, err := db.Pool().Exec(t.Context(), string(backfill)); err != nil {
		t.Fatal(err)
	}
	if revs, _ := db.ListRevisions(t.Context(), blog.RevisionRange{Slug: "legacy", Limit: 10}); len(revs) != 1 {
		t.Errorf("a second backfill made %d revisions", len(revs))
	}
}
