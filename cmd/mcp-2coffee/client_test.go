package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/2coffee/mcp-2coffee/internal/mcpserver"
)

// runCLI runs mcp-2coffee with args and extra environment, returning
// stdout, stderr and the exit status.
func runCLI(t *testing.T, env []string, args ...string) (string, string, int) {
	t.Helper()
	cmd := selfCommand(t, args...)
	cmd.Env = append(cmd.Env, env...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return stdout.String(), stderr.String(), code
}

func TestCallCommand(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "blog.db")
	self := os.Args[0]
	stdioEnv := []string{"MCP_2COFFEE_TEST_MAIN=1"} // the child command is this binary too

	t.Run("stdio command, method first", func(t *testing.T) {
		out, errOut, code := runCLI(t, stdioEnv, "call", "tools/call", "search_articles", "query=semaphore", "--", self, "stdio", "--database", db)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		var res struct {
			StructuredContent mcpserver.SearchOutput `json:"structuredContent"`
		}
		if err := json.Unmarshal([]byte(out), &res); err != nil || len(res.StructuredContent.Results) != 2 {
			t.Errorf("call output %.300s: %v", out, err)
		}
	})
	t.Run("stdio command, command first, --json and text format", func(t *testing.T) {
		out, errOut, code := runCLI(t, stdioEnv, "call", "--format", "text", "--", self, "stdio", "--database", db, "--", "tools/call", "search_articles", "--json", `{"query":"ca phe","language":"vi"}`)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		if !strings.Contains(out, "Articles matching \"ca phe\"") || strings.Contains(out, `"structuredContent"`) {
			t.Errorf("text output:\n%s", out)
		}
	})
	t.Run("a tool error exits 1 and still prints the result", func(t *testing.T) {
		out, _, code := runCLI(t, stdioEnv, "call", "tools/call", "get_article", "slug=no-such-slug", "--", self, "stdio", "--database", db)
		if code != 1 || !strings.Contains(out, `"isError": true`) {
			t.Errorf("exit %d, output %.300s", code, out)
		}
	})
	t.Run("resources and prompts", func(t *testing.T) {
		out, _, code := runCLI(t, stdioEnv, "call", "resources/read", "blog://articles/a-semaphore-with-a-buffered-channel", "--", self, "stdio", "--database", db)
		if code != 0 || !strings.Contains(out, "# A semaphore with a buffered channel") {
			t.Errorf("resources/read: exit %d %.300s", code, out)
		}
		out, _, code = runCLI(t, stdioEnv, "call", "prompts/get", "summarize_article", "slug=a-semaphore-with-a-buffered-channel", "--", self, "stdio", "--database", db)
		if code != 0 || !strings.Contains(out, `"messages"`) {
			t.Errorf("prompts/get: exit %d %.300s", code, out)
		}
	})
	t.Run("URL with a header from the environment", func(t *testing.T) {
		s := startServe(t)
		out, errOut, code := runCLI(t, []string{"BLOG_KEY=" + s.key, "MCP_2COFFEE_CONFIG_DIR=" + t.TempDir()},
			"call", "--header", "X-API-KEY: ${BLOG_KEY}", s.mcpURL, "tools/list")
		if code != 0 || strings.Count(out, `"name": "`) < 7 {
			t.Errorf("exit %d: %.300s\n%s", code, out, errOut)
		}
		if strings.Contains(errOut, s.key) {
			t.Errorf("the key reached stderr")
		}
	})
}

