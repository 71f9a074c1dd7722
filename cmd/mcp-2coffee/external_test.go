package main

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/2coffee/mcp-2coffee/internal/extauth/idptest"
	"github.com/2coffee/mcp-2coffee/internal/mcpserver"
)

// TestServeExternalJWT: serve --oauth=external trusts the provider's JWT
// access tokens beside API keys, names the provider in its protected
// resource metadata, and speaks of scopes in the provider's names. The
// provider here is idptest, so every edge can be made; the same checks
// against Ory Hydra run in test/interop.
func TestServeExternalJWT(t *testing.T) {
	t.Parallel()
	p := idptest.New(t)
	s := startServe(t, "--oauth", "external", "--oauth-issuer", p.URL, "--oauth-audience", "api://blog",
		"--oauth-scopes", "articles:write=blog.write", "--oauth-jwks-min-refetch", "1ms")
	if !strings.Contains(s.logs(), `oauth="external `+p.URL+` (jwt)"`) {
		t.Errorf("the serving line does not name the provider:\n%s", s.logs())
	}

	var prm struct {
		Resource             string   `json:"resource"`
		AuthorizationServers []string `json:"authorization_servers"`
		ScopesSupported      []string `json:"scopes_supported"`
	}
	if err := json.Unmarshal([]byte(get(t, s.base+"/.well-known/oauth-protected-resource/mcp")), &prm); err != nil {
		t.Fatal(err)
	}
	if prm.Resource != s.mcpURL || len(prm.AuthorizationServers) != 1 || prm.AuthorizationServers[0] != p.URL ||
		strings.Join(prm.ScopesSupported, " ") != "articles:read blog.write" {
		t.Errorf("protected resource metadata %+v, want the provider and its scope names", prm)
	}
	// Nothing of the built-in server is there.
	if resp, _ := post(t, s.base+"/oauth/token", "", nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("/oauth/token answered %d with the built-in server off", resp.StatusCode)
	}

	// The go-sdk client with the provider's token reads.
	reader := p.Token(s.mcpURL, nil)
	cs := connectHTTPWith(t, s.mcpURL, http.Header{"Authorization": {"Bearer " + reader}})
	out := structured[mcpserver.ListOutput](t, callTool(t, cs, "list_articles", map[string]any{"limit": 2}))
	if len(out.Articles) != 2 {
		t.Fatalf("list_articles with the provider's token: %+v", out)
	}
	// It may not write: 403 naming the scope as the provider calls it.
	resp, body := post(t, s.mcpURL, callCreate, map[string]string{"Authorization": "Bearer " + reader})
	if c := challenge(t, resp.Header.Get("WWW-Authenticate")); resp.StatusCode != http.StatusForbidden || c["error"] != "insufficient_scope" || c["scope"] != "blog.write" {
		t.Errorf("a reader's create_article: %d %v %s", resp.StatusCode, c, body)
	}
	// A writer's token in the provider's name, for the configured audience.
	writer := p.Token("api://blog", func(c map[string]any) { c["scope"] = "blog.write" })
	if resp, body := post(t, s.mcpURL, callCreate, map[string]string{"Authorization": "Bearer " + writer}); resp.StatusCode != http.StatusOK || !strings.Contains(body, `"slug":"nope"`) {
		t.Errorf("a writer's create_article: %d %s", resp.StatusCode, body)
	}

	// Refusals: 401 invalid_token, naming the metadata.
	signer, kid := p.Signer()
	for name, tok := range map[string]string{
		"another audience":                p.Token("https://other.example/mcp", nil),
		"the REST API's audience":         p.Token(s.base+"/api/v1", nil),
		"another issuer":                  p.Token(s.mcpURL, func(c map[string]any) { c["iss"] = "https://evil.example" }),
		"expired":                         p.Token(s.mcpURL, func(c map[string]any) { c["exp"] = 1 }),
		"an unpublished key, known kid":   p.Sign(p.Claims(s.mcpURL), idptest.ECKey(t), jose.ES256, kid, "at+jwt"),
		"HS256 keyed with the public key": p.Sign(p.Claims(s.mcpURL), p.PublicPEM(), jose.HS256, kid, "at+jwt"),
	} {
		resp, body := post(t, s.mcpURL, `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`, map[string]string{"Authorization": "Bearer " + tok})
		c := challenge(t, resp.Header.Get("WWW-Authenticate"))
		if resp.StatusCode != http.StatusUnauthorized || c["error"] != "invalid_token" || c["resource_metadata"] != s.base+"/.well-known/oauth-protected-resource/mcp" {
			t.Errorf("%s: %d %v %s", name, resp.StatusCode, c, body)
		}
	}

	// A rotation at the provider is followed without a restart.
	p.Rotate()
	if _, newKid := p.Signer(); newKid == kid || signer == nil {
		t.Fatal("the provider did not rotate")
	}
	if resp, body := post(t, s.mcpURL, `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`, map[string]string{"Authorization": "Bearer " + p.Token(s.mcpURL, nil)}); resp.StatusCode != http.StatusOK {
		t.Errorf("a token under the new key: %d %s", resp.StatusCode, body)
	}

	// API keys keep working beside the provider.
	if resp, body := post(t, s.mcpURL, `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`, map[string]string{"X-API-KEY": s.key}); resp.StatusCode != http.StatusOK {
		t.Errorf("the admin key: %d %s", resp.StatusCode, body)
	}
	// The REST API is a resource of its own: a token for it opens it.
	req, _ := http.NewRequest(http.MethodGet, s.base+"/api/v1/articles?limit=1", nil)
	req.Header.Set("Authorization", "Bearer "+p.Token(s.base+"/api/v1", nil))
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("the REST API with a token for it: %v %v", resp, err)
	}
}

