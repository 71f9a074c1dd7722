package oidclogin

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/2coffee/mcp-2coffee/internal/extauth/idptest"
)

const redirect = "http://127.0.0.1:3000/oauth/login/callback"

func newProvider(t *testing.T, p *idptest.Provider, cfg Config) *Provider {
	t.Helper()
	cfg.Issuer, cfg.ClientID, cfg.ClientSecret, cfg.RedirectURL = p.URL, idptest.LoginClientID, idptest.LoginClientSecret, redirect
	op, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return op
}

// signIn runs the browser's part: follow the authorization URL to the
// provider and return the callback's query.
func signIn(t *testing.T, authURL string) url.Values {
	t.Helper()
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	if !strings.HasPrefix(loc, redirect+"?") {
		t.Fatalf("the provider answered %d, Location %q", resp.StatusCode, loc)
	}
	u, _ := url.Parse(loc)
	return u.Query()
}

func TestSignIn(t *testing.T) {
	p := idptest.New(t)
	op := newProvider(t, p, Config{AllowEmailDomains: []string{"@Example.com"}})
	authURL, pend := op.Start(false, -1)
	q := signIn(t, authURL)
	asked := p.LastAuthorize()
	if asked.Get("code_challenge_method") != "S256" || asked.Get("nonce") != pend.Nonce || asked.Get("state") != pend.State ||
		asked.Get("scope") != "openid email profile" || asked.Get("redirect_uri") != redirect {
		t.Errorf("the authorization request: %v", asked)
	}
	if !pend.StateMatches(q.Get("state")) || pend.StateMatches("other") || (Pending{}).StateMatches("") {
		t.Error("StateMatches")
	}
	id, err := op.Finish(context.Background(), pend, q.Get("code"))
	if err != nil {
		t.Fatal(err)
	}
	if id.Issuer != p.URL || id.Subject != "248289761001" || id.Email != "ann@example.com" || !id.EmailVerified || id.PreferredUsername != "ann" {
		t.Errorf("identity %+v", id)
	}
	if !op.Allowed(id) {
		t.Error("ann@example.com is not allowed by the example.com domain")
	}
	// The code is spent.
	if _, err := op.Finish(context.Background(), pend, q.Get("code")); err == nil {
		t.Error("a code was redeemed twice")
	}
}

func TestSignInRefused(t *testing.T) {
	p := idptest.New(t)
	op := newProvider(t, p, Config{AllowAnyone: true})
	ctx := context.Background()

	// Another sign-in's verifier: the provider refuses the code.
	authURL, pend := op.Start(false, -1)
	q := signIn(t, authURL)
	_, other := op.Start(false, -1)
	if _, err := op.Finish(ctx, Pending{State: pend.State, Nonce: pend.Nonce, Verifier: other.Verifier}, q.Get("code")); err == nil {
		t.Error("a code was redeemed with another sign-in's PKCE verifier")
	}
	// An ID token with another nonce (a replay).
	p.SignInAs(idptest.Person{Subject: "x", Nonce: "someone-elses"})
	authURL, pend = op.Start(false, -1)
	q = signIn(t, authURL)
	if _, err := op.Finish(ctx, pend, q.Get("code")); err == nil || !strings.Contains(err.Error(), "nonce") {
		t.Errorf("an ID token with a foreign nonce: %v", err)
	}
}

func TestAllowed(t *testing.T) {
	p := idptest.New(t)
	op := newProvider(t, p, Config{AllowEmailDomains: []string{"example.com"}, AllowSubjects: []string{"s-1"}})
	for _, tc := range []struct {
		id   Identity
		want bool
	}{
		{Identity{Subject: "a", Email: "ann@example.com", EmailVerified: true}, true},
		{Identity{Subject: "a", Email: "ANN@EXAMPLE.COM", EmailVerified: true}, true},
		{Identity{Subject: "a", Email: "ann@example.com", EmailVerified: false}, false},
		{Identity{Subject: "a", Email: "ann@sub.example.com", EmailVerified: true}, false},
		{Identity{Subject: "a", Email: "ann@example.com.evil.test", EmailVerified: true}, false},
		{Identity{Subject: "a", Email: "example.com", EmailVerified: true}, false},
		// The Kelvin sign folds to k under strings.ToLower; a domain
		// compared in ASCII only is not example.com.
		{Identity{Subject: "a", Email: "ann@example.\u212Aom", EmailVerified: true}, false},
		{Identity{Subject: "s-1"}, true},
		{Identity{Subject: "s-2"}, false},
	} {
		if got := op.Allowed(&tc.id); got != tc.want {
			t.Errorf("Allowed(%+v) = %v, want %v", tc.id, got, tc.want)
		}
	}
	if _, err := New(context.Background(), Config{Issuer: p.URL, ClientID: "c", ClientSecret: "s", RedirectURL: redirect}); err == nil {
		t.Error("a provider with no allow-list was accepted")
	}
	// A domain that could never match is refused, not ignored.
	for _, d := range []string{"*.example.com", "example.com.", "exämple.com", "ex ample.com", "a@b.com"} {
		if _, err := New(context.Background(), Config{Issuer: p.URL, ClientID: "c", ClientSecret: "s", RedirectURL: redirect, AllowEmailDomains: []string{d}}); err == nil {
			t.Errorf("allowed email domain %q was accepted", d)
		}
	}
}

// TestStartAsksWhatTheClientAsked: prompt=login and max_age go to the
// provider, so a client's demand for a fresh sign-in is not met by the
// provider's old session.
func TestStartAsksWhatTheClientAsked(t *testing.T) {
	p := idptest.New(t)
	op := newProvider(t, p, Config{AllowAnyone: true})
	for _, tc := range []struct {
		reauth          bool
		maxAge          time.Duration
		prompt, maxAgeQ string
	}{
		{false, -1, "", ""},
		{true, -1, "login", ""},
		{false, 0, "", "0"},
		{true, 90 * time.Second, "login", "90"},
	} {
		authURL, _ := op.Start(tc.reauth, tc.maxAge)
		u, _ := url.Parse(authURL)
		q := u.Query()
		if q.Get("prompt") != tc.prompt || q.Get("max_age") != tc.maxAgeQ || q.Has("max_age") != (tc.maxAgeQ != "") {
			t.Errorf("Start(%v, %v): prompt %q max_age %q", tc.reauth, tc.maxAge, q.Get("prompt"), q.Get("max_age"))
		}
	}
}

// TestFinishRefusesAnotherAuthorizedParty: an ID token whose azp is
// another client is not ours, even with our client as its one audience.
func TestFinishRefusesAnotherAuthorizedParty(t *testing.T) {
	p := idptest.New(t)
	op := newProvider(t, p, Config{AllowAnyone: true})
	p.SignInAs(idptest.Person{Subject: "x", Azp: "someone-else"})
	authURL, pend := op.Start(false, -1)
	q := signIn(t, authURL)
	if _, err := op.Finish(context.Background(), pend, q.Get("code")); err == nil || !strings.Contains(err.Error(), "azp") {
		t.Errorf("an ID token for another authorized party: %v", err)
	}
	p.SignInAs(idptest.Person{Subject: "x", Azp: idptest.LoginClientID})
	authURL, pend = op.Start(false, -1)
	q = signIn(t, authURL)
	if _, err := op.Finish(context.Background(), pend, q.Get("code")); err != nil {
		t.Errorf("an ID token whose azp is this client: %v", err)
	}
}
