package storetest

import (
	"context"
	"crypto/sha256"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/2coffee/mcp-2coffee/internal/errdefs"
	"github.com/2coffee/mcp-2coffee/internal/oauth"
)

// RunOAuth runs the behaviour every oauth.Store must show. open
// returns a new, empty store for each subtest and registers its own
// cleanup.
func RunOAuth(t *testing.T, open func(t *testing.T) oauth.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s oauth.Store)
	}{
		{"ClientRoundTrip", oauthClientRoundTrip},
		{"ClientConflictAndNotFound", oauthClientConflictAndNotFound},
		{"ClientList", oauthClientList},
		{"ClientTouch", oauthClientTouch},
		{"ClientTouchConcurrent", oauthClientTouchConcurrent},
		{"ClientDeleteTakesItsRows", oauthClientDelete},
		{"DeleteUnusedClients", oauthDeleteUnusedClients},
		{"UserRoundTrip", oauthUserRoundTrip},
		{"UserUpdates", oauthUserUpdates},
		{"FederatedUser", oauthFederatedUser},
		{"UserDeleteTakesItsRows", oauthUserDelete},
		{"LoginFailures", oauthLoginFailures},
		{"LoginFailuresConcurrent", oauthLoginFailuresConcurrent},
		{"Sessions", oauthSessions},
		{"Grants", oauthGrants},
		{"RevokeGrant", oauthRevokeGrant},
		{"CodeRoundTrip", oauthCodeRoundTrip},
		{"CodeExchangeOnce", oauthCodeExchangeOnce},
		{"CodeExchangeConcurrent", oauthCodeExchangeConcurrent},
		{"CodeExchangeRevokedFamily", oauthCodeExchangeRevokedFamily},
		{"DeleteExpiredCodes", oauthDeleteExpiredCodes},
		{"TokenRoundTrip", oauthTokenRoundTrip},
		{"RotateOnce", oauthRotateOnce},
		{"RotateConcurrent", oauthRotateConcurrent},
		{"RotateRevoked", oauthRotateRevoked},
		{"ReissueOnce", oauthReissueOnce},
		{"OneLiveRefreshPerFamily", oauthOneLiveRefresh},
		{"ReissueConcurrent", oauthReissueConcurrent},
		{"RotateSiblingsConcurrent", oauthRotateSiblingsConcurrent},
		{"RevokeRacesIssuance", oauthRevokeRacesIssuance},
		{"DeleteClientRacesIssuance", oauthDeleteClientRacesIssuance},
		{"RevokeUserTokens", oauthRevokeUserTokens},
		{"RevokeFamily", oauthRevokeFamily},
		{"RevokeToken", oauthRevokeToken},
		{"DeleteExpiredTokens", oauthDeleteExpiredTokens},
		{"ClientFamily", oauthClientFamily},
		{"DeleteClientRacesClientFamily", oauthDeleteClientRacesClientFamily},
		{"UserFamily", oauthUserFamily},
		{"SpendAssertion", oauthSpendAssertion},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel() // each subtest opens its own store
			tt.fn(t, open(t))
		})
	}
}

// oauthT0 is a whole-second instant: stores keep Unix seconds.
var oauthT0 = time.Date(2026, 11, 3, 9, 30, 0, 0, time.UTC)

var oauthCmp = cmpopts.EquateEmpty()

func oauthPtr(t time.Time) *time.Time { return &t }

// oauthHash is SHA-256 of s, as the server stores secrets.
func oauthHash(s string) []byte {
	sum := sha256.Sum256([]byte(s))
	return sum[:]
}

func oauthMust(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func oauthWantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: got error %v, want %v", what, err, want)
	}
}

func oauthNewClient(id string, created time.Time) *oauth.Client {
	return &oauth.Client{
		ID:            id,
		Name:          "Client " + id,
		Kind:          oauth.KindDynamic,
		AuthMethod:    oauth.AuthNone,
		RedirectURIs:  []string{"http://127.0.0.1/callback"},
		GrantTypes:    []string{oauth.GrantAuthorizationCode, oauth.GrantRefreshToken},
		ResponseTypes: []string{oauth.ResponseTypeCode},
		CreatedAt:     created,
	}
}

func oauthNewUser(name string) *oauth.User {
	return &oauth.User{Name: name, PasswordHash: "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", CreatedAt: oauthT0, PasswordChangedAt: oauthT0}
}

