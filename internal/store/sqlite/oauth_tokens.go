package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/2coffee/mcp-2coffee/internal/errdefs"
	"github.com/2coffee/mcp-2coffee/internal/oauth"
)

// CreateCode stores the code and creates its family in one transaction.
func (db *DB) CreateCode(ctx context.Context, c *oauth.Code) error {
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO oauth_families (id, client_id, user_name, resource, created_at)
			VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
			c.FamilyID, c.ClientID, c.User, c.Resource, c.CreatedAt.Unix())
		if err != nil {
			return err
		}
		if err := oauthInserted(res, "family id"); err != nil {
			return err
		}
		res, err = tx.ExecContext(ctx, `INSERT INTO oauth_codes
			(hash, family_id, redirect_uri, scopes, challenge, created_at, expires_at, used_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (hash) DO NOTHING`,
			c.Hash, c.FamilyID, c.RedirectURI, oauthJoin(c.Scopes), c.Challenge,
			c.CreatedAt.Unix(), c.ExpiresAt.Unix(), unixOrNull(c.UsedAt))
		if err != nil {
			return err
		}
		return oauthInserted(res, "code")
	})
	return oauthWrap("create code", err)
}

// CodeByHash returns the code with its family's client, user and
// resource, or errdefs.ErrNotFound.
func (db *DB) CodeByHash(ctx context.Context, hash []byte) (*oauth.Code, error) {
	var (
		c                oauth.Code
		scopes           string
		created, expires int64
		used             sql.NullInt64
	)
	err := db.db.QueryRowContext(ctx, `SELECT c.hash, c.family_id, f.client_id, f.user_name, c.redirect_uri,
			c.scopes, f.resource, c.challenge, c.created_at, c.expires_at, c.used_at
		FROM oauth_codes c JOIN oauth_families f ON f.id = c.family_id WHERE c.hash = ?`, hash).
		Scan(&c.Hash, &c.FamilyID, &c.ClientID, &c.User, &c.RedirectURI, &scopes, &c.Resource, &c.Challenge,
			&created, &expires, &used)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("code: %w", errdefs.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: get code: %w", err)
	}
	c.Scopes = oauthSplit(scopes)
	c.CreatedAt = time.Unix(created, 0).UTC()
	c.ExpiresAt = time.Unix(expires, 0).UTC()
	c.UsedAt = timeOrNil(used)
	return &c, nil
}

// ExchangeCode marks the code used and stores tokens, in one transaction.
// The UPDATE … WHERE used_at IS NULL is the compare-and-set that lets one
// exchange win: write transactions are serialized (BEGIN IMMEDIATE), so
// a second one sees the first one's mark.
func (db *DB) ExchangeCode(ctx context.Context, hash []byte, at time.Time, tokens ...*oauth.Token) error {
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		var family string
		var used, revoked sql.NullInt64
		err := tx.QueryRowContext(ctx, `SELECT c.family_id, c.used_at, f.revoked_at
			FROM oauth_codes c JOIN oauth_families f ON f.id = c.family_id WHERE c.hash = ?`, hash).Scan(&family, &used, &revoked)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("code: %w", errdefs.ErrNotFound)
		}
		if err != nil {
			return err
		}
		// The family was revoked (the grant was revoked, or the user's
		// password changed) between approval and exchange: the tokens
		// would be dead on arrival, so none are issued.
		if revoked.Valid {
			return fmt.Errorf("family %s is revoked: %w", family, errdefs.ErrConflict)
		}
		res, err := tx.ExecContext(ctx, `UPDATE oauth_codes SET used_at = ? WHERE hash = ? AND used_at IS NULL`, at.Unix(), hash)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return fmt.Errorf("code already used: %w", errdefs.ErrConflict)
		}
		return oauthInsertTokens(ctx, tx, family, tokens)
	})
	return oauthWrap("exchange code", err)
}

// DeleteExpiredCodes deletes codes expired at or before before, then
// families left empty.
func (db *DB) DeleteExpiredCodes(ctx context.Context, before time.Time) (int, error) {
	var n int
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		if n, err = oauthDeleteCount(ctx, tx, "delete expired codes",
			`DELETE FROM oauth_codes WHERE expires_at <= ?`, before.Unix()); err != nil {
			return err
		}
		return oauthSweepFamilies(ctx, tx)
	})
	return n, oauthWrap("delete expired codes", err)
}

// oauthTokenQuery reads a token with its family; RevokedAt is the token's
// own revocation or else the family's.
const oauthTokenQuery = `SELECT t.hash, t.kind, t.family_id, f.client_id, coalesce(f.user_name, ''), f.resource, t.scopes,
		t.created_at, t.expires_at, t.rotated_at, coalesce(t.revoked_at, f.revoked_at)
	FROM oauth_tokens t JOIN oauth_families f ON f.id = t.family_id WHERE t.hash = ?`

