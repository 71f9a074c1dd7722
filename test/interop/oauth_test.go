package interop

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// signinResult is what browser/signin.mjs writes to $M2C_RESULT.
type signinResult struct {
	OK    bool   `json:"ok"`
	Error string `json:"error"`
	Steps []struct {
		Name string `json:"name"`
		At   string `json:"at"`
	} `json:"steps"`
	AuthorizationEndpoint string            `json:"authorizationEndpoint"`
	AuthorizationParams   []string          `json:"authorizationParams"`
	AuthorizationRequest  map[string]string `json:"authorizationRequest"`
	ConsentText           string            `json:"consentText"`
	Callback              string            `json:"callback"`
	CallbackParams        map[string]string `json:"callbackParams"`
	CallbackText          string            `json:"callbackText"`
}

// browserLauncher writes the program that $BROWSER names: mcp-remote opens
// the authorization URL through the `open` package, whose xdg-open runs
// `$BROWSER URL` (BROWSER is a colon-separated list of commands, split on
// white space, so the path may hold neither). It runs script with node and
// appends its output to logPath, since the opener discards it.
func browserLauncher(t *testing.T, dir, script, logPath string) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal(err)
	}
	if node, err = filepath.Abs(node); err != nil {
		t.Fatal(err)
	}
	quote := func(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
	path := filepath.Join(dir, "browser")
	if strings.ContainsAny(path, ": \t\n%") {
		t.Fatalf("%q cannot be a $BROWSER entry (it must hold no colon, white space or %%)", path)
	}
	sh := "#!/bin/sh\n# $BROWSER for mcp-remote, written by TestMCPRemoteOAuth.\nexec " +
		quote(node) + " " + quote(script) + ` "$@" >>` + quote(logPath) + " 2>&1\n"
	if err := os.WriteFile(path, []byte(sh), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// mcpRemoteTokens reads the tokens mcp-remote stored under its config
// directory (<dir>/mcp-remote-v1/<hash>_tokens.json).
func mcpRemoteTokens(t *testing.T, configDir string) (access, refresh string) {
	t.Helper()
	var files []string
	filepath.WalkDir(configDir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, "_tokens.json") {
			files = append(files, p)
		}
		return nil
	})
	if len(files) != 1 {
		t.Fatalf("mcp-remote stored %d token files under %s, want 1: %v", len(files), configDir, files)
	}
	b, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
	}
	if err := json.Unmarshal(b, &tok); err != nil || tok.AccessToken == "" {
		t.Fatalf("mcp-remote's token file %s holds no access token (%v)", files[0], err)
	}
	return tok.AccessToken, tok.RefreshToken
}

