// Package sqlite is the embedded default store of mcp-2coffee: a single
// SQLite file, opened through the pure-Go modernc.org/sqlite driver so the
// binary needs no C toolchain. Its schema lives in embedded, numbered SQL
// migrations that Open applies in order. One *DB implements every store
// (articles, API keys, OAuth) and the setup steps: it is a store.Backend,
// reached through store.Open.
package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	msqlite "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/2coffee/mcp-2coffee/internal/blog"
	"github.com/2coffee/mcp-2coffee/internal/store/schema"
)

// migrationFS holds the schema, one file per version: NNNN_what.sql.
//
//go:embed migrations/*.sql
var migrationFS embed.FS

// busyTimeout is how long a connection waits for another writer (this
// process or another one on the same file) before giving up with
// SQLITE_BUSY. Writes are short, so waiting a while beats failing.
const busyTimeout = 5 * time.Second

// DB is an open SQLite database. It implements blog.Store; its methods are
// safe for concurrent use.
type DB struct {
	db     *sql.DB
	logger *slog.Logger
	// file is the database file's absolute path; setup steps lock a file
	// beside it (see Exclusive).
	file string

	// stmts caches prepared read statements by their SQL text. The text of
	// every statement is assembled from a fixed set of fragments (never
	// from input), so the map stays small.
	mu    sync.Mutex
	stmts map[string]*sql.Stmt
	// missed holds statements a transaction ran unprepared (txStmt).
	missed map[string]struct{}
}