// TokenByHash returns the token, or errdefs.ErrNotFound. It runs on every
// request that carries an access token, so the statement is prepared.
func (db *DB) TokenByHash(ctx context.Context, hash []byte) (*oauth.Token, error) {
	stmt, err := db.prepared(ctx, oauthTokenQuery)
	if err != nil {
		return nil, fmt.Errorf("sqlite: get token: %w", err)
	}
	var (
		t                oauth.Token
		scopes           string
		created, expires int64
		rotated, revoked sql.NullInt64
	)
	err = stmt.QueryRowContext(ctx, hash).Scan(&t.Hash, &t.Kind, &t.FamilyID, &t.ClientID, &t.User, &t.Resource,
		&scopes, &created, &expires, &rotated, &revoked)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("token: %w", errdefs.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: get token: %w", err)
	}
	t.Scopes = oauthSplit(scopes)
	t.CreatedAt = time.Unix(created, 0).UTC()
	t.ExpiresAt = time.Unix(expires, 0).UTC()
	t.RotatedAt = timeOrNil(rotated)
	t.RevokedAt = timeOrNil(revoked)
	return &t, nil
}

// RotateRefreshToken marks a live refresh token rotated, revokes every
// other live refresh token of its family (the sibling a grace re-issue
// made), and stores its successors, in one transaction; the conditional
// UPDATE lets exactly one caller win.
func (db *DB) RotateRefreshToken(ctx context.Context, hash []byte, at time.Time, tokens ...*oauth.Token) error {
	return db.replaceRefreshToken(ctx, "rotate refresh token",
		`UPDATE oauth_tokens SET rotated_at = ? WHERE hash = ? AND rotated_at IS NULL AND revoked_at IS NULL`,
		"refresh token already rotated or revoked", hash, at, tokens, true)
}

// ReissueRefreshToken spends the one grace re-issue of a rotated refresh
// token and stores its tokens, in one transaction. The re-issue is
// recorded by revoking the rotated token; the conditional UPDATE lets
// exactly one caller win.
func (db *DB) ReissueRefreshToken(ctx context.Context, hash []byte, at time.Time, tokens ...*oauth.Token) error {
	return db.replaceRefreshToken(ctx, "re-issue refresh token",
		`UPDATE oauth_tokens SET revoked_at = ? WHERE hash = ? AND rotated_at IS NOT NULL AND revoked_at IS NULL`,
		"refresh token not rotated, already re-issued or revoked", hash, at, tokens, false)
}

// replaceRefreshToken runs update (a conditional UPDATE of the refresh
// token with this hash, taking the time and the hash) on a token whose
// family is live, and stores tokens in that family, in one transaction.
// When the update changes no row, another caller won or the token is not
// in the state update requires: ErrConflict with lost as the message.
// With siblings, every other live refresh token of the family is revoked
// too, so the family keeps one.
func (db *DB) replaceRefreshToken(ctx context.Context, op, update, lost string, hash []byte, at time.Time, tokens []*oauth.Token, siblings bool) error {
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		var family string
		err := tx.QueryRowContext(ctx, `SELECT family_id FROM oauth_tokens WHERE hash = ? AND kind = 'refresh'`, hash).Scan(&family)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("refresh token: %w", errdefs.ErrNotFound)
		}
		if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, update+`
			AND NOT EXISTS (SELECT 1 FROM oauth_families f WHERE f.id = family_id AND f.revoked_at IS NOT NULL)`,
			at.Unix(), hash)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return fmt.Errorf("%s: %w", lost, errdefs.ErrConflict)
		}
		if siblings {
			if _, err := tx.ExecContext(ctx, `UPDATE oauth_tokens SET revoked_at = ?
				WHERE family_id = ? AND kind = 'refresh' AND hash != ? AND rotated_at IS NULL AND revoked_at IS NULL`,
				at.Unix(), family, hash); err != nil {
				return err
			}
		}
		return oauthInsertTokens(ctx, tx, family, tokens)
	})
	return oauthWrap(op, err)
}

// RevokeUserTokens revokes every token family of user, keeping earlier
// revocation times.
func (db *DB) RevokeUserTokens(ctx context.Context, user string, at time.Time) error {
	_, err := db.db.ExecContext(ctx, `UPDATE oauth_families SET revoked_at = coalesce(revoked_at, ?) WHERE user_name = ?`,
		at.Unix(), user)
	if err != nil {
		return fmt.Errorf("sqlite: revoke user tokens: %w", err)
	}
	return nil
}

// AddTokens stores tokens in a family that is not revoked.
func (db *DB) AddTokens(ctx context.Context, familyID string, tokens ...*oauth.Token) error {
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		var revoked sql.NullInt64
		err := tx.QueryRowContext(ctx, `SELECT revoked_at FROM oauth_families WHERE id = ?`, familyID).Scan(&revoked)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("family %s: %w", familyID, errdefs.ErrNotFound)
		}
		if err != nil {
			return err
		}
		if revoked.Valid {
			return fmt.Errorf("family %s is revoked: %w", familyID, errdefs.ErrConflict)
		}
		return oauthInsertTokens(ctx, tx, familyID, tokens)
	})
	return oauthWrap("add tokens", err)
}

