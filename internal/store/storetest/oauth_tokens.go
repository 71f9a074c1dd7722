package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/2coffee/mcp-2coffee/internal/errdefs"
	"github.com/2coffee/mcp-2coffee/internal/oauth"
)

// The code and token half of RunOAuth: exchanges, rotations and
// revocations, whose races are the point of the atomic store methods.

func oauthCodeRoundTrip(t *testing.T, s oauth.Store) {
	ctx := context.Background()
	oauthMust(t, "CreateUser", s.CreateUser(ctx, oauthNewUser("ann")))
	c := oauthNewCode("fam", "ann", "https://app.example/client.json")
	oauthMust(t, "CreateCode", s.CreateCode(ctx, c))
	got, err := s.CodeByHash(ctx, c.Hash)
	oauthMust(t, "CodeByHash", err)
	if diff := cmp.Diff(c, got); diff != "" {
		t.Errorf("CodeByHash (-want +got):\n%s", diff)
	}
	oauthWantErr(t, "CreateCode with a taken family", s.CreateCode(ctx, c), errdefs.ErrConflict)
	again := oauthNewCode("fam2", "ann", "x")
	again.Hash = c.Hash
	oauthWantErr(t, "CreateCode with a taken hash", s.CreateCode(ctx, again), errdefs.ErrConflict)
	_, err = s.CodeByHash(ctx, oauthHash("nope"))
	oauthWantErr(t, "CodeByHash(unknown)", err, errdefs.ErrNotFound)
	if err := s.CreateCode(ctx, oauthNewCode("fam3", "nobody", "x")); err == nil {
		t.Errorf("CreateCode for a user that does not exist succeeded")
	}
}

func oauthCodeExchangeOnce(t *testing.T, s oauth.Store) {
	ctx := context.Background()
	oauthMust(t, "CreateUser", s.CreateUser(ctx, oauthNewUser("ann")))
	c := oauthNewCode("fam", "ann", "cl")
	oauthMust(t, "CreateCode", s.CreateCode(ctx, c))
	used := oauthT0.Add(10 * time.Second)
	access := oauthNewToken("a", oauth.KindAccess, "fam")
	oauthMust(t, "ExchangeCode", s.ExchangeCode(ctx, c.Hash, used, access))
	got, err := s.CodeByHash(ctx, c.Hash)
	oauthMust(t, "CodeByHash", err)
	if got.UsedAt == nil || !got.UsedAt.Equal(used) {
		t.Errorf("UsedAt after ExchangeCode: %v, want %v", got.UsedAt, used)
	}
	want := *access
	want.ClientID, want.User, want.Resource = "cl", "ann", c.Resource
	if diff := cmp.Diff(&want, oauthGetToken(t, s, access.Hash)); diff != "" {
		t.Errorf("token stored by ExchangeCode (-want +got):\n%s", diff)
	}
	second := oauthNewToken("b", oauth.KindAccess, "fam")
	oauthWantErr(t, "second ExchangeCode", s.ExchangeCode(ctx, c.Hash, used.Add(time.Second), second), errdefs.ErrConflict)
	_, err = s.TokenByHash(ctx, second.Hash)
	oauthWantErr(t, "token of a refused exchange", err, errdefs.ErrNotFound)
	oauthWantErr(t, "ExchangeCode(unknown)", s.ExchangeCode(ctx, oauthHash("nope"), used), errdefs.ErrNotFound)
}

func oauthCodeExchangeConcurrent(t *testing.T, s oauth.Store) {
	ctx := context.Background()
	oauthMust(t, "CreateUser", s.CreateUser(ctx, oauthNewUser("ann")))
	c := oauthNewCode("fam", "ann", "cl")
	oauthMust(t, "CreateCode", s.CreateCode(ctx, c))
	w := oauthRace(t, "exchanges", func(i int) error {
		tok := oauthNewToken(oauthRacer(i), oauth.KindAccess, "fam")
		return s.ExchangeCode(ctx, c.Hash, oauthT0.Add(time.Second), tok)
	})
	oauthOnlyWinnerStored(t, s, w)
}

