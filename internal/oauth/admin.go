package oauth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/2coffee/mcp-2coffee/internal/errdefs"
)

// AdminOptions configure an Admin. The zero value is usable for all but
// creating clients, which needs BuildClient.
type AdminOptions struct {
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger records changes (never a password or secret). Nil discards.
	Logger *slog.Logger
	// PasswordParams are the argon2id costs; zero means
	// DefaultPasswordParams.
	PasswordParams PasswordParams
	// BuildClient checks the metadata of a client to pre-register and
	// makes it: authserver.BuildClient, the rules dynamic registration
	// applies too. Nil makes CreateClient fail (provisioning a user
	// needs no client rules).
	BuildClient ClientBuilder
}

// ClientBuilder checks client metadata and makes a client of kind with a
// new id (NewID) and, for a confidential client, a new secret (NewSecret
// with PrefixClientSecret), which it returns once and which the client
// keeps only as SecretHash. A refusal is an errdefs.ErrInvalid error that
// says what is wrong. The rules live with the endpoints that redirect
// (redirect URIs are checked where they are matched), so Admin takes them
// as a plug-in rather than knowing them.
type ClientBuilder func(md *ClientMetadata, kind string, now time.Time) (c *Client, secret string, err error)

// Admin manages clients, users and grants: what the CLI's clients, users
// and grants commands and first-run provisioning do. It needs only a
// Store, so those work without the server's URL configuration. Invalid
// input is reported as an errdefs.ErrInvalid error (a
// *errdefs.ValidationError, or a refusal of the ClientBuilder that says
// what is wrong); unknown names and ids as errdefs.ErrNotFound; taken
// user names as errdefs.ErrConflict.
type Admin struct {
	store  Store
	now    func() time.Time
	log    *slog.Logger
	params PasswordParams
	build  ClientBuilder
}

// NewAdmin returns an Admin over store.
func NewAdmin(store Store, opts AdminOptions) *Admin {
	a := &Admin{store: store, now: opts.Now, log: opts.Logger, params: opts.PasswordParams, build: opts.BuildClient}
	if a.now == nil {
		a.now = time.Now
	}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	if a.params == (PasswordParams{}) {
		a.params = DefaultPasswordParams
	}
	return a
}

// ClientSpec describes a client to pre-register.
type ClientSpec struct {
	// Name is shown on the consent page; required.
	Name string
	// RedirectURIs: https, http on a loopback host (any port will match),
	// or a private-use scheme such as cursor://; at least one.
	RedirectURIs []string
	// AuthMethod is AuthNone (a public client, the default),
	// AuthSecretBasic or AuthSecretPost (a confidential client, which
	// gets a secret).
	AuthMethod string
	// Scopes limits what the client may ask for; empty means any.
	Scopes []string
	// NoRefresh leaves the refresh_token grant out.
	NoRefresh bool
	// ClientCredentials makes a machine client: the client_credentials
	// grant alone (tokens for the client itself, no user, no refresh
	// token), no redirect URIs, and AuthSecretBasic or AuthSecretPost.
	ClientCredentials bool
	// JWTBearer makes an enterprise client: the jwt-bearer grant alone
	// (an ID-JAG from the enterprise identity provider buys a token for
	// the user it names; no refresh token), no redirect URIs, and
	// AuthSecretBasic or AuthSecretPost.
	JWTBearer bool
}

// CreateClient registers a client and returns it with its secret (empty
// for a public client). The secret is stored only as a hash: show it
// once.
func (a *Admin) CreateClient(ctx context.Context, spec ClientSpec) (*Client, string, error) {
	if a.build == nil {
		return nil, "", errors.New("oauth: this Admin cannot create clients: AdminOptions.BuildClient is not set")
	}
	if strings.TrimSpace(spec.Name) == "" {
		return nil, "", errdefs.Invalid("name", "must not be empty")
	}
	md := &ClientMetadata{
		ClientName:              spec.Name,
		RedirectURIs:            spec.RedirectURIs,
		TokenEndpointAuthMethod: spec.AuthMethod,
		Scope:                   strings.Join(spec.Scopes, " "),
	}
	switch {
	case spec.ClientCredentials && spec.JWTBearer:
		return nil, "", errdefs.Invalid("grant", "a client has one machine grant: client_credentials or jwt-bearer")
	case spec.ClientCredentials:
		md.GrantTypes = []string{GrantClientCredentials}
	case spec.JWTBearer:
		md.GrantTypes = []string{GrantJWTBearer}
	case spec.NoRefresh:
		md.GrantTypes = []string{GrantAuthorizationCode}
	}
	c, secret, err := a.build(md, KindPreregistered, a.now())
	if err != nil {
		return nil, "", err
	}
	if err := StoreClient(ctx, a.store, c); err != nil {
		return nil, "", fmt.Errorf("oauth: storing client: %w", err)
	}
	a.log.InfoContext(ctx, "client created", "client_id", c.ID, "name", c.Name, "auth_method", c.AuthMethod)
	c.SecretHash = nil
	return c, secret, nil
}

