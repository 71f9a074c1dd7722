package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

var (
	clientIDRE     = regexp.MustCompile(`(?m)^client_id: (\S+)$`)
	clientSecretRE = regexp.MustCompile(`(?m)^client_secret: (\S+)$`)
)

// addMachineClient runs "clients add --grant client_credentials" with
// args on s's database and returns the id and secret it printed.
func addMachineClient(t *testing.T, s *liveServer, args ...string) (id, secret string) {
	t.Helper()
	out := s.cli(t, append([]string{"clients", "add", "--name", "CI job", "--grant", "client_credentials"}, args...)...)
	idm, secretm := clientIDRE.FindStringSubmatch(out), clientSecretRE.FindStringSubmatch(out)
	if idm == nil || secretm == nil {
		t.Fatalf("clients add printed no id and secret:\n%s", out)
	}
	return idm[1], secretm[1]
}

// clientCredentialsToken asks serve's token endpoint for a token with the
// client credentials grant, as a script would.
func clientCredentialsToken(t *testing.T, s *liveServer, id, secret string) (*http.Response, map[string]any) {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "resource": {s.mcpURL}}
	req, _ := http.NewRequest(http.MethodPost, s.base+"/oauth/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var v map[string]any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("token response %d %q: %v", resp.StatusCode, b, err)
	}
	return resp, v
}

// TestClientCredentialsEndToEnd: an operator adds a machine client with
// the CLI; its token, from /oauth/token without a browser, calls a read
// tool through the go-sdk client, is refused a write tool with 403
// insufficient_scope, and stops working when the client is removed.
func TestClientCredentialsEndToEnd(t *testing.T) {
	t.Parallel()
	s := startServe(t)
	id, secret := addMachineClient(t, s, "--auth", "client_secret_basic", "--scope", "articles:read")
	resp, tok := clientCredentialsToken(t, s, id, secret)
	access, _ := tok["access_token"].(string)
	if resp.StatusCode != http.StatusOK || access == "" || tok["refresh_token"] != nil || tok["scope"] != "articles:read" {
		t.Fatalf("token response %d %v: want an access token for articles:read and no refresh token", resp.StatusCode, tok)
	}

	client := mcp.NewClient(&mcp.Implementation{Name: "ci-job", Version: "1"}, nil)
	cs, err := client.Connect(t.Context(), &mcp.StreamableClientTransport{
		Endpoint:   s.mcpURL,
		HTTPClient: &http.Client{Transport: headerTransport{header: http.Header{"Authorization": {"Bearer " + access}}, base: http.DefaultTransport}},
		MaxRetries: -1,
	}, nil)
	if err != nil {
		t.Fatalf("connect with the machine token: %v", err)
	}
	defer cs.Close()
	if got := searchSlugs(t, cs, "semaphore"); len(got) == 0 {
		t.Errorf("search with the machine token found nothing")
	}

	// A write: 403 with the scope it needs, before any tool runs.
	resp, body := post(t, s.mcpURL, `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"delete_article","arguments":{"slug":"a-semaphore-with-a-buffered-channel"}}}`,
		map[string]string{"Authorization": "Bearer " + access})
	if wa := resp.Header.Get("WWW-Authenticate"); resp.StatusCode != http.StatusForbidden || !strings.Contains(wa, `error="insufficient_scope"`) || !strings.Contains(wa, `scope="articles:write"`) {
		t.Errorf("delete_article with the read-only machine token: %d %q %s", resp.StatusCode, wa, body)
	}
	if res := callTool(t, cs, "get_article", map[string]any{"slug": "a-semaphore-with-a-buffered-channel"}); res.IsError {
		t.Errorf("the article is gone or unreadable after the refused delete: %v", res.Content)
	}

	s.cli(t, "clients", "remove", id)
	resp, body = post(t, s.mcpURL, `{"jsonrpc":"2.0","id":2,"method":"tools/list"}`, map[string]string{"Authorization": "Bearer " + access})
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(resp.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Errorf("the removed client's token: %d %q %s", resp.StatusCode, resp.Header.Get("WWW-Authenticate"), body)
	}
	if resp, tok := clientCredentialsToken(t, s, id, secret); resp.StatusCode != http.StatusUnauthorized || tok["error"] != "invalid_client" {
		t.Errorf("a token for the removed client: %d %v", resp.StatusCode, tok)
	}
	if logs := s.logs(); strings.Contains(logs, secret) || strings.Contains(logs, access) {
		t.Error("serve logged the secret or the token")
	}
}

