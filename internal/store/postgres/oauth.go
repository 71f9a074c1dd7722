package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/2coffee/mcp-2coffee/internal/errdefs"
	"github.com/2coffee/mcp-2coffee/internal/oauth"
)

// This file and oauth_tokens.go implement oauth.Store on the auth tables
// of migrations/0001_schema.sql, with the behaviour of the SQLite backend.
//
// Concurrency. SQLite serializes every write transaction, so its
// read-then-write methods are atomic as written. Here transactions run
// at READ COMMITTED on many replicas at once, and each method is atomic
// by one of three means:
//
//   - a single statement whose condition is evaluated on the row it
//     locks: UPDATE … WHERE (PostgreSQL re-checks the WHERE clause, and
//     recomputes SET, on the committed version of a row another
//     transaction changed meanwhile) or INSERT … ON CONFLICT;
//   - a lock on the token family, taken first by every transaction that
//     issues tokens into a family or marks a code or refresh token spent
//     (SELECT … FOR NO KEY UPDATE). The lock serializes them per family,
//     as SQLite does for the whole database, and since every statement
//     after it reads a new snapshot, each sees what the previous holder
//     committed. Revoking a family updates its row, so it waits for (or
//     is waited for by) every issuance into it: no token is issued into a
//     family after its revocation has committed;
//   - for the sweeper, FOR UPDATE SKIP LOCKED: rows another transaction
//     is using are left for the next sweep instead of waited for.
//
// Locks are taken in one order, so that transactions do not deadlock:
// clients, then families (several at once in order of id), then the
// codes, tokens, grants and users that belong to them.
//
// Nothing is cached in the process. A token's revocation is its own
// revoked_at or its family's, read by TokenByHash on every request, so a
// revocation through one replica is refused by every replica as soon as
// it commits. A cache of tokens or families in front of these queries
// would break that.

var _ oauth.Store = (*DB)(nil)

// oauthClientColumns are the columns oauthScanClient reads, in order.
const oauthClientColumns = `id, name, kind, auth_method, secret_hash, redirect_uris, grant_types,
	response_types, scopes, client_uri, logo_uri, created_at, last_used_at`

// CreateClient stores c, or reports errdefs.ErrConflict when its id is taken.
func (db *DB) CreateClient(ctx context.Context, c *oauth.Client) error {
	tag, err := db.pool.Exec(ctx, `INSERT INTO oauth_clients (`+oauthClientColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) ON CONFLICT (id) DO NOTHING`,
		c.ID, c.Name, c.Kind, c.AuthMethod, oauthBytesOrNil(c.SecretHash), oauthNonNil(c.RedirectURIs),
		oauthJoin(c.GrantTypes), oauthJoin(c.ResponseTypes), oauthJoin(c.Scopes), c.ClientURI, c.LogoURI,
		stamp(c.CreatedAt), stampOrNil(c.LastUsedAt))
	if err != nil {
		return fmt.Errorf("postgres: create client %s: %w", c.ID, err)
	}
	return oauthInserted(tag.RowsAffected(), "client id "+c.ID)
}

// ClientByID returns the client, or errdefs.ErrNotFound.
func (db *DB) ClientByID(ctx context.Context, id string) (*oauth.Client, error) {
	c, err := oauthScanClient(db.pool.QueryRow(ctx, `SELECT `+oauthClientColumns+` FROM oauth_clients WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("client %q: %w", id, errdefs.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: get client: %w", err)
	}
	return c, nil
}

