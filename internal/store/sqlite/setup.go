package sqlite

import (
	"context"
	"fmt"
	"time"
)

// Once runs fn unless step is recorded as done in this database, then
// records it, and reports whether fn ran. A failed fn records nothing, so
// the next start tries again; fn must therefore be safe to repeat (the
// sample articles are an idempotent upsert, the first-run key and user
// check that none exists). Two processes opening one file at once may both
// run fn; what fn writes decides whether that matters.
func (db *DB) Once(ctx context.Context, step string, fn func(context.Context) error) (bool, error) {
	var done bool
	if err := db.db.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM setup_steps WHERE step = ?)`, step).Scan(&done); err != nil {
		return false, fmt.Errorf("sqlite: setup step %q: %w", step, err)
	}
	if done {
		return false, nil
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
