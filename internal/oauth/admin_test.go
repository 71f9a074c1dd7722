package oauth_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/2coffee/mcp-2coffee/internal/errdefs"
	"github.com/2coffee/mcp-2coffee/internal/oauth"
)

// cheap keeps argon2 fast in tests; production uses the RFC 9106 costs.
var cheap = oauth.PasswordParams{Time: 1, MemoryKiB: 1024, Threads: 1}

var t0 = time.Date(2026, 11, 3, 9, 30, 0, 0, time.UTC)

// fakeStore keeps what Admin touches in maps and records the calls that
// sign a user out. The embedded Store is nil: a method Admin should not
// call panics. The behaviour of real stores is storetest's business;
// these tests are about what Admin asks of one.
type fakeStore struct {
	oauth.Store
	users   map[string]*oauth.User
	clients []*oauth.Client
	// taken client ids make CreateClient report a conflict.
	taken map[string]bool
	calls []string
}

func newFakeStore() *fakeStore {
	return &fakeStore{users: map[string]*oauth.User{}, taken: map[string]bool{}}
}

func (f *fakeStore) CreateUser(_ context.Context, u *oauth.User) error {
	if f.users[u.Name] != nil {
		return fmt.Errorf("user %s: %w", u.Name, errdefs.ErrConflict)
	}
	c := *u
	f.users[u.Name] = &c
	return nil
}

func (f *fakeStore) UserByName(_ context.Context, name string) (*oauth.User, error) {
	u := f.users[name]
	if u == nil {
		return nil, fmt.Errorf("user %s: %w", name, errdefs.ErrNotFound)
	}
	c := *u
	return &c, nil
}

