package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/2coffee/mcp-2coffee/internal/errdefs"
	"github.com/2coffee/mcp-2coffee/internal/oauth"
)

// This file and oauth_tokens.go implement oauth.Store on the tables
// of migrations/0003_oauth.sql.

var _ oauth.Store = (*DB)(nil)

// oauthClientColumns are the columns oauthScanClient reads, in order.
const oauthClientColumns = `id, name, kind, auth_method, secret_hash, redirect_uris, grant_types,
	response_types, scopes, client_uri, logo_uri, created_at, last_used_at`

// CreateClient stores c, or reports errdefs.ErrConflict when its id is taken.
func (db *DB) CreateClient(ctx context.Context, c *oauth.Client) error {
	uris, err := json.Marshal(oauthNonNil(c.RedirectURIs))
	if err != nil {
		return fmt.Errorf("sqlite: create client %s: %w", c.ID, err)
	}
	res, err := db.db.ExecContext(ctx, `INSERT INTO oauth_clients (`+oauthClientColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
		c.ID, c.Name, c.Kind, c.AuthMethod, oauthBlobOrNull(c.SecretHash), string(uris),
		oauthJoin(c.GrantTypes), oauthJoin(c.ResponseTypes), oauthJoin(c.Scopes), c.ClientURI, c.LogoURI,
		c.CreatedAt.Unix(), unixOrNull(c.LastUsedAt))
	if err != nil {
		return fmt.Errorf("sqlite: create client %s: %w", c.ID, err)
	}
	return oauthInserted(res, "client id "+c.ID)
}

// ClientByID returns the client, or errdefs.ErrNotFound. Every token request
// looks its client up, so the statement is prepared once.
func (db *DB) ClientByID(ctx context.Context, id string) (*oauth.Client, error) {
	stmt, err := db.prepared(ctx, `SELECT `+oauthClientColumns+` FROM oauth_clients WHERE id = ?`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: get client: %w", err)
	}
	c, err := oauthScanClient(stmt.QueryRowContext(ctx, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("client %q: %w", id, errdefs.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: get client: %w", err)
	}
	return c, nil
}

// ListClients returns every stored client, oldest first.
func (db *DB) ListClients(ctx context.Context) ([]*oauth.Client, error) {
	rows, err := db.db.QueryContext(ctx, `SELECT `+oauthClientColumns+` FROM oauth_clients ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list clients: %w", err)
	}
	return oauthCollect(rows, "list clients", oauthScanClient)
}

// oauthClientRows deletes what belongs to the clients selected by
// selectIDs (a SELECT of client ids): grants, and families (whose codes
// and tokens go with them by cascade).
func oauthDeleteClientRows(ctx context.Context, tx *sql.Tx, selectIDs string, args ...any) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM oauth_grants WHERE client_id IN (`+selectIDs+`)`, args...); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, `DELETE FROM oauth_families WHERE client_id IN (`+selectIDs+`)`, args...)
	return err
}

// DeleteClient deletes the client with its grants, codes and tokens, or
// reports errdefs.ErrNotFound.
func (db *DB) DeleteClient(ctx context.Context, id string) error {
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		if err := oauthDeleteClientRows(ctx, tx, `SELECT ?`, id); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM oauth_clients WHERE id = ?`, id)
		if err != nil {
			return err
		}
		return oauthAffected(res, "client "+id)
	})
	return oauthWrap("delete client", err)
}

// TouchClient records a use at at; the time never moves backwards.
func (db *DB) TouchClient(ctx context.Context, id string, at time.Time) error {
	return oauthUpdate(ctx, db.db, "touch client", "client "+id,
		`UPDATE oauth_clients SET last_used_at = max(coalesce(last_used_at, ?1), ?1) WHERE id = ?2`, at.Unix(), id)
}

// DeleteUnusedClients deletes dynamic clients never used and created
// before neverUsedBefore, or last used before idleBefore, with what
// belongs to them.
func (db *DB) DeleteUnusedClients(ctx context.Context, neverUsedBefore, idleBefore time.Time) (int, error) {
	const stale = `SELECT id FROM oauth_clients WHERE kind = 'dynamic'
		AND ((last_used_at IS NULL AND created_at < ?1) OR last_used_at < ?2)`
	var n int64
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		args := []any{neverUsedBefore.Unix(), idleBefore.Unix()}
		if err := oauthDeleteClientRows(ctx, tx, stale, args...); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM oauth_clients WHERE id IN (`+stale+`)`, args...)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return int(n), oauthWrap("delete unused clients", err)
}

