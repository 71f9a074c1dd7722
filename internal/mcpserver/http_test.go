package mcpserver

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/2coffee/mcp-2coffee/internal/authn"
	"github.com/2coffee/mcp-2coffee/internal/blog"
	"github.com/2coffee/mcp-2coffee/internal/store/sqlite"
)

// Credentials the test verifier knows.
const (
	readKey  = "read-key"
	writeKey = "write-key"
)

// httpStack is the MCP endpoint as the HTTP server composes it: the
// authentication middleware, the scope check fed by the table, and the
// go-sdk's stateless Streamable HTTP handler, over a fresh blog.
type httpStack struct {
	srv *httptest.Server
	mcp *mcp.Server
	svc *blog.Service
}

// newHTTPStack builds the endpoint over table; nil means the real one,
// through New and Scopes as the HTTP server wires them.
func newHTTPStack(t *testing.T, table []tool) *httpStack {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "blog.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	svc := blog.NewService(db, func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) })
	principals := map[string]*authn.Principal{
		readKey:  {Subject: "key:reader", Scopes: []string{authn.ScopeRead}, Method: "api_key"},
		writeKey: {Subject: "key:writer", Scopes: []string{authn.ScopeWrite}, Method: "api_key"},
	}
	auth := &authn.Authenticator{Verify: func(_ context.Context, cred string) (*authn.Principal, error) {
		if p, ok := principals[cred]; ok {
			return p, nil
		}
		return nil, authn.ErrInvalidCredential
	}}
	// The principal comes from the request context.
	server, scopes := New(svc, Options{}), Scopes()
	if table != nil {
		server, scopes = newServer(svc, Options{}, table), scopesOf(table)
	}
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server },
		&mcp.StreamableHTTPOptions{Stateless: true, JSONResponse: true})
	srv := httptest.NewServer(auth.Middleware(auth.RequireMCPScopes(scopes)(h)))
	t.Cleanup(srv.Close)
	return &httpStack{srv: srv, mcp: server, svc: svc}
}

// rpcReply is what a test reads of an answer: the HTTP status, the
// challenge, and the JSON-RPC result or error.
type rpcReply struct {
	status    int
	challenge string
	body      string
	Result    *mcp.CallToolResult `json:"result"`
	Error     *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// call posts one raw JSON-RPC tools/call, with no handshake first: a
// stateless server needs none.
func (s *httpStack) call(t *testing.T, key, tool string, args map[string]any) rpcReply {
	t.Helper()
	params := map[string]any{"arguments": args}
	if tool != "" {
		params["name"] = tool
	}
	body, err := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params})
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, s.srv.URL, strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Mcp-Protocol-Version", "2025-11-25")
	req.Header.Set(authn.HeaderAPIKey, key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	r := rpcReply{status: resp.StatusCode, challenge: resp.Header.Get("WWW-Authenticate"), body: string(b)}
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatalf("%s: body %s: %v", tool, b, err)
		}
	}
	return r
}

// wantUnknownTool asserts the go-sdk's own answer to a name it does not
// know: HTTP 200 carrying JSON-RPC error -32602.
func wantUnknownTool(t *testing.T, r rpcReply, tool string) {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("%s: status %d (WWW-Authenticate %q, body %s), want 200 with a JSON-RPC error", tool, r.status, r.challenge, r.body)
	}
	if r.Error == nil || r.Error.Code != -32602 || !strings.Contains(r.Error.Message, "unknown tool") {
		t.Errorf("%s: body %s, want JSON-RPC error -32602 unknown tool", tool, r.body)
	}
}

// wantInsufficientScope asserts the 403 that tells a client to step up
// to articles:write.
func wantInsufficientScope(t *testing.T, r rpcReply, tool string) {
	t.Helper()
	if r.status != http.StatusForbidden || !strings.Contains(r.challenge, `error="insufficient_scope"`) || !strings.Contains(r.challenge, `scope="articles:write"`) {
		t.Errorf("%s: status %d, WWW-Authenticate %q, want 403 insufficient_scope for articles:write", tool, r.status, r.challenge)
	}
}