func (f *fakeStore) ListUsers(context.Context) ([]*oauth.User, error) {
	var out []*oauth.User
	for _, u := range f.users {
		c := *u
		out = append(out, &c)
	}
	slices.SortFunc(out, func(a, b *oauth.User) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

func (f *fakeStore) SetPasswordHash(_ context.Context, name, hash string, at time.Time) error {
	u := f.users[name]
	if u == nil {
		return fmt.Errorf("user %s: %w", name, errdefs.ErrNotFound)
	}
	u.PasswordHash, u.PasswordChangedAt = hash, at
	return nil
}

func (f *fakeStore) DeleteUser(_ context.Context, name string) error {
	if f.users[name] == nil {
		return fmt.Errorf("user %s: %w", name, errdefs.ErrNotFound)
	}
	delete(f.users, name)
	return nil
}

func (f *fakeStore) DeleteUserSessions(_ context.Context, user string) error {
	f.calls = append(f.calls, "DeleteUserSessions "+user)
	return nil
}

func (f *fakeStore) RevokeUserTokens(_ context.Context, user string, at time.Time) error {
	f.calls = append(f.calls, "RevokeUserTokens "+user+" "+at.Format(time.RFC3339))
	return nil
}

func (f *fakeStore) ClearLoginFailures(_ context.Context, name string) error {
	f.calls = append(f.calls, "ClearLoginFailures "+name)
	return nil
}

func (f *fakeStore) CreateClient(_ context.Context, c *oauth.Client) error {
	if f.taken[c.ID] {
		return fmt.Errorf("client %s: %w", c.ID, errdefs.ErrConflict)
	}
	f.taken[c.ID] = true
	cc := *c
	f.clients = append(f.clients, &cc)
	return nil
}

func (f *fakeStore) ListClients(context.Context) ([]*oauth.Client, error) {
	var out []*oauth.Client
	for _, c := range f.clients {
		cc := *c
		out = append(out, &cc)
	}
	return out, nil
}

func (f *fakeStore) RevokeGrant(_ context.Context, user, clientID string, at time.Time) error {
	f.calls = append(f.calls, "RevokeGrant "+user+" "+clientID+" "+at.Format(time.RFC3339))
	return nil
}

func newAdmin(f *fakeStore, build oauth.ClientBuilder) *oauth.Admin {
	return oauth.NewAdmin(f, oauth.AdminOptions{
		Now:            func() time.Time { return t0.Add(500 * time.Millisecond) },
		PasswordParams: cheap,
		BuildClient:    build,
	})
}

func TestAdminUsers(t *testing.T) {
	f := newFakeStore()
	a := newAdmin(f, nil)
	ctx := t.Context()
	for _, c := range []struct{ name, password string }{
		{"bad name!", "long enough"},
		{"", "long enough"},
		{"-ann", "long enough"},
		{"bob", "short"},
	} {
		if err := a.CreateUser(ctx, c.name, c.password); !errors.Is(err, errdefs.ErrInvalid) {
			t.Errorf("CreateUser(%q, %q) = %v, want ErrInvalid", c.name, c.password, err)
		}
	}
	if err := a.CreateUser(ctx, "  Ann ", "correct horse"); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	if err := a.CreateUser(ctx, "ANN", "correct horse"); !errors.Is(err, errdefs.ErrConflict) {
		t.Errorf("CreateUser of a taken name (other case) = %v, want ErrConflict", err)
	}
	stored := f.users["ann"]
	if stored == nil {
		t.Fatalf("the user was not stored under its normalized name: %v", f.users)
	}
	if !stored.CreatedAt.Equal(t0) || !stored.PasswordChangedAt.Equal(t0) {
		t.Errorf("times %v, %v; want %v (UTC, whole seconds)", stored.CreatedAt, stored.PasswordChangedAt, t0)
	}
	if ok, rehash, err := oauth.CheckPassword(stored.PasswordHash, "correct horse", cheap); !ok || rehash || err != nil {
		t.Errorf("stored hash %q: CheckPassword = %v, %v, %v; want a match made with the configured costs", stored.PasswordHash, ok, rehash, err)
	}
	us, err := a.ListUsers(ctx)
	if err != nil || len(us) != 1 || us[0].Name != "ann" || us[0].PasswordHash != "" {
		t.Errorf("ListUsers = %+v, %v; want ann without a password hash", us, err)
	}
	if err := a.DeleteUser(ctx, "Ann"); err != nil {
		t.Errorf("DeleteUser: %v", err)
	}
	if err := a.DeleteUser(ctx, "ann"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("DeleteUser twice = %v, want ErrNotFound", err)
	}
}

// TestAdminSetPassword: a new password signs the user out everywhere
// (sessions, tokens) and forgets the failed sign-ins; grants stay.
func TestAdminSetPassword(t *testing.T) {
	f := newFakeStore()
	a := newAdmin(f, nil)
	ctx := t.Context()
	if err := a.CreateUser(ctx, "ann", "correct horse"); err != nil {
		t.Fatal(err)
	}
	if err := a.SetPassword(ctx, "ann", "short"); !errors.Is(err, errdefs.ErrInvalid) {
		t.Errorf("SetPassword(short) = %v, want ErrInvalid", err)
	}
	if err := a.SetPassword(ctx, "nobody", "long enough"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("SetPassword(unknown) = %v, want ErrNotFound", err)
	}
	if len(f.calls) != 0 {
		t.Errorf("a refused SetPassword signed someone out: %q", f.calls)
	}
	if err := a.SetPassword(ctx, " ANN", "a brand new secret"); err != nil {
		t.Fatalf("SetPassword: %v", err)
	}
	want := []string{"DeleteUserSessions ann", "RevokeUserTokens ann 2026-11-03T09:30:00Z", "ClearLoginFailures ann"}
	if diff := cmp.Diff(want, f.calls); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
	if ok, _, _ := oauth.CheckPassword(f.users["ann"].PasswordHash, "a brand new secret", cheap); !ok {
		t.Errorf("the new password does not match the stored hash")
	}
	// A user who signs in at a provider gets no password here.
	f.users["bob"] = &oauth.User{Name: "bob", Issuer: "https://id.example.com", Subject: "42"}
	if err := a.SetPassword(ctx, "bob", "a brand new secret"); !errors.Is(err, errdefs.ErrInvalid) || f.users["bob"].PasswordHash != "" {
		t.Errorf("SetPassword of a federated user = %v (hash %q), want ErrInvalid and no hash", err, f.users["bob"].PasswordHash)
	}
}

func TestAdminRevokeGrant(t *testing.T) {
	f := newFakeStore()
	if err := newAdmin(f, nil).RevokeGrant(t.Context(), " Ann", "c1"); err != nil {
		t.Fatal(err)
	}
	if want := []string{"RevokeGrant ann c1 2026-11-03T09:30:00Z"}; !slices.Equal(f.calls, want) {
		t.Errorf("calls %q, want %q", f.calls, want)
	}
}

func TestAdminCreateClient(t *testing.T) {
	ctx := t.Context()
	f := newFakeStore()
	if _, _, err := newAdmin(f, nil).CreateClient(ctx, oauth.ClientSpec{Name: "x", RedirectURIs: []string{"https://x.example/cb"}}); err == nil {
		t.Errorf("CreateClient without a ClientBuilder succeeded")
	}

	var got *oauth.ClientMetadata
	var gotKind string
	build := func(md *oauth.ClientMetadata, kind string, now time.Time) (*oauth.Client, string, error) {
		got, gotKind = md, kind
		if len(md.RedirectURIs) == 0 {
			return nil, "", errdefs.Invalid("redirect_uris", "must list one")
		}
		return &oauth.Client{ID: "taken", Name: md.ClientName, Kind: kind, AuthMethod: oauth.AuthSecretPost,
			SecretHash: oauth.HashSecret("s3cret"), CreatedAt: now.UTC().Truncate(time.Second)}, "s3cret", nil
	}
	a := newAdmin(f, build)
	if _, _, err := a.CreateClient(ctx, oauth.ClientSpec{Name: " "}); !errors.Is(err, errdefs.ErrInvalid) || got != nil {
		t.Errorf("CreateClient without a name = %v (builder called: %v), want ErrInvalid first", err, got != nil)
	}
	if _, _, err := a.CreateClient(ctx, oauth.ClientSpec{Name: "x"}); !errors.Is(err, errdefs.ErrInvalid) {
		t.Errorf("CreateClient refused by the builder = %v, want its ErrInvalid", err)
	}

	f.taken["taken"] = true // the first id drawn collides: StoreClient draws another
	c, secret, err := a.CreateClient(ctx, oauth.ClientSpec{
		Name: "RS", RedirectURIs: []string{"https://rs.example/cb"}, AuthMethod: oauth.AuthSecretPost,
		Scopes: []string{"articles:read", "articles:write"}, NoRefresh: true,
	})
	if err != nil {
		t.Fatalf("CreateClient: %v", err)
	}
	wantMD := &oauth.ClientMetadata{ClientName: "RS", RedirectURIs: []string{"https://rs.example/cb"},
		TokenEndpointAuthMethod: oauth.AuthSecretPost, Scope: "articles:read articles:write",
		GrantTypes: []string{oauth.GrantAuthorizationCode}}
	if diff := cmp.Diff(wantMD, got); diff != "" || gotKind != oauth.KindPreregistered {
		t.Errorf("builder got kind %q and (-want +got):\n%s", gotKind, diff)
	}
	if secret != "s3cret" || c.SecretHash != nil || c.ID == "taken" || len(c.ID) != 26 {
		t.Errorf("CreateClient = id %q, secret %q, SecretHash %x; want a fresh id, the secret, no hash returned", c.ID, secret, c.SecretHash)
	}
	cs, _ := a.ListClients(ctx)
	if len(cs) != 1 || cs[0].ID != c.ID || cs[0].SecretHash != nil {
		t.Errorf("ListClients = %+v, want the client without its secret hash", cs)
	}
	if len(f.clients) != 1 || !f.clients[0].SecretMatches("s3cret") {
		t.Errorf("the stored client does not keep the secret's hash")
	}
}

func TestStoreClientGivesUp(t *testing.T) {
	clients := &alwaysTaken{}
	err := oauth.StoreClient(t.Context(), clients, &oauth.Client{ID: "a"})
	if !errors.Is(err, errdefs.ErrConflict) || clients.tries != 3 {
		t.Errorf("StoreClient = %v after %d tries, want ErrConflict after 3", err, clients.tries)
	}
}

// alwaysTaken is a client store in which every id is taken.
type alwaysTaken struct {
	oauth.Clients
	tries int
}

func (a *alwaysTaken) CreateClient(_ context.Context, c *oauth.Client) error {
	a.tries++
	return errdefs.ErrConflict
}
