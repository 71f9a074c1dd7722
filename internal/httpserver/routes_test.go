package httpserver_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/2coffee/mcp-2coffee/internal/authn"
	"github.com/2coffee/mcp-2coffee/internal/httpserver"
)

// httpserver receives its handlers; these tests give it handlers that say
// who answered, and check what it adds around them.

// named answers with its name and the principal it was handed.
func named(name string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusRequestEntityTooLarge)
			return
		}
		who := "nobody"
		if p := authn.FromContext(r.Context()); p != nil {
			who = p.Subject
		}
		io.WriteString(w, name+" as "+who+" "+r.URL.Path+" "+string(body))
	})
}

// onlyKey authenticates the request carrying X-API-KEY: good as "alice",
// and answers 401 otherwise.
func onlyKey(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-API-KEY") != "good" {
			http.Error(w, "who are you", http.StatusUnauthorized)
			return
		}
		p := &authn.Principal{Subject: "alice", Scopes: []string{authn.ScopeRead}}
		next.ServeHTTP(w, r.WithContext(authn.WithPrincipal(r.Context(), p)))
	})
}

type fakeAS struct{}

func (fakeAS) Handler() http.Handler         { return named("as") }
func (fakeAS) Issuer() string                { return "https://blog.example/blog" }
func (fakeAS) MetadataPath() string          { return "/.well-known/oauth-authorization-server/blog" }
func (fakeAS) MetadataHandler() http.Handler { return named("as-metadata") }

