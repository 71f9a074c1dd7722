package store_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/2coffee/mcp-2coffee/internal/store"
	"github.com/2coffee/mcp-2coffee/internal/store/postgres/pgtest"
)

func TestParseDSN(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		dsn      string
		kind     string
		path     string
		refused  string // a part of the error, when refused
		redacted string // String(), when it differs from dsn
	}{
		{dsn: "data/blog.db", kind: store.KindSQLite, path: "data/blog.db"},
		{dsn: "/var/lib/blog.db", kind: store.KindSQLite, path: "/var/lib/blog.db"},
		{dsn: "  blog.db ", kind: store.KindSQLite, path: "blog.db", redacted: "blog.db"},
		// A Windows-looking or colon-holding path is still a path.
		{dsn: "C:/blog.db", kind: store.KindSQLite, path: "C:/blog.db"},
		{dsn: "file:blog.db", kind: store.KindSQLite, path: "blog.db"},
		{dsn: "file:///var/lib/blog.db", kind: store.KindSQLite, path: "/var/lib/blog.db"},
		{dsn: "FILE:blog.db", kind: store.KindSQLite, path: "blog.db"},
		{dsn: "file://localhost/var/lib/blog.db", kind: store.KindSQLite, path: "/var/lib/blog.db"},
		{dsn: "postgres://u:secret@127.0.0.1/test", kind: store.KindPostgres, redacted: "postgres://u:xxxxx@127.0.0.1/test"},
		{dsn: "postgresql://127.0.0.1/test?sslmode=disable", kind: store.KindPostgres},
		{dsn: "", refused: "no database"},
		{dsn: ":memory:", refused: "file path is required"},
		{dsn: "file:blog.db?mode=ro", refused: "without host, parameters"},
		{dsn: "file://otherhost/blog.db", refused: "without host"},
		{dsn: "file:", refused: "names no file"},
		{dsn: "mysql://root:pw@localhost/blog", refused: "unsupported database"},
		{dsn: "file://u:pw@host/x", refused: "without host"},
		{dsn: "file:x%20y.db", kind: store.KindSQLite, path: "x y.db"},
		// libpq's keyword/value form is PostgreSQL, never a file name.
		{dsn: "host=db dbname=blog password=pw", kind: store.KindPostgres, redacted: "host=db dbname=blog password=xxxxx"},
	} {
		d, err := store.ParseDSN(tt.dsn)
		if tt.refused != "" {
			if err == nil || !strings.Contains(err.Error(), tt.refused) {
				t.Errorf("ParseDSN(%q) = %+v, %v; want an error about %q", tt.dsn, d, err, tt.refused)
			}
			if err != nil && strings.Contains(err.Error(), "pw@") {
				t.Errorf("ParseDSN(%q) error shows the password: %v", tt.dsn, err)
			}
			continue
		}
		if err != nil || d.Kind != tt.kind || d.Path != tt.path {
			t.Errorf("ParseDSN(%q) = %+v, %v; want kind %q path %q", tt.dsn, d, err, tt.kind, tt.path)
			continue
		}
		want := tt.redacted
		if want == "" {
			want = tt.dsn
		}
		if d.String() != want {
			t.Errorf("ParseDSN(%q).String() = %q, want %q", tt.dsn, d.String(), want)
		}
	}
}

func TestOpenSQLite(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, dsn := range []string{filepath.Join(dir, "a", "blog.db"), "file://" + filepath.Join(dir, "b.db")} {
		db, err := store.Open(t.Context(), dsn, store.Options{})
		if err != nil {
			t.Fatalf("Open(%q): %v", dsn, err)
		}
		if err := db.Ping(t.Context()); err != nil {
			t.Errorf("Ping: %v", err)
		}
		// Opening makes an empty database: the samples are a step of
		// serve and stdio, not of opening.
		if n, err := db.CountArticles(t.Context()); err != nil || n != 0 {
			t.Errorf("a new database holds %d articles (%v), want 0", n, err)
		}
		if err := db.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	}
	for _, f := range []string{filepath.Join(dir, "a", "blog.db"), filepath.Join(dir, "b.db")} {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("no database file at %s: %v", f, err)
		}
	}
}

// A postgres:// name opens the PostgreSQL backend; when it cannot connect
// (nothing listens on port 1) or cannot parse, the error says so without
// the password.
func TestOpenPostgres(t *testing.T) {
	t.Parallel()
	db := openDSN(t, pgtest.Schema(t))
	if err := db.Ping(t.Context()); err != nil {
		t.Errorf("Ping: %v", err)
	}
	for _, dsn := range []string{
		"postgres://postgres:secret@127.0.0.1:1/test?connect_timeout=5",
		"host=127.0.0.1 port=1 password=secret connect_timeout=5",
		"postgres://postgres:secret@127.0.0.1/test?sslmode=bogus",
	} {
		_, err := store.Open(t.Context(), dsn, store.Options{})
		if err == nil || strings.Contains(err.Error(), "secret") {
			t.Errorf("Open(%q) = %v, want an error without the password", store.Redact(dsn), err)
		}
	}
}

func TestRedact(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"postgres://u:secret@db/x":                      "postgres://u:xxxxx@db/x",
		"postgres://admin:1234/5678@db/x":               "postgres://admin:xxxxx@db/x",
		"postgres://admin:99#zz@db/x":                   "postgres://admin:xxxxx@db/x",
		"postgres://admin:p?w@db/x":                     "postgres://admin:xxxxx@db/x",
		"postgres://u:p@db/x?sslmode=require&options=a": "postgres://u:xxxxx@db/x?sslmode=require&options=a",
		"postgres://db/x?password=hunter2&sslmode=off":  "postgres://db/x?password=xxxxx&sslmode=off",
		"postgres://db/x?sslpassword=hunter2":           "postgres://db/x?sslpassword=xxxxx",
		"postgres://u@db/x":                             "postgres://u@db/x",
		"host=db password=hunter2 dbname=x":             "host=db password=xxxxx dbname=x",
		"host=db password='hun ter2' dbname=x":          "host=db password=xxxxx dbname=x",
		"user=u PASSWORD = hunter2":                     "user=u PASSWORD = xxxxx",
		"data/blog.db":                                  "data/blog.db",
	} {
		got := store.Redact(in)
		if got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
		if strings.Contains(got, "hunter2") || strings.Contains(got, "secret") || strings.Contains(got, "5678") || strings.Contains(got, "zz@") {
			t.Errorf("Redact(%q) = %q still shows the password", in, got)
		}
	}
}
