package extauth

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"golang.org/x/sync/singleflight"

	"github.com/2coffee/mcp-2coffee/internal/oauthmeta"
)

// KeySet is an authorization server's published signing keys (its JWKS),
// fetched on first use and again when a token names a key it does not
// hold, so a rotation at the provider is followed without a restart. A
// refetch happens at most once per MinRefetch however many unknown keys
// arrive, so tokens with made-up key ids cannot make us hammer the
// provider; and the keys are refreshed when older than MaxAge, so a key
// the provider withdrew stops verifying. Concurrent fetches are one fetch.
//
// Only public signature keys are kept: RSA, EC and Ed25519 (kty oct,
// a symmetric key, never is, so no token can be verified with HMAC over a
// key anyone can read). It satisfies go-oidc's KeySet interface.
type KeySet struct {
	url    string
	client *http.Client
	log    *slog.Logger
	// MinRefetch is the least time between two fetches prompted by an
	// unknown key id; MaxAge how long keys are used before they are
	// fetched again. now is the clock.
	minRefetch, maxAge time.Duration
	now                func() time.Time

	group singleflight.Group
	mu    sync.Mutex
	keys  []jose.JSONWebKey
	// fetched is when the keys were last fetched; tried when a fetch was
	// last attempted, successful or not.
	fetched, tried time.Time
	lastErr        error // of the last fetch
}

// Defaults of the key set's timing, and how long keys that cannot be
// fetched again are used past MaxAge before every token is refused (503).
const (
	DefaultMinRefetch = 30 * time.Second
	DefaultKeyMaxAge  = time.Hour
	MaxStale          = 24 * time.Hour
)

// NewKeySet returns the key set published at jwksURL. minRefetch and
// maxAge of 0 take the defaults; now nil is time.Now.
func NewKeySet(jwksURL string, client *http.Client, log *slog.Logger, minRefetch, maxAge time.Duration, now func() time.Time) *KeySet {
	if minRefetch <= 0 {
		minRefetch = DefaultMinRefetch
	}
	if maxAge <= 0 {
		maxAge = DefaultKeyMaxAge
	}
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &KeySet{url: jwksURL, client: client, log: log, minRefetch: minRefetch, maxAge: maxAge, now: now}
}

// errNoKey means no published key has the token's key id.
var errNoKey = errors.New("no published key has this key id")

// Keys returns the keys that may have signed a token with key id kid and
// algorithm alg: the key with that id, or, for a token without one, every
// key whose type fits alg. It fetches the set when it has none, when it is
// older than MaxAge, or when no key has kid; but never sooner than
// MinRefetch after the last attempt, when it answers from what it holds. An error that is not errNoKey means the keys could not be
// fetched at all.
func (k *KeySet) Keys(ctx context.Context, kid, alg string) ([]jose.JSONWebKey, error) {
	k.mu.Lock()
	keys, fetched, tried, lastErr := k.keys, k.fetched, k.tried, k.lastErr
	k.mu.Unlock()
	now := k.now()
	current := !fetched.IsZero() && now.Sub(fetched) < k.maxAge
	recent := !tried.IsZero() && now.Sub(tried) < k.minRefetch
	if current || recent {
		m := matching(keys, kid, alg)
		if len(m) > 0 || recent {
			if keys == nil {
				// The first fetch failed a moment ago: say so again
				// rather than asking the provider on every request.
				return nil, lastErr
			}
			if !current && now.Sub(fetched) > MaxStale {
				return nil, fmt.Errorf("the keys from %s are more than %v old and cannot be fetched again: %w", k.url, MaxStale, lastErr)
			}
			return m, nilOr(m)
		}
	}
	fresh, err := k.refresh(ctx)
	if err != nil {
		if keys == nil {
			return nil, err
		}
		if now.Sub(fetched) > MaxStale {
			// A key the provider withdrew must stop working some time.
			return nil, fmt.Errorf("the keys from %s are more than %v old and cannot be fetched again: %w", k.url, MaxStale, err)
		}
		k.log.Warn("could not refresh the authorization server's keys; using the ones held", "jwks_uri", k.url, "err", err)
		fresh = keys
	}
	m := matching(fresh, kid, alg)
	return m, nilOr(m)
}

func nilOr(m []jose.JSONWebKey) error {
	if len(m) == 0 {
		return errNoKey
	}
	return nil
}

// refresh fetches the set once for all concurrent callers.
func (k *KeySet) refresh(ctx context.Context) ([]jose.JSONWebKey, error) {
	ch := k.group.DoChan("", func() (any, error) {
		// The fetch outlives a caller that gives up: the others wait on it.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		keys, err := k.fetch(ctx)
		k.mu.Lock()
		defer k.mu.Unlock()
		k.tried, k.lastErr = k.now(), err
		if err != nil {
			return nil, err
		}
		k.keys, k.fetched = keys, k.tried
		k.log.Debug("fetched the authorization server's keys", "jwks_uri", k.url, "keys", len(keys))
		return keys, nil
	})
	return wait[[]jose.JSONWebKey](ctx, ch)
}