// bridgeSession starts "mcp-2coffee connect URL" with args and env and
// connects the go-sdk client to its stdio.
func bridgeSession(t *testing.T, env []string, args ...string) (*mcp.ClientSession, *strings.Builder) {
	t.Helper()
	cmd := selfCommand(t, append([]string{"connect"}, args...)...)
	cmd.Env = append(cmd.Env, env...)
	stderr := &strings.Builder{}
	cmd.Stderr = stderr
	client := mcp.NewClient(&mcp.Implementation{Name: "bridge-e2e", Version: "1"}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	cs, err := client.Connect(ctx, &mcp.CommandTransport{Command: cmd}, nil)
	if err != nil {
		t.Fatalf("connect through the bridge: %v\n%s", err, stderr.String())
	}
	t.Cleanup(func() {
		cs.Close()
		if t.Failed() {
			t.Logf("bridge stderr:\n%s", stderr.String())
		}
	})
	return cs, stderr
}

// TestConnectWithHeader relays a session with an API key and checks the
// client sees through the bridge what it sees directly.
func TestConnectWithHeader(t *testing.T) {
	t.Parallel()
	s := startServe(t)
	cs, stderr := bridgeSession(t, []string{"BLOG_KEY=" + s.key, "MCP_2COFFEE_CONFIG_DIR=" + t.TempDir()}, "--header", "X-API-KEY: ${BLOG_KEY}", s.mcpURL)
	direct := connectHTTP(t, s.mcpURL, s.key, "2025-11-25")
	ctx := t.Context()
	wantTools, err := direct.ListTools(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	gotTools, err := cs.ListTools(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(wantTools.Tools, gotTools.Tools); diff != "" {
		t.Errorf("tools/list through the bridge differs (-direct +bridge):\n%s", diff)
	}
	for _, call := range []map[string]any{
		{"query": "semaphore"}, {"query": "ca phe", "limit": 1}, {"query": ""},
	} {
		want := callTool(t, direct, "search_articles", call)
		got := callTool(t, cs, "search_articles", call)
		if diff := cmp.Diff(want.StructuredContent, got.StructuredContent); diff != "" || want.IsError != got.IsError {
			t.Errorf("search %v through the bridge differs (-direct +bridge):\n%s", call, diff)
		}
	}
	if strings.Contains(stderr.String(), s.key) {
		t.Errorf("the bridge logged the key")
	}
}

// browserEnv is the environment of a client command whose $BROWSER signs
// in to s as admin (see fakeBrowser), with its own token cache, and a
// count of the times a browser was opened.
func browserEnv(t *testing.T, s *liveServer) (env []string, opened func() int) {
	t.Helper()
	dir := t.TempDir()
	browserLog := filepath.Join(dir, "browser.log")
	script := filepath.Join(dir, "browser.sh")
	// The script marks its child as the browser; the bridge itself must
	// not inherit that mark.
	if err := os.WriteFile(script, []byte("#!/bin/sh\nMCP_2COFFEE_TEST_BROWSER=1 exec \""+os.Args[0]+"\" \"$@\"\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	env = []string{
		"MCP_2COFFEE_CONFIG_DIR=" + filepath.Join(dir, "config"),
		"BROWSER=" + script,
		"MCP_2COFFEE_TEST_USER=admin",
		"MCP_2COFFEE_TEST_PASSWORD=" + s.adminPassword(t),
		"MCP_2COFFEE_TEST_BROWSER_LOG=" + browserLog,
	}
	return env, func() int {
		b, _ := os.ReadFile(browserLog)
		return strings.Count(string(b), "opened")
	}
}

// TestConnectOAuth: the bridge signs in through the browser, a restarted
// bridge reuses the cached token without the browser, and after the
// server revokes the approval the bridge signs in again.
func TestConnectOAuth(t *testing.T) {
	t.Parallel()
	s := startServe(t)
	env, opened := browserEnv(t, s)

	cs, _ := bridgeSession(t, env, s.mcpURL)
	if got := searchSlugs(t, cs, "semaphore"); len(got) != 2 {
		t.Fatalf("search through the signed-in bridge = %v", got)
	}
	if n := opened(); n != 1 {
		t.Fatalf("browser opened %d times, want 1", n)
	}
	cs.Close()

	out, _, _ := runCLI(t, env[:1], "auth", "status")
	if !strings.Contains(out, s.base) || strings.Contains(out, "m2ca_") || strings.Contains(out, "m2cr_") {
		t.Errorf("auth status:\n%s", out)
	}
	info, err := os.Stat(strings.TrimPrefix(env[0], "MCP_2COFFEE_CONFIG_DIR="))
	if err != nil || info.Mode().Perm() != 0o700 {
		t.Errorf("token cache directory mode %v (%v), want 0700", info.Mode().Perm(), err)
	}

	cs2, _ := bridgeSession(t, env, s.mcpURL)
	if got := searchSlugs(t, cs2, "semaphore"); len(got) != 2 {
		t.Fatalf("search after a restart = %v", got)
	}
	if n := opened(); n != 1 {
		t.Errorf("a restarted bridge opened the browser again (%d), want the cached token reused", n)
	}
	cs2.Close()

	// The owner disconnects the client on the server side.
	grants := s.cli(t, "grants", "list")
	m := regexp.MustCompile(`(?m)^admin\s+.*?\s+(\S+)\s+articles:read`).FindStringSubmatch(grants)
	if m == nil {
		t.Fatalf("no grant to revoke:\n%s", grants)
	}
	s.cli(t, "grants", "revoke", "admin", m[1])

	cs3, _ := bridgeSession(t, env, s.mcpURL)
	if got := searchSlugs(t, cs3, "semaphore"); len(got) != 2 {
		t.Fatalf("search after revocation = %v", got)
	}
	if n := opened(); n != 2 {
		t.Errorf("after revocation the browser opened %d times in all, want 2 (a new sign-in)", n)
	}

	if _, errOut, code := runCLI(t, env, "logout", s.mcpURL); code != 0 || !strings.Contains(errOut, "Signed out") {
		t.Errorf("logout: exit %d %s", code, errOut)
	}
	if out, _, _ := runCLI(t, env[:1], "auth", "status"); strings.Contains(out, s.base) {
		t.Errorf("auth status after logout still lists the server:\n%s", out)
	}
}

// TestUsersCommand manages an OAuth user through the CLI, the password on
// standard input, and signs in with it.
func TestUsersCommand(t *testing.T) {
	t.Parallel()
	s := startServe(t)
	withStdin := func(stdin string, args ...string) (string, string, int) {
		cmd := selfCommand(t, append(args, "--database", s.db)...)
		cmd.Stdin = strings.NewReader(stdin)
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		if ee, ok := err.(*exec.ExitError); ok {
			return stdout.String(), stderr.String(), ee.ExitCode()
		}
		return stdout.String(), stderr.String(), 0
	}
	if _, errOut, code := withStdin("correct horse battery\n", "users", "add", "bob"); code != 0 {
		t.Fatalf("users add: %d %s", code, errOut)
	}
	if out, _, _ := withStdin("", "users", "list"); !strings.Contains(out, "bob") || !strings.Contains(out, "admin") {
		t.Errorf("users list:\n%s", out)
	}
	if _, errOut, code := withStdin("", "users", "add", "carol"); code != 2 || !strings.Contains(errOut, "standard input") {
		t.Errorf("users add without a password: exit %d %s", code, errOut)
	}
	if _, errOut, code := withStdin("new pass phrase 2\n", "users", "passwd", "bob"); code != 0 {
		t.Fatalf("users passwd: %d %s", code, errOut)
	}
	// Sign in as bob with the new password through a registered client.
	resp, body := postJSON(t, s.base+"/oauth/register", `{"client_name":"users test","redirect_uris":["`+callbackURL+`"]}`)
	var reg struct {
		ClientID string `json:"client_id"`
	}
	if json.Unmarshal([]byte(body), &reg); resp.StatusCode != 201 {
		t.Fatalf("register: %d %s", resp.StatusCode, body)
	}
	q := "response_type=code&client_id=" + reg.ClientID + "&redirect_uri=" + callbackURL +
		"&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256&state=u"
	if got := newSignIn(t, "bob", "new pass phrase 2").authorize(s.base + "/oauth/authorize?" + q); got.Get("code") == "" {
		t.Errorf("bob could not sign in: %v", got)
	}
	if _, errOut, code := withStdin("", "users", "remove", "bob"); code != 0 {
		t.Fatalf("users remove: %d %s", code, errOut)
	}
	if out, _, _ := withStdin("", "users", "list"); strings.Contains(out, "bob") {
		t.Errorf("bob still listed after remove:\n%s", out)
	}
}