// waitForFile waits until path exists, or fails the test after d.
func waitForFile(t *testing.T, path string, d time.Duration) []byte {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		b, err := os.ReadFile(path)
		if err == nil {
			return b
		}
		if !errors.Is(err, fs.ErrNotExist) || time.Now().After(deadline) {
			t.Fatalf("waiting for %s: %v", path, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// mcpRemoteRun is mcp-remote signed in through browser/signin.mjs.
type mcpRemoteRun struct {
	cs         *mcp.ClientSession
	ctx        context.Context
	stderr     *strings.Builder // mcp-remote's
	configDir  string           // MCP_REMOTE_CONFIG_DIR
	resultPath string           // what signin.mjs wrote
	browserLog func() string
	started    time.Time
}

// mcpRemoteSignIn runs mcp-remote against mcpURL as a Claude Desktop
// config without a key would (`npx mcp-remote URL`), with $BROWSER running
// browser/signin.mjs in Chromium (env tells it how to sign in), and
// connects the go-sdk client to it over stdio. It fails the test when the
// connection does not come up, with what mcp-remote and the browser said.
func mcpRemoteSignIn(t *testing.T, mcpURL, shotsName string, env ...string) *mcpRemoteRun {
	t.Helper()
	bridge := nodeTool(t, "mcp-remote")
	script := browserScript(t, "signin.mjs")
	chromium := chromiumPath(t)
	shots := testOutputDir(t, shotsName)
	dir := t.TempDir()
	r := &mcpRemoteRun{resultPath: filepath.Join(dir, "signin.json"), configDir: filepath.Join(dir, "mcp-remote"), stderr: &strings.Builder{}}
	browserLog := filepath.Join(dir, "browser.log")
	r.browserLog = func() string {
		b, _ := os.ReadFile(browserLog)
		return string(b)
	}
	cmd := exec.Command(bridge, mcpURL)
	cmd.Env = append(os.Environ(), browserEnv(chromium)...)
	cmd.Env = append(cmd.Env,
		"MCP_REMOTE_CONFIG_DIR="+r.configDir,
		"BROWSER="+browserLauncher(t, dir, script, browserLog),
		"M2C_RESULT="+r.resultPath,
		"M2C_SHOTS="+shots,
	)
	cmd.Env = append(cmd.Env, env...)
	cmd.Stderr = r.stderr
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	r.ctx = ctx
	// mcp-remote waits for the callback as long as its auth timeout; when
	// the browser has already given up, stop waiting with it.
	go func() {
		for ctx.Err() == nil {
			var sr signinResult
			if b, err := os.ReadFile(r.resultPath); err == nil && json.Unmarshal(b, &sr) == nil && !sr.OK {
				cancel()
				return
			}
			time.Sleep(200 * time.Millisecond)
		}
	}()
	r.started = time.Now()
	client := mcp.NewClient(&mcp.Implementation{Name: "interop", Version: "1"}, nil)
	cs, err := client.Connect(ctx, &mcp.CommandTransport{Command: cmd}, nil)
	if err != nil {
		b, _ := os.ReadFile(r.resultPath)
		t.Fatalf("connect through mcp-remote: %v\nmcp-remote stderr:\n%s\nbrowser log:\n%s\nbrowser record:\n%s", err, r.stderr.String(), r.browserLog(), b)
	}
	t.Cleanup(func() { cs.Close() })
	r.cs = cs
	return r
}

// TestMCPRemoteOAuth runs mcp-remote as a Claude Desktop config without a
// key would (`npx mcp-remote URL`): it finds that /mcp needs OAuth,
// discovers the authorization server, registers itself (DCR) and opens the
// authorization URL through $BROWSER, here browser/signin.mjs, which signs
// in as admin in Chromium, approves, and follows the redirect back to
// mcp-remote's loopback callback. Then the go-sdk client, speaking to
// mcp-remote over stdio, lists the tools and searches. mcp-remote checks
// on its own that the metadata's issuer is the authorization server's URL,
// that the protected resource is the server URL, that S256 is offered, and
// the iss on the callback.
func TestMCPRemoteOAuth(t *testing.T) {
	nodeTool(t, "mcp-remote")
	chromiumPath(t)
	s := startServe(t, "--log-level", "debug")
	if s.password == "" {
		t.Fatal("serve printed no first-run password for the user admin")
	}
	r := mcpRemoteSignIn(t, s.mcpURL, "mcp-remote-oauth", "M2C_USER=admin", "M2C_PASSWORD="+s.password)
	cs, ctx, stderr, configDir, resultPath, showBrowserLog := r.cs, r.ctx, r.stderr, r.configDir, r.resultPath, r.browserLog
	start := r.started
	tools, err := cs.ListTools(ctx, nil)
	if err != nil {
		t.Fatalf("tools/list: %v\nmcp-remote stderr:\n%s\nbrowser log:\n%s", err, stderr.String(), showBrowserLog())
	}
	t.Logf("mcp-remote signed in and listed tools in %v", time.Since(start).Round(time.Millisecond))
	var names []string
	for _, tool := range tools.Tools {
		names = append(names, tool.Name)
	}
	if !slices.Contains(names, "search_articles") {
		t.Errorf("tools through mcp-remote = %v", names)
	}
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "search_articles", Arguments: map[string]any{"query": "semaphore"}})
	if err != nil {
		t.Fatal(err)
	}
	var out searchOutput
	b, _ := json.Marshal(res.StructuredContent)
	if err := json.Unmarshal(b, &out); err != nil || res.IsError || len(out.Results) != 2 {
		t.Errorf("search_articles through mcp-remote: isError=%v results=%+v err=%v", res.IsError, out.Results, err)
	}

	// The browser signed in and came back: by now it has written its
	// record, or is about to.
	var sr signinResult
	if err := json.Unmarshal(waitForFile(t, resultPath, 30*time.Second), &sr); err != nil || !sr.OK {
		t.Fatalf("the browser script did not finish the sign-in (%v): %s\nbrowser log:\n%s", err, sr.Error, showBrowserLog())
	}
	t.Run("browser walk", func(t *testing.T) {
		var steps []string
		for _, st := range sr.Steps {
			steps = append(steps, st.Name)
		}
		if !slices.Equal(steps, []string{"login page", "consent page", "callback"}) {
			t.Errorf("browser steps %v, want login page, consent page, callback", steps)
		}
		if sr.AuthorizationEndpoint != s.base+"/oauth/authorize" {
			t.Errorf("mcp-remote opened %s, want the authorization endpoint %s/oauth/authorize", sr.AuthorizationEndpoint, s.base)
		}
		req := sr.AuthorizationRequest
		if req["response_type"] != "code" || req["code_challenge_method"] != "S256" || req["resource"] != s.mcpURL {
			t.Errorf("authorization request %v (params %v): want code, S256 and resource %s", req, sr.AuthorizationParams, s.mcpURL)
		}
		cb, err := url.Parse(sr.Callback)
		if err != nil || cb.Scheme != "http" || (cb.Hostname() != "localhost" && cb.Hostname() != "127.0.0.1") {
			t.Errorf("the browser came back to %q, want mcp-remote's loopback callback", sr.Callback)
		}
		if req["redirect_uri"] != sr.Callback {
			t.Errorf("redirect_uri %q, but the browser landed on %q", req["redirect_uri"], sr.Callback)
		}
		p := sr.CallbackParams
		if p["code"] == "" || p["state"] == "" || p["iss"] != s.base || p["error"] != "" {
			t.Errorf("callback carried code=%t state=%t iss=%q error=%q; want a code, the state and iss=%s",
				p["code"] != "", p["state"] != "", p["iss"], p["error"], s.base)
		}
		if !strings.Contains(sr.CallbackText, "Authorization successful") {
			t.Errorf("mcp-remote's callback page says %q", sr.CallbackText)
		}
		if !strings.Contains(sr.ConsentText, "Read the blog's articles") || !strings.Contains(sr.ConsentText, cb.Host) {
			t.Errorf("consent page does not show the scope in words and the redirect host %s:\n%s", cb.Host, sr.ConsentText)
		}
	})

	t.Run("client registered and approved", func(t *testing.T) {
		list := runOK(t, command{args: []string{binary(t), "clients", "list", "--database", s.db}}).stdout
		// Columns: CLIENT ID, NAME (may hold spaces), KIND, AUTH, REDIRECT URIS.
		var clientID, clientName string
		for line := range strings.Lines(list) {
			id, rest, _ := strings.Cut(line, " ")
			name, tail, ok := strings.Cut(rest, " dynamic ")
			if ok && strings.Contains(tail, sr.Callback) {
				clientID, clientName = id, strings.TrimSpace(name)
			}
		}
		if clientID == "" {
			t.Fatalf("clients list has no dynamic client with redirect URI %s:\n%s", sr.Callback, list)
		}
		grants := runOK(t, command{args: []string{binary(t), "grants", "list", "--database", s.db}}).stdout
		var granted bool
		for line := range strings.Lines(grants) {
			f := strings.Fields(line)
			granted = granted || (len(f) > 0 && f[0] == "admin" && slices.Contains(f, clientID) && slices.Contains(f, "articles:read"))
		}
		if !granted {
			t.Errorf("grants list has no approval of admin for %s:\n%s", clientID, grants)
		}
		// The consent page named the client as it registered itself.
		if clientName == "" || !strings.Contains(sr.ConsentText, clientName) {
			t.Errorf("consent page does not show the client's name %q:\n%s", clientName, sr.ConsentText)
		}
	})

	access, refresh := mcpRemoteTokens(t, configDir)
	noSecrets(t, "the serve log", s.logAfterStartup(), map[string]string{
		"password":           s.password,
		"access token":       access,
		"refresh token":      refresh,
		"authorization code": sr.CallbackParams["code"],
	})
	noSecrets(t, "mcp-remote's stderr", stderr.String(), map[string]string{"password": s.password})
}
