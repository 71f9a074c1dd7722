// Package oauth is the domain of the built-in OAuth 2.1 authorization
// server, apart from its HTTP endpoints and pages (internal/authserver):
// the records it keeps (clients, users, sign-in sessions and failures,
// grants, authorization codes, access and refresh tokens in families),
// the store contracts for them, split by capability so that each endpoint
// names what it touches (Clients, Users, Lockouts, Sessions, Grants,
// Codes, Tokens, Sweeper, and Store, which is all of them), the operator's
// Admin API, password hashing (argon2id) and the format of the secrets
// the server hands out.
//
// It imports nothing of HTTP, so a storage backend (internal/store/sqlite)
// depends on the domain it stores and on nothing that serves requests.
// Stores report the sentinel errors of internal/errdefs.
package oauth

import (
	"slices"
	"strings"
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
	// GrantClientCredentials is a confidential client's own grant
	// (RFC 6749 §4.4): tokens for the client itself, no user, no
	// refresh token.
	GrantClientCredentials = "client_credentials"
	// GrantJWTBearer is the JWT authorization grant (RFC 7523 §2.1): a
	// confidential client presents an ID-JAG its user's enterprise
	// identity provider issued to it (enterprise-managed authorization)
	// and gets an access token for that user; no refresh token.
	GrantJWTBearer   = "urn:ietf:params:oauth:grant-type:jwt-bearer"
	ResponseTypeCode = "code"
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

// Machine reports whether the client gets tokens without a browser (the
// client credentials or the jwt-bearer grant): it has no redirect URIs
// and a secret, and is not a resource server.
func (c *Client) Machine() bool {
	return c.Allows(GrantClientCredentials) || c.Allows(GrantJWTBearer)
}

// Allows reports whether the client registered grant type g.
func (c *Client) Allows(g string) bool { return slices.Contains(c.GrantTypes, g) }

// SecretMatches reports whether secret is the client's secret, comparing
// hashes in constant time. A public client matches no secret.
func (c *Client) SecretMatches(secret string) bool {
	return equalHash(HashSecret(secret), c.SecretHash)
}

// ClientMetadata is the client metadata (RFC 7591 §2) the server reads,
// whether from a registration, a Client ID Metadata Document or the
// operator. It is what a client asks for, not yet checked: see
// ClientBuilder.
type ClientMetadata struct {
	// ClientID is set only for a metadata document, where it must equal
	// the URL the document was fetched from.
	ClientID                string
	ClientName              string
	RedirectURIs            []string
	TokenEndpointAuthMethod string
	GrantTypes              []string
	ResponseTypes           []string
	ClientURI               string
	LogoURI                 string
	// Scope is space-separated, as in a scope parameter.
	Scope string
}

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
	// Issuer and Subject name the account at an identity provider the
	// user signs in with (federated sign-in): the provider's issuer and
	// its sub claim, which together never change and are never reused.
	// Both are empty for a user with a password here; such a user has
	// no PasswordHash.
	Issuer, Subject string
}

// Federated reports whether the user signs in at an identity provider
// rather than with a password.
func (u *User) Federated() bool { return u.Issuer != "" }

// NormalizeUserName is how a typed user name is compared: without
// surrounding space, in lower case.
func NormalizeUserName(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// MaxUserNameLen bounds a user name.
const MaxUserNameLen = 64

// ValidUserName reports whether name (already normalized) is acceptable:
// 1 to 64 characters of a-z, 0-9, '.', '_', '-' and '@', starting with a
// letter or digit. Names appear in logs, the CLI and pages, so they stay
// plain.
func ValidUserName(name string) bool {
	if name == "" || len(name) > MaxUserNameLen {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		case i > 0 && (c == '.' || c == '_' || c == '-' || c == '@'):
		default:
			return false
		}
	}
	return true
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
// skips the consent page when the client's identity is assured (an
// owner-registered client, or an https redirect URI); others see it again.
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