// oauthNewCode is a code for user and client in a new family named fam.
func oauthNewCode(fam, user, client string) *oauth.Code {
	return &oauth.Code{
		Hash:        oauthHash("code " + fam),
		FamilyID:    fam,
		ClientID:    client,
		User:        user,
		RedirectURI: "http://127.0.0.1:4567/callback",
		Scopes:      []string{"articles:read", "articles:write"},
		Resource:    "http://127.0.0.1:3000/mcp",
		Challenge:   "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
		CreatedAt:   oauthT0,
		ExpiresAt:   oauthT0.Add(2 * time.Minute),
	}
}

func oauthNewToken(name, kind, fam string) *oauth.Token {
	return &oauth.Token{
		Hash:      oauthHash("token " + name),
		Kind:      kind,
		FamilyID:  fam,
		Scopes:    []string{"articles:read"},
		CreatedAt: oauthT0,
		ExpiresAt: oauthT0.Add(time.Hour),
	}
}

// oauthFamily creates user (if needed) and a code in family fam, and
// exchanges it for an access and a refresh token. It returns the tokens
// as the store should report them.
func oauthFamily(t *testing.T, s oauth.Store, fam, user, client string) (access, refresh *oauth.Token) {
	t.Helper()
	ctx := context.Background()
	if err := s.CreateUser(ctx, oauthNewUser(user)); err != nil && !errors.Is(err, errdefs.ErrConflict) {
		t.Fatalf("CreateUser: %v", err)
	}
	c := oauthNewCode(fam, user, client)
	oauthMust(t, "CreateCode", s.CreateCode(ctx, c))
	access = oauthNewToken(fam+" access", oauth.KindAccess, fam)
	refresh = oauthNewToken(fam+" refresh", oauth.KindRefresh, fam)
	refresh.ExpiresAt = oauthT0.Add(30 * 24 * time.Hour)
	oauthMust(t, "ExchangeCode", s.ExchangeCode(ctx, c.Hash, oauthT0.Add(time.Second), access, refresh))
	for _, tok := range []*oauth.Token{access, refresh} {
		tok.ClientID, tok.User, tok.Resource = client, user, c.Resource
	}
	return access, refresh
}

func oauthGetToken(t *testing.T, s oauth.Store, hash []byte) *oauth.Token {
	t.Helper()
	tok, err := s.TokenByHash(context.Background(), hash)
	if err != nil {
		t.Fatalf("TokenByHash: %v", err)
	}
	return tok
}

func oauthClientRoundTrip(t *testing.T, s oauth.Store) {
	ctx := context.Background()
	want := &oauth.Client{
		ID:            "cl1",
		Name:          "Cà phê ☕ client",
		Kind:          oauth.KindPreregistered,
		AuthMethod:    oauth.AuthSecretBasic,
		SecretHash:    oauthHash("secret"),
		RedirectURIs:  []string{"https://app.example/cb?x=1", "cursor://anysphere.cursor-retrieval/oauth/callback"},
		GrantTypes:    []string{oauth.GrantAuthorizationCode},
		ResponseTypes: []string{oauth.ResponseTypeCode},
		Scopes:        []string{"articles:read"},
		ClientURI:     "https://app.example/",
		LogoURI:       "https://app.example/logo.png",
		CreatedAt:     oauthT0,
		LastUsedAt:    oauthPtr(oauthT0.Add(time.Hour)),
	}
	oauthMust(t, "CreateClient", s.CreateClient(ctx, want))
	got, err := s.ClientByID(ctx, want.ID)
	oauthMust(t, "ClientByID", err)
	if diff := cmp.Diff(want, got, oauthCmp); diff != "" {
		t.Errorf("ClientByID mismatch (-want +got):\n%s", diff)
	}

	public := oauthNewClient("cl2", oauthT0)
	oauthMust(t, "CreateClient(public)", s.CreateClient(ctx, public))
	got, err = s.ClientByID(ctx, public.ID)
	oauthMust(t, "ClientByID(public)", err)
	if got.SecretHash != nil || got.LastUsedAt != nil {
		t.Errorf("public client: SecretHash %x, LastUsedAt %v; want both nil", got.SecretHash, got.LastUsedAt)
	}
}