// oauthCodeExchangeRevokedFamily: a code whose family was revoked
// between approval and exchange (the user revoked the grant) exchanges
// for nothing.
func oauthCodeExchangeRevokedFamily(t *testing.T, s oauth.Store) {
	ctx := context.Background()
	oauthMust(t, "CreateUser", s.CreateUser(ctx, oauthNewUser("ann")))
	c := oauthNewCode("fam", "ann", "cl")
	oauthMust(t, "CreateCode", s.CreateCode(ctx, c))
	oauthMust(t, "RevokeGrant", s.RevokeGrant(ctx, "ann", "cl", oauthT0.Add(time.Second)))
	access := oauthNewToken("a", oauth.KindAccess, "fam")
	oauthWantErr(t, "ExchangeCode of a revoked family", s.ExchangeCode(ctx, c.Hash, oauthT0.Add(2*time.Second), access), errdefs.ErrConflict)
	_, err := s.TokenByHash(ctx, access.Hash)
	oauthWantErr(t, "token of a refused exchange", err, errdefs.ErrNotFound)
	got, err := s.CodeByHash(ctx, c.Hash)
	oauthMust(t, "CodeByHash", err)
	if got.UsedAt != nil {
		t.Errorf("a refused exchange marked the code used at %v", got.UsedAt)
	}
}

func oauthDeleteExpiredCodes(t *testing.T, s oauth.Store) {
	ctx := context.Background()
	oauthMust(t, "CreateUser", s.CreateUser(ctx, oauthNewUser("ann")))
	old := oauthNewCode("old", "ann", "cl")
	oauthMust(t, "CreateCode", s.CreateCode(ctx, old))
	fresh := oauthNewCode("fresh", "ann", "cl")
	fresh.ExpiresAt = oauthT0.Add(time.Hour)
	oauthMust(t, "CreateCode", s.CreateCode(ctx, fresh))
	access, _ := oauthFamily(t, s, "used", "ann", "cl") // its code expires with old's

	n, err := s.DeleteExpiredCodes(ctx, oauthT0.Add(2*time.Minute))
	oauthMust(t, "DeleteExpiredCodes", err)
	if n != 2 {
		t.Errorf("DeleteExpiredCodes deleted %d codes, want 2", n)
	}
	_, err = s.CodeByHash(ctx, old.Hash)
	oauthWantErr(t, "CodeByHash(old)", err, errdefs.ErrNotFound)
	if _, err := s.CodeByHash(ctx, fresh.Hash); err != nil {
		t.Errorf("CodeByHash(fresh): %v", err)
	}
	// The family of the unused old code is gone; the family with tokens
	// stays.
	oauthWantErr(t, "RevokeFamily(old)", s.RevokeFamily(ctx, "old", oauthT0), errdefs.ErrNotFound)
	oauthGetToken(t, s, access.Hash)
	oauthMust(t, "RevokeFamily(used)", s.RevokeFamily(ctx, "used", oauthT0))
}

func oauthTokenRoundTrip(t *testing.T, s oauth.Store) {
	ctx := context.Background()
	access, refresh := oauthFamily(t, s, "fam", "ann", "cl")
	for _, want := range []*oauth.Token{access, refresh} {
		if diff := cmp.Diff(want, oauthGetToken(t, s, want.Hash)); diff != "" {
			t.Errorf("TokenByHash(%s) (-want +got):\n%s", want.Kind, diff)
		}
	}
	_, err := s.TokenByHash(ctx, oauthHash("nope"))
	oauthWantErr(t, "TokenByHash(unknown)", err, errdefs.ErrNotFound)
	extra := oauthNewToken("extra", oauth.KindAccess, "fam")
	extra.Scopes = nil
	oauthMust(t, "AddTokens", s.AddTokens(ctx, "fam", extra))
	want := *extra
	want.ClientID, want.User, want.Resource = access.ClientID, access.User, access.Resource
	if diff := cmp.Diff(&want, oauthGetToken(t, s, extra.Hash), oauthCmp); diff != "" {
		t.Errorf("token added by AddTokens (-want +got):\n%s", diff)
	}
	oauthWantErr(t, "AddTokens with a taken hash", s.AddTokens(ctx, "fam", extra), errdefs.ErrConflict)
	oauthWantErr(t, "AddTokens(unknown family)", s.AddTokens(ctx, "nope", oauthNewToken("x", oauth.KindAccess, "nope")), errdefs.ErrNotFound)
}

