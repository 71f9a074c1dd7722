package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/2coffee/mcp-2coffee/internal/extauth/idptest"
)

// TestEnterpriseManagedAuthorization: serve trusts an enterprise identity
// provider (--enterprise-issuer); an operator adds an enterprise client
// (--grant jwt-bearer); call and connect with --grant jwt-bearer exchange
// the user's ID token at the provider for an ID-JAG and that for a token,
// never opening a browser. The user becomes a local user with the client
// among their grants; a write the enterprise did not grant is refused;
// the ID token, the ID-JAG and the secrets are neither logged nor printed.
func TestEnterpriseManagedAuthorization(t *testing.T) {
	t.Parallel()
	idp := idptest.New(t)
	s := startServe(t, "--enterprise-issuer", idp.URL)
	out := s.cli(t, "clients", "add", "--name", "Acme agent", "--grant", "jwt-bearer", "--auth", "client_secret_basic", "--scope", "articles:read,articles:write")
	idm, secretm := clientIDRE.FindStringSubmatch(out), clientSecretRE.FindStringSubmatch(out)
	if idm == nil || secretm == nil {
		t.Fatalf("clients add printed no id and secret:\n%s", out)
	}
	id, secret := idm[1], secretm[1]
	if list := s.cli(t, "clients", "list"); !strings.Contains(list, "urn:ietf:params:oauth:grant-type:jwt-bearer") {
		t.Errorf("clients list does not show the grant:\n%s", list)
	}
	idp.GrantClientID(id)
	idp.GrantScope("articles:read") // the enterprise's policy: read only
	idToken := idp.IDToken(idptest.Person{Subject: "u-ann", Email: "ann@example.com", EmailVerified: true})
	tokenFile := filepath.Join(t.TempDir(), "id-token")
	if err := os.WriteFile(tokenFile, []byte(idToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env, opened := browserEnv(t, s)
	env = append(env, "AGENT_SECRET="+secret, "IDP_SECRET="+idptest.AgentClientSecret)
	flags := []string{"--grant", "jwt-bearer", "--client-id", id, "--client-secret", "${AGENT_SECRET}",
		"--id-token-file", tokenFile, "--idp-issuer", idp.URL, "--idp-client-id", idptest.AgentClientID, "--idp-client-secret", "${IDP_SECRET}"}

	stdout, stderr, code := runCLI(t, env, append(append([]string{"call"}, flags...), s.mcpURL, "tools/call", "get_article", "slug=a-semaphore-with-a-buffered-channel")...)
	if code != 0 || !strings.Contains(stdout, `"slug": "a-semaphore-with-a-buffered-channel"`) {
		t.Fatalf("call get_article: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if n := idp.Exchanges(); n != 1 {
		t.Errorf("%d token exchanges at the provider, want 1", n)
	}
	stdout, stderr, code = runCLI(t, env, append(append([]string{"call"}, flags...), s.mcpURL, "tools/call", "delete_article", "slug=a-semaphore-with-a-buffered-channel")...)
	if code == 0 || !strings.Contains(stdout+stderr, "scope") {
		t.Errorf("call delete_article with a read-only grant: exit %d, want a failure about the scope\n%s\n%s", code, stdout, stderr)
	}

	cs, _ := bridgeSession(t, env, append(flags, s.mcpURL)...)
	if got := searchSlugs(t, cs, "semaphore"); len(got) == 0 {
		t.Error("search through connect --grant jwt-bearer found nothing")
	}
	cs.Close()
	if n := opened(); n != 0 {
		t.Errorf("a browser was opened %d times", n)
	}
	if users := s.cli(t, "users", "list"); !strings.Contains(users, "ann@example.com ") || !strings.Contains(users, idp.URL+" (sub u-ann)") {
		t.Errorf("users list does not show the enterprise user:\n%s", users)
	}
	if grants := s.cli(t, "grants", "list"); !strings.Contains(grants, "Acme agent") {
		t.Errorf("grants list does not show the enterprise client:\n%s", grants)
	}
	for what, v := range map[string]string{"the client secret": secret, "the ID token": idToken, "the provider secret": idptest.AgentClientSecret} {
		if strings.Contains(s.logs(), v) || strings.Contains(stderr, v) {
			t.Errorf("%s was logged or printed", what)
		}
	}
	if !strings.Contains(s.logs(), "grant_type=jwt-bearer") {
		t.Error("the issuance is not logged")
	}

	// Flags that go together.
	_, stderr, code = runCLI(t, env, "call", "--grant", "jwt-bearer", "--client-id", id, "--client-secret", "x", s.mcpURL, "tools/list")
	if code == 0 || !strings.Contains(stderr, "--id-token-file") {
		t.Errorf("--grant jwt-bearer without the provider: exit %d\n%s", code, stderr)
	}
}
