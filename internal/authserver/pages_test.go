package authserver_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/2coffee/mcp-2coffee/internal/authn"
	"github.com/2coffee/mcp-2coffee/internal/authserver"
	"github.com/2coffee/mcp-2coffee/internal/oauth"
)

func TestCSRF(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	id := e.register()
	q := authParams(id, loopbackRedirect, newPKCE())
	tests := []struct {
		name string
		edit func(f url.Values, h http.Header)
	}{
		{"token missing", func(f url.Values, _ http.Header) { f.Del("csrf") }},
		{"token wrong", func(f url.Values, _ http.Header) { f.Set("csrf", strings.Repeat("a", 52)) }},
		{"foreign origin", func(_ url.Values, h http.Header) { h.Set("Origin", "https://evil.example") }},
		{"null origin", func(_ url.Values, h http.Header) { h.Set("Origin", "null") }},
		{"cross-site fetch", func(_ url.Values, h http.Header) { h.Del("Origin"); h.Set("Sec-Fetch-Site", "cross-site") }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := e.browser()
			pg := b.get(e.authorizeURL(q))
			f := pg.hidden(t)
			f.Set("username", userName)
			f.Set("password", password)
			h := http.Header{"Origin": {e.base}}
			tc.edit(f, h)
			got := b.do(http.MethodPost, e.issuer+authserver.PathLogin, f, h)
			if got.StatusCode != http.StatusForbidden {
				t.Fatalf("login post: %d, want 403", got.StatusCode)
			}
			if len(got.Cookies()) != 0 {
				t.Errorf("a refused post set cookies: %v", got.Cookies())
			}
			// Consent posts are checked the same way.
			pg = b.login(b.get(e.authorizeURL(q)), userName, password)
			pg = b.get(b.resolve(pg))
			f = pg.hidden(t)
			f.Set("decision", "approve")
			h = http.Header{"Origin": {e.base}}
			tc.edit(f, h)
			got = b.do(http.MethodPost, e.issuer+authserver.PathAuthorize, f, h)
			if got.StatusCode != http.StatusForbidden || got.Header.Get("Location") != "" {
				t.Errorf("consent post: %d Location %q, want 403 without a redirect", got.StatusCode, got.Header.Get("Location"))
			}
		})
	}
	t.Run("cookie missing", func(t *testing.T) {
		b := e.browser()
		f := b.get(e.authorizeURL(q)).hidden(t)
		f.Set("username", userName)
		f.Set("password", password)
		fresh := e.browser() // no cookies at all
		if got := fresh.post(e.issuer+authserver.PathLogin, f); got.StatusCode != http.StatusForbidden {
			t.Errorf("login without the CSRF cookie: %d, want 403", got.StatusCode)
		}
	})
}

func TestLockout(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	id := e.register()
	q := authParams(id, loopbackRedirect, newPKCE())
	b := e.browser()
	try := func(user, pass string) *page {
		t.Helper()
		return b.login(b.get(e.authorizeURL(q)), user, pass)
	}
	for i := 1; i <= 4; i++ {
		pg := try(userName, "wrong password")
		if pg.StatusCode != http.StatusUnauthorized || !strings.Contains(pg.body, "The user name or password is not right.") {
			t.Fatalf("bad password %d: %d, want 401 with the generic message:\n%s", i, pg.StatusCode, pg.body)
		}
	}
	// The fifth failure locks the name for a minute...
	pg := try(userName, "wrong password")
	if pg.StatusCode != http.StatusTooManyRequests || !strings.Contains(pg.body, "Try again in 1 minute.") {
		t.Fatalf("fifth failure: %d, want 429 saying try again in 1 minute:\n%s", pg.StatusCode, pg.body)
	}
	// ...during which even the right password is refused.
	e.clock.Advance(30 * time.Second)
	if pg := try(userName, password); pg.StatusCode != http.StatusTooManyRequests {
		t.Errorf("right password while locked: %d, want 429", pg.StatusCode)
	}
	// The backoff doubles: the next failure after the lock locks for two
	// minutes.
	e.clock.Advance(31 * time.Second)
	if pg := try(userName, "wrong again"); pg.StatusCode != http.StatusTooManyRequests || !strings.Contains(pg.body, "Try again in 2 minutes.") {
		t.Errorf("sixth failure: %d, want 429 with 2 minutes:\n%s", pg.StatusCode, pg.body)
	}
	e.clock.Advance(2 * time.Minute)
	if pg := try(userName, password); pg.StatusCode != http.StatusSeeOther {
		t.Fatalf("right password after the lock: %d, want 303:\n%s", pg.StatusCode, pg.body)
	}
	// Success clears the count.
	if f, _ := e.store.LoginFailures(t.Context(), userName); f.Count != 0 {
		t.Errorf("failures after a success: %d", f.Count)
	}

	// A name nobody has is locked the same way, so lockout does not tell
	// which names exist.
	b = e.browser()
	var last *page
	for range 5 {
		last = try("nobody", "whatever1")
	}
	if last.StatusCode != http.StatusTooManyRequests || !strings.Contains(last.body, "Try again in 1 minute.") {
		t.Errorf("unknown name after 5 failures: %d, want the same lock:\n%s", last.StatusCode, last.body)
	}
	logs := e.logs.String()
	for _, secret := range []string{password, "wrong password", "whatever1"} {
		if strings.Contains(logs, secret) {
			t.Errorf("a password appears in the logs")
		}
	}
	if strings.Contains(logs, "nobody") {
		t.Errorf("an unknown user name appears in the logs")
	}
}

