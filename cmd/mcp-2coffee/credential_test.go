package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestCallWithAReadOnlyKey is issue 12's report against the real server:
// a read-only key and a write call. Without --oauth-step-up the user gets
// an error that says what the key lacks, and no browser; with it the
// bridge signs in and the write succeeds on the token alone; a later call
// with the key alone still works though a token is now cached (the server
// answers 400 to a request carrying both); a revoked key is named as the
// problem.
func TestCallWithAReadOnlyKey(t *testing.T) {
	t.Parallel()
	s := startServe(t)
	readKey := s.cli(t, "keys", "create", "--name", "reader", "--scope", "articles:read")
	env, opened := browserEnv(t, s)
	env = append(env, "BLOG_KEY="+readKey)
	create := func(title string, extra ...string) (string, string, int) {
		args := append([]string{"call", "--header", "X-API-KEY: ${BLOG_KEY}"}, extra...)
		args = append(args, s.mcpURL, "tools/call", "create_article", "title="+title, "body=Written through call.")
		return runCLI(t, env, args...)
	}

	_, errOut, code := create("Refused")
	if code == 0 || !strings.Contains(errOut, "the configured X-API-KEY lacks the scope articles:write") || !strings.Contains(errOut, "--oauth-step-up") {
		t.Errorf("write with a read-only key: exit %d, stderr:\n%s", code, errOut)
	}
	if n := opened(); n != 0 {
		t.Errorf("the browser opened %d times without --oauth-step-up", n)
	}

	out, errOut, code := create("Stepped up", "--oauth-step-up")
	if code != 0 || !strings.Contains(out, "stepped-up") {
		t.Fatalf("write with --oauth-step-up: exit %d\n%s\n%s", code, out, errOut)
	}
	if n := opened(); n != 1 {
		t.Errorf("the browser opened %d times with --oauth-step-up, want 1", n)
	}

	// A token is cached now; the key alone is still what goes.
	if out, errOut, code := runCLI(t, env, "call", "--header", "X-API-KEY: ${BLOG_KEY}", s.mcpURL, "tools/list"); code != 0 || !strings.Contains(out, "search_articles") {
		t.Errorf("tools/list with the key while a token is cached: exit %d\n%.300s\n%s", code, out, errOut)
	}

	var keys []struct{ ID, Name string }
	if err := json.Unmarshal([]byte(s.cli(t, "keys", "list", "--json")), &keys); err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if k.Name == "reader" {
			s.cli(t, "keys", "revoke", k.ID)
		}
	}
	_, errOut, code = runCLI(t, env, "call", "--header", "X-API-KEY: ${BLOG_KEY}", s.mcpURL, "tools/list")
	if code == 0 || !strings.Contains(errOut, "the server refused the configured X-API-KEY (401 invalid_token") {
		t.Errorf("tools/list with a revoked key: exit %d, stderr:\n%s", code, errOut)
	}
	if n := opened(); n != 1 {
		t.Errorf("the browser opened for a revoked key (%d times in all)", n)
	}
	if strings.Contains(errOut, readKey) {
		t.Error("the key reached stderr")
	}
}
