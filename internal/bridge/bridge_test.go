package bridge

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/2coffee/mcp-2coffee/internal/oauthclient"
	"github.com/2coffee/mcp-2coffee/internal/oauthclient/oauthtest"
)

func env(m map[string]string) LookupEnv {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestParseHeaders(t *testing.T) {
	lookup := env(map[string]string{"KEY": "s3cret", "EMPTY": "", "USER_1": "ada"})
	h, err := ParseHeaders([]string{
		"X-API-KEY: ${KEY}",
		"x-trace:  a=${USER_1};b=${EMPTY}; price $5  ",
		"X-Trace: second",
		"Authorization: Bearer ${KEY}",
	}, lookup)
	if err != nil {
		t.Fatal(err)
	}
	want := http.Header{
		"X-Api-Key":     {"s3cret"},
		"X-Trace":       {"a=ada;b=; price $5", "second"},
		"Authorization": {"Bearer s3cret"},
	}
	if diff := cmp.Diff(want, h); diff != "" {
		t.Errorf("ParseHeaders (-want +got):\n%s", diff)
	}

	for _, tc := range []struct{ line, wantErr string }{
		{"X-API-KEY: ${MISSING}", "MISSING is not set"},
		{"X-API-KEY: ${KEY", "unterminated"},
		{"X-API-KEY: ${1BAD}", "invalid variable name"},
		{"no colon here", "want \"Name: value\""},
		{"Bad Name: x", "invalid name"},
		{": x", "invalid name"},
		{"Mcp-Session-Id: abc", "cannot be overridden"},
		{"content-type: text/plain", "cannot be overridden"},
		{"X-A: ${NL}", "line break"},
	} {
		_, err := ParseHeaders([]string{tc.line}, env(map[string]string{"NL": "a\nb"}))
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("ParseHeaders(%q) error = %v, want %q", tc.line, err, tc.wantErr)
		}
	}
	// An error about an unnamed value does not echo a pasted secret.
	_, err = ParseHeaders([]string{"sk-live-0123456789abcdef"}, lookup)
	if err == nil || strings.Contains(err.Error(), "0123456789abcdef") {
		t.Errorf("error %v repeats the malformed value", err)
	}
}

func TestReadHeaderFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "headers")
	os.WriteFile(p, []byte("# the blog's key\nX-API-KEY: ${KEY}\r\n\n  X-Other: 1\n"), 0o600)
	lines, err := ReadHeaderFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"X-API-KEY: ${KEY}", "X-Other: 1"}, lines); diff != "" {
		t.Errorf("ReadHeaderFile (-want +got):\n%s", diff)
	}
	c, err := New(Options{ServerURL: "https://blog.example.com/mcp", HeaderFile: p, ConfigDir: t.TempDir(), LookupEnv: env(map[string]string{"KEY": "k"})})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.http.Transport.(recordingTransport).base.(*authTransport).header.Get("X-Api-Key"); got != "k" {
		t.Errorf("header from file = %q, want k", got)
	}
}

