package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/2coffee/mcp-2coffee/internal/authn"
	"github.com/2coffee/mcp-2coffee/internal/mcpserver"
	"github.com/2coffee/mcp-2coffee/internal/testkit"
)

// liveServer is a real "mcp-2coffee serve" child process on a loopback
// port.
type liveServer struct {
	base   string // http://127.0.0.1:PORT
	mcpURL string
	key    string // the admin key printed on first run
	db     string
	cmd    *exec.Cmd
	ready  chan struct{} // closed when serve logs that it serves
	exited chan struct{} // closed when its standard error reaches EOF

	mu     sync.Mutex
	stderr strings.Builder
}

var (
	servingRE = regexp.MustCompile(`msg=serving mcp=(\S+)`)
	keyRE     = regexp.MustCompile(`^\s+(m2c_[a-z0-9]+_[a-z0-9]+)\s*$`)
)

// serveOptions say how launchServe runs serve.
type serveOptions struct {
	db   string   // the --database; "" is a new SQLite file of the test's own
	addr string   // the --addr; "" is 127.0.0.1:0
	args []string // further flags
}

// startServe runs serve with extra args on 127.0.0.1:0 over a new database
// and waits until it listens.
func startServe(t *testing.T, extra ...string) *liveServer {
	t.Helper()
	s := launchServe(t, serveOptions{args: extra})
	s.waitServing(t)
	return s
}

// launchServe starts serve as opts say and returns at once, so a test can
// start several before waiting for any (waitServing). The process is
// stopped when the test ends, and its log is printed if the test failed.
func launchServe(t *testing.T, opts serveOptions) *liveServer {
	t.Helper()
	if opts.db == "" {
		opts.db = filepath.Join(t.TempDir(), "blog.db")
	}
	if opts.addr == "" {
		opts.addr = "127.0.0.1:0"
	}
	s := &liveServer{db: opts.db, ready: make(chan struct{}), exited: make(chan struct{})}
	// The tests read the first run's secrets where a person at a terminal
	// would see them (TestServeFirstRunSecretsFile covers the file).
	args := append([]string{"serve", "--addr", opts.addr, "--database", s.db, "--first-run-secrets", "stderr"}, opts.args...)
	s.cmd = selfCommand(t, args...)
	pipe, err := s.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(s.exited)
		sc := bufio.NewScanner(pipe)
		signalled := false
		for sc.Scan() {
			line := sc.Text()
			s.mu.Lock()
			s.stderr.WriteString(line + "\n")
			if m := keyRE.FindStringSubmatch(line); m != nil && s.key == "" {
				s.key = m[1]
			}
			if m := servingRE.FindStringSubmatch(line); m != nil && !signalled {
				s.mcpURL = m[1]
				s.base = strings.TrimSuffix(m[1], "/mcp")
				signalled = true
				close(s.ready)
			}
			s.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		s.cmd.Process.Signal(interruptSignal)
		done := make(chan struct{})
		go func() { s.wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			s.cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("serve %s stderr:\n%s", s.base, s.logs())
		}
	})
	return s
}

// waitServing waits until s logs that it serves, failing the test if it
// exits or takes more than 30 seconds.
func (s *liveServer) waitServing(t *testing.T) {
	t.Helper()
	select {
	case <-s.ready:
	case <-s.exited:
		s.wait()
		t.Fatalf("serve exited before serving (%v):\n%s", s.cmd.ProcessState, s.logs())
	case <-time.After(30 * time.Second):
		t.Fatalf("serve did not start:\n%s", s.logs())
	}
}

// wait reaps the process once its standard error is read to the end, so
// the log holds its last lines (exec.Cmd.Wait closes the pipe). A second
// call returns at once.
func (s *liveServer) wait() {
	<-s.exited
	s.cmd.Wait()
}

func (s *liveServer) logs() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stderr.String()
}

// cli runs another mcp-2coffee command on the same database.
func (s *liveServer) cli(t *testing.T, args ...string) string {
	t.Helper()
	cmd := selfCommand(t, append(args, "--database", s.db)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%v: %v\n%s", args, err, stderr.String())
	}
	return strings.TrimSpace(string(out))
}

