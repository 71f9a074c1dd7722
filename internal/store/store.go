// Package store is the storage seam: what every backend shares. Open picks
// the backend from a data source name; Backend is the one interface every
// backend implements (the article, API key and OAuth stores, plus the
// lifecycle: Once, Exclusive, Ping, Close). The backends are subpackages
// (sqlite, the embedded default; postgres, shared by replicas); storetest
// is the behaviour suite they all pass.
//
// The sentinel errors the stores return (errdefs.ErrNotFound,
// errdefs.ErrConflict) live in internal/errdefs rather than here: the
// domain packages that check them (blog, apikey, the OAuth domain) are
// imported by Backend, and the backends are imported by Open, so errors
// defined here could be imported by neither without a cycle.
package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/url"
	"regexp"
	"strings"
	"sync"

	"github.com/2coffee/mcp-2coffee/internal/apikey"
	"github.com/2coffee/mcp-2coffee/internal/blog"
	"github.com/2coffee/mcp-2coffee/internal/oauth"
	"github.com/2coffee/mcp-2coffee/internal/store/postgres"
	"github.com/2coffee/mcp-2coffee/internal/store/sqlite"
)

// Backend is one database holding everything mcp-2coffee keeps. Its
// methods are safe for concurrent use.
type Backend interface {
	blog.Store
	blog.Sources
	apikey.Store
	oauth.Store

	// Once runs fn the first time this database reaches the one-time
	// setup step named step (loading the sample articles, creating the
	// first admin key), records it, and reports whether fn ran. A failed
	// fn records nothing, so fn must be safe to run again.
	Once(ctx context.Context, step string, fn func(context.Context) error) (bool, error)
	// Exclusive runs fn while no other process using this database runs
	// an Exclusive section (or a Once step) of the same name: the
	// first-run admin key and user are "none exists, so create one",
	// which replicas starting together must not both do. Sections do not
	// nest.
	Exclusive(ctx context.Context, name string, fn func(context.Context) error) error
	// Ping reports whether the database answers, for readiness checks.
	Ping(ctx context.Context) error
	// Close releases the database.
	Close() error
}

// The backends Open knows.
const (
	KindSQLite   = "sqlite"
	KindPostgres = "postgres"
)

// Options tune Open. The zero value is usable.
type Options struct {
	// Logger receives the backend's own records (migrations applied,
	// maintenance on close). Nil discards.
	Logger *slog.Logger
	// MaxConns caps a PostgreSQL pool's connections (0: the data source
	// name's pool_max_conns, else pgx's default).
	MaxConns int
	// NoMigrate makes Open of a PostgreSQL database fail when its schema
	// is behind rather than migrate it, for deployments that migrate in a
	// step of their own. SQLite, one process's file, always migrates.
	NoMigrate bool
}

// ErrUnsupported is returned by Open for a data source name that names a
// backend this build does not have.
var ErrUnsupported = errors.New("unsupported database")

// DSN is a parsed data source name.
type DSN struct {
	Kind string // KindSQLite or KindPostgres
	// Path is the SQLite file; empty for other kinds.
	Path string
	raw  string
}

// ParseDSN reads a data source name: a postgres:// or postgresql:// URL,
// or a libpq keyword/value string ("host=db dbname=blog"), for PostgreSQL;
// for SQLite a file path, or a file: URI (file:blog.db,
// file:///var/lib/blog.db). SQLite URI parameters are refused rather than
// ignored: the backend sets its own pragmas, and a silently dropped
// ?mode=ro would surprise. Errors show the name as Redact leaves it.
func ParseDSN(dsn string) (DSN, error) {
	dsn = strings.TrimSpace(dsn)
	switch {
	case dsn == "":
		return DSN{}, errors.New("no database given: want a SQLite file path or a postgres:// URL")
	case hasScheme(dsn, "postgres"), hasScheme(dsn, "postgresql"), keywordDSN.MatchString(dsn):
		return DSN{Kind: KindPostgres, raw: dsn}, nil
	case hasScheme(dsn, "file"):
		u, err := url.Parse(dsn)
		if err != nil {
			return DSN{}, fmt.Errorf("database %q: not a file: URI", Redact(dsn))
		}
		if u.RawQuery != "" || u.Fragment != "" || (u.Host != "" && u.Host != "localhost") {
			return DSN{}, fmt.Errorf("database %q: want file:PATH or file:///PATH without host, parameters or fragment", Redact(dsn))
		}
		path := u.Path
		if u.Opaque != "" {
			// file:blog.db: escapes mean the same as in file:///…
			if path, err = url.PathUnescape(u.Opaque); err != nil {
				return DSN{}, fmt.Errorf("database %q: not a file: URI", Redact(dsn))
			}
		}
		if path == "" {
			return DSN{}, fmt.Errorf("database %q: the file: URI names no file", Redact(dsn))
		}
		return DSN{Kind: KindSQLite, Path: path, raw: dsn}, nil
	case strings.Contains(dsn, "://"):
		scheme, _, _ := strings.Cut(dsn, "://")
		return DSN{}, fmt.Errorf("database %q: %w: scheme %q (want a SQLite file path or a postgres:// URL)", Redact(dsn), ErrUnsupported, scheme)
	case dsn == ":memory:":
		return DSN{}, errors.New("database \":memory:\": a database file path is required (an in-memory database would lose everything at exit)")
	}
	return DSN{Kind: KindSQLite, Path: dsn, raw: dsn}, nil
}

