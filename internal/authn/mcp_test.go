package authn_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/2coffee/mcp-2coffee/internal/apikey"
	"github.com/2coffee/mcp-2coffee/internal/authn"
	"github.com/2coffee/mcp-2coffee/internal/store/sqlite"
)

// mcpEnv is the real stack: API keys in SQLite, the authentication
// middleware, the scope check and the go-sdk Streamable HTTP handler.
type mcpEnv struct {
	srv                        *httptest.Server
	readKey, writeKey, revoked string
	readID                     string
	created                    atomic.Int32 // create_article runs
}

func newMCPEnv(t *testing.T) *mcpEnv {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "blog.db"), nil)
	if err != nil {
		t.Fatalf("sqlite.Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	keys := apikey.New(db, apikey.Options{})
	e := &mcpEnv{}
	var k *apikey.Key
	if e.readKey, k, err = keys.Create(ctx, "reader", nil, 0); err != nil {
		t.Fatal(err)
	}
	e.readID = k.ID
	if e.writeKey, _, err = keys.Create(ctx, "writer", []string{authn.ScopeWrite}, 0); err != nil {
		t.Fatal(err)
	}
	if e.revoked, k, err = keys.Create(ctx, "old", []string{authn.ScopeWrite}, 0); err != nil {
		t.Fatal(err)
	}
	if err := keys.Revoke(ctx, k.ID); err != nil {
		t.Fatal(err)
	}

	server := mcp.NewServer(&mcp.Implementation{Name: "authn-test", Version: "0"}, nil)
	type searchIn struct {
		Query string `json:"query"`
	}
	mcp.AddTool(server, &mcp.Tool{Name: "search_articles"}, func(ctx context.Context, _ *mcp.CallToolRequest, in searchIn) (*mcp.CallToolResult, any, error) {
		// The principal travels from the middleware to the tool in the
		// context: the MCP server relies on that.
		who := authn.FromContext(ctx).String()
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "searched by " + who}}}, nil, nil
	})
	type createIn struct {
		Slug string `json:"slug"`
	}
	mcp.AddTool(server, &mcp.Tool{Name: "create_article"}, func(ctx context.Context, _ *mcp.CallToolRequest, in createIn) (*mcp.CallToolResult, any, error) {
		e.created.Add(1)
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "created"}}}, nil, nil
	})
	opts := &authn.Authenticator{Verify: keys.Verify}
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server },
		&mcp.StreamableHTTPOptions{Stateless: true, JSONResponse: true})
	e.srv = httptest.NewServer(opts.Middleware(opts.RequireMCPScopes(testScopeFor)(h)))
	t.Cleanup(e.srv.Close)
	return e
}

// keyTransport adds an API key to every request, as mcp-remote --header
// does.
type keyTransport struct{ key string }

func (k keyTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("X-API-KEY", k.key)
	return http.DefaultTransport.RoundTrip(r)
}

func (e *mcpEnv) connect(t *testing.T, key string) (*mcp.ClientSession, error) {
	t.Helper()
	client := mcp.NewClient(&mcp.Implementation{Name: "authn-test-client", Version: "0"}, nil)
	return client.Connect(context.Background(), &mcp.StreamableClientTransport{
		Endpoint:             e.srv.URL,
		HTTPClient:           &http.Client{Transport: keyTransport{key}},
		DisableStandaloneSSE: true,
		MaxRetries:           -1,
	}, nil)
}