func oauthScanClient(s rowScanner) (*oauth.Client, error) {
	var (
		c                              oauth.Client
		uris, grants, responses, scope string
		created                        int64
		lastUsed                       sql.NullInt64
	)
	if err := s.Scan(&c.ID, &c.Name, &c.Kind, &c.AuthMethod, &c.SecretHash, &uris, &grants, &responses,
		&scope, &c.ClientURI, &c.LogoURI, &created, &lastUsed); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(uris), &c.RedirectURIs); err != nil {
		return nil, fmt.Errorf("client %q: stored redirect URIs: %w", c.ID, err)
	}
	c.GrantTypes = oauthSplit(grants)
	c.ResponseTypes = oauthSplit(responses)
	c.Scopes = oauthSplit(scope)
	c.CreatedAt = time.Unix(created, 0).UTC()
	c.LastUsedAt = timeOrNil(lastUsed)
	return &c, nil
}

const oauthUserColumns = `name, password_hash, created_at, password_changed_at, last_login_at, coalesce(issuer, ''), coalesce(subject, '')`

// oauthUserInsert lists the columns CreateUser writes.
const oauthUserInsert = `name, password_hash, created_at, password_changed_at, last_login_at, issuer, subject`

// CreateUser stores u, or reports errdefs.ErrConflict when the name is taken.
func (db *DB) CreateUser(ctx context.Context, u *oauth.User) error {
	// ON CONFLICT without a target: a taken name, or a taken issuer
	// and subject, is a conflict.
	res, err := db.db.ExecContext(ctx, `INSERT INTO oauth_users (`+oauthUserInsert+`)
		VALUES (?, ?, ?, ?, ?, nullif(?, ''), nullif(?, '')) ON CONFLICT DO NOTHING`,
		u.Name, u.PasswordHash, u.CreatedAt.Unix(), u.PasswordChangedAt.Unix(), unixOrNull(u.LastLoginAt), u.Issuer, u.Subject)
	if err != nil {
		return fmt.Errorf("sqlite: create user: %w", err)
	}
	return oauthInserted(res, "user name "+u.Name)
}

