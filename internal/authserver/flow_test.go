package authserver_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/2coffee/mcp-2coffee/internal/authn"
	"github.com/2coffee/mcp-2coffee/internal/authserver"
	"github.com/2coffee/mcp-2coffee/internal/oauth"
)

// TestFullFlow walks the whole flow as a browser and a client would:
// authorize → sign-in page → consent page → redirect with code, state and
// iss → token → refresh → revoke → introspect.
func TestFullFlow(t *testing.T) {
	t.Parallel()
	for _, path := range []string{"", "/blog"} {
		t.Run("issuer path "+path, func(t *testing.T) {
			rsID, rsSecret := "", ""
			e := newEnv(t, path)
			c, secret, err := e.srv.Admin().CreateClient(t.Context(), oauth.ClientSpec{
				Name: "Other resource server", RedirectURIs: []string{"https://rs.example/cb"}, AuthMethod: oauth.AuthSecretBasic,
			})
			if err != nil {
				t.Fatal(err)
			}
			rsID, rsSecret = c.ID, secret

			id := e.register()
			p := newPKCE()
			q := authParams(id, loopbackRedirect, p)
			q.Set("scope", "articles:write")
			q.Set("resource", e.issuer+"/mcp")
			b := e.browser()

			// 1. Not signed in: the login page, with the client's name.
			pg := b.get(e.authorizeURL(q))
			if pg.StatusCode != http.StatusOK || !strings.Contains(pg.body, "Test Client") {
				t.Fatalf("authorize without a session: %d, want the login page naming the client:\n%s", pg.StatusCode, pg.body)
			}
			checkPageHeaders(t, pg, "'self' http://127.0.0.1:33418")

			// 2. Sign in: back to /authorize.
			pg = b.login(pg, "  ANN ", password) // names are trimmed and case-folded
			if pg.StatusCode != http.StatusSeeOther || !strings.HasPrefix(pg.Header.Get("Location"), e.issuerPath()+"/oauth/authorize?") {
				t.Fatalf("login: %d Location %q, want 303 to /oauth/authorize", pg.StatusCode, pg.Header.Get("Location"))
			}
			cookies := pg.Cookies()
			if len(cookies) != 1 || cookies[0].Name != "m2c_session" || !cookies[0].HttpOnly || cookies[0].SameSite != http.SameSiteLaxMode {
				t.Errorf("session cookie: %+v", cookies)
			}

			// 3. The consent page: name, redirect host, scopes in words.
			pg = b.get(b.resolve(pg))
			for _, want := range []string{"Allow Test Client to use this blog?", "127.0.0.1:33418",
				"Create, change and delete articles", "not verified", "Signed in as", "ann"} {
				if !strings.Contains(pg.body, want) && !(want == "Signed in as" && strings.Contains(pg.body, "signed in as")) {
					t.Errorf("consent page lacks %q:\n%s", want, pg.body)
				}
			}
			checkPageHeaders(t, pg, "'self' http://127.0.0.1:33418")

			// 4. Approve: redirect with code, state and iss.
			pg = b.consent(pg, "approve")
			if pg.StatusCode != http.StatusSeeOther {
				t.Fatalf("approve: status %d, want 303", pg.StatusCode)
			}
			back := b.redirectQuery(pg, loopbackRedirect)
			if back.Get("state") != q.Get("state") || back.Get("iss") != e.issuer || !strings.HasPrefix(back.Get("code"), oauth.PrefixCode) {
				t.Fatalf("redirect query %v: want code, state %q and iss %q", back, q.Get("state"), e.issuer)
			}

			// 5. Token.
			resp, body := e.exchange(id, back.Get("code"), loopbackRedirect, p.verifier)
			if resp.Header.Get("Cache-Control") != "no-store" || resp.Header.Get("Pragma") != "no-cache" {
				t.Errorf("token response headers: Cache-Control %q Pragma %q", resp.Header.Get("Cache-Control"), resp.Header.Get("Pragma"))
			}
			tk := decodeTokens(t, resp, body)
			if tk.TokenType != "Bearer" || tk.ExpiresIn != 3600 || tk.Scope != "articles:write" ||
				!strings.HasPrefix(tk.AccessToken, oauth.PrefixAccessToken) || !strings.HasPrefix(tk.RefreshToken, oauth.PrefixRefreshToken) {
				t.Errorf("token response: %+v", tk)
			}
			pr, err := e.verify(tk.AccessToken)
			if err != nil {
				t.Fatalf("VerifyAccessToken: %v", err)
			}
			if diff := cmp.Diff(&authn.Principal{Subject: "user:ann", Scopes: []string{"articles:write"}, Method: "oauth", Client: id}, pr); diff != "" {
				t.Errorf("principal (-want +got):\n%s", diff)
			}

			// 6. Refresh: a new pair, the old access token still valid
			// until it expires, the old refresh token rotated.
			resp, body = e.refresh(id, tk.RefreshToken, url.Values{"resource": {e.issuer + "/mcp"}})
			tk2 := decodeTokens(t, resp, body)
			if tk2.AccessToken == tk.AccessToken || tk2.RefreshToken == tk.RefreshToken || tk2.Scope != "articles:write" {
				t.Errorf("refresh: %+v", tk2)
			}
			if _, err := e.verify(tk2.AccessToken); err != nil {
				t.Errorf("VerifyAccessToken(refreshed): %v", err)
			}

			// 7. Introspect (as a confidential client), then revoke, then
			// introspect again.
			introspect := func(tok string) map[string]any {
				resp, body := e.postForm(authserver.PathIntrospect, url.Values{"token": {tok}}, &rsID, &rsSecret)
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("introspect: %d %s", resp.StatusCode, body)
				}
				var m map[string]any
				json.Unmarshal([]byte(body), &m)
				return m
			}
			want := map[string]any{
				"active": true, "scope": "articles:write", "client_id": id, "username": "ann", "sub": "user:ann",
				"token_type": "Bearer", "aud": e.issuer + "/mcp", "iss": e.issuer,
				"iat": float64(t0.Unix()), "exp": float64(t0.Unix() + 3600),
			}
			if diff := cmp.Diff(want, introspect(tk2.AccessToken)); diff != "" {
				t.Errorf("introspection (-want +got):\n%s", diff)
			}
			resp, body = e.postForm(authserver.PathRevoke, url.Values{"token": {tk2.RefreshToken}, "client_id": {id}}, nil, nil)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("revoke: %d %s", resp.StatusCode, body)
			}
			for _, tok := range []string{tk.AccessToken, tk2.AccessToken} {
				if _, err := e.verify(tok); !errors.Is(err, authserver.ErrTokenRevoked) {
					t.Errorf("VerifyAccessToken after revoking the refresh token: %v, want ErrTokenRevoked", err)
				}
			}
			if diff := cmp.Diff(map[string]any{"active": false}, introspect(tk2.AccessToken)); diff != "" {
				t.Errorf("introspection after revocation (-want +got):\n%s", diff)
			}
			resp, body = e.refresh(id, tk2.RefreshToken, nil)
			wantOAuthError(t, "refresh after revocation", resp, body, 400, "invalid_grant")

			// 8. A second authorization is remembered, but the client's
			// redirect is loopback, where any local program may listen:
			// the person still sees who asks, and one click approves
			// (RFC 8252 §8.6).
			p2 := newPKCE()
			q2 := authParams(id, strings.Replace(loopbackRedirect, "33418", "40001", 1), p2) // another port
			q2.Set("scope", "articles:read")
			pg = b.get(e.authorizeURL(q2))
			if pg.StatusCode != http.StatusOK || !strings.Contains(pg.body, `value="approve"`) {
				t.Fatalf("authorize of a loopback client with a remembered grant: %d, want the consent page:\n%s", pg.StatusCode, pg.body)
			}
			back = b.redirectQuery(b.consent(pg, "approve"), q2.Get("redirect_uri"))
			resp, body = e.exchange(id, back.Get("code"), q2.Get("redirect_uri"), p2.verifier)
			if tk := decodeTokens(t, resp, body); tk.Scope != "articles:read" {
				t.Errorf("remembered grant: scope %q, want articles:read", tk.Scope)
			}
		})
	}
}