func TestParseCall(t *testing.T) {
	for _, tc := range []struct {
		method string
		args   []string
		want   CallRequest
	}{
		{"tools/list", nil, CallRequest{Method: "tools/list"}},
		{"tools/call", []string{"search_articles", "query=goroutines", "limit=5", "exact=true", `filter={"tags":["go"]}`, `id="42"`, "note=hello world", "big=12345678901234567890"},
			CallRequest{Method: "tools/call", Name: "search_articles", Arguments: map[string]any{
				"query": "goroutines", "limit": json.Number("5"), "exact": true,
				"filter": map[string]any{"tags": []any{"go"}}, "id": "42", "note": "hello world",
				"big": json.Number("12345678901234567890"),
			}}},
		{"tools/call", []string{"t", "--json", `{"a":1,"b":"x"}`, "b=y"},
			CallRequest{Method: "tools/call", Name: "t", Arguments: map[string]any{"a": json.Number("1"), "b": "y"}}},
		{"tools/call", []string{"t", `--json={"a":null}`}, CallRequest{Method: "tools/call", Name: "t", Arguments: map[string]any{"a": nil}}},
		{"tools/call", []string{"t", "expr=1 2"}, CallRequest{Method: "tools/call", Name: "t", Arguments: map[string]any{"expr": "1 2"}}},
		{"prompts/get", []string{"greet", "who=5"}, CallRequest{Method: "prompts/get", Name: "greet", Arguments: map[string]any{"who": "5"}}},
		{"resources/read", []string{"blog://articles/hello"}, CallRequest{Method: "resources/read", URI: "blog://articles/hello"}},
	} {
		got, err := ParseCall(tc.method, tc.args)
		if err != nil {
			t.Errorf("ParseCall(%s, %q): %v", tc.method, tc.args, err)
			continue
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("ParseCall(%s, %q) (-want +got):\n%s", tc.method, tc.args, diff)
		}
	}
	for _, tc := range []struct {
		method string
		args   []string
	}{
		{"tools/call", nil},
		{"tools/call", []string{"t", "noequals"}},
		{"tools/call", []string{"t", "--json"}},
		{"tools/call", []string{"t", "--json", "[1]"}},
		{"resources/read", nil},
		{"tools/list", []string{"extra"}},
		{"prompts/get", []string{"p", `--json={"n":1}`}},
		{"tools/destroy", nil},
	} {
		if _, err := ParseCall(tc.method, tc.args); err == nil {
			t.Errorf("ParseCall(%s, %q) succeeded, want an error", tc.method, tc.args)
		}
	}
}

