package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/2coffee/mcp-2coffee/internal/apikey"
	"github.com/2coffee/mcp-2coffee/internal/errdefs"
)

var _ apikey.Store = (*DB)(nil)

const keyColumns = `id, name, hash, scopes, created_at, expires_at, last_used_at, revoked_at`

// CreateKey stores k, or reports errdefs.ErrConflict when its id is taken.
// ON CONFLICT DO NOTHING makes two replicas creating the same id at once
// end with one row and one conflict, never a unique-violation error.
func (db *DB) CreateKey(ctx context.Context, k *apikey.Key) error {
	tag, err := db.pool.Exec(ctx, `INSERT INTO api_keys (`+keyColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id) DO NOTHING`,
		k.ID, k.Name, k.Hash, strings.Join(k.Scopes, " "), stamp(k.CreatedAt),
		stampOrNil(k.ExpiresAt), stampOrNil(k.LastUsedAt), stampOrNil(k.RevokedAt))
	if err != nil {
		return fmt.Errorf("postgres: create key %s: %w", k.ID, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("key id %s is taken: %w", k.ID, errdefs.ErrConflict)
	}
	return nil
}

// KeyByID returns the key with id, or errdefs.ErrNotFound. It is on the
// path of every authenticated request; pgx prepares it once per
// connection (its statement cache). It reads the row every time, so a key
// revoked through any replica is refused by all.
func (db *DB) KeyByID(ctx context.Context, id string) (*apikey.Key, error) {
	k, err := scanKey(db.pool.QueryRow(ctx, `SELECT `+keyColumns+` FROM api_keys WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("key %s: %w", id, errdefs.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: get key %s: %w", id, err)
	}
	return k, nil
}

// ListKeys returns every key, oldest first.
func (db *DB) ListKeys(ctx context.Context) ([]*apikey.Key, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+keyColumns+` FROM api_keys ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("postgres: list keys: %w", err)
	}
	return oauthCollect(rows, "list keys", scanKey)
}

// RevokeKey marks the key revoked at at, keeping an earlier revocation
// time, or reports errdefs.ErrNotFound. The new value is computed from
// the row as it is when the UPDATE locks it, so of two revocations at
// once the first to commit keeps its time.
func (db *DB) RevokeKey(ctx context.Context, id string, at time.Time) error {
	return oauthUpdate(ctx, db.pool, "revoke key "+id, "key "+id,
		`UPDATE api_keys SET revoked_at = coalesce(revoked_at, $1) WHERE id = $2`, stamp(at), id)
}

// TouchKey records a use at at, or reports errdefs.ErrNotFound. Replicas
// report uses out of order; greatest (which ignores a NULL) keeps the
// latest. A concurrent UPDATE of the row makes this one wait and then
// recompute from the committed value, so no touch is lost or undone.
func (db *DB) TouchKey(ctx context.Context, id string, at time.Time) error {
	return oauthUpdate(ctx, db.pool, "touch key "+id, "key "+id,
		`UPDATE api_keys SET last_used_at = greatest(last_used_at, $1) WHERE id = $2`, stamp(at), id)
}

// scanKey reads keyColumns.
func scanKey(row pgx.Row) (*apikey.Key, error) {
	var (
		k                          apikey.Key
		scopes                     string
		expires, lastUsed, revoked *time.Time
	)
	if err := row.Scan(&k.ID, &k.Name, &k.Hash, &scopes, &k.CreatedAt, &expires, &lastUsed, &revoked); err != nil {
		return nil, err
	}
	k.Scopes = slices.Collect(strings.FieldsSeq(scopes))
	k.CreatedAt = k.CreatedAt.UTC()
	k.ExpiresAt = utcOrNil(expires)
	k.LastUsedAt = utcOrNil(lastUsed)
	k.RevokedAt = utcOrNil(revoked)
	return &k, nil
}