func TestRateLimits(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "", func(c *authserver.Config) {
		c.RateLimits = authserver.RateLimits{
			Login:    authserver.Limit{Burst: 2, Interval: time.Minute},
			Token:    authserver.Limit{Burst: 2, Interval: time.Minute},
			Register: authserver.Limit{Burst: 1, Interval: time.Hour},
		}
	})
	id := e.register()
	resp, body := e.postJSON(authserver.PathRegister, `{"redirect_uris":["http://127.0.0.1/cb"]}`)
	wantOAuthError(t, "second registration", resp, body, 429, "temporarily_unavailable")
	if ra := resp.Header.Get("Retry-After"); ra != "3600" {
		t.Errorf("register Retry-After %q, want 3600", ra)
	}

	f := url.Values{"grant_type": {"refresh_token"}, "client_id": {id}, "refresh_token": {"x"}}
	for range 2 {
		e.postForm(authserver.PathToken, f, nil, nil)
	}
	resp, body = e.postForm(authserver.PathToken, f, nil, nil)
	wantOAuthError(t, "third token request", resp, body, 429, "temporarily_unavailable")
	if ra := resp.Header.Get("Retry-After"); ra != "60" {
		t.Errorf("token Retry-After %q, want 60", ra)
	}
	e.clock.Advance(time.Minute)
	resp, body = e.postForm(authserver.PathToken, f, nil, nil)
	wantOAuthError(t, "token request a minute later", resp, body, 400, "invalid_grant")

	b := e.browser()
	q := authParams(id, loopbackRedirect, newPKCE())
	for range 2 {
		b.login(b.get(e.authorizeURL(q)), userName, "wrong password")
	}
	pg := b.login(b.get(e.authorizeURL(q)), userName, password)
	if pg.StatusCode != http.StatusTooManyRequests || pg.Header.Get("Retry-After") != "60" {
		t.Errorf("third login: %d Retry-After %q, want 429 and 60", pg.StatusCode, pg.Header.Get("Retry-After"))
	}
	if !strings.Contains(e.logs.String(), "reason=rate_limited") {
		t.Errorf("rate limiting not logged")
	}
}

func TestAppsPage(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	id := e.register()
	p := newPKCE()
	b := e.browser()
	back := b.authorize(authParams(id, loopbackRedirect, p))
	resp, body := e.exchange(id, back.Get("code"), loopbackRedirect, p.verifier)
	tk := decodeTokens(t, resp, body)

	pg := b.get(e.issuer + authserver.PathApps)
	if pg.StatusCode != 200 || !strings.Contains(pg.body, "Test Client") || !strings.Contains(pg.body, "Read the blog&#39;s articles") {
		t.Fatalf("apps page: %d\n%s", pg.StatusCode, pg.body)
	}
	checkPageHeaders(t, pg, "'self'")
	f := pg.hidden(t)
	f.Set("client_id", id)
	pg = b.post(e.issuer+authserver.PathApps, f)
	if pg.StatusCode != 200 || !strings.Contains(pg.body, "Disconnected.") || !strings.Contains(pg.body, "No application is connected.") {
		t.Fatalf("after disconnecting: %d\n%s", pg.StatusCode, pg.body)
	}
	if _, err := e.verify(tk.AccessToken); !errors.Is(err, authserver.ErrTokenRevoked) {
		t.Errorf("access token after disconnecting: %v, want ErrTokenRevoked", err)
	}
	resp, body = e.refresh(id, tk.RefreshToken, nil)
	wantOAuthError(t, "refresh after disconnecting", resp, body, 400, "invalid_grant")

	// Sign out: the apps page asks for a sign-in again.
	pg = b.post(e.issuer+authserver.PathLogout, pg.hidden(t))
	if pg.StatusCode != 200 || !strings.Contains(pg.body, "You are signed out.") {
		t.Fatalf("sign out: %d\n%s", pg.StatusCode, pg.body)
	}
	pg = b.get(e.issuer + authserver.PathApps)
	if !strings.Contains(pg.body, `action="/oauth/login"`) {
		t.Errorf("apps page after signing out is not the login page:\n%s", pg.body)
	}
	// Signing in from there leads back to the apps page.
	pg = b.login(pg, userName, password)
	if pg.StatusCode != http.StatusSeeOther || pg.Header.Get("Location") != "/oauth/apps" {
		t.Errorf("login from the apps page: %d → %q", pg.StatusCode, pg.Header.Get("Location"))
	}
}