// TestCallAndConnectWithClientCredentials: call and connect get a machine
// client's token themselves, with --grant client_credentials, and never
// open a browser; a write the client was not given fails with the
// server's reason, and the token is not left in the cache.
func TestCallAndConnectWithClientCredentials(t *testing.T) {
	t.Parallel()
	s := startServe(t)
	id, secret := addMachineClient(t, s, "--auth", "client_secret_basic", "--scope", "articles:read")
	env, opened := browserEnv(t, s)
	env = append(env, "JOB_SECRET="+secret)
	flags := []string{"--grant", "client_credentials", "--client-id", id, "--client-secret", "${JOB_SECRET}"}

	stdout, stderr, code := runCLI(t, env, append(append([]string{"call"}, flags...), s.mcpURL, "tools/call", "get_article", "slug=a-semaphore-with-a-buffered-channel")...)
	if code != 0 || !strings.Contains(stdout, `"slug": "a-semaphore-with-a-buffered-channel"`) {
		t.Fatalf("call get_article: exit %d\n%s\n%s", code, stdout, stderr)
	}
	stdout, stderr, code = runCLI(t, env, append(append([]string{"call"}, flags...), s.mcpURL, "tools/call", "delete_article", "slug=a-semaphore-with-a-buffered-channel")...)
	if code == 0 || !strings.Contains(stdout+stderr, "invalid_scope") {
		t.Errorf("call delete_article with a read-only machine client: exit %d, want a failure naming invalid_scope\n%s\n%s", code, stdout, stderr)
	}

	cs, _ := bridgeSession(t, env, append(flags, s.mcpURL)...)
	if got := searchSlugs(t, cs, "semaphore"); len(got) == 0 {
		t.Error("search through connect --grant client_credentials found nothing")
	}
	cs.Close()

	if n := opened(); n != 0 {
		t.Errorf("a browser was opened %d times", n)
	}
	if out, _, _ := runCLI(t, env[:1], "auth", "status"); strings.Contains(out, s.base) {
		t.Errorf("the machine client's token was cached:\n%s", out)
	}
	if strings.Contains(stderr, secret) || strings.Contains(s.logs(), secret) {
		t.Error("the secret was printed or logged")
	}
}

// TestCallWithClientCredentialsPost: nothing tells call which secret method
// the client was registered with; a client_secret_post one works too.
func TestCallWithClientCredentialsPost(t *testing.T) {
	t.Parallel()
	s := startServe(t)
	id, secret := addMachineClient(t, s, "--auth", "client_secret_post")
	stdout, stderr, code := runCLI(t, []string{"JOB_SECRET=" + secret}, "call", "--grant", "client_credentials", "--client-id", id,
		"--client-secret", "${JOB_SECRET}", s.mcpURL, "tools/call", "list_tags")
	if code != 0 || !strings.Contains(stdout, `"tags"`) {
		t.Errorf("call with a client_secret_post machine client: exit %d\n%s\n%s", code, stdout, stderr)
	}
}

// TestClientKeyFileMistakes: a key file that cannot be used, or a key
// beside a secret, is a usage mistake named before anything is sent.
func TestClientKeyFileMistakes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	notKey := filepath.Join(dir, "not-a-key.pem")
	if err := os.WriteFile(notKey, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--client-key-file", filepath.Join(dir, "missing.pem")}, "--client-key-file"},
		{[]string{"--client-key-file", notKey}, "no PEM block"},
		{[]string{"--client-key-file", notKey, "--client-secret", "s"}, "no PEM block"},
	} {
		args := append([]string{"call", "--grant", "client_credentials", "--client-id", "job"}, tt.args...)
		_, stderr, code := runCLI(t, nil, append(args, "http://127.0.0.1:1/mcp", "tools/list")...)
		if code != 2 || !strings.Contains(stderr, tt.want) {
			t.Errorf("%v: exit %d, %q; want 2 and %q", tt.args, code, stderr, tt.want)
		}
	}
}
