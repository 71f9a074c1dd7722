// Package extauth is the resource server's side of an external
// authorization server (serve --oauth=external): it discovers the
// provider's metadata (RFC 8414 or OpenID Connect, whichever it serves),
// and turns the provider's access tokens into principals, either by
// verifying them as JWTs against its published keys (RFC 9068 shapes
// among others) or by asking its introspection endpoint (RFC 7662) about
// opaque ones. The provider's scope names, or its roles and groups, map to
// this server's scopes.
package extauth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/modelcontextprotocol/go-sdk/oauthex"

	"github.com/2coffee/mcp-2coffee/internal/authn"
	"github.com/2coffee/mcp-2coffee/internal/oauthmeta"
	"github.com/2coffee/mcp-2coffee/internal/webaddr"
)

// Config describes the external authorization server and how its tokens
// are read.
type Config struct {
	// Issuer is the provider's issuer identifier; its metadata is found
	// from it. Required.
	Issuer string
	// Audiences are accepted as a token's aud besides the resource's own
	// URL (some providers name an API by an identifier of their own, such
	// as api://blog or https://blog.example.com/).
	Audiences []string
	// Algorithms narrows the signature algorithms a JWT may use; empty is
	// AsymmetricAlgorithms. none and the HMACs are refused whatever is
	// given.
	Algorithms []string
	// Leeway is the clock skew allowed on exp, nbf and iat; 0 is
	// DefaultLeeway.
	Leeway time.Duration
	// Scopes says how the provider's scope names and roles become ours.
	Scopes ScopeMap
	// IntrospectionURL, when set, selects introspection (RFC 7662): every
	// token is sent there, authenticated as ClientID with ClientSecret
	// (client_secret_basic), and the answer is cached for at most
	// IntrospectionCache (0: DefaultIntrospectionCache; negative: no
	// cache), never past the token's expiry. Otherwise tokens are JWTs
	// verified against the provider's jwks_uri.
	IntrospectionURL, ClientID, ClientSecret string
	IntrospectionCache                       time.Duration
	// MinRefetch and KeyMaxAge tune the key set (NewKeySet).
	MinRefetch, KeyMaxAge time.Duration
	// HTTPClient reaches the provider; nil is a client with a 10 s timeout
	// that follows redirects only within the same origin.
	HTTPClient *http.Client
	Logger     *slog.Logger
	Now        func() time.Time
}

// Defaults.
const (
	DefaultLeeway             = time.Minute
	DefaultIntrospectionCache = time.Minute
)

// Verifier checks the external provider's access tokens. One is built at
// start-up and serves every resource through For.
type Verifier struct {
	issuer   string
	meta     *oauthex.AuthServerMeta
	cfg      Config
	algs     []jose.SignatureAlgorithm
	keys     *KeySet // JWT mode
	intro    *introspector
	log      *slog.Logger
	now      func() time.Time
	inverted map[string]string // the provider's scope name → ours
}

// New discovers the provider and returns its verifier. It fails when the
// metadata cannot be fetched or lacks what the chosen mode needs.
func New(ctx context.Context, cfg Config) (*Verifier, error) {
	if cfg.Issuer == "" {
		return nil, errors.New("the issuer of the authorization server is required")
	}
	fillDefaults(&cfg.HTTPClient, &cfg.Logger, &cfg.Now, &cfg.Leeway)
	algs, err := allowedAlgorithms(cfg.Algorithms)
	if err != nil {
		return nil, err
	}
	if err := cfg.Scopes.check(); err != nil {
		return nil, err
	}
	meta, from, err := oauthmeta.Discover(ctx, cfg.HTTPClient, cfg.Issuer, false)
	if err != nil {
		return nil, err
	}
	v := &Verifier{
		// Tokens must carry the issuer exactly as the provider spells
		// it; the metadata is where that spelling is authoritative.
		issuer: meta.Issuer, meta: meta, cfg: cfg, algs: algs,
		log: cfg.Logger, now: cfg.Now, inverted: cfg.Scopes.inverse(),
	}
	if cfg.IntrospectionURL != "" {
		if err := oauthmeta.CheckEndpoint("introspection endpoint", cfg.IntrospectionURL); err != nil {
			return nil, err
		}
		if cfg.ClientID == "" || cfg.ClientSecret == "" {
			return nil, errors.New("introspection needs the client id and secret this server authenticates with")
		}
		v.intro = newIntrospector(v)
	} else {
		if meta.JWKSURI == "" {
			return nil, fmt.Errorf("the metadata at %s names no jwks_uri, so its tokens cannot be verified as JWTs; use introspection instead", from)
		}
		if err := oauthmeta.CheckEndpoint("jwks_uri", meta.JWKSURI); err != nil {
			return nil, err
		}
		v.keys = NewKeySet(meta.JWKSURI, cfg.HTTPClient, cfg.Logger, cfg.MinRefetch, cfg.KeyMaxAge, cfg.Now)
		// Fetch them now: a jwks_uri that does not answer, or answers
		// with nothing usable, is a configuration to fix before serving.
		if _, err := v.keys.refresh(ctx); err != nil {
			return nil, err
		}
	}
	cfg.Logger.Debug("external authorization server", "issuer", meta.Issuer, "metadata", from, "mode", v.Mode())
	return v, nil
}

