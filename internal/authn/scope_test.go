package authn_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/2coffee/mcp-2coffee/internal/authn"
	"github.com/2coffee/mcp-2coffee/internal/blog"
)

// testScopeFor gives every answer the middleware must handle: nothing
// for the handshake, articles:read for reads, articles:write for the
// write tools and for methods it does not know. Its tool rule is the MCP
// server's (mcpserver.Scopes): a name that is no tool needs only
// articles:read, and a tools/call without a readable name (empty tool)
// articles:write.
func testScopeFor(method, tool string) string {
	switch method {
	case "initialize", "ping", "notifications/initialized", "notifications/cancelled":
		return ""
	case "tools/list", "resources/list", "resources/read", "resources/templates/list", "prompts/list", "prompts/get", "completion/complete":
		return authn.ScopeRead
	case "tools/call":
		switch tool {
		case "create_article", "update_article", "delete_article", "":
			return authn.ScopeWrite
		}
		return authn.ScopeRead
	}
	return authn.ScopeWrite
}

// bodyEcho answers with the body it was given, so a test can check the
// body was restored intact.
var bodyEcho = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("X-Principal", authn.FromContext(r.Context()).String())
	w.Write(b)
})

func mcpScopes(opts *authn.Authenticator, _ http.Handler) http.Handler {
	return opts.RequireMCPScopes(testScopeFor)(bodyEcho)
}

const (
	needWrite     = "this request needs the articles:write scope, which the credential lacks"
	searchCall    = `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"search_articles","arguments":{"query":"go"}}}`
	createCall    = `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"create_article","arguments":{"slug":"x"}}}`
	toolsList     = `{"jsonrpc":"2.0","id":3,"method":"tools/list"}`
	initializeReq = `{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`
)