// ListClients returns every stored client, oldest first.
func (db *DB) ListClients(ctx context.Context) ([]*oauth.Client, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+oauthClientColumns+` FROM oauth_clients ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("postgres: list clients: %w", err)
	}
	return oauthCollect(rows, "list clients", oauthScanClient)
}

// oauthDeleteClientRows deletes what belongs to the clients ids: their
// families (whose codes and tokens go with them by cascade), locked in
// order of id, then their grants.
func oauthDeleteClientRows(ctx context.Context, tx pgx.Tx, ids []string) error {
	if _, err := tx.Exec(ctx, `DELETE FROM oauth_families WHERE id IN (
		SELECT id FROM oauth_families WHERE client_id = ANY($1) ORDER BY id FOR UPDATE)`, ids); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, `DELETE FROM oauth_grants WHERE client_id = ANY($1)`, ids)
	return err
}

// DeleteClient deletes the client with its grants, codes and tokens, or
// reports errdefs.ErrNotFound. The client's row is deleted first: its
// lock makes a second DeleteClient of the same id wait, then find
// nothing. An exchange or rotation in one of the client's families either
// commits before the family is deleted (and its tokens go with it) or
// waits for the deletion and finds no family.
func (db *DB) DeleteClient(ctx context.Context, id string) error {
	err := db.oauthTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM oauth_clients WHERE id = $1`, id)
		if err != nil {
			return err
		}
		if err := oauthAffected(tag.RowsAffected(), "client "+id); err != nil {
			return err
		}
		return oauthDeleteClientRows(ctx, tx, []string{id})
	})
	return oauthWrap("delete client", err)
}

// TouchClient records a use at at; greatest keeps the latest of uses
// recorded out of order, computed from the committed value when two
// touches meet.
func (db *DB) TouchClient(ctx context.Context, id string, at time.Time) error {
	return oauthUpdate(ctx, db.pool, "touch client", "client "+id,
		`UPDATE oauth_clients SET last_used_at = greatest(last_used_at, $1) WHERE id = $2`, stamp(at), id)
}

// DeleteUnusedClients deletes dynamic clients never used and created
// before neverUsedBefore, or last used before idleBefore, with what
// belongs to them. The stale clients are locked first, skipping any that
// another transaction holds (a touch, another replica's sweep); a client
// touched since the sweep's snapshot is re-checked on its new row and
// kept.
func (db *DB) DeleteUnusedClients(ctx context.Context, neverUsedBefore, idleBefore time.Time) (int, error) {
	var n int64
	err := db.oauthTx(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT id FROM oauth_clients WHERE kind = 'dynamic'
			AND ((last_used_at IS NULL AND created_at < $1) OR last_used_at < $2)
			ORDER BY id FOR UPDATE SKIP LOCKED`, stamp(neverUsedBefore), stamp(idleBefore))
		if err != nil {
			return err
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil || len(ids) == 0 {
			return err
		}
		if err := oauthDeleteClientRows(ctx, tx, ids); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `DELETE FROM oauth_clients WHERE id = ANY($1)`, ids)
		n = tag.RowsAffected()
		return err
	})
	return int(n), oauthWrap("delete unused clients", err)
}

func oauthScanClient(row pgx.Row) (*oauth.Client, error) {
	var (
		c                         oauth.Client
		grants, responses, scopes string
		lastUsed                  *time.Time
	)
	if err := row.Scan(&c.ID, &c.Name, &c.Kind, &c.AuthMethod, &c.SecretHash, &c.RedirectURIs, &grants, &responses,
		&scopes, &c.ClientURI, &c.LogoURI, &c.CreatedAt, &lastUsed); err != nil {
		return nil, err
	}
	c.GrantTypes = oauthSplit(grants)
	c.ResponseTypes = oauthSplit(responses)
	c.Scopes = oauthSplit(scopes)
	c.CreatedAt = c.CreatedAt.UTC()
	c.LastUsedAt = utcOrNil(lastUsed)
	return &c, nil
}

const oauthUserColumns = `name, password_hash, created_at, password_changed_at, last_login_at, coalesce(issuer, ''), coalesce(subject, '')`

// oauthUserInsert lists the columns CreateUser writes.
const oauthUserInsert = `name, password_hash, created_at, password_changed_at, last_login_at, issuer, subject`

// CreateUser stores u, or reports errdefs.ErrConflict when the name is taken.
func (db *DB) CreateUser(ctx context.Context, u *oauth.User) error {
	// ON CONFLICT without a target: a taken name, or a taken issuer
	// and subject, is a conflict.
	tag, err := db.pool.Exec(ctx, `INSERT INTO oauth_users (`+oauthUserInsert+`)
		VALUES ($1, $2, $3, $4, $5, nullif($6, ''), nullif($7, '')) ON CONFLICT DO NOTHING`,
		u.Name, u.PasswordHash, stamp(u.CreatedAt), stamp(u.PasswordChangedAt), stampOrNil(u.LastLoginAt), u.Issuer, u.Subject)
	if err != nil {
		return fmt.Errorf("postgres: create user: %w", err)
	}
	return oauthInserted(tag.RowsAffected(), "user name "+u.Name)
}

// UserByName returns the user, or errdefs.ErrNotFound.
func (db *DB) UserByName(ctx context.Context, name string) (*oauth.User, error) {
	u, err := oauthScanUser(db.pool.QueryRow(ctx, `SELECT `+oauthUserColumns+` FROM oauth_users WHERE name = $1`, name))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("user %q: %w", name, errdefs.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: get user: %w", err)
	}
	return u, nil
}

// UserBySubject returns the user who signs in as subject at issuer, or
// errdefs.ErrNotFound.
func (db *DB) UserBySubject(ctx context.Context, issuer, subject string) (*oauth.User, error) {
	u, err := oauthScanUser(db.pool.QueryRow(ctx, `SELECT `+oauthUserColumns+` FROM oauth_users WHERE issuer = $1 AND subject = $2`, issuer, subject))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("user at %s: %w", issuer, errdefs.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: get user by subject: %w", err)
	}
	return u, nil
}

// ListUsers returns every user by name.
func (db *DB) ListUsers(ctx context.Context) ([]*oauth.User, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+oauthUserColumns+` FROM oauth_users ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("postgres: list users: %w", err)
	}
	return oauthCollect(rows, "list users", oauthScanUser)
}

