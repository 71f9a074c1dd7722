// Package idptest is an authorization server's public face for tests of
// the resource server's side of an external provider (extauth, and serve
// --oauth=external): OpenID Connect metadata, a key set a test may
// rotate, tokens signed as a test needs them, and an introspection
// endpoint that answers what the test put in it. The interoperability
// tests run a real third-party server (Ory Hydra, test/interop); this one
// lets each edge case be made exactly.
package idptest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/2coffee/mcp-2coffee/internal/testkit"
)

// Introspection client credentials the endpoint accepts. They hold
// characters RFC 6749 §2.3.1 has form-encoded before HTTP Basic, and the
// endpoint checks the encoded forms.
const (
	ClientID     = "blog:server"
	ClientSecret = "s&cret"
)

// Provider is a running test provider.
type Provider struct {
	t *testing.T
	// URL is its issuer and base URL.
	URL string

	mu      sync.Mutex
	keys    []jose.JSONWebKey // published
	signer  *rsa.PrivateKey
	kid     string
	serial  int
	answers map[string]map[string]any

	fetches, introspections atomic.Int32
	failKeys                atomic.Bool
}

// New starts a provider on 127.0.0.1 for the test's lifetime.
func New(t *testing.T) *Provider {
	p := &Provider{t: t, answers: map[string]map[string]any{}}
	p.Rotate()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, map[string]any{
			"issuer": p.URL, "jwks_uri": p.URL + "/jwks", "token_endpoint": p.URL + "/token",
			"authorization_endpoint": p.URL + "/authorize", "introspection_endpoint": p.URL + "/introspect",
		})
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) {
		p.fetches.Add(1)
		if p.failKeys.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		writeJSON(w, jose.JSONWebKeySet{Keys: p.keys})
	})
	mux.HandleFunc("POST /introspect", func(w http.ResponseWriter, r *http.Request) {
		p.introspections.Add(1)
		id, secret, ok := r.BasicAuth()
		if !ok || id != "blog%3Aserver" || secret != "s%26cret" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"error":"invalid_client"}`)
			return
		}
		r.ParseForm()
		p.mu.Lock()
		a, ok := p.answers[r.PostForm.Get("token")]
		p.mu.Unlock()
		if !ok {
			a = map[string]any{"active": false}
		}
		writeJSON(w, a)
	})
	p.URL = testkit.Serve(t, mux).URL
	return p
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

// Rotate makes a new signing key and publishes only it, as a provider
// does when it retires the old one.
func (p *Provider) Rotate() {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		p.t.Fatal(err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.serial++
	p.signer, p.kid = k, fmt.Sprintf("key-%d", p.serial)
	p.keys = []jose.JSONWebKey{{Key: &k.PublicKey, KeyID: p.kid, Algorithm: "RS256", Use: "sig"}}
}

// Signer returns the current signing key and its key id.
func (p *Provider) Signer() (*rsa.PrivateKey, string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.signer, p.kid
}

// Claims are the claims of a good token for the resource aud, with scope
// "openid articles:read"; a test changes what it tests.
func (p *Provider) Claims(aud string) map[string]any {
	now := time.Now()
	return map[string]any{
		"iss": p.URL, "sub": "alice", "aud": aud, "scope": "openid articles:read",
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(), "client_id": "app",
	}
}

// Sign signs claims by alg with key under kid (the provider's current
// key and id when key is nil), with header typ (none when "").
func (p *Provider) Sign(claims map[string]any, key any, alg jose.SignatureAlgorithm, kid, typ string) string {
	if key == nil {
		key, kid = p.Signer()
	}
	opts := (&jose.SignerOptions{}).WithHeader("kid", kid)
	if typ != "" {
		opts = opts.WithType(jose.ContentType(typ))
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		p.t.Fatal(err)
	}
	tok, err := jwt.Signed(s).Claims(claims).Serialize()
	if err != nil {
		p.t.Fatal(err)
	}
	return tok
}

// Token is a good at+jwt access token for aud, changed by edit.
func (p *Provider) Token(aud string, edit func(map[string]any)) string {
	c := p.Claims(aud)
	if edit != nil {
		edit(c)
	}
	return p.Sign(c, nil, jose.RS256, "", "at+jwt")
}

// Answer sets what introspection says of token.
func (p *Provider) Answer(token string, a map[string]any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.answers[token] = a
}

// Fetches counts requests for the key set; Introspections requests to
// the introspection endpoint.
func (p *Provider) Fetches() int        { return int(p.fetches.Load()) }
func (p *Provider) Introspections() int { return int(p.introspections.Load()) }

// FailKeys makes the key set answer 503 while on.
func (p *Provider) FailKeys(on bool) { p.failKeys.Store(on) }

// PublicPEM is the PEM of the current signing key's public half: what an
// attacker would use as an HMAC secret.
func (p *Provider) PublicPEM() []byte {
	k, _ := p.Signer()
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		p.t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// ECKey is a fresh P-256 key the provider does not publish.
func ECKey(t testing.TB) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}