// TestHTTPUnknownToolIsNotAStepUp is the rule real clients trip over: a
// read-only credential calling a name that is no tool gets the MCP
// answer (-32602 unknown tool), not a 403 asking it to step up to write
// access, while a real write tool still gets the 403.
func TestHTTPUnknownToolIsNotAStepUp(t *testing.T) {
	t.Parallel()
	s := newHTTPStack(t, nil)

	wantUnknownTool(t, s.call(t, readKey, "no_such_tool", nil), "no_such_tool")
	wantUnknownTool(t, s.call(t, readKey, "Create_Article", nil), "Create_Article") // names are case-sensitive

	wantInsufficientScope(t, s.call(t, readKey, ToolCreate, map[string]any{"title": "T", "body": "b"}), ToolCreate)
	wantInsufficientScope(t, s.call(t, readKey, ToolDelete, map[string]any{"slug": "x"}), ToolDelete)
	if page, err := s.svc.List(t.Context(), blog.ListOptions{IncludeDrafts: true}); err != nil || len(page.Articles) != 0 {
		t.Errorf("articles after refused writes: %+v, %v; want none", page, err)
	}

	// The same endpoint serves the read tools to the read key, and the
	// write tools to the write key.
	if r := s.call(t, readKey, ToolSearch, map[string]any{"query": "go"}); r.status != http.StatusOK || r.Result == nil || r.Result.IsError {
		t.Errorf("search with the read key: status %d body %s, want a result", r.status, r.body)
	}
	if r := s.call(t, writeKey, ToolCreate, map[string]any{"title": "Over HTTP", "body": "b"}); r.status != http.StatusOK || r.Result == nil || r.Result.IsError {
		t.Errorf("create with the write key: status %d body %s, want a result", r.status, r.body)
	}
}

// TestHTTPFailsClosed covers what must still need articles:write over
// HTTP although a name that is no tool needs only articles:read.
func TestHTTPFailsClosed(t *testing.T) {
	t.Parallel()
	t.Run("tools/call that names no tool", func(t *testing.T) {
		t.Parallel()
		// The check cannot tell what the go-sdk would run.
		wantInsufficientScope(t, newHTTPStack(t, nil).call(t, readKey, "", nil), "no name")
	})
	t.Run("entry without a valid scope", func(t *testing.T) {
		t.Parallel()
		var ran atomic.Int32
		s := newHTTPStack(t, append(tools(), unscoped("unscoped", "", &ran), unscoped("misspelt", "articles:wirte", &ran)))
		for _, name := range []string{"unscoped", "misspelt"} {
			wantInsufficientScope(t, s.call(t, readKey, name, nil), name)
			if r := s.call(t, writeKey, name, nil); r.status != http.StatusOK || r.Result == nil || r.Result.IsError {
				t.Errorf("%s with the write key: status %d body %s, want a result", name, r.status, r.body)
			}
		}
		if n := ran.Load(); n != 2 {
			t.Errorf("the unscoped tools ran %d times, want 2 (the write key's calls only)", n)
		}
	})
	t.Run("tool registered behind the table's back", func(t *testing.T) {
		t.Parallel()
		s := newHTTPStack(t, nil)
		var ran atomic.Int32
		mcp.AddTool(s.mcp, &mcp.Tool{Name: "rogue"}, func(context.Context, *mcp.CallToolRequest, struct{}) (*mcp.CallToolResult, any, error) {
			ran.Add(1)
			return &mcp.CallToolResult{Content: text("ran")}, nil, nil
		})
		// The HTTP check cannot see it and lets the read key through;
		// the server must not run it for that key.
		wantUnknownTool(t, s.call(t, readKey, "rogue", nil), "rogue")
		if n := ran.Load(); n != 0 {
			t.Fatalf("rogue ran %d times for the read key, want 0", n)
		}
		if r := s.call(t, writeKey, "rogue", nil); r.status != http.StatusOK || r.Result == nil || r.Result.IsError {
			t.Errorf("rogue with the write key: status %d body %s, want a result", r.status, r.body)
		}
		if n := ran.Load(); n != 1 {
			t.Errorf("rogue ran %d times, want 1: the case proves nothing if it never runs", n)
		}
	})
}