// ListClients returns the stored clients (pre-registered and dynamic),
// oldest first, without secret hashes.
func (a *Admin) ListClients(ctx context.Context) ([]*Client, error) {
	cs, err := a.store.ListClients(ctx)
	if err != nil {
		return nil, fmt.Errorf("oauth: listing clients: %w", err)
	}
	for _, c := range cs {
		c.SecretHash = nil
	}
	return cs, nil
}

// DeleteClient deletes a stored client with its grants and tokens, which
// stop working at once.
func (a *Admin) DeleteClient(ctx context.Context, id string) error {
	if err := a.store.DeleteClient(ctx, id); err != nil {
		return fmt.Errorf("oauth: deleting client %s: %w", id, err)
	}
	a.log.InfoContext(ctx, "client deleted", "client_id", id)
	return nil
}

// CreateUser adds a user who can sign in. The name is normalized (see
// NormalizeUserName) and must pass ValidUserName.
func (a *Admin) CreateUser(ctx context.Context, name, password string) error {
	name = NormalizeUserName(name)
	if !ValidUserName(name) {
		return errdefs.Invalid("name", "must be 1 to %d characters of a-z, 0-9, '.', '_', '-' and '@', starting with a letter or digit", MaxUserNameLen)
	}
	if err := ValidatePassword(password); err != nil {
		return err
	}
	now := a.now().UTC().Truncate(time.Second)
	u := &User{Name: name, PasswordHash: HashPassword(password, a.params), CreatedAt: now, PasswordChangedAt: now}
	if err := a.store.CreateUser(ctx, u); err != nil {
		return fmt.Errorf("oauth: creating user %s: %w", name, err)
	}
	a.log.InfoContext(ctx, "user created", "user", name)
	return nil
}

// SetPassword replaces a user's password, signs the user out
// everywhere: every browser session ends and every token any app holds
// for the user is revoked (a stolen password may have been used to
// connect an app). Grants are kept, so an app the user still wants
// reconnects after a sign-in with the new password, without the consent
// page. Failed sign-ins are cleared.
func (a *Admin) SetPassword(ctx context.Context, name, password string) error {
	name = NormalizeUserName(name)
	if err := ValidatePassword(password); err != nil {
		return err
	}
	if u, err := a.store.UserByName(ctx, name); err != nil {
		return fmt.Errorf("oauth: setting password of %s: %w", name, err)
	} else if u.Federated() {
		return fmt.Errorf("oauth: %s signs in at %s and has no password here: %w", name, u.Issuer, errdefs.ErrInvalid)
	}
	now := a.now().UTC().Truncate(time.Second)
	if err := a.store.SetPasswordHash(ctx, name, HashPassword(password, a.params), now); err != nil {
		return fmt.Errorf("oauth: setting password of %s: %w", name, err)
	}
	errs := errors.Join(a.store.DeleteUserSessions(ctx, name), a.store.RevokeUserTokens(ctx, name, now),
		a.store.ClearLoginFailures(ctx, name))
	if errs != nil {
		return fmt.Errorf("oauth: password of %s changed, but: %w", name, errs)
	}
	a.log.InfoContext(ctx, "password changed", "user", name)
	return nil
}

// ListUsers returns every user by name, without password hashes.
func (a *Admin) ListUsers(ctx context.Context) ([]*User, error) {
	us, err := a.store.ListUsers(ctx)
	if err != nil {
		return nil, fmt.Errorf("oauth: listing users: %w", err)
	}
	for _, u := range us {
		u.PasswordHash = ""
	}
	return us, nil
}

// DeleteUser deletes a user with their sessions, grants and tokens; the
// tokens stop working at once (the store deletes them with the user).
func (a *Admin) DeleteUser(ctx context.Context, name string) error {
	name = NormalizeUserName(name)
	if err := a.store.DeleteUser(ctx, name); err != nil {
		return fmt.Errorf("oauth: deleting user %s: %w", name, err)
	}
	a.log.InfoContext(ctx, "user deleted", "user", name)
	return nil
}

// ListGrants returns every remembered approval, by user and client.
func (a *Admin) ListGrants(ctx context.Context) ([]*Grant, error) {
	gs, err := a.store.ListGrants(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("oauth: listing grants: %w", err)
	}
	return gs, nil
}

// RevokeGrant forgets user's approval of clientID and revokes every token
// that pair holds, at once.
func (a *Admin) RevokeGrant(ctx context.Context, user, clientID string) error {
	user = NormalizeUserName(user)
	if err := a.store.RevokeGrant(ctx, user, clientID, a.now().UTC().Truncate(time.Second)); err != nil {
		return fmt.Errorf("oauth: revoking grant of %s to %s: %w", user, clientID, err)
	}
	a.log.InfoContext(ctx, "grant revoked", "user", user, "client_id", clientID)
	return nil
}

// StoreClient stores c, drawing a new id if the first is taken (128
// random bits make that a formality). Registration and Admin both use it.
func StoreClient(ctx context.Context, clients Clients, c *Client) error {
	for range 3 {
		err := clients.CreateClient(ctx, c)
		if !errors.Is(err, errdefs.ErrConflict) {
			return err
		}
		c.ID = NewID()
	}
	return fmt.Errorf("no free client id after 3 attempts: %w", errdefs.ErrConflict)
}
