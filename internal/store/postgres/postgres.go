// Package postgres is the shared store of mcp-2coffee: one PostgreSQL
// database that any number of `serve` replicas use at once, reached
// through a pgx connection pool. It implements every store the SQLite
// backend does (articles and their search, API keys, OAuth) with the same
// behaviour, which the storetest suite pins for both. Its schema lives in
// embedded, numbered migrations that Open applies under an advisory lock,
// so replicas starting together take turns.
//
// Everything that matters lives in the database, none of it in the
// process: a token minted through one replica works on every other, and a
// revocation through one is refused by all at once, since each request
// reads the rows it needs.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"log/slog"
	"path"
	"sync"
	"time"

	"github.com/2coffee/mcp-2coffee/internal/store/schema"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// migrationFS holds the schema, one file per version: NNNN_what.sql.
//
//go:embed migrations/*.sql
var migrationFS embed.FS

// Options tune Open. The zero value is usable.
type Options struct {
	// Logger receives the backend's own records (migrations applied). Nil
	// discards.
	Logger *slog.Logger
	// MaxConns caps the pool's connections; 0 keeps the data source name's
	// pool_max_conns, or pgx's default (the larger of 4 and the CPUs).
	MaxConns int32
	// NoMigrate leaves the schema alone: Open fails if it is not at the
	// version this program knows, instead of bringing it there.
	NoMigrate bool
}

// DB is an open PostgreSQL database. Its methods are safe for concurrent
// use.
type DB struct {
	pool   *pgxpool.Pool
	logger *slog.Logger
	// schema is the schema the connections use (the first of search_path
	// that exists), which names the advisory locks so two blogs in two
	// schemas of one database never wait for each other.
	schema string
	// setup lets one Once or Exclusive of this process at a time hold a
	// connection while it waits for the database's advisory lock. The
	// holder's fn writes through the pool; were every connection held by a
	// waiter, it would never get one.
	setup sync.Mutex
}

// Open connects to the database dsn names (a postgres:// URL or a libpq
// keyword/value string) and brings its schema up to date.
func Open(ctx context.Context, dsn string, opts Options) (*DB, error) {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgx's parse error quotes the name with its password redacted.
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
	}
	if cfg.MaxConns < 2 {
		// Once holds a connection while its step writes through another.
		cfg.MaxConns = 2
	}
	if _, ok := cfg.ConnConfig.RuntimeParams["application_name"]; !ok {
		cfg.ConnConfig.RuntimeParams["application_name"] = "mcp-2coffee"
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	db := &DB{pool: pool, logger: logger}
	if err := pool.QueryRow(ctx, `SELECT coalesce(current_schema(), '')`).Scan(&db.schema); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	if db.schema == "" {
		pool.Close()
		return nil, errors.New("postgres: no schema of search_path exists; create it or fix search_path")
	}
	if err := db.migrate(ctx, !opts.NoMigrate); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: migrate: %w", err)
	}
	return db, nil
}

// Close closes every connection of the pool.
func (db *DB) Close() error {
	db.pool.Close()
	return nil
}

// Ping reports whether the database answers a query, for readiness checks.
func (db *DB) Ping(ctx context.Context) error {
	var one int
	if err := db.pool.QueryRow(ctx, `SELECT 1`).Scan(&one); err != nil {
		return fmt.Errorf("postgres: ping: %w", err)
	}
	return nil
}

// Pool returns the connection pool, for tests and tools of this module.
func (db *DB) Pool() *pgxpool.Pool { return db.pool }

// lockKey names an advisory lock of this database's schema: what (a
// migration, a setup step) is hashed with the schema by PostgreSQL's
// hashtext, a 32-bit value widened to the bigint the lock functions take.
const lockKey = `hashtext($1 || ' ' || $2)::bigint`

// migrations lists the embedded migrations in version order.
func migrations() ([]schema.Migration, error) { return schema.List(migrationFS) }

// SchemaVersion is the newest migration this program knows.
func SchemaVersion() int {
	ms, err := migrations()
	if err != nil || len(ms) == 0 {
		return 0
	}
	return ms[len(ms)-1].Version
}

// ErrSchemaBehind is returned by Open with Options.NoMigrate when the
// database lacks migrations this program has.
var ErrSchemaBehind = errors.New("the database schema is older than this program; run `mcp-2coffee migrate`")

