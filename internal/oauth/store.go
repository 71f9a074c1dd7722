package oauth

import (
	"context"
	"time"
)

// The store contracts are split by capability, as fosite splits its
// storage: an endpoint is given the few of them it uses, so its type says
// what it can touch (the token endpoint cannot touch a user, the sign-in
// page cannot touch a token), and a test double needs only those
// methods. A backend implements them all: Store.
//
// Every method reports the sentinel errors of internal/errdefs, checked
// with errors.Is. Times are stored as Unix seconds.

// Clients keeps dynamic and pre-registered clients. Metadata clients are
// never stored.
type Clients interface {
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
}

// Users keeps the people who may sign in.
type Users interface {
	// CreateUser stores u, or reports errdefs.ErrConflict if the name is
	// taken, or another user has u's Issuer and Subject.
	CreateUser(ctx context.Context, u *User) error
	// UserByName returns the user, or errdefs.ErrNotFound.
	UserByName(ctx context.Context, name string) (*User, error)
	// UserBySubject returns the user who signs in as subject at the
	// identity provider issuer, or errdefs.ErrNotFound.
	UserBySubject(ctx context.Context, issuer, subject string) (*User, error)
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
}

// Lockouts counts failed sign-ins per name. It is apart from Users
// because names without a user are counted too (see LoginFailures), and
// because the count must hold across replicas, so it is stored.
//
// The key of a count is a user name (failures from every address), or
// FailureKey(name, address) (failures to the name from one address).
type Lockouts interface {
	// LoginFailures returns the failure count for name; a name without
	// failures yields a zero Count, not an error.
	LoginFailures(ctx context.Context, name string) (*LoginFailures, error)
	// RecordLoginFailure adds one failure at at, atomically, and returns
	// the new count. A count whose last failure is before staleBefore
	// starts again from one.
	RecordLoginFailure(ctx context.Context, name string, at, staleBefore time.Time) (*LoginFailures, error)
	// ClearLoginFailures forgets the failures for name, and for every
	// FailureKey of name with an address.
	ClearLoginFailures(ctx context.Context, name string) error
}

// Sessions keeps the sessions of signed-in browsers.
type Sessions interface {
	// CreateSession stores s, or reports errdefs.ErrConflict if its hash
	// is taken.
	CreateSession(ctx context.Context, s *Session) error
	// SessionByHash returns the session, expired or not, or
	// errdefs.ErrNotFound.
	SessionByHash(ctx context.Context, hash []byte) (*Session, error)
	// DeleteSession deletes the session; deleting a missing one is not
	// an error (signing out twice is fine).
	DeleteSession(ctx context.Context, hash []byte) error
	// DeleteUserSessions signs the user out everywhere.
	DeleteUserSessions(ctx context.Context, user string) error
}