func TestStylesheet(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "/blog")
	pg := e.browser().get(e.authorizeURL(authParams(e.register(), loopbackRedirect, newPKCE())))
	i := strings.Index(pg.body, `<link rel="stylesheet" href="`)
	if i < 0 {
		t.Fatalf("no stylesheet link:\n%s", pg.body)
	}
	href, _, _ := strings.Cut(pg.body[i+len(`<link rel="stylesheet" href="`):], `"`)
	if !strings.HasPrefix(href, "/blog/oauth/static/style.css?v=") {
		t.Errorf("stylesheet href %q, want it under the issuer path", href)
	}
	css := e.browser().get(e.base + strings.ReplaceAll(href, "&amp;", "&"))
	if css.StatusCode != 200 || css.Header.Get("Content-Type") != "text/css; charset=utf-8" || !strings.Contains(css.body, "prefers-color-scheme") {
		t.Errorf("stylesheet: %d %q", css.StatusCode, css.Header.Get("Content-Type"))
	}
}

// TestMetadataFetchRateLimits: unauthenticated requests that can make the
// server fetch a client_id URL (authorize, revoke, introspect) are
// limited per address before anything is fetched.
func TestMetadataFetchRateLimits(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	fetches := 0
	e := newEnv(t, "", func(c *authserver.Config) {
		c.RateLimits.Token = authserver.Limit{Burst: 2, Interval: time.Minute}
		c.RateLimits.ClientMetadata = authserver.Limit{Burst: 2, Interval: time.Minute}
		c.MetadataFetcher = fetcherFunc(func(_ context.Context, u string) (*oauth.ClientMetadata, error) {
			mu.Lock()
			fetches++
			mu.Unlock()
			return nil, errors.New("404")
		})
	})
	count := func() int {
		mu.Lock()
		defer mu.Unlock()
		return fetches
	}

	b := e.browser()
	q := authParams("https://evil.example/a.json", "https://evil.example/cb", newPKCE())
	for range 2 {
		b.get(e.authorizeURL(q))
	}
	before := count()
	pg := b.get(e.authorizeURL(q))
	if pg.StatusCode != http.StatusTooManyRequests || pg.Header.Get("Retry-After") != "60" {
		t.Errorf("third authorize with a client_id URL: %d Retry-After %q, want 429 and 60", pg.StatusCode, pg.Header.Get("Retry-After"))
	}
	if count() != before {
		t.Errorf("a rate-limited authorize request fetched a metadata document")
	}
	// Stored clients are not counted.
	id := e.register()
	if pg := b.get(e.authorizeURL(authParams(id, loopbackRedirect, newPKCE()))); pg.StatusCode == http.StatusTooManyRequests {
		t.Errorf("authorize for a registered client was rate limited")
	}

	for _, path := range []string{authserver.PathRevoke, authserver.PathIntrospect} {
		t.Run(path, func(t *testing.T) {
			e.clock.Advance(time.Hour) // refill the token bucket
			f := url.Values{"client_id": {"https://evil.example/a.json"}, "token": {"x"}}
			for range 2 {
				e.postForm(path, f, nil, nil)
			}
			before := count()
			resp, body := e.postForm(path, f, nil, nil)
			wantOAuthError(t, "third request", resp, body, 429, "temporarily_unavailable")
			if ra := resp.Header.Get("Retry-After"); ra != "60" {
				t.Errorf("Retry-After %q, want 60", ra)
			}
			if count() != before {
				t.Errorf("a rate-limited request fetched a metadata document")
			}
		})
	}
}

// fetcherFunc is a MetadataFetcher for tests; a nil one fails every fetch.
type fetcherFunc func(ctx context.Context, u string) (*oauth.ClientMetadata, error)

func (f fetcherFunc) Fetch(ctx context.Context, u string) (*oauth.ClientMetadata, error) {
	if f == nil {
		return nil, errors.New("no documents here")
	}
	return f(ctx, u)
}

const cimdID = "https://app.example/oauth/client.json"

