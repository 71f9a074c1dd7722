package interop

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// TestMCPRemoteFederatedSignInAtHydra: mcp-remote completes our OAuth
// flow (discovery, dynamic registration, PKCE, consent, tokens) while the
// person signs in at Ory Hydra, a third-party OpenID provider: Chromium
// follows our sign-in page's "Sign in with Hydra" link, Hydra's login and
// consent (the test's app accepts them) send it back to our callback, and
// our consent page is approved. The person becomes a local user found by
// Hydra's issuer and subject. Someone whose email is outside the
// allow-list ends on a page that says so, with no code.
func TestMCPRemoteFederatedSignInAtHydra(t *testing.T) {
	nodeTool(t, "mcp-remote")
	chromium := chromiumPath(t)
	h := startHydra(t)
	h.signInAs(hydraPerson{Subject: "hydra-user-1", Email: "ann@example.com", EmailVerified: true})
	secretFile := filepath.Join(t.TempDir(), "login-secret")
	const loginClient = "blog-login"
	if err := os.WriteFile(secretFile, []byte("secret-of-"+loginClient+"-0123456789abcdef\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServe(t, "--log-level", "debug", "--login-provider", "oidc", "--login-issuer", h.issuer, "--login-name", "Hydra",
		"--login-client-id", loginClient, "--login-client-secret-file", secretFile,
		"--login-allow-email-domain", "example.com", "--password-login=false")
	// Our server is a confidential client at Hydra, its redirect URI our
	// callback.
	h.client(t, loginClient, "openid email profile", []string{}, map[string]any{
		"grant_types": []string{"authorization_code"}, "response_types": []string{"code"},
		"redirect_uris": []string{s.base + "/oauth/login/callback"},
	})

	r := mcpRemoteSignIn(t, s.mcpURL, "mcp-remote-hydra", "M2C_PROVIDER=Hydra")
	res, err := r.cs.CallTool(r.ctx, &mcp.CallToolParams{Name: "search_articles", Arguments: map[string]any{"query": "semaphore"}})
	if err != nil || res.IsError {
		t.Fatalf("search_articles through mcp-remote after a sign-in at Hydra: %v %+v\nmcp-remote stderr:\n%s", err, res, r.stderr.String())
	}
	var sr signinResult
	if err := json.Unmarshal(waitForFile(t, r.resultPath, 30*time.Second), &sr); err != nil || !sr.OK {
		t.Fatalf("the browser did not finish (%v): %s\nbrowser log:\n%s", err, sr.Error, r.browserLog())
	}
	if p := sr.CallbackParams; p["code"] == "" || p["iss"] != s.base {
		t.Errorf("mcp-remote's callback: code=%t iss=%q", p["code"] != "", p["iss"])
	}
	h.mu.Lock()
	logins := h.logins
	h.mu.Unlock()
	if logins != 1 {
		t.Errorf("Hydra's login app saw %d sign-ins, want 1", logins)
	}
	users := runOK(t, command{args: []string{binary(t), "users", "list", "--database", s.db}}).stdout
	// Hydra sends no preferred_username: the name is the email.
	if !strings.Contains(users, "ann@example.com ") || !strings.Contains(users, h.issuer+" (sub hydra-user-1)") {
		t.Errorf("users list does not show the user from Hydra:\n%s", users)
	}
	if strings.Contains(users, "admin") {
		t.Errorf("a password user was made with password sign-in off:\n%s", users)
	}

	// Outside the allow-list: the browser ends on our refusal.
	h.signInAs(hydraPerson{Subject: "hydra-user-2", Email: "eve@evil.test", EmailVerified: true})
	result := filepath.Join(t.TempDir(), "refused.json")
	run(t, command{
		args:    []string{"node", browserScript(t, "signin.mjs"), s.base + "/oauth/login"},
		env:     append(browserEnv(chromium), "M2C_PROVIDER=Hydra", "M2C_RESULT="+result),
		timeout: 2 * time.Minute,
	})
	var refused signinResult
	if err := json.Unmarshal(waitForFile(t, result, 5*time.Second), &refused); err != nil || refused.OK || !strings.Contains(refused.Error, "may not sign in here") {
		t.Errorf("eve@evil.test at Hydra: ok=%v error=%q, want our page saying the account may not sign in", refused.OK, refused.Error)
	}
	users = runOK(t, command{args: []string{binary(t), "users", "list", "--database", s.db}}).stdout
	if strings.Contains(users, "hydra-user-2") {
		t.Errorf("a refused sign-in made a user:\n%s", users)
	}
}
