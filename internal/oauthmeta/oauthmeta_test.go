package oauthmeta

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestURLs(t *testing.T) {
	for _, tc := range []struct {
		issuer string
		want   []string
	}{
		{"https://as.example.com", []string{
			"https://as.example.com/.well-known/oauth-authorization-server",
			"https://as.example.com/.well-known/openid-configuration",
		}},
		{"https://as.example.com/", []string{
			"https://as.example.com/.well-known/oauth-authorization-server",
			"https://as.example.com/.well-known/openid-configuration",
		}},
		{"https://as.example.com/tenant1", []string{
			"https://as.example.com/.well-known/oauth-authorization-server/tenant1",
			"https://as.example.com/.well-known/openid-configuration/tenant1",
			"https://as.example.com/tenant1/.well-known/openid-configuration",
		}},
	} {
		got, err := URLs(tc.issuer)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("URLs(%q) (-want +got):\n%s", tc.issuer, diff)
		}
	}
}

func TestCheckEndpoint(t *testing.T) {
	for _, tc := range []struct {
		url string
		ok  bool
	}{
		{"https://as.example.com/token", true},
		{"http://127.0.0.1:8080/token", true},
		{"http://localhost/token", true},
		{"http://[::1]:9/token", true},
		{"http://as.example.com/token", false},
		{"javascript:alert(1)", false},
		{"/relative", false},
	} {
		if err := CheckEndpoint("x", tc.url); (err == nil) != tc.ok {
			t.Errorf("CheckEndpoint(%q) = %v, want ok=%v", tc.url, err, tc.ok)
		}
	}
}

func TestDiscover(t *testing.T) {
	var issuer string
	mux := http.NewServeMux()
	// Only the OpenID Connect document, as Google and Entra ID serve.
	mux.HandleFunc("GET /tenant/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"issuer":%q,"token_endpoint":%q,"jwks_uri":%q}`, issuer, issuer+"/token", issuer+"/jwks")
	})
	mux.HandleFunc("GET /.well-known/oauth-authorization-server/other", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"issuer":"https://evil.example","token_endpoint":"https://evil.example/token"}`)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	issuer = srv.URL + "/tenant"
	ctx := context.Background()

	m, from, err := Discover(ctx, srv.Client(), issuer, false)
	if err != nil {
		t.Fatal(err)
	}
	if m.JWKSURI != issuer+"/jwks" || from != issuer+"/.well-known/openid-configuration" {
		t.Errorf("Discover = jwks %q from %q", m.JWKSURI, from)
	}
	if _, _, err := Discover(ctx, srv.Client(), srv.URL+"/other", false); err == nil || !strings.Contains(err.Error(), "names issuer") {
		t.Errorf("a document naming another issuer: err = %v, want a refusal", err)
	}
	if _, _, err := Discover(ctx, srv.Client(), srv.URL+"/other", true); err != nil {
		t.Errorf("skipIssuerCheck: %v", err)
	}
	if _, _, err := Discover(ctx, srv.Client(), srv.URL+"/none", false); !errors.Is(err, ErrNotFound) {
		t.Errorf("no document: err = %v, want ErrNotFound", err)
	}
	if _, _, err := Discover(ctx, srv.Client(), "http://as.example.com", false); err == nil {
		t.Error("a plain http issuer off loopback was accepted")
	}
}
