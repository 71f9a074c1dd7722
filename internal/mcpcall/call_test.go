package mcpcall

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/2coffee/mcp-2coffee/internal/bridge"
	"github.com/2coffee/mcp-2coffee/internal/bridge/bridgetest"
	"github.com/google/go-cmp/cmp"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// TestMain lets the test binary double as an MCP server on stdio, for the
// Command tests.
func TestMain(m *testing.M) {
	if os.Getenv("MCPCALL_TEST_STDIO_SERVER") == "1" {
		if err := bridgetest.NewMCPServer().Run(context.Background(), &mcp.StdioTransport{}); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// stdioServer makes Command start this test binary as the server.
var stdioServer = Options{Env: append(os.Environ(), "MCPCALL_TEST_STDIO_SERVER=1")}

// newBridge is a client for url with neither headers nor OAuth.
func newBridge(t *testing.T, url string) *bridge.Client {
	t.Helper()
	c, err := bridge.New(bridge.Options{ServerURL: url, DisableOAuth: true, ConfigDir: t.TempDir(), Stderr: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestRemoteOverHTTP(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return bridgetest.NewMCPServer() }, nil))
	defer srv.Close()
	c := newBridge(t, srv.URL+"/mcp")
	ctx := context.Background()

	res, err := Remote(ctx, c, Request{Method: MethodToolsList}, Options{})
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

	req, _ := Parse(MethodToolsCall, []string{"echo", "text=ab", "times=3"})
	res, err = Remote(ctx, c, req, Options{})
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

	res, err = Remote(ctx, c, Request{Method: MethodToolsCall, Name: "fail"}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !res.IsError || res.Text() != "error: no such article: nope\n" {
		t.Errorf("fail: IsError %v, text %q", res.IsError, res.Text())
	}

	res, err = Remote(ctx, c, Request{Method: MethodPromptsGet, Name: "greet", Arguments: map[string]any{"who": "Grace"}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Text(); got != "user: Hello, Grace\n" {
		t.Errorf("prompt as text = %q", got)
	}
	res, err = Remote(ctx, c, Request{Method: MethodResourcesRead, URI: "blog://articles/hello"}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Text(); got != "# Hello\n" {
		t.Errorf("resource as text = %q", got)
	}
	res, err = Remote(ctx, c, Request{Method: MethodResourcesList}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Text(); !strings.Contains(got, "blog://articles/hello  hello  text/markdown") {
		t.Errorf("resources as text:\n%s", got)
	}
}

func TestRemoteOverSSE(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(mcp.NewSSEHandler(func(*http.Request) *mcp.Server { return bridgetest.NewMCPServer() }, nil))
	defer srv.Close()
	c := newBridge(t, srv.URL)
	res, err := Remote(context.Background(), c, Request{Method: MethodToolsCall, Name: "echo", Arguments: map[string]any{"text": "x"}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Text() != "{\"echo\":\"x\"}\n" {
		t.Errorf("echo over HTTP+SSE = %q", res.Text())
	}
}

func TestCommand(t *testing.T) {
	t.Parallel()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	res, err := Command(context.Background(), []string{exe},
		Request{Method: MethodToolsCall, Name: "echo", Arguments: map[string]any{"text": "stdio"}}, stdioServer)
	if err != nil {
		t.Fatal(err)
	}
	if res.Text() != "{\"echo\":\"stdio\"}\n" {
		t.Errorf("echo over stdio = %q", res.Text())
	}
	res, err = Command(context.Background(), []string{exe},
		Request{Method: MethodToolsCall, Name: "fail"}, stdioServer)
	if err != nil {
		t.Fatal(err)
	}
	if !res.IsError {
		t.Errorf("fail over stdio: IsError = false")
	}
}

func TestMirrorsHeaderParams(t *testing.T) {
	t.Parallel()
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
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Mcp-Method") == "tools/call" {
			mu.Lock()
			got = append(got, r.Header.Get("Mcp-Param-Region"))
			mu.Unlock()
		}
		h.ServeHTTP(w, r)
	}))
	c := newBridge(t, srv.URL)
	if _, err := Remote(context.Background(), c, Request{Method: MethodToolsCall, Name: "regional", Arguments: map[string]any{"region": "eu-west1"}}, Options{}); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if diff := cmp.Diff([]string{"eu-west1"}, got); diff != "" {
		t.Errorf("Mcp-Param-Region on tools/call (-want +got):\n%s", diff)
	}
}

// TestCollectStopsEndlessListings: a listing that never ends (a server
// repeating its cursor) is cut off with an error instead of growing
// forever.
func TestCollectStopsEndlessListings(t *testing.T) {
	endless := func(yield func(int, error) bool) {
		for i := 0; ; i++ {
			if !yield(i, nil) {
				return
			}
		}
	}
	if _, err := collect(endless); err == nil || !strings.Contains(err.Error(), "repeats its page cursor") {
		t.Fatalf("collect(endless) = %v, want the bound's error", err)
	}
	short := func(yield func(int, error) bool) {
		for i := range 3 {
			if !yield(i, nil) {
				return
			}
		}
	}
	if got, err := collect(short); err != nil || len(got) != 3 {
		t.Errorf("collect(short) = %v, %v", got, err)
	}
}

// The client names itself with the version the command passes in, and
// "dev" when none is given.
func TestClientVersion(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ version, want string }{{"1.2.3", "1.2.3"}, {"", "dev"}} {
		seen := make(chan string, 1)
		s := mcp.NewServer(&mcp.Implementation{Name: "version", Version: "1"}, &mcp.ServerOptions{
			InitializedHandler: func(_ context.Context, req *mcp.InitializedRequest) {
				seen <- req.Session.InitializeParams().ClientInfo.Version
			},
		})
		srv := httptest.NewServer(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s }, nil))
		if _, err := Remote(context.Background(), newBridge(t, srv.URL), Request{Method: MethodPing}, Options{Version: tc.version}); err != nil {
			t.Fatal(err)
		}
		srv.Close()
		select {
		case got := <-seen:
			if got != tc.want {
				t.Errorf("Options{Version: %q}: clientInfo.version = %q, want %q", tc.version, got, tc.want)
			}
		case <-time.After(5 * time.Second):
			t.Errorf("Options{Version: %q}: the server saw no initialize", tc.version)
		}
	}
}
