package extauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/2coffee/mcp-2coffee/internal/oauthmeta"
)

// This file is the authorization server's side of enterprise-managed
// authorization (the MCP extension io.modelcontextprotocol/enterprise-
// managed-authorization, SEP-990): an enterprise identity provider the
// operator trusts issues an Identity Assertion JWT Authorization Grant
// (ID-JAG, draft-ietf-oauth-identity-assertion-authz-grant) to an MCP
// client for a user, and the client presents it at our token endpoint
// with the RFC 7523 jwt-bearer grant. A GrantVerifier checks the JWT; what
// it grants (the client, the resource, the scopes, the user) is the token
// endpoint's to decide.

// IDJAGType is the JOSE typ of an ID-JAG (its media type, without the
// application/ prefix, which RFC 7515 §4.1.9 lets a typ leave out).
const IDJAGType = "oauth-id-jag+jwt"

// MaxGrantLifetime is the longest an ID-JAG may be valid (exp − iat). The
// profile requires them short-lived, and a spent one's jti is kept until
// it expires; providers issue them for about five minutes.
const MaxGrantLifetime = time.Hour

// maxJTI bounds the jti that is stored to refuse a replay.
const maxJTI = 256

// GrantConfig names the enterprise identity provider whose ID-JAGs are
// accepted.
type GrantConfig struct {
	// Issuer is the provider's issuer identifier; its metadata (RFC 8414
	// or OpenID Connect) must name a jwks_uri. Required.
	Issuer string
	// Audience is our authorization server's issuer identifier: an
	// ID-JAG's aud must hold it exactly. Required.
	Audience string
	// Algorithms narrows the signature algorithms, as Config.Algorithms.
	Algorithms []string
	// Leeway is the clock skew allowed on exp, nbf and iat; 0 is
	// DefaultLeeway.
	Leeway time.Duration
	// MinRefetch and KeyMaxAge tune the key set (NewKeySet).
	MinRefetch, KeyMaxAge time.Duration
	HTTPClient            *http.Client
	Logger                *slog.Logger
	Now                   func() time.Time
}

// GrantVerifier checks ID-JAGs of one enterprise identity provider.
type GrantVerifier struct {
	issuer, audience string
	algs             []jose.SignatureAlgorithm
	keys             *KeySet
	leeway           time.Duration
	now              func() time.Time
}

// IDJAG is what a verified ID-JAG says.
type IDJAG struct {
	// Issuer and Subject name the user at the identity provider.
	Issuer, Subject string
	// ClientID is the client the grant is for, as our server knows it.
	ClientID string
	// JTI identifies the grant, to be spent once; Expiry is its exp.
	JTI    string
	Expiry time.Time
	// Resources are the resource claim's values (RFC 8707 URIs); none
	// when the grant does not name one.
	Resources []string
	// Scopes are the scope claim's values; HasScope says whether the
	// claim is there (a grant without it leaves the scope to the client's
	// request and registration).
	Scopes   []string
	HasScope bool
	// What names the user here, as in an ID token.
	Email             string
	EmailVerified     bool
	PreferredUsername string
	Name              string
}

// GrantError is an ID-JAG refused: its Description says why, for the
// invalid_grant answer.
type GrantError struct{ Description string }

func (e *GrantError) Error() string { return e.Description }

func refused(format string, args ...any) error {
	return &GrantError{Description: fmt.Sprintf(format, args...)}
}

// NewGrantVerifier discovers the provider and fetches its keys: a
// provider that cannot be reached, or publishes no usable key, is a
// configuration to fix before serving.
func NewGrantVerifier(ctx context.Context, cfg GrantConfig) (*GrantVerifier, error) {
	if cfg.Issuer == "" || cfg.Audience == "" {
		return nil, errors.New("the enterprise identity provider's issuer and our issuer are required")
	}
	fillDefaults(&cfg.HTTPClient, &cfg.Logger, &cfg.Now, &cfg.Leeway)
	algs, err := allowedAlgorithms(cfg.Algorithms)
	if err != nil {
		return nil, err
	}
	meta, from, err := oauthmeta.Discover(ctx, cfg.HTTPClient, cfg.Issuer, false)
	if err != nil {
		return nil, err
	}
	if meta.JWKSURI == "" {
		return nil, fmt.Errorf("the metadata at %s names no jwks_uri, so its ID-JAGs cannot be verified", from)
	}
	if err := oauthmeta.CheckEndpoint("jwks_uri", meta.JWKSURI); err != nil {
		return nil, err
	}
	g := &GrantVerifier{
		issuer: meta.Issuer, audience: cfg.Audience, algs: algs, leeway: cfg.Leeway, now: cfg.Now,
		keys: NewKeySet(meta.JWKSURI, cfg.HTTPClient, cfg.Logger, cfg.MinRefetch, cfg.KeyMaxAge, cfg.Now),
	}
	if _, err := g.keys.refresh(ctx); err != nil {
		return nil, err
	}
	cfg.Logger.Debug("enterprise identity provider", "issuer", meta.Issuer, "metadata", from)
	return g, nil
}

// Issuer is the provider's issuer identifier, as its metadata spells it.
func (g *GrantVerifier) Issuer() string { return g.issuer }