func newServer(t *testing.T, public string, as httpserver.AuthorizationServer, ready func(context.Context) error) http.Handler {
	t.Helper()
	pub, err := url.Parse(public)
	if err != nil {
		t.Fatal(err)
	}
	h, err := httpserver.New(httpserver.Config{
		PublicURL: pub, ListenAddr: "127.0.0.1:3000",
		MCP: named("mcp"), REST: named("rest"), Authenticate: onlyKey,
		AuthServer: as, Ready: ready, MaxBodyBytes: 64,
	})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

type reply struct {
	code int
	body string
}

func do(h http.Handler, method, target string, header map[string]string, body string) reply {
	if strings.HasPrefix(target, "/") {
		target = "http://127.0.0.1:3000" + target
	}
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	for k, v := range header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return reply{rec.Code, strings.TrimSpace(rec.Body.String())}
}

func TestRoutes(t *testing.T) {
	t.Parallel()
	h := newServer(t, "http://127.0.0.1:3000", nil, nil)
	key := map[string]string{"X-API-KEY": "good"}
	for _, tt := range []struct {
		name, method, target string
		header               map[string]string
		body                 string
		want                 reply
	}{
		{"mcp behind authentication", "POST", "/mcp", key, "{}", reply{200, "mcp as alice /mcp {}"}},
		{"rest behind authentication", "GET", "/api/v1/articles", key, "", reply{200, "rest as alice /api/v1/articles"}},
		{"mcp refused without a credential", "POST", "/mcp", nil, "{}", reply{401, "who are you"}},
		{"rest refused without a credential", "GET", "/api/v1/articles", nil, "", reply{401, "who are you"}},
		{"health needs no credential", "GET", "/healthz", nil, "", reply{200, "ok"}},
		{"ready without a check", "GET", "/readyz", nil, "", reply{200, "ready"}},
		{"a declared body over the limit, before authentication", "POST", "/mcp", nil, strings.Repeat("x", 65), reply{413, ""}},
		{"a foreign Host, before authentication", "POST", "http://evil.example/mcp", key, "{}", reply{403, ""}},
		{"no OAuth: no metadata", "GET", "/.well-known/oauth-protected-resource/mcp", nil, "", reply{404, ""}},
		{"metrics", "GET", "/metrics", nil, "", reply{200, ""}},
		// A page on a rebinding name reaches the listener with its own Host.
		{"metrics to a foreign Host", "GET", "http://rebind.example:3000/metrics", nil, "", reply{403, ""}},
		{"health to a foreign Host", "GET", "http://rebind.example:3000/healthz", nil, "", reply{403, ""}},
		{"readiness to a foreign Host", "GET", "http://rebind.example:3000/readyz", nil, "", reply{403, ""}},
	} {
		got := do(h, tt.method, tt.target, tt.header, tt.body)
		if got.code != tt.want.code || (tt.want.body != "" && got.body != tt.want.body) {
			t.Errorf("%s: %s %s = %d %q, want %d %q", tt.name, tt.method, tt.target, got.code, got.body, tt.want.code, tt.want.body)
		}
	}
}

func TestReadyFollowsTheCheck(t *testing.T) {
	t.Parallel()
	down := errors.New("database gone")
	h := newServer(t, "http://127.0.0.1:3000", nil, func(context.Context) error { return down })
	if got := do(h, "GET", "/readyz", nil, ""); got.code != http.StatusServiceUnavailable {
		t.Errorf("/readyz with a failing check = %d %q, want 503", got.code, got.body)
	}
}

func TestPrefixAndOAuthMetadata(t *testing.T) {
	t.Parallel()
	// Behind a proxy at https://blog.example/blog, forwarding to loopback.
	h := newServer(t, "https://blog.example/blog", fakeAS{}, nil)
	host := "https://blog.example"
	key := map[string]string{"X-API-KEY": "good"}
	if got := do(h, "POST", host+"/blog/mcp", key, "{}"); got != (reply{200, "mcp as alice /mcp {}"}) {
		t.Errorf("POST /blog/mcp = %+v, want the MCP handler with the prefix stripped", got)
	}
	if got := do(h, "GET", host+"/blog/oauth/authorize", nil, ""); got.code != 200 || !strings.HasPrefix(got.body, "as as nobody") {
		t.Errorf("/blog/oauth/authorize = %+v, want the authorization server, unauthenticated", got)
	}
	if got := do(h, "GET", host+"/.well-known/oauth-authorization-server/blog", nil, ""); !strings.HasPrefix(got.body, "as-metadata") {
		t.Errorf("path-inserted AS metadata = %+v", got)
	}
	// RFC 9728: the path form and the root form, naming the resource and
	// the issuer; the URL the challenges point at is the same.
	for _, path := range []string{"/.well-known/oauth-protected-resource/blog/mcp", "/.well-known/oauth-protected-resource"} {
		got := do(h, "GET", host+path, nil, "")
		var prm struct {
			Resource             string   `json:"resource"`
			AuthorizationServers []string `json:"authorization_servers"`
		}
		if got.code != 200 || json.Unmarshal([]byte(got.body), &prm) != nil ||
			prm.Resource != "https://blog.example/blog/mcp" || len(prm.AuthorizationServers) != 1 || prm.AuthorizationServers[0] != (fakeAS{}).Issuer() {
			t.Errorf("GET %s = %d %s", path, got.code, got.body)
		}
	}
	pub, _ := url.Parse("https://blog.example/blog")
	if got, want := httpserver.ResourceMetadataURL(pub), host+"/.well-known/oauth-protected-resource/blog/mcp"; got != want {
		t.Errorf("ResourceMetadataURL = %q, want %q", got, want)
	}
	if got, want := httpserver.MCPURL(pub), host+"/blog/mcp"; got != want {
		t.Errorf("MCPURL = %q, want %q", got, want)
	}
}

func TestNewRequiresItsHandlers(t *testing.T) {
	t.Parallel()
	pub, _ := url.Parse("http://127.0.0.1:3000")
	if _, err := httpserver.New(httpserver.Config{PublicURL: pub, MCP: named("mcp"), REST: named("rest")}); err == nil {
		t.Error("New without Authenticate succeeded; a server must never serve its routes unauthenticated by omission")
	}
}

func TestSeparateOps(t *testing.T) {
	t.Parallel()
	pub, _ := url.Parse("http://127.0.0.1:3000")
	cfg := httpserver.Config{PublicURL: pub, ListenAddr: "127.0.0.1:3000",
		MCP: named("mcp"), REST: named("rest"), Authenticate: onlyKey, SeparateOps: true}
	h, err := httpserver.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got := do(h, "GET", "/metrics", nil, ""); got.code != http.StatusNotFound {
		t.Errorf("/metrics on the public listener with a separate one = %d, want 404", got.code)
	}
	if got := do(h, "GET", "/healthz", nil, ""); got.code != http.StatusOK {
		t.Errorf("/healthz on the public listener = %d, want 200 (load balancers probe it)", got.code)
	}
	ops := httpserver.OpsHandler(cfg)
	for _, path := range []string{"/metrics", "/healthz", "/readyz"} {
		// Monitoring reaches the operations listener by any address.
		if got := do(ops, "GET", "http://10.0.0.7:9090"+path, nil, ""); got.code != http.StatusOK {
			t.Errorf("operations listener %s = %d, want 200", path, got.code)
		}
	}
	if got := do(ops, "POST", "/mcp", nil, "{}"); got.code != http.StatusNotFound && got.code != http.StatusMethodNotAllowed {
		t.Errorf("the operations listener serves /mcp: %d", got.code)
	}
}

// TestCORS: a browser-based client on an allowed origin can preflight
// without a credential and read the challenge; another origin cannot.
func TestCORS(t *testing.T) {
	t.Parallel()
	pub, _ := url.Parse("http://127.0.0.1:3000")
	h, err := httpserver.New(httpserver.Config{PublicURL: pub, ListenAddr: "127.0.0.1:3000",
		AllowedOrigins: []string{"https://app.example"},
		MCP:            named("mcp"), REST: named("rest"), Authenticate: onlyKey})
	if err != nil {
		t.Fatal(err)
	}
	send := func(method, origin string, header map[string]string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, "http://127.0.0.1:3000/mcp", nil)
		req.Header.Set("Origin", origin)
		for k, v := range header {
			req.Header.Set(k, v)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	pre := send(http.MethodOptions, "https://app.example", map[string]string{
		"Access-Control-Request-Method":  "POST",
		"Access-Control-Request-Headers": "content-type, authorization, mcp-protocol-version, mcp-param-slug, x-evil",
	})
	if pre.Code != http.StatusNoContent || pre.Header().Get("Access-Control-Allow-Origin") != "https://app.example" {
		t.Fatalf("preflight from an allowed origin: %d %v; want 204 allowing it (no credential needed)", pre.Code, pre.Header())
	}
	if got := pre.Header().Get("Access-Control-Allow-Headers"); got != "content-type, authorization, mcp-protocol-version, mcp-param-slug" {
		t.Errorf("Access-Control-Allow-Headers = %q; want the MCP headers asked for, not x-evil", got)
	}
	if pre.Header().Get("Access-Control-Allow-Credentials") != "" {
		t.Errorf("credentialed CORS allowed")
	}
	// The real request: a 401 whose challenge the page may read.
	res := send(http.MethodPost, "https://app.example", nil)
	if res.Code != http.StatusUnauthorized || res.Header().Get("Access-Control-Allow-Origin") != "https://app.example" ||
		!strings.Contains(res.Header().Get("Access-Control-Expose-Headers"), "WWW-Authenticate") {
		t.Errorf("request from an allowed origin: %d %v; want 401 with the challenge exposed", res.Code, res.Header())
	}
	for _, origin := range []string{"https://evil.example", "null"} {
		if rec := send(http.MethodOptions, origin, map[string]string{"Access-Control-Request-Method": "POST"}); rec.Code != http.StatusForbidden || rec.Header().Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("preflight from %s: %d %v; want 403 without CORS headers", origin, rec.Code, rec.Header())
		}
	}
}
