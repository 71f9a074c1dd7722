package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/2coffee/mcp-2coffee/internal/apikey"
	"github.com/2coffee/mcp-2coffee/internal/errdefs"
)

var _ apikey.Store = (*DB)(nil)

const keyColumns = `id, name, hash, scopes, created_at, expires_at, last_used_at, revoked_at`

// CreateKey stores k, or reports errdefs.ErrConflict when its id is taken.
func (db *DB) CreateKey(ctx context.Context, k *apikey.Key) error {
	res, err := db.db.ExecContext(ctx, `INSERT INTO api_keys (`+keyColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
		k.ID, k.Name, k.Hash, strings.Join(k.Scopes, " "), k.CreatedAt.Unix(),
		unixOrNull(k.ExpiresAt), unixOrNull(k.LastUsedAt), unixOrNull(k.RevokedAt))
	if err != nil {
		return fmt.Errorf("sqlite: create key %s: %w", k.ID, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("sqlite: create key %s: %w", k.ID, err)
	} else if n == 0 {
		return fmt.Errorf("key id %s is taken: %w", k.ID, errdefs.ErrConflict)
	}
	return nil
}

// KeyByID returns the key with id, or errdefs.ErrNotFound. It is on the path
// of every authenticated request, so its statement is prepared once.
func (db *DB) KeyByID(ctx context.Context, id string) (*apikey.Key, error) {
	stmt, err := db.prepared(ctx, `SELECT `+keyColumns+` FROM api_keys WHERE id = ?`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: get key %s: %w", id, err)
	}
	k, err := scanKey(stmt.QueryRowContext(ctx, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("key %s: %w", id, errdefs.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: get key %s: %w", id, err)
	}
	return k, nil
}

// ListKeys returns every key, oldest first.
func (db *DB) ListKeys(ctx context.Context) ([]*apikey.Key, error) {
	rows, err := db.db.QueryContext(ctx, `SELECT `+keyColumns+` FROM api_keys ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list keys: %w", err)
	}
	defer rows.Close()
	keys := []*apikey.Key{}
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list keys: %w", err)
		}
		keys = append(keys, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list keys: %w", err)
	}
	return keys, nil
}

// RevokeKey marks the key revoked at at, keeping an earlier revocation
// time, or reports errdefs.ErrNotFound.
func (db *DB) RevokeKey(ctx context.Context, id string, at time.Time) error {
	return db.updateKey(ctx, "revoke", id,
		`UPDATE api_keys SET revoked_at = coalesce(revoked_at, ?) WHERE id = ?`, at.Unix(), id)
}

// TouchKey records a use at at, or reports errdefs.ErrNotFound. Two
// processes may record uses out of order; max keeps the latest.
func (db *DB) TouchKey(ctx context.Context, id string, at time.Time) error {
	return db.updateKey(ctx, "touch", id,
		`UPDATE api_keys SET last_used_at = max(coalesce(last_used_at, ?1), ?1) WHERE id = ?2`, at.Unix(), id)
}

// updateKey runs an UPDATE of one key and turns "no row" into
// errdefs.ErrNotFound. An UPDATE that matches a row counts it as changed
// even when the values stay the same, so zero rows means no such key.
func (db *DB) updateKey(ctx context.Context, what, id, query string, args ...any) error {
	res, err := db.db.ExecContext(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("sqlite: %s key %s: %w", what, id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("sqlite: %s key %s: %w", what, id, err)
	}
	if n == 0 {
		return fmt.Errorf("key %s: %w", id, errdefs.ErrNotFound)
	}
	return nil
}

// scanKey reads keyColumns.
func scanKey(s rowScanner) (*apikey.Key, error) {
	var (
		k                         apikey.Key
		scopes                    string
		created                   int64
		expires, lastUsed, revoke sql.NullInt64
	)
	if err := s.Scan(&k.ID, &k.Name, &k.Hash, &scopes, &created, &expires, &lastUsed, &revoke); err != nil {
		return nil, err
	}
	k.Scopes = slices.Collect(strings.FieldsSeq(scopes))
	k.CreatedAt = time.Unix(created, 0).UTC()
	k.ExpiresAt = timeOrNil(expires)
	k.LastUsedAt = timeOrNil(lastUsed)
	k.RevokedAt = timeOrNil(revoke)
	return &k, nil
}