// headerTransport adds fixed headers to every request.
type headerTransport struct {
	header http.Header
	base   http.RoundTripper
}

func (h headerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	for k, v := range h.header {
		r.Header[k] = v
	}
	return h.base.RoundTrip(r)
}

// connectHTTP connects the go-sdk client to url with an X-API-KEY header,
// asking for protocol version.
func connectHTTP(t *testing.T, url, key, version string) *mcp.ClientSession {
	t.Helper()
	return connectHTTPVersion(t, url, http.Header{"X-Api-Key": {key}}, version)
}

// connectHTTPWith connects the go-sdk client to url sending header (a
// bearer token, say) with every request.
func connectHTTPWith(t *testing.T, url string, header http.Header) *mcp.ClientSession {
	t.Helper()
	return connectHTTPVersion(t, url, header, "")
}

func connectHTTPVersion(t *testing.T, url string, header http.Header, version string) *mcp.ClientSession {
	t.Helper()
	hc := &http.Client{Transport: headerTransport{header: header, base: http.DefaultTransport}}
	client := mcp.NewClient(&mcp.Implementation{Name: "e2e", Version: "1"}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cs, err := client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: url, HTTPClient: hc}, &mcp.ClientSessionOptions{ProtocolVersion: version})
	if err != nil {
		t.Fatalf("connect (%s): %v", version, err)
	}
	t.Cleanup(func() { cs.Close() })
	return cs
}

func searchSlugs(t *testing.T, cs *mcp.ClientSession, query string) []string {
	t.Helper()
	out := structured[mcpserver.SearchOutput](t, callTool(t, cs, "search_articles", map[string]any{"query": query}))
	var slugs []string
	for _, r := range out.Results {
		slugs = append(slugs, r.Slug)
	}
	return slugs
}