// UserByName returns the user, or errdefs.ErrNotFound.
func (db *DB) UserByName(ctx context.Context, name string) (*oauth.User, error) {
	u, err := oauthScanUser(db.db.QueryRowContext(ctx, `SELECT `+oauthUserColumns+` FROM oauth_users WHERE name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("user %q: %w", name, errdefs.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: get user: %w", err)
	}
	return u, nil
}

// UserBySubject returns the user who signs in as subject at issuer, or
// errdefs.ErrNotFound.
func (db *DB) UserBySubject(ctx context.Context, issuer, subject string) (*oauth.User, error) {
	u, err := oauthScanUser(db.db.QueryRowContext(ctx, `SELECT `+oauthUserColumns+` FROM oauth_users WHERE issuer = ? AND subject = ?`, issuer, subject))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("user at %s: %w", issuer, errdefs.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: get user by subject: %w", err)
	}
	return u, nil
}

// ListUsers returns every user by name.
func (db *DB) ListUsers(ctx context.Context) ([]*oauth.User, error) {
	rows, err := db.db.QueryContext(ctx, `SELECT `+oauthUserColumns+` FROM oauth_users ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list users: %w", err)
	}
	return oauthCollect(rows, "list users", oauthScanUser)
}

// SetPasswordHash replaces the password hash, or reports errdefs.ErrNotFound.
func (db *DB) SetPasswordHash(ctx context.Context, name, hash string, at time.Time) error {
	return oauthUpdate(ctx, db.db, "set password", "user "+name,
		`UPDATE oauth_users SET password_hash = ?, password_changed_at = ? WHERE name = ?`, hash, at.Unix(), name)
}

// RecordLogin sets the last sign-in time, or reports errdefs.ErrNotFound.
func (db *DB) RecordLogin(ctx context.Context, name string, at time.Time) error {
	return oauthUpdate(ctx, db.db, "record login", "user "+name,
		`UPDATE oauth_users SET last_login_at = max(coalesce(last_login_at, ?1), ?1) WHERE name = ?2`, at.Unix(), name)
}

// DeleteUser deletes the user; sessions, grants, families, codes and
// tokens go with it by cascade.
func (db *DB) DeleteUser(ctx context.Context, name string) error {
	res, err := db.db.ExecContext(ctx, `DELETE FROM oauth_users WHERE name = ?`, name)
	if err != nil {
		return fmt.Errorf("sqlite: delete user: %w", err)
	}
	return oauthAffected(res, "user "+name)
}

func oauthScanUser(s rowScanner) (*oauth.User, error) {
	var (
		u                oauth.User
		created, changed int64
		lastLogin        sql.NullInt64
	)
	if err := s.Scan(&u.Name, &u.PasswordHash, &created, &changed, &lastLogin, &u.Issuer, &u.Subject); err != nil {
		return nil, err
	}
	u.CreatedAt = time.Unix(created, 0).UTC()
	u.PasswordChangedAt = time.Unix(changed, 0).UTC()
	u.LastLoginAt = timeOrNil(lastLogin)
	return &u, nil
}

// LoginFailures returns the failure count for name (zero when none).
func (db *DB) LoginFailures(ctx context.Context, name string) (*oauth.LoginFailures, error) {
	f := &oauth.LoginFailures{Name: name}
	var last int64
	err := db.db.QueryRowContext(ctx, `SELECT failures, last_failure_at FROM oauth_login_failures WHERE name = ?`, name).
		Scan(&f.Count, &last)
	if errors.Is(err, sql.ErrNoRows) {
		return f, nil
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: login failures: %w", err)
	}
	f.Last = time.Unix(last, 0).UTC()
	return f, nil
}

// RecordLoginFailure adds a failure in one statement, so concurrent
// failures on several replicas all count.
func (db *DB) RecordLoginFailure(ctx context.Context, name string, at, staleBefore time.Time) (*oauth.LoginFailures, error) {
	f := &oauth.LoginFailures{Name: name}
	var last int64
	err := db.db.QueryRowContext(ctx, `INSERT INTO oauth_login_failures (name, failures, last_failure_at) VALUES (?1, 1, ?2)
		ON CONFLICT (name) DO UPDATE SET
			failures = CASE WHEN last_failure_at < ?3 THEN 1 ELSE failures + 1 END,
			last_failure_at = max(last_failure_at, ?2)
		RETURNING failures, last_failure_at`, name, at.Unix(), staleBefore.Unix()).Scan(&f.Count, &last)
	if err != nil {
		return nil, fmt.Errorf("sqlite: record login failure: %w", err)
	}
	f.Last = time.Unix(last, 0).UTC()
	return f, nil
}

// ClearLoginFailures forgets the failures for name and for every
// oauth.FailureKey of it. The prefix is compared exactly (substr, not
// LIKE, in which the '_' names may hold is a wildcard).
func (db *DB) ClearLoginFailures(ctx context.Context, name string) error {
	if _, err := db.db.ExecContext(ctx, `DELETE FROM oauth_login_failures
		WHERE name = ?1 OR substr(name, 1, length(?1) + 1) = ?1 || ' '`, name); err != nil {
		return fmt.Errorf("sqlite: clear login failures: %w", err)
	}
	return nil
}

// DeleteLoginFailures forgets counts whose last failure is before before.
func (db *DB) DeleteLoginFailures(ctx context.Context, before time.Time) (int, error) {
	return oauthDeleteCount(ctx, db.db, "delete login failures",
		`DELETE FROM oauth_login_failures WHERE last_failure_at < ?`, before.Unix())
}

// CreateSession stores s, or reports errdefs.ErrConflict when its hash is
// taken.
func (db *DB) CreateSession(ctx context.Context, s *oauth.Session) error {
	res, err := db.db.ExecContext(ctx, `INSERT INTO oauth_sessions (hash, user_name, created_at, expires_at)
		VALUES (?, ?, ?, ?) ON CONFLICT (hash) DO NOTHING`, s.Hash, s.User, s.CreatedAt.Unix(), s.ExpiresAt.Unix())
	if err != nil {
		return fmt.Errorf("sqlite: create session: %w", err)
	}
	return oauthInserted(res, "session")
}

// SessionByHash returns the session, or errdefs.ErrNotFound. Every page
// view of a signed-in user reads it, so the statement is prepared.
func (db *DB) SessionByHash(ctx context.Context, hash []byte) (*oauth.Session, error) {
	stmt, err := db.prepared(ctx, `SELECT hash, user_name, created_at, expires_at FROM oauth_sessions WHERE hash = ?`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: get session: %w", err)
	}
	var (
		s                oauth.Session
		created, expires int64
	)
	err = stmt.QueryRowContext(ctx, hash).Scan(&s.Hash, &s.User, &created, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("session: %w", errdefs.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: get session: %w", err)
	}
	s.CreatedAt = time.Unix(created, 0).UTC()
	s.ExpiresAt = time.Unix(expires, 0).UTC()
	return &s, nil
}

// DeleteSession deletes the session; a missing one is not an error.
func (db *DB) DeleteSession(ctx context.Context, hash []byte) error {
	if _, err := db.db.ExecContext(ctx, `DELETE FROM oauth_sessions WHERE hash = ?`, hash); err != nil {
		return fmt.Errorf("sqlite: delete session: %w", err)
	}
	return nil
}

// DeleteUserSessions deletes every session of user.
func (db *DB) DeleteUserSessions(ctx context.Context, user string) error {
	if _, err := db.db.ExecContext(ctx, `DELETE FROM oauth_sessions WHERE user_name = ?`, user); err != nil {
		return fmt.Errorf("sqlite: delete user sessions: %w", err)
	}
	return nil
}

// DeleteExpiredSessions deletes sessions expired at or before before.
func (db *DB) DeleteExpiredSessions(ctx context.Context, before time.Time) (int, error) {
	return oauthDeleteCount(ctx, db.db, "delete expired sessions",
		`DELETE FROM oauth_sessions WHERE expires_at <= ?`, before.Unix())
}

const oauthGrantColumns = `user_name, client_id, client_name, scopes, created_at, updated_at`

// SaveGrant creates or replaces a grant, keeping the first CreatedAt.
func (db *DB) SaveGrant(ctx context.Context, g *oauth.Grant) error {
	_, err := db.db.ExecContext(ctx, `INSERT INTO oauth_grants (`+oauthGrantColumns+`) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (user_name, client_id) DO UPDATE SET
			client_name = excluded.client_name, scopes = excluded.scopes, updated_at = excluded.updated_at`,
		g.User, g.ClientID, g.ClientName, oauthJoin(g.Scopes), g.CreatedAt.Unix(), g.UpdatedAt.Unix())
	if err != nil {
		return fmt.Errorf("sqlite: save grant: %w", err)
	}
	return nil
}

// GrantFor returns the grant of user to clientID, or errdefs.ErrNotFound.
func (db *DB) GrantFor(ctx context.Context, user, clientID string) (*oauth.Grant, error) {
	g, err := oauthScanGrant(db.db.QueryRowContext(ctx,
		`SELECT `+oauthGrantColumns+` FROM oauth_grants WHERE user_name = ? AND client_id = ?`, user, clientID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("grant: %w", errdefs.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: get grant: %w", err)
	}
	return g, nil
}

// ListGrants returns the grants of user, or of everyone for "".
func (db *DB) ListGrants(ctx context.Context, user string) ([]*oauth.Grant, error) {
	rows, err := db.db.QueryContext(ctx, `SELECT `+oauthGrantColumns+` FROM oauth_grants
		WHERE ?1 = '' OR user_name = ?1 ORDER BY user_name, client_id`, user)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list grants: %w", err)
	}
	return oauthCollect(rows, "list grants", oauthScanGrant)
}

// RevokeGrant deletes the grant and revokes the pair's families.
func (db *DB) RevokeGrant(ctx context.Context, user, clientID string, at time.Time) error {
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		del, err := tx.ExecContext(ctx, `DELETE FROM oauth_grants WHERE user_name = ? AND client_id = ?`, user, clientID)
		if err != nil {
			return err
		}
		upd, err := tx.ExecContext(ctx, `UPDATE oauth_families SET revoked_at = coalesce(revoked_at, ?)
			WHERE user_name = ? AND client_id = ?`, at.Unix(), user, clientID)
		if err != nil {
			return err
		}
		d, err1 := del.RowsAffected()
		u, err2 := upd.RowsAffected()
		if err := errors.Join(err1, err2); err != nil {
			return err
		}
		if d+u == 0 {
			return fmt.Errorf("grant of %s to %s: %w", user, clientID, errdefs.ErrNotFound)
		}
		return nil
	})
	return oauthWrap("revoke grant", err)
}

func oauthScanGrant(s rowScanner) (*oauth.Grant, error) {
	var (
		g                oauth.Grant
		scopes           string
		created, updated int64
	)
	if err := s.Scan(&g.User, &g.ClientID, &g.ClientName, &scopes, &created, &updated); err != nil {
		return nil, err
	}
	g.Scopes = oauthSplit(scopes)
	g.CreatedAt = time.Unix(created, 0).UTC()
	g.UpdatedAt = time.Unix(updated, 0).UTC()
	return &g, nil
}

// Helpers shared by the OAuth stores.

// oauthCollect scans every row with scan.
func oauthCollect[T any](rows *sql.Rows, what string, scan func(rowScanner) (*T, error)) ([]*T, error) {
	defer rows.Close()
	out := []*T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: %s: %w", what, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: %s: %w", what, err)
	}
	return out, nil
}

