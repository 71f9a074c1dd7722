package authserver

import (
	"context"
	"slices"
	"time"
)

// Client kinds. Dynamic clients registered themselves (RFC 7591) and
// expire when unused; pre-registered ones were added by the blog owner;
// metadata clients are never stored: their client_id is an HTTPS URL whose
// Client ID Metadata Document is fetched when needed.
const (
	KindPreregistered = "preregistered"
	KindDynamic       = "dynamic"
	KindMetadata      = "metadata"
)

// Token endpoint authentication methods (RFC 7591 §2).
const (
	AuthNone        = "none"
	AuthSecretBasic = "client_secret_basic"
	AuthSecretPost  = "client_secret_post"
)

// Grant types and the response type this server supports.
const (
	GrantAuthorizationCode = "authorization_code"
	GrantRefreshToken      = "refresh_token"
	ResponseTypeCode       = "code"
)

// Token kinds.
const (
	KindAccess  = "access"
	KindRefresh = "refresh"
)

// Client is an OAuth client known to the server. Times are UTC with whole
// seconds: stores keep Unix seconds.
type Client struct {
	// ID is the client_id: random for stored clients, the document URL
	// for metadata clients.
	ID string
	// Name is shown on the consent page. For dynamic and metadata
	// clients the client chose it, so the page says it is unverified.
	Name string
	// Kind is KindPreregistered, KindDynamic or KindMetadata.
	Kind string
	// AuthMethod is how the client authenticates at the token endpoint:
	// AuthNone (a public client) or AuthSecretBasic / AuthSecretPost.
	AuthMethod string
	// SecretHash is SHA-256 of the client secret; nil for public clients.
	SecretHash []byte
	// RedirectURIs are the registered redirect URIs, matched exactly
	// (loopback ones on any port).
	RedirectURIs []string
	// GrantTypes the client may use: authorization_code and possibly
	// refresh_token.
	GrantTypes []string
	// ResponseTypes the client may use: only "code".
	ResponseTypes []string
	// Scopes limits what the client may ask for; empty means every
	// scope the server supports.
	Scopes []string
	// ClientURI and LogoURI are optional metadata, stored and returned
	// but never shown (a logo chosen by the client could imitate ours).
	ClientURI string
	LogoURI   string
	// CreatedAt is when the client was registered.
	CreatedAt time.Time
	// LastUsedAt is when the client last obtained tokens; nil means
	// never. Dynamic clients that stay unused are deleted by Cleanup.
	LastUsedAt *time.Time
}

// Public reports whether the client has no secret.
func (c *Client) Public() bool { return c.AuthMethod == AuthNone }

// allows reports whether the client registered grant type g.
func (c *Client) allows(g string) bool { return slices.Contains(c.GrantTypes, g) }

// User is a person who can sign in on the login page.
type User struct {
	// Name is the sign-in name: lower case, see ValidUserName.
	Name string
	// PasswordHash is the argon2id hash in PHC string form
	// ($argon2id$v=19$m=…,t=…,p=…$salt$hash). Listings leave it empty.
	PasswordHash string
	// CreatedAt and PasswordChangedAt are UTC, whole seconds.
	CreatedAt         time.Time
	PasswordChangedAt time.Time
	// LastLoginAt is the last successful sign-in; nil means never.
	LastLoginAt *time.Time
}

// LoginFailures counts the failed sign-ins for one name, whether or not a
// user has that name, so that lockout reveals nothing about which names
// exist.
type LoginFailures struct {
	Name string
	// Count is the number of failures since the last success (or since
	// the count was reset for being stale).
	Count int
	// Last is the time of the latest failure.
	Last time.Time
}