// post sends a raw JSON-RPC body to /mcp with the given headers.
func post(t *testing.T, url, body string, header map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("MCP-Protocol-Version", "2025-11-25")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// challenge parses a Bearer WWW-Authenticate header into its parameters.
func challenge(t *testing.T, h string) map[string]string {
	t.Helper()
	scheme, rest, _ := strings.Cut(h, " ")
	if scheme != "Bearer" {
		t.Fatalf("WWW-Authenticate %q: scheme %q, want Bearer", h, scheme)
	}
	params := map[string]string{}
	for _, m := range regexp.MustCompile(`(\w+)="((?:[^"\\]|\\.)*)"`).FindAllStringSubmatch(rest, -1) {
		params[m[1]] = strings.NewReplacer(`\"`, `"`, `\\`, `\`).Replace(m[2])
	}
	return params
}

const callCreate = `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"create_article","arguments":{"title":"Nope","body":"x"}}}`

func TestServeWithAPIKeys(t *testing.T) {
	s := startServe(t)
	if s.key == "" {
		t.Fatalf("first run printed no key:\n%s", s.logs())
	}
	if !strings.Contains(s.logs(), `"X-API-KEY": "`+s.key+`"`) || !strings.Contains(s.logs(), `"X-API-KEY: `+s.key+`"`) {
		t.Errorf("first run did not print ready-to-paste configs with the key")
	}

	t.Run("go-sdk client on each protocol version", func(t *testing.T) {
		for _, v := range []string{"2026-07-28", "2025-11-25", "2025-06-18", "2025-03-26"} {
			cs := connectHTTP(t, s.mcpURL, s.key, v)
			if got := cs.InitializeResult().ProtocolVersion; got != v {
				t.Errorf("asked for %s, negotiated %s", v, got)
			}
			tools, err := cs.ListTools(t.Context(), nil)
			if err != nil || len(tools.Tools) != 11 {
				t.Fatalf("%s: tools/list = %v, %v", v, tools, err)
			}
			if got := searchSlugs(t, cs, "semaphore"); len(got) != 2 || got[0] != "a-semaphore-with-a-buffered-channel" {
				t.Errorf("%s: search semaphore = %v", v, got)
			}
		}
	})

	t.Run("no key is 401 with a challenge", func(t *testing.T) {
		resp, body := post(t, s.mcpURL, `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`, nil)
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("status %d, want 401: %s", resp.StatusCode, body)
		}
		c := challenge(t, resp.Header.Get("WWW-Authenticate"))
		if c["scope"] != authn.ScopeRead || c["error"] != "" || c["resource_metadata"] != s.base+"/.well-known/oauth-protected-resource/mcp" {
			t.Errorf("challenge %v, want scope=articles:read, resource_metadata and no error code", c)
		}
		var prm struct {
			Resource             string   `json:"resource"`
			AuthorizationServers []string `json:"authorization_servers"`
		}
		if err := json.Unmarshal([]byte(get(t, c["resource_metadata"])), &prm); err != nil || prm.Resource != s.mcpURL || len(prm.AuthorizationServers) != 1 || prm.AuthorizationServers[0] != s.base {
			t.Errorf("protected resource metadata %+v (%v), want resource %s and issuer %s", prm, err, s.mcpURL, s.base)
		}
		var e struct{ Error string }
		if json.Unmarshal([]byte(body), &e) != nil || e.Error != "unauthorized" {
			t.Errorf("body %s, want a JSON error", body)
		}
	})

	t.Run("bad key is 401 invalid_token", func(t *testing.T) {
		resp, _ := post(t, s.mcpURL, `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`, map[string]string{"X-API-KEY": s.key + "x"})
		if c := challenge(t, resp.Header.Get("WWW-Authenticate")); resp.StatusCode != 401 || c["error"] != "invalid_token" {
			t.Errorf("status %d challenge %v, want 401 invalid_token", resp.StatusCode, c)
		}
	})

	t.Run("a malformed X-API-KEY is named as an API key", func(t *testing.T) {
		for _, v := range []string{"not-a-key", "m2c_short"} {
			resp, _ := post(t, s.mcpURL, `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`, map[string]string{"X-API-KEY": v})
			c := challenge(t, resp.Header.Get("WWW-Authenticate"))
			if resp.StatusCode != 401 || c["error"] != "invalid_token" || !strings.Contains(c["error_description"], "API key") || strings.Contains(c["error_description"], "access token") {
				t.Errorf("X-API-KEY %q: status %d challenge %v, want 401 invalid_token about the API key", v, resp.StatusCode, c)
			}
		}
		resp, _ := post(t, s.mcpURL, `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`, map[string]string{"Authorization": "Bearer not-a-token"})
		if c := challenge(t, resp.Header.Get("WWW-Authenticate")); resp.StatusCode != 401 || !strings.Contains(c["error_description"], "access token") {
			t.Errorf("Bearer: status %d challenge %v, want 401 about the access token", resp.StatusCode, c)
		}
	})

	t.Run("key in the query string is refused", func(t *testing.T) {
		resp, _ := post(t, s.mcpURL+"?api_key="+s.key, `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`, nil)
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("status %d, want 400", resp.StatusCode)
		}
	})

	readKey := s.cli(t, "keys", "create", "--name", "reader", "--scope", "articles:read")
	t.Run("read-only key gets 403 insufficient_scope on a write tool", func(t *testing.T) {
		resp, body := post(t, s.mcpURL, callCreate, map[string]string{"X-API-KEY": readKey})
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("status %d, want 403: %s", resp.StatusCode, body)
		}
		c := challenge(t, resp.Header.Get("WWW-Authenticate"))
		if c["error"] != "insufficient_scope" || c["scope"] != authn.ScopeWrite {
			t.Errorf("challenge %v, want insufficient_scope naming articles:write", c)
		}
		cs := connectHTTP(t, s.mcpURL, readKey, "2025-11-25")
		if got := searchSlugs(t, cs, "semaphore"); len(got) != 2 {
			t.Errorf("reader search = %v", got)
		}
		if res, err := cs.CallTool(t.Context(), &mcp.CallToolParams{Name: "get_article", Arguments: map[string]any{"slug": "profiling-go-with-pprof"}}); err != nil || !res.IsError {
			t.Errorf("reader read a draft: %v %v", res, err)
		}
	})

	t.Run("read-only key calling an unknown tool gets -32602, not a step-up", func(t *testing.T) {
		resp, body := post(t, s.mcpURL, `{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"no_such_tool","arguments":{}}}`,
			map[string]string{"X-API-KEY": readKey})
		var msg struct {
			Error *struct {
				Code int `json:"code"`
			} `json:"error"`
		}
		if resp.StatusCode != http.StatusOK || json.Unmarshal([]byte(body), &msg) != nil || msg.Error == nil || msg.Error.Code != -32602 {
			t.Errorf("status %d, body %s; want 200 with JSON-RPC error -32602", resp.StatusCode, body)
		}
		if h := resp.Header.Get("WWW-Authenticate"); h != "" {
			t.Errorf("an unknown tool drew a challenge %q", h)
		}
	})

	t.Run("read-only key writing through REST gets a 403 challenge", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodPost, s.base+"/api/v1/articles", strings.NewReader(`{"title":"Nope","body":"x"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-API-KEY", readKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		c := challenge(t, resp.Header.Get("WWW-Authenticate"))
		if resp.StatusCode != http.StatusForbidden || c["error"] != "insufficient_scope" || c["scope"] != authn.ScopeWrite {
			t.Errorf("status %d, challenge %v; want 403 insufficient_scope naming articles:write", resp.StatusCode, c)
		}
		get, err := http.NewRequest(http.MethodGet, s.base+"/api/v1/articles?limit=1", nil)
		if err != nil {
			t.Fatal(err)
		}
		get.Header.Set("X-API-KEY", readKey)
		if resp, err := http.DefaultClient.Do(get); err != nil || resp.StatusCode != http.StatusOK {
			t.Errorf("a read key listing through REST: %v %v, want 200", resp, err)
		} else {
			resp.Body.Close()
		}
	})

	t.Run("a 2025-03-26 batch is answered up to the bound, refused past it", func(t *testing.T) {
		batch := func(n int) string {
			msgs := make([]string, n)
			for i := range msgs {
				msgs[i] = fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"ping"}`, i)
			}
			return "[" + strings.Join(msgs, ",") + "]"
		}
		send := func(body string) (int, string) {
			req, _ := http.NewRequest(http.MethodPost, s.mcpURL, strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Accept", "application/json, text/event-stream")
			req.Header.Set("MCP-Protocol-Version", "2025-03-26")
			req.Header.Set("X-API-KEY", readKey)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, string(b)
		}
		if code, body := send(batch(3)); code != http.StatusOK || strings.Count(body, `"id":`) != 3 {
			t.Errorf("a batch of 3 pings: %d %s; want 3 answers", code, body)
		}
		if code, body := send(batch(10000)); code != http.StatusBadRequest || !strings.Contains(body, "-32600") {
			t.Errorf("a batch of 10,000 pings: %d %.200s; want 400 with JSON-RPC error -32600", code, body)
		}
	})

	t.Run("writer key creates through HTTP", func(t *testing.T) {
		cs := connectHTTP(t, s.mcpURL, s.key, "2026-07-28")
		a := structured[mcpserver.Article](t, callTool(t, cs, "create_article", map[string]any{"title": "Written over HTTP", "body": "qwertyzz"}))
		if got := searchSlugs(t, cs, "qwertyzz"); !cmp.Equal(got, []string{a.Slug}) {
			t.Errorf("search after create = %v", got)
		}
	})

	t.Run("revoked key is 401", func(t *testing.T) {
		var keys []struct{ ID, Name string }
		if err := json.Unmarshal([]byte(s.cli(t, "keys", "list", "--json")), &keys); err != nil {
			t.Fatal(err)
		}
		var id string
		for _, k := range keys {
			if k.Name == "reader" {
				id = k.ID
			}
		}
		s.cli(t, "keys", "revoke", id)
		resp, _ := post(t, s.mcpURL, `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`, map[string]string{"X-API-KEY": readKey})
		if c := challenge(t, resp.Header.Get("WWW-Authenticate")); resp.StatusCode != 401 || c["error"] != "invalid_token" {
			t.Errorf("revoked: status %d challenge %v, want 401 invalid_token", resp.StatusCode, c)
		}
	})

	t.Run("foreign origin is 403", func(t *testing.T) {
		resp, _ := post(t, s.mcpURL, `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`, map[string]string{"X-API-KEY": s.key, "Origin": "http://evil.example"})
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("status %d, want 403", resp.StatusCode)
		}
		resp, _ = post(t, s.mcpURL, `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`, map[string]string{"X-API-KEY": s.key, "Origin": s.base})
		if resp.StatusCode != http.StatusOK {
			t.Errorf("same origin: status %d, want 200", resp.StatusCode)
		}
	})

	t.Run("20 MB body is refused without the server growing", func(t *testing.T) {
		before := rss(t, s.base)
		for _, chunked := range []bool{false, true} {
			body := io.Reader(strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"search_articles","arguments":{"query":"` + strings.Repeat("a", 20<<20) + `"}}}`))
			if chunked {
				body = io.MultiReader(body) // hides the length: sent chunked
			}
			req, _ := http.NewRequest(http.MethodPost, s.mcpURL, body)
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Accept", "application/json, text/event-stream")
			req.Header.Set("X-API-KEY", s.key)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				// A chunked sender may see the connection closed while it
				// still sends; that is a refusal too. A declared length is
				// refused before the body is read, so it must get its 413.
				if !chunked {
					t.Errorf("declared 20 MB body: %v, want a 413 answer", err)
				}
				continue
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusRequestEntityTooLarge {
				t.Errorf("chunked=%v: status %d, want 413", chunked, resp.StatusCode)
			}
		}
		// Under -race the child's heap carries the detector's shadow
		// memory, so the growth says nothing about the server; the 413s
		// above are still checked.
		if after := rss(t, s.base); !raceEnabled && after-before > 16<<20 {
			t.Errorf("resident memory grew by %d MiB on refused bodies", (after-before)>>20)
		}
	})

	t.Run("stdio --api-url returns what /mcp returns", func(t *testing.T) {
		direct := connectHTTP(t, s.mcpURL, s.key, "2025-11-25")
		cmd := selfCommand(t, "stdio", "--api-url", s.base)
		cmd.Env = append(cmd.Env, "X-API-KEY="+s.key)
		viaREST := connectStdio(t, cmd)
		for _, q := range []string{"semaphore", "ca phe", "goroutines channels"} {
			want := structured[mcpserver.SearchOutput](t, callTool(t, direct, "search_articles", map[string]any{"query": q}))
			got := structured[mcpserver.SearchOutput](t, callTool(t, viaREST, "search_articles", map[string]any{"query": q}))
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("search %q: stdio --api-url differs from /mcp (-mcp +stdio):\n%s", q, diff)
			}
		}
		res := callTool(t, viaREST, "get_article", map[string]any{"slug": "no-such-slug"})
		if !res.IsError {
			t.Errorf("unknown slug through REST: not a tool error")
		}

		bad := selfCommand(t, "stdio", "--api-url", s.base)
		bad.Env = append(bad.Env, "X-API-KEY=m2c_aaaaaaaaaaaa_"+strings.Repeat("a", 52))
		refused := callTool(t, connectStdio(t, bad), "search_articles", map[string]any{"query": "go"})
		if text := refused.Content[0].(*mcp.TextContent).Text; !refused.IsError || !strings.Contains(text, "check X-API-KEY") {
			t.Errorf("wrong key through REST: isError=%v %q, want a tool error telling to check X-API-KEY", refused.IsError, text)
		}
	})

	t.Run("metrics count requests, auth failures and tool calls", func(t *testing.T) {
		body := get(t, s.base+"/metrics")
		for _, want := range []string{
			`mcp2coffee_auth_failures_total{reason="missing"}`,
			`mcp2coffee_auth_failures_total{reason="insufficient_scope"}`,
			`mcp2coffee_tool_calls_total{outcome="ok",tool="search_articles"}`,
			`mcp2coffee_http_requests_total{code="401",method="POST",route="/mcp"}`,
		} {
			if !strings.Contains(body, want) {
				t.Errorf("metrics lack %s", want)
			}
		}
		if got := get(t, s.base+"/healthz"); got != "ok\n" {
			t.Errorf("/healthz = %q", got)
		}
		if got := get(t, s.base+"/readyz"); got != "ready\n" {
			t.Errorf("/readyz = %q", got)
		}
	})
}