// Grants keeps remembered approvals.
type Grants interface {
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

// Codes keeps authorization codes. The exchange is one atomic
// conditional update, not fosite's get, invalidate and create: a code can
// be spent once however many requests race for it (OAuth 2.1 §4.1.3).
type Codes interface {
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
}

// Tokens keeps access and refresh tokens and their families.
type Tokens interface {
	// TokenByHash returns the token, with its family's client, user and
	// resource, and RevokedAt set when the token or its family is
	// revoked; or errdefs.ErrNotFound.
	TokenByHash(ctx context.Context, hash []byte) (*Token, error)
	// RotateRefreshToken marks the refresh token rotated at at, revokes
	// every other live (neither rotated nor revoked) refresh token of its
	// family, and stores tokens in its family, in one transaction: a
	// family holds one valid refresh token, so the sibling a grace
	// re-issue made dies when either of the two is used (RFC 9700
	// §4.14.2). Exactly one of any
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
	// it reports errdefs.ErrConflict and stores nothing. An unknown token
	// is errdefs.ErrNotFound.
	ReissueRefreshToken(ctx context.Context, hash []byte, at time.Time, tokens ...*Token) error
	// AddTokens stores tokens in family familyID, unless the family is
	// revoked (errdefs.ErrConflict) or unknown (errdefs.ErrNotFound).
	AddTokens(ctx context.Context, familyID string, tokens ...*Token) error
	// CreateFamily creates family familyID for client clientID, bound to
	// resource and created at at, and stores tokens in it, in one
	// transaction: a family made without an authorization code. user ""
	// makes the client's own family (the client credentials grant: a
	// machine client gets tokens for itself), whose tokens read back with
	// an empty User; a user's family (the jwt-bearer grant: an enterprise
	// identity provider vouched for the user) is revoked with the user's
	// grant to the client. It reports errdefs.ErrNotFound if the client
	// or the user is not stored (deleted since it authenticated: a
	// deletion either comes first and nothing is issued, or after and
	// takes the family with it), and errdefs.ErrConflict if the family id
	// or a token hash is taken; either way it stores nothing.
	CreateFamily(ctx context.Context, familyID, clientID, user, resource string, at time.Time, tokens ...*Token) error
	// RevokeToken revokes one token at at, keeping an earlier revocation
	// time, or reports errdefs.ErrNotFound.
	RevokeToken(ctx context.Context, hash []byte, at time.Time) error
	// RevokeFamily revokes a family at at, keeping an earlier time: its
	// tokens, present and future, stop working. It reports
	// errdefs.ErrNotFound for an unknown family.
	RevokeFamily(ctx context.Context, familyID string, at time.Time) error
	// RevokeUserTokens revokes at at, keeping earlier times, every token
	// family of user: all the tokens any app holds for the user stop
	// working. Grants are kept. A user without families is not an error.
	RevokeUserTokens(ctx context.Context, user string, at time.Time) error
}

// Sweeper deletes what is no longer needed. Only the periodic cleanup
// uses it, so it is apart from the contracts the endpoints use. Every
// method is safe to run on several replicas at once.
type Sweeper interface {
	// DeleteUnusedClients deletes dynamic clients that were never used
	// and were created before neverUsedBefore, and those last used
	// before idleBefore, with their grants, codes and tokens. It returns
	// how many clients it deleted.
	DeleteUnusedClients(ctx context.Context, neverUsedBefore, idleBefore time.Time) (int, error)
	// DeleteExpiredCodes deletes codes that expired at or before before,
	// with their families when no token belongs to them, and returns how
	// many codes it deleted.
	DeleteExpiredCodes(ctx context.Context, before time.Time) (int, error)
	// DeleteExpiredTokens deletes tokens that expired at or before
	// before, and families left with neither tokens nor a code, and
	// returns how many tokens it deleted.
	DeleteExpiredTokens(ctx context.Context, before time.Time) (int, error)
	// DeleteExpiredSessions deletes sessions that expired at or before
	// before and returns how many.
	DeleteExpiredSessions(ctx context.Context, before time.Time) (int, error)
	// DeleteLoginFailures forgets every count whose last failure is
	// before before, and returns how many it forgot.
	DeleteLoginFailures(ctx context.Context, before time.Time) (int, error)
	// DeleteSpentAssertions forgets the spent assertions that expired at
	// or before before, and returns how many it forgot.
	DeleteSpentAssertions(ctx context.Context, before time.Time) (int, error)
}

// Store is everything the authorization server keeps: what a backend
// implements. Implementations: internal/store/sqlite and internal/store/postgres;
// internal/store/storetest.RunOAuth is the behaviour every one must show.
type Store interface {
	Clients
	Users
	Lockouts
	Sessions
	Grants
	Codes
	Tokens
	Assertions
	Sweeper
}

// Assertions remembers the assertions already spent at the token
// endpoint, so that one is accepted once (an ID-JAG's jti, which the
// enterprise-managed authorization profile requires checked for replay).
type Assertions interface {
	// SpendAssertion records that the assertion jti of issuer was used;
	// the record is kept until expiresAt (the assertion's exp), after
	// which the assertion is refused as expired anyway. It reports
	// errdefs.ErrConflict, recording nothing, when that issuer's jti was
	// already spent: exactly one of any number of concurrent calls for
	// the same pair succeeds.
	SpendAssertion(ctx context.Context, issuer, jti string, expiresAt time.Time) error
}

// FailureKey is the key of the failed sign-ins to name from one address
// (a rate-limit bucket: an IPv4 address, or an IPv6 /64). A user name
// holds no space, so the key cannot be taken for another name's.
func FailureKey(name, address string) string { return name + " " + address }
