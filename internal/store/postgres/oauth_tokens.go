package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/2coffee/mcp-2coffee/internal/errdefs"
	"github.com/2coffee/mcp-2coffee/internal/oauth"
)

// CreateCode stores the code and creates its family in one transaction,
// so no other transaction ever sees the family without its code (which
// the sweep of empty families would take for a dead one).
func (db *DB) CreateCode(ctx context.Context, c *oauth.Code) error {
	err := db.oauthTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO oauth_families (id, client_id, user_name, resource, created_at)
			VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING`,
			c.FamilyID, c.ClientID, c.User, c.Resource, stamp(c.CreatedAt))
		if err != nil {
			return err
		}
		if err := oauthInserted(tag.RowsAffected(), "family id"); err != nil {
			return err
		}
		tag, err = tx.Exec(ctx, `INSERT INTO oauth_codes
			(hash, family_id, redirect_uri, scopes, challenge, created_at, expires_at, used_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (hash) DO NOTHING`,
			c.Hash, c.FamilyID, c.RedirectURI, oauthJoin(c.Scopes), c.Challenge,
			stamp(c.CreatedAt), stamp(c.ExpiresAt), stampOrNil(c.UsedAt))
		if err != nil {
			return err
		}
		return oauthInserted(tag.RowsAffected(), "code")
	})
	return oauthWrap("create code", err)
}

// CodeByHash returns the code with its family's client, user and
// resource, or errdefs.ErrNotFound.
func (db *DB) CodeByHash(ctx context.Context, hash []byte) (*oauth.Code, error) {
	var (
		c      oauth.Code
		scopes string
		used   *time.Time
	)
	err := db.pool.QueryRow(ctx, `SELECT c.hash, c.family_id, f.client_id, f.user_name, c.redirect_uri,
			c.scopes, f.resource, c.challenge, c.created_at, c.expires_at, c.used_at
		FROM oauth_codes c JOIN oauth_families f ON f.id = c.family_id WHERE c.hash = $1`, hash).
		Scan(&c.Hash, &c.FamilyID, &c.ClientID, &c.User, &c.RedirectURI, &scopes, &c.Resource, &c.Challenge,
			&c.CreatedAt, &c.ExpiresAt, &used)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("code: %w", errdefs.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: get code: %w", err)
	}
	c.Scopes = oauthSplit(scopes)
	c.CreatedAt = c.CreatedAt.UTC()
	c.ExpiresAt = c.ExpiresAt.UTC()
	c.UsedAt = utcOrNil(used)
	return &c, nil
}

// ExchangeCode marks the code used and stores tokens, in one transaction
// holding the lock on the code's family. The lock orders the exchange
// with a revocation of the family (which updates its row) and with every
// other exchange of the code: the second exchange to take it finds the
// code used, and refuses.
func (db *DB) ExchangeCode(ctx context.Context, hash []byte, at time.Time, tokens ...*oauth.Token) error {
	err := db.oauthTx(ctx, func(tx pgx.Tx) error {
		var family string
		var revoked bool
		// Only the family is locked here: locking the code too in one
		// statement would take the code first, against the order of
		// every transaction that deletes a family with its code.
		err := tx.QueryRow(ctx, `SELECT f.id, f.revoked_at IS NOT NULL
			FROM oauth_codes c JOIN oauth_families f ON f.id = c.family_id WHERE c.hash = $1
			FOR NO KEY UPDATE OF f`, hash).Scan(&family, &revoked)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("code: %w", errdefs.ErrNotFound)
		}
		if err != nil {
			return err
		}
		// The family was revoked (the grant was revoked, or the user's
		// password changed) between approval and exchange: the tokens
		// would be dead on arrival, so none are issued. The row was read
		// after the lock was granted, so a revocation that committed
		// while this waited shows.
		if revoked {
			return fmt.Errorf("family %s is revoked: %w", family, errdefs.ErrConflict)
		}
		// A new statement, a new snapshot: it sees the mark of an
		// exchange that held the lock before this one.
		tag, err := tx.Exec(ctx, `UPDATE oauth_codes SET used_at = $1 WHERE hash = $2 AND used_at IS NULL`, stamp(at), hash)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return oauthLost(ctx, tx, `SELECT EXISTS (SELECT 1 FROM oauth_codes WHERE hash = $1)`, hash,
				"code", "code already used")
		}
		return oauthInsertTokens(ctx, tx, family, tokens)
	})
	return oauthWrap("exchange code", err)
}

// DeleteExpiredCodes deletes codes expired at or before before, then
// families left empty. A code an exchange holds is left for the next
// sweep.
func (db *DB) DeleteExpiredCodes(ctx context.Context, before time.Time) (int, error) {
	var n int
	err := db.oauthTx(ctx, func(tx pgx.Tx) error {
		var err error
		if n, err = oauthDeleteCount(ctx, tx, "delete expired codes", `DELETE FROM oauth_codes WHERE hash IN (
			SELECT hash FROM oauth_codes WHERE expires_at <= $1 FOR UPDATE SKIP LOCKED)`, stamp(before)); err != nil {
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
	FROM oauth_tokens t JOIN oauth_families f ON f.id = t.family_id WHERE t.hash = $1`

// TokenByHash returns the token, or errdefs.ErrNotFound. It runs on every
// request that carries an access token; pgx prepares it once per
// connection. It reads the family's revocation every time: that is what
// makes a revocation through one replica hold on all of them at once.
func (db *DB) TokenByHash(ctx context.Context, hash []byte) (*oauth.Token, error) {
	var (
		t                oauth.Token
		scopes           string
		rotated, revoked *time.Time
	)
	err := db.pool.QueryRow(ctx, oauthTokenQuery, hash).Scan(&t.Hash, &t.Kind, &t.FamilyID, &t.ClientID, &t.User,
		&t.Resource, &scopes, &t.CreatedAt, &t.ExpiresAt, &rotated, &revoked)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("token: %w", errdefs.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: get token: %w", err)
	}
	t.Scopes = oauthSplit(scopes)
	t.CreatedAt = t.CreatedAt.UTC()
	t.ExpiresAt = t.ExpiresAt.UTC()
	t.RotatedAt = utcOrNil(rotated)
	t.RevokedAt = utcOrNil(revoked)
	return &t, nil
}

// RotateRefreshToken marks a live refresh token rotated, revokes every
// other live refresh token of its family (the sibling a grace re-issue
// made), and stores its successors, in one transaction holding the
// family's lock.
func (db *DB) RotateRefreshToken(ctx context.Context, hash []byte, at time.Time, tokens ...*oauth.Token) error {
	return db.replaceRefreshToken(ctx, "rotate refresh token",
		`UPDATE oauth_tokens SET rotated_at = $1 WHERE hash = $2 AND rotated_at IS NULL AND revoked_at IS NULL`,
		"refresh token already rotated or revoked", hash, at, tokens, true)
}

// ReissueRefreshToken spends the one grace re-issue of a rotated refresh
// token and stores its tokens, in one transaction holding the family's
// lock. The re-issue is recorded by revoking the rotated token.
func (db *DB) ReissueRefreshToken(ctx context.Context, hash []byte, at time.Time, tokens ...*oauth.Token) error {
	return db.replaceRefreshToken(ctx, "re-issue refresh token",
		`UPDATE oauth_tokens SET revoked_at = $1 WHERE hash = $2 AND rotated_at IS NOT NULL AND revoked_at IS NULL`,
		"refresh token not rotated, already re-issued or revoked", hash, at, tokens, false)
}

// replaceRefreshToken runs update (a conditional UPDATE of the refresh
// token with this hash, taking the time and the hash) on a token whose
// family is live, and stores tokens in that family, in one transaction.
// When the update changes no row, another caller won or the token is not
// in the state update requires: ErrConflict with lost as the message.
// With siblings, every other live refresh token of the family is revoked
// too, so the family keeps one.
//
// The family's lock comes first. Without it, rotations of the two
// successors of a grace re-issue would each mark their own token, then
// wait for the other's to revoke it: a deadlock, which PostgreSQL breaks
// by failing one of them with an error instead of a conflict. With it,
// the second waits, then finds its token revoked by the first.
func (db *DB) replaceRefreshToken(ctx context.Context, op, update, lost string, hash []byte, at time.Time, tokens []*oauth.Token, siblings bool) error {
	err := db.oauthTx(ctx, func(tx pgx.Tx) error {
		var family string
		var revoked bool
		err := tx.QueryRow(ctx, `SELECT f.id, f.revoked_at IS NOT NULL
			FROM oauth_tokens t JOIN oauth_families f ON f.id = t.family_id WHERE t.hash = $1 AND t.kind = 'refresh'
			FOR NO KEY UPDATE OF f`, hash).Scan(&family, &revoked)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("refresh token: %w", errdefs.ErrNotFound)
		}
		if err != nil {
			return err
		}
		if revoked {
			return fmt.Errorf("%s: family %s is revoked: %w", lost, family, errdefs.ErrConflict)
		}
		// Read after the lock was granted: the UPDATE sees what the
		// previous holder committed.
		tag, err := tx.Exec(ctx, update, stamp(at), hash)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return oauthLost(ctx, tx, `SELECT EXISTS (SELECT 1 FROM oauth_tokens WHERE hash = $1)`, hash,
				"refresh token", lost)
		}
		if siblings {
			if _, err := tx.Exec(ctx, `UPDATE oauth_tokens SET revoked_at = $1
				WHERE family_id = $2 AND kind = 'refresh' AND hash <> $3 AND rotated_at IS NULL AND revoked_at IS NULL`,
				stamp(at), family, hash); err != nil {
				return err
			}
		}
		return oauthInsertTokens(ctx, tx, family, tokens)
	})
	return oauthWrap(op, err)
}