// migrate brings the schema to the newest version, or with apply false
// only checks that it is there. It runs in one transaction that first
// takes an advisory lock: replicas starting at once queue on the lock,
// and each later one finds the work done. PostgreSQL's DDL is
// transactional, so a failed migration leaves nothing behind.
func (db *DB) migrate(ctx context.Context, apply bool) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	known := ms[len(ms)-1].Version
	return pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(`+lockKey+`)`, db.schema, "mcp-2coffee migrations"); err != nil {
			return err
		}
		// The table is created only when missing, and only when allowed
		// to migrate: a role that may read and write the tables but not
		// create any can run serve --no-migrate.
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT to_regclass(quote_ident($1) || '.schema_migrations') IS NOT NULL`, db.schema).Scan(&exists); err != nil {
			return err
		}
		if !exists && !apply {
			return fmt.Errorf("%w (schema %q has no mcp-2coffee tables yet)", ErrSchemaBehind, db.schema)
		}
		if !exists {
			if _, err := tx.Exec(ctx, `CREATE TABLE schema_migrations (
				version    integer     PRIMARY KEY,
				name       text        NOT NULL,
				applied_at timestamptz NOT NULL DEFAULT now()
			)`); err != nil {
				return err
			}
		}
		var newest int
		if err := tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&newest); err != nil {
			return err
		}
		if newest > known {
			// An older binary must not write to a schema it does not know.
			return fmt.Errorf("database schema version %d is newer than this program knows (%d); upgrade mcp-2coffee", newest, known)
		}
		if newest < known && !apply {
			return fmt.Errorf("%w (database at version %d, program at %d)", ErrSchemaBehind, newest, known)
		}
		for _, m := range ms {
			if m.Version <= newest {
				continue
			}
			text, err := migrationFS.ReadFile(path.Join("migrations", m.Name))
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, string(text)); err != nil {
				return fmt.Errorf("%s: %w", m.Name, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, m.Version, m.Name); err != nil {
				return fmt.Errorf("%s: %w", m.Name, err)
			}
			db.logger.InfoContext(ctx, "applied database migration", "version", m.Version, "name", m.Name, "schema", db.schema)
		}
		return nil
	})
}

// Once runs fn unless step is recorded as done in this database, then
// records it, and reports whether fn ran. While fn runs, an advisory lock
// on the step keeps every other process sharing the database waiting, so
// among replicas starting together exactly one runs fn and the others find
// it done. A failed fn records nothing.
func (db *DB) Once(ctx context.Context, step string, fn func(context.Context) error) (bool, error) {
	db.setup.Lock()
	defer db.setup.Unlock()
	ran := false
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(`+lockKey+`)`, db.schema, "setup step "+step); err != nil {
			return err
		}
		var done bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM setup_steps WHERE step = $1)`, step).Scan(&done); err != nil {
			return err
		}
		if done {
			return nil
		}
		if err := fn(ctx); err != nil {
			return stepError{err}
		}
		ran = true
		_, err := tx.Exec(ctx, `INSERT INTO setup_steps (step, done_at) VALUES ($1, $2)`, step, now())
		return err
	})
	var se stepError
	if errors.As(err, &se) {
		return false, se.err
	}
	if err != nil {
		return false, fmt.Errorf("postgres: setup step %q: %w", step, err)
	}
	return ran, nil
}

// stepError carries the error of a step's own fn through BeginFunc
// unwrapped, so Once returns it as fn did.
type stepError struct{ err error }

func (e stepError) Error() string { return e.err.Error() }

// Exclusive runs fn while holding an advisory lock named name, so no
// other process sharing the database runs Exclusive with that name at the
// same time. The first-run admin key and user use it: check that none
// exists, then create one, without two replicas both creating.
func (db *DB) Exclusive(ctx context.Context, name string, fn func(context.Context) error) error {
	db.setup.Lock()
	defer db.setup.Unlock()
	conn, err := db.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("postgres: lock %q: %w", name, err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock(`+lockKey+`)`, db.schema, "exclusive "+name); err != nil {
		return fmt.Errorf("postgres: lock %q: %w", name, err)
	}
	defer func() {
		// Unlock even when ctx is done; a connection whose unlock fails
		// is closed, which releases the lock with the session.
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if _, err := conn.Exec(uctx, `SELECT pg_advisory_unlock(`+lockKey+`)`, db.schema, "exclusive "+name); err != nil {
			conn.Conn().Close(uctx)
		}
	}()
	return fn(ctx)
}

// now is the current time as the schema keeps it.
func now() time.Time { return stamp(time.Now()) }

// stamp is t as the schema keeps times: UTC, whole seconds, as SQLite
// keeps them, so both backends give back the same values.
func stamp(t time.Time) time.Time { return t.UTC().Truncate(time.Second) }

// stampOrNil stores an optional time, NULL for nil.
func stampOrNil(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	s := stamp(*t)
	return &s
}

// utcOrNil reads an optional time back in UTC (pgx gives local times).
func utcOrNil(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// isUniqueViolation reports whether err is PostgreSQL's unique_violation
// (23505), optionally of the named constraint.
func isUniqueViolation(err error, constraint string) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505" && (constraint == "" || pe.ConstraintName == constraint)
}
