package interop

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// server is a running `mcp-2coffee serve` on a free loopback port.
type server struct {
	mcpURL   string
	key      string // the admin key printed on first run ("" with --auth=none)
	base     string // the issuer: mcpURL without the /mcp path
	db       string // the database file, for the admin commands
	password string // the OAuth user "admin"'s password printed on first run

	mu         sync.Mutex
	log        strings.Builder
	startupLen int // how much of log the start-up (first-run secrets included) took
}

// logAfterStartup returns what serve logged after it printed its first-run
// secrets and started listening: the log in which no secret may appear.
func (s *server) logAfterStartup() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log.String()[s.startupLen:]
}

var (
	servingRE = regexp.MustCompile(`msg=serving mcp=(\S+)`)
	keyRE     = regexp.MustCompile(`^\s+(m2c_[a-z0-9]+_[a-z0-9]+)\s*$`)
	// The first-run user's password follows this line, on an indented
	// line of its own after a blank one.
	userBannerRE = regexp.MustCompile(`^First run: created the user "admin" .*password is shown only now:`)
	passwordRE   = regexp.MustCompile(`^\s+(\S+)\s*$`)
)

// startServe starts the built binary's serve command over a new database
// and waits until it listens. It is stopped with SIGINT when the test ends.
func startServe(t testing.TB, extra ...string) *server {
	t.Helper()
	s := &server{db: filepath.Join(t.TempDir(), "blog.db")}
	// The tests read the first run's secrets where a person at a terminal
	// would see them (TestServeFirstRunSecretsFile covers the file).
	args := append([]string{"serve", "--addr", "127.0.0.1:0", "--database", s.db, "--first-run-secrets", "stderr"}, extra...)
	cmd := exec.Command(binary(t), args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		wantPassword := false
		for sc.Scan() {
			s.mu.Lock()
			s.log.WriteString(sc.Text() + "\n")
			if m := keyRE.FindStringSubmatch(sc.Text()); m != nil && s.key == "" {
				s.key = m[1]
			}
			switch {
			case userBannerRE.MatchString(sc.Text()):
				wantPassword = s.password == ""
			case wantPassword:
				if m := passwordRE.FindStringSubmatch(sc.Text()); m != nil {
					s.password, wantPassword = m[1], false
				}
			}
			if m := servingRE.FindStringSubmatch(sc.Text()); m != nil && s.mcpURL == "" {
				s.mcpURL = m[1]
				s.base = strings.TrimSuffix(s.mcpURL, "/mcp")
				s.startupLen = s.log.Len()
				close(ready)
			}
			s.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
		}
		if t.Failed() {
			s.mu.Lock()
			t.Logf("serve log:\n%s", s.log.String())
			s.mu.Unlock()
		}
	})
	select {
	case <-ready:
	case <-time.After(time.Minute):
		t.Fatal("serve did not start")
	}
	return s
}