func oauthRotateOnce(t *testing.T, s oauth.Store) {
	ctx := context.Background()
	access, refresh := oauthFamily(t, s, "fam", "ann", "cl")
	at := oauthT0.Add(time.Hour)
	next := oauthNewToken("next refresh", oauth.KindRefresh, "fam")
	oauthMust(t, "RotateRefreshToken", s.RotateRefreshToken(ctx, refresh.Hash, at, next))
	got := oauthGetToken(t, s, refresh.Hash)
	if got.RotatedAt == nil || !got.RotatedAt.Equal(at) || got.RevokedAt != nil {
		t.Errorf("rotated token: RotatedAt %v RevokedAt %v; want %v and nil", got.RotatedAt, got.RevokedAt, at)
	}
	oauthGetToken(t, s, next.Hash)
	oauthWantErr(t, "second RotateRefreshToken", s.RotateRefreshToken(ctx, refresh.Hash, at, oauthNewToken("late", oauth.KindRefresh, "fam")), errdefs.ErrConflict)
	_, err := s.TokenByHash(ctx, oauthHash("token late"))
	oauthWantErr(t, "token of a refused rotation", err, errdefs.ErrNotFound)
	oauthWantErr(t, "RotateRefreshToken(an access token)", s.RotateRefreshToken(ctx, access.Hash, at), errdefs.ErrNotFound)
	oauthWantErr(t, "RotateRefreshToken(unknown)", s.RotateRefreshToken(ctx, oauthHash("nope"), at), errdefs.ErrNotFound)
}

func oauthRotateConcurrent(t *testing.T, s oauth.Store) {
	ctx := context.Background()
	_, refresh := oauthFamily(t, s, "fam", "ann", "cl")
	w := oauthRace(t, "rotations", func(i int) error {
		return s.RotateRefreshToken(ctx, refresh.Hash, oauthT0.Add(time.Minute),
			oauthNewToken(oauthRacer(i), oauth.KindRefresh, "fam"))
	})
	oauthOnlyWinnerStored(t, s, w)
}

func oauthRotateRevoked(t *testing.T, s oauth.Store) {
	ctx := context.Background()
	_, r1 := oauthFamily(t, s, "f1", "ann", "cl")
	_, r2 := oauthFamily(t, s, "f2", "ann", "cl")
	oauthMust(t, "RevokeToken", s.RevokeToken(ctx, r1.Hash, oauthT0))
	oauthWantErr(t, "rotating a revoked token", s.RotateRefreshToken(ctx, r1.Hash, oauthT0, oauthNewToken("n1", oauth.KindRefresh, "f1")), errdefs.ErrConflict)
	oauthMust(t, "RevokeFamily", s.RevokeFamily(ctx, "f2", oauthT0))
	oauthWantErr(t, "rotating a token of a revoked family", s.RotateRefreshToken(ctx, r2.Hash, oauthT0, oauthNewToken("n2", oauth.KindRefresh, "f2")), errdefs.ErrConflict)
	if got := oauthGetToken(t, s, r2.Hash); got.RotatedAt != nil {
		t.Errorf("a refused rotation marked the token rotated")
	}
}

func oauthReissueOnce(t *testing.T, s oauth.Store) {
	ctx := context.Background()
	access, refresh := oauthFamily(t, s, "fam", "ann", "cl")
	at := oauthT0.Add(time.Hour)
	oauthWantErr(t, "ReissueRefreshToken of a token not rotated", s.ReissueRefreshToken(ctx, refresh.Hash, at, oauthNewToken("early", oauth.KindRefresh, "fam")), errdefs.ErrConflict)
	oauthMust(t, "RotateRefreshToken", s.RotateRefreshToken(ctx, refresh.Hash, at, oauthNewToken("next", oauth.KindRefresh, "fam")))
	again := oauthNewToken("again", oauth.KindRefresh, "fam")
	oauthMust(t, "ReissueRefreshToken", s.ReissueRefreshToken(ctx, refresh.Hash, at.Add(time.Second), again))
	if got := oauthGetToken(t, s, again.Hash); got.RevokedAt != nil || got.RotatedAt != nil {
		t.Errorf("re-issued token: RotatedAt %v RevokedAt %v; want live", got.RotatedAt, got.RevokedAt)
	}
	if got := oauthGetToken(t, s, refresh.Hash); got.RevokedAt == nil || !got.RevokedAt.Equal(at.Add(time.Second)) {
		t.Errorf("token after its re-issue: RevokedAt %v, want %v", got.RevokedAt, at.Add(time.Second))
	}
	oauthWantErr(t, "second ReissueRefreshToken", s.ReissueRefreshToken(ctx, refresh.Hash, at.Add(2*time.Second), oauthNewToken("third", oauth.KindRefresh, "fam")), errdefs.ErrConflict)
	_, err := s.TokenByHash(ctx, oauthHash("token third"))
	oauthWantErr(t, "token of a refused re-issue", err, errdefs.ErrNotFound)
	// A revoked family re-issues nothing.
	_, r2 := oauthFamily(t, s, "f2", "ann", "cl")
	oauthMust(t, "RotateRefreshToken", s.RotateRefreshToken(ctx, r2.Hash, at, oauthNewToken("n2", oauth.KindRefresh, "f2")))
	oauthMust(t, "RevokeFamily", s.RevokeFamily(ctx, "f2", at))
	oauthWantErr(t, "ReissueRefreshToken in a revoked family", s.ReissueRefreshToken(ctx, r2.Hash, at, oauthNewToken("x2", oauth.KindRefresh, "f2")), errdefs.ErrConflict)
	oauthWantErr(t, "ReissueRefreshToken(an access token)", s.ReissueRefreshToken(ctx, access.Hash, at), errdefs.ErrNotFound)
	oauthWantErr(t, "ReissueRefreshToken(unknown)", s.ReissueRefreshToken(ctx, oauthHash("nope"), at), errdefs.ErrNotFound)
}