func TestServeSecondRunPrintsNoSecret(t *testing.T) {
	t.Parallel()
	s := startServe(t)
	s.cmd.Process.Signal(interruptSignal)
	s.wait()
	out := serveUntilServing(t, "--database", s.db, "--first-run-secrets", "stderr")
	if strings.Contains(out, "m2c_") || strings.Contains(out, "First run") {
		t.Errorf("second run printed a key:\n%s", out)
	}
}

// serveUntilServing runs serve on 127.0.0.1:0 with args until it logs that
// it serves, stops it, and returns what it wrote to standard error.
func serveUntilServing(t *testing.T, args ...string) string {
	t.Helper()
	cmd := selfCommand(t, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...)...)
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stderr)
	var out strings.Builder
	for sc.Scan() {
		out.WriteString(sc.Text() + "\n")
		if strings.Contains(sc.Text(), "msg=serving") {
			break
		}
	}
	cmd.Process.Signal(interruptSignal)
	cmd.Wait()
	return out.String()
}

func TestServeAuthNoneOnlyOnLoopback(t *testing.T) {
	t.Parallel()
	cmd := selfCommand(t, "serve", "--auth", "none", "--addr", "0.0.0.0:0", "--public-url", "https://blog.example.com", "--database", filepath.Join(t.TempDir(), "x.db"))
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 || !strings.Contains(string(out), "loopback") {
		t.Errorf("serve --auth=none on 0.0.0.0: %v\n%s", err, out)
	}
	s := startServe(t, "--auth", "none")
	if !strings.Contains(s.logs(), "AUTHENTICATION IS OFF") {
		t.Errorf("--auth=none did not warn loudly")
	}
	resp, body := post(t, s.mcpURL, `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`, nil)
	if resp.StatusCode != http.StatusOK {
		t.Errorf("no-auth tools/list: %d %s", resp.StatusCode, body)
	}
}

