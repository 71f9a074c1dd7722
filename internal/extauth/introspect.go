package extauth

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4/jwt"
	"golang.org/x/sync/singleflight"

	"github.com/2coffee/mcp-2coffee/internal/authn"
	"github.com/2coffee/mcp-2coffee/internal/oauthmeta"
)

// maxCached bounds the introspection cache; past it an arbitrary entry
// makes room, which keeps every insertion O(1) even under a flood of
// made-up tokens.
const maxCached = 10000

// negativeTTL bounds how long a refusal is remembered: long enough to
// spare the provider a client retrying a dead token, short enough not to
// matter if the provider was briefly wrong.
const negativeTTL = 10 * time.Second

// maxInFlight bounds the introspection requests under way at once: a
// flood of made-up tokens, each a request to the provider, gets 503s
// past it instead of making this server a cannon aimed at the provider.
const maxInFlight = 32

var errBusy = errors.New("too many introspections are under way; try again in a moment")

// introspector asks the provider about each token (RFC 7662) and
// remembers the answer briefly: accepted tokens and refusals apart, so
// that a flood of refused ones cannot push good answers out.
type introspector struct {
	v        *Verifier
	ttl      time.Duration // ≤ 0: no cache
	group    singleflight.Group
	inFlight chan struct{}
	mu       sync.Mutex
	accepted map[[sha256.Size]byte]cached
	refused  map[[sha256.Size]byte]cached
}

type cached struct {
	g     *grant
	err   error
	until time.Time
}

func newIntrospector(v *Verifier) *introspector {
	ttl := v.cfg.IntrospectionCache
	if ttl == 0 {
		ttl = DefaultIntrospectionCache
	}
	return &introspector{v: v, ttl: ttl, inFlight: make(chan struct{}, maxInFlight),
		accepted: map[[sha256.Size]byte]cached{}, refused: map[[sha256.Size]byte]cached{}}
}

var errNotToken = &authn.CredentialError{Reason: "malformed", Description: "the credential is not a bearer token (RFC 6750 characters only)"}

// check returns what the provider says of token, from the cache when it
// said so recently. Only answers about the token are cached; a failure to
// ask (the provider down) is not.
func (in *introspector) check(ctx context.Context, token string) (*grant, error) {
	if !isB64Token(token) {
		return nil, errNotToken
	}
	// The cache is keyed by the token's hash: the token itself is never
	// kept, and the hash of a 256-bit-strong secret reveals nothing.
	key := sha256.Sum256([]byte(token))
	now := in.v.now()
	if in.ttl > 0 {
		in.mu.Lock()
		c, ok := in.accepted[key]
		if !ok {
			c, ok = in.refused[key]
		}
		in.mu.Unlock()
		if ok && now.Before(c.until) {
			return c.g, c.err
		}
	}
	ch := in.group.DoChan(string(key[:]), func() (any, error) {
		select {
		case in.inFlight <- struct{}{}:
			defer func() { <-in.inFlight }()
		default:
			return nil, errBusy
		}
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		g, until, err := in.introspect(ctx, token)
		if _, answered := err.(*authn.CredentialError); (err == nil || answered) && in.ttl > 0 {
			in.remember(key, cached{g: g, err: err, until: until})
		}
		return g, err
	})
	return wait[*grant](ctx, ch)
}

func (in *introspector) remember(key [sha256.Size]byte, c cached) {
	in.mu.Lock()
	defer in.mu.Unlock()
	m := in.accepted
	if c.err != nil {
		m = in.refused
	}
	if len(m) >= maxCached {
		now := in.v.now()
		for k, old := range m {
			delete(m, k)
			if !now.Before(old.until) {
				continue // an expired one went; one more may go too
			}
			break
		}
	}
	m[key] = c
}