func TestMCPWithAPIKeys(t *testing.T) {
	t.Parallel()
	e := newMCPEnv(t)
	ctx := context.Background()

	read, err := e.connect(t, e.readKey)
	if err != nil {
		t.Fatalf("connect with the read key: %v", err)
	}
	defer read.Close()
	if _, err := read.ListTools(ctx, nil); err != nil {
		t.Errorf("tools/list with the read key: %v", err)
	}
	res, err := read.CallTool(ctx, &mcp.CallToolParams{Name: "search_articles", Arguments: map[string]any{"query": "go"}})
	if err != nil {
		t.Fatalf("search_articles with the read key: %v", err)
	}
	if got, want := res.Content[0].(*mcp.TextContent).Text, "searched by key:"+e.readID+" (articles:read)"; got != want {
		t.Errorf("search_articles result = %q, want %q", got, want)
	}
	// A name that is no tool is the SDK's to answer, not a step-up: the
	// error is JSON-RPC's invalid params and the session stays usable,
	// where the 403 below ends it (the go-sdk client gives up on one).
	_, err = read.CallTool(ctx, &mcp.CallToolParams{Name: "no_such_tool"})
	if wire, ok := errors.AsType[*jsonrpc.Error](err); !ok || wire.Code != jsonrpc.CodeInvalidParams {
		t.Errorf("no_such_tool with the read key: err = %v, want JSON-RPC error %d", err, jsonrpc.CodeInvalidParams)
	}
	if _, err := read.ListTools(ctx, nil); err != nil {
		t.Errorf("tools/list after calling an unknown tool: %v", err)
	}
	if _, err := read.CallTool(ctx, &mcp.CallToolParams{Name: "create_article", Arguments: map[string]any{"slug": "x"}}); err == nil {
		t.Error("create_article with the read key succeeded")
	}
	if n := e.created.Load(); n != 0 {
		t.Errorf("create_article ran %d times for the read key, want 0", n)
	}

	write, err := e.connect(t, e.writeKey)
	if err != nil {
		t.Fatalf("connect with the write key: %v", err)
	}
	defer write.Close()
	if _, err := write.CallTool(ctx, &mcp.CallToolParams{Name: "create_article", Arguments: map[string]any{"slug": "x"}}); err != nil {
		t.Errorf("create_article with the write key: %v", err)
	}
	if n := e.created.Load(); n != 1 {
		t.Errorf("create_article ran %d times, want 1", n)
	}

	if s, err := e.connect(t, e.revoked); err == nil {
		s.Close()
		t.Error("connect with a revoked key succeeded")
	}
}

// TestMCPScopeCheckAgreesWithSDK sends bodies that the go-sdk reads as a
// call of create_article although a naive check (encoding/json into a
// struct: case-insensitive keys, trailing data refused) would read them
// otherwise. With the write key each one runs the tool, proving the SDK
// does read it so; with the read key none may.
func TestMCPScopeCheckAgreesWithSDK(t *testing.T) {
	t.Parallel()
	const create = `"method":"tools/call","params":{"name":"create_article","arguments":{"slug":"x"}}`
	bodies := map[string]string{
		"plain":                    `{"jsonrpc":"2.0","id":1,` + create + `}`,
		"trailing data":            `{"jsonrpc":"2.0","id":1,` + create + `} {"jsonrpc":"2.0","id":2,"method":"ping"}`,
		"trailing garbage":         `{"jsonrpc":"2.0","id":1,` + create + `}]]]`,
		"case variant after":       `{"jsonrpc":"2.0","id":1,` + create + `,"Method":"tools/list"}`,
		"case variant name after":  `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"create_article","Name":"search_articles","arguments":{"slug":"x"}}}`,
		"escaped key and value":    `{"jsonrpc":"2.0","id":1,"meth\u006fd":"tools\/call","params":{"n\u0061me":"create\u005farticle","arguments":{"slug":"x"}}}`,
		"duplicate method, last":   `{"jsonrpc":"2.0","id":1,"method":"tools/list",` + create + `}`,
		"duplicate name, last":     `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"search_articles","name":"create_article","arguments":{"slug":"x"}}}`,
		"duplicate params, last":   `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"search_articles"},"params":{"name":"create_article","arguments":{"slug":"x"}}}`,
		"batch (2025-03-26 style)": `[{"jsonrpc":"2.0","id":1,"method":"tools/list"},{"jsonrpc":"2.0","id":2,` + create + `}]`,
	}
	for name, body := range bodies {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newMCPEnv(t)
			post := func(key string) int {
				req, err := http.NewRequest(http.MethodPost, e.srv.URL, strings.NewReader(body))
				if err != nil {
					t.Fatal(err)
				}
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Accept", "application/json, text/event-stream")
				version := "2025-11-25"
				if strings.HasPrefix(body, "[") {
					version = "2025-03-26" // batches were dropped in 2025-06-18
				}
				req.Header.Set("Mcp-Protocol-Version", version)
				req.Header.Set("X-API-KEY", key)
				return do(t, req).status
			}
			if got := post(e.readKey); got != http.StatusForbidden {
				t.Errorf("read key: status %d, want 403", got)
			}
			if n := e.created.Load(); n != 0 {
				t.Fatalf("read key: create_article ran %d times, want 0", n)
			}
			if got := post(e.writeKey); got != http.StatusOK {
				t.Errorf("write key: status %d, want 200", got)
			}
			if n := e.created.Load(); n != 1 {
				t.Errorf("write key: create_article ran %d times, want 1: the SDK does not read this body as a call of it, so the case proves nothing", n)
			}
		})
	}
}
