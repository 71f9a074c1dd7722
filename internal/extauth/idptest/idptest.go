// Package idptest is an identity provider for tests, both of the resource
// server's side of an external provider (extauth, serve --oauth=external)
// and of federated sign-in (oidclogin, serve --login-provider): OpenID
// Connect metadata, a key set a test may rotate, tokens signed as a test
// needs them, an introspection endpoint that answers what the test put in
// it, an authorization and token endpoint that sign in the person the
// test names, checking PKCE, state and nonce as a strict provider would,
// and the token exchange of an enterprise provider, which turns an ID
// token it issued to an MCP client into an ID-JAG (exchange.go). The interoperability
// tests run a real third-party server (Ory Hydra, test/interop); this one
// lets each edge case be made exactly.
package idptest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/url"
	"strings"
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

	// The sign-in side (OpenID Connect): who the next sign-in is, and the
	// codes handed out.
	person Person
	codes  map[string]pendingCode
	// Authorizations counts authorization requests; LastAuthorize is the
	// query of the last one.
	authorizations atomic.Int32
	lastAuthorize  url.Values

	// gate, when set, holds every introspection until it is closed;
	// inside counts those held, peak the most at once.
	gate         chan struct{}
	inside, peak atomic.Int32

	// The enterprise side (exchange.go): the ID tokens issued to the MCP
	// client, and what the ID-JAGs it gets name.
	idTokens                  map[string]Person
	grantClientID, grantScope string
	exchanges                 atomic.Int32
}

// HoldIntrospections makes introspection requests wait until release is
// called, and returns it.
func (p *Provider) HoldIntrospections() (release func()) {
	g := make(chan struct{})
	p.mu.Lock()
	p.gate = g
	p.mu.Unlock()
	return func() { close(g) }
}

// PeakIntrospections is the most introspection requests under way at
// once.
func (p *Provider) PeakIntrospections() int { return int(p.peak.Load()) }

// Login client credentials: the relying party the provider knows.
const (
	LoginClientID     = "blog-login"
	LoginClientSecret = "login-secret-0123456789"
)

// Person is who the provider signs in at its authorization endpoint: no
// page, the test says who it is. Deny answers access_denied instead.
type Person struct {
	Subject, Email, PreferredUsername, Name string
	EmailVerified                           bool
	Deny                                    bool
	// Nonce, when set, replaces the nonce of the request in the ID token
	// (a replayed or foreign ID token).
	Nonce string
	// Azp, when set, is the ID token's authorized party.
	Azp string
	// OmitIss leaves iss out of the redirect back, which the metadata
	// promises (RFC 9207).
	OmitIss bool
}

type pendingCode struct {
	clientID, redirectURI, challenge, nonce string
	person                                  Person
}

// New starts a provider on 127.0.0.1 for the test's lifetime.
func New(t *testing.T) *Provider {
	p := &Provider{t: t, answers: map[string]map[string]any{}, codes: map[string]pendingCode{}, idTokens: map[string]Person{},
		person: Person{Subject: "248289761001", Email: "ann@example.com", EmailVerified: true, PreferredUsername: "ann", Name: "Ann Example"}}
	p.Rotate()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, map[string]any{
			"issuer": p.URL, "jwks_uri": p.URL + "/jwks", "token_endpoint": p.URL + "/token",
			"authorization_endpoint": p.URL + "/authorize", "introspection_endpoint": p.URL + "/introspect",
			"response_types_supported": []string{"code"}, "subject_types_supported": []string{"public"},
			"id_token_signing_alg_values_supported": []string{"RS256"}, "code_challenge_methods_supported": []string{"S256"},
			"authorization_response_iss_parameter_supported":    true,
			"grant_types_supported":                             []string{"authorization_code", GrantTokenExchange},
			"identity_chaining_requested_token_types_supported": []string{TokenTypeIDJAG},
		})
	})
	mux.HandleFunc("GET /authorize", p.serveAuthorize)
	mux.HandleFunc("POST /token", p.serveToken)
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
		n := p.inside.Add(1)
		defer p.inside.Add(-1)
		for old := p.peak.Load(); n > old && !p.peak.CompareAndSwap(old, n); old = p.peak.Load() {
		}
		p.mu.Lock()
		gate := p.gate
		p.mu.Unlock()
		if gate != nil {
			<-gate
		}
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