// TestServeExternalIntrospection: with --oauth-introspection-url, tokens
// are asked about, authenticated with the configured client, and API
// keys never leave the server.
func TestServeExternalIntrospection(t *testing.T) {
	t.Parallel()
	p := idptest.New(t)
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte(idptest.ClientSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServe(t, "--oauth", "external", "--oauth-issuer", p.URL, "--oauth-introspection-url", p.URL+"/introspect",
		"--oauth-client-id", idptest.ClientID, "--oauth-client-secret-file", secret)
	p.Answer("opaque-token", map[string]any{"active": true, "sub": "bob", "aud": s.mcpURL, "scope": "articles:read", "iss": p.URL})
	cs := connectHTTPWith(t, s.mcpURL, http.Header{"Authorization": {"Bearer opaque-token"}})
	if out := structured[mcpserver.ListOutput](t, callTool(t, cs, "list_articles", map[string]any{"limit": 1})); len(out.Articles) != 1 {
		t.Errorf("list_articles: %+v", out)
	}
	asked := p.Introspections()
	if resp, _ := post(t, s.mcpURL, `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`, map[string]string{"X-API-KEY": s.key}); resp.StatusCode != http.StatusOK {
		t.Errorf("the admin key: %d", resp.StatusCode)
	}
	// A key a character short is still never sent.
	if resp, _ := post(t, s.mcpURL, `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`, map[string]string{"X-API-KEY": s.key[:len(s.key)-1]}); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("a mangled admin key: %d", resp.StatusCode)
	}
	if resp, _ := post(t, s.mcpURL, `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`, map[string]string{"Authorization": "Bearer dead-token"}); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("an inactive token: %d", resp.StatusCode)
	}
	if got := p.Introspections() - asked; got != 1 {
		t.Errorf("an API key, a mangled one and a dead token made %d introspections, want 1 (keys are never sent)", got)
	}
}

func TestServeExternalFlagsRefused(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "b.db")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--oauth", "external"}, "needs --oauth-issuer"},
		{[]string{"--oauth-issuer", "https://id.example.com"}, "--oauth-issuer applies only to --oauth=external"},
		{[]string{"--oauth", "external", "--oauth-issuer", "https://id.example.com", "--oauth-scopes", "admin=x"}, "--oauth-scopes"},
		{[]string{"--oauth", "external", "--oauth-issuer", "https://id.example.com", "--oauth-role-scopes", "editor=articles:write"}, "needs --oauth-roles-claim"},
		{[]string{"--oauth", "external", "--oauth-issuer", "https://id.example.com", "--oauth-introspection-url", "https://id.example.com/i"}, "needs --oauth-client-id"},
		{[]string{"--oauth", "external", "--oauth-issuer", "https://id.example.com", "--oauth-client-id", "x"}, "are for --oauth-introspection-url"},
		{[]string{"--oauth", "external", "--oauth-issuer", "https://id.example.com", "--oauth-clock-skew", "1h"}, "--oauth-clock-skew"},
		{[]string{"--oauth", "external", "--auth", "none", "--oauth-issuer", "https://id.example.com"}, "needs --auth=apikey"},
	} {
		args := append([]string{"serve", "--addr", "127.0.0.1:0", "--database", db}, tc.args...)
		_, errOut, code := runCLI(t, nil, args...)
		if code != 2 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, %q; want 2 and %q", tc.args, code, errOut, tc.want)
		}
	}
	// A provider that cannot be reached stops serve with the reason.
	_, errOut, code := runCLI(t, nil, "serve", "--addr", "127.0.0.1:0", "--database", db, "--oauth", "external", "--oauth-issuer", "http://127.0.0.1:1")
	if code == 0 || !strings.Contains(errOut, "the external authorization server http://127.0.0.1:1") {
		t.Errorf("an unreachable provider: exit %d, %q", code, errOut)
	}
}