func hasScheme(dsn, scheme string) bool {
	return len(dsn) > len(scheme) && strings.EqualFold(dsn[:len(scheme)], scheme) && dsn[len(scheme)] == ':'
}

// String is the data source name fit for logs: a URL's password is
// replaced.
func (d DSN) String() string { return Redact(d.raw) }

// keywordDSN recognises a libpq keyword/value connection string by its
// first keyword, so that one is never taken for a file name (and its
// password never logged as one).
var keywordDSN = regexp.MustCompile(`^(?i)(host|hostaddr|port|dbname|user|password|passfile|service|sslmode|connect_timeout|application_name|options)\s*=`)

// The passwords a data source name may carry: a keyword/value pair (the
// value quoted or not), and a URL query parameter. They are compiled on
// first use rather than at start: most runs redact only a file path,
// which needs neither.
var (
	keywordPassword = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`(?i)\b((?:ssl)?password\s*=\s*)('(?:[^'\\]|\\.)*'|\S*)`)
	})
	queryPassword = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`(?i)([?&](?:ssl)?password=)[^&#]*`) })
)

// Redact returns dsn with every password it may carry replaced by
// "xxxxx", so it can be logged or shown in an error: the password of a
// URL's user information (found by text, not by url.Parse, which reads
// "user:12/34@host" as a host and port and would leave it alone), a
// password or sslpassword query parameter, and the password of a
// keyword/value string.
func Redact(dsn string) string {
	if keywordDSN.MatchString(strings.TrimSpace(dsn)) {
		return keywordPassword().ReplaceAllString(dsn, "${1}xxxxx")
	}
	scheme, rest, ok := strings.Cut(dsn, "://")
	if !ok {
		return dsn // a file path or file:NAME holds no credential
	}
	// The user information ends at the last '@' before the query (a
	// password may hold '/', '?' or '#' unescaped; a query may hold '@').
	at := strings.LastIndex(rest, "@")
	// When in doubt it redacts more, never less.
	if q := strings.IndexByte(rest, '?'); q >= 0 && at > q {
		if a := strings.LastIndex(rest[:q], "@"); a >= 0 {
			at = a
		}
	}
	if at >= 0 {
		if user, _, hasPassword := strings.Cut(rest[:at], ":"); hasPassword {
			rest = user + ":xxxxx" + rest[at:]
		}
	}
	return queryPassword().ReplaceAllString(scheme+"://"+rest, "${1}xxxxx")
}

// Open opens (creating it if needed) the database dsn names and brings its
// schema up to date.
func Open(ctx context.Context, dsn string, opts Options) (Backend, error) {
	d, err := ParseDSN(dsn)
	if err != nil {
		return nil, err
	}
	switch d.Kind {
	case KindSQLite:
		db, err := sqlite.Open(ctx, d.Path, opts.Logger)
		if err != nil {
			return nil, err
		}
		return db, nil
	case KindPostgres:
		if opts.MaxConns > math.MaxInt32 {
			return nil, fmt.Errorf("database %s: a pool of %d connections is too many", d, opts.MaxConns)
		}
		db, err := postgres.Open(ctx, d.raw, postgres.Options{Logger: opts.Logger, MaxConns: int32(opts.MaxConns), NoMigrate: opts.NoMigrate})
		if err != nil {
			return nil, fmt.Errorf("database %s: %w", d, err)
		}
		return db, nil
	}
	return nil, fmt.Errorf("database %s: %w", d, ErrUnsupported)
}

var (
	_ Backend = (*sqlite.DB)(nil)
	_ Backend = (*postgres.DB)(nil)
)