// SignInAs sets who the next sign-ins are.
func (p *Provider) SignInAs(person Person) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.person = person
}

// Authorizations counts the authorization requests made so far.
func (p *Provider) Authorizations() int { return int(p.authorizations.Load()) }

// LastAuthorize is the query of the last authorization request.
func (p *Provider) LastAuthorize() url.Values {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lastAuthorize
}

// serveAuthorize signs the set person in at once: it checks the request
// as a strict provider would (its client, a redirect URI, S256 PKCE,
// state and nonce) and redirects back with a code, or an error.
func (p *Provider) serveAuthorize(w http.ResponseWriter, r *http.Request) {
	p.authorizations.Add(1)
	q := r.URL.Query()
	p.mu.Lock()
	p.lastAuthorize = q
	person := p.person
	p.mu.Unlock()
	back, err := url.Parse(q.Get("redirect_uri"))
	if err != nil || back.Host == "" || q.Get("client_id") != LoginClientID {
		http.Error(w, "unknown client or redirect URI", http.StatusBadRequest)
		return
	}
	answer := url.Values{"state": {q.Get("state")}, "iss": {p.URL}}
	if person.OmitIss {
		answer.Del("iss")
	}
	switch {
	case q.Get("response_type") != "code", q.Get("code_challenge_method") != "S256", q.Get("code_challenge") == "",
		q.Get("state") == "", q.Get("nonce") == "", !strings.Contains(" "+q.Get("scope")+" ", " openid "):
		answer.Set("error", "invalid_request")
	case person.Deny:
		answer.Set("error", "access_denied")
	default:
		code := rand.Text()
		nonce := q.Get("nonce")
		if person.Nonce != "" {
			nonce = person.Nonce
		}
		p.mu.Lock()
		p.codes[code] = pendingCode{clientID: LoginClientID, redirectURI: q.Get("redirect_uri"), challenge: q.Get("code_challenge"), nonce: nonce, person: person}
		p.mu.Unlock()
		answer.Set("code", code)
	}
	back.RawQuery = answer.Encode()
	http.Redirect(w, r, back.String(), http.StatusFound)
}

// serveToken redeems a code once, for its client (HTTP Basic), its
// redirect URI and its PKCE verifier, with an ID token.
func (p *Provider) serveToken(w http.ResponseWriter, r *http.Request) {
	r.ParseForm()
	if r.PostForm.Get("grant_type") == GrantTokenExchange {
		p.exchange(w, r)
		return
	}
	id, secret, ok := r.BasicAuth()
	if !ok {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	fail := func(status int, code string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"error":%q}`, code)
	}
	if id != LoginClientID || secret != LoginClientSecret {
		fail(http.StatusUnauthorized, "invalid_client")
		return
	}
	p.mu.Lock()
	c, found := p.codes[r.PostForm.Get("code")]
	delete(p.codes, r.PostForm.Get("code"))
	p.mu.Unlock()
	sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
	if r.PostForm.Get("grant_type") != "authorization_code" || !found || c.redirectURI != r.PostForm.Get("redirect_uri") ||
		base64.RawURLEncoding.EncodeToString(sum[:]) != c.challenge {
		fail(http.StatusBadRequest, "invalid_grant")
		return
	}
	now := time.Now()
	claims := map[string]any{"iss": p.URL, "sub": c.person.Subject, "aud": c.clientID, "iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(),
		"nonce": c.nonce, "email": c.person.Email, "email_verified": c.person.EmailVerified,
		"preferred_username": c.person.PreferredUsername, "name": c.person.Name}
	if c.person.Azp != "" {
		claims["azp"] = c.person.Azp
	}
	writeJSON(w, map[string]any{"access_token": rand.Text(), "token_type": "Bearer", "expires_in": 300,
		"id_token": p.Sign(claims, nil, jose.RS256, "", "JWT")})
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