func TestServeBehindProxyHost(t *testing.T) {
	t.Parallel()
	s := startServe(t, "--public-url", "http://localhost:8443/blog")
	// The server listens on 127.0.0.1:PORT but a proxy forwards the public
	// host name and path prefix.
	addr := listenAddr(t, s)
	for _, tc := range []struct {
		host string
		want int
	}{
		{"localhost:8443", http.StatusUnauthorized}, // public host: reaches auth
		{"evil.example", http.StatusForbidden},      // DNS rebinding
	} {
		req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/blog/mcp", strings.NewReader(`{}`))
		req.Host = tc.host
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("Host %s: status %d, want %d", tc.host, resp.StatusCode, tc.want)
		}
	}
}

// listenAddr reads the listening address from the serve log.
func listenAddr(t *testing.T, s *liveServer) string {
	m := regexp.MustCompile(`listen=(\S+)`).FindStringSubmatch(s.logs())
	if m == nil {
		t.Fatalf("no listen address in:\n%s", s.logs())
	}
	return m[1]
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// rss reads the server's resident memory from its metrics.
func rss(t *testing.T, base string) int64 {
	t.Helper()
	m := regexp.MustCompile(`(?m)^process_resident_memory_bytes (\S+)$`).FindStringSubmatch(get(t, base+"/metrics"))
	if m == nil {
		t.Fatal("no process_resident_memory_bytes in /metrics")
	}
	f, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		t.Fatal(err)
	}
	return int64(f)
}

