package authserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/2coffee/mcp-2coffee/internal/errdefs"
)

// AdminOptions configure an Admin. The zero value is usable.
type AdminOptions struct {
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger records changes (never a password or secret). Nil discards.
	Logger *slog.Logger
	// PasswordParams are the argon2id costs; zero means
	// DefaultPasswordParams.
	PasswordParams PasswordParams
}

// Admin manages clients, users and grants: what the CLI's clients, users
// and grants commands do. It needs only a Store, so those commands work
// without the server's URL configuration. Invalid input is reported as a
// errdefs.ErrInvalid error (a *errdefs.ValidationError, or a registration error
// that says what is wrong); unknown names and ids as errdefs.ErrNotFound;
// taken user names as errdefs.ErrConflict.
type Admin struct {
	store  Store
	now    func() time.Time
	log    *slog.Logger
	params PasswordParams
}

// NewAdmin returns an Admin over store.
func NewAdmin(store Store, opts AdminOptions) *Admin {
	a := &Admin{store: store, now: opts.Now, log: opts.Logger, params: opts.PasswordParams}
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
}

// CreateClient registers a client and returns it with its secret (empty
// for a public client). The secret is stored only as a hash: show it
// once.
func (a *Admin) CreateClient(ctx context.Context, spec ClientSpec) (*Client, string, error) {
	if strings.TrimSpace(spec.Name) == "" {
		return nil, "", errdefs.Invalid("name", "must not be empty")
	}
	md := &ClientMetadata{
		ClientName:              spec.Name,
		RedirectURIs:            spec.RedirectURIs,
		TokenEndpointAuthMethod: spec.AuthMethod,
		Scope:                   strings.Join(spec.Scopes, " "),
	}
	if spec.NoRefresh {
		md.GrantTypes = []string{GrantAuthorizationCode}
	}
	c, secret, err := buildClient(md, KindPreregistered, a.now())
	if err != nil {
		return nil, "", err
	}
	if err := storeClient(ctx, a.store, c); err != nil {
		return nil, "", fmt.Errorf("authserver: storing client: %w", err)
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
		return nil, fmt.Errorf("authserver: listing clients: %w", err)
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
		return fmt.Errorf("authserver: deleting client %s: %w", id, err)
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
	if err := validatePassword(password); err != nil {
		return err
	}
	now := a.now().UTC().Truncate(time.Second)
	u := &User{Name: name, PasswordHash: hashPassword(password, a.params), CreatedAt: now, PasswordChangedAt: now}
	if err := a.store.CreateUser(ctx, u); err != nil {
		return fmt.Errorf("authserver: creating user %s: %w", name, err)
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
	if err := validatePassword(password); err != nil {
		return err
	}
	now := a.now().UTC().Truncate(time.Second)
	if err := a.store.SetPasswordHash(ctx, name, hashPassword(password, a.params), now); err != nil {
		return fmt.Errorf("authserver: setting password of %s: %w", name, err)
	}
	errs := errors.Join(a.store.DeleteUserSessions(ctx, name), a.store.RevokeUserTokens(ctx, name, now),
		a.store.ClearLoginFailures(ctx, name))
	if errs != nil {
		return fmt.Errorf("authserver: password of %s changed, but: %w", name, errs)
	}
	a.log.InfoContext(ctx, "password changed", "user", name)
	return nil
}

// ListUsers returns every user by name, without password hashes.
func (a *Admin) ListUsers(ctx context.Context) ([]*User, error) {
	us, err := a.store.ListUsers(ctx)
	if err != nil {
		return nil, fmt.Errorf("authserver: listing users: %w", err)
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
		return fmt.Errorf("authserver: deleting user %s: %w", name, err)
	}
	a.log.InfoContext(ctx, "user deleted", "user", name)
	return nil
}

// ListGrants returns every remembered approval, by user and client.
func (a *Admin) ListGrants(ctx context.Context) ([]*Grant, error) {
	gs, err := a.store.ListGrants(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("authserver: listing grants: %w", err)
	}
	return gs, nil
}

// RevokeGrant forgets user's approval of clientID and revokes every token
// that pair holds, at once.
func (a *Admin) RevokeGrant(ctx context.Context, user, clientID string) error {
	user = NormalizeUserName(user)
	if err := a.store.RevokeGrant(ctx, user, clientID, a.now().UTC().Truncate(time.Second)); err != nil {
		return fmt.Errorf("authserver: revoking grant of %s to %s: %w", user, clientID, err)
	}
	a.log.InfoContext(ctx, "grant revoked", "user", user, "client_id", clientID)
	return nil
}