// introspection is the RFC 7662 §2.2 answer, as much of it as is read.
type introspection struct {
	Active    bool             `json:"active"`
	Scope     string           `json:"scope"`
	ClientID  string           `json:"client_id"`
	Subject   string           `json:"sub"`
	Audience  jwt.Audience     `json:"aud"`
	Issuer    string           `json:"iss"`
	Expiry    *jwt.NumericDate `json:"exp"`
	NotBefore *jwt.NumericDate `json:"nbf"`
	TokenType string           `json:"token_type"`
	// What kind of token it is, where the provider says so besides
	// token_type (which RFC 7662 has name Bearer or DPoP): Hydra's
	// token_use, Keycloak's typ.
	TokenUse string `json:"token_use"`
	Typ      string `json:"typ"`
}

// isAccessToken reports whether an introspection answer is about an
// access token: a refresh token (or an ID token) is active too, and
// Hydra answers about one whatever the hint says.
func (r *introspection) isAccessToken() bool {
	switch strings.ToLower(r.TokenType) {
	case "", "bearer", "dpop", "access_token":
	default:
		return false
	}
	return (r.TokenUse == "" || r.TokenUse == "access_token") && accessTyp(r.Typ)
}

// introspect asks the provider. A *authn.CredentialError is its answer
// about the token; any other error means it could not be asked.
func (in *introspector) introspect(ctx context.Context, token string) (*grant, time.Time, error) {
	v := in.v
	form := url.Values{"token": {token}, "token_type_hint": {"access_token"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, v.cfg.IntrospectionURL, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, time.Time{}, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	oauthmeta.SetClientSecretBasic(req, v.cfg.ClientID, v.cfg.ClientSecret)
	resp, err := v.cfg.HTTPClient.Do(req)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("introspection: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, oauthmeta.MaxDocumentBytes+1))
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("introspection: %w", err)
	}
	if len(body) > oauthmeta.MaxDocumentBytes {
		return nil, time.Time{}, fmt.Errorf("introspection: the answer is larger than %d bytes", oauthmeta.MaxDocumentBytes)
	}
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return nil, time.Time{}, fmt.Errorf("the introspection endpoint refused this server's client credentials (%s): check --oauth-client-id and --oauth-client-secret-file", resp.Status)
	case resp.StatusCode != http.StatusOK:
		return nil, time.Time{}, fmt.Errorf("introspection: %s", resp.Status)
	case !oauthmeta.IsJSON(resp.Header.Get("Content-Type")):
		return nil, time.Time{}, fmt.Errorf("introspection: content type %q, want application/json", resp.Header.Get("Content-Type"))
	}
	var r introspection
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, time.Time{}, fmt.Errorf("introspection: %w", err)
	}
	now := v.now()
	refused := now.Add(min(in.ttl, negativeTTL))
	switch {
	case !r.Active:
		return nil, refused, errInactive
	case r.Issuer != "" && r.Issuer != v.issuer:
		return nil, refused, errWrongIssuer
	case !r.isAccessToken():
		return nil, refused, errIDToken
	case r.Expiry != nil && now.Add(-v.cfg.Leeway).After(r.Expiry.Time()):
		return nil, refused, errExpired
	case r.NotBefore != nil && now.Add(v.cfg.Leeway).Before(r.NotBefore.Time()):
		return nil, refused, errNotYetValid
	}
	var roles []string
	if v.cfg.Scopes.RolesClaim != "" {
		var all map[string]any
		if json.Unmarshal(body, &all) == nil {
			roles = claimValues(all, v.cfg.Scopes.RolesClaim)
		}
	}
	until := now.Add(in.ttl)
	if r.Expiry != nil && r.Expiry.Time().Before(until) {
		until = r.Expiry.Time()
	}
	return &grant{
		subject:  subjectOf(r.Subject, r.ClientID, ""),
		scopes:   v.scopesOf(strings.Fields(r.Scope), roles),
		audience: r.Audience,
	}, until, nil
}

// isB64Token reports whether s is an RFC 6750 §2.1 b64token: what a
// bearer token may hold. Anything else is not sent to the provider.
func isB64Token(s string) bool {
	body := strings.TrimRight(s, "=")
	if body == "" {
		return false
	}
	for i := 0; i < len(body); i++ {
		c := body[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("-._~+/", c) >= 0:
		default:
			return false
		}
	}
	return true
}
