package oauthtest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/2coffee/mcp-2coffee/internal/testkit"
)

// RSOptions shapes a protected resource.
type RSOptions struct {
	// MCPPath is the protected endpoint's path (default "/mcp").
	MCPPath string
	// PRMAt selects where the protected resource metadata is served:
	// "path" (default, /.well-known/oauth-protected-resource/mcp), "root",
	// "none", or any other path.
	PRMAt string
	// NoHeader leaves resource_metadata out of the challenge.
	NoHeader bool
	// Resource overrides the metadata's resource value.
	Resource string
	// ScopesSupported goes into the metadata.
	ScopesSupported []string
	// ChallengeScope goes into the 401 challenge's scope.
	ChallengeScope string
	// Require returns the scopes a request needs (given its JSON-RPC
	// method); nil means any valid token.
	Require func(method string) []string
	// AlwaysForbid answers every authenticated request 403
	// insufficient_scope with this scope (retry-limit tests).
	AlwaysForbid string
	// RejectAll refuses every token as invalid.
	RejectAll bool
	// APIKeys are the X-API-KEY values accepted, with their scopes. Like
	// mcp-2coffee's server, a request with both an X-API-KEY and an
	// Authorization header is refused with 400.
	APIKeys map[string][]string
	// MountAS serves the authorization server's paths on the resource
	// server (the 2025-03-26 layout); set the AuthServer's Server to the
	// resource server's afterwards.
	MountAS bool
}

// ResourceServer wraps an MCP handler with bearer authentication.
type ResourceServer struct {
	Server *httptest.Server
	AS     *AuthServer
	opts   RSOptions
	next   http.Handler

	mu sync.Mutex
	// Requests records (method, JSON-RPC method, status) of /mcp requests.
	Requests []RSRequest
	// WellKnown records the paths of other GET requests, in order.
	WellKnown []string
}

// RSRequest is one request the resource server answered.
type RSRequest struct {
	HTTPMethod string
	RPCMethod  string
	Status     int
	Token      string
	// APIKey is the X-API-KEY the request carried.
	APIKey string
	Body   string
}

// NewResourceServer starts a protected resource on 127.0.0.1 in front of
// next, trusting as.
func NewResourceServer(t testing.TB, as *AuthServer, next http.Handler, opts RSOptions) *ResourceServer {
	if opts.MCPPath == "" {
		opts.MCPPath = "/mcp"
	}
	rs := &ResourceServer{AS: as, opts: opts, next: next}
	rs.Server = testkit.Serve(t, rs)
	return rs
}

// URL is the protected MCP endpoint.
func (rs *ResourceServer) URL() string { return rs.Server.URL + rs.opts.MCPPath }

func (rs *ResourceServer) prmPath() string {
	switch rs.opts.PRMAt {
	case "", "path":
		return "/.well-known/oauth-protected-resource" + rs.opts.MCPPath
	case "root":
		return "/.well-known/oauth-protected-resource"
	case "none":
		return ""
	default:
		return rs.opts.PRMAt
	}
}

// ServeHTTP serves the protected resource metadata and guards the MCP
// endpoint.
func (rs *ResourceServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != rs.opts.MCPPath {
		rs.mu.Lock()
		rs.WellKnown = append(rs.WellKnown, r.URL.Path)
		rs.mu.Unlock()
	}
	if p := rs.prmPath(); p != "" && r.URL.Path == p {
		res := rs.URL()
		if rs.opts.PRMAt == "root" {
			res = rs.Server.URL
		}
		if rs.opts.Resource != "" {
			res = rs.opts.Resource
		}
		m := map[string]any{"resource": res, "authorization_servers": []string{rs.AS.Issuer()}}
		if rs.opts.ScopesSupported != nil {
			m["scopes_supported"] = rs.opts.ScopesSupported
		}
		writeJSON(w, http.StatusOK, m)
		return
	}
	if r.URL.Path != rs.opts.MCPPath {
		if rs.opts.MountAS {
			rs.AS.ServeHTTP(w, r)
			return
		}
		http.NotFound(w, r)
		return
	}
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	r.Body = io.NopCloser(strings.NewReader(string(body)))
	var rpc struct {
		Method string `json:"method"`
	}
	_ = json.Unmarshal(body, &rpc)
	rec := RSRequest{HTTPMethod: r.Method, RPCMethod: rpc.Method, Body: string(body)}
	status := rs.check(w, r, rpc.Method, &rec)
	rec.Status = status
	rs.mu.Lock()
	rs.Requests = append(rs.Requests, rec)
	rs.mu.Unlock()
	if status != 0 {
		return
	}
	rs.next.ServeHTTP(w, r)
}

// check authenticates; it writes the refusal and returns its status, or
// returns 0 to let the request through.
func (rs *ResourceServer) check(w http.ResponseWriter, r *http.Request, method string, rec *RSRequest) int {
	challenge := func(status int, errCode, scope string) int {
		var parts []string
		if errCode != "" {
			parts = append(parts, fmt.Sprintf("error=%q", errCode))
		}
		if scope != "" {
			parts = append(parts, fmt.Sprintf("scope=%q", scope))
		}
		if !rs.opts.NoHeader && rs.prmPath() != "" {
			parts = append(parts, fmt.Sprintf("resource_metadata=%q", rs.Server.URL+rs.prmPath()))
		}
		h := "Bearer"
		if len(parts) > 0 {
			h += " " + strings.Join(parts, ", ")
		}
		w.Header().Set("WWW-Authenticate", h)
		writeJSON(w, status, map[string]string{"error": errCode})
		return status
	}
	auth := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(auth, "Bearer ")
	rec.Token = tok
	key := r.Header.Get("X-Api-Key")
	rec.APIKey = key
	var scopes []string
	switch {
	case key != "" && auth != "":
		return challenge(http.StatusBadRequest, "invalid_request", rs.opts.ChallengeScope)
	case key != "":
		var known bool
		if scopes, known = rs.opts.APIKeys[key]; !known {
			return challenge(http.StatusUnauthorized, "invalid_token", rs.opts.ChallengeScope)
		}
	case !ok || tok == "":
		return challenge(http.StatusUnauthorized, "", rs.opts.ChallengeScope)
	default:
		resource := rs.URL()
		if rs.opts.Resource != "" || rs.opts.PRMAt == "root" || rs.opts.PRMAt == "none" {
			resource = "" // the resource the client chose is checked by the tests
		}
		var valid bool
		scopes, valid = rs.AS.Verify(tok, resource)
		if !valid || rs.opts.RejectAll {
			return challenge(http.StatusUnauthorized, "invalid_token", rs.opts.ChallengeScope)
		}
	}
	if rs.opts.AlwaysForbid != "" {
		return challenge(http.StatusForbidden, "insufficient_scope", rs.opts.AlwaysForbid)
	}
	if rs.opts.Require != nil {
		need := rs.opts.Require(method)
		for _, s := range need {
			if !slices.Contains(scopes, s) {
				return challenge(http.StatusForbidden, "insufficient_scope", strings.Join(need, " "))
			}
		}
	}
	return 0
}

// Snapshot returns a copy of the recorded requests.
func (rs *ResourceServer) Snapshot() []RSRequest {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return slices.Clone(rs.Requests)
}

// WellKnownPaths returns the non-MCP paths requested so far.
func (rs *ResourceServer) WellKnownPaths() []string {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return slices.Clone(rs.WellKnown)
}