// Session is a signed-in browser. Only SHA-256 of the cookie value is
// stored.
type Session struct {
	Hash      []byte
	User      string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// Grant is a remembered approval: User let Client have Scopes. A later
// authorization request by the same client for a subset of these scopes
// skips the consent page.
type Grant struct {
	User     string
	ClientID string
	// ClientName is the client's name when the grant was last approved,
	// kept here because metadata clients are not stored.
	ClientName string
	Scopes     []string
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// Code is an authorization code, bound to everything the token request
// must repeat. Only SHA-256 of the code is stored.
type Code struct {
	Hash []byte
	// FamilyID names the token family the code's tokens will belong to;
	// a replayed code revokes the family.
	FamilyID    string
	ClientID    string
	User        string
	RedirectURI string
	Scopes      []string
	// Resource is the audience (RFC 8707) the tokens will carry.
	Resource string
	// Challenge is the PKCE S256 code_challenge.
	Challenge string
	CreatedAt time.Time
	ExpiresAt time.Time
	// UsedAt is when the code was exchanged; nil means not yet.
	UsedAt *time.Time
}

// Token is an access or refresh token. Only SHA-256 of the token is
// stored. Every token belongs to a family: the tokens issued from one
// authorization code and every rotation after it. Revoking the family
// kills them all, including ones issued after the revocation by a request
// that raced it.
type Token struct {
	Hash     []byte
	Kind     string // KindAccess or KindRefresh
	FamilyID string
	// ClientID, User and Resource come from the family.
	ClientID  string
	User      string
	Resource  string
	Scopes    []string
	CreatedAt time.Time
	ExpiresAt time.Time
	// RotatedAt is when a refresh token was exchanged for new tokens;
	// nil means not yet.
	RotatedAt *time.Time
	// RevokedAt is when the token, or else its family, was revoked; nil
	// means neither was.
	RevokedAt *time.Time
}

// ClientStore keeps dynamic and pre-registered clients.
type ClientStore interface {
	// CreateClient stores c, or reports errdefs.ErrConflict if its id is
	// taken.
	CreateClient(ctx context.Context, c *Client) error
	// ClientByID returns the client, or errdefs.ErrNotFound.
	ClientByID(ctx context.Context, id string) (*Client, error)
	// ListClients returns every stored client, oldest first.
	ListClients(ctx context.Context) ([]*Client, error)
	// DeleteClient deletes the client with its grants, codes and tokens,
	// or reports errdefs.ErrNotFound.
	DeleteClient(ctx context.Context, id string) error
	// TouchClient records a use at at; the time never moves backwards.
	// It reports errdefs.ErrNotFound for an unknown id.
	TouchClient(ctx context.Context, id string, at time.Time) error
	// DeleteUnusedClients deletes dynamic clients that were never used
	// and were created before neverUsedBefore, and those last used
	// before idleBefore, with their grants, codes and tokens. It returns
	// how many clients it deleted.
	DeleteUnusedClients(ctx context.Context, neverUsedBefore, idleBefore time.Time) (int, error)
}

// UserStore keeps users and the failed sign-in counts.
type UserStore interface {
	// CreateUser stores u, or reports errdefs.ErrConflict if the name is
	// taken.
	CreateUser(ctx context.Context, u *User) error
	// UserByName returns the user, or errdefs.ErrNotFound.
	UserByName(ctx context.Context, name string) (*User, error)
	// ListUsers returns every user by name.
	ListUsers(ctx context.Context) ([]*User, error)
	// SetPasswordHash replaces the user's password hash and sets
	// PasswordChangedAt to at, or reports errdefs.ErrNotFound.
	SetPasswordHash(ctx context.Context, name, hash string, at time.Time) error
	// RecordLogin sets LastLoginAt to at, or reports errdefs.ErrNotFound.
	RecordLogin(ctx context.Context, name string, at time.Time) error
	// DeleteUser deletes the user with their sessions, grants, codes and
	// tokens, or reports errdefs.ErrNotFound.
	DeleteUser(ctx context.Context, name string) error

	// LoginFailures returns the failure count for name; a name without
	// failures yields a zero Count, not an error.
	LoginFailures(ctx context.Context, name string) (*LoginFailures, error)
	// RecordLoginFailure adds one failure at at, atomically, and returns
	// the new count. A count whose last failure is before staleBefore
	// starts again from one.
	RecordLoginFailure(ctx context.Context, name string, at, staleBefore time.Time) (*LoginFailures, error)
	// ClearLoginFailures forgets the failures for name.
	ClearLoginFailures(ctx context.Context, name string) error
	// DeleteLoginFailures forgets every count whose last failure is
	// before before, and returns how many it forgot.
	DeleteLoginFailures(ctx context.Context, before time.Time) (int, error)
}

// SessionStore keeps the sessions of signed-in browsers.
type SessionStore interface {
	// CreateSession stores s, or reports errdefs.ErrConflict if its hash is
	// taken.
	CreateSession(ctx context.Context, s *Session) error
	// SessionByHash returns the session, expired or not, or
	// errdefs.ErrNotFound.
	SessionByHash(ctx context.Context, hash []byte) (*Session, error)
	// DeleteSession deletes the session; deleting a missing one is not
	// an error (signing out twice is fine).
	DeleteSession(ctx context.Context, hash []byte) error
	// DeleteUserSessions signs the user out everywhere.
	DeleteUserSessions(ctx context.Context, user string) error
	// DeleteExpiredSessions deletes sessions that expired at or before
	// before and returns how many.
	DeleteExpiredSessions(ctx context.Context, before time.Time) (int, error)
}

// GrantStore keeps remembered approvals.
type GrantStore interface {
	// SaveGrant creates or replaces the grant of g.User to g.ClientID.
	// Replacing keeps the original CreatedAt. The user must exist.
	SaveGrant(ctx context.Context, g *Grant) error
	// GrantFor returns the grant, or errdefs.ErrNotFound.
	GrantFor(ctx context.Context, user, clientID string) (*Grant, error)
	// ListGrants returns the grants of user, or of every user when user
	// is "", ordered by user, then client id.
	ListGrants(ctx context.Context, user string) ([]*Grant, error)
	// RevokeGrant deletes the grant and revokes, at at, every token
	// family of that user and client, so their tokens stop working at
	// once. It reports errdefs.ErrNotFound when there was neither a grant
	// nor a family.
	RevokeGrant(ctx context.Context, user, clientID string, at time.Time) error
}

// CodeStore keeps authorization codes.
type CodeStore interface {
	// CreateCode stores c and creates its token family. It reports
	// errdefs.ErrConflict if the hash or the family id is taken.
	CreateCode(ctx context.Context, c *Code) error
	// CodeByHash returns the code, used or not, or errdefs.ErrNotFound.
	CodeByHash(ctx context.Context, hash []byte) (*Code, error)
	// ExchangeCode marks the code used at at and stores tokens (which
	// belong to the code's family), in one transaction. Exactly one of
	// any number of concurrent calls for the same code succeeds; the
	// others, and every later call, report errdefs.ErrConflict and store
	// nothing. A code whose family is revoked (a grant revoked between
	// approval and exchange) is errdefs.ErrConflict too, and stays unused.
	// An unknown code is errdefs.ErrNotFound.
	ExchangeCode(ctx context.Context, hash []byte, at time.Time, tokens ...*Token) error
	// DeleteExpiredCodes deletes codes that expired at or before before,
	// with their families when no token belongs to them, and returns how
	// many codes it deleted.
	DeleteExpiredCodes(ctx context.Context, before time.Time) (int, error)
}

// TokenStore keeps access and refresh tokens and their families.
type TokenStore interface {
	// TokenByHash returns the token, with its family's client, user and
	// resource, and RevokedAt set when the token or its family is
	// revoked; or errdefs.ErrNotFound.
	TokenByHash(ctx context.Context, hash []byte) (*Token, error)
	// RotateRefreshToken marks the refresh token rotated at at and
	// stores tokens in its family, in one transaction. Exactly one of any
	// number of concurrent calls wins; when the token was already
	// rotated, or it or its family is revoked, it reports
	// errdefs.ErrConflict and stores nothing. An unknown token is
	// errdefs.ErrNotFound.
	RotateRefreshToken(ctx context.Context, hash []byte, at time.Time, tokens ...*Token) error
	// ReissueRefreshToken spends the single grace re-issue of a refresh
	// token that was already rotated: it revokes that token at at and
	// stores tokens in its family, in one transaction. Exactly one of any
	// number of concurrent calls wins; when the token is not rotated, was
	// already re-issued (or otherwise revoked), or its family is revoked,
	// it reports errdefs.ErrConflict and stores nothing. An unknown token is
	// errdefs.ErrNotFound.
	ReissueRefreshToken(ctx context.Context, hash []byte, at time.Time, tokens ...*Token) error
	// RevokeUserTokens revokes at at, keeping earlier times, every token
	// family of user: all the tokens any app holds for the user stop
	// working. Grants are kept. A user without families is not an error.
	RevokeUserTokens(ctx context.Context, user string, at time.Time) error
	// AddTokens stores tokens in family familyID, unless the family is
	// revoked (errdefs.ErrConflict) or unknown (errdefs.ErrNotFound).
	AddTokens(ctx context.Context, familyID string, tokens ...*Token) error
	// RevokeToken revokes one token at at, keeping an earlier revocation
	// time, or reports errdefs.ErrNotFound.
	RevokeToken(ctx context.Context, hash []byte, at time.Time) error
	// RevokeFamily revokes a family at at, keeping an earlier time: its
	// tokens, present and future, stop working. It reports
	// errdefs.ErrNotFound for an unknown family.
	RevokeFamily(ctx context.Context, familyID string, at time.Time) error
	// DeleteExpiredTokens deletes tokens that expired at or before
	// before, and families left with neither tokens nor a code, and
	// returns how many tokens it deleted.
	DeleteExpiredTokens(ctx context.Context, before time.Time) (int, error)
}

// Store is everything the authorization server keeps. Implementations:
// internal/store/sqlite; internal/store/storetest.RunOAuth is the behaviour
// every one must show.
type Store interface {
	ClientStore
	UserStore
	SessionStore
	GrantStore
	CodeStore
	TokenStore
}