// wait returns the result of a shared call once it comes, or the
// caller's context error first (the call goes on for the others).
func wait[T any](ctx context.Context, ch <-chan singleflight.Result) (T, error) {
	var zero T
	select {
	case <-ctx.Done():
		return zero, ctx.Err()
	case r := <-ch:
		if r.Err != nil {
			return zero, r.Err
		}
		return r.Val.(T), nil
	}
}

// fetch reads and filters the published set.
func (k *KeySet) fetch(ctx context.Context) ([]jose.JSONWebKey, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, k.url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json, application/jwk-set+json")
	resp, err := k.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetching the keys: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetching the keys from %s: %s", k.url, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, oauthmeta.MaxDocumentBytes+1))
	if err != nil {
		return nil, fmt.Errorf("fetching the keys: %w", err)
	}
	if len(body) > oauthmeta.MaxDocumentBytes {
		return nil, fmt.Errorf("the key set at %s is larger than %d bytes", k.url, oauthmeta.MaxDocumentBytes)
	}
	var raw struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, fmt.Errorf("the key set at %s: %w", k.url, err)
	}
	var keys []jose.JSONWebKey
	for _, r := range raw.Keys {
		// RFC 7517 §5: keys of a type or curve we do not understand are
		// skipped, not fatal: providers publish some (Ed448, secp256k1).
		var key jose.JSONWebKey
		if err := key.UnmarshalJSON(r); err != nil {
			continue
		}
		if key.Use != "" && key.Use != "sig" {
			continue
		}
		switch key.Key.(type) {
		case *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey:
		case *rsa.PrivateKey, *ecdsa.PrivateKey, ed25519.PrivateKey:
			// Anyone can read a published private key and sign with it:
			// nothing signed by this provider can be trusted any more.
			return nil, fmt.Errorf("the key set at %s publishes a private key (kid %q): refusing every key of it until the provider is fixed", k.url, key.KeyID)
		default:
			continue // a symmetric key, or one go-jose cannot use
		}
		keys = append(keys, key)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("the key set at %s holds no public signing key", k.url)
	}
	return keys, nil
}

// matching returns the keys that may verify a signature by alg under kid.
func matching(keys []jose.JSONWebKey, kid, alg string) []jose.JSONWebKey {
	var m []jose.JSONWebKey
	for _, key := range keys {
		if kid != "" && key.KeyID != kid {
			continue
		}
		if key.Algorithm != "" && key.Algorithm != alg {
			continue
		}
		if !fits(key, alg) {
			continue
		}
		m = append(m, key)
	}
	return m
}

// fits reports whether the key's type can make a signature by alg.
func fits(key jose.JSONWebKey, alg string) bool {
	switch key.Key.(type) {
	case *rsa.PublicKey:
		switch jose.SignatureAlgorithm(alg) {
		case jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512:
			return true
		}
	case *ecdsa.PublicKey:
		switch jose.SignatureAlgorithm(alg) {
		case jose.ES256, jose.ES384, jose.ES512:
			return true
		}
	case ed25519.PublicKey:
		return jose.SignatureAlgorithm(alg) == jose.EdDSA
	}
	return false
}

// VerifySignature checks a compact JWS against the set and returns its
// payload (go-oidc's KeySet). The caller has already checked the
// algorithm against its allow-list; this accepts only asymmetric ones.
func (k *KeySet) VerifySignature(ctx context.Context, token string) ([]byte, error) {
	jws, err := jose.ParseSigned(token, AsymmetricAlgorithms)
	if err != nil {
		return nil, fmt.Errorf("malformed JWS: %w", err)
	}
	if len(jws.Signatures) != 1 {
		return nil, errors.New("want exactly one signature")
	}
	h := jws.Signatures[0].Header
	keys, err := k.Keys(ctx, h.KeyID, h.Algorithm)
	if err != nil {
		return nil, err
	}
	for _, key := range keys {
		if payload, err := jws.Verify(key.Key); err == nil {
			return payload, nil
		}
	}
	return nil, errors.New("no published key verifies the signature")
}

// AsymmetricAlgorithms are the signature algorithms a token may use
// unless the operator narrows them: every asymmetric one go-jose knows.
// Never none, never an HMAC.
var AsymmetricAlgorithms = []jose.SignatureAlgorithm{
	jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512,
	jose.ES256, jose.ES384, jose.ES512, jose.EdDSA,
}