// Issuer is the provider's issuer identifier, as its metadata spells it:
// what the protected resource metadata names.
func (v *Verifier) Issuer() string { return v.issuer }

// Mode is "jwt" or "introspection".
func (v *Verifier) Mode() string {
	if v.intro != nil {
		return "introspection"
	}
	return "jwt"
}

// ScopesSupported lists the scope names clients request at the provider,
// for the protected resource metadata.
func (v *Verifier) ScopesSupported() []string {
	out := make([]string, 0, len(authn.AllScopes))
	for _, s := range authn.AllScopes {
		out = append(out, v.cfg.Scopes.Name(s))
	}
	return out
}

// grant is what a verified token says, whichever way it was checked.
type grant struct {
	subject  string
	scopes   []string
	audience []string
}

// For returns the verifier of tokens for the resource at resourceURL:
// their audience must be that URL or one of Config.Audiences.
func (v *Verifier) For(resourceURL string) authn.Verifier {
	want := append([]string{resourceURL}, v.cfg.Audiences...)
	return func(ctx context.Context, token string) (*authn.Principal, error) {
		var g *grant
		var err error
		if v.intro != nil {
			g, err = v.intro.check(ctx, token)
		} else {
			g, err = v.verifyJWT(ctx, token)
		}
		if err != nil {
			return nil, err
		}
		if !slices.ContainsFunc(g.audience, func(a string) bool { return slices.Contains(want, a) }) {
			return nil, errWrongAudience
		}
		return &authn.Principal{Subject: g.subject, Scopes: g.scopes, Method: "oauth"}, nil
	}
}

// The refusals, each one reason of the fixed vocabulary (a metrics label)
// with what the client is told.
var (
	errNotJWT        = &authn.CredentialError{Reason: "unrecognized", Description: "the credential is not a JWT access token", Unrecognized: true}
	errMalformed     = &authn.CredentialError{Reason: "malformed", Description: "the access token is not a well-formed signed JWT"}
	errAlgorithm     = &authn.CredentialError{Reason: "algorithm", Description: "the access token is signed with an algorithm this server does not accept"}
	errType          = &authn.CredentialError{Reason: "type", Description: "the token is not an access token (typ must be JWT or at+jwt)"}
	errUnknownKey    = &authn.CredentialError{Reason: "unknown_key", Description: "the access token is signed with a key the authorization server does not publish"}
	errSignature     = &authn.CredentialError{Reason: "signature", Description: "the access token's signature does not verify"}
	errWrongIssuer   = &authn.CredentialError{Reason: "wrong_issuer", Description: "the access token was issued by another authorization server"}
	errWrongAudience = &authn.CredentialError{Reason: "wrong_audience", Description: "the access token was issued for another resource"}
	errExpired       = &authn.CredentialError{Reason: "expired", Description: "the access token has expired"}
	errNotYetValid   = &authn.CredentialError{Reason: "not_yet_valid", Description: "the access token is not valid yet"}
	errInactive      = &authn.CredentialError{Reason: "inactive", Description: "the authorization server says the access token is not active"}
)

// fillDefaults sets what a provider's configuration leaves out, the same
// for its access tokens and its ID-JAGs: a client with a 10 s timeout
// that follows redirects only within the same origin, no logs, the real
// clock, DefaultLeeway.
func fillDefaults(hc **http.Client, log **slog.Logger, now *func() time.Time, leeway *time.Duration) {
	if *hc == nil {
		*hc = &http.Client{Timeout: 10 * time.Second, CheckRedirect: webaddr.SameOriginRedirects(nil)}
	}
	if *log == nil {
		*log = slog.New(slog.DiscardHandler)
	}
	if *now == nil {
		*now = time.Now
	}
	if *leeway <= 0 {
		*leeway = DefaultLeeway
	}
}

// allowedAlgorithms parses the operator's list, refusing none and the
// HMACs: a verifier that takes HS256 can be fooled with the public key as
// the secret.
func allowedAlgorithms(names []string) ([]jose.SignatureAlgorithm, error) {
	if len(names) == 0 {
		return AsymmetricAlgorithms, nil
	}
	var out []jose.SignatureAlgorithm
	for _, n := range names {
		a := jose.SignatureAlgorithm(strings.TrimSpace(n))
		if !slices.Contains(AsymmetricAlgorithms, a) {
			return nil, fmt.Errorf("signature algorithm %q is not accepted: want some of %v (never none or an HMAC)", n, AsymmetricAlgorithms)
		}
		out = append(out, a)
	}
	return out, nil
}