// oauthOneLiveRefresh: a grace re-issue leaves two successors of one
// token; rotating either revokes the other, so a family never keeps two
// live chains (one may be a thief's).
func oauthOneLiveRefresh(t *testing.T, s oauth.Store) {
	ctx := context.Background()
	for _, use := range []string{"first", "second"} {
		fam := "fam-" + use
		_, refresh := oauthFamily(t, s, fam, "ann", "cl")
		at := oauthT0.Add(time.Hour)
		first := oauthNewToken(fam+" first", oauth.KindRefresh, fam)
		oauthMust(t, "RotateRefreshToken", s.RotateRefreshToken(ctx, refresh.Hash, at, first))
		second := oauthNewToken(fam+" second", oauth.KindRefresh, fam)
		oauthMust(t, "ReissueRefreshToken", s.ReissueRefreshToken(ctx, refresh.Hash, at.Add(time.Second), second))
		used, other := first, second
		if use == "second" {
			used, other = second, first
		}
		next := oauthNewToken(fam+" next", oauth.KindRefresh, fam)
		oauthMust(t, "RotateRefreshToken of the "+use+" successor", s.RotateRefreshToken(ctx, used.Hash, at.Add(2*time.Second), next))
		if got := oauthGetToken(t, s, other.Hash); got.RevokedAt == nil || got.RotatedAt != nil {
			t.Errorf("the other successor after the %s was used: RevokedAt %v RotatedAt %v; want revoked, not rotated", use, got.RevokedAt, got.RotatedAt)
		}
		if got := oauthGetToken(t, s, next.Hash); got.RevokedAt != nil {
			t.Errorf("the successor of the used token is revoked: %v", got.RevokedAt)
		}
	}
}

func oauthReissueConcurrent(t *testing.T, s oauth.Store) {
	ctx := context.Background()
	_, refresh := oauthFamily(t, s, "fam", "ann", "cl")
	oauthMust(t, "RotateRefreshToken", s.RotateRefreshToken(ctx, refresh.Hash, oauthT0.Add(time.Minute), oauthNewToken("next", oauth.KindRefresh, "fam")))
	w := oauthRace(t, "re-issues", func(i int) error {
		return s.ReissueRefreshToken(ctx, refresh.Hash, oauthT0.Add(time.Minute),
			oauthNewToken(oauthRacer(i), oauth.KindRefresh, "fam"))
	})
	oauthOnlyWinnerStored(t, s, w)
}

