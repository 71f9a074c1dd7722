package oauthclient

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/2coffee/mcp-2coffee/internal/testkit"
)

// TestResourceMustBeTheServer pins RFC 9728 §3.3 on real discovery: the
// metadata's resource must be the URL the client uses, give or take what
// RFC 3986 makes equivalent; a parent path or the bare origin is another
// resource. The one document that may name the origin is the one at the
// root well-known URL, found without the server's help.
func TestResourceMustBeTheServer(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		mcpPath   string // the server URL's path
		at        string // where the metadata is served
		challenge bool   // the challenge names that URL
		resource  string // "{origin}" is replaced by the server's origin
		wantErr   bool
	}{
		{name: "exact match", mcpPath: "/mcp", at: "/.well-known/oauth-protected-resource/mcp", resource: "{origin}/mcp"},
		{name: "exact match from the challenge", mcpPath: "/mcp", at: "/meta.json", challenge: true, resource: "{origin}/mcp"},
		{name: "scheme case", mcpPath: "/mcp", at: "/.well-known/oauth-protected-resource/mcp", resource: "HTTP://{host}/mcp"},
		{name: "parent path refused", mcpPath: "/blog/mcp", at: "/.well-known/oauth-protected-resource/blog/mcp", resource: "{origin}/blog", wantErr: true},
		{name: "parent path from the challenge refused", mcpPath: "/blog/mcp", at: "/meta.json", challenge: true, resource: "{origin}/blog", wantErr: true},
		{name: "bare origin refused", mcpPath: "/mcp", at: "/.well-known/oauth-protected-resource/mcp", resource: "{origin}", wantErr: true},
		{name: "bare origin with a slash refused", mcpPath: "/mcp", at: "/.well-known/oauth-protected-resource/mcp", resource: "{origin}/", wantErr: true},
		{name: "bare origin from the challenge refused", mcpPath: "/mcp", at: "/.well-known/oauth-protected-resource", challenge: true, resource: "{origin}", wantErr: true},
		{name: "trailing slash the server URL lacks refused", mcpPath: "/mcp", at: "/.well-known/oauth-protected-resource/mcp", resource: "{origin}/mcp/", wantErr: true},
		{name: "longer path refused", mcpPath: "/mcp", at: "/.well-known/oauth-protected-resource/mcp", resource: "{origin}/mcp/v2", wantErr: true},
		{name: "server at the root, resource with a slash", mcpPath: "", at: "/.well-known/oauth-protected-resource", resource: "{origin}/"},
		{name: "server at the root, resource without one", mcpPath: "", at: "/.well-known/oauth-protected-resource", resource: "{origin}"},
		{name: "root form naming the server", mcpPath: "/mcp", at: "/.well-known/oauth-protected-resource", resource: "{origin}/mcp"},
		{name: "root form naming the origin (RFC 9728 §3.3)", mcpPath: "/mcp", at: "/.well-known/oauth-protected-resource", resource: "{origin}"},
		{name: "root form naming a parent path refused", mcpPath: "/blog/mcp", at: "/.well-known/oauth-protected-resource", resource: "{origin}/blog", wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var origin string
			srv := testkit.Serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != tc.at {
					http.NotFound(w, r)
					return
				}
				res := strings.NewReplacer("{origin}", origin, "{host}", strings.TrimPrefix(origin, "http://")).Replace(tc.resource)
				w.Header().Set("Content-Type", "application/json")
				json.NewEncoder(w).Encode(map[string]any{"resource": res, "authorization_servers": []string{origin}})
			}))
			origin = srv.URL
			c, err := New(Options{})
			if err != nil {
				t.Fatal(err)
			}
			server := origin + tc.mcpPath
			var fromChallenge string
			if tc.challenge {
				fromChallenge = origin + tc.at
			}
			info, err := c.discoverResource(context.Background(), server, fromChallenge)
			if tc.wantErr {
				if !errors.Is(err, errResourceMismatch) {
					t.Fatalf("discovery = %+v, %v; want a resource mismatch", info, err)
				}
				// The error names both URLs, so the user can see which is wrong.
				want := strings.NewReplacer("{origin}", origin).Replace(tc.resource)
				if !strings.Contains(err.Error(), `"`+want+`"`) || !strings.Contains(err.Error(), server) {
					t.Errorf("error %q does not name the resource %q and the server %s", err, want, server)
				}
				return
			}
			if err != nil {
				t.Fatalf("discovery: %v", err)
			}
			if info.legacy {
				t.Fatalf("discovery fell back to the 2025-03-26 rules: %+v", info)
			}
			// The resource indicator sent is the metadata's, byte for byte.
			if want := strings.NewReplacer("{origin}", origin, "{host}", strings.TrimPrefix(origin, "http://")).Replace(tc.resource); info.resource != want {
				t.Errorf("resource = %q, want %q (as published)", info.resource, want)
			}
		})
	}
}
