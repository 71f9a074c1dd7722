package oauthclient

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// machineOnlyServer is a resource and an authorization server that does
// client credentials alone: its metadata has no authorization endpoint and
// no PKCE methods, as servers for machine clients (and Entra ID, for PKCE)
// publish it.
func machineOnlyServer(t *testing.T, tokens *atomic.Int32) (mcpURL string) {
	t.Helper()
	mux := http.NewServeMux()
	ts := httptest.NewServer(mux)
	t.Cleanup(ts.Close)
	writeJSONTo := func(w http.ResponseWriter, v any) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(v)
	}
	mux.HandleFunc("GET /.well-known/oauth-protected-resource/mcp", func(w http.ResponseWriter, r *http.Request) {
		writeJSONTo(w, map[string]any{"resource": ts.URL + "/mcp", "authorization_servers": []string{ts.URL}})
	})
	mux.HandleFunc("GET /.well-known/oauth-authorization-server", func(w http.ResponseWriter, r *http.Request) {
		writeJSONTo(w, map[string]any{"issuer": ts.URL, "token_endpoint": ts.URL + "/token",
			"grant_types_supported": []string{"client_credentials"}, "token_endpoint_auth_methods_supported": []string{"client_secret_basic"}})
	})
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		id, secret, ok := r.BasicAuth()
		if !ok || id != "job" || secret != "s3cret" || r.FormValue("grant_type") != "client_credentials" || r.FormValue("resource") != ts.URL+"/mcp" {
			w.WriteHeader(http.StatusUnauthorized)
			writeJSONTo(w, map[string]any{"error": "invalid_client"})
			return
		}
		tokens.Add(1)
		writeJSONTo(w, map[string]any{"access_token": "machine-token", "token_type": "Bearer", "expires_in": 3600})
	})
	return ts.URL + "/mcp"
}

func TestClientCredentialsWithoutABrowserFlow(t *testing.T) {
	var tokens atomic.Int32
	mcpURL := machineOnlyServer(t, &tokens)
	c, err := New(Options{Grant: GrantClientCredentials, ClientID: "job", ClientSecret: "s3cret",
		OpenBrowser: func(context.Context, string) error { t.Error("a browser was opened"); return nil }})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	retry, err := c.Authorize(ctx, mcpURL, Challenge{Status: http.StatusUnauthorized, ResourceMetadata: strings.TrimSuffix(mcpURL, "/mcp") + "/.well-known/oauth-protected-resource/mcp"}, "")
	if err != nil || !retry {
		t.Fatalf("Authorize: retry %v, %v", retry, err)
	}
	if tok, err := c.AccessToken(ctx, mcpURL); err != nil || tok != "machine-token" || tokens.Load() != 1 {
		t.Errorf("AccessToken = %q, %v after %d token requests; want the machine token after one", tok, err, tokens.Load())
	}

	// The code flow still insists on what it needs.
	person, err := New(Options{ClientID: "app", OpenBrowser: func(context.Context, string) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := person.Authorize(ctx, mcpURL, Challenge{Status: http.StatusUnauthorized}, ""); err == nil || !strings.Contains(err.Error(), "PKCE") {
		t.Errorf("the code flow against a server without PKCE: %v, want a refusal naming PKCE", err)
	}
}