func oauthRevokeUserTokens(t *testing.T, s oauth.Store) {
	ctx := context.Background()
	a1, r1 := oauthFamily(t, s, "f1", "ann", "c")
	a2, _ := oauthFamily(t, s, "f2", "ann", "d")
	bobs, _ := oauthFamily(t, s, "f3", "bob", "c")
	earlier := oauthT0.Add(time.Minute)
	oauthMust(t, "RevokeFamily", s.RevokeFamily(ctx, "f2", earlier))
	oauthMust(t, "SaveGrant", s.SaveGrant(ctx, &oauth.Grant{User: "ann", ClientID: "c", Scopes: []string{"articles:read"}, CreatedAt: oauthT0, UpdatedAt: oauthT0}))
	at := oauthT0.Add(time.Hour)
	oauthMust(t, "RevokeUserTokens", s.RevokeUserTokens(ctx, "ann", at))
	for _, tok := range []*oauth.Token{a1, r1} {
		if got := oauthGetToken(t, s, tok.Hash); got.RevokedAt == nil || !got.RevokedAt.Equal(at) {
			t.Errorf("ann's %s token: RevokedAt %v, want %v", tok.Kind, got.RevokedAt, at)
		}
	}
	if got := oauthGetToken(t, s, a2.Hash); got.RevokedAt == nil || !got.RevokedAt.Equal(earlier) {
		t.Errorf("token of a family revoked before: RevokedAt %v, want %v (the first revocation)", got.RevokedAt, earlier)
	}
	if got := oauthGetToken(t, s, bobs.Hash); got.RevokedAt != nil {
		t.Errorf("RevokeUserTokens revoked another user's token")
	}
	if _, err := s.GrantFor(ctx, "ann", "c"); err != nil {
		t.Errorf("GrantFor after RevokeUserTokens: %v; grants are kept", err)
	}
	oauthMust(t, "RevokeUserTokens(no families)", s.RevokeUserTokens(ctx, "nobody", at))
}

func oauthRevokeFamily(t *testing.T, s oauth.Store) {
	ctx := context.Background()
	access, refresh := oauthFamily(t, s, "fam", "ann", "cl")
	other, _ := oauthFamily(t, s, "other", "ann", "cl")
	at := oauthT0.Add(time.Hour)
	oauthMust(t, "RevokeFamily", s.RevokeFamily(ctx, "fam", at))
	oauthMust(t, "RevokeFamily again", s.RevokeFamily(ctx, "fam", at.Add(time.Hour)))
	for _, tok := range []*oauth.Token{access, refresh} {
		if got := oauthGetToken(t, s, tok.Hash); got.RevokedAt == nil || !got.RevokedAt.Equal(at) {
			t.Errorf("%s token after RevokeFamily: RevokedAt %v, want %v (the first revocation)", tok.Kind, got.RevokedAt, at)
		}
	}
	oauthWantErr(t, "AddTokens to a revoked family", s.AddTokens(ctx, "fam", oauthNewToken("late", oauth.KindAccess, "fam")), errdefs.ErrConflict)
	if got := oauthGetToken(t, s, other.Hash); got.RevokedAt != nil {
		t.Errorf("RevokeFamily revoked another family's token")
	}
	oauthWantErr(t, "RevokeFamily(unknown)", s.RevokeFamily(ctx, "nope", at), errdefs.ErrNotFound)
}

func oauthRevokeToken(t *testing.T, s oauth.Store) {
	ctx := context.Background()
	access, refresh := oauthFamily(t, s, "fam", "ann", "cl")
	at := oauthT0.Add(time.Hour)
	oauthMust(t, "RevokeToken", s.RevokeToken(ctx, access.Hash, at))
	oauthMust(t, "RevokeToken again", s.RevokeToken(ctx, access.Hash, at.Add(time.Hour)))
	if got := oauthGetToken(t, s, access.Hash); got.RevokedAt == nil || !got.RevokedAt.Equal(at) {
		t.Errorf("RevokedAt %v, want %v", got.RevokedAt, at)
	}
	if got := oauthGetToken(t, s, refresh.Hash); got.RevokedAt != nil {
		t.Errorf("RevokeToken of the access token revoked the refresh token")
	}
	// The token's own revocation wins over a later family revocation.
	oauthMust(t, "RevokeFamily", s.RevokeFamily(ctx, "fam", at.Add(2*time.Hour)))
	if got := oauthGetToken(t, s, access.Hash); !got.RevokedAt.Equal(at) {
		t.Errorf("RevokedAt after the family was revoked later: %v, want %v", got.RevokedAt, at)
	}
	oauthWantErr(t, "RevokeToken(unknown)", s.RevokeToken(ctx, oauthHash("nope"), at), errdefs.ErrNotFound)
}