func TestClientIDMetadataDocument(t *testing.T) {
	t.Parallel()
	docs := map[string]*oauth.ClientMetadata{
		cimdID: {ClientID: cimdID, ClientName: "Example App", RedirectURIs: []string{"https://app.example/cb"},
			TokenEndpointAuthMethod: "none", GrantTypes: []string{"authorization_code", "refresh_token", "urn:ietf:params:oauth:grant-type:device_code"}},
		"https://app.example/wrong-id.json": {ClientID: "https://app.example/other.json", RedirectURIs: []string{"https://app.example/cb"}},
		"https://app.example/secret.json":   {ClientID: "https://app.example/secret.json", RedirectURIs: []string{"https://app.example/cb"}, TokenEndpointAuthMethod: "client_secret_basic"},
		"https://app.example/bad-uri.json":  {ClientID: "https://app.example/bad-uri.json", RedirectURIs: []string{"http://app.example/cb"}},
		"https://app.example/no-name.json":  {ClientID: "https://app.example/no-name.json", RedirectURIs: []string{"https://app.example/cb"}},
	}
	var fetched []string
	e := newEnv(t, "", func(c *authserver.Config) {
		c.MetadataFetcher = fetcherFunc(func(_ context.Context, u string) (*oauth.ClientMetadata, error) {
			fetched = append(fetched, u)
			if d, ok := docs[u]; ok {
				return d, nil
			}
			return nil, errors.New("404")
		})
	})

	p := newPKCE()
	b := e.browser()
	q := authParams(cimdID, "https://app.example/cb", p)
	pg := b.login(b.get(e.authorizeURL(q)), userName, password)
	pg = b.get(b.resolve(pg))
	for _, want := range []string{"Allow Example App to use this blog?", "<dd>app.example</dd>", "Identified by"} {
		if !strings.Contains(pg.body, want) {
			t.Errorf("consent page for a metadata client lacks %q:\n%s", want, pg.body)
		}
	}
	checkPageHeaders(t, pg, "'self' https://app.example")
	back := b.redirectQuery(b.consent(pg, "approve"), "https://app.example/cb")
	f := url.Values{"grant_type": {"authorization_code"}, "client_id": {cimdID}, "code": {back.Get("code")},
		"redirect_uri": {"https://app.example/cb"}, "code_verifier": {p.verifier}}
	resp, body := e.postForm(authserver.PathToken, f, nil, nil)
	tk := decodeTokens(t, resp, body)
	if tk.RefreshToken == "" {
		t.Errorf("metadata client with refresh_token got no refresh token")
	}
	gs, _ := e.srv.Admin().ListGrants(t.Context())
	if len(gs) != 1 || gs[0].ClientID != cimdID || gs[0].ClientName != "Example App" {
		t.Errorf("grants: %+v", gs)
	}

	for _, tc := range []struct{ name, id, redirect string }{
		{"document names another client_id", "https://app.example/wrong-id.json", "https://app.example/cb"},
		{"document asks for a secret", "https://app.example/secret.json", "https://app.example/cb"},
		{"document with a bad redirect URI", "https://app.example/bad-uri.json", "http://app.example/cb"},
		{"document not found", "https://app.example/missing.json", "https://app.example/cb"},
		{"redirect URI not in the document", cimdID, "https://app.example/other"},
		{"client_id without a path", "https://app.example", "https://app.example/cb"},
		{"client_id with a fragment", cimdID + "#x", "https://app.example/cb"},
		{"client_id with dot segments", "https://app.example/a/../client.json", "https://app.example/cb"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pg := e.browser().get(e.authorizeURL(authParams(tc.id, tc.redirect, p)))
			if pg.StatusCode != http.StatusBadRequest || pg.Header.Get("Location") != "" {
				t.Errorf("%d Location %q, want a 400 page", pg.StatusCode, pg.Header.Get("Location"))
			}
		})
	}
	pg = e.browser().get(e.authorizeURL(authParams("https://app.example/no-name.json", "https://app.example/cb", p)))
	if !strings.Contains(pg.body, "app.example") {
		t.Errorf("a metadata client without a name is not named by its host:\n%s", pg.body)
	}
	for _, u := range fetched {
		if strings.Contains(u, "#") || strings.Contains(u, "..") || u == "https://app.example" {
			t.Errorf("fetched %q, which should have been refused before fetching", u)
		}
	}

	// Without a fetcher, URL client ids are refused.
	plain := newEnv(t, "")
	pg = plain.browser().get(plain.authorizeURL(authParams(cimdID, "https://app.example/cb", p)))
	if pg.StatusCode != http.StatusBadRequest || !strings.Contains(pg.body, "does not accept client_id URLs") {
		t.Errorf("metadata client without a fetcher: %d\n%s", pg.StatusCode, pg.body)
	}
}

