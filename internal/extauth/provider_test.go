package extauth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/2coffee/mcp-2coffee/internal/authn"
	"github.com/2coffee/mcp-2coffee/internal/testkit"
)

// provider is an authorization server's public face for these tests:
// its metadata, its key set (which a test may rotate), and an
// introspection endpoint that answers what the test put in it. The
// interoperability tests run a real third-party server
// (test/interop/extauth_test.go); this one lets each edge case be made
// exactly.
type provider struct {
	t      *testing.T
	URL    string
	mu     sync.Mutex
	keys   []jose.JSONWebKey // published
	signer *rsa.PrivateKey
	kid    string
	// fetches counts key set requests; introspections introspection
	// requests; answers maps a token to its introspection answer.
	fetches, introspections atomic.Int32
	answers                 map[string]map[string]any
	failKeys                atomic.Bool
}

const resource = "http://127.0.0.1:3000/mcp"

func newProvider(t *testing.T) *provider {
	p := &provider{t: t, answers: map[string]map[string]any{}}
	p.rotate()
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
			http.Error(w, `{"error":"invalid_client"}`, http.StatusUnauthorized)
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

// rotate makes a new signing key and publishes only it, as a provider
// does when it retires the old one.
func (p *provider) rotate() {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		p.t.Fatal(err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.signer = k
	p.kid = fmt.Sprintf("key-%d", len(p.keys)+int(time.Now().UnixNano()%1000))
	p.keys = []jose.JSONWebKey{{Key: &k.PublicKey, KeyID: p.kid, Algorithm: "RS256", Use: "sig"}}
}

// claims are the claims of a good token; a test changes what it tests.
func (p *provider) claims() map[string]any {
	now := time.Now()
	return map[string]any{
		"iss": p.URL, "sub": "alice", "aud": resource, "scope": "openid articles:read",
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(), "client_id": "app",
	}
}

// sign signs claims with key under kid (the provider's current ones when
// nil and ""), with header typ.
func (p *provider) sign(claims map[string]any, key any, alg jose.SignatureAlgorithm, kid, typ string) string {
	p.mu.Lock()
	if key == nil {
		key, kid = p.signer, p.kid
	}
	p.mu.Unlock()
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

func (p *provider) token(edit func(map[string]any)) string {
	c := p.claims()
	if edit != nil {
		edit(c)
	}
	return p.sign(c, nil, jose.RS256, "", "at+jwt")
}

func (p *provider) verifier(t *testing.T, cfg Config) authn.Verifier {
	t.Helper()
	cfg.Issuer = p.URL
	if cfg.MinRefetch == 0 {
		cfg.MinRefetch = time.Millisecond
	}
	v, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v.For(resource)
}

// reason is the CredentialError reason of err, or "" for another error.
func reason(err error) string {
	if ce, ok := errors.AsType[*authn.CredentialError](err); ok {
		return ce.Reason
	}
	return ""
}

func publicPEM(t *testing.T, k *rsa.PublicKey) []byte {
	der, err := x509.MarshalPKIXPublicKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

func ecKey(t *testing.T) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}
