package main

import (
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/oauthex"

	"github.com/2coffee/mcp-2coffee/internal/extauth/idptest"
)

// startFederated runs serve with sign-in at p, admitting example.com.
func startFederated(t *testing.T, p *idptest.Provider, extra ...string) *liveServer {
	t.Helper()
	secret := filepath.Join(t.TempDir(), "login-secret")
	if err := os.WriteFile(secret, []byte(idptest.LoginClientSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return startServe(t, append([]string{"--login-provider", "oidc", "--login-issuer", p.URL, "--login-name", "Example ID",
		"--login-client-id", idptest.LoginClientID, "--login-client-secret-file", secret,
		"--login-allow-email-domain", "example.com"}, extra...)...)
}

func dcrHandler(t *testing.T, browser *signIn, name string) auth.OAuthHandler {
	t.Helper()
	h, err := auth.NewAuthorizationCodeHandler(&auth.AuthorizationCodeHandlerConfig{
		DynamicClientRegistrationConfig: &auth.DynamicClientRegistrationConfig{Metadata: &oauthex.ClientRegistrationMetadata{
			RedirectURIs: []string{callbackURL}, ClientName: name,
			GrantTypes: []string{"authorization_code", "refresh_token"}, TokenEndpointAuthMethod: "none",
		}},
		RedirectURL:              callbackURL,
		AuthorizationCodeFetcher: browser.fetcher(),
		Client:                   http.DefaultClient,
	})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestServeFederatedSignIn: the go-sdk client completes our OAuth flow
// (discovery, DCR, PKCE, consent, tokens) while the person signs in at
// the identity provider. The person becomes a local user found by issuer
// and subject, the same one next time; a provider account named like an
// existing user gets a name of its own, never that user.
func TestServeFederatedSignIn(t *testing.T) {
	t.Parallel()
	p := idptest.New(t)
	s := startFederated(t, p, "--login-allow-subject", "s-impostor")

	browser := newSignIn(t, "", "")
	browser.upstream = true
	cs := connectOAuth(t, s.mcpURL, dcrHandler(t, browser, "federated e2e"))
	if got := searchSlugs(t, cs, "semaphore"); len(got) != 2 {
		t.Errorf("search after a federated sign-in = %v", got)
	}
	if n := p.Authorizations(); n != 1 {
		t.Errorf("the provider saw %d sign-ins, want 1", n)
	}
	users := s.cli(t, "users", "list")
	if !strings.Contains(users, "ann@example.com ") || !strings.Contains(users, p.URL+" (sub 248289761001)") {
		t.Errorf("users list does not show the federated user:\n%s", users)
	}
	if grants := s.cli(t, "grants", "list"); !strings.Contains(grants, "ann") || !strings.Contains(grants, "federated e2e") {
		t.Errorf("grants list does not show ann's approval:\n%s", grants)
	}

	// A new browser, the same person: the same user, approved already.
	again := newSignIn(t, "", "")
	again.upstream = true
	cs2 := connectOAuth(t, s.mcpURL, dcrHandler(t, again, "federated e2e, again"))
	if got := searchSlugs(t, cs2, "semaphore"); len(got) != 2 {
		t.Errorf("second sign-in: %v", got)
	}
	if users := s.cli(t, "users", "list"); strings.Count(users, p.URL) != 1 {
		t.Errorf("the same subject made a second user:\n%s", users)
	}

	// A provider account calling itself "admin" is not the admin.
	p.SignInAs(idptest.Person{Subject: "s-impostor", PreferredUsername: "admin"})
	imp := newSignIn(t, "", "")
	imp.upstream = true
	cs3 := connectOAuth(t, s.mcpURL, dcrHandler(t, imp, "impostor"))
	searchSlugs(t, cs3, "semaphore")
	users = s.cli(t, "users", "list")
	if !strings.Contains(users, "admin-2 ") || !strings.Contains(users, "(sub s-impostor)") {
		t.Errorf("the provider's admin did not get a name of its own:\n%s", users)
	}
	if grants := s.cli(t, "grants", "list"); strings.Contains(grants, "admin ") {
		t.Errorf("an approval was recorded for the real admin:\n%s", grants)
	}
	// The federated user has no password here.
	cmd := selfCommand(t, "users", "passwd", "ann@example.com", "--database", s.db)
	cmd.Stdin = strings.NewReader("a long enough password\n")
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "signs in at") {
		t.Errorf("users passwd of a federated user: %v, %s", err, out)
	}
	for _, secret := range []string{idptest.LoginClientSecret} {
		if strings.Contains(s.logs(), secret) {
			t.Error("the serve log holds the login client secret")
		}
	}
}

// TestServeFederatedSignInWithoutIss: the provider's metadata promises
// iss in its redirect back (RFC 9207), so an answer without it, which may
// be another provider's, signs nobody in.
func TestServeFederatedSignInWithoutIss(t *testing.T) {
	t.Parallel()
	p := idptest.New(t)
	s := startFederated(t, p)
	reg := registerPublicClient(t, s.base, callbackURL)
	p.SignInAs(idptest.Person{Subject: "248289761001", Email: "ann@example.com", EmailVerified: true, OmitIss: true})
	b := newSignIn(t, "", "")
	b.upstream = true
	loc, err := b.walk(authorizeURL(s, reg))
	if err == nil || !strings.Contains(err.Error(), "or does not say so") {
		t.Errorf("an answer without iss: redirect %q, %v", loc, err)
	}
	if users := s.cli(t, "users", "list"); strings.Contains(users, p.URL) {
		t.Errorf("an answer without iss made a user:\n%s", users)
	}
}

// TestServeFederatedSignInRefusals: someone outside the allow-list, a
// refusal at the provider, and a callback this browser did not start all
// end on a page that says so, and no code reaches the client.
func TestServeFederatedSignInRefusals(t *testing.T) {
	t.Parallel()
	p := idptest.New(t)
	s := startFederated(t, p)
	reg := registerPublicClient(t, s.base, callbackURL)
	authURL := authorizeURL(s, reg)

	for _, tc := range []struct {
		name   string
		person idptest.Person
		status int
		says   string
	}{
		{"another domain", idptest.Person{Subject: "o", Email: "eve@evil.test", EmailVerified: true}, http.StatusForbidden, "may not sign in here"},
		{"an unverified email", idptest.Person{Subject: "u", Email: "eve@example.com"}, http.StatusForbidden, "may not sign in here"},
		{"denied at the provider", idptest.Person{Deny: true}, http.StatusForbidden, "access was denied there"},
	} {
		p.SignInAs(tc.person)
		b := newSignIn(t, "", "")
		b.upstream = true
		loc, err := b.walk(authURL)
		if err == nil {
			t.Errorf("%s: the flow ended in a redirect to %s", tc.name, loc)
			continue
		}
		if !strings.Contains(err.Error(), tc.says) {
			t.Errorf("%s: %v, want a page saying %q", tc.name, err, tc.says)
		}
	}
	if users := s.cli(t, "users", "list"); strings.Contains(users, p.URL) {
		t.Errorf("a refused sign-in made a user:\n%s", users)
	}
	if !strings.Contains(s.logs(), "reason=upstream_not_allowed") {
		t.Error("the refusal is not logged with its reason")
	}

	// A callback that no sign-in in this browser started (a login CSRF).
	p.SignInAs(idptest.Person{Subject: "248289761001", Email: "ann@example.com", EmailVerified: true})
	attacker := newSignIn(t, "", "")
	resp, page, err := attacker.doErr(http.MethodGet, s.base+"/oauth/login", nil)
	if err != nil || resp.StatusCode != http.StatusOK || !strings.Contains(page, "Sign in with Example ID") {
		t.Fatalf("the sign-in page: %v %d\n%s", err, resp.StatusCode, page)
	}
	resp, _, _ = attacker.doErr(http.MethodGet, s.base+"/oauth/login/upstream", nil)
	resp, _, _ = attacker.doErr(http.MethodGet, resp.Header.Get("Location"), nil)
	callback := resp.Header.Get("Location") // the attacker's own code and state
	victim := newSignIn(t, "", "")
	resp, page, _ = victim.doErr(http.MethodGet, callback, nil)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(page, "another browser") || len(victim.client.Jar.Cookies(mustURL(t, s.base))) != 0 {
		t.Errorf("a callback in a browser that did not start it: %d, cookies %v\n%s", resp.StatusCode, victim.client.Jar.Cookies(mustURL(t, s.base)), page)
	}
	// The state must be this sign-in's.
	b := newSignIn(t, "", "")
	resp, _, _ = b.doErr(http.MethodGet, s.base+"/oauth/login/upstream", nil)
	resp, _, _ = b.doErr(http.MethodGet, resp.Header.Get("Location"), nil)
	cb, _ := url.Parse(resp.Header.Get("Location"))
	q := cb.Query()
	q.Set("state", "forged")
	cb.RawQuery = q.Encode()
	resp, page, _ = b.doErr(http.MethodGet, cb.String(), nil)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(page, "does not belong to the sign-in") {
		t.Errorf("a forged state: %d\n%s", resp.StatusCode, page)
	}
}

// TestServePasswordLoginOff: with the provider as the only way in, no
// first-run password is made, the page has no password form, and a
// password post is refused.
func TestServePasswordLoginOff(t *testing.T) {
	t.Parallel()
	p := idptest.New(t)
	s := startFederated(t, p, "--password-login=false")
	if strings.Contains(s.logs(), `created the user "admin"`) {
		t.Errorf("a first-run password user was made with password sign-in off:\n%s", s.logs())
	}
	b := newSignIn(t, "", "")
	_, page, _ := b.doErr(http.MethodGet, s.base+"/oauth/login", nil)
	if strings.Contains(page, `name="password"`) || !strings.Contains(page, "Sign in with Example ID") {
		t.Errorf("the sign-in page:\n%s", page)
	}
	resp, _, _ := b.doErr(http.MethodPost, s.base+"/oauth/login", url.Values{"username": {"admin"}, "password": {"whatever it is"}})
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("a password post with password sign-in off: %d", resp.StatusCode)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--password-login=false"}, "needs --login-provider"},
		{[]string{"--login-issuer", p.URL}, "--login-issuer needs --login-provider oidc"},
		{[]string{"--login-provider", "oidc", "--login-issuer", p.URL, "--login-client-id", "x", "--login-client-secret-file", "/dev/null"}, "say who may sign in"},
		{[]string{"--login-provider", "saml"}, "want oidc"},
	} {
		_, errOut, code := runCLI(t, nil, append([]string{"serve", "--addr", "127.0.0.1:0", "--database", filepath.Join(t.TempDir(), "b.db")}, tc.args...)...)
		if code != 2 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, %q; want 2 and %q", tc.args, code, errOut, tc.want)
		}
	}
}

// registerPublicClient registers a public client by DCR and returns its id.
func registerPublicClient(t *testing.T, base, redirect string) string {
	t.Helper()
	resp, body := postJSON(t, base+"/oauth/register", `{"client_name":"refusals","redirect_uris":["`+redirect+`"],"token_endpoint_auth_method":"none"}`)
	var reg struct {
		ClientID string `json:"client_id"`
	}
	if err := json.Unmarshal([]byte(body), &reg); err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("register: %d %s", resp.StatusCode, body)
	}
	return reg.ClientID
}

// authorizeURL is an authorization request of clientID to s.
func authorizeURL(s *liveServer, clientID string) string {
	return s.base + "/oauth/authorize?" + url.Values{"response_type": {"code"}, "client_id": {clientID}, "redirect_uri": {callbackURL},
		"code_challenge": {"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"}, "code_challenge_method": {"S256"}, "state": {"u"},
		"resource": {s.mcpURL}}.Encode()
}

func mustURL(t *testing.T, s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
