package extauth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/2coffee/mcp-2coffee/internal/authn"
	"github.com/2coffee/mcp-2coffee/internal/extauth/idptest"
	"github.com/2coffee/mcp-2coffee/internal/testkit"
)

func TestJWTAccepted(t *testing.T) {
	p := idptest.New(t)
	ctx := context.Background()
	verify := verifier(t, p, Config{Audiences: []string{"api://blog"}})
	for _, tc := range []struct {
		name string
		tok  string
		want []string
	}{
		{"at+jwt with scope", p.Token(resource, nil), []string{authn.ScopeRead}},
		{"typ JWT", p.Sign(p.Claims(resource), nil, jose.RS256, "", "JWT"), []string{authn.ScopeRead}},
		{"no typ", p.Sign(p.Claims(resource), nil, jose.RS256, "", ""), []string{authn.ScopeRead}},
		{"aud array holding the resource", p.Token(resource, func(c map[string]any) { c["aud"] = []string{"other", resource} }), []string{authn.ScopeRead}},
		{"the configured audience", p.Token(resource, func(c map[string]any) { c["aud"] = "api://blog" }), []string{authn.ScopeRead}},
		{"scp array", p.Token(resource, func(c map[string]any) { delete(c, "scope"); c["scp"] = []string{"articles:write", "email"} }), []string{authn.ScopeWrite}},
		{"scp string", p.Token(resource, func(c map[string]any) { delete(c, "scope"); c["scp"] = "articles:read articles:write" }), []string{authn.ScopeRead, authn.ScopeWrite}},
		{"expired within the leeway", p.Token(resource, func(c map[string]any) { c["exp"] = time.Now().Add(-20 * time.Second).Unix() }), []string{authn.ScopeRead}},
		{"no scope of ours", p.Token(resource, func(c map[string]any) { c["scope"] = "openid profile" }), []string{}},
	} {
		pr, err := verify(ctx, tc.tok)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if pr.Subject != "ext:alice" || pr.Method != "oauth" || !slices.Equal(pr.Scopes, tc.want) {
			t.Errorf("%s: principal %+v, want ext:alice with %v", tc.name, pr, tc.want)
		}
	}
}

func TestJWTRefused(t *testing.T) {
	p := idptest.New(t)
	ctx := context.Background()
	verify := verifier(t, p, Config{})
	stranger, _ := p.Signer()
	p.Rotate() // the old key is no longer published
	_, kid := p.Signer()
	for _, tc := range []struct {
		name, tok, reason string
	}{
		{"wrong audience", p.Token(resource, func(c map[string]any) { c["aud"] = "https://other.example/mcp" }), "wrong_audience"},
		{"no audience", p.Token(resource, func(c map[string]any) { delete(c, "aud") }), "wrong_audience"},
		{"wrong issuer", p.Token(resource, func(c map[string]any) { c["iss"] = "https://evil.example" }), "wrong_issuer"},
		{"expired", p.Token(resource, func(c map[string]any) { c["exp"] = time.Now().Add(-5 * time.Minute).Unix() }), "expired"},
		{"not yet valid", p.Token(resource, func(c map[string]any) { c["nbf"] = time.Now().Add(10 * time.Minute).Unix() }), "not_yet_valid"},
		{"issued in the future", p.Token(resource, func(c map[string]any) { c["iat"] = time.Now().Add(10 * time.Minute).Unix() }), "not_yet_valid"},
		{"no expiry", p.Token(resource, func(c map[string]any) { delete(c, "exp") }), "malformed"},
		{"an unpublished key under a published kid", p.Sign(p.Claims(resource), stranger, jose.RS256, kid, "at+jwt"), "signature"},
		{"an unpublished kid", p.Sign(p.Claims(resource), stranger, jose.RS256, "retired", "at+jwt"), "unknown_key"},
		{"an unpublished key without kid", p.Sign(p.Claims(resource), stranger, jose.RS256, "", "at+jwt"), "signature"},
		{"an EC key it does not publish", p.Sign(p.Claims(resource), idptest.ECKey(t), jose.ES256, kid, "at+jwt"), "unknown_key"},
		{"HS256 keyed with the public key", p.Sign(p.Claims(resource), p.PublicPEM(), jose.HS256, kid, "at+jwt"), "algorithm"},
		{"alg none", b64(map[string]string{"alg": "none", "typ": "at+jwt", "kid": kid}) + "." + b64(p.Claims(resource)) + ".", "algorithm"},
		{"an ID-JAG", p.Sign(p.Claims(resource), nil, jose.RS256, "", "oauth-id-jag+jwt"), "type"},
		{"a logout token", p.Sign(p.Claims(resource), nil, jose.RS256, "", "logout+jwt"), "type"},
		{"a tampered payload", tamper(p.Token(resource, nil)), "signature"},
		{"garbage in three parts", "a.b.c", "unrecognized"},
		{"an API key", "m2c_0123456789abcdef_secret", "unrecognized"},
	} {
		_, err := verify(ctx, tc.tok)
		if got := reason(err); got != tc.reason {
			t.Errorf("%s: err = %v (reason %q), want reason %q", tc.name, err, got, tc.reason)
		}
		if err != nil && !errors.Is(err, authn.ErrInvalidCredential) {
			t.Errorf("%s: %v would not be a 401", tc.name, err)
		}
	}
}