func TestRequireMCPScopesAllows(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cred string
		body string
	}{
		{"read tool with read key", readCred, searchCall},
		{"tools/list with read key", readCred, toolsList},
		{"initialize with read key", readCred, initializeReq},
		{"write tool with write key", writeCred, createCall},
		{"read tool with write key (write implies read)", writeCred, searchCall},
		{"batch of reads", readCred, "[" + toolsList + "," + searchCall + "]"},
		{"batch with a write, write key", writeCred, "[" + toolsList + "," + createCall + "]"},
		{"not JSON passes through", readCred, "hello, world"},
		{"empty body passes through", readCred, ""},
		{"JSON but not JSON-RPC", readCred, `[1, "two", null]`},
		{"a response carries no method", readCred, `{"jsonrpc":"2.0","id":7,"result":{}}`},
		{"a notification", readCred, `{"jsonrpc":"2.0","method":"notifications/initialized"}`},
		{"method that is not a string", readCred, `{"jsonrpc":"2.0","id":1,"method":42}`},
		{"a name that is no tool is the MCP handler's to answer", readCred, `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"no_such_tool"}}`},
		{"non-ASCII survives the round trip", readCred, `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"search_articles","arguments":{"query":"phở cà phê ☕"}}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, "", mcpScopes)
			got := do(t, e.request(t, http.MethodPost, "/mcp", map[string][]string{"X-API-KEY": {tt.cred}}, tt.body))
			if got.status != http.StatusOK {
				t.Fatalf("status = %d, want 200; body %s", got.status, got.body)
			}
			if diff := cmp.Diff(tt.body, string(got.body)); diff != "" {
				t.Errorf("body seen by the MCP handler mismatch (-sent +seen):\n%s", diff)
			}
			if r := e.failures.get(); len(r) != 0 {
				t.Errorf("OnFailure called with %q", r)
			}
		})
	}
}

func TestRequireMCPScopesRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		body  string
		scope string // the challenge's scope: everything the body needs
		desc  string
	}{
		{"write tool", createCall, "articles:write", needWrite},
		{"batch with one write: every needed scope is named", "[" + toolsList + "," + createCall + "]", "articles:read articles:write", needWrite},
		{"batch: handshake needs nothing", "[" + initializeReq + "," + createCall + "]", "articles:write", needWrite},
		{"unknown method needs the strongest scope", `{"jsonrpc":"2.0","id":1,"method":"tasks/run"}`, "articles:write", needWrite},
		{"tools/call without a name", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{}}`, "articles:write", needWrite},
		{"leading whitespace", " \n\t" + createCall, "articles:write", needWrite},

		// Each of these is read by the go-sdk as a call of create_article
		// (or could be, by a decoder with other rules), so the check must
		// see it too.
		{"trailing data after the first value", createCall + ` {"jsonrpc":"2.0","id":9,"method":"ping"}`, "articles:write", needWrite},
		{"trailing garbage", createCall + ` garbage`, "articles:write", needWrite},
		{"case variant of method after", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"create_article"},"Method":"tools/list"}`, "articles:read articles:write", needWrite},
		{"case variant of method before", `{"jsonrpc":"2.0","id":1,"METHOD":"tools/list","method":"tools/call","params":{"name":"create_article"}}`, "articles:read articles:write", needWrite},
		{"duplicate method keys", `{"jsonrpc":"2.0","id":1,"method":"tools/call","method":"tools/list","params":{"name":"create_article"}}`, "articles:read articles:write", needWrite},
		{"duplicate name keys", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"create_article","name":"search_articles"}}`, "articles:read articles:write", needWrite},
		{"case variant of name", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"search_articles","Name":"create_article"}}`, "articles:read articles:write", needWrite},
		{"duplicate params", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"search_articles"},"params":{"name":"create_article"}}`, "articles:read articles:write", needWrite},
		{"escaped key names", `{"jsonrpc":"2.0","id":1,"meth\u006fd":"tools/call","params":{"n\u0061me":"create_article"}}`, "articles:write", needWrite},
		{"escaped values", `{"jsonrpc":"2.0","id":1,"method":"tools\/call","params":{"name":"create\u005farticle"}}`, "articles:write", needWrite},
		{"truncated after the method", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"create_art`, "articles:write", needWrite},
		{"batch with a broken tail", "[" + createCall + `, {"method":`, "articles:write", needWrite},

		// A name read before a syntax error does not settle the call: a
		// more lenient decoder might read on to another name.
		{"syntax error in params after a name", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"search_articles","arguments":{"q":tru},"name":"create_article"}}`, "articles:write", needWrite},
		{"truncated after a name", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"search_articles","name":"create_art`, "articles:write", needWrite},
		{"syntax error after params", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"search_articles"},"x":-,"params":{"name":"create_article"}}`, "articles:read articles:write", needWrite},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, rmURL, mcpScopes)
			got := do(t, e.request(t, http.MethodPost, "/mcp", map[string][]string{"Authorization": {"Bearer " + readCred}}, tt.body))
			checkChallenge(t, got, http.StatusForbidden,
				map[string]string{
					"realm":             "mcp-2coffee",
					"error":             "insufficient_scope",
					"error_description": tt.desc,
					"scope":             tt.scope,
					"resource_metadata": rmURL,
				},
				map[string]string{"error": "insufficient_scope", "error_description": tt.desc, "scope": tt.scope})
			if diff := cmp.Diff([]string{"insufficient_scope"}, e.failures.get()); diff != "" {
				t.Errorf("OnFailure reasons mismatch (-want +got):\n%s", diff)
			}
			if logs := e.logs.String(); !strings.Contains(logs, "subject=key:reader") || !strings.Contains(logs, "missing=articles:write") {
				t.Errorf("log lacks the subject or the missing scope:\n%s", logs)
			}
		})
	}
}

func TestRequireMCPScopesOtherMethods(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "", mcpScopes)
	for _, method := range []string{http.MethodGet, http.MethodDelete} {
		got := do(t, e.request(t, method, "/mcp", map[string][]string{"X-API-KEY": {readCred}}, ""))
		if got.status != http.StatusOK {
			t.Errorf("%s with a read key: status %d, want 200", method, got.status)
		}
		if p := got.header.Get("X-Principal"); p != "key:reader (articles:read)" {
			t.Errorf("%s: principal seen %q, want key:reader (articles:read)", method, p)
		}
	}
}

// serveDirect runs h on a request whose context holds p (nil for none),
// bypassing the authentication middleware.
func serveDirect(h http.Handler, p *authn.Principal, body io.Reader) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/mcp", body)
	if p != nil {
		req = req.WithContext(authn.WithPrincipal(req.Context(), p))
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestRequireMCPScopesBodyLimits(t *testing.T) {
	h := (&authn.Authenticator{}).RequireMCPScopes(testScopeFor)(bodyEcho)
	tooLarge := map[string]string{"error": "invalid_request", "error_description": "the request body is too large"}

	// Over this middleware's own cap.
	big := `{"jsonrpc":"2.0","id":1,"method":"ping","params":{"pad":"` + strings.Repeat("a", blog.MaxRequestBytes) + `"}}`
	rec := serveDirect(h, readPrincipal, strings.NewReader(big))
	checkChallenge(t, response{rec.Code, rec.Header(), rec.Body.Bytes()}, http.StatusRequestEntityTooLarge, nil, tooLarge)

	// At the cap exactly: accepted and passed on whole.
	exact := `{"jsonrpc":"2.0","id":1,"method":"ping","params":{"pad":"`
	exact += strings.Repeat("a", blog.MaxRequestBytes-len(exact)-3) + `"}}`
	rec = serveDirect(h, readPrincipal, strings.NewReader(exact))
	if rec.Code != http.StatusOK || rec.Body.Len() != blog.MaxRequestBytes {
		t.Errorf("body of exactly MaxRequestBytes: status %d, %d bytes passed on; want 200, %d", rec.Code, rec.Body.Len(), blog.MaxRequestBytes)
	}

	// Over an outer http.MaxBytesReader's limit.
	req := httptest.NewRequest(http.MethodPost, "/mcp", nil)
	req = req.WithContext(authn.WithPrincipal(req.Context(), readPrincipal))
	rec = httptest.NewRecorder()
	req.Body = http.MaxBytesReader(rec, io.NopCloser(strings.NewReader(createCall)), 10)
	h.ServeHTTP(rec, req)
	checkChallenge(t, response{rec.Code, rec.Header(), rec.Body.Bytes()}, http.StatusRequestEntityTooLarge, nil, tooLarge)
}

func TestScopeChecksWithoutPrincipal(t *testing.T) {
	// Only a wiring mistake leaves the principal out; both checks must
	// refuse rather than serve an anonymous caller.
	want := map[string]string{"realm": "mcp-2coffee", "scope": "articles:read"}
	body := map[string]string{"error": "unauthorized", "error_description": descMissing}
	for name, h := range map[string]http.Handler{
		"RequireMCPScopes": (&authn.Authenticator{}).RequireMCPScopes(testScopeFor)(bodyEcho),
		"RequireScope":     (&authn.Authenticator{}).RequireScope(authn.ScopeRead)(bodyEcho),
	} {
		t.Run(name, func(t *testing.T) {
			rec := serveDirect(h, nil, strings.NewReader(initializeReq))
			checkChallenge(t, response{rec.Code, rec.Header(), rec.Body.Bytes()}, http.StatusUnauthorized, want, body)
		})
	}
}

func TestRequireScope(t *testing.T) {
	tests := []struct {
		name   string
		scope  string
		p      *authn.Principal
		status int
	}{
		{"read route, read key", authn.ScopeRead, readPrincipal, http.StatusOK},
		{"read route, write key", authn.ScopeRead, writePrincipal, http.StatusOK},
		{"write route, write key", authn.ScopeWrite, writePrincipal, http.StatusOK},
		{"write route, read key", authn.ScopeWrite, readPrincipal, http.StatusForbidden},
		{"write route, key without scopes", authn.ScopeWrite, &authn.Principal{Subject: "key:none"}, http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var fails failures
			h := (&authn.Authenticator{OnFailure: fails.add, ResourceMetadataURL: rmURL}).RequireScope(tt.scope)(bodyEcho)
			rec := serveDirect(h, tt.p, bytes.NewReader([]byte("payload")))
			if tt.status == http.StatusOK {
				if rec.Code != http.StatusOK || rec.Body.String() != "payload" {
					t.Errorf("status %d body %q, want 200 \"payload\"", rec.Code, rec.Body.String())
				}
				return
			}
			desc := "this request needs the " + tt.scope + " scope, which the credential lacks"
			checkChallenge(t, response{rec.Code, rec.Header(), rec.Body.Bytes()}, tt.status,
				map[string]string{"realm": "mcp-2coffee", "error": "insufficient_scope", "error_description": desc, "scope": tt.scope, "resource_metadata": rmURL},
				map[string]string{"error": "insufficient_scope", "error_description": desc, "scope": tt.scope})
			if diff := cmp.Diff([]string{"insufficient_scope"}, fails.get()); diff != "" {
				t.Errorf("OnFailure reasons mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestInsufficientScopeBodyIsJSON guards the JSON shape clients parse.
func TestInsufficientScopeBodyIsJSON(t *testing.T) {
	rec := serveDirect((&authn.Authenticator{}).RequireScope(authn.ScopeWrite)(bodyEcho), readPrincipal, nil)
	var body authn.ErrorBody
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("body %q: %v", rec.Body.Bytes(), err)
	}
	want := authn.ErrorBody{Error: "insufficient_scope", Description: needWrite, Scope: "articles:write"}
	if diff := cmp.Diff(want, body); diff != "" {
		t.Errorf("body mismatch (-want +got):\n%s", diff)
	}
}

// TestRequireMCPScopesBoundsBatches: a 2025-03-26 batch is answered
// message by message, so one body may not hold more than MaxBatch.
func TestRequireMCPScopesBoundsBatches(t *testing.T) {
	t.Parallel()
	h := (&authn.Authenticator{}).RequireMCPScopes(testScopeFor)(bodyEcho)
	batch := func(n int) string {
		msgs := make([]string, n)
		for i := range msgs {
			msgs[i] = fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"ping"}`, i)
		}
		return "[" + strings.Join(msgs, ",") + "]"
	}
	if rec := serveDirect(h, readPrincipal, strings.NewReader(batch(authn.MaxBatch))); rec.Code != http.StatusOK {
		t.Errorf("a batch of MaxBatch: status %d, want it passed on", rec.Code)
	}
	for _, n := range []int{authn.MaxBatch + 1, 10000} {
		rec := serveDirect(h, readPrincipal, strings.NewReader(batch(n)))
		var got struct {
			ID    any `json:"id"`
			Error struct {
				Code    int    `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
		}
		if rec.Code != http.StatusBadRequest || json.Unmarshal(rec.Body.Bytes(), &got) != nil || got.Error.Code != -32600 || got.ID != nil {
			t.Errorf("a batch of %d: %d %s; want 400 with JSON-RPC error -32600 and id null", n, rec.Code, rec.Body.String())
		}
	}
}

func TestChallengesUseTheProvidersScopeNames(t *testing.T) {
	a := &authn.Authenticator{
		Verify:              func(context.Context, string) (*authn.Principal, error) { return nil, authn.ErrUnrecognized },
		ResourceMetadataURL: rmURL,
		ScopeName: func(s string) string {
			return map[string]string{authn.ScopeRead: "api://blog/articles.read", authn.ScopeWrite: "api://blog/articles.write"}[s]
		},
	}
	r := httptest.NewRequest(http.MethodPost, "/mcp", nil)
	r = r.WithContext(authn.WithPrincipal(r.Context(), &authn.Principal{Subject: "ext:alice", Scopes: []string{authn.ScopeRead}}))
	w := httptest.NewRecorder()
	if a.Authorize(w, r, []string{authn.ScopeWrite}) {
		t.Fatal("a reader was authorized to write")
	}
	h := w.Header().Get("WWW-Authenticate")
	if !strings.Contains(h, `scope="api://blog/articles.write"`) || !strings.Contains(h, "needs the api://blog/articles.write scope") {
		t.Errorf("403 challenge %q does not name the provider's scope", h)
	}
	w = httptest.NewRecorder()
	a.Middleware(http.NotFoundHandler()).ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/mcp", nil))
	if h := w.Header().Get("WWW-Authenticate"); w.Code != http.StatusUnauthorized || !strings.Contains(h, `scope="api://blog/articles.read"`) {
		t.Errorf("401 %d challenge %q does not name the provider's read scope", w.Code, h)
	}
}