func oauthClientConflictAndNotFound(t *testing.T, s oauth.Store) {
	ctx := context.Background()
	first := oauthNewClient("dup", oauthT0)
	oauthMust(t, "CreateClient", s.CreateClient(ctx, first))
	second := oauthNewClient("dup", oauthT0.Add(time.Hour))
	second.Name = "intruder"
	oauthWantErr(t, "CreateClient with a taken id", s.CreateClient(ctx, second), errdefs.ErrConflict)
	got, err := s.ClientByID(ctx, "dup")
	oauthMust(t, "ClientByID", err)
	if diff := cmp.Diff(first, got, oauthCmp); diff != "" {
		t.Errorf("first client changed by a conflicting create (-want +got):\n%s", diff)
	}
	_, err = s.ClientByID(ctx, "missing")
	oauthWantErr(t, "ClientByID(missing)", err, errdefs.ErrNotFound)
	_, err = s.ClientByID(ctx, "DUP")
	oauthWantErr(t, "ClientByID(DUP): ids are case-sensitive", err, errdefs.ErrNotFound)
	oauthWantErr(t, "DeleteClient(missing)", s.DeleteClient(ctx, "missing"), errdefs.ErrNotFound)
	oauthWantErr(t, "TouchClient(missing)", s.TouchClient(ctx, "missing", oauthT0), errdefs.ErrNotFound)
}

func oauthClientList(t *testing.T, s oauth.Store) {
	ctx := context.Background()
	got, err := s.ListClients(ctx)
	oauthMust(t, "ListClients(empty)", err)
	if len(got) != 0 {
		t.Errorf("ListClients on an empty store: %d clients, want 0", len(got))
	}
	cs := []*oauth.Client{
		oauthNewClient("c3", oauthT0.Add(time.Hour)),
		oauthNewClient("c2", oauthT0),
		oauthNewClient("c1", oauthT0),
	}
	for _, c := range cs {
		oauthMust(t, "CreateClient", s.CreateClient(ctx, c))
	}
	got, err = s.ListClients(ctx)
	oauthMust(t, "ListClients", err)
	if diff := cmp.Diff([]*oauth.Client{cs[2], cs[1], cs[0]}, got, oauthCmp); diff != "" {
		t.Errorf("ListClients: want oldest first, then by id (-want +got):\n%s", diff)
	}
}

func oauthClientTouch(t *testing.T, s oauth.Store) {
	ctx := context.Background()
	oauthMust(t, "CreateClient", s.CreateClient(ctx, oauthNewClient("t", oauthT0)))
	for i, st := range []struct{ at, want time.Time }{
		{oauthT0.Add(time.Hour), oauthT0.Add(time.Hour)},
		{oauthT0.Add(3 * time.Hour), oauthT0.Add(3 * time.Hour)},
		{oauthT0.Add(2 * time.Hour), oauthT0.Add(3 * time.Hour)}, // never backwards
	} {
		oauthMust(t, "TouchClient", s.TouchClient(ctx, "t", st.at))
		c, err := s.ClientByID(ctx, "t")
		oauthMust(t, "ClientByID", err)
		if c.LastUsedAt == nil || !c.LastUsedAt.Equal(st.want) {
			t.Errorf("step %d: LastUsedAt %v, want %v", i, c.LastUsedAt, st.want)
		}
	}
}

// oauthClientTouchConcurrent: the last use of a client decides when the
// sweeper deletes it, so uses recorded at once by several replicas must
// leave the latest, never an earlier one that committed last.
func oauthClientTouchConcurrent(t *testing.T, s oauth.Store) {
	ctx := context.Background()
	oauthMust(t, "CreateClient", s.CreateClient(ctx, oauthNewClient("t", oauthT0)))
	const n = 16
	for i, err := range atOnce(n, func(i int) error {
		return s.TouchClient(ctx, "t", oauthT0.Add(time.Duration(n-1-i)*time.Minute))
	}) {
		if err != nil {
			t.Errorf("racer %d: TouchClient: %v", i, err)
		}
	}
	c, err := s.ClientByID(ctx, "t")
	oauthMust(t, "ClientByID", err)
	if want := oauthT0.Add((n - 1) * time.Minute); c.LastUsedAt == nil || !c.LastUsedAt.Equal(want) {
		t.Errorf("LastUsedAt after %d concurrent touches: %v, want the latest, %v", n, c.LastUsedAt, want)
	}
}