// SetPasswordHash replaces the password hash, or reports errdefs.ErrNotFound.
func (db *DB) SetPasswordHash(ctx context.Context, name, hash string, at time.Time) error {
	return oauthUpdate(ctx, db.pool, "set password", "user "+name,
		`UPDATE oauth_users SET password_hash = $1, password_changed_at = $2 WHERE name = $3`, hash, stamp(at), name)
}

// RecordLogin sets the last sign-in time, never moving it backwards, or
// reports errdefs.ErrNotFound.
func (db *DB) RecordLogin(ctx context.Context, name string, at time.Time) error {
	return oauthUpdate(ctx, db.pool, "record login", "user "+name,
		`UPDATE oauth_users SET last_login_at = greatest(last_login_at, $1) WHERE name = $2`, stamp(at), name)
}

// DeleteUser deletes the user; sessions, grants, families, codes and
// tokens go with it by cascade. The user's families are locked first, in
// order of id, as every transaction locking several families does.
func (db *DB) DeleteUser(ctx context.Context, name string) error {
	err := db.oauthTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT FROM oauth_families WHERE user_name = $1 ORDER BY id FOR UPDATE`, name); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `DELETE FROM oauth_users WHERE name = $1`, name)
		if err != nil {
			return err
		}
		return oauthAffected(tag.RowsAffected(), "user "+name)
	})
	return oauthWrap("delete user", err)
}

func oauthScanUser(row pgx.Row) (*oauth.User, error) {
	var (
		u         oauth.User
		lastLogin *time.Time
	)
	if err := row.Scan(&u.Name, &u.PasswordHash, &u.CreatedAt, &u.PasswordChangedAt, &lastLogin, &u.Issuer, &u.Subject); err != nil {
		return nil, err
	}
	u.CreatedAt = u.CreatedAt.UTC()
	u.PasswordChangedAt = u.PasswordChangedAt.UTC()
	u.LastLoginAt = utcOrNil(lastLogin)
	return &u, nil
}

// LoginFailures returns the failure count for name (zero when none).
func (db *DB) LoginFailures(ctx context.Context, name string) (*oauth.LoginFailures, error) {
	f := &oauth.LoginFailures{Name: name}
	err := db.pool.QueryRow(ctx, `SELECT failures, last_failure_at FROM oauth_login_failures WHERE name = $1`, name).
		Scan(&f.Count, &f.Last)
	if errors.Is(err, pgx.ErrNoRows) {
		return f, nil
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: login failures: %w", err)
	}
	f.Last = f.Last.UTC()
	return f, nil
}

// RecordLoginFailure adds a failure in one statement. INSERT … ON
// CONFLICT DO UPDATE either inserts or updates the row, even when
// replicas race on a name seen for the first time, and the update is
// computed from the committed count, so concurrent failures all count.
func (db *DB) RecordLoginFailure(ctx context.Context, name string, at, staleBefore time.Time) (*oauth.LoginFailures, error) {
	f := &oauth.LoginFailures{Name: name}
	err := db.pool.QueryRow(ctx, `INSERT INTO oauth_login_failures AS l (name, failures, last_failure_at) VALUES ($1, 1, $2)
		ON CONFLICT (name) DO UPDATE SET
			failures = CASE WHEN l.last_failure_at < $3 THEN 1 ELSE l.failures + 1 END,
			last_failure_at = greatest(l.last_failure_at, excluded.last_failure_at)
		RETURNING failures, last_failure_at`, name, stamp(at), stamp(staleBefore)).Scan(&f.Count, &f.Last)
	if err != nil {
		return nil, fmt.Errorf("postgres: record login failure: %w", err)
	}
	f.Last = f.Last.UTC()
	return f, nil
}

// ClearLoginFailures forgets the failures for name and for every
// oauth.FailureKey of it. The prefix is compared exactly (starts_with,
// not LIKE, in which the '_' names may hold is a wildcard).
func (db *DB) ClearLoginFailures(ctx context.Context, name string) error {
	if _, err := db.pool.Exec(ctx, `DELETE FROM oauth_login_failures
		WHERE name = $1 OR starts_with(name, $1 || ' ')`, name); err != nil {
		return fmt.Errorf("postgres: clear login failures: %w", err)
	}
	return nil
}

// DeleteLoginFailures forgets counts whose last failure is before before.
func (db *DB) DeleteLoginFailures(ctx context.Context, before time.Time) (int, error) {
	return oauthDeleteCount(ctx, db.pool, "delete login failures", `DELETE FROM oauth_login_failures WHERE name IN (
		SELECT name FROM oauth_login_failures WHERE last_failure_at < $1 FOR UPDATE SKIP LOCKED)`, stamp(before))
}

// CreateSession stores s, or reports errdefs.ErrConflict when its hash is
// taken.
func (db *DB) CreateSession(ctx context.Context, s *oauth.Session) error {
	tag, err := db.pool.Exec(ctx, `INSERT INTO oauth_sessions (hash, user_name, created_at, expires_at)
		VALUES ($1, $2, $3, $4) ON CONFLICT (hash) DO NOTHING`, s.Hash, s.User, stamp(s.CreatedAt), stamp(s.ExpiresAt))
	if err != nil {
		return fmt.Errorf("postgres: create session: %w", err)
	}
	return oauthInserted(tag.RowsAffected(), "session")
}

// SessionByHash returns the session, or errdefs.ErrNotFound.
func (db *DB) SessionByHash(ctx context.Context, hash []byte) (*oauth.Session, error) {
	var s oauth.Session
	err := db.pool.QueryRow(ctx, `SELECT hash, user_name, created_at, expires_at FROM oauth_sessions WHERE hash = $1`, hash).
		Scan(&s.Hash, &s.User, &s.CreatedAt, &s.ExpiresAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("session: %w", errdefs.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: get session: %w", err)
	}
	s.CreatedAt = s.CreatedAt.UTC()
	s.ExpiresAt = s.ExpiresAt.UTC()
	return &s, nil
}

// DeleteSession deletes the session; a missing one is not an error.
func (db *DB) DeleteSession(ctx context.Context, hash []byte) error {
	if _, err := db.pool.Exec(ctx, `DELETE FROM oauth_sessions WHERE hash = $1`, hash); err != nil {
		return fmt.Errorf("postgres: delete session: %w", err)
	}
	return nil
}

// DeleteUserSessions deletes every session of user.
func (db *DB) DeleteUserSessions(ctx context.Context, user string) error {
	if _, err := db.pool.Exec(ctx, `DELETE FROM oauth_sessions WHERE user_name = $1`, user); err != nil {
		return fmt.Errorf("postgres: delete user sessions: %w", err)
	}
	return nil
}

// DeleteExpiredSessions deletes sessions expired at or before before.
func (db *DB) DeleteExpiredSessions(ctx context.Context, before time.Time) (int, error) {
	return oauthDeleteCount(ctx, db.pool, "delete expired sessions", `DELETE FROM oauth_sessions WHERE hash IN (
		SELECT hash FROM oauth_sessions WHERE expires_at <= $1 FOR UPDATE SKIP LOCKED)`, stamp(before))
}

const oauthGrantColumns = `user_name, client_id, client_name, scopes, created_at, updated_at`

// SaveGrant creates or replaces a grant, keeping the first CreatedAt, in
// one statement. The scopes are replaced, not merged: the caller passes
// the union it wants stored.
func (db *DB) SaveGrant(ctx context.Context, g *oauth.Grant) error {
	_, err := db.pool.Exec(ctx, `INSERT INTO oauth_grants (`+oauthGrantColumns+`) VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (user_name, client_id) DO UPDATE SET
			client_name = excluded.client_name, scopes = excluded.scopes, updated_at = excluded.updated_at`,
		g.User, g.ClientID, g.ClientName, oauthJoin(g.Scopes), stamp(g.CreatedAt), stamp(g.UpdatedAt))
	if err != nil {
		return fmt.Errorf("postgres: save grant: %w", err)
	}
	return nil
}

// GrantFor returns the grant of user to clientID, or errdefs.ErrNotFound.
func (db *DB) GrantFor(ctx context.Context, user, clientID string) (*oauth.Grant, error) {
	g, err := oauthScanGrant(db.pool.QueryRow(ctx,
		`SELECT `+oauthGrantColumns+` FROM oauth_grants WHERE user_name = $1 AND client_id = $2`, user, clientID))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("grant: %w", errdefs.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: get grant: %w", err)
	}
	return g, nil
}

// ListGrants returns the grants of user, or of everyone for "".
func (db *DB) ListGrants(ctx context.Context, user string) ([]*oauth.Grant, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+oauthGrantColumns+` FROM oauth_grants
		WHERE $1 = '' OR user_name = $1 ORDER BY user_name, client_id`, user)
	if err != nil {
		return nil, fmt.Errorf("postgres: list grants: %w", err)
	}
	return oauthCollect(rows, "list grants", oauthScanGrant)
}

// RevokeGrant revokes the pair's families, locked in order of id, and
// deletes the grant. An exchange or rotation in one of the families
// running at the same time either commits first, and its tokens are
// revoked with the family, or waits and finds the family revoked.
func (db *DB) RevokeGrant(ctx context.Context, user, clientID string, at time.Time) error {
	err := db.oauthTx(ctx, func(tx pgx.Tx) error {
		upd, err := tx.Exec(ctx, `UPDATE oauth_families SET revoked_at = coalesce(revoked_at, $1) WHERE id IN (
			SELECT id FROM oauth_families WHERE user_name = $2 AND client_id = $3 ORDER BY id FOR NO KEY UPDATE)`,
			stamp(at), user, clientID)
		if err != nil {
			return err
		}
		del, err := tx.Exec(ctx, `DELETE FROM oauth_grants WHERE user_name = $1 AND client_id = $2`, user, clientID)
		if err != nil {
			return err
		}
		if del.RowsAffected()+upd.RowsAffected() == 0 {
			return fmt.Errorf("grant of %s to %s: %w", user, clientID, errdefs.ErrNotFound)
		}
		return nil
	})
	return oauthWrap("revoke grant", err)
}

func oauthScanGrant(row pgx.Row) (*oauth.Grant, error) {
	var (
		g      oauth.Grant
		scopes string
	)
	if err := row.Scan(&g.User, &g.ClientID, &g.ClientName, &scopes, &g.CreatedAt, &g.UpdatedAt); err != nil {
		return nil, err
	}
	g.Scopes = oauthSplit(scopes)
	g.CreatedAt = g.CreatedAt.UTC()
	g.UpdatedAt = g.UpdatedAt.UTC()
	return &g, nil
}

// Helpers shared by the OAuth stores.

// oauthTx runs fn in a transaction (READ COMMITTED, the server's
// default), committing when it returns nil.
func (db *DB) oauthTx(ctx context.Context, fn func(pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, db.pool, fn)
}

// oauthCollect scans every row with scan.
func oauthCollect[T any](rows pgx.Rows, what string, scan func(pgx.Row) (*T, error)) ([]*T, error) {
	defer rows.Close()
	out := []*T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("postgres: %s: %w", what, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: %s: %w", what, err)
	}
	return out, nil
}

// oauthExecer is the pool or a transaction.
type oauthExecer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// oauthUpdate runs an UPDATE of one row and turns "no row" into
// errdefs.ErrNotFound. PostgreSQL counts a matched row as affected even
// when its values stay the same.
func oauthUpdate(ctx context.Context, ex oauthExecer, what, object, query string, args ...any) error {
	tag, err := ex.Exec(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("postgres: %s: %w", what, err)
	}
	return oauthAffected(tag.RowsAffected(), object)
}

// oauthAffected reports errdefs.ErrNotFound when a statement touched no
// row.
func oauthAffected(n int64, object string) error {
	if n == 0 {
		return fmt.Errorf("%s: %w", object, errdefs.ErrNotFound)
	}
	return nil
}

// oauthInserted reports errdefs.ErrConflict when an INSERT … ON CONFLICT
// DO NOTHING inserted nothing.
func oauthInserted(n int64, object string) error {
	if n == 0 {
		return fmt.Errorf("%s is taken: %w", object, errdefs.ErrConflict)
	}
	return nil
}

// oauthWrap adds context to a store error, leaving the sentinels (which
// already say what happened) as they are.
func oauthWrap(what string, err error) error {
	if err == nil || errors.Is(err, errdefs.ErrNotFound) || errors.Is(err, errdefs.ErrConflict) {
		return err
	}
	return fmt.Errorf("postgres: %s: %w", what, err)
}

// oauthDeleteCount runs a DELETE and returns how many rows it deleted.
func oauthDeleteCount(ctx context.Context, ex oauthExecer, what, query string, args ...any) (int, error) {
	tag, err := ex.Exec(ctx, query, args...)
	if err != nil {
		return 0, fmt.Errorf("postgres: %s: %w", what, err)
	}
	return int(tag.RowsAffected()), nil
}

func oauthJoin(s []string) string { return strings.Join(s, " ") }

func oauthSplit(s string) []string { return slices.Collect(strings.FieldsSeq(s)) }

// oauthNonNil stores a nil list as an empty array: pgx sends a nil slice
// as NULL, which redirect_uris refuses.
func oauthNonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// oauthBytesOrNil stores an empty hash as NULL, which the schema's CHECK
// relies on for public clients.
func oauthBytesOrNil(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}