// execer is a *sql.DB or a *sql.Tx.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// oauthUpdate runs an UPDATE of one row and turns "no row" into
// errdefs.ErrNotFound. SQLite counts a matched row as changed even when its
// values stay the same.
func oauthUpdate(ctx context.Context, ex execer, what, object, query string, args ...any) error {
	res, err := ex.ExecContext(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("sqlite: %s: %w", what, err)
	}
	return oauthWrap(what, oauthAffected(res, object))
}

// oauthAffected reports errdefs.ErrNotFound when res touched no row.
func oauthAffected(res sql.Result, object string) error {
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("%s: %w", object, errdefs.ErrNotFound)
	}
	return nil
}

// oauthInserted reports errdefs.ErrConflict when an INSERT … ON CONFLICT DO
// NOTHING inserted nothing.
func oauthInserted(res sql.Result, object string) error {
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("sqlite: insert: %w", err)
	}
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
	return fmt.Errorf("sqlite: %s: %w", what, err)
}

func oauthDeleteCount(ctx context.Context, ex execer, what, query string, args ...any) (int, error) {
	res, err := ex.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, fmt.Errorf("sqlite: %s: %w", what, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("sqlite: %s: %w", what, err)
	}
	return int(n), nil
}

func oauthJoin(s []string) string { return strings.Join(s, " ") }

func oauthSplit(s string) []string { return slices.Collect(strings.FieldsSeq(s)) }

func oauthNonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// oauthBlobOrNull stores an empty hash as NULL, which the schema's CHECK
// relies on for public clients.
func oauthBlobOrNull(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}