// checkPageHeaders checks the security headers of an HTML page.
func checkPageHeaders(t *testing.T, p *page, formAction string) {
	t.Helper()
	want := map[string]string{
		"Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self' https: data:; form-action " + formAction + "; frame-ancestors 'none'; base-uri 'none'",
		"X-Frame-Options":         "DENY",
		"Referrer-Policy":         "same-origin",
		"Cache-Control":           "no-store",
		"Content-Type":            "text/html; charset=utf-8",
		"X-Content-Type-Options":  "nosniff",
	}
	for k, v := range want {
		if got := p.Header.Get(k); got != v {
			t.Errorf("%s: %q, want %q", k, got, v)
		}
	}
	for _, s := range []string{`<html lang="en">`, `<meta name="viewport" content="width=device-width, initial-scale=1">`, "<h1>", "<main>"} {
		if !strings.Contains(p.body, s) {
			t.Errorf("page lacks %s", s)
		}
	}
	if strings.Contains(p.body, "<script") {
		t.Errorf("page has a script")
	}
}

func TestDeny(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	id := e.register()
	b := e.browser()
	q := authParams(id, loopbackRedirect, newPKCE())
	pg := b.login(b.get(e.authorizeURL(q)), userName, password)
	pg = b.consent(b.get(b.resolve(pg)), "deny")
	got := b.redirectQuery(pg, loopbackRedirect)
	want := url.Values{"error": {"access_denied"}, "error_description": {"the user denied the request"},
		"state": {q.Get("state")}, "iss": {e.issuer}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("deny redirect (-want +got):\n%s", diff)
	}
	if gs, _ := e.srv.Admin().ListGrants(t.Context()); len(gs) != 0 {
		t.Errorf("denying stored a grant: %+v", gs[0])
	}
}