// TestServeMetricsAddr: with --metrics-addr the metrics leave the public
// listener for a listener of their own; health checks stay on both.
func TestServeMetricsAddr(t *testing.T) {
	t.Parallel()
	s := startServe(t, "--metrics-addr", "127.0.0.1:0")
	m := regexp.MustCompile(`metrics=(http://\S+/metrics)`).FindStringSubmatch(s.logs())
	if m == nil {
		t.Fatalf("no metrics address logged:\n%s", s.logs())
	}
	if body := get(t, m[1]); !strings.Contains(body, "mcp2coffee_http_requests_total") && !strings.Contains(body, "process_resident_memory_bytes") {
		t.Errorf("the metrics listener serves no metrics:\n%.300s", body)
	}
	resp, err := http.Get(s.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("/metrics on the public listener = %d, want 404 with --metrics-addr", resp.StatusCode)
	}
	for _, u := range []string{s.base + "/healthz", strings.TrimSuffix(m[1], "/metrics") + "/readyz"} {
		if body := get(t, u); !strings.Contains(body, "ok") && !strings.Contains(body, "ready") {
			t.Errorf("GET %s = %q", u, body)
		}
	}
}

// TestServeFirstRunSecretsFile: when standard error is no terminal (a
// journal, a container log), the first run's secrets go to a 0600 file
// beside the database, never into the log, which names the file.
func TestServeFirstRunSecretsFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db := filepath.Join(dir, "blog.db")
	logs := serveUntilServing(t, "--database", db)
	if strings.Contains(logs, "m2c_") || strings.Contains(logs, "shown only now") {
		t.Errorf("a secret reached the log:\n%s", logs)
	}
	path := filepath.Join(dir, secretsFileName)
	if !strings.Contains(logs, path) {
		t.Errorf("the log does not say where the secrets are:\n%s", logs)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("%s has mode %04o, want 0600", path, st.Mode().Perm())
	}
	b, _ := os.ReadFile(path)
	if !regexp.MustCompile(`m2c_[a-z0-9]+_[a-z0-9]+`).Match(b) || !strings.Contains(string(b), `created the user "admin"`) {
		t.Errorf("the secrets file lacks the key or the password:\n%s", b)
	}
}

