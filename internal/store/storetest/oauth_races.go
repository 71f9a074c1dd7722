package storetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/2coffee/mcp-2coffee/internal/errdefs"
	"github.com/2coffee/mcp-2coffee/internal/oauth"
)

// The races of RunOAuth whose outcome decides a security property: two
// successors of one refresh token rotated at once, a revocation or a
// client's deletion while tokens are being issued. A backend that
// serializes its writes (SQLite) passes them by construction; one that
// runs transactions side by side (PostgreSQL) passes only if each of
// these methods is atomic.

// oauthRacer names the token racer i tries to store.
func oauthRacer(i int) string { return fmt.Sprint("racer ", i) }

// oauthOnlyWinnerStored checks that of the tokens the 16 racers of
// oauthRace tried to store (oauthRacer(i)), only the winner's is there:
// a loser stores nothing.
func oauthOnlyWinnerStored(t *testing.T, s oauth.Store, winner int) {
	t.Helper()
	if winner < 0 {
		return
	}
	for i := range 16 {
		_, err := s.TokenByHash(context.Background(), oauthHash("token "+oauthRacer(i)))
		switch {
		case i == winner && err != nil:
			t.Errorf("the winner's token: %v", err)
		case i != winner && !errors.Is(err, errdefs.ErrNotFound):
			t.Errorf("racer %d lost, but its token is there (error %v)", i, err)
		}
	}
}

// oauthRotateSiblingsConcurrent: after a grace re-issue a family holds
// two successors of one refresh token. Rotating both at once, from many
// requests, must leave exactly one winner and one live refresh token, the
// winner's new one: each rotation revokes the other successor, so two
// that both succeeded would leave two live chains, one maybe a thief's.
// A store whose rotations each mark their own token before taking
// anything the other needs deadlocks here, and the database fails one
// with an error instead of a conflict.
func oauthRotateSiblingsConcurrent(t *testing.T, s oauth.Store) {
	// The window in which the two rotations can meet is short, so the
	// race is run in several families, one after the other.
	for round := range 8 {
		oauthRotateSiblingsRound(t, s, fmt.Sprint("fam ", round))
	}
}

// oauthRotateSiblingsRound is one round of oauthRotateSiblingsConcurrent,
// in a new family fam.
func oauthRotateSiblingsRound(t *testing.T, s oauth.Store, fam string) {
	ctx := context.Background()
	_, refresh := oauthFamily(t, s, fam, "ann", "cl")
	at := oauthT0.Add(time.Hour)
	first := oauthNewToken(fam+" first", oauth.KindRefresh, fam)
	oauthMust(t, "RotateRefreshToken", s.RotateRefreshToken(ctx, refresh.Hash, at, first))
	second := oauthNewToken(fam+" second", oauth.KindRefresh, fam)
	oauthMust(t, "ReissueRefreshToken", s.ReissueRefreshToken(ctx, refresh.Hash, at, second))
	successors := []*oauth.Token{first, second}
	racer := func(i int) string { return fmt.Sprintf("%s racer %d", fam, i) }
	w := oauthRace(t, "rotations of two siblings", func(i int) error {
		return s.RotateRefreshToken(ctx, successors[i%2].Hash, at.Add(time.Second), oauthNewToken(racer(i), oauth.KindRefresh, fam))
	})
	if w < 0 {
		return
	}
	for i := range 16 {
		_, err := s.TokenByHash(ctx, oauthHash("token "+racer(i)))
		switch {
		case i == w && err != nil:
			t.Errorf("%s: the winner's token: %v", fam, err)
		case i != w && !errors.Is(err, errdefs.ErrNotFound):
			t.Errorf("%s: racer %d lost, but its token is there (error %v)", fam, i, err)
		}
	}
	used, other := successors[w%2], successors[1-w%2]
	if got := oauthGetToken(t, s, used.Hash); got.RotatedAt == nil || got.RevokedAt != nil {
		t.Errorf("%s: the winner's successor: RotatedAt %v RevokedAt %v; want rotated, not revoked", fam, got.RotatedAt, got.RevokedAt)
	}
	if got := oauthGetToken(t, s, other.Hash); got.RevokedAt == nil || got.RotatedAt != nil {
		t.Errorf("%s: the other successor: RotatedAt %v RevokedAt %v; want revoked, not rotated", fam, got.RotatedAt, got.RevokedAt)
	}
	if got := oauthGetToken(t, s, oauthHash("token "+racer(w))); got.RevokedAt != nil || got.RotatedAt != nil {
		t.Errorf("%s: the winner's new refresh token: RotatedAt %v RevokedAt %v; want live", fam, got.RotatedAt, got.RevokedAt)
	}
}

// oauthIssuer is one issuance in a race: what it is, the family it
// stores in, the names of the tokens it stores, and the call.
type oauthIssuer struct {
	what  string
	fam   string
	names []string
	op    func(tokens ...*oauth.Token) error
}