func oauthClientDelete(t *testing.T, s oauth.Store) {
	ctx := context.Background()
	oauthMust(t, "CreateClient", s.CreateClient(ctx, oauthNewClient("gone", oauthT0)))
	oauthMust(t, "CreateClient", s.CreateClient(ctx, oauthNewClient("kept", oauthT0)))
	access, _ := oauthFamily(t, s, "fgone", "ann", "gone")
	keptAccess, _ := oauthFamily(t, s, "fkept", "ann", "kept")
	pending := oauthNewCode("fpending", "ann", "gone")
	oauthMust(t, "CreateCode", s.CreateCode(ctx, pending))
	for _, c := range []string{"gone", "kept"} {
		oauthMust(t, "SaveGrant", s.SaveGrant(ctx, &oauth.Grant{User: "ann", ClientID: c, ClientName: c, Scopes: []string{"articles:read"}, CreatedAt: oauthT0, UpdatedAt: oauthT0}))
	}

	oauthMust(t, "DeleteClient", s.DeleteClient(ctx, "gone"))
	_, err := s.ClientByID(ctx, "gone")
	oauthWantErr(t, "ClientByID after delete", err, errdefs.ErrNotFound)
	_, err = s.TokenByHash(ctx, access.Hash)
	oauthWantErr(t, "TokenByHash of the deleted client's token", err, errdefs.ErrNotFound)
	_, err = s.CodeByHash(ctx, pending.Hash)
	oauthWantErr(t, "CodeByHash of the deleted client's code", err, errdefs.ErrNotFound)
	_, err = s.GrantFor(ctx, "ann", "gone")
	oauthWantErr(t, "GrantFor the deleted client", err, errdefs.ErrNotFound)

	if got := oauthGetToken(t, s, keptAccess.Hash); got.RevokedAt != nil {
		t.Errorf("another client's token was revoked: RevokedAt %v", got.RevokedAt)
	}
	if _, err := s.GrantFor(ctx, "ann", "kept"); err != nil {
		t.Errorf("another client's grant: %v", err)
	}
}

func oauthDeleteUnusedClients(t *testing.T, s oauth.Store) {
	ctx := context.Background()
	now := oauthT0.Add(100 * 24 * time.Hour)
	mk := func(id, kind string, created time.Time, used *time.Time) {
		c := oauthNewClient(id, created)
		c.Kind = kind
		c.LastUsedAt = used
		oauthMust(t, "CreateClient "+id, s.CreateClient(ctx, c))
	}
	mk("never-used-old", oauth.KindDynamic, now.Add(-25*time.Hour), nil)
	mk("never-used-new", oauth.KindDynamic, now.Add(-23*time.Hour), nil)
	mk("idle", oauth.KindDynamic, oauthT0, oauthPtr(now.Add(-91*24*time.Hour)))
	mk("active", oauth.KindDynamic, oauthT0, oauthPtr(now.Add(-89*24*time.Hour)))
	mk("prereg", oauth.KindPreregistered, oauthT0, nil)
	oauthFamily(t, s, "fidle", "ann", "idle")

	n, err := s.DeleteUnusedClients(ctx, now.Add(-24*time.Hour), now.Add(-90*24*time.Hour))
	oauthMust(t, "DeleteUnusedClients", err)
	if n != 2 {
		t.Errorf("DeleteUnusedClients deleted %d clients, want 2", n)
	}
	cs, err := s.ListClients(ctx)
	oauthMust(t, "ListClients", err)
	var ids []string
	for _, c := range cs {
		ids = append(ids, c.ID)
	}
	if diff := cmp.Diff([]string{"active", "prereg", "never-used-new"}, ids); diff != "" {
		t.Errorf("clients left (-want +got):\n%s", diff)
	}
	_, err = s.TokenByHash(ctx, oauthHash("token fidle access"))
	oauthWantErr(t, "token of a deleted idle client", err, errdefs.ErrNotFound)
}

func oauthUserRoundTrip(t *testing.T, s oauth.Store) {
	ctx := context.Background()
	want := oauthNewUser("ann")
	want.LastLoginAt = oauthPtr(oauthT0.Add(time.Minute))
	oauthMust(t, "CreateUser", s.CreateUser(ctx, want))
	got, err := s.UserByName(ctx, "ann")
	oauthMust(t, "UserByName", err)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("UserByName mismatch (-want +got):\n%s", diff)
	}
	oauthWantErr(t, "CreateUser with a taken name", s.CreateUser(ctx, oauthNewUser("ann")), errdefs.ErrConflict)
	_, err = s.UserByName(ctx, "bob")
	oauthWantErr(t, "UserByName(bob)", err, errdefs.ErrNotFound)
	oauthMust(t, "CreateUser(bob)", s.CreateUser(ctx, oauthNewUser("bob")))
	oauthMust(t, "CreateUser(abe)", s.CreateUser(ctx, oauthNewUser("abe")))
	us, err := s.ListUsers(ctx)
	oauthMust(t, "ListUsers", err)
	var names []string
	for _, u := range us {
		names = append(names, u.Name)
	}
	if diff := cmp.Diff([]string{"abe", "ann", "bob"}, names); diff != "" {
		t.Errorf("ListUsers order (-want +got):\n%s", diff)
	}
}