func TestIntrospect(t *testing.T) {
	t.Parallel()
	const key = "m2c_aaaaaaaaaaaa_write"
	const readKey = "m2c_aaaaaaaaaaaa_read"
	e := newEnv(t, "", func(c *authserver.Config) {
		c.IntrospectionVerifier = func(_ context.Context, cred string) (*authn.Principal, error) {
			switch cred {
			case key:
				return &authn.Principal{Subject: "key:a", Scopes: []string{authn.ScopeWrite}, Method: "api_key"}, nil
			case readKey:
				return &authn.Principal{Subject: "key:b", Scopes: []string{authn.ScopeRead}, Method: "api_key"}, nil
			}
			return nil, &authn.CredentialError{Reason: "unknown", Description: "no"}
		}
	})
	id, tk := e.flow()
	call := func(h http.Header, form url.Values) (*http.Response, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, e.issuer+authserver.PathIntrospect, strings.NewReader(form.Encode()))
		req.Header = h
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		json.NewDecoder(resp.Body).Decode(&m)
		return resp, m
	}
	tok := url.Values{"token": {tk.AccessToken}}
	resp, m := call(http.Header{"X-Api-Key": {key}}, tok)
	if resp.StatusCode != 200 || m["active"] != true || m["client_id"] != id {
		t.Errorf("introspect with an API key: %d %v", resp.StatusCode, m)
	}
	resp, m = call(http.Header{"Authorization": {"Bearer " + key}}, url.Values{"token": {tk.RefreshToken}})
	if resp.StatusCode != 200 || m["active"] != true || m["token_type"] != "refresh_token" {
		t.Errorf("introspect a refresh token: %d %v", resp.StatusCode, m)
	}
	// A rotated refresh token is spent, grace window or not.
	rotID, rot := e.flow()
	if resp, body := e.refresh(rotID, rot.RefreshToken, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("refresh: %d %s", resp.StatusCode, body)
	}
	if _, m := call(http.Header{"X-Api-Key": {key}}, url.Values{"token": {rot.RefreshToken}}); m["active"] != false {
		t.Errorf("introspect a rotated refresh token within the grace window: %v, want inactive", m)
	}
	for _, tc := range []struct {
		name   string
		h      http.Header
		form   url.Values
		status int
		code   string
	}{
		{"read-only key", http.Header{"X-Api-Key": {readKey}}, tok, 403, "insufficient_scope"},
		{"bad key", http.Header{"X-Api-Key": {"m2c_nope"}}, tok, 401, "invalid_token"},
		{"public client", http.Header{}, url.Values{"token": {tk.AccessToken}, "client_id": {id}}, 401, "invalid_client"},
		{"nothing", http.Header{}, tok, 401, "invalid_client"},
		{"no token", http.Header{"X-Api-Key": {key}}, url.Values{}, 400, "invalid_request"},
	} {
		resp, m := call(tc.h, tc.form)
		if resp.StatusCode != tc.status || m["error"] != tc.code {
			t.Errorf("%s: %d %v, want %d %s", tc.name, resp.StatusCode, m, tc.status, tc.code)
		}
	}
	for _, inactive := range []string{"garbage", oauth.PrefixAccessToken + strings.Repeat("z", 52)} {
		_, m := call(http.Header{"X-Api-Key": {key}}, url.Values{"token": {inactive}})
		if diff := cmp.Diff(map[string]any{"active": false}, m); diff != "" {
			t.Errorf("inactive token (-want +got):\n%s", diff)
		}
	}
	e.clock.Advance(time.Hour)
	_, m = call(http.Header{"X-Api-Key": {key}}, tok)
	if diff := cmp.Diff(map[string]any{"active": false}, m); diff != "" {
		t.Errorf("expired token (-want +got):\n%s", diff)
	}

	// A dynamically registered confidential client sees only its own
	// tokens.
	body, _ := json.Marshal(map[string]any{"redirect_uris": []string{"https://x.example/cb"}, "token_endpoint_auth_method": "client_secret_post"})
	r, data := e.postJSON(authserver.PathRegister, string(body))
	var reg struct{ ClientID, ClientSecret string }
	json.Unmarshal([]byte(strings.NewReplacer("client_id", "ClientID", "client_secret", "ClientSecret").Replace(data)), &reg)
	if r.StatusCode != 201 || reg.ClientSecret == "" {
		t.Fatalf("register: %d %s", r.StatusCode, data)
	}
	_, tk2 := e.flow()
	_, m = call(http.Header{}, url.Values{"token": {tk2.AccessToken}, "client_id": {reg.ClientID}, "client_secret": {reg.ClientSecret}})
	if diff := cmp.Diff(map[string]any{"active": false}, m); diff != "" {
		t.Errorf("dynamic client introspecting another client's token (-want +got):\n%s", diff)
	}
}