// oauthLost tells apart the two reasons a conditional UPDATE of a code
// or token matched nothing after its family was locked: the row is gone
// (the sweeper deleted it meanwhile: errdefs.ErrNotFound, as if the
// sweep had come first) or it is no longer in the state the update
// requires (errdefs.ErrConflict with lost as the message). exists is a
// query of whether the row with this hash is there.
func oauthLost(ctx context.Context, tx pgx.Tx, exists string, hash []byte, object, lost string) error {
	var there bool
	if err := tx.QueryRow(ctx, exists, hash).Scan(&there); err != nil {
		return err
	}
	if !there {
		return fmt.Errorf("%s: %w", object, errdefs.ErrNotFound)
	}
	return fmt.Errorf("%s: %w", lost, errdefs.ErrConflict)
}

// RevokeUserTokens revokes every token family of user, keeping earlier
// revocation times. The families are locked in order of id, so this does
// not deadlock with another transaction revoking or deleting several of
// them.
func (db *DB) RevokeUserTokens(ctx context.Context, user string, at time.Time) error {
	_, err := db.pool.Exec(ctx, `UPDATE oauth_families SET revoked_at = coalesce(revoked_at, $1) WHERE id IN (
		SELECT id FROM oauth_families WHERE user_name = $2 ORDER BY id FOR NO KEY UPDATE)`, stamp(at), user)
	if err != nil {
		return fmt.Errorf("postgres: revoke user tokens: %w", err)
	}
	return nil
}