// oauthFederatedUser: a user who signs in at an identity provider is found
// by issuer and subject, which no two users share.
func oauthFederatedUser(t *testing.T, s oauth.Store) {
	ctx := context.Background()
	want := oauthNewUser("ann@example.com")
	want.PasswordHash = ""
	want.Issuer, want.Subject = "https://id.example.com", "248289761001"
	oauthMust(t, "CreateUser", s.CreateUser(ctx, want))
	got, err := s.UserBySubject(ctx, want.Issuer, want.Subject)
	oauthMust(t, "UserBySubject", err)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("UserBySubject mismatch (-want +got):\n%s", diff)
	}
	if got, err := s.UserByName(ctx, want.Name); err != nil || !got.Federated() {
		t.Errorf("UserByName of a federated user: %+v, %v", got, err)
	}
	twin := oauthNewUser("ann2")
	twin.Issuer, twin.Subject = want.Issuer, want.Subject
	oauthWantErr(t, "CreateUser with a taken issuer and subject", s.CreateUser(ctx, twin), errdefs.ErrConflict)
	// The same subject at another provider is another person.
	other := oauthNewUser("ann3")
	other.PasswordHash = ""
	other.Issuer, other.Subject = "https://accounts.example.org", want.Subject
	oauthMust(t, "CreateUser at another issuer", s.CreateUser(ctx, other))
	// Password users share the empty issuer and subject, and are never
	// found by them.
	oauthMust(t, "CreateUser(bob)", s.CreateUser(ctx, oauthNewUser("bob")))
	oauthMust(t, "CreateUser(cat)", s.CreateUser(ctx, oauthNewUser("cat")))
	_, err = s.UserBySubject(ctx, "", "")
	oauthWantErr(t, "UserBySubject of nobody", err, errdefs.ErrNotFound)
	_, err = s.UserBySubject(ctx, want.Issuer, "someone else")
	oauthWantErr(t, "UserBySubject(unknown)", err, errdefs.ErrNotFound)
	us, err := s.ListUsers(ctx)
	oauthMust(t, "ListUsers", err)
	listed := map[string]*oauth.User{}
	for _, u := range us {
		listed[u.Name] = u
	}
	if u := listed[want.Name]; len(us) != 4 || u == nil || u.Issuer != want.Issuer || u.Subject != want.Subject {
		t.Errorf("ListUsers does not carry the federated identity: %+v", u)
	}
	oauthMust(t, "DeleteUser", s.DeleteUser(ctx, want.Name))
	_, err = s.UserBySubject(ctx, want.Issuer, want.Subject)
	oauthWantErr(t, "UserBySubject after DeleteUser", err, errdefs.ErrNotFound)
	// Deleted, the identity may come back as a new account.
	oauthMust(t, "CreateUser again", s.CreateUser(ctx, twin))
}

func oauthUserUpdates(t *testing.T, s oauth.Store) {
	ctx := context.Background()
	oauthMust(t, "CreateUser", s.CreateUser(ctx, oauthNewUser("ann")))
	oauthMust(t, "SetPasswordHash", s.SetPasswordHash(ctx, "ann", "$argon2id$new", oauthT0.Add(time.Hour)))
	oauthMust(t, "RecordLogin", s.RecordLogin(ctx, "ann", oauthT0.Add(2*time.Hour)))
	oauthMust(t, "RecordLogin (older)", s.RecordLogin(ctx, "ann", oauthT0.Add(time.Hour)))
	got, err := s.UserByName(ctx, "ann")
	oauthMust(t, "UserByName", err)
	want := oauthNewUser("ann")
	want.PasswordHash = "$argon2id$new"
	want.PasswordChangedAt = oauthT0.Add(time.Hour)
	want.LastLoginAt = oauthPtr(oauthT0.Add(2 * time.Hour))
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("user after updates (-want +got):\n%s", diff)
	}
	oauthWantErr(t, "SetPasswordHash(missing)", s.SetPasswordHash(ctx, "zed", "x", oauthT0), errdefs.ErrNotFound)
	oauthWantErr(t, "RecordLogin(missing)", s.RecordLogin(ctx, "zed", oauthT0), errdefs.ErrNotFound)
	oauthWantErr(t, "DeleteUser(missing)", s.DeleteUser(ctx, "zed"), errdefs.ErrNotFound)
}