// tamper raises the token's scope without re-signing it.
func tamper(tok string) string {
	parts := strings.Split(tok, ".")
	raw, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var c map[string]any
	json.Unmarshal(raw, &c)
	c["scope"] = "articles:write"
	b, _ := json.Marshal(c)
	parts[1] = base64.RawURLEncoding.EncodeToString(b)
	return strings.Join(parts, ".")
}

func TestKeyRotationIsFollowed(t *testing.T) {
	p := idptest.New(t)
	ctx := context.Background()
	verify := verifier(t, p, Config{})
	if _, err := verify(ctx, p.Token(resource, nil)); err != nil {
		t.Fatal(err)
	}
	before := p.Fetches()
	p.Rotate()
	time.Sleep(2 * time.Millisecond) // past MinRefetch
	if _, err := verify(ctx, p.Token(resource, nil)); err != nil {
		t.Fatalf("after a rotation: %v", err)
	}
	if got := p.Fetches() - before; got != 1 {
		t.Errorf("the rotation cost %d key fetches, want 1", got)
	}
}

func TestUnknownKeysDoNotHammerTheProvider(t *testing.T) {
	p := idptest.New(t)
	ctx := context.Background()
	verify := verifier(t, p, Config{MinRefetch: time.Hour})
	if _, err := verify(ctx, p.Token(resource, nil)); err != nil {
		t.Fatal(err)
	}
	before := p.Fetches()
	other := idptest.ECKey(t)
	for i := range 50 {
		_, err := verify(ctx, p.Sign(p.Claims(resource), other, jose.ES256, "made-up-"+string(rune('a'+i%26)), ""))
		if reason(err) != "unknown_key" {
			t.Fatalf("made-up kid: %v", err)
		}
	}
	if got := p.Fetches() - before; got != 0 {
		t.Errorf("50 tokens with made-up key ids made %d fetches within MinRefetch, want 0", got)
	}
	// A good token still verifies from the keys held.
	if _, err := verify(ctx, p.Token(resource, nil)); err != nil {
		t.Error(err)
	}
}

