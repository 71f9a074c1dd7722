package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/2coffee/mcp-2coffee/internal/filelock"
)

// Once runs fn unless step is recorded as done in this database, then
// records it, and reports whether fn ran. A failed fn records nothing, so
// the next start tries again; fn must therefore be safe to repeat (the
// sample articles are an idempotent upsert). It runs under Exclusive, so
// of two processes opening one new file at once only one runs fn.
func (db *DB) Once(ctx context.Context, step string, fn func(context.Context) error) (bool, error) {
	// A recorded step is never unrecorded, so one found done needs no
	// lock: every start after the first ends here, without the lock
	// file. One not found is checked again under the lock.
	if done, err := db.stepDone(ctx, step); err != nil || done {
		return false, err
	}
	var ran bool
	err := db.Exclusive(ctx, "setup step "+step, func(ctx context.Context) error {
		var err error
		ran, err = db.once(ctx, step, fn)
		return err
	})
	return ran, err
}

// setupLockWait bounds how long Exclusive waits for another process: a
// setup step loads at most the sample articles.
const setupLockWait = time.Minute

// Exclusive runs fn while holding a lock on a file beside the database
// (NAME.db-setup.lock), so no other process using this file runs a
// setup step or an Exclusive section at the same time: the first-run
// admin key and user check that none exists and then create one. One lock
// serves every name, since these sections are few, short and run at
// start. The lock file stays (see filelock).
func (db *DB) Exclusive(ctx context.Context, name string, fn func(context.Context) error) error {
	l, err := filelock.Acquire(ctx, db.file+"-setup.lock", setupLockWait)
	if err != nil {
		return fmt.Errorf("sqlite: %s: %w", name, err)
	}
	defer l.Unlock()
	return fn(ctx)
}

// stepDone reports whether step is recorded as done.
func (db *DB) stepDone(ctx context.Context, step string) (bool, error) {
	var done bool
	if err := db.db.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM setup_steps WHERE step = ?)`, step).Scan(&done); err != nil {
		return false, fmt.Errorf("sqlite: setup step %q: %w", step, err)
	}
	return done, nil
}

func (db *DB) once(ctx context.Context, step string, fn func(context.Context) error) (bool, error) {
	if done, err := db.stepDone(ctx, step); err != nil || done {
		return false, err
	}
	if err := fn(ctx); err != nil {
		return false, err
	}
	if _, err := db.db.ExecContext(ctx, `INSERT INTO setup_steps (step, done_at) VALUES (?, ?) ON CONFLICT (step) DO NOTHING`,
		step, time.Now().Unix()); err != nil {
		return true, fmt.Errorf("sqlite: record setup step %q: %w", step, err)
	}
	return true, nil
}

// Ping reports whether the database answers a query, for readiness checks.
func (db *DB) Ping(ctx context.Context) error {
	var one int
	if err := db.db.QueryRowContext(ctx, `SELECT 1`).Scan(&one); err != nil {
		return fmt.Errorf("sqlite: ping: %w", err)
	}
	return nil
}