// idjagClaims are an ID-JAG's claims besides the registered ones.
type idjagClaims struct {
	ClientID          any             `json:"client_id"`
	Resource          json.RawMessage `json:"resource"`
	Scope             json.RawMessage `json:"scope"`
	Email             any             `json:"email"`
	EmailVerified     any             `json:"email_verified"`
	PreferredUsername any             `json:"preferred_username"`
	Name              any             `json:"name"`
}

// Verify checks an ID-JAG (draft-ietf-oauth-identity-assertion-authz-
// grant §3 and §4.4.1, the MCP profile's §7.4): typ oauth-id-jag+jwt, an
// allowed asymmetric algorithm, the signature against the provider's
// published keys (refetched on an unknown kid), iss exactly the
// provider's, aud holding our issuer, sub, client_id and jti present, exp
// and iat present and valid within the leeway, and a lifetime of at most
// MaxGrantLifetime. A refusal is a *GrantError; any other error means the
// provider's keys could not be had (try again later).
func (g *GrantVerifier) Verify(ctx context.Context, assertion string) (*IDJAG, error) {
	h, ok := peekHeader(assertion)
	if !ok {
		return nil, refused("the assertion is not a signed JWT")
	}
	if !slices.Contains(g.algs, jose.SignatureAlgorithm(h.Alg)) {
		return nil, refused("the assertion is signed with an algorithm this server does not accept")
	}
	if !strings.EqualFold(strings.TrimPrefix(strings.ToLower(h.Typ), "application/"), IDJAGType) {
		// An ID token, an access token or any other JWT of the provider
		// is not a grant, whatever its claims say.
		return nil, refused("the assertion is not an ID-JAG (typ must be %s)", IDJAGType)
	}
	var std jwt.Claims
	var extra idjagClaims
	switch err := verifySigned(ctx, g.keys, g.algs, h, assertion, &std, &extra); {
	case err == nil:
	case errors.Is(err, errMalformed):
		return nil, refused("the assertion is not a well-formed signed JWT")
	case errors.Is(err, errUnknownKey):
		return nil, refused("the assertion is signed with a key the identity provider does not publish")
	case errors.Is(err, errSignature):
		return nil, refused("the assertion's signature does not verify")
	default:
		return nil, fmt.Errorf("the enterprise identity provider's keys: %w", err)
	}
	clientID, _ := extra.ClientID.(string)
	switch {
	case std.Expiry == nil || std.IssuedAt == nil:
		return nil, refused("the ID-JAG must carry exp and iat")
	case std.Subject == "":
		return nil, refused("the ID-JAG names no subject (sub)")
	case clientID == "":
		return nil, refused("the ID-JAG names no client (client_id)")
	case std.ID == "" || len(std.ID) > maxJTI:
		return nil, refused("the ID-JAG must carry a jti of at most %d characters", maxJTI)
	case std.Expiry.Time().Sub(std.IssuedAt.Time()) > MaxGrantLifetime:
		return nil, refused("the ID-JAG is valid for longer than %v", MaxGrantLifetime)
	}
	switch err := std.ValidateWithLeeway(jwt.Expected{Issuer: g.issuer, AnyAudience: jwt.Audience{g.audience}, Time: g.now()}, g.leeway); {
	case err == nil:
	case errors.Is(err, jwt.ErrInvalidIssuer):
		return nil, refused("the ID-JAG was issued by another identity provider")
	case errors.Is(err, jwt.ErrInvalidAudience):
		return nil, refused("the ID-JAG is for another authorization server (aud must be %s)", g.audience)
	case errors.Is(err, jwt.ErrExpired):
		return nil, refused("the ID-JAG has expired")
	case errors.Is(err, jwt.ErrNotValidYet), errors.Is(err, jwt.ErrIssuedInTheFuture):
		return nil, refused("the ID-JAG is not valid yet")
	default:
		return nil, refused("the ID-JAG's claims are not valid")
	}
	out := &IDJAG{
		Issuer: std.Issuer, Subject: std.Subject, ClientID: clientID, JTI: std.ID, Expiry: std.Expiry.Time().UTC(),
		Resources: resourcesOf(extra.Resource), Scopes: stringsOf(extra.Scope), HasScope: len(extra.Scope) > 0 && string(extra.Scope) != "null",
		Email: str(extra.Email), EmailVerified: extra.EmailVerified == true || extra.EmailVerified == "true",
		PreferredUsername: str(extra.PreferredUsername), Name: str(extra.Name),
	}
	if len(extra.Resource) > 0 && string(extra.Resource) != "null" && out.Resources == nil {
		return nil, refused("the ID-JAG's resource must be a URI or an array of URIs")
	}
	return out, nil
}

// resourcesOf reads the resource claim: one URI, or an array of them
// (never split at spaces: a URI holds none).
func resourcesOf(raw json.RawMessage) []string {
	if len(raw) == 0 {
		return nil
	}
	var one string
	if json.Unmarshal(raw, &one) == nil && one != "" {
		return []string{one}
	}
	var list []string
	if json.Unmarshal(raw, &list) == nil && len(list) > 0 && !slices.Contains(list, "") {
		return list
	}
	return nil
}