// tokens makes the tokens of r: an access token, and a refresh token
// when it stores two.
func (r oauthIssuer) tokens() []*oauth.Token {
	var ts []*oauth.Token
	for j, name := range r.names {
		kind := oauth.KindAccess
		if j == 1 {
			kind = oauth.KindRefresh
		}
		ts = append(ts, oauthNewToken(name, kind, r.fam))
	}
	return ts
}

// oauthIssuers returns, for a family pending (whose code is not
// exchanged yet) and a family live (with refresh token refresh), four
// exchanges of the code, four rotations of the refresh token and four
// additions of tokens to each family. tag keeps the names unique.
func oauthIssuers(s oauth.Store, tag string, pending *oauth.Code, live string, refresh *oauth.Token) []oauthIssuer {
	ctx := context.Background()
	at := oauthT0.Add(time.Hour)
	var rs []oauthIssuer
	for i := range 4 {
		n := func(what string) string { return fmt.Sprintf("%s %s %d", tag, what, i) }
		rs = append(rs,
			oauthIssuer{"ExchangeCode", pending.FamilyID, []string{n("exchanged access"), n("exchanged refresh")},
				func(ts ...*oauth.Token) error { return s.ExchangeCode(ctx, pending.Hash, at, ts...) }},
			oauthIssuer{"AddTokens(pending)", pending.FamilyID, []string{n("added to pending")},
				func(ts ...*oauth.Token) error { return s.AddTokens(ctx, pending.FamilyID, ts...) }},
			oauthIssuer{"RotateRefreshToken", live, []string{n("rotated access"), n("rotated refresh")},
				func(ts ...*oauth.Token) error { return s.RotateRefreshToken(ctx, refresh.Hash, at, ts...) }},
			oauthIssuer{"AddTokens(live)", live, []string{n("added to live")},
				func(ts ...*oauth.Token) error { return s.AddTokens(ctx, live, ts...) }},
		)
	}
	return rs
}

// oauthRevokeRacesIssuance: a revocation (of a family, of a grant, of
// every token of a user) runs while requests exchange a code, rotate a
// refresh token and add tokens in the families it revokes. Whatever the
// interleaving no token survives it: every token stored is reported
// revoked, an issuance that starts after the revocation returned is
// refused with ErrConflict, a refused one stores nothing, and a code
// whose every exchange was refused stays unused.
func oauthRevokeRacesIssuance(t *testing.T, s oauth.Store) {
	ctx := context.Background()
	for _, revoker := range []string{"RevokeFamily", "RevokeGrant", "RevokeUserTokens"} {
		user, client := "u-"+strings.ToLower(revoker), "c-"+revoker
		pending := oauthNewCode(revoker+" pending", user, client)
		live := revoker + " live"
		_, refresh := oauthFamily(t, s, live, user, client)
		oauthMust(t, "CreateCode", s.CreateCode(ctx, pending))
		oauthMust(t, "SaveGrant", s.SaveGrant(ctx, &oauth.Grant{User: user, ClientID: client, Scopes: []string{"articles:read"}, CreatedAt: oauthT0, UpdatedAt: oauthT0}))

		at := oauthT0.Add(time.Hour)
		// revoked[fam] is set once a revocation of fam has returned.
		revoked := map[string]*atomic.Bool{pending.FamilyID: new(atomic.Bool), live: new(atomic.Bool)}
		var revokers []func() error
		switch revoker {
		case "RevokeFamily":
			for fam, done := range revoked {
				revokers = append(revokers, func() error {
					err := s.RevokeFamily(ctx, fam, at)
					done.Store(err == nil)
					return err
				})
			}
		case "RevokeGrant":
			revokers = append(revokers, func() error {
				err := s.RevokeGrant(ctx, user, client, at)
				for _, done := range revoked {
					done.Store(err == nil)
				}
				return err
			})
		case "RevokeUserTokens":
			revokers = append(revokers, func() error {
				err := s.RevokeUserTokens(ctx, user, at)
				for _, done := range revoked {
					done.Store(err == nil)
				}
				return err
			})
		}
		issuers := oauthIssuers(s, revoker, pending, live, refresh)
		after := make([]bool, len(issuers))
		errs := atOnce(len(revokers)+len(issuers), func(i int) error {
			if i < len(revokers) {
				return revokers[i]()
			}
			r := issuers[i-len(revokers)]
			after[i-len(revokers)] = revoked[r.fam].Load()
			return r.op(r.tokens()...)
		})
		for i, err := range errs[:len(revokers)] {
			oauthMust(t, fmt.Sprintf("%s (%d)", revoker, i), err)
		}
		exchanged := false
		for i, err := range errs[len(revokers):] {
			r := issuers[i]
			switch {
			case err == nil && after[i]:
				t.Errorf("%s: %s started after the revocation returned, and succeeded", revoker, r.what)
			case err == nil:
				exchanged = exchanged || r.what == "ExchangeCode"
			case !errors.Is(err, errdefs.ErrConflict):
				t.Errorf("%s: %s: got error %v, want nil or ErrConflict", revoker, r.what, err)
			}
			for _, name := range r.names {
				tok, terr := s.TokenByHash(ctx, oauthHash("token "+name))
				switch {
				case err == nil && terr != nil:
					t.Errorf("%s: token %q of a successful %s: %v", revoker, name, r.what, terr)
				case err == nil && tok.RevokedAt == nil:
					t.Errorf("%s: token %q of %s survived the revocation", revoker, name, r.what)
				case err != nil && !errors.Is(terr, errdefs.ErrNotFound):
					t.Errorf("%s: token %q of a refused %s is there (error %v)", revoker, name, r.what, terr)
				}
			}
		}
		c, err := s.CodeByHash(ctx, pending.Hash)
		oauthMust(t, "CodeByHash", err)
		if !exchanged && c.UsedAt != nil {
			t.Errorf("%s: every exchange was refused, yet the code is marked used at %v", revoker, c.UsedAt)
		}
		if got := oauthGetToken(t, s, refresh.Hash); got.RevokedAt == nil {
			t.Errorf("%s: the live family's first refresh token survived", revoker)
		}
	}
}