// AddTokens stores tokens in a family that is not revoked, holding the
// family's lock so that a revocation cannot commit between the check and
// the insert.
func (db *DB) AddTokens(ctx context.Context, familyID string, tokens ...*oauth.Token) error {
	err := db.oauthTx(ctx, func(tx pgx.Tx) error {
		var revoked bool
		err := tx.QueryRow(ctx, `SELECT revoked_at IS NOT NULL FROM oauth_families WHERE id = $1 FOR NO KEY UPDATE`,
			familyID).Scan(&revoked)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("family %s: %w", familyID, errdefs.ErrNotFound)
		}
		if err != nil {
			return err
		}
		if revoked {
			return fmt.Errorf("family %s is revoked: %w", familyID, errdefs.ErrConflict)
		}
		return oauthInsertTokens(ctx, tx, familyID, tokens)
	})
	return oauthWrap("add tokens", err)
}

// CreateFamily creates a family, the client's own when user is "", and
// stores tokens in it.
func (db *DB) CreateFamily(ctx context.Context, familyID, clientID, user, resource string, at time.Time, tokens ...*oauth.Token) error {
	err := db.oauthTx(ctx, func(tx pgx.Tx) error {
		// The locks keep the client and the user from being deleted until
		// this commits; a deletion that came first leaves no row to lock.
		var one int
		err := tx.QueryRow(ctx, `SELECT 1 FROM oauth_clients WHERE id = $1 FOR KEY SHARE`, clientID).Scan(&one)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("client %s: %w", clientID, errdefs.ErrNotFound)
		}
		if err != nil {
			return err
		}
		var owner *string // NULL: the client's own
		if user != "" {
			err := tx.QueryRow(ctx, `SELECT 1 FROM oauth_users WHERE name = $1 FOR KEY SHARE`, user).Scan(&one)
			if errors.Is(err, pgx.ErrNoRows) {
				return fmt.Errorf("user %s: %w", user, errdefs.ErrNotFound)
			}
			if err != nil {
				return err
			}
			owner = &user
		}
		tag, err := tx.Exec(ctx, `INSERT INTO oauth_families (id, client_id, user_name, resource, created_at)
			VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING`, familyID, clientID, owner, resource, stamp(at))
		if err != nil {
			return err
		}
		if err := oauthInserted(tag.RowsAffected(), "family id"); err != nil {
			return err
		}
		return oauthInsertTokens(ctx, tx, familyID, tokens)
	})
	return oauthWrap("create family", err)
}