// CreateFamily creates a family, the client's own when user is "", and
// stores tokens in it.
func (db *DB) CreateFamily(ctx context.Context, familyID, clientID, user, resource string, at time.Time, tokens ...*oauth.Token) error {
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		// Write transactions are IMMEDIATE: no deletion of the client or
		// the user can come between these checks and the commit.
		var stored bool
		if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM oauth_clients WHERE id = ?)`, clientID).Scan(&stored); err != nil {
			return err
		}
		if !stored {
			return fmt.Errorf("client %s: %w", clientID, errdefs.ErrNotFound)
		}
		var owner any // NULL: the client's own
		if user != "" {
			if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM oauth_users WHERE name = ?)`, user).Scan(&stored); err != nil {
				return err
			}
			if !stored {
				return fmt.Errorf("user %s: %w", user, errdefs.ErrNotFound)
			}
			owner = user
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO oauth_families (id, client_id, user_name, resource, created_at)
			VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`, familyID, clientID, owner, resource, at.Unix())
		if err != nil {
			return err
		}
		if err := oauthInserted(res, "family id"); err != nil {
			return err
		}
		return oauthInsertTokens(ctx, tx, familyID, tokens)
	})
	return oauthWrap("create family", err)
}

// SpendAssertion records an assertion's jti as used, once.
func (db *DB) SpendAssertion(ctx context.Context, issuer, jti string, expiresAt time.Time) error {
	res, err := db.db.ExecContext(ctx, `INSERT INTO oauth_spent_assertions (issuer, jti, expires_at)
		VALUES (?, ?, ?) ON CONFLICT (issuer, jti) DO NOTHING`, issuer, jti, expiresAt.Unix())
	if err != nil {
		return fmt.Errorf("sqlite: spend assertion: %w", err)
	}
	return oauthInserted(res, "assertion")
}

// DeleteSpentAssertions forgets spent assertions expired at or before
// before.
func (db *DB) DeleteSpentAssertions(ctx context.Context, before time.Time) (int, error) {
	return oauthDeleteCount(ctx, db.db, "delete spent assertions",
		`DELETE FROM oauth_spent_assertions WHERE expires_at <= ?`, before.Unix())
}

// RevokeToken revokes one token, keeping an earlier revocation time.
func (db *DB) RevokeToken(ctx context.Context, hash []byte, at time.Time) error {
	return oauthUpdate(ctx, db.db, "revoke token", "token",
		`UPDATE oauth_tokens SET revoked_at = coalesce(revoked_at, ?) WHERE hash = ?`, at.Unix(), hash)
}

// RevokeFamily revokes a family, keeping an earlier revocation time.
func (db *DB) RevokeFamily(ctx context.Context, familyID string, at time.Time) error {
	return oauthUpdate(ctx, db.db, "revoke family", "family "+familyID,
		`UPDATE oauth_families SET revoked_at = coalesce(revoked_at, ?) WHERE id = ?`, at.Unix(), familyID)
}

// DeleteExpiredTokens deletes tokens expired at or before before, then
// families left empty.
func (db *DB) DeleteExpiredTokens(ctx context.Context, before time.Time) (int, error) {
	var n int
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		if n, err = oauthDeleteCount(ctx, tx, "delete expired tokens",
			`DELETE FROM oauth_tokens WHERE expires_at <= ?`, before.Unix()); err != nil {
			return err
		}
		return oauthSweepFamilies(ctx, tx)
	})
	return n, oauthWrap("delete expired tokens", err)
}

// oauthSweepFamilies deletes families with neither a code nor a token:
// nothing can be issued in them any more, and nothing refers to them.
func oauthSweepFamilies(ctx context.Context, tx *sql.Tx) error {
	_, err := tx.ExecContext(ctx, `DELETE FROM oauth_families WHERE
		NOT EXISTS (SELECT 1 FROM oauth_tokens t WHERE t.family_id = oauth_families.id)
		AND NOT EXISTS (SELECT 1 FROM oauth_codes c WHERE c.family_id = oauth_families.id)`)
	return err
}

// oauthInsertTokens stores tokens in family. A token naming another
// family is a caller's bug, refused rather than filed in the wrong place.
func oauthInsertTokens(ctx context.Context, tx *sql.Tx, family string, tokens []*oauth.Token) error {
	for _, t := range tokens {
		if t.FamilyID != family {
			return fmt.Errorf("token of family %q stored in family %q", t.FamilyID, family)
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO oauth_tokens
			(hash, kind, family_id, scopes, created_at, expires_at, rotated_at, revoked_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (hash) DO NOTHING`,
			t.Hash, t.Kind, family, oauthJoin(t.Scopes), t.CreatedAt.Unix(), t.ExpiresAt.Unix(),
			unixOrNull(t.RotatedAt), unixOrNull(t.RevokedAt))
		if err != nil {
			return err
		}
		if err := oauthInserted(res, "token"); err != nil {
			return err
		}
	}
	return nil
}