// TestAuthorizeRefusedAsPage: a bad client or redirect URI is shown, never
// redirected to.
func TestAuthorizeRefusedAsPage(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	registered := []string{"http://127.0.0.1/cb", "https://app.example/cb?tenant=1", "cursor://anysphere.cursor-retrieval/cb"}
	id := e.register(registered...)
	p := newPKCE()
	tests := []struct {
		name, clientID, redirect string
	}{
		{"unknown client", "nope", "http://127.0.0.1/cb"},
		{"no client", "", "http://127.0.0.1/cb"},
		{"loopback look-alike host", id, "http://127.0.0.1.evil.example/cb"},
		{"user info before loopback", id, "http://evil.example@127.0.0.1/cb"},
		{"user info with port", id, "http://evil.example@127.0.0.1:8080/cb"},
		{"port then user info", id, "http://127.0.0.1:80@evil.example/cb"},
		{"extra path segment", id, "http://127.0.0.1/cb/extra"},
		{"extra path on https", id, "https://app.example/cb/extra"},
		{"fragment", id, "http://127.0.0.1/cb#frag"},
		{"different query", id, "https://app.example/cb?tenant=2"},
		{"missing query", id, "https://app.example/cb"},
		{"https instead of http", id, "https://127.0.0.1/cb"},
		{"localhost for 127.0.0.1", id, "http://localhost/cb"},
		{"another custom scheme", id, "evil://anysphere.cursor-retrieval/cb"},
		{"upper-case host", id, "https://APP.example/cb?tenant=1"},
		{"no redirect_uri", id, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q := authParams(tc.clientID, tc.redirect, p)
			if tc.redirect == "" {
				q.Del("redirect_uri")
			}
			pg := e.browser().get(e.authorizeURL(q))
			if pg.StatusCode != http.StatusBadRequest || pg.Header.Get("Location") != "" {
				t.Fatalf("status %d Location %q, want 400 and no redirect", pg.StatusCode, pg.Header.Get("Location"))
			}
			if !strings.Contains(pg.body, "This application cannot connect") {
				t.Errorf("error page body:\n%s", pg.body)
			}
			checkPageHeaders(t, pg, "'self'")
		})
	}
	// Loopback on any port, and the custom scheme, are accepted.
	for _, ok := range []string{"http://127.0.0.1:51234/cb", "http://127.0.0.1/cb", "cursor://anysphere.cursor-retrieval/cb"} {
		pg := e.browser().get(e.authorizeURL(authParams(id, ok, p)))
		if pg.StatusCode != http.StatusOK || !strings.Contains(pg.body, "Sign in") {
			t.Errorf("redirect_uri %s: %d, want the login page", ok, pg.StatusCode)
		}
	}
}