// Open opens (creating if needed) the SQLite database at path and brings its
// schema up to date. The parent directory is created, readable only by the
// owner, if it is missing. A nil logger discards log output.
func Open(ctx context.Context, path string, logger *slog.Logger) (*DB, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if path == "" || path == ":memory:" {
		return nil, fmt.Errorf("sqlite: open %q: a database file path is required", path)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %q: %w", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o700); err != nil {
		return nil, fmt.Errorf("sqlite: create directory for %q: %w", path, err)
	}
	if err := ownerOnly(abs, logger); err != nil {
		return nil, fmt.Errorf("sqlite: open %q: %w", path, err)
	}
	sqldb, err := sql.Open("sqlite", dataSourceName(abs))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %q: %w", path, err)
	}
	// WAL lets readers run beside the one writer, so allow a few
	// connections, and keep them idle rather than closing them: each new
	// connection re-runs the pragmas and re-prepares the cached statements.
	conns := max(4, runtime.GOMAXPROCS(0))
	sqldb.SetMaxOpenConns(conns)
	sqldb.SetMaxIdleConns(conns)

	db := &DB{db: sqldb, logger: logger, file: abs, stmts: map[string]*sql.Stmt{}, missed: map[string]struct{}{}}
	// Processes opening one file at once take turns with turning it to
	// WAL and with the migrations. One that read the schema version while
	// another was half way through migrating would take the file for a
	// database of an older release (see migrate).
	err = db.Exclusive(ctx, "open", func(ctx context.Context) error {
		// WAL is a property of the file, set here once rather than by
		// every new connection: switching the journal mode takes locks
		// that SQLite may refuse with SQLITE_BUSY at once, without the
		// busy timeout, while another process's connection opens, writes
		// or closes. Those refusals are retried for as long as the busy
		// timeout would have waited.
		err := retryBusy(ctx, func() error {
			var mode string
			if err := sqldb.QueryRowContext(ctx, `PRAGMA journal_mode = WAL`).Scan(&mode); err != nil {
				return err
			}
			if mode != "wal" {
				return fmt.Errorf("the file stays in journal mode %q, not WAL (a file system without shared memory?)", mode)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("sqlite: open %q: %w", path, err)
		}
		if err := db.migrate(ctx); err != nil {
			return fmt.Errorf("sqlite: migrate %q: %w", path, err)
		}
		return nil
	})
	if err != nil {
		sqldb.Close()
		return nil, err
	}
	return db, nil
}

// ownerOnly makes sure the database file exists readable by its owner
// alone before SQLite opens it: the file holds password hashes, drafts and
// session metadata, and SQLite gives the -wal and -shm files it creates
// beside it the main file's permissions. A new file is created 0600
// whatever the umask (the directory may be an existing, shared one); an
// existing file that others may read is left as it is, since the operator
// may want it so, but is warned about on every open.
func ownerOnly(abs string, logger *slog.Logger) error {
	f, err := os.OpenFile(abs, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	switch {
	case err == nil:
		return f.Close()
	case !errors.Is(err, fs.ErrExist):
		return err
	}
	for _, name := range []string{abs, abs + "-wal", abs + "-shm"} {
		if st, err := os.Stat(name); err == nil && st.Mode().Perm()&0o077 != 0 {
			logger.Warn("the database file is readable by other users of this machine; it holds password hashes and drafts: chmod 600 it",
				"file", name, "mode", fmt.Sprintf("%04o", st.Mode().Perm()))
		}
	}
	return nil
}

// retryBusy runs fn until it returns something other than SQLITE_BUSY,
// for at most busyTimeout.
func retryBusy(ctx context.Context, fn func() error) error {
	deadline := time.Now().Add(busyTimeout)
	delay := 5 * time.Millisecond
	for {
		err := fn()
		var se *msqlite.Error
		if !errors.As(err, &se) || se.Code()&0xff != sqliteBusy || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
		delay = min(2*delay, 100*time.Millisecond)
	}
}

// sqliteBusy is SQLITE_BUSY, the primary result code of every "database
// is locked" (the extended codes keep it in their low byte).
const sqliteBusy = 5

// dataSourceName builds the modernc.org/sqlite DSN for the file at abs. The
// pragmas run on every new connection; _txlock=immediate makes BEGIN take
// the write lock at once, so two writers queue on the busy timeout instead
// of one failing when it tries to upgrade a read lock mid-transaction.
func dataSourceName(abs string) string {
	// The name is read as a file: URI, where '?', '#' and '%' have meaning.
	escaped := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(filepath.ToSlash(abs))
	q := url.Values{}
	q.Add("_pragma", "busy_timeout("+strconv.FormatInt(busyTimeout.Milliseconds(), 10)+")")
	// No journal_mode here: WAL is set once, by Open, and kept by the file.
	// NORMAL is durable across application crashes in WAL mode and skips
	// an fsync per commit; a power cut may lose only the last commits.
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Set("_txlock", "immediate")
	return "file:" + escaped + "?" + q.Encode()
}

// SQL returns the underlying database handle, for the other stores of this
// package that share the file.
func (db *DB) SQL() *sql.DB { return db.db }

// Close releases the cached statements and closes the database.
func (db *DB) Close() error {
	db.mu.Lock()
	var errs []error
	for _, s := range db.stmts {
		errs = append(errs, s.Close())
	}
	db.stmts = map[string]*sql.Stmt{}
	db.mu.Unlock()
	// SQLite's advice for a closing connection: refresh the planner's
	// statistics where they are missing or stale. It is cheap (bounded
	// by analysis_limit) and a failure here loses nothing.
	if _, err := db.db.Exec(`PRAGMA analysis_limit = 400; PRAGMA optimize`); err != nil {
		db.logger.Warn("sqlite: optimize on close", "err", err)
	}
	errs = append(errs, db.db.Close())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("sqlite: close: %w", err)
	}
	return nil
}

// prepared returns a cached prepared statement for query, preparing it on
// first use. database/sql re-prepares it on each pooled connection as
// needed. Preparing waits for a free connection, so it happens without
// holding mu (a caller holding a connection, such as a transaction, must
// never queue behind it), and a caller inside a transaction must not call
// it at all: see txQuery.
func (db *DB) prepared(ctx context.Context, query string) (*sql.Stmt, error) {
	if s := db.cached(query); s != nil {
		return s, nil
	}
	s, err := db.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	if old, ok := db.stmts[query]; ok {
		s.Close() // another caller prepared it meanwhile
		return old, nil
	}
	db.stmts[query] = s
	return s, nil
}

// cached returns the cached statement for query, or nil.
func (db *DB) cached(query string) *sql.Stmt {
	db.mu.Lock()
	defer db.mu.Unlock()
	return db.stmts[query]
}

// txStmt returns the cached statement for query bound to tx, or nil when
// there is none yet. It never prepares through the pool: that waits for a
// free connection while tx holds one, and with every connection held by
// such a transaction nobody would ever get one. A miss is remembered, and
// prepareMissed prepares it once the transaction has ended.
func (db *DB) txStmt(ctx context.Context, tx *sql.Tx, query string) *sql.Stmt {
	if s := db.cached(query); s != nil {
		return tx.StmtContext(ctx, s)
	}
	db.mu.Lock()
	db.missed[query] = struct{}{}
	db.mu.Unlock()
	return nil
}

// prepareMissed prepares the statements transactions ran unprepared. Call
// it with no transaction open; a failure only leaves them unprepared.
func (db *DB) prepareMissed(ctx context.Context) {
	db.mu.Lock()
	var queries []string
	for q := range db.missed {
		queries = append(queries, q)
	}
	clear(db.missed)
	db.mu.Unlock()
	for _, q := range queries {
		if _, err := db.prepared(ctx, q); err != nil {
			db.logger.DebugContext(ctx, "sqlite: preparing a statement failed", "err", err)
		}
	}
}

// migrations lists the embedded migrations in version order.
func migrations() ([]schema.Migration, error) { return schema.List(migrationFS) }

// migrate applies every embedded migration the database has not recorded
// yet, each in its own transaction together with its record, so a failed
// migration leaves no trace and the next Open retries it. Because write
// transactions begin IMMEDIATE, two processes opening a new file at once
// take turns, and the second sees the first one's records.
func (db *DB) migrate(ctx context.Context) error {
	const create = `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		name       TEXT    NOT NULL,
		applied_at INTEGER NOT NULL
	) STRICT`
	if _, err := db.db.ExecContext(ctx, create); err != nil {
		return err
	}
	ms, err := migrations()
	if err != nil {
		return err
	}
	// One query for what is recorded, so that opening a current database
	// (every start of stdio and serve) costs no transaction per migration;
	// apply checks again inside its transaction before it changes anything.
	recorded, err := db.recordedVersions(ctx)
	if err != nil {
		return err
	}
	newest := 0
	for v := range recorded {
		newest = max(newest, v)
	}
	if len(ms) > 0 && newest > ms[len(ms)-1].Version {
		// An older binary must not write to a schema it does not know.
		return fmt.Errorf("database schema version %d is newer than this program knows (%d); upgrade mcp-2coffee",
			newest, ms[len(ms)-1].Version)
	}
	for _, m := range ms {
		if recorded[m.Version] {
			continue
		}
		if err := db.apply(ctx, m); err != nil {
			return fmt.Errorf("%s: %w", m.Name, err)
		}
	}
	if newest > 0 && newest < setupStepsVersion {
		// Releases before setup_steps offered the sample articles to every
		// database when it was created (loaded, or declined with
		// --no-sample), whatever command created it: a database that
		// existed before has had its offer.
		if _, err := db.db.ExecContext(ctx, `INSERT INTO setup_steps (step, done_at) VALUES ('sample-articles', ?)
			ON CONFLICT (step) DO NOTHING`, time.Now().Unix()); err != nil {
			return fmt.Errorf("recording the samples of an older database: %w", err)
		}
	}
	return nil
}

// recordedVersions returns the versions schema_migrations records.
func (db *DB) recordedVersions(ctx context.Context) (map[int]bool, error) {
	rows, err := db.db.QueryContext(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	recorded := map[int]bool{}
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		recorded[v] = true
	}
	return recorded, rows.Err()
}

// setupStepsVersion is the migration that added setup_steps.
const setupStepsVersion = 4

// migrationSteps are the parts of migrations that SQL cannot do, by
// version; each runs in its migration's transaction, after the SQL.
var migrationSteps = map[int]func(context.Context, *sql.Tx) error{
	5: foldTagKeys,
	6: indexHeads,
}

// indexHeads fills the head index (migration 0006) for the articles
// stored before it existed.
func indexHeads(ctx context.Context, tx *sql.Tx) error {
	type head struct {
		id             int64
		title, summary string
		tags           []string
	}
	rows, err := tx.QueryContext(ctx, `SELECT id, title, tags, summary FROM articles`)
	if err != nil {
		return err
	}
	var heads []head
	for rows.Next() {
		var (
			h    head
			tags string
		)
		if err := rows.Scan(&h.id, &h.title, &tags, &h.summary); err != nil {
			rows.Close()
			return err
		}
		if err := json.Unmarshal([]byte(tags), &h.tags); err != nil {
			rows.Close()
			return fmt.Errorf("article %d: stored tags: %w", h.id, err)
		}
		heads = append(heads, h)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, h := range heads {
		if err := indexHead(ctx, tx, h.id, h.title, h.tags, h.summary); err != nil {
			return err
		}
	}
	return nil
}

// foldTagKeys fills article_tags.tag_key (migration 0005) for the tags
// stored before it existed.
func foldTagKeys(ctx context.Context, tx *sql.Tx) error {
	rows, err := tx.QueryContext(ctx, `SELECT DISTINCT tag FROM article_tags`)
	if err != nil {
		return err
	}
	var tags []string
	for rows.Next() {
		var tag string
		if err := rows.Scan(&tag); err != nil {
			rows.Close()
			return err
		}
		tags = append(tags, tag)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, tag := range tags {
		if _, err := tx.ExecContext(ctx, `UPDATE article_tags SET tag_key = ? WHERE tag = ?`, blog.TagKey(tag), tag); err != nil {
			return err
		}
	}
	return nil
}

// foreignKeysOff is the first line of a migration that rebuilds a table
// others refer to. SQLite cannot drop a NOT NULL or change a constraint in
// place; its way is a new table, a copy, a drop and a rename, and with
// foreign keys enforced the drop would first delete every row, cascading
// into the tables that refer to it. Such a migration runs with foreign
// keys off on a connection of its own, checks them before it commits,
// and the connection is thrown away afterwards.
const foreignKeysOff = "-- foreign_keys: off"

// apply runs one migration unless it is already recorded.
func (db *DB) apply(ctx context.Context, m schema.Migration) (err error) {
	text, err := migrationFS.ReadFile(path.Join("migrations", m.Name))
	if err != nil {
		return err
	}
	conn, err := db.db.Conn(ctx)
	if err != nil {
		return err
	}
	fkOff := strings.HasPrefix(string(text), foreignKeysOff+"\n")
	defer func() {
		if fkOff {
			// Never back into the pool with foreign keys off.
			conn.Raw(func(any) error { return driver.ErrBadConn })
		}
		conn.Close()
	}()
	if fkOff {
		if _, err := conn.ExecContext(ctx, `PRAGMA foreign_keys = OFF`); err != nil {
			return err
		}
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	var done bool
	if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = ?)`, m.Version).Scan(&done); err != nil {
		return err
	}
	if done {
		return tx.Rollback()
	}
	if _, err := tx.ExecContext(ctx, string(text)); err != nil {
		return err
	}
	if step := migrationSteps[m.Version]; step != nil {
		if err := step(ctx, tx); err != nil {
			return err
		}
	}
	if fkOff {
		if err := foreignKeyViolation(ctx, tx); err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
		m.Version, m.Name, time.Now().Unix()); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	db.logger.InfoContext(ctx, "applied database migration", "version", m.Version, "name", m.Name)
	return nil
}

// foreignKeyViolation reports the first row PRAGMA foreign_key_check
// finds, as an error; nil when there is none.
func foreignKeyViolation(ctx context.Context, tx *sql.Tx) error {
	rows, err := tx.QueryContext(ctx, `PRAGMA foreign_key_check`)
	if err != nil {
		return err
	}
	defer rows.Close()
	if rows.Next() {
		var table, parent string
		var rowid sql.NullInt64
		var fk int
		if err := rows.Scan(&table, &rowid, &parent, &fk); err != nil {
			return err
		}
		return fmt.Errorf("foreign key check: a row of %s (rowid %v) refers to a missing row of %s", table, rowid.Int64, parent)
	}
	return rows.Err()
}

// unixOrNull stores an optional time as Unix seconds or NULL, the form
// every optional timestamp column of the schema has.
func unixOrNull(t *time.Time) sql.NullInt64 {
	if t == nil {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.Unix(), Valid: true}
}

// timeOrNil reads a column written by unixOrNull back as a UTC time.
func timeOrNil(n sql.NullInt64) *time.Time {
	if !n.Valid {
		return nil
	}
	t := time.Unix(n.Int64, 0).UTC()
	return &t
}