// oauthDeleteClientRacesIssuance: deleting a client while requests
// exchange its code, rotate its refresh token and add tokens to its
// families leaves none of its tokens behind, and the racing requests
// fail only with the store's errors: ErrNotFound once the rows are gone
// (always, for one that starts after the deletion returned), ErrConflict
// when another racer won; never a database error such as a foreign key
// violation.
func oauthDeleteClientRacesIssuance(t *testing.T, s oauth.Store) {
	ctx := context.Background()
	oauthMust(t, "CreateClient", s.CreateClient(ctx, oauthNewClient("kept", oauthT0)))
	keptAccess, _ := oauthFamily(t, s, "kept live", "ann", "kept")
	// The window in which a deletion and an issuance meet is short, so
	// the race is run for several clients, one after the other.
	for round := range 4 {
		oauthDeleteClientRound(t, s, fmt.Sprint("gone-", round))
	}
	if got := oauthGetToken(t, s, keptAccess.Hash); got.RevokedAt != nil {
		t.Errorf("another client's token was revoked")
	}
}

// oauthDeleteClientRound is one round of oauthDeleteClientRacesIssuance,
// deleting a new client gone.
func oauthDeleteClientRound(t *testing.T, s oauth.Store, gone string) {
	ctx := context.Background()
	oauthMust(t, "CreateClient", s.CreateClient(ctx, oauthNewClient(gone, oauthT0)))
	live := gone + " live"
	access, refresh := oauthFamily(t, s, live, "ann", gone)
	pending := oauthNewCode(gone+" pending", "ann", gone)
	oauthMust(t, "CreateCode", s.CreateCode(ctx, pending))

	var deleted atomic.Bool
	issuers := oauthIssuers(s, gone, pending, live, refresh)
	after := make([]bool, len(issuers))
	errs := atOnce(1+len(issuers), func(i int) error {
		if i == 0 {
			err := s.DeleteClient(ctx, gone)
			deleted.Store(err == nil)
			return err
		}
		after[i-1] = deleted.Load()
		return issuers[i-1].op(issuers[i-1].tokens()...)
	})
	oauthMust(t, "DeleteClient", errs[0])
	for i, err := range errs[1:] {
		r := issuers[i]
		switch {
		case after[i] && !errors.Is(err, errdefs.ErrNotFound):
			t.Errorf("%s: %s started after DeleteClient returned: got error %v, want ErrNotFound", gone, r.what, err)
		case err != nil && !errors.Is(err, errdefs.ErrNotFound) && !errors.Is(err, errdefs.ErrConflict):
			t.Errorf("%s: %s: got error %v, want nil, ErrConflict or ErrNotFound", gone, r.what, err)
		}
		for _, name := range r.names {
			_, err := s.TokenByHash(ctx, oauthHash("token "+name))
			oauthWantErr(t, fmt.Sprintf("token %q of %s, after DeleteClient", name, r.what), err, errdefs.ErrNotFound)
		}
	}
	for _, h := range [][]byte{access.Hash, refresh.Hash} {
		_, err := s.TokenByHash(ctx, h)
		oauthWantErr(t, gone+": a token of the deleted client", err, errdefs.ErrNotFound)
	}
	_, err := s.CodeByHash(ctx, pending.Hash)
	oauthWantErr(t, gone+": the deleted client's code", err, errdefs.ErrNotFound)
}