func TestKeysUnavailable(t *testing.T) {
	p := idptest.New(t)
	ctx := context.Background()
	// Keys that cannot be fetched at start stop the start.
	p.FailKeys(true)
	if _, err := New(ctx, Config{Issuer: p.URL}); err == nil {
		t.Fatal("a provider whose keys cannot be fetched was accepted at start")
	}
	p.FailKeys(false)
	// Held, then never refreshed for more than MaxStale: refused with an
	// error that is not a refusal of the token (503).
	clock := time.Now()
	stale, err := New(ctx, Config{Issuer: p.URL, MinRefetch: time.Millisecond, Now: func() time.Time { return clock }})
	if err != nil {
		t.Fatal(err)
	}
	p.FailKeys(true)
	clock = clock.Add(MaxStale + 2*time.Hour)
	_, err = stale.For(resource)(ctx, p.Token(resource, nil))
	if err == nil || errors.Is(err, authn.ErrInvalidCredential) {
		t.Fatalf("keys a day stale, provider down: err = %v, want an error that is not a refusal (503)", err)
	}
	p.FailKeys(false)
	clock = clock.Add(time.Second)
	then := p.Token(resource, func(c map[string]any) {
		c["iat"], c["nbf"], c["exp"] = clock.Unix(), clock.Unix(), clock.Add(time.Hour).Unix()
	})
	if _, err := stale.For(resource)(ctx, then); err != nil {
		t.Fatalf("keys back: %v", err)
	}
	// Keys held: a provider down for a refresh does not stop verification.
	v, err := New(ctx, Config{Issuer: p.URL, MinRefetch: time.Millisecond, KeyMaxAge: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	vf := v.For(resource)
	if _, err := vf(ctx, p.Token(resource, nil)); err != nil {
		t.Fatal(err)
	}
	p.FailKeys(true)
	time.Sleep(2 * time.Millisecond)
	if _, err := vf(ctx, p.Token(resource, nil)); err != nil {
		t.Errorf("stale keys, provider down: %v, want the held keys used", err)
	}
}

// TestPublishedPrivateKeysAreRefused: a key set that publishes a private
// key is compromised; nothing verifies against it.
func TestPublishedPrivateKeysAreRefused(t *testing.T) {
	k := idptest.ECKey(t)
	mux := http.NewServeMux()
	var url string
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"issuer":%q,"jwks_uri":%q,"token_endpoint":%q}`, url, url+"/jwks", url+"/token")
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: k, KeyID: "leaked", Algorithm: "ES256", Use: "sig"}}})
	})
	url = testkit.Serve(t, mux).URL
	if _, err := New(context.Background(), Config{Issuer: url}); err == nil || !strings.Contains(err.Error(), "private key") {
		t.Errorf("a key set with a private key: %v, want a refusal", err)
	}
}

// TestIDTokensAreNotAccessTokens: a JWT with the claims only an ID token
// has, or Keycloak's typ of another kind, is refused even for our
// audience and signed by the provider.
func TestIDTokensAreNotAccessTokens(t *testing.T) {
	p := idptest.New(t)
	ctx := context.Background()
	verify := verifier(t, p, Config{})
	for name, edit := range map[string]func(map[string]any){
		"nonce":                func(c map[string]any) { c["nonce"] = "n" },
		"at_hash":              func(c map[string]any) { c["at_hash"] = "h" },
		"c_hash":               func(c map[string]any) { c["c_hash"] = "h" },
		"Keycloak typ ID":      func(c map[string]any) { c["typ"] = "ID" },
		"Keycloak typ Refresh": func(c map[string]any) { c["typ"] = "Refresh" },
	} {
		if _, err := verify(ctx, p.Sign(editClaims(p.Claims(resource), edit), nil, jose.RS256, "", "JWT")); reason(err) != "type" {
			t.Errorf("%s: %v, want reason type", name, err)
		}
	}
	if _, err := verify(ctx, p.Token(resource, func(c map[string]any) { c["typ"] = "Bearer" })); err != nil {
		t.Errorf("Keycloak typ Bearer: %v", err)
	}
	// A scope claim that is an array, and a client_id that is not a string.
	pr, err := verify(ctx, p.Token(resource, func(c map[string]any) { c["scope"] = []string{"articles:write"}; c["client_id"] = 7 }))
	if err != nil || !slices.Equal(pr.Scopes, []string{authn.ScopeWrite}) {
		t.Errorf("scope as an array: %v %v", pr, err)
	}
}

func editClaims(c map[string]any, edit func(map[string]any)) map[string]any {
	edit(c)
	return c
}

func TestScopeMapping(t *testing.T) {
	p := idptest.New(t)
	ctx := context.Background()
	verify := verifier(t, p, Config{Scopes: ScopeMap{
		Names:      map[string]string{authn.ScopeRead: "api://blog/articles.read", authn.ScopeWrite: "blog.write"},
		RolesClaim: "realm_access.roles",
		Roles:      map[string]string{"blog-editor": authn.ScopeWrite},
	}})
	for _, tc := range []struct {
		name string
		edit func(map[string]any)
		want []string
	}{
		{"the provider's full name", func(c map[string]any) { c["scope"] = "api://blog/articles.read" }, []string{authn.ScopeRead}},
		{"its last segment, as Entra ID's scp", func(c map[string]any) { delete(c, "scope"); c["scp"] = "articles.read" }, []string{authn.ScopeRead}},
		{"a renamed scope's own name does not count", func(c map[string]any) { c["scope"] = "articles:read articles:write" }, []string{}},
		{"a plain rename", func(c map[string]any) { c["scope"] = "blog.write" }, []string{authn.ScopeWrite}},
		{"a role in a nested claim", func(c map[string]any) {
			c["scope"] = ""
			c["realm_access"] = map[string]any{"roles": []string{"offline_access", "blog-editor"}}
		}, []string{authn.ScopeWrite}},
		{"a role elsewhere does not count", func(c map[string]any) { c["scope"] = ""; c["roles"] = []string{"blog-editor"} }, []string{}},
		{"a string role is one value, not words", func(c map[string]any) {
			c["scope"] = ""
			c["realm_access"] = map[string]any{"roles": "someone blog-editor"}
		}, []string{}},
	} {
		pr, err := verify(ctx, p.Token(resource, tc.edit))
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if !slices.Equal(pr.Scopes, tc.want) {
			t.Errorf("%s: scopes %v, want %v", tc.name, pr.Scopes, tc.want)
		}
	}
}

func TestConfigRefused(t *testing.T) {
	p := idptest.New(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"HS256 allowed", Config{Issuer: p.URL, Algorithms: []string{"RS256", "HS256"}}},
		{"none allowed", Config{Issuer: p.URL, Algorithms: []string{"none"}}},
		{"a scope we do not have", Config{Issuer: p.URL, Scopes: ScopeMap{Names: map[string]string{"admin": "x"}}}},
		{"roles without a claim", Config{Issuer: p.URL, Scopes: ScopeMap{Roles: map[string]string{"r": authn.ScopeRead}}}},
		{"two scopes one short name", Config{Issuer: p.URL, Scopes: ScopeMap{Names: map[string]string{
			authn.ScopeRead: "api://blog-reader/access_as_user", authn.ScopeWrite: "api://blog-writer/access_as_user"}}}},
		{"a short name that is another scope's name", Config{Issuer: p.URL, Scopes: ScopeMap{Names: map[string]string{
			authn.ScopeRead: "api://blog/articles:write"}}}},
		{"introspection without a secret", Config{Issuer: p.URL, IntrospectionURL: p.URL + "/introspect", ClientID: "c"}},
		{"an issuer whose metadata names another", Config{Issuer: p.URL + "/other"}},
		{"plain http off loopback", Config{Issuer: "http://idp.example.com"}},
	} {
		if _, err := New(ctx, tc.cfg); err == nil {
			t.Errorf("%s: accepted", tc.name)
		}
	}
}

func TestParseScopeFlags(t *testing.T) {
	names, err := ParseNames("articles:read=api://blog/articles.read, articles:write")
	if err != nil || names[authn.ScopeRead] != "api://blog/articles.read" || names[authn.ScopeWrite] != authn.ScopeWrite {
		t.Errorf("ParseNames = %v, %v", names, err)
	}
	for _, bad := range []string{"admin=x", "articles:read=a,articles:read=b", "articles:read=has space"} {
		if _, err := ParseNames(bad); err == nil {
			t.Errorf("ParseNames(%q) accepted", bad)
		}
	}
	roles, err := ParseRoles("blog-editor=articles:write,reader=articles:read")
	if err != nil || roles["blog-editor"] != authn.ScopeWrite || len(roles) != 2 {
		t.Errorf("ParseRoles = %v, %v", roles, err)
	}
	for _, bad := range []string{"editor", "editor=admin", "=articles:read"} {
		if _, err := ParseRoles(bad); err == nil {
			t.Errorf("ParseRoles(%q) accepted", bad)
		}
	}
}

// TestRolesFromAStringClaim: a claim holding one string (GitHub Actions'
// repository) grants scopes through the role map, so only the named
// repository's tokens get any.
func TestRolesFromAStringClaim(t *testing.T) {
	p := idptest.New(t)
	ctx := context.Background()
	verify := verifier(t, p, Config{Scopes: ScopeMap{RolesClaim: "repository", Roles: map[string]string{"owner/blog": authn.ScopeWrite}}})
	for repo, want := range map[string][]string{"owner/blog": {authn.ScopeWrite}, "someone/else": {}} {
		pr, err := verify(ctx, p.Token(resource, func(c map[string]any) { c["scope"] = ""; c["repository"] = repo }))
		if err != nil || !slices.Equal(pr.Scopes, want) {
			t.Errorf("repository %s: %v %v, want %v", repo, pr, err, want)
		}
	}
}