func oauthUserDelete(t *testing.T, s oauth.Store) {
	ctx := context.Background()
	access, refresh := oauthFamily(t, s, "fann", "ann", "c")
	other, _ := oauthFamily(t, s, "fbob", "bob", "c")
	sess := &oauth.Session{Hash: oauthHash("sess"), User: "ann", CreatedAt: oauthT0, ExpiresAt: oauthT0.Add(time.Hour)}
	oauthMust(t, "CreateSession", s.CreateSession(ctx, sess))
	oauthMust(t, "SaveGrant", s.SaveGrant(ctx, &oauth.Grant{User: "ann", ClientID: "c", Scopes: []string{"articles:read"}, CreatedAt: oauthT0, UpdatedAt: oauthT0}))

	oauthMust(t, "DeleteUser", s.DeleteUser(ctx, "ann"))
	for _, h := range [][]byte{access.Hash, refresh.Hash} {
		_, err := s.TokenByHash(ctx, h)
		oauthWantErr(t, "TokenByHash of a deleted user's token", err, errdefs.ErrNotFound)
	}
	_, err := s.SessionByHash(ctx, sess.Hash)
	oauthWantErr(t, "SessionByHash of a deleted user's session", err, errdefs.ErrNotFound)
	_, err = s.GrantFor(ctx, "ann", "c")
	oauthWantErr(t, "GrantFor a deleted user", err, errdefs.ErrNotFound)
	if got := oauthGetToken(t, s, other.Hash); got.RevokedAt != nil {
		t.Errorf("another user's token was revoked")
	}
}

func oauthLoginFailures(t *testing.T, s oauth.Store) {
	ctx := context.Background()
	f, err := s.LoginFailures(ctx, "ann")
	oauthMust(t, "LoginFailures(none)", err)
	if diff := cmp.Diff(&oauth.LoginFailures{Name: "ann"}, f); diff != "" {
		t.Errorf("LoginFailures without failures (-want +got):\n%s", diff)
	}
	stale := oauthT0.Add(-24 * time.Hour)
	for i := 1; i <= 3; i++ {
		at := oauthT0.Add(time.Duration(i) * time.Minute)
		f, err := s.RecordLoginFailure(ctx, "ann", at, stale)
		oauthMust(t, "RecordLoginFailure", err)
		if diff := cmp.Diff(&oauth.LoginFailures{Name: "ann", Count: i, Last: at}, f); diff != "" {
			t.Errorf("failure %d (-want +got):\n%s", i, diff)
		}
	}
	// A name without a user counts the same way.
	f, err = s.RecordLoginFailure(ctx, "nobody", oauthT0, stale)
	oauthMust(t, "RecordLoginFailure(nobody)", err)
	if f.Count != 1 {
		t.Errorf("failures of nobody: %d, want 1", f.Count)
	}
	// A count whose last failure is stale starts again.
	later := oauthT0.Add(48 * time.Hour)
	f, err = s.RecordLoginFailure(ctx, "ann", later, later.Add(-24*time.Hour))
	oauthMust(t, "RecordLoginFailure(after a day)", err)
	if diff := cmp.Diff(&oauth.LoginFailures{Name: "ann", Count: 1, Last: later}, f); diff != "" {
		t.Errorf("stale count did not restart (-want +got):\n%s", diff)
	}
	// Clearing a name clears its per-address counts too, and no other
	// name's ("a_n" is no wildcard, "anna" no extension of "ann").
	for _, key := range []string{oauth.FailureKey("ann", "198.51.100.1"), oauth.FailureKey("anna", "198.51.100.1"), oauth.FailureKey("a_n", "198.51.100.1")} {
		_, err := s.RecordLoginFailure(ctx, key, later, later.Add(-24*time.Hour))
		oauthMust(t, "RecordLoginFailure("+key+")", err)
	}
	oauthMust(t, "ClearLoginFailures", s.ClearLoginFailures(ctx, "ann"))
	for key, want := range map[string]int{"ann": 0, oauth.FailureKey("ann", "198.51.100.1"): 0,
		oauth.FailureKey("anna", "198.51.100.1"): 1, oauth.FailureKey("a_n", "198.51.100.1"): 1} {
		f, err = s.LoginFailures(ctx, key)
		oauthMust(t, "LoginFailures after clear", err)
		if f.Count != want {
			t.Errorf("failures of %q after ClearLoginFailures(ann): %d, want %d", key, f.Count, want)
		}
	}
	for _, key := range []string{oauth.FailureKey("anna", "198.51.100.1"), oauth.FailureKey("a_n", "198.51.100.1")} {
		oauthMust(t, "ClearLoginFailures", s.ClearLoginFailures(ctx, key))
	}
	n, err := s.DeleteLoginFailures(ctx, oauthT0.Add(time.Second))
	oauthMust(t, "DeleteLoginFailures", err)
	if n != 1 {
		t.Errorf("DeleteLoginFailures deleted %d, want 1 (nobody's)", n)
	}
}