func TestCleanup(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	unused := e.register()
	id, tk := e.flow() // used: obtained tokens
	ctx := t.Context()

	e.clock.Advance(25 * time.Hour)
	res, err := e.srv.Cleanup(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The unused client; the access token (1h); the session (12h); the
	// code (expired over a day ago).
	want := authserver.CleanupResult{Clients: 1, Codes: 1, Tokens: 1, Sessions: 1}
	if diff := cmp.Diff(want, res); diff != "" {
		t.Errorf("Cleanup (-want +got):\n%s", diff)
	}
	cs, _ := e.srv.Admin().ListClients(ctx)
	if len(cs) != 1 || cs[0].ID != id {
		t.Errorf("clients after cleanup: %v, want only %s (%s was never used)", cs, id, unused)
	}
	resp, body := e.refresh(id, tk.RefreshToken, nil)
	decodeTokens(t, resp, body)

	// Idle for 90 days: deleted with its tokens.
	e.clock.Advance(91 * 24 * time.Hour)
	if _, err := e.srv.Cleanup(ctx); err != nil {
		t.Fatal(err)
	}
	cs, _ = e.srv.Admin().ListClients(ctx)
	if len(cs) != 0 {
		t.Errorf("idle client survived cleanup")
	}
}

func TestAdminUsersAndGrants(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	a := e.srv.Admin()
	ctx := t.Context()
	if err := a.CreateUser(ctx, "Bob", "short"); err == nil {
		t.Errorf("CreateUser with a short password succeeded")
	}
	if err := a.CreateUser(ctx, "bad name!", password); err == nil {
		t.Errorf("CreateUser with a bad name succeeded")
	}
	if err := a.CreateUser(ctx, "ANN", password); err == nil {
		t.Errorf("CreateUser of a taken name (other case) succeeded")
	}
	if err := a.CreateUser(ctx, "Bob", "another good one"); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	us, _ := a.ListUsers(ctx)
	if len(us) != 2 || us[0].Name != "ann" || us[1].Name != "bob" || us[0].PasswordHash != "" {
		t.Errorf("ListUsers: %+v", us)
	}
	stored, _ := e.store.UserByName(ctx, "bob")
	if !strings.HasPrefix(stored.PasswordHash, "$argon2id$v=19$m=1024,t=1,p=1$") {
		t.Errorf("stored hash %q is not argon2id with the configured parameters", stored.PasswordHash)
	}

	id, tk := e.flow()
	gs, _ := a.ListGrants(ctx)
	if len(gs) != 1 || gs[0].User != "ann" || gs[0].ClientID != id {
		t.Fatalf("ListGrants: %+v", gs)
	}
	// Changing the password signs ann out everywhere, apps included;
	// the grant stays.
	b := e.browser()
	b.authorize(authParams(id, loopbackRedirect, newPKCE()))
	if err := a.SetPassword(ctx, "ann", "a brand new secret"); err != nil {
		t.Fatal(err)
	}
	pg := b.get(e.issuer + authserver.PathApps)
	if !strings.Contains(pg.body, `action="/oauth/login"`) {
		t.Errorf("still signed in after a password change")
	}
	if _, err := e.verify(tk.AccessToken); !errors.Is(err, authserver.ErrTokenRevoked) {
		t.Errorf("app token after a password change: %v, want ErrTokenRevoked", err)
	}
	if err := a.RevokeGrant(ctx, "ann", id); err != nil {
		t.Fatal(err)
	}
	if _, err := e.verify(tk.AccessToken); !errors.Is(err, authserver.ErrTokenRevoked) {
		t.Errorf("token after RevokeGrant: %v", err)
	}
	if err := a.DeleteUser(ctx, "ann"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.verify(tk.AccessToken); !errors.Is(err, authserver.ErrTokenUnknown) {
		t.Errorf("token after DeleteUser: %v, want ErrTokenUnknown", err)
	}
}

func TestSignOutFromConsent(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	id := e.register()
	q := authParams(id, loopbackRedirect, newPKCE())
	b := e.browser()
	pg := b.get(b.resolve(b.login(b.get(e.authorizeURL(q)), userName, password)))
	if !strings.Contains(pg.body, "Not ann?") {
		t.Fatalf("consent page without a sign-out:\n%s", pg.body)
	}
	// The consent page has two forms; the sign-out one comes second.
	i := strings.Index(pg.body, `action="/oauth/logout"`)
	out := (&page{Response: pg.Response, body: pg.body[i:]}).hidden(t)
	pg = b.post(e.issuer+authserver.PathLogout, out)
	if pg.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign out: %d", pg.StatusCode)
	}
	pg = b.get(b.resolve(pg))
	if pg.StatusCode != 200 || !strings.Contains(pg.body, `action="/oauth/login"`) || !strings.Contains(pg.body, "Test Client") {
		t.Errorf("after signing out from the consent page: %d, want the login page for the same request:\n%s", pg.StatusCode, pg.body)
	}
}

func TestPrompt(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	id := e.register()
	b := e.browser()
	b.authorize(authParams(id, loopbackRedirect, newPKCE())) // signs in and approves articles:read

	q := authParams(id, loopbackRedirect, newPKCE())
	q.Set("prompt", "consent")
	if pg := b.get(e.authorizeURL(q)); pg.StatusCode != 200 || !strings.Contains(pg.body, `value="approve"`) {
		t.Errorf("prompt=consent with a remembered grant: %d, want the consent page", pg.StatusCode)
	}
	q = authParams(id, loopbackRedirect, newPKCE())
	q.Set("prompt", "none")
	q.Set("scope", "articles:write")
	// Not redirected automatically: the client registered itself.
	if pg := b.get(e.authorizeURL(q)); pg.StatusCode != http.StatusBadRequest || !strings.Contains(pg.body, "consent_required") {
		t.Errorf("prompt=none for a new scope: %d, want a page saying consent_required:\n%s", pg.StatusCode, pg.body)
	}
	// A remembered grant does not assure a loopback client's identity
	// (any local program may listen there): prompt=none needs consent.
	q.Set("scope", "articles:read")
	if pg := b.get(e.authorizeURL(q)); pg.StatusCode != http.StatusBadRequest || !strings.Contains(pg.body, "consent_required") || pg.Header.Get("Location") != "" {
		t.Errorf("prompt=none, loopback client with a remembered grant: %d, want a page saying consent_required:\n%s", pg.StatusCode, pg.body)
	}

	// An https redirect reaches only its host: there a remembered grant
	// is enough, with prompt=none too.
	const webRedirect = "https://app.example/callback"
	web := e.register(webRedirect)
	b.authorize(authParams(web, webRedirect, newPKCE()))
	q = authParams(web, webRedirect, newPKCE())
	q.Set("prompt", "none")
	if got := b.redirectQuery(b.get(e.authorizeURL(q)), webRedirect); got.Get("code") == "" {
		t.Errorf("prompt=none, https client with a remembered grant: %v, want a code", got)
	}

	// prompt=login asks for a new sign-in even with a session (one older
	// than the few seconds a sign-in's own redirect takes); the sign-in
	// then satisfies it, and the flow goes on.
	e.clock.Advance(time.Minute)
	q = authParams(web, webRedirect, newPKCE())
	q.Set("prompt", "login")
	pg := b.get(e.authorizeURL(q))
	if !strings.Contains(pg.body, `action="`+e.issuerPath()+`/oauth/login"`) {
		t.Fatalf("prompt=login with a session: %d, want the sign-in page:\n%s", pg.StatusCode, pg.body)
	}
	pg = b.get(b.resolve(b.login(pg, userName, password)))
	if got := b.redirectQuery(pg, webRedirect); got.Get("code") == "" {
		t.Errorf("after signing in again for prompt=login: %v, want a code", got)
	}
	// max_age: a sign-in older than it is asked again; a fresh one is not.
	e.clock.Advance(10 * time.Minute)
	q = authParams(web, webRedirect, newPKCE())
	q.Set("max_age", "300")
	if pg := b.get(e.authorizeURL(q)); !strings.Contains(pg.body, `action="`+e.issuerPath()+`/oauth/login"`) {
		t.Errorf("max_age=300 with a 10-minute-old sign-in: %d, want the sign-in page", pg.StatusCode)
	}
	q.Set("max_age", "3600")
	if got := b.redirectQuery(b.get(e.authorizeURL(q)), webRedirect); got.Get("code") == "" {
		t.Errorf("max_age=3600 with a 10-minute-old sign-in: %v, want a code", got)
	}
	q.Set("max_age", "300")
	q.Set("prompt", "none")
	// (Errors of a self-registered client are shown, not redirected.)
	if pg := b.get(e.authorizeURL(q)); pg.StatusCode != http.StatusBadRequest || !strings.Contains(pg.body, "login_required") {
		t.Errorf("prompt=none with max_age past: %d, want a page saying login_required:\n%s", pg.StatusCode, pg.body)
	}
	q.Set("max_age", "soon")
	q.Del("prompt")
	if pg := b.get(e.authorizeURL(q)); pg.StatusCode != http.StatusBadRequest || !strings.Contains(pg.body, "max_age must be a number") {
		t.Errorf("max_age=soon: %d, want a page saying max_age is malformed:\n%s", pg.StatusCode, pg.body)
	}
}

// TestSignInPageMarksTheClientsOwnName: the sign-in page names the client
// too, so it must say, as the consent page does, when the name is the
// client's own words; a client the owner registered is named plainly.
func TestSignInPageMarksTheClientsOwnName(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	pre, _, err := e.srv.Admin().CreateClient(t.Context(), oauth.ClientSpec{Name: "Owner's CLI", RedirectURIs: []string{loopbackRedirect}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		id, name   string
		unverified bool
	}{
		{e.register(), "Test Client", true},
		{pre.ID, "Owner&#39;s CLI", false},
	} {
		pg := e.browser().get(e.authorizeURL(authParams(tc.id, loopbackRedirect, newPKCE())))
		if pg.StatusCode != http.StatusOK || !strings.Contains(pg.body, tc.name) {
			t.Fatalf("authorize without a session: %d, want the sign-in page naming %q:\n%s", pg.StatusCode, tc.name, pg.body)
		}
		if got := strings.Contains(pg.body, "not verified"); got != tc.unverified {
			t.Errorf("sign-in page for %q says \"not verified\": %v, want %v", tc.name, got, tc.unverified)
		}
	}
}

// TestRefusalsAreLoggedSparingly: a flood of rate-limited requests is one
// log line a minute per address and limit, saying how many it stands for;
// and behind a trusted proxy the line names the client, not the proxy.
func TestRefusalsAreLoggedSparingly(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "", func(c *authserver.Config) {
		c.RateLimits = authserver.RateLimits{Token: authserver.Limit{Burst: 1, Interval: time.Hour}}
		c.ClientIP = func(*http.Request) string { return "203.0.113.7" }
	})
	f := url.Values{"grant_type": {"refresh_token"}, "client_id": {"nobody"}, "refresh_token": {"x"}}
	for range 51 {
		e.postForm(authserver.PathToken, f, nil, nil)
	}
	lines := strings.Count(e.logs.String(), "reason=rate_limited")
	if lines != 1 {
		t.Errorf("50 refused requests logged %d rate_limited lines, want 1", lines)
	}
	e.clock.Advance(refusalInterval)
	e.postForm(authserver.PathToken, f, nil, nil)
	logs := e.logs.String()
	if n := strings.Count(logs, "reason=rate_limited"); n != 2 || !strings.Contains(logs, "unlogged_before=49") {
		t.Errorf("a minute later: %d rate_limited lines, want 2, the second counting the 49 unlogged:\n%s", n, grepLines(logs, "rate_limited"))
	}
	if !strings.Contains(logs, "remote=203.0.113.7") || strings.Contains(logs, "remote=127.0.0.1") {
		t.Errorf("refusals do not name the client address:\n%s", grepLines(logs, "refused"))
	}
}

// refusalInterval is how often the server logs one address's refusals.
const refusalInterval = time.Minute

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestSignInFailsFastWhenBusy: a sign-in that finds every password-hash
// slot taken waits SignInWait, not without bound, and is answered 503 with
// Retry-After; past the server-wide sign-in rate the answer is the same.
func TestSignInFailsFastWhenBusy(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "", func(c *authserver.Config) {
		c.PasswordParams = oauth.PasswordParams{Time: 3, MemoryKiB: 32 << 10, Threads: 1} // slow enough to hold a slot
		c.SignInWait = time.Millisecond
		c.RateLimits.Login = authserver.Limit{Burst: -1}
		c.RateLimits.LoginAll = authserver.Limit{Burst: -1}
	})
	const n = 12 // three times the hash slots
	forms := make([]url.Values, n)
	browsers := make([]*browser, n)
	for i := range n {
		browsers[i] = e.browser()
		pg := browsers[i].get(e.issuer + authserver.PathLogin)
		forms[i] = pg.hidden(t)
		// Names of their own: the per-name lockout is not what is tested.
		forms[i].Set("username", fmt.Sprintf("nobody-%d", i))
		forms[i].Set("password", "wrong password")
	}
	codes := make([]int, n)
	retry := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			req, _ := http.NewRequest(http.MethodPost, e.issuer+authserver.PathLogin, strings.NewReader(forms[i].Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Origin", e.base)
			resp, err := browsers[i].c.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			codes[i], retry[i] = resp.StatusCode, resp.Header.Get("Retry-After")
		})
	}
	wg.Wait()
	busy := 0
	for i, c := range codes {
		switch c {
		case http.StatusUnauthorized:
		case http.StatusServiceUnavailable:
			busy++
			if retry[i] == "" {
				t.Errorf("a busy answer without Retry-After")
			}
		default:
			t.Errorf("sign-in %d: status %d, want 401 or 503", i, c)
		}
	}
	if busy == 0 {
		t.Errorf("%d concurrent sign-ins over 4 hash slots with a 1ms wait: none was answered 503 (%v)", n, codes)
	}
}