// SpendAssertion records an assertion's jti as used, once.
func (db *DB) SpendAssertion(ctx context.Context, issuer, jti string, expiresAt time.Time) error {
	tag, err := db.pool.Exec(ctx, `INSERT INTO oauth_spent_assertions (issuer, jti, expires_at)
		VALUES ($1, $2, $3) ON CONFLICT (issuer, jti) DO NOTHING`, issuer, jti, stamp(expiresAt))
	if err != nil {
		return fmt.Errorf("postgres: spend assertion: %w", err)
	}
	return oauthInserted(tag.RowsAffected(), "assertion")
}

// DeleteSpentAssertions forgets spent assertions expired at or before
// before.
func (db *DB) DeleteSpentAssertions(ctx context.Context, before time.Time) (int, error) {
	return oauthDeleteCount(ctx, db.pool, "delete spent assertions", `DELETE FROM oauth_spent_assertions WHERE (issuer, jti) IN (
		SELECT issuer, jti FROM oauth_spent_assertions WHERE expires_at <= $1 FOR UPDATE SKIP LOCKED)`, stamp(before))
}

// RevokeToken revokes one token, keeping an earlier revocation time.
func (db *DB) RevokeToken(ctx context.Context, hash []byte, at time.Time) error {
	return oauthUpdate(ctx, db.pool, "revoke token", "token",
		`UPDATE oauth_tokens SET revoked_at = coalesce(revoked_at, $1) WHERE hash = $2`, stamp(at), hash)
}

// RevokeFamily revokes a family, keeping an earlier revocation time. The
// UPDATE waits for an issuance holding the family's lock, whose tokens it
// then revokes with the family; issuances after it find the family
// revoked.
func (db *DB) RevokeFamily(ctx context.Context, familyID string, at time.Time) error {
	return oauthUpdate(ctx, db.pool, "revoke family", "family "+familyID,
		`UPDATE oauth_families SET revoked_at = coalesce(revoked_at, $1) WHERE id = $2`, stamp(at), familyID)
}

// DeleteExpiredTokens deletes tokens expired at or before before, then
// families left empty. A token a rotation holds is left for the next
// sweep.
func (db *DB) DeleteExpiredTokens(ctx context.Context, before time.Time) (int, error) {
	var n int
	err := db.oauthTx(ctx, func(tx pgx.Tx) error {
		var err error
		if n, err = oauthDeleteCount(ctx, tx, "delete expired tokens", `DELETE FROM oauth_tokens WHERE hash IN (
			SELECT hash FROM oauth_tokens WHERE expires_at <= $1 FOR UPDATE SKIP LOCKED)`, stamp(before)); err != nil {
			return err
		}
		return oauthSweepFamilies(ctx, tx)
	})
	return n, oauthWrap("delete expired tokens", err)
}

// oauthSweepFamilies deletes families with neither a code nor a token:
// nothing can be issued in them any more, and nothing refers to them.
// The empty families are locked first, skipping those another
// transaction holds, and then deleted by a second statement that checks
// again with a snapshot taken after the locks: a token committed into a
// family before this locked it is seen, and one issued after must wait
// for the family's lock, then finds no family.
func oauthSweepFamilies(ctx context.Context, tx pgx.Tx) error {
	const empty = `NOT EXISTS (SELECT 1 FROM oauth_tokens t WHERE t.family_id = f.id)
		AND NOT EXISTS (SELECT 1 FROM oauth_codes c WHERE c.family_id = f.id)`
	rows, err := tx.Query(ctx, `SELECT id FROM oauth_families f WHERE `+empty+` ORDER BY id FOR UPDATE SKIP LOCKED`)
	if err != nil {
		return err
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || len(ids) == 0 {
		return err
	}
	_, err = tx.Exec(ctx, `DELETE FROM oauth_families f WHERE f.id = ANY($1) AND `+empty, ids)
	return err
}

// oauthInsertTokens stores tokens in family. A token naming another
// family is a caller's bug, refused rather than filed in the wrong place.
func oauthInsertTokens(ctx context.Context, tx pgx.Tx, family string, tokens []*oauth.Token) error {
	for _, t := range tokens {
		if t.FamilyID != family {
			return fmt.Errorf("token of family %q stored in family %q", t.FamilyID, family)
		}
		tag, err := tx.Exec(ctx, `INSERT INTO oauth_tokens
			(hash, kind, family_id, scopes, created_at, expires_at, rotated_at, revoked_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (hash) DO NOTHING`,
			t.Hash, t.Kind, family, oauthJoin(t.Scopes), stamp(t.CreatedAt), stamp(t.ExpiresAt),
			stampOrNil(t.RotatedAt), stampOrNil(t.RevokedAt))
		if err != nil {
			return err
		}
		if err := oauthInserted(tag.RowsAffected(), "token"); err != nil {
			return err
		}
	}
	return nil
}
