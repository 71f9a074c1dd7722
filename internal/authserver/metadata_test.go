package authserver_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/2coffee/mcp-2coffee/internal/authserver"
)

func getJSON(t *testing.T, u string) (*http.Response, map[string]any) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatalf("GET %s: %v in %s", u, err, data)
	}
	return resp, m
}

func wantMetadata(issuer string, cimd bool) map[string]any {
	all := []any{"none", "client_secret_basic", "client_secret_post"}
	m := map[string]any{
		"issuer":                                         issuer,
		"authorization_endpoint":                         issuer + "/oauth/authorize",
		"token_endpoint":                                 issuer + "/oauth/token",
		"registration_endpoint":                          issuer + "/oauth/register",
		"revocation_endpoint":                            issuer + "/oauth/revoke",
		"introspection_endpoint":                         issuer + "/oauth/introspect",
		"scopes_supported":                               []any{"articles:read", "articles:write"},
		"response_types_supported":                       []any{"code"},
		"response_modes_supported":                       []any{"query"},
		"grant_types_supported":                          []any{"authorization_code", "refresh_token", "client_credentials"},
		"token_endpoint_auth_methods_supported":          all,
		"revocation_endpoint_auth_methods_supported":     all,
		"introspection_endpoint_auth_methods_supported":  []any{"client_secret_basic", "client_secret_post"},
		"code_challenge_methods_supported":               []any{"S256"},
		"authorization_response_iss_parameter_supported": true,
	}
	if cimd {
		m["client_id_metadata_document_supported"] = true
	}
	return m
}

func TestMetadata(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	resp, got := getJSON(t, e.issuer+"/.well-known/oauth-authorization-server")
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	if diff := cmp.Diff(wantMetadata(e.issuer, false), got); diff != "" {
		t.Errorf("metadata (-want +got):\n%s", diff)
	}
	if e.srv.Issuer() != e.ts.URL {
		t.Errorf("Issuer() = %q, want %q", e.srv.Issuer(), e.ts.URL)
	}
	if got := e.srv.MetadataPath(); got != "/.well-known/oauth-authorization-server" {
		t.Errorf("MetadataPath() = %q", got)
	}
}

func TestMetadataPathIssuer(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "/blog", func(c *authserver.Config) { c.MetadataFetcher = fetcherFunc(nil) })
	want := wantMetadata(e.issuer, true)
	// RFC 8414 §3: path inserted after the well-known prefix, at the host
	// root; and appended to the issuer, which some clients try.
	for _, u := range []string{
		e.base + "/.well-known/oauth-authorization-server/blog",
		e.issuer + "/.well-known/oauth-authorization-server",
	} {
		resp, got := getJSON(t, u)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %d", u, resp.StatusCode)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("GET %s (-want +got):\n%s", u, diff)
		}
	}
	if got := e.srv.MetadataPath(); got != "/.well-known/oauth-authorization-server/blog" {
		t.Errorf("MetadataPath() = %q", got)
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	t.Parallel()
	mustURL := func(s string) *url.URL { u, _ := url.Parse(s); return u }
	e := newEnv(t, "")
	for _, tc := range []struct {
		name     string
		issuer   string
		resource string
	}{
		{"http on a public host", "http://blog.example.com", "http://blog.example.com/mcp"},
		{"query in the issuer", "https://blog.example.com?x=1", "https://blog.example.com/mcp"},
		{"fragment in the issuer", "https://blog.example.com#x", "https://blog.example.com/mcp"},
		{"relative resource", "https://blog.example.com", "/mcp"},
	} {
		_, err := authserver.New(authserver.Config{Issuer: mustURL(tc.issuer), Resource: tc.resource, Store: e.store})
		if err == nil {
			t.Errorf("%s: New succeeded, want an error", tc.name)
		}
	}
	s, err := authserver.New(authserver.Config{Issuer: mustURL("https://blog.example.com/blog/"), Resource: "https://blog.example.com/blog/mcp", Store: e.store})
	if err != nil {
		t.Fatalf("New with a trailing slash: %v", err)
	}
	if s.Issuer() != "https://blog.example.com/blog" {
		t.Errorf("Issuer() = %q, want the trailing slash dropped", s.Issuer())
	}
}