func oauthDeleteExpiredTokens(t *testing.T, s oauth.Store) {
	ctx := context.Background()
	access, refresh := oauthFamily(t, s, "fam", "ann", "cl")
	n, err := s.DeleteExpiredTokens(ctx, access.ExpiresAt)
	oauthMust(t, "DeleteExpiredTokens", err)
	if n != 1 {
		t.Errorf("DeleteExpiredTokens deleted %d, want 1 (the access token)", n)
	}
	_, err = s.TokenByHash(ctx, access.Hash)
	oauthWantErr(t, "expired access token", err, errdefs.ErrNotFound)
	oauthGetToken(t, s, refresh.Hash)
	// With its code gone too, the empty family is swept.
	_, err = s.DeleteExpiredCodes(ctx, oauthT0.Add(time.Hour))
	oauthMust(t, "DeleteExpiredCodes", err)
	n, err = s.DeleteExpiredTokens(ctx, refresh.ExpiresAt)
	oauthMust(t, "DeleteExpiredTokens", err)
	if n != 1 {
		t.Errorf("second DeleteExpiredTokens deleted %d, want 1", n)
	}
	oauthWantErr(t, "RevokeFamily of a swept family", s.RevokeFamily(ctx, "fam", oauthT0), errdefs.ErrNotFound)
}

// oauthRace runs op from 16 goroutines at once (racer i passes i) and
// checks that exactly one wins and every other loses with ErrConflict:
// the promise of the store's atomic conditional updates. It returns the
// winner, or -1.
func oauthRace(t *testing.T, what string, op func(i int) error) int {
	t.Helper()
	const n = 16
	winner, won, lost := -1, 0, 0
	for i, err := range atOnce(n, op) {
		switch {
		case err == nil:
			winner = i
			won++
		case errors.Is(err, errdefs.ErrConflict):
			lost++
		default:
			t.Errorf("%s: racer %d: unexpected error %v", what, i, err)
		}
	}
	if won != 1 || lost != n-1 {
		t.Errorf("%d concurrent %s: %d won, %d lost; want 1 and %d", n, what, won, lost, n-1)
		return -1
	}
	return winner
}

// oauthClientFamily: a machine client's tokens live in a family with no
// user. They read back with an empty User, are revoked with the family and
// with the client, take no part in a user's revocation, and go when they
// expire.
func oauthClientFamily(t *testing.T, s oauth.Store) {
	ctx := context.Background()
	const resource = "http://127.0.0.1:3000/mcp"
	oauthMust(t, "CreateClient", s.CreateClient(ctx, oauthNewClient("machine", oauthT0)))
	access := oauthNewToken("machine access", oauth.KindAccess, "mf")
	oauthMust(t, "CreateFamily", s.CreateFamily(ctx, "mf", "machine", "", resource, oauthT0, access))
	got := oauthGetToken(t, s, access.Hash)
	want := *access
	want.ClientID, want.User, want.Resource = "machine", "", resource
	if diff := cmp.Diff(&want, got, oauthCmp); diff != "" {
		t.Errorf("the client family's token (-want +got):\n%s", diff)
	}

	// Taken ids store nothing.
	other := oauthNewToken("machine other", oauth.KindAccess, "mf")
	oauthWantErr(t, "CreateFamily with a taken family id", s.CreateFamily(ctx, "mf", "machine", "", resource, oauthT0, other), errdefs.ErrConflict)
	dup := *access
	dup.FamilyID = "mf2"
	oauthWantErr(t, "CreateFamily with a taken token hash", s.CreateFamily(ctx, "mf2", "machine", "", resource, oauthT0, &dup), errdefs.ErrConflict)
	_, err := s.TokenByHash(ctx, other.Hash)
	oauthWantErr(t, "the refused token", err, errdefs.ErrNotFound)
	oauthWantErr(t, "AddTokens to the refused family", s.AddTokens(ctx, "mf2", oauthNewToken("late", oauth.KindAccess, "mf2")), errdefs.ErrNotFound)

	// A user's revocation leaves the client's own tokens alone.
	oauthFamily(t, s, "uf", "ann", "machine")
	oauthMust(t, "RevokeUserTokens", s.RevokeUserTokens(ctx, "ann", oauthT0.Add(time.Minute)))
	if got := oauthGetToken(t, s, access.Hash); got.RevokedAt != nil {
		t.Errorf("revoking ann's tokens revoked the client's own: %v", got.RevokedAt)
	}
	// Revoking the family does.
	at := oauthT0.Add(2 * time.Minute)
	oauthMust(t, "RevokeFamily", s.RevokeFamily(ctx, "mf", at))
	if got := oauthGetToken(t, s, access.Hash); got.RevokedAt == nil || !got.RevokedAt.Equal(at) {
		t.Errorf("after RevokeFamily: RevokedAt %v, want %v", got.RevokedAt, at)
	}

	// Deleting the client takes a second family with it.
	second := oauthNewToken("machine second", oauth.KindAccess, "mf3")
	oauthMust(t, "CreateFamily", s.CreateFamily(ctx, "mf3", "machine", "", resource, oauthT0, second))
	oauthMust(t, "DeleteClient", s.DeleteClient(ctx, "machine"))
	_, err = s.TokenByHash(ctx, second.Hash)
	oauthWantErr(t, "a token of a deleted client", err, errdefs.ErrNotFound)

	// A deleted (or never stored) client gets nothing.
	gone := oauthNewToken("machine gone", oauth.KindAccess, "mf5")
	oauthWantErr(t, "CreateFamily for a deleted client", s.CreateFamily(ctx, "mf5", "machine", "", resource, oauthT0, gone), errdefs.ErrNotFound)
	_, err = s.TokenByHash(ctx, gone.Hash)
	oauthWantErr(t, "a token refused for a deleted client", err, errdefs.ErrNotFound)

	// Expiry sweeps a client family like any other.
	oauthMust(t, "CreateClient", s.CreateClient(ctx, oauthNewClient("other-machine", oauthT0)))
	third := oauthNewToken("machine third", oauth.KindAccess, "mf4")
	oauthMust(t, "CreateFamily", s.CreateFamily(ctx, "mf4", "other-machine", "", resource, oauthT0, third))
	_, err = s.DeleteExpiredTokens(ctx, third.ExpiresAt)
	oauthMust(t, "DeleteExpiredTokens", err)
	_, err = s.TokenByHash(ctx, third.Hash)
	oauthWantErr(t, "an expired client token", err, errdefs.ErrNotFound)
	oauthWantErr(t, "AddTokens to the swept family", s.AddTokens(ctx, "mf4", oauthNewToken("later", oauth.KindAccess, "mf4")), errdefs.ErrNotFound)
}