func TestCallOverHTTP(t *testing.T) {
	srv, _ := streamableServer(t, newMCPServer(), nil)
	c := newBridge(t, srv.URL+"/mcp", Options{DisableOAuth: true})
	ctx := context.Background()

	res, err := c.Call(ctx, CallRequest{Method: MethodToolsList})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tool := range res.Result.(*mcp.ListToolsResult).Tools {
		names = append(names, tool.Name)
	}
	if diff := cmp.Diff([]string{"ask", "count", "echo", "fail", "roots"}, names); diff != "" {
		t.Errorf("tools (-want +got):\n%s", diff)
	}
	if text := res.Text(); !strings.Contains(text, "echo   Echoes its text.\n") || strings.Contains(text, "Second line") {
		t.Errorf("tools/list as text:\n%s", text)
	}

	req, _ := ParseCall(MethodToolsCall, []string{"echo", "text=ab", "times=3"})
	res, err = c.Call(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if res.IsError {
		t.Errorf("echo reported an error")
	}
	js, _ := res.JSON()
	var decoded struct {
		StructuredContent map[string]any `json:"structuredContent"`
	}
	if err := json.Unmarshal(js, &decoded); err != nil || decoded.StructuredContent["echo"] != "ababab" {
		t.Errorf("echo JSON = %s", js)
	}
	if text := res.Text(); text != "{\"echo\":\"ababab\"}\n" {
		t.Errorf("echo as text = %q", text)
	}

	res, err = c.Call(ctx, CallRequest{Method: MethodToolsCall, Name: "fail"})
	if err != nil {
		t.Fatal(err)
	}
	if !res.IsError || res.Text() != "error: no such article: nope\n" {
		t.Errorf("fail: IsError %v, text %q", res.IsError, res.Text())
	}

	res, err = c.Call(ctx, CallRequest{Method: MethodPromptsGet, Name: "greet", Arguments: map[string]any{"who": "Grace"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Text(); got != "user: Hello, Grace\n" {
		t.Errorf("prompt as text = %q", got)
	}
	res, err = c.Call(ctx, CallRequest{Method: MethodResourcesRead, URI: "blog://articles/hello"})
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Text(); got != "# Hello\n" {
		t.Errorf("resource as text = %q", got)
	}
	res, err = c.Call(ctx, CallRequest{Method: MethodResourcesList})
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Text(); !strings.Contains(got, "blog://articles/hello  hello  text/markdown") {
		t.Errorf("resources as text:\n%s", got)
	}
}

func TestCallOverSSE(t *testing.T) {
	srv := startServer(t, mcp.NewSSEHandler(func(*http.Request) *mcp.Server { return newMCPServer() }, nil))
	c := newBridge(t, srv.URL, Options{DisableOAuth: true})
	res, err := c.Call(context.Background(), CallRequest{Method: MethodToolsCall, Name: "echo", Arguments: map[string]any{"text": "x"}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Text() != "{\"echo\":\"x\"}\n" {
		t.Errorf("echo over HTTP+SSE = %q", res.Text())
	}
}

func TestCallCommand(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	res, err := CallCommand(context.Background(), []string{exe}, CommandOptions{Env: append(os.Environ(), "BRIDGE_TEST_STDIO_SERVER=1")},
		CallRequest{Method: MethodToolsCall, Name: "echo", Arguments: map[string]any{"text": "stdio"}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Text() != "{\"echo\":\"stdio\"}\n" {
		t.Errorf("echo over stdio = %q", res.Text())
	}
	res, err = CallCommand(context.Background(), []string{exe}, CommandOptions{Env: append(os.Environ(), "BRIDGE_TEST_STDIO_SERVER=1")},
		CallRequest{Method: MethodToolsCall, Name: "fail"})
	if err != nil {
		t.Fatal(err)
	}
	if !res.IsError {
		t.Errorf("fail over stdio: IsError = false")
	}
}

// protectedMCP puts the test MCP server behind the test authorization
// server.
func protectedMCP(t *testing.T, aso oauthtest.ASOptions, rso oauthtest.RSOptions) (*oauthtest.AuthServer, *oauthtest.ResourceServer) {
	t.Helper()
	as := oauthtest.NewAuthServer(t, aso)
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return newMCPServer() }, nil)
	return as, oauthtest.NewResourceServer(t, as, h, rso)
}

func TestRelayWithOAuth(t *testing.T) {
	as, rs := protectedMCP(t, oauthtest.ASOptions{Revocation: true}, oauthtest.RSOptions{ChallengeScope: "articles:read"})
	dir := t.TempDir()
	browser := &oauthtest.Browser{}
	run := func(opener oauthclient.BrowserOpener) {
		t.Helper()
		c := newBridge(t, rs.URL(), Options{ConfigDir: dir, OAuth: oauthclient.Options{OpenBrowser: opener, Timeout: 10 * time.Second}})
		transport, wait := relayTo(t, c, RelayOptions{})
		cs, err := (&observer{}).client().Connect(context.Background(), transport, nil)
		if err != nil {
			t.Fatal(err)
		}
		res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"text": "hi"}})
		if err != nil || res.IsError {
			t.Fatalf("tools/call: %v %v", res, err)
		}
		cs.Close()
		if err := wait(); err != nil {
			t.Fatal(err)
		}
	}

	// First run: sign in through the "browser".
	run(browser.Open)
	if n := len(browser.Opened()); n != 1 {
		t.Fatalf("browser opened %d times, want 1", n)
	}
	// A restarted bridge uses the cached token.
	run(func(context.Context, string) error {
		t.Error("the browser was opened although a valid token is cached")
		return nil
	})
	// The server revokes everything: the bridge signs in again, reusing
	// its registration.
	as.RevokeAll()
	run(browser.Open)
	if n := len(browser.Opened()); n != 2 {
		t.Errorf("browser opened %d times, want 2", n)
	}
	regs, auths, _ := as.Counts()
	if regs != 1 || auths != 2 {
		t.Errorf("registrations, authorizations = %d, %d; want 1, 2", regs, auths)
	}

	// login, auth status and logout on the same cache.
	c := newBridge(t, rs.URL(), Options{ConfigDir: dir})
	st, err := c.Status()
	if err != nil || len(st) != 1 || !st[0].SignedIn || st[0].ClientID != "client-1" {
		t.Errorf("status = %+v, %v", st, err)
	}
	if all, err := Status(dir, ""); err != nil || len(all) != 1 {
		t.Errorf("Status(all) = %+v, %v", all, err)
	}
	if err := c.Logout(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st, _ := c.Status(); st[0].SignedIn {
		t.Errorf("still signed in after logout")
	}
}

func TestAuthorizationHeaderDisablesOAuth(t *testing.T) {
	as, rs := protectedMCP(t, oauthtest.ASOptions{}, oauthtest.RSOptions{})
	c := newBridge(t, rs.URL(), Options{
		Headers: []string{"Authorization: Bearer not-valid"},
		OAuth: oauthclient.Options{OpenBrowser: func(context.Context, string) error {
			t.Error("the browser was opened although an Authorization header is configured")
			return nil
		}},
	})
	_, err := c.Call(context.Background(), CallRequest{Method: MethodToolsList})
	if err == nil {
		t.Fatal("tools/list with a bad configured token succeeded")
	}
	if regs, auths, _ := as.Counts(); regs+auths != 0 {
		t.Errorf("OAuth ran: %d registrations, %d authorizations", regs, auths)
	}
	for _, r := range rs.Snapshot() {
		if r.Token != "not-valid" {
			t.Errorf("request sent with token %q, want the configured one", r.Token)
		}
	}
}

func TestStepUpThroughTransport(t *testing.T) {
	as, rs := protectedMCP(t, oauthtest.ASOptions{}, oauthtest.RSOptions{
		ChallengeScope: "read",
		Require: func(method string) []string {
			if method == "tools/call" {
				return []string{"read", "write"}
			}
			return nil
		},
	})
	browser := &oauthtest.Browser{}
	c := newBridge(t, rs.URL(), Options{OAuth: oauthclient.Options{OpenBrowser: browser.Open, Timeout: 10 * time.Second}})
	res, err := c.Call(context.Background(), CallRequest{Method: MethodToolsCall, Name: "echo", Arguments: map[string]any{"text": "w"}})
	if err != nil {
		t.Fatal(err)
	}
	if res.IsError {
		t.Errorf("echo failed after step-up")
	}
	_, auths, _, _, _ := as.Snapshot()
	var scopes []string
	for _, a := range auths {
		scopes = append(scopes, a.Get("scope"))
	}
	if diff := cmp.Diff([]string{"read", "read write"}, scopes); diff != "" {
		t.Errorf("scopes requested (-want +got):\n%s", diff)
	}
	// The retried request carried the same body.
	var bodies []string
	for _, r := range rs.Snapshot() {
		if r.RPCMethod == "tools/call" {
			bodies = append(bodies, r.Body)
		}
	}
	if len(bodies) != 2 || bodies[0] != bodies[1] || !strings.Contains(bodies[0], `"text":"w"`) {
		t.Errorf("tools/call bodies = %q, want the same body twice (403, then success)", bodies)
	}
}

func TestStepUpIsBounded(t *testing.T) {
	as, rs := protectedMCP(t, oauthtest.ASOptions{OmitScope: true}, oauthtest.RSOptions{ChallengeScope: "admin", AlwaysForbid: "admin"})
	browser := &oauthtest.Browser{}
	c := newBridge(t, rs.URL(), Options{OAuth: oauthclient.Options{OpenBrowser: browser.Open, Timeout: 10 * time.Second}})
	_, err := c.Call(context.Background(), CallRequest{Method: MethodToolsList})
	if err == nil {
		t.Fatal("a server that always refuses was accepted")
	}
	if _, auths, _ := as.Counts(); auths != oauthclient.MaxAuthorizations {
		t.Errorf("authorizations = %d, want %d", auths, oauthclient.MaxAuthorizations)
	}
	// Each request gets its own budget, but never more.
	if auths := len(browser.Opened()); auths > oauthclient.MaxAuthorizations {
		t.Errorf("browser opened %d times for one request", auths)
	}
}

func TestCallMirrorsHeaderParams(t *testing.T) {
	s := mcp.NewServer(&mcp.Implementation{Name: "headers", Version: "1"}, nil)
	s.AddTool(&mcp.Tool{
		Name:        "regional",
		InputSchema: json.RawMessage(`{"type":"object","properties":{"region":{"type":"string","x-mcp-header":"Region"}}}`),
	}, func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "ok"}}}, nil
	})
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s }, &mcp.StreamableHTTPOptions{Stateless: true})
	var got []string
	var mu sync.Mutex
	srv := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Mcp-Method") == "tools/call" {
			mu.Lock()
			got = append(got, r.Header.Get("Mcp-Param-Region"))
			mu.Unlock()
		}
		h.ServeHTTP(w, r)
	}))
	c := newBridge(t, srv.URL, Options{DisableOAuth: true})
	if _, err := c.Call(context.Background(), CallRequest{Method: MethodToolsCall, Name: "regional", Arguments: map[string]any{"region": "eu-west1"}}); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if diff := cmp.Diff([]string{"eu-west1"}, got); diff != "" {
		t.Errorf("Mcp-Param-Region on tools/call (-want +got):\n%s", diff)
	}
}
