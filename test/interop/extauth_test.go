package interop

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

const (
	toolsList  = `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`
	createCall = `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"create_article","arguments":{"title":"From a machine","body":"Written with a token from Ory Hydra."}}}`
)

// TestHydraJWTAccessTokens: serve --oauth=external trusts Ory Hydra, a
// third-party authorization server, which issues JWT access tokens with
// the client credentials grant. Its tokens call read tools through the
// go-sdk client, a read-only one is refused a write tool with 403
// insufficient_scope, and every token that should not open the server
// gets 401 invalid_token: another audience, expired, another issuer
// (signed with Hydra's real key), a key Hydra does not publish (also under
// a kid it does), alg none, HS256 keyed with Hydra's public key. A key
// rotation at Hydra is followed without a restart.
func TestHydraJWTAccessTokens(t *testing.T) {
	h := startHydra(t)
	s := startServe(t, "--oauth", "external", "--oauth-issuer", h.issuer,
		"--oauth-jwks-min-refetch", "10ms", "--oauth-clock-skew", "1s")
	s.mu.Lock()
	startup := s.log.String()
	s.mu.Unlock()
	if !strings.Contains(startup, `oauth="external `+h.issuer+` (jwt)"`) {
		t.Errorf("serve does not say it trusts Hydra")
	}
	other := "https://other.example/mcp"
	readerID, readerSecret := h.client(t, "reader", "articles:read", []string{s.mcpURL, other}, nil)
	writerID, writerSecret := h.client(t, "writer", "articles:read articles:write", []string{s.mcpURL}, nil)
	briefID, briefSecret := h.client(t, "brief", "articles:read", []string{s.mcpURL},
		map[string]any{"client_credentials_grant_access_token_lifespan": "1s"})

	// The protected resource metadata sends clients to Hydra.
	var prm struct {
		AuthorizationServers []string `json:"authorization_servers"`
	}
	getJSON(t, s.base+"/.well-known/oauth-protected-resource/mcp", &prm)
	if len(prm.AuthorizationServers) != 1 || prm.AuthorizationServers[0] != h.issuer {
		t.Errorf("authorization_servers %v, want [%s]", prm.AuthorizationServers, h.issuer)
	}

	reader := h.token(t, readerID, readerSecret, "articles:read", s.mcpURL)
	if typ := jwtHeader(t, reader)["typ"]; typ != "JWT" {
		t.Fatalf("Hydra's access token has typ %v; is it a JWT?", typ)
	}
	client := mcp.NewClient(&mcp.Implementation{Name: "hydra-machine", Version: "1"}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cs, err := client.Connect(ctx, &mcp.StreamableClientTransport{
		Endpoint: s.mcpURL, HTTPClient: &http.Client{Transport: headerRoundTripper{"Authorization", "Bearer " + reader}},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "search_articles", Arguments: map[string]any{"query": "semaphore"}})
	if err != nil || res.IsError {
		t.Fatalf("search_articles with Hydra's token: %v %+v", err, res)
	}
	if status, c, body := mcpPost(t, s.mcpURL, reader, createCall); status != http.StatusForbidden || c["error"] != "insufficient_scope" || c["scope"] != "articles:write" {
		t.Errorf("a read-only token's create_article: %d %v %s", status, c, body)
	}
	writer := h.token(t, writerID, writerSecret, "articles:read articles:write", s.mcpURL)
	if status, _, body := mcpPost(t, s.mcpURL, writer, createCall); status != http.StatusOK || !strings.Contains(body, "from-a-machine") {
		t.Errorf("a writer's create_article: %d %s", status, body)
	}

	// Tokens Hydra really issued that are not for this server, or no
	// longer valid.
	refused := map[string]string{
		"another audience": h.token(t, readerID, readerSecret, "articles:read", other),
	}
	brief := h.token(t, briefID, briefSecret, "articles:read", s.mcpURL)
	// Forgeries and misuses, made with what an attacker could have: Hydra's
	// published keys, its private key (a compromised tenant, say, which
	// could still not mint for another issuer), a key of one's own.
	keys := h.do(t, http.MethodGet, h.admin+"/admin/keys/hydra.jwt.access-token", nil, http.StatusOK)
	raw, _ := json.Marshal(keys)
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(raw, &set); err != nil || len(set.Keys) == 0 {
		t.Fatalf("Hydra's access token keys: %v %s", err, raw)
	}
	hydraKey := set.Keys[0]
	now := time.Now()
	claims := func(edit func(map[string]any)) map[string]any {
		c := map[string]any{"iss": h.issuer, "sub": "reader", "client_id": "reader", "aud": []string{s.mcpURL},
			"scp": []string{"articles:read"}, "iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix()}
		if edit != nil {
			edit(c)
		}
		return c
	}
	sign := func(key any, alg jose.SignatureAlgorithm, kid string, c map[string]any) string {
		signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", kid))
		if err != nil {
			t.Fatal(err)
		}
		tok, err := jwt.Signed(signer).Claims(c).Serialize()
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	// With Hydra's key and the claims Hydra would write, the server takes
	// it: the forgeries below differ from it in one thing each.
	if status, _, body := mcpPost(t, s.mcpURL, sign(hydraKey.Key, jose.RS256, hydraKey.KeyID, claims(nil)), toolsList); status != http.StatusOK {
		t.Fatalf("a token signed with Hydra's key as Hydra would: %d %s", status, body)
	}
	mine, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(hydraKey.Public().Key)
	if err != nil {
		t.Fatal(err)
	}
	publicPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	b64 := func(v any) string { b, _ := json.Marshal(v); return base64.RawURLEncoding.EncodeToString(b) }
	refused["another issuer"] = sign(hydraKey.Key, jose.RS256, hydraKey.KeyID, claims(func(c map[string]any) { c["iss"] = "https://evil.example" }))
	refused["expired a while ago"] = sign(hydraKey.Key, jose.RS256, hydraKey.KeyID, claims(func(c map[string]any) { c["exp"] = now.Add(-time.Minute).Unix() }))
	refused["an unpublished key under Hydra's kid"] = sign(mine, jose.ES256, hydraKey.KeyID, claims(nil))
	refused["an unpublished key and kid"] = sign(mine, jose.ES256, "mine", claims(nil))
	refused["HS256 keyed with Hydra's public key"] = sign(publicPEM, jose.HS256, hydraKey.KeyID, claims(nil))
	refused["alg none"] = b64(map[string]string{"alg": "none", "typ": "JWT", "kid": hydraKey.KeyID}) + "." + b64(claims(nil)) + "."
	time.Sleep(2500 * time.Millisecond) // brief's one-second token expires, past the one-second skew
	refused["expired (Hydra's own, 1 s)"] = brief
	for name, tok := range refused {
		status, c, body := mcpPost(t, s.mcpURL, tok, toolsList)
		if status != http.StatusUnauthorized || c["error"] != "invalid_token" || c["resource_metadata"] == "" {
			t.Errorf("%s: %d %v %s", name, status, c, body)
		}
	}

	// Hydra rotates its access token key; new tokens carry the new kid
	// and are accepted without a restart.
	h.do(t, http.MethodPost, h.admin+"/admin/keys/hydra.jwt.access-token", map[string]string{"alg": "RS256", "use": "sig", "kid": "rotated"}, http.StatusCreated)
	fresh := h.token(t, readerID, readerSecret, "articles:read", s.mcpURL)
	if kid := jwtHeader(t, fresh)["kid"]; kid != "rotated" {
		t.Fatalf("after the rotation Hydra signs with kid %v", kid)
	}
	if status, _, body := mcpPost(t, s.mcpURL, fresh, toolsList); status != http.StatusOK {
		t.Errorf("a token under Hydra's new key: %d %s", status, body)
	}
	// API keys keep working beside Hydra.
	req, _ := http.NewRequest(http.MethodGet, s.base+"/api/v1/articles?limit=1", nil)
	req.Header.Set("X-API-KEY", s.key)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("the admin key on the REST API: %v %v", resp, err)
	}
}

// TestHydraIntrospection: Hydra's opaque access tokens are verified by
// RFC 7662 introspection at its admin API. With the cache off, a token
// Hydra revokes is refused at once.
func TestHydraIntrospection(t *testing.T) {
	h := startHydra(t)
	secretFile := filepath.Join(t.TempDir(), "introspection-secret")
	// Hydra's admin API takes no client authentication (it is kept off
	// the network); the server sends its credentials all the same.
	if err := os.WriteFile(secretFile, []byte("unused-by-hydra\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServe(t, "--oauth", "external", "--oauth-issuer", h.issuer,
		"--oauth-introspection-url", h.admin+"/admin/oauth2/introspect",
		"--oauth-client-id", "blog", "--oauth-client-secret-file", secretFile, "--oauth-introspection-cache", "0")
	id, secret := h.client(t, "opaque", "articles:read articles:write", []string{s.mcpURL}, map[string]any{"access_token_strategy": "opaque"})
	tok := h.token(t, id, secret, "articles:read", s.mcpURL)
	if strings.Count(tok, ".") == 2 {
		t.Fatalf("Hydra issued a JWT (%q…) where an opaque token was asked for", tok[:12])
	}
	if status, _, body := mcpPost(t, s.mcpURL, tok, toolsList); status != http.StatusOK {
		t.Fatalf("Hydra's opaque token: %d %s", status, body)
	}
	if status, c, _ := mcpPost(t, s.mcpURL, tok, createCall); status != http.StatusForbidden || c["error"] != "insufficient_scope" {
		t.Errorf("a read-only opaque token's create_article: %d %v", status, c)
	}
	wrong := h.token(t, id, secret, "articles:read", "")
	if status, c, _ := mcpPost(t, s.mcpURL, wrong, toolsList); status != http.StatusUnauthorized || c["error"] != "invalid_token" {
		t.Errorf("a token with no audience: %d %v", status, c)
	}
	// A refresh token is active too, and Hydra answers about it whatever
	// the hint; it must not open the server.
	h.signInAs(hydraPerson{Subject: "ann", Email: "ann@example.com", EmailVerified: true})
	const redirect = "http://127.0.0.1:9/callback"
	cid, csecret := h.client(t, "person-app", "offline_access articles:read articles:write", []string{s.mcpURL}, map[string]any{
		"grant_types": []string{"authorization_code", "refresh_token"}, "response_types": []string{"code"},
		"redirect_uris": []string{redirect}, "access_token_strategy": "opaque",
	})
	access, refresh := h.codeFlow(t, cid, csecret, redirect, "offline_access articles:write", s.mcpURL)
	if status, _, body := mcpPost(t, s.mcpURL, access, createCall); status != http.StatusOK {
		t.Errorf("a person's opaque access token from Hydra: %d %s", status, body)
	}
	if status, c, _ := mcpPost(t, s.mcpURL, refresh, createCall); status != http.StatusUnauthorized || c["error"] != "invalid_token" {
		t.Errorf("Hydra's refresh token as a bearer token: %d %v, want 401 invalid_token", status, c)
	}
	// Revoke it at Hydra.
	form := strings.NewReader("token=" + tok)
	req, _ := http.NewRequest(http.MethodPost, h.issuer+"/oauth2/revoke", form)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(id, secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("revoking at Hydra: %v %v", resp, err)
	}
	resp.Body.Close()
	if status, c, _ := mcpPost(t, s.mcpURL, tok, toolsList); status != http.StatusUnauthorized || c["error"] != "invalid_token" {
		t.Errorf("a revoked token: %d %v", status, c)
	}
}