// oauthDeleteClientRacesClientFamily: a client deleted while it is being
// issued tokens of its own never keeps them, whichever comes first.
func oauthDeleteClientRacesClientFamily(t *testing.T, s oauth.Store) {
	ctx := context.Background()
	for i := range 20 {
		id := fmt.Sprintf("racer-%d", i)
		oauthMust(t, "CreateClient", s.CreateClient(ctx, oauthNewClient(id, oauthT0)))
		tok := oauthNewToken(id, oauth.KindAccess, "rf-"+id)
		var wg sync.WaitGroup
		var issueErr, deleteErr error
		wg.Go(func() { issueErr = s.CreateFamily(ctx, "rf-"+id, id, "", "http://127.0.0.1:3000/mcp", oauthT0, tok) })
		wg.Go(func() { deleteErr = s.DeleteClient(ctx, id) })
		wg.Wait()
		oauthMust(t, "DeleteClient", deleteErr)
		if issueErr != nil && !errors.Is(issueErr, errdefs.ErrNotFound) {
			t.Fatalf("CreateFamily racing DeleteClient: %v", issueErr)
		}
		if _, err := s.TokenByHash(ctx, tok.Hash); !errors.Is(err, errdefs.ErrNotFound) {
			t.Fatalf("round %d: the deleted client's token is still there (issue: %v, lookup: %v)", i, issueErr, err)
		}
	}
}