// A first-run secrets file that cannot be written stops serve before it
// makes a key or a user nobody would ever see; fixed, the next start
// makes and shows them.
func TestServeFirstRunSecretsFileUnwritable(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db := filepath.Join(dir, "blog.db")
	cmd := selfCommand(t, "serve", "--addr", "127.0.0.1:0", "--database", db, "--first-run-secrets", filepath.Join(dir, "missing", "secrets.txt"))
	var out testkit.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		if err == nil || !strings.Contains(out.String(), "first-run secrets file") {
			t.Fatalf("serve with an unwritable secrets file: %v\n%s", err, out.String())
		}
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		<-exited
		t.Fatalf("serve kept running with an unwritable secrets file:\n%s", out.String())
	}
	if keys := runOK(t, "keys", "list", "--json", "--database", db); keys != "[]" {
		t.Errorf("keys after the refused start = %s, want none", keys)
	}
	logs := serveUntilServing(t, "--database", db, "--first-run-secrets", filepath.Join(dir, "secrets.txt"))
	b, _ := os.ReadFile(filepath.Join(dir, "secrets.txt"))
	if !strings.Contains(string(b), "m2c_") {
		t.Errorf("the next start wrote no key to the secrets file:\n%s\nlogs:\n%s", b, logs)
	}
}

// runOK runs an mcp-2coffee command and returns its trimmed stdout.
func runOK(t *testing.T, args ...string) string {
	t.Helper()
	cmd := selfCommand(t, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%v: %v\n%s", args, err, stderr.String())
	}
	return strings.TrimSpace(string(out))
}

// TestServeGCFloor: serve says how its collector runs, and a floor it
// cannot read is a usage mistake, refused before anything starts.
func TestServeGCFloor(t *testing.T) {
	t.Parallel()
	s := startServe(t)
	if logs := s.logs(); !strings.Contains(logs, `gc="floor 16MiB"`) {
		t.Errorf("the serving line does not name the floor:\n%s", logs)
	}
	_, errOut, code := runCLI(t, nil, "serve", "--addr", "127.0.0.1:0", "--database", filepath.Join(t.TempDir(), "b.db"), "--gc-floor", "20mb")
	if code != 2 || !strings.Contains(errOut, `--gc-floor: "20mb" is not a size`) {
		t.Errorf("serve --gc-floor 20mb: exit %d, %q; want 2 and the reason", code, errOut)
	}
}