// TestAuthorizeErrorsRedirect: once client and redirect URI are known,
// problems go back to a client the owner registered with error, state and
// iss; for any other client (anyone can register one, with any redirect
// URI) they are shown on a page with a link back, never redirected
// automatically (RFC 9700 §4.11.2: no open redirector).
func TestAuthorizeErrorsRedirect(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	pre, _, err := e.srv.Admin().CreateClient(t.Context(), oauth.ClientSpec{Name: "Owner's app", RedirectURIs: []string{loopbackRedirect}})
	if err != nil {
		t.Fatal(err)
	}
	id := pre.ID
	dynamic := e.register()
	p := newPKCE()
	tests := []struct {
		name string
		edit func(url.Values)
		code string
	}{
		{"PKCE missing", func(q url.Values) { q.Del("code_challenge"); q.Del("code_challenge_method") }, "invalid_request"},
		{"PKCE plain", func(q url.Values) { q.Set("code_challenge_method", "plain"); q.Set("code_challenge", p.verifier) }, "invalid_request"},
		{"PKCE method missing", func(q url.Values) { q.Del("code_challenge_method") }, "invalid_request"},
		{"PKCE challenge malformed", func(q url.Values) { q.Set("code_challenge", "short") }, "invalid_request"},
		{"wrong resource", func(q url.Values) { q.Set("resource", "https://other.example/mcp") }, "invalid_target"},
		{"resource with a trailing slash", func(q url.Values) { q.Set("resource", e.issuer+"/mcp/") }, "invalid_target"},
		{"two resources", func(q url.Values) { q["resource"] = []string{e.issuer + "/mcp", e.issuer + "/mcp"} }, "invalid_target"},
		{"unknown scope", func(q url.Values) { q.Set("scope", "articles:read admin") }, "invalid_scope"},
		{"response_type token", func(q url.Values) { q.Set("response_type", "token") }, "unsupported_response_type"},
		{"response_type missing", func(q url.Values) { q.Del("response_type") }, "invalid_request"},
		{"repeated state", func(q url.Values) { q.Add("state", "again") }, "invalid_request"},
		{"fragment response mode", func(q url.Values) { q.Set("response_mode", "fragment") }, "invalid_request"},
		{"prompt none without a session", func(q url.Values) { q.Set("prompt", "none") }, "login_required"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q := authParams(id, loopbackRedirect, p)
			tc.edit(q)
			b := e.browser()
			pg := b.get(e.authorizeURL(q))
			if pg.StatusCode != http.StatusFound {
				t.Fatalf("status %d, want 302:\n%s", pg.StatusCode, pg.body)
			}
			got := b.redirectQuery(pg, loopbackRedirect)
			if got.Get("error") != tc.code || got.Get("iss") != e.issuer || got.Get("error_description") == "" || got.Get("code") != "" {
				t.Errorf("redirect query %v: want error %q with a description and iss", got, tc.code)
			}
			if tc.name != "repeated state" && got.Get("state") != q.Get("state") {
				t.Errorf("state %q, want %q", got.Get("state"), q.Get("state"))
			}

			q.Set("client_id", dynamic)
			pg = e.browser().get(e.authorizeURL(q))
			if pg.StatusCode != http.StatusBadRequest || pg.Header.Get("Location") != "" {
				t.Fatalf("self-registered client: %d Location %q, want 400 and no redirect", pg.StatusCode, pg.Header.Get("Location"))
			}
			if !strings.Contains(pg.body, tc.code) || !strings.Contains(pg.body, `href="`+loopbackRedirect+`?error=`+tc.code) {
				t.Errorf("self-registered client: the page lacks the error %q or the link back:\n%s", tc.code, pg.body)
			}
		})
	}
	t.Run("no resource binds the default", func(t *testing.T) {
		q := authParams(id, loopbackRedirect, p)
		q.Del("scope") // and no scope means articles:read
		got := e.browser().authorize(q)
		f := url.Values{"grant_type": {"authorization_code"}, "client_id": {id}, "code": {got.Get("code")},
			"redirect_uri": {loopbackRedirect}, "code_verifier": {p.verifier}}
		resp, body := e.postForm(authserver.PathToken, f, nil, nil)
		tk := decodeTokens(t, resp, body)
		if tk.Scope != "articles:read" {
			t.Errorf("scope %q, want articles:read", tk.Scope)
		}
		if _, err := e.verify(tk.AccessToken); err != nil {
			t.Errorf("VerifyAccessToken of a token bound by default: %v", err)
		}
	})
}

// TestOneAudiencePerToken: with the REST API as a second resource, a
// client gets a token for the resource it names, and each resource's
// verifier refuses the other's tokens (RFC 8707: one audience per token).
func TestOneAudiencePerToken(t *testing.T) {
	t.Parallel()
	var rest string
	e := newEnv(t, "", func(c *authserver.Config) {
		rest = strings.TrimSuffix(c.Resource, "/mcp") + "/api/v1"
		c.Resources = []string{rest}
	})
	id := e.register()
	token := func(resource string) string {
		t.Helper()
		p := newPKCE()
		q := authParams(id, loopbackRedirect, p)
		if resource != "" {
			q.Set("resource", resource)
		}
		got := e.browser().authorize(q)
		f := url.Values{"grant_type": {"authorization_code"}, "client_id": {id}, "code": {got.Get("code")},
			"redirect_uri": {loopbackRedirect}, "code_verifier": {p.verifier}}
		resp, body := e.postForm(authserver.PathToken, f, nil, nil)
		return decodeTokens(t, resp, body).AccessToken
	}
	forREST, forMCP := token(rest), token("")
	verifyREST := e.srv.VerifierFor(rest)
	if _, err := verifyREST(t.Context(), forREST); err != nil {
		t.Errorf("the REST verifier refused a token for the REST API: %v", err)
	}
	if _, err := e.verify(forREST); !errors.Is(err, authserver.ErrWrongAudience) {
		t.Errorf("the MCP verifier on a token for the REST API: %v, want ErrWrongAudience", err)
	}
	if _, err := verifyREST(t.Context(), forMCP); !errors.Is(err, authserver.ErrWrongAudience) {
		t.Errorf("the REST verifier on a token for /mcp: %v, want ErrWrongAudience", err)
	}
	if _, err := e.verify(forMCP); err != nil {
		t.Errorf("the MCP verifier refused a token for /mcp: %v", err)
	}
}