func TestSignInRateAcrossAddresses(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "", func(c *authserver.Config) {
		c.RateLimits.LoginAll = authserver.Limit{Burst: 1, Interval: time.Hour}
	})
	b := e.browser()
	if pg := b.login(b.get(e.issuer+authserver.PathLogin), userName, "wrong password"); pg.StatusCode != http.StatusUnauthorized {
		t.Fatalf("first sign-in: %d, want 401", pg.StatusCode)
	}
	pg := b.login(b.get(e.issuer+authserver.PathLogin), userName, password)
	if pg.StatusCode != http.StatusServiceUnavailable || pg.Header.Get("Retry-After") == "" {
		t.Errorf("a sign-in past the server-wide rate: %d Retry-After %q, want 503 with Retry-After", pg.StatusCode, pg.Header.Get("Retry-After"))
	}
}

// addrTransport sends every request as if from addr (the test's ClientIP
// reads the header, as a trusted proxy's X-Forwarded-For would be read).
type addrTransport struct{ addr string }

func (a addrTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("X-Test-Client", a.addr)
	return http.DefaultTransport.RoundTrip(r)
}

// TestLockoutIsPerAddress: failing on purpose from one address locks that
// address out of the name, not the person who signs in from another; only
// NameThreshold failures from everywhere together lock the name itself.
func TestLockoutIsPerAddress(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "", func(c *authserver.Config) {
		c.ClientIP = func(r *http.Request) string { return r.Header.Get("X-Test-Client") }
		c.Lockout = authserver.Lockout{Threshold: 3, NameThreshold: 8}
		c.RateLimits.Login = authserver.Limit{Burst: -1}
	})
	from := func(addr string) *browser {
		b := e.browser()
		b.c.Transport = addrTransport{addr}
		return b
	}
	try := func(b *browser, pass string) int {
		t.Helper()
		return b.login(b.get(e.issuer+authserver.PathLogin), userName, pass).StatusCode
	}
	attacker := from("198.51.100.1")
	for range 3 {
		try(attacker, "wrong password")
	}
	if code := try(attacker, password); code != http.StatusTooManyRequests {
		t.Errorf("the right password from the locked address: %d, want 429", code)
	}
	if code := try(from("203.0.113.7"), password); code != http.StatusSeeOther {
		t.Errorf("the person, from their own address, while another address is locked out: %d, want 303 (signed in)", code)
	}
	// Many addresses together: past NameThreshold the name locks for all.
	for i := range 8 {
		try(from(fmt.Sprintf("198.51.100.%d", 10+i)), "wrong password")
	}
	if code := try(from("203.0.113.7"), password); code != http.StatusTooManyRequests {
		t.Errorf("after %d failures from many addresses: %d, want the name locked (429)", 8, code)
	}
}