func oauthLoginFailuresConcurrent(t *testing.T, s oauth.Store) {
	const n = 20
	errs := make(chan error, n)
	for range n {
		go func() {
			_, err := s.RecordLoginFailure(context.Background(), "ann", oauthT0, oauthT0.Add(-time.Hour))
			errs <- err
		}()
	}
	for range n {
		oauthMust(t, "RecordLoginFailure", <-errs)
	}
	f, err := s.LoginFailures(context.Background(), "ann")
	oauthMust(t, "LoginFailures", err)
	if f.Count != n {
		t.Errorf("after %d concurrent failures the count is %d", n, f.Count)
	}
}

func oauthSessions(t *testing.T, s oauth.Store) {
	ctx := context.Background()
	oauthMust(t, "CreateUser", s.CreateUser(ctx, oauthNewUser("ann")))
	mk := func(name string, expires time.Time) *oauth.Session {
		sess := &oauth.Session{Hash: oauthHash(name), User: "ann", CreatedAt: oauthT0, ExpiresAt: expires}
		oauthMust(t, "CreateSession", s.CreateSession(ctx, sess))
		return sess
	}
	a := mk("a", oauthT0.Add(time.Hour))
	b := mk("b", oauthT0.Add(2*time.Hour))
	got, err := s.SessionByHash(ctx, a.Hash)
	oauthMust(t, "SessionByHash", err)
	if diff := cmp.Diff(a, got); diff != "" {
		t.Errorf("SessionByHash (-want +got):\n%s", diff)
	}
	oauthWantErr(t, "CreateSession with a taken hash", s.CreateSession(ctx, a), errdefs.ErrConflict)
	err = s.CreateSession(ctx, &oauth.Session{Hash: oauthHash("x"), User: "nobody", CreatedAt: oauthT0, ExpiresAt: oauthT0})
	if err == nil {
		t.Errorf("CreateSession for a user that does not exist succeeded")
	}
	n, err := s.DeleteExpiredSessions(ctx, oauthT0.Add(time.Hour))
	oauthMust(t, "DeleteExpiredSessions", err)
	if n != 1 {
		t.Errorf("DeleteExpiredSessions deleted %d, want 1", n)
	}
	_, err = s.SessionByHash(ctx, a.Hash)
	oauthWantErr(t, "SessionByHash of an expired, deleted session", err, errdefs.ErrNotFound)
	oauthMust(t, "DeleteSession", s.DeleteSession(ctx, b.Hash))
	oauthMust(t, "DeleteSession again", s.DeleteSession(ctx, b.Hash))
	_, err = s.SessionByHash(ctx, b.Hash)
	oauthWantErr(t, "SessionByHash after DeleteSession", err, errdefs.ErrNotFound)
	c := mk("c", oauthT0.Add(time.Hour))
	oauthMust(t, "DeleteUserSessions", s.DeleteUserSessions(ctx, "ann"))
	_, err = s.SessionByHash(ctx, c.Hash)
	oauthWantErr(t, "SessionByHash after DeleteUserSessions", err, errdefs.ErrNotFound)
}