// oauthUserFamily: a family made for a user without a code (the
// jwt-bearer grant) reads back with its user, is revoked with the user's
// grant to the client and with the user's tokens, and goes with the user.
// An unknown user gets nothing.
func oauthUserFamily(t *testing.T, s oauth.Store) {
	ctx := context.Background()
	const resource = "http://127.0.0.1:3000/mcp"
	oauthMust(t, "CreateClient", s.CreateClient(ctx, oauthNewClient("agent", oauthT0)))
	oauthMust(t, "CreateUser", s.CreateUser(ctx, oauthNewUser("bea")))
	access := oauthNewToken("bea access", oauth.KindAccess, "bf")
	oauthMust(t, "CreateFamily", s.CreateFamily(ctx, "bf", "agent", "bea", resource, oauthT0, access))
	want := *access
	want.ClientID, want.User, want.Resource = "agent", "bea", resource
	if diff := cmp.Diff(&want, oauthGetToken(t, s, access.Hash), oauthCmp); diff != "" {
		t.Errorf("the user family's token (-want +got):\n%s", diff)
	}

	nobody := oauthNewToken("nobody access", oauth.KindAccess, "nf")
	oauthWantErr(t, "CreateFamily for an unknown user", s.CreateFamily(ctx, "nf", "agent", "nobody", resource, oauthT0, nobody), errdefs.ErrNotFound)
	_, err := s.TokenByHash(ctx, nobody.Hash)
	oauthWantErr(t, "a token refused for an unknown user", err, errdefs.ErrNotFound)

	// Disconnecting the app revokes it, grant or not.
	at := oauthT0.Add(time.Minute)
	oauthMust(t, "RevokeGrant", s.RevokeGrant(ctx, "bea", "agent", at))
	if got := oauthGetToken(t, s, access.Hash); got.RevokedAt == nil || !got.RevokedAt.Equal(at) {
		t.Errorf("after RevokeGrant: RevokedAt %v, want %v", got.RevokedAt, at)
	}
	// Signing the user out everywhere revokes a second one.
	second := oauthNewToken("bea second", oauth.KindAccess, "bf2")
	oauthMust(t, "CreateFamily", s.CreateFamily(ctx, "bf2", "agent", "bea", resource, oauthT0, second))
	oauthMust(t, "RevokeUserTokens", s.RevokeUserTokens(ctx, "bea", at))
	if got := oauthGetToken(t, s, second.Hash); got.RevokedAt == nil {
		t.Error("RevokeUserTokens left the user family's token live")
	}
	// Deleting the user takes a third with it.
	third := oauthNewToken("bea third", oauth.KindAccess, "bf3")
	oauthMust(t, "CreateFamily", s.CreateFamily(ctx, "bf3", "agent", "bea", resource, oauthT0, third))
	oauthMust(t, "DeleteUser", s.DeleteUser(ctx, "bea"))
	_, err = s.TokenByHash(ctx, third.Hash)
	oauthWantErr(t, "a token of a deleted user", err, errdefs.ErrNotFound)
}

// oauthSpendAssertion: an issuer's jti is spent once, whoever races for
// it; another issuer's same jti is another assertion; an expired record is
// swept and only then may the pair be spent again.
func oauthSpendAssertion(t *testing.T, s oauth.Store) {
	ctx := context.Background()
	const idp, other = "https://idp.example.com", "https://other.example.com"
	exp := oauthT0.Add(5 * time.Minute)
	oauthMust(t, "SpendAssertion", s.SpendAssertion(ctx, idp, "j1", exp))
	oauthWantErr(t, "SpendAssertion again", s.SpendAssertion(ctx, idp, "j1", exp), errdefs.ErrConflict)
	oauthMust(t, "SpendAssertion of another issuer", s.SpendAssertion(ctx, other, "j1", exp.Add(time.Hour)))

	const n = 8
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = s.SpendAssertion(ctx, idp, "raced", exp) })
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, errdefs.ErrConflict):
			t.Errorf("racing SpendAssertion: %v", err)
		}
	}
	if won != 1 {
		t.Errorf("%d concurrent SpendAssertion of one jti: %d won, want 1", n, won)
	}

	deleted, err := s.DeleteSpentAssertions(ctx, exp.Add(-time.Second))
	oauthMust(t, "DeleteSpentAssertions before the expiry", err)
	if deleted != 0 {
		t.Errorf("DeleteSpentAssertions before any expiry deleted %d", deleted)
	}
	oauthWantErr(t, "SpendAssertion after an early sweep", s.SpendAssertion(ctx, idp, "j1", exp), errdefs.ErrConflict)
	deleted, err = s.DeleteSpentAssertions(ctx, exp)
	oauthMust(t, "DeleteSpentAssertions", err)
	if deleted != 2 {
		t.Errorf("DeleteSpentAssertions at the expiry deleted %d, want 2 (j1 and raced of %s)", deleted, idp)
	}
	oauthWantErr(t, "SpendAssertion of the other issuer's, still kept", s.SpendAssertion(ctx, other, "j1", exp), errdefs.ErrConflict)
}