// TestMCPRemoteWithAPIKey runs mcp-remote exactly as a Claude Desktop
// config would (`npx mcp-remote URL --header "X-API-KEY: …"`) and drives it
// over stdio with the go-sdk client.
func TestMCPRemoteWithAPIKey(t *testing.T) {
	s := startServe(t)
	cmd := exec.Command(nodeTool(t, "mcp-remote"), s.mcpURL, "--header", "X-API-KEY: "+s.key)
	cmd.Env = append(os.Environ(), "MCP_REMOTE_CONFIG_DIR="+t.TempDir())
	var stderr strings.Builder
	cmd.Stderr = &stderr
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	client := mcp.NewClient(&mcp.Implementation{Name: "interop", Version: "1"}, nil)
	cs, err := client.Connect(ctx, &mcp.CommandTransport{Command: cmd}, nil)
	if err != nil {
		t.Fatalf("connect through mcp-remote: %v\nmcp-remote stderr:\n%s", err, stderr.String())
	}
	defer cs.Close()
	tools, err := cs.ListTools(ctx, nil)
	if err != nil {
		t.Fatalf("tools/list: %v\n%s", err, stderr.String())
	}
	var names []string
	for _, tool := range tools.Tools {
		names = append(names, tool.Name)
	}
	if !slices.Contains(names, "search_articles") || !slices.Contains(names, "restore_article") || len(names) != 11 {
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
	if strings.Contains(stderr.String(), s.key) {
		t.Errorf("mcp-remote logged the key")
	}
}

// TestInspectorCLIHTTP runs the Inspector CLI against /mcp with the key in
// --header, and without it.
func TestInspectorCLIHTTP(t *testing.T) {
	s := startServe(t)
	home := t.TempDir()
	inspect := func(header string, method ...string) result {
		args := []string{nodeTool(t, "mcp-inspector"), "--cli", s.mcpURL, "--transport", "http"}
		if header != "" {
			args = append(args, "--header", header)
		}
		return run(t, command{args: append(args, method...), dir: home, env: []string{"HOME=" + home}, timeout: 2 * time.Minute})
	}
	r := inspect("X-API-KEY: "+s.key, "--method", "tools/list")
	if r.err != nil {
		t.Fatalf("tools/list: %v\n%s\n%s", r.err, r.stderr, r.stdout)
	}
	var list struct {
		Tools []struct{ Name string } `json:"tools"`
	}
	decodeJSON(t, r, &list)
	if len(list.Tools) != 11 {
		t.Errorf("tools/list over HTTP = %+v", list.Tools)
	}
	r = inspect("X-API-KEY: "+s.key, "--method", "tools/call", "--tool-name", "search_articles", "--tool-arg", "query=semaphore")
	if r.err != nil {
		t.Fatalf("tools/call: %v\n%s", r.err, r.stderr)
	}
	var call callResult
	decodeJSON(t, r, &call)
	var out searchOutput
	if err := json.Unmarshal(call.StructuredContent, &out); err != nil || call.IsError || len(out.Results) != 2 {
		t.Errorf("search over HTTP: isError=%v %+v %v", call.IsError, out.Results, err)
	}
	if r := inspect("", "--method", "tools/list"); r.err == nil {
		t.Errorf("the Inspector listed tools without a key:\n%s", r.stdout)
	}
}

// conformanceScenarios are the server scenarios of the official suite that
// need none of the suite's own fixture tools (test_*), each of which the
// blog must pass with no failure and no warning.
var conformanceScenarios = []string{
	"server-initialize",
	"server-session-lifecycle",
	"ping",
	"logging-set-level",
	"completion-complete",
	"tools-list",
	"resources-list",
	"prompts-list",
	"dns-rebinding-protection",
	"caching",
	"http-header-validation",
	"sep-2164-resource-not-found",
}

var conformanceResultRE = regexp.MustCompile(`Passed: (\d+)/(\d+), (\d+) failed, (\d+) warnings`)

// TestConformanceServer grades `serve --auth=none` with
// @modelcontextprotocol/conformance (the suite cannot send an
// authentication header).
func TestConformanceServer(t *testing.T) {
	s := startServe(t, "--auth", "none")
	loader := filepath.Join(moduleRoot(t), "test", "interop", "node20-fs-globsync.mjs")
	nodeTool(t, "conformance") // fails under CI when it is missing
	cli := filepath.Join(moduleRoot(t), "node_modules", "@modelcontextprotocol", "conformance", "dist", "index.js")
	for _, scenario := range conformanceScenarios {
		t.Run(scenario, func(t *testing.T) {
			r := run(t, command{
				args:    []string{"node", "--import", loader, cli, "server", "--url", s.mcpURL, "--scenario", scenario, "-o", t.TempDir()},
				dir:     moduleRoot(t),
				env:     []string{"NO_COLOR=1", "FORCE_COLOR=0"},
				timeout: 2 * time.Minute,
			})
			m := conformanceResultRE.FindStringSubmatch(r.stdout + r.stderr)
			if m == nil {
				t.Fatalf("no result line (exit %d, %v)\n%s\n%s", r.exitCode, r.err, r.stdout, r.stderr)
			}
			if m[3] != "0" || m[4] != "0" || r.exitCode != 0 {
				t.Errorf("%s: %s (exit %d)\n%s", scenario, m[0], r.exitCode, r.stdout)
			}
			t.Log(m[0])
		})
	}
}