func oauthGrants(t *testing.T, s oauth.Store) {
	ctx := context.Background()
	for _, u := range []string{"ann", "bob"} {
		oauthMust(t, "CreateUser", s.CreateUser(ctx, oauthNewUser(u)))
	}
	g := &oauth.Grant{User: "ann", ClientID: "https://app.example/client.json", ClientName: "App", Scopes: []string{"articles:read"}, CreatedAt: oauthT0, UpdatedAt: oauthT0}
	oauthMust(t, "SaveGrant", s.SaveGrant(ctx, g))
	got, err := s.GrantFor(ctx, "ann", g.ClientID)
	oauthMust(t, "GrantFor", err)
	if diff := cmp.Diff(g, got); diff != "" {
		t.Errorf("GrantFor (-want +got):\n%s", diff)
	}
	// Replacing keeps CreatedAt.
	g2 := &oauth.Grant{User: "ann", ClientID: g.ClientID, ClientName: "App 2", Scopes: []string{"articles:read", "articles:write"}, CreatedAt: oauthT0.Add(time.Hour), UpdatedAt: oauthT0.Add(time.Hour)}
	oauthMust(t, "SaveGrant (replace)", s.SaveGrant(ctx, g2))
	got, err = s.GrantFor(ctx, "ann", g.ClientID)
	oauthMust(t, "GrantFor", err)
	want := *g2
	want.CreatedAt = oauthT0
	if diff := cmp.Diff(&want, got); diff != "" {
		t.Errorf("GrantFor after replacing (-want +got):\n%s", diff)
	}
	oauthMust(t, "SaveGrant(bob)", s.SaveGrant(ctx, &oauth.Grant{User: "bob", ClientID: "a", Scopes: []string{"articles:read"}, CreatedAt: oauthT0, UpdatedAt: oauthT0}))
	oauthMust(t, "SaveGrant(ann, a)", s.SaveGrant(ctx, &oauth.Grant{User: "ann", ClientID: "a", Scopes: []string{"articles:read"}, CreatedAt: oauthT0, UpdatedAt: oauthT0}))
	if err := s.SaveGrant(ctx, &oauth.Grant{User: "nobody", ClientID: "a", CreatedAt: oauthT0, UpdatedAt: oauthT0}); err == nil {
		t.Errorf("SaveGrant for a user that does not exist succeeded")
	}
	key := func(gs []*oauth.Grant) []string {
		var out []string
		for _, g := range gs {
			out = append(out, g.User+" "+g.ClientID)
		}
		return out
	}
	all, err := s.ListGrants(ctx, "")
	oauthMust(t, "ListGrants(all)", err)
	if diff := cmp.Diff([]string{"ann a", "ann https://app.example/client.json", "bob a"}, key(all)); diff != "" {
		t.Errorf("ListGrants(all) (-want +got):\n%s", diff)
	}
	bobs, err := s.ListGrants(ctx, "bob")
	oauthMust(t, "ListGrants(bob)", err)
	if diff := cmp.Diff([]string{"bob a"}, key(bobs)); diff != "" {
		t.Errorf("ListGrants(bob) (-want +got):\n%s", diff)
	}
	_, err = s.GrantFor(ctx, "bob", g.ClientID)
	oauthWantErr(t, "GrantFor(bob, app)", err, errdefs.ErrNotFound)
}

func oauthRevokeGrant(t *testing.T, s oauth.Store) {
	ctx := context.Background()
	a1, r1 := oauthFamily(t, s, "f1", "ann", "c")
	a2, _ := oauthFamily(t, s, "f2", "ann", "c")
	other, _ := oauthFamily(t, s, "f3", "ann", "d")
	oauthMust(t, "SaveGrant", s.SaveGrant(ctx, &oauth.Grant{User: "ann", ClientID: "c", Scopes: []string{"articles:read"}, CreatedAt: oauthT0, UpdatedAt: oauthT0}))
	at := oauthT0.Add(time.Hour)
	oauthMust(t, "RevokeGrant", s.RevokeGrant(ctx, "ann", "c", at))
	for _, tok := range []*oauth.Token{a1, r1, a2} {
		if got := oauthGetToken(t, s, tok.Hash); got.RevokedAt == nil || !got.RevokedAt.Equal(at) {
			t.Errorf("token %s of the revoked pair: RevokedAt %v, want %v", tok.Kind, got.RevokedAt, at)
		}
	}
	if got := oauthGetToken(t, s, other.Hash); got.RevokedAt != nil {
		t.Errorf("another client's token was revoked")
	}
	_, err := s.GrantFor(ctx, "ann", "c")
	oauthWantErr(t, "GrantFor after RevokeGrant", err, errdefs.ErrNotFound)
	// Tokens without a grant are revoked too (the grant may have been
	// forgotten, the tokens not).
	oauthMust(t, "RevokeGrant(no grant, live family)", s.RevokeGrant(ctx, "ann", "d", at))
	if got := oauthGetToken(t, s, other.Hash); got.RevokedAt == nil {
		t.Errorf("RevokeGrant without a grant did not revoke the family")
	}
	oauthWantErr(t, "RevokeGrant(nothing)", s.RevokeGrant(ctx, "ann", "zzz", at), errdefs.ErrNotFound)
}
