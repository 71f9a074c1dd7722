package interop

import (
	"encoding/json"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/2coffee/mcp-2coffee/internal/extauth/idptest"
)

var (
	clientIDLineRE     = regexp.MustCompile(`(?m)^client_id: (\S+)$`)
	clientSecretLineRE = regexp.MustCompile(`(?m)^client_secret: (\S+)$`)
)

// TestTypeScriptCrossAppAccess: the TypeScript SDK's client with its
// CrossAppAccessProvider, a client nobody here wrote, completes
// enterprise-managed authorization against serve --enterprise-issuer:
// discovery (protected resource and authorization server metadata), the
// token exchange at the identity provider, the jwt-bearer grant with
// client_secret_basic at our token endpoint, then a tool call with the
// token. The identity provider is the test one (no provider that issues
// ID-JAGs runs here); what is under test is that our server takes what a
// third-party client sends. A second run with a provider policy that
// names another client is refused.
func TestTypeScriptCrossAppAccess(t *testing.T) {
	nodeTool(t, "conformance") // node_modules is there
	root := moduleRoot(t)
	idp := idptest.New(t)
	s := startServe(t, "--enterprise-issuer", idp.URL)
	out := runOK(t, command{args: []string{binary(t), "clients", "add", "--database", s.db, "--name", "TS agent",
		"--grant", "jwt-bearer", "--auth", "client_secret_basic", "--scope", "articles:read"}}).stdout
	idm, secretm := clientIDLineRE.FindStringSubmatch(out), clientSecretLineRE.FindStringSubmatch(out)
	if idm == nil || secretm == nil {
		t.Fatalf("clients add printed no id and secret:\n%s", out)
	}
	idp.GrantClientID(idm[1])
	idToken := idp.IDToken(idptest.Person{Subject: "u-ts", Email: "tess@example.com", EmailVerified: true})
	env := []string{"IDP_ISSUER=" + idp.URL, "ID_TOKEN=" + idToken, "IDP_CLIENT_ID=" + idptest.AgentClientID,
		"IDP_CLIENT_SECRET=" + idptest.AgentClientSecret, "CLIENT_ID=" + idm[1], "CLIENT_SECRET=" + secretm[1],
		"ISSUER=" + s.base, "TOOL=search_articles", `ARGS={"query":"semaphore"}`}
	script := filepath.Join(root, "test", "interop", "ts-cross-app.mjs")
	r := runOK(t, command{args: []string{"node", script, s.mcpURL}, dir: root, env: env, timeout: time.Minute})
	var res callResult
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil || res.IsError || !strings.Contains(res.text(), "semaphore") {
		t.Fatalf("search_articles through the TS SDK's cross-app access: %v %+v\nstderr:\n%s", err, res, r.stderr)
	}
	if n := idp.Exchanges(); n != 1 {
		t.Errorf("%d token exchanges at the provider, want 1", n)
	}
	users := runOK(t, command{args: []string{binary(t), "users", "list", "--database", s.db}}).stdout
	if !strings.Contains(users, "tess@example.com") || !strings.Contains(users, "(sub u-ts)") {
		t.Errorf("users list does not show the enterprise user:\n%s", users)
	}
	logs := s.logAfterStartup()
	if !strings.Contains(logs, "grant_type=jwt-bearer") {
		t.Error("the issuance is not logged")
	}
	for what, v := range map[string]string{"the ID token": idToken, "the client secret": secretm[1]} {
		if strings.Contains(logs, v) {
			t.Errorf("serve logged %s", what)
		}
	}

	// The provider's ID-JAGs now name another client: refused, no token.
	idp.GrantClientID("someone-else")
	r = run(t, command{args: []string{"node", script, s.mcpURL}, dir: root, env: env, timeout: time.Minute})
	if r.exitCode == 0 || !strings.Contains(r.stderr, "invalid_grant") {
		t.Errorf("an ID-JAG for another client: exit %d\nstdout:\n%s\nstderr:\n%s", r.exitCode, r.stdout, r.stderr)
	}
}
