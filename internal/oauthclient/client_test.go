package oauthclient

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/2coffee/mcp-2coffee/internal/testkit"

	"github.com/google/go-cmp/cmp"

	"github.com/2coffee/mcp-2coffee/internal/oauthclient/oauthtest"
	"github.com/2coffee/mcp-2coffee/internal/tokencache"
)

// okMCP stands in for the MCP server behind the resource server.
var okMCP = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, `{"jsonrpc":"2.0","id":1,"result":{}}`)
})

type fixture struct {
	t       *testing.T
	as      *oauthtest.AuthServer
	rs      *oauthtest.ResourceServer
	c       *Client
	store   *tokencache.Store
	browser *oauthtest.Browser
	stderr  *testkit.Buffer
}

func newFixture(t *testing.T, aso oauthtest.ASOptions, rso oauthtest.RSOptions, o Options) *fixture {
	t.Helper()
	f := &fixture{t: t, browser: &oauthtest.Browser{}, stderr: &testkit.Buffer{}}
	f.as = oauthtest.NewAuthServer(t, aso)
	f.rs = oauthtest.NewResourceServer(t, f.as, okMCP, rso)
	store, err := tokencache.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	f.store = store
	f.c = f.newClient(o)
	return f
}

func (f *fixture) newClient(o Options) *Client {
	f.t.Helper()
	if o.Store == nil {
		o.Store = f.store
	}
	if o.OpenBrowser == nil {
		o.OpenBrowser = f.browser.Open
	}
	if o.Stderr == nil {
		o.Stderr = f.stderr
	}
	if o.Timeout == 0 {
		o.Timeout = 10 * time.Second
	}
	c, err := New(o)
	if err != nil {
		f.t.Fatal(err)
	}
	return c
}

// request sends one JSON-RPC request to the resource server with the
// client's current token, and returns the response and the token sent.
func (f *fixture) request(c *Client, method string) (*http.Response, string) {
	f.t.Helper()
	ctx := context.Background()
	tok, err := c.AccessToken(ctx, f.rs.URL())
	if err != nil {
		f.t.Fatal(err)
	}
	body := fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"method":%q}`, method)
	req, _ := http.NewRequest(http.MethodPost, f.rs.URL(), strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp, tok
}

// do sends method, runs Authorize on a 401/403 the way the bridge's
// transport does (at most MaxAuthorizations times), and returns the final
// status.
func (f *fixture) do(c *Client, method string) (int, error) {
	f.t.Helper()
	for i := 0; ; i++ {
		resp, tok := f.request(c, method)
		if resp.StatusCode != http.StatusUnauthorized && resp.StatusCode != http.StatusForbidden {
			if tok != "" {
				c.Accepted(f.rs.URL())
			}
			return resp.StatusCode, nil
		}
		if i == MaxAuthorizations {
			return resp.StatusCode, nil
		}
		retry, err := c.Authorize(context.Background(), f.rs.URL(), ParseChallenge(resp.StatusCode, resp.Header), tok)
		if err != nil {
			return 0, err
		}
		if !retry {
			return resp.StatusCode, nil
		}
	}
}

func TestSignInWithDynamicRegistration(t *testing.T) {
	t.Parallel()
	f := newFixture(t, oauthtest.ASOptions{}, oauthtest.RSOptions{ChallengeScope: "articles:read"}, Options{})
	status, err := f.do(f.c, "tools/list")
	if err != nil {
		t.Fatal(err)
	}
	if status != http.StatusOK {
		t.Fatalf("status after sign-in = %d, want 200", status)
	}
	regs, auths, toks, _, _ := f.as.Snapshot()
	if len(regs) != 1 || len(auths) != 1 || len(toks) != 1 {
		t.Fatalf("registrations, authorizations, token requests = %d, %d, %d; want 1, 1, 1", len(regs), len(auths), len(toks))
	}

	// The registration: a native public client with a loopback redirect.
	reg := regs[0]
	redirect := reg["redirect_uris"].([]any)[0].(string)
	if !strings.HasPrefix(redirect, "http://127.0.0.1:") || !strings.HasSuffix(redirect, "/callback") {
		t.Errorf("redirect URI = %q, want http://127.0.0.1:PORT/callback", redirect)
	}
	for k, want := range map[string]any{
		"application_type":           "native",
		"token_endpoint_auth_method": "none",
		"client_name":                "mcp-2coffee",
		"grant_types":                []any{"authorization_code", "refresh_token"},
		"response_types":             []any{"code"},
	} {
		if diff := cmp.Diff(want, reg[k]); diff != "" {
			t.Errorf("registration %s (-want +got):\n%s", k, diff)
		}
	}

	// The authorization request: PKCE S256, state, resource, scope.
	a := auths[0]
	for k, want := range map[string]string{
		"response_type":         "code",
		"client_id":             "client-1",
		"redirect_uri":          redirect,
		"code_challenge_method": "S256",
		"resource":              f.rs.URL(),
		"scope":                 "articles:read",
	} {
		if got := a.Get(k); got != want {
			t.Errorf("authorization %s = %q, want %q", k, got, want)
		}
	}
	if len(a.Get("state")) < 43 {
		t.Errorf("state %q is shorter than 32 random bytes", a.Get("state"))
	}

	// The token request: the code, the verifier for the challenge, the same
	// resource, the client as a public client.
	tf := toks[0].Form
	if got := s256(tf.Get("code_verifier")); got != a.Get("code_challenge") {
		t.Errorf("S256(code_verifier) = %q, want the code_challenge %q", got, a.Get("code_challenge"))
	}
	for k, want := range map[string]string{
		"grant_type":   "authorization_code",
		"redirect_uri": redirect,
		"resource":     f.rs.URL(),
		"client_id":    "client-1",
	} {
		if got := tf.Get(k); got != want {
			t.Errorf("token request %s = %q, want %q", k, got, want)
		}
	}
	if toks[0].AuthMethod != "none" || tf.Has("client_secret") || toks[0].Header.Get("Authorization") != "" {
		t.Errorf("token request authenticated as %s, want a public client (none)", toks[0].AuthMethod)
	}

	// The URL is always printed, and opened.
	if opened := f.browser.Opened(); len(opened) != 1 || !strings.Contains(f.stderr.String(), opened[0]) {
		t.Errorf("stderr %q does not show the opened URL %q", f.stderr.String(), opened)
	}

	// Everything is cached: a new process signs nothing in.
	e, err := f.store.Load(f.rs.URL())
	if err != nil {
		t.Fatal(err)
	}
	if e.Client.ID != "client-1" || e.Client.Kind != "dynamic" || e.Client.RedirectURI != redirect || e.Issuer != f.as.Issuer() {
		t.Errorf("cached client = %+v, issuer %q", e.Client, e.Issuer)
	}
	if e.Token.Scope != "articles:read" || e.Token.RefreshToken == "" || e.Token.Expiry.IsZero() {
		t.Errorf("cached token scope %q, refresh token set %v, expiry %v", e.Token.Scope, e.Token.RefreshToken != "", e.Token.Expiry)
	}
	c2 := f.newClient(Options{OpenBrowser: func(context.Context, string) error {
		t.Error("the browser was opened although a token is cached")
		return nil
	}})
	if status, err := f.do(c2, "tools/list"); err != nil || status != http.StatusOK {
		t.Fatalf("second client: status %d, err %v; want 200", status, err)
	}
	if _, n, _ := f.as.Counts(); n != 1 {
		t.Errorf("authorization requests = %d after reuse, want 1", n)
	}
}

func TestRegisteredClientIsReused(t *testing.T) {
	f := newFixture(t, oauthtest.ASOptions{}, oauthtest.RSOptions{}, Options{})
	if err := f.c.Login(context.Background(), f.rs.URL()); err != nil {
		t.Fatal(err)
	}
	c2 := f.newClient(Options{})
	if err := c2.Login(context.Background(), f.rs.URL()); err != nil {
		t.Fatal(err)
	}
	regs, auths, _, _, _ := f.as.Snapshot()
	if len(regs) != 1 {
		t.Errorf("registrations = %d, want 1 (reused)", len(regs))
	}
	if len(auths) != 2 || auths[0].Get("redirect_uri") != auths[1].Get("redirect_uri") || auths[1].Get("client_id") != "client-1" {
		t.Errorf("second sign-in used client %q at %q, want client-1 at %q", auths[1].Get("client_id"), auths[1].Get("redirect_uri"), auths[0].Get("redirect_uri"))
	}
}

func TestRegisteredClientOnBusyPortRegistersAgain(t *testing.T) {
	f := newFixture(t, oauthtest.ASOptions{}, oauthtest.RSOptions{}, Options{})
	if err := f.c.Login(context.Background(), f.rs.URL()); err != nil {
		t.Fatal(err)
	}
	_, auths, _, _, _ := f.as.Snapshot()
	u, _ := url.Parse(auths[0].Get("redirect_uri"))
	// Another bridge holds the port now.
	busy, err := listenCallback(mustAtoi(t, u.Port()))
	if err != nil {
		t.Fatal(err)
	}
	defer busy.close()
	if err := f.newClient(Options{}).Login(context.Background(), f.rs.URL()); err != nil {
		t.Fatal(err)
	}
	regs, auths, _, _, _ := f.as.Snapshot()
	if len(regs) != 2 || auths[1].Get("redirect_uri") == auths[0].Get("redirect_uri") {
		t.Errorf("registrations = %d, redirects %q and %q; want a new registration on another port", len(regs), auths[0].Get("redirect_uri"), auths[1].Get("redirect_uri"))
	}
}

func mustAtoi(t *testing.T, s string) int {
	var n int
	if _, err := fmt.Sscan(s, &n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestDiscovery(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name         string
		aso          oauthtest.ASOptions
		rso          oauthtest.RSOptions
		wantRS       []string // PRM paths requested on the resource server
		wantMetadata []string // metadata paths requested on the authorization server
	}{{
		name:         "challenge URL first",
		rso:          oauthtest.RSOptions{PRMAt: "/custom/metadata.json"},
		wantRS:       []string{"/custom/metadata.json"},
		wantMetadata: []string{"/.well-known/oauth-authorization-server"},
	}, {
		name:         "path form without a challenge URL",
		rso:          oauthtest.RSOptions{NoHeader: true},
		wantRS:       []string{"/.well-known/oauth-protected-resource/mcp"},
		wantMetadata: []string{"/.well-known/oauth-authorization-server"},
	}, {
		name:         "root form last",
		rso:          oauthtest.RSOptions{NoHeader: true, PRMAt: "root"},
		wantRS:       []string{"/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-protected-resource"},
		wantMetadata: []string{"/.well-known/oauth-authorization-server"},
	}, {
		name:         "OpenID configuration",
		aso:          oauthtest.ASOptions{MetadataPaths: []string{"/.well-known/openid-configuration"}},
		rso:          oauthtest.RSOptions{},
		wantRS:       []string{"/.well-known/oauth-protected-resource/mcp"},
		wantMetadata: []string{"/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"},
	}, {
		name:         "issuer with a path, RFC 8414",
		aso:          oauthtest.ASOptions{PathPrefix: "/tenant1"},
		wantRS:       []string{"/.well-known/oauth-protected-resource/mcp"},
		wantMetadata: []string{"/.well-known/oauth-authorization-server/tenant1"},
	}, {
		name:         "issuer with a path, OpenID path appended",
		aso:          oauthtest.ASOptions{PathPrefix: "/tenant1", MetadataPaths: []string{"/tenant1/.well-known/openid-configuration"}},
		wantRS:       []string{"/.well-known/oauth-protected-resource/mcp"},
		wantMetadata: []string{"/.well-known/oauth-authorization-server/tenant1", "/.well-known/openid-configuration/tenant1", "/tenant1/.well-known/openid-configuration"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, tc.aso, tc.rso, Options{})
			if status, err := f.do(f.c, "tools/list"); err != nil || status != http.StatusOK {
				t.Fatalf("status %d, err %v; want 200", status, err)
			}
			if diff := cmp.Diff(tc.wantRS, f.rs.WellKnownPaths()); diff != "" {
				t.Errorf("resource server requests (-want +got):\n%s", diff)
			}
			_, _, _, _, meta := f.as.Snapshot()
			if diff := cmp.Diff(tc.wantMetadata, meta); diff != "" {
				t.Errorf("metadata requests (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRefusals(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		aso       oauthtest.ASOptions
		rso       oauthtest.RSOptions
		wantErr   string
		wantAuths int // authorization requests made
	}{{
		name:    "no S256",
		aso:     oauthtest.ASOptions{NoS256: true},
		wantErr: "does not support PKCE with S256",
	}, {
		name:    "resource mismatch",
		rso:     oauthtest.RSOptions{Resource: "https://evil.example.com/mcp"},
		wantErr: "protected resource metadata is for another resource",
	}, {
		name:    "resource on another port",
		rso:     oauthtest.RSOptions{Resource: "http://127.0.0.1:1/mcp"},
		wantErr: "protected resource metadata is for another resource",
	}, {
		name:    "issuer mismatch",
		aso:     oauthtest.ASOptions{IssuerInMetadata: "https://other.example.com"},
		wantErr: `names issuer "https://other.example.com"`,
	}, {
		name:      "wrong iss",
		aso:       oauthtest.ASOptions{IssSupported: true, Iss: "https://evil.example.com"},
		wantErr:   `comes from issuer "https://evil.example.com"`,
		wantAuths: 1,
	}, {
		name:      "wrong iss, not advertised",
		aso:       oauthtest.ASOptions{Iss: "https://evil.example.com"},
		wantErr:   `comes from issuer "https://evil.example.com"`,
		wantAuths: 1,
	}, {
		name:      "missing iss although advertised",
		aso:       oauthtest.ASOptions{IssSupported: true, OmitIss: true},
		wantErr:   "has no iss",
		wantAuths: 1,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, tc.aso, tc.rso, Options{})
			_, err := f.do(f.c, "tools/list")
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error = %v, want one containing %q", err, tc.wantErr)
			}
			_, auths, toks := f.as.Counts()
			if auths != tc.wantAuths || toks != 0 {
				t.Errorf("authorization requests, token requests = %d, %d; want %d, 0", auths, toks, tc.wantAuths)
			}
			if e, err := f.store.Load(f.rs.URL()); err == nil && e.Token != nil {
				t.Errorf("a token was cached after a refusal")
			}
		})
	}
}

func TestIssAccepted(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		aso  oauthtest.ASOptions
	}{
		{"advertised and sent", oauthtest.ASOptions{IssSupported: true}},
		{"neither advertised nor sent", oauthtest.ASOptions{}},
		{"sent without being advertised", oauthtest.ASOptions{SendIss: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, tc.aso, oauthtest.RSOptions{}, Options{})
			if status, err := f.do(f.c, "tools/list"); err != nil || status != http.StatusOK {
				t.Errorf("status %d, err %v; want 200", status, err)
			}
		})
	}
}

func TestScopeSelection(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		aso       oauthtest.ASOptions
		rso       oauthtest.RSOptions
		wantScope string
		wantSet   bool
	}{
		{"from the challenge", oauthtest.ASOptions{}, oauthtest.RSOptions{ChallengeScope: "a:read", ScopesSupported: []string{"a:read", "a:write"}}, "a:read", true},
		{"from scopes_supported", oauthtest.ASOptions{}, oauthtest.RSOptions{ScopesSupported: []string{"a:read", "a:write"}}, "a:read a:write", true},
		{"omitted", oauthtest.ASOptions{}, oauthtest.RSOptions{}, "", false},
		{"offline_access when the AS lists it", oauthtest.ASOptions{ScopesSupported: []string{"a:read", "offline_access"}}, oauthtest.RSOptions{ScopesSupported: []string{"a:read"}}, "a:read offline_access", true},
		{"no offline_access alone", oauthtest.ASOptions{ScopesSupported: []string{"offline_access"}}, oauthtest.RSOptions{}, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, tc.aso, tc.rso, Options{})
			if status, err := f.do(f.c, "tools/list"); err != nil || status != http.StatusOK {
				t.Fatalf("status %d, err %v", status, err)
			}
			_, auths, _, _, _ := f.as.Snapshot()
			if got, set := auths[0].Get("scope"), auths[0].Has("scope"); got != tc.wantScope || set != tc.wantSet {
				t.Errorf("scope = %q (present %v), want %q (present %v)", got, set, tc.wantScope, tc.wantSet)
			}
		})
	}
}

func TestStepUp(t *testing.T) {
	f := newFixture(t, oauthtest.ASOptions{}, oauthtest.RSOptions{
		ChallengeScope: "read",
		Require: func(method string) []string {
			if method == "tools/call" {
				return []string{"read", "write"}
			}
			return []string{"read"}
		},
	}, Options{})
	if status, err := f.do(f.c, "tools/list"); err != nil || status != http.StatusOK {
		t.Fatalf("tools/list: status %d, err %v", status, err)
	}
	if status, err := f.do(f.c, "tools/call"); err != nil || status != http.StatusOK {
		t.Fatalf("tools/call: status %d, err %v", status, err)
	}
	regs, auths, _, _, _ := f.as.Snapshot()
	var scopes []string
	for _, a := range auths {
		scopes = append(scopes, a.Get("scope"))
	}
	if diff := cmp.Diff([]string{"read", "read write"}, scopes); diff != "" {
		t.Errorf("requested scopes (-want +got):\n%s", diff)
	}
	if len(regs) != 1 {
		t.Errorf("registrations = %d, want 1", len(regs))
	}
}

func TestStepUpNotRepeatedForGrantedScope(t *testing.T) {
	t.Parallel()
	f := newFixture(t, oauthtest.ASOptions{}, oauthtest.RSOptions{ChallengeScope: "admin", AlwaysForbid: "admin"}, Options{})
	status, err := f.do(f.c, "tools/list")
	if err != nil {
		t.Fatal(err)
	}
	if status != http.StatusForbidden {
		t.Errorf("status = %d, want 403 returned to the caller", status)
	}
	if _, auths, _ := f.as.Counts(); auths != 1 {
		t.Errorf("authorization requests = %d, want 1: the token already has the scope the server asks for", auths)
	}
}

func TestStepUpBounded(t *testing.T) {
	t.Parallel()
	// The server does not say what it granted, so the client cannot tell
	// that asking again is useless: MaxAuthorizations bounds it.
	f := newFixture(t, oauthtest.ASOptions{OmitScope: true}, oauthtest.RSOptions{ChallengeScope: "admin", AlwaysForbid: "admin"}, Options{})
	status, err := f.do(f.c, "tools/list")
	if err != nil {
		t.Fatal(err)
	}
	if status != http.StatusForbidden {
		t.Errorf("status = %d, want 403", status)
	}
	if _, auths, _ := f.as.Counts(); auths != MaxAuthorizations {
		t.Errorf("authorization requests = %d, want %d", auths, MaxAuthorizations)
	}
}

func TestRepeatedRefusalsStop(t *testing.T) {
	t.Parallel()
	f := newFixture(t, oauthtest.ASOptions{}, oauthtest.RSOptions{RejectAll: true}, Options{})
	status, err := f.do(f.c, "tools/list")
	if err != nil || status != http.StatusUnauthorized {
		t.Fatalf("first request: status %d, err %v; want 401 after %d attempts", status, err, MaxAuthorizations)
	}
	_, auths, toks := f.as.Counts()
	if auths != 2 || toks != 3 {
		t.Errorf("authorizations, token requests = %d, %d; want 2, 3 (sign-in, refresh, sign-in)", auths, toks)
	}
	// The next request does not start over.
	_, err = f.do(f.c, "tools/list")
	if err == nil || !strings.Contains(err.Error(), "refused the last 3 tokens") {
		t.Fatalf("second request: error = %v, want the client to give up", err)
	}
	if _, a, tk := f.as.Counts(); a != auths || tk != toks {
		t.Errorf("the second request authorized again (%d, %d)", a, tk)
	}
}

func TestRefreshOn401(t *testing.T) {
	t.Parallel()
	f := newFixture(t, oauthtest.ASOptions{}, oauthtest.RSOptions{ChallengeScope: "read"}, Options{})
	if status, err := f.do(f.c, "tools/list"); err != nil || status != http.StatusOK {
		t.Fatalf("status %d, err %v", status, err)
	}
	old := mustToken(t, f.store, f.rs.URL())
	f.as.RevokeAccessTokens()
	if status, err := f.do(f.c, "tools/list"); err != nil || status != http.StatusOK {
		t.Fatalf("after revocation: status %d, err %v", status, err)
	}
	_, auths, toks, _, _ := f.as.Snapshot()
	if len(auths) != 1 {
		t.Errorf("authorization requests = %d, want 1 (refresh, not a new sign-in)", len(auths))
	}
	last := toks[len(toks)-1].Form
	for k, want := range map[string]string{
		"grant_type":    "refresh_token",
		"refresh_token": old.RefreshToken,
		"resource":      f.rs.URL(),
		"client_id":     "client-1",
	} {
		if got := last.Get(k); got != want {
			t.Errorf("refresh request %s = %q, want %q", k, got, want)
		}
	}
	if now := mustToken(t, f.store, f.rs.URL()); now.AccessToken == old.AccessToken || now.RefreshToken == old.RefreshToken {
		t.Errorf("tokens not rotated in the cache")
	}
}

func TestSignInAgainWhenRefreshFails(t *testing.T) {
	f := newFixture(t, oauthtest.ASOptions{}, oauthtest.RSOptions{}, Options{})
	if status, err := f.do(f.c, "tools/list"); err != nil || status != http.StatusOK {
		t.Fatalf("status %d, err %v", status, err)
	}
	f.as.RevokeAll()
	if status, err := f.do(f.c, "tools/list"); err != nil || status != http.StatusOK {
		t.Fatalf("after revocation: status %d, err %v", status, err)
	}
	regs, auths, toks := f.as.Counts()
	if regs != 1 || auths != 2 || toks != 3 {
		t.Errorf("registrations, authorizations, token requests = %d, %d, %d; want 1, 2, 3 (refused refresh, then sign-in)", regs, auths, toks)
	}
}

func TestExpiredTokenWithoutRefreshTokenSignsIn(t *testing.T) {
	t.Parallel()
	now := time.Now()
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	f := newFixture(t, oauthtest.ASOptions{}, oauthtest.RSOptions{}, Options{Now: clock})
	if status, err := f.do(f.c, "tools/list"); err != nil || status != http.StatusOK {
		t.Fatalf("status %d, err %v", status, err)
	}
	// The refresh token is gone and the access token has expired.
	e, _ := f.store.Load(f.rs.URL())
	e.Token.RefreshToken = ""
	f.store.Save(e)
	mu.Lock()
	now = now.Add(2 * time.Hour)
	mu.Unlock()
	c2 := f.newClient(Options{Now: clock})
	if tok, _ := c2.AccessToken(context.Background(), f.rs.URL()); tok != "" {
		t.Errorf("AccessToken returned an expired token")
	}
	if status, err := f.do(c2, "tools/list"); err != nil || status != http.StatusOK {
		t.Fatalf("status %d, err %v; want a new sign-in", status, err)
	}
	if _, auths, _ := f.as.Counts(); auths != 2 {
		t.Errorf("authorizations = %d, want 2", auths)
	}
}

func TestRefreshBeforeExpiry(t *testing.T) {
	t.Parallel()
	now := time.Now()
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	f := newFixture(t, oauthtest.ASOptions{ExpiresIn: 600}, oauthtest.RSOptions{}, Options{Now: clock})
	if status, err := f.do(f.c, "tools/list"); err != nil || status != http.StatusOK {
		t.Fatalf("status %d, err %v", status, err)
	}
	first := mustToken(t, f.store, f.rs.URL())
	tok, _ := f.c.AccessToken(context.Background(), f.rs.URL())
	if tok != first.AccessToken {
		t.Fatalf("token changed while fresh")
	}
	mu.Lock()
	now = now.Add(590 * time.Second) // within the refresh margin
	mu.Unlock()
	tok, err := f.c.AccessToken(context.Background(), f.rs.URL())
	if err != nil {
		t.Fatal(err)
	}
	if tok == first.AccessToken || tok == "" {
		t.Fatalf("token not refreshed before expiry")
	}
	_, _, toks, _, _ := f.as.Snapshot()
	if g := toks[len(toks)-1].Form.Get("grant_type"); g != "refresh_token" || len(toks) != 2 {
		t.Errorf("token requests = %d, last grant %q; want 2, refresh_token", len(toks), g)
	}
}

func mustToken(t *testing.T, s *tokencache.Store, u string) *tokencache.Token {
	t.Helper()
	e, err := s.Load(u)
	if err != nil {
		t.Fatal(err)
	}
	if e.Token == nil {
		t.Fatal("no token cached")
	}
	return e.Token
}

func TestTokenEndpointAuthMethods(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		aso  oauthtest.ASOptions
		o    Options
		want string
	}{
		{"registered basic", oauthtest.ASOptions{AuthMethods: []string{"client_secret_basic"}, RegistrationSecret: "s3cret", RegistrationAuthMethod: "client_secret_basic"}, Options{}, "client_secret_basic"},
		{"registered post", oauthtest.ASOptions{AuthMethods: []string{"client_secret_post"}, RegistrationSecret: "s3cret", RegistrationAuthMethod: "client_secret_post"}, Options{}, "client_secret_post"},
		{"registered none", oauthtest.ASOptions{AuthMethods: []string{"none"}, RegistrationAuthMethod: "none"}, Options{}, "none"},
		{"registered secret, method from metadata", oauthtest.ASOptions{AuthMethods: []string{"client_secret_post"}, RegistrationSecret: "s3cret", RegistrationAuthMethod: "client_secret_post"}, Options{}, "client_secret_post"},
		{"preregistered", oauthtest.ASOptions{AuthMethods: []string{"client_secret_basic"}, NoRegistration: true, Preregistered: map[string]string{"pre": "pw:with/odd chars"}}, Options{ClientID: "pre", ClientSecret: "pw:with/odd chars"}, "client_secret_basic"},
		{"preregistered public", oauthtest.ASOptions{NoRegistration: true, Preregistered: map[string]string{"pub": ""}}, Options{ClientID: "pub"}, "none"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, tc.aso, oauthtest.RSOptions{}, tc.o)
			if status, err := f.do(f.c, "tools/list"); err != nil || status != http.StatusOK {
				t.Fatalf("status %d, err %v", status, err)
			}
			_, _, toks, _, _ := f.as.Snapshot()
			tr := toks[0]
			if tr.AuthMethod != tc.want {
				t.Errorf("authenticated with %s, want %s", tr.AuthMethod, tc.want)
			}
			if tc.want == "client_secret_basic" && (tr.Form.Has("client_secret") || tr.Form.Has("client_id")) {
				t.Errorf("basic authentication also sent credentials in the body: %v", tr.Form)
			}
			e, _ := f.store.Load(f.rs.URL())
			if tc.o.ClientSecret != "" && strings.Contains(fmt.Sprint(e.Client), tc.o.ClientSecret) {
				t.Errorf("a pre-registered client secret was written to the cache")
			}
		})
	}
}

func TestClientIDMetadataDocument(t *testing.T) {
	t.Parallel()
	const cimd = "https://client.example.com/mcp-2coffee.json"
	f := newFixture(t, oauthtest.ASOptions{CIMD: true}, oauthtest.RSOptions{}, Options{ClientMetadataURL: cimd})
	if status, err := f.do(f.c, "tools/list"); err != nil || status != http.StatusOK {
		t.Fatalf("status %d, err %v", status, err)
	}
	regs, auths, toks, _, _ := f.as.Snapshot()
	if len(regs) != 0 || auths[0].Get("client_id") != cimd || toks[0].Form.Get("client_id") != cimd {
		t.Errorf("registrations %d, client_id %q; want 0 and the metadata URL", len(regs), auths[0].Get("client_id"))
	}
	// Without server support, the URL is not used: dynamic registration is.
	f = newFixture(t, oauthtest.ASOptions{}, oauthtest.RSOptions{}, Options{ClientMetadataURL: cimd})
	if status, err := f.do(f.c, "tools/list"); err != nil || status != http.StatusOK {
		t.Fatalf("status %d, err %v", status, err)
	}
	if regs, _, _ := f.as.Counts(); regs != 1 {
		t.Errorf("registrations = %d, want 1", regs)
	}
}

func TestNoRegistrationMethod(t *testing.T) {
	t.Parallel()
	f := newFixture(t, oauthtest.ASOptions{NoRegistration: true}, oauthtest.RSOptions{}, Options{})
	_, err := f.do(f.c, "tools/list")
	if err == nil || !strings.Contains(err.Error(), "--client-id") {
		t.Fatalf("error = %v, want a hint about --client-id", err)
	}
}

func TestLegacyFallback(t *testing.T) {
	t.Parallel()
	// 2025-03-26: no protected resource metadata, no authorization server
	// metadata: default endpoints on the MCP server's origin.
	as := oauthtest.NewAuthServerHandler(oauthtest.ASOptions{NoMetadata: true})
	rs := oauthtest.NewResourceServer(t, as, okMCP, oauthtest.RSOptions{PRMAt: "none", MountAS: true})
	as.Server = rs.Server
	store, _ := tokencache.Open(t.TempDir())
	b := &oauthtest.Browser{}
	c, err := New(Options{Store: store, OpenBrowser: b.Open, Stderr: io.Discard, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, as: as, rs: rs, c: c, store: store, browser: b, stderr: &testkit.Buffer{}}
	if status, err := f.do(c, "tools/list"); err != nil || status != http.StatusOK {
		t.Fatalf("status %d, err %v", status, err)
	}
	regs, auths, toks, _, _ := as.Snapshot()
	if len(regs) != 1 || len(auths) != 1 || auths[0].Get("resource") != rs.URL() || toks[0].Form.Get("resource") != rs.URL() {
		t.Errorf("registrations %d, authorization %v, token %v; want resource %s on both", len(regs), auths, toks, rs.URL())
	}
	if got := b.Opened()[0]; !strings.HasPrefix(got, rs.Server.URL+"/authorize?") {
		t.Errorf("opened %q, want the default endpoint %s/authorize", got, rs.Server.URL)
	}
}

func TestLegacyMetadataWithSubpathIssuer(t *testing.T) {
	t.Parallel()
	// 2025-03-26 servers published metadata at the root whose issuer has a
	// path; the issuer check of later revisions does not apply to them.
	as := oauthtest.NewAuthServerHandler(oauthtest.ASOptions{PathPrefix: "/oauth", MetadataPaths: []string{"/.well-known/oauth-authorization-server"}})
	rs := oauthtest.NewResourceServer(t, as, okMCP, oauthtest.RSOptions{PRMAt: "none", MountAS: true})
	as.Server = rs.Server
	store, _ := tokencache.Open(t.TempDir())
	b := &oauthtest.Browser{}
	c, _ := New(Options{Store: store, OpenBrowser: b.Open, Stderr: io.Discard, Timeout: 10 * time.Second})
	f := &fixture{t: t, as: as, rs: rs, c: c, store: store, browser: b, stderr: &testkit.Buffer{}}
	if status, err := f.do(c, "tools/list"); err != nil || status != http.StatusOK {
		t.Fatalf("status %d, err %v", status, err)
	}
	if got := b.Opened()[0]; !strings.HasPrefix(got, rs.Server.URL+"/oauth/authorize?") {
		t.Errorf("opened %q, want the metadata's endpoint", got)
	}
}

func TestLoginAndLogout(t *testing.T) {
	t.Parallel()
	f := newFixture(t, oauthtest.ASOptions{Revocation: true}, oauthtest.RSOptions{ChallengeScope: "read"}, Options{})
	ctx := context.Background()
	if err := f.c.Login(ctx, f.rs.URL()); err != nil {
		t.Fatal(err)
	}
	tok := mustToken(t, f.store, f.rs.URL())
	if tok.Scope != "read" {
		t.Errorf("login scope = %q, want the challenge's %q", tok.Scope, "read")
	}
	if err := f.c.Logout(ctx, f.rs.URL()); err != nil {
		t.Fatal(err)
	}
	_, _, _, revs, _ := f.as.Snapshot()
	var got [][2]string
	for _, r := range revs {
		got = append(got, [2]string{r.Get("token"), r.Get("token_type_hint")})
		if r.Get("client_id") != "client-1" {
			t.Errorf("revocation without the client: %v", r)
		}
	}
	want := [][2]string{{tok.RefreshToken, "refresh_token"}, {tok.AccessToken, "access_token"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("revocations (-want +got):\n%s", diff)
	}
	if _, err := f.store.Load(f.rs.URL()); !errors.Is(err, tokencache.ErrNotFound) {
		t.Errorf("after logout Load = %v, want ErrNotFound", err)
	}
	if err := f.c.Logout(ctx, f.rs.URL()); !errors.Is(err, ErrNotSignedIn) {
		t.Errorf("second logout = %v, want ErrNotSignedIn", err)
	}
	if _, ok := f.as.Verify(tok.AccessToken, ""); ok {
		t.Errorf("the access token still works after logout")
	}
}

func TestLoginNotRequired(t *testing.T) {
	t.Parallel()
	open := httptest.NewServer(okMCP)
	defer open.Close()
	c, err := New(Options{Stderr: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Login(context.Background(), open.URL+"/mcp"); !errors.Is(err, ErrNoAuthRequired) {
		t.Errorf("Login on an open server = %v, want ErrNoAuthRequired", err)
	}
}

func TestStatusHidesSecrets(t *testing.T) {
	t.Parallel()
	f := newFixture(t, oauthtest.ASOptions{RegistrationSecret: "registered-secret", AuthMethods: []string{"client_secret_basic"}}, oauthtest.RSOptions{ChallengeScope: "read write"}, Options{})
	if err := f.c.Login(context.Background(), f.rs.URL()); err != nil {
		t.Fatal(err)
	}
	tok := mustToken(t, f.store, f.rs.URL())
	all, err := f.c.Status("")
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 1 {
		t.Fatalf("status entries = %d, want 1", len(all))
	}
	s := all[0]
	if s.ServerURL != f.rs.URL() || s.Issuer != f.as.Issuer() || s.ClientID != "client-1" || !s.SignedIn || !s.Refreshable ||
		!slices.Equal(s.Scopes, []string{"read", "write"}) || s.Expiry.IsZero() {
		t.Errorf("status = %+v", s)
	}
	text := fmt.Sprintf("%s %+v %#v", s.String(), s, s)
	for _, secret := range []string{tok.AccessToken, tok.RefreshToken, "registered-secret"} {
		if strings.Contains(text, secret) {
			t.Errorf("status output contains a secret: %s", text)
		}
	}
	one, err := StatusOf(f.store, "http://NOT-CACHED.example.com/mcp")
	if err != nil || len(one) != 1 || one[0].SignedIn || one[0].ServerURL != "http://not-cached.example.com/mcp" {
		t.Errorf("status of an unknown server = %+v, %v", one, err)
	}
}

func TestTimeout(t *testing.T) {
	f := newFixture(t, oauthtest.ASOptions{}, oauthtest.RSOptions{}, Options{
		Timeout:     200 * time.Millisecond,
		OpenBrowser: func(context.Context, string) error { return nil }, // the user never comes back
	})
	start := time.Now()
	_, err := f.do(f.c, "tools/list")
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("error = %v, want ErrTimeout", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("timed out after %s", d)
	}
	if !strings.Contains(err.Error(), "mcp-2coffee login") {
		t.Errorf("timeout message %q does not say what to do", err)
	}
}

func TestBrowserFailureStillPrintsURL(t *testing.T) {
	f := newFixture(t, oauthtest.ASOptions{}, oauthtest.RSOptions{}, Options{Timeout: 300 * time.Millisecond})
	f.c.opts.OpenBrowser = func(context.Context, string) error { return errors.New("no display") }
	_, err := f.do(f.c, "tools/list")
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("error = %v, want ErrTimeout", err)
	}
	out := f.stderr.String()
	if !strings.Contains(out, "no display") || !strings.Contains(out, "/authorize?") {
		t.Errorf("stderr = %q, want the browser error and the URL", out)
	}
}

func TestCallbackServer(t *testing.T) {
	t.Parallel()
	cb, err := listenCallback(0)
	if err != nil {
		t.Fatal(err)
	}
	defer cb.close()
	if !strings.HasPrefix(cb.redirectURI, "http://127.0.0.1:") || cb.ln.Addr().(interface{ String() string }).String()[:10] != "127.0.0.1:" {
		t.Fatalf("redirect URI %q, listening on %s; want 127.0.0.1", cb.redirectURI, cb.ln.Addr())
	}
	cb.start("good-state")
	get := func(q string) (int, string) {
		resp, err := http.Get(cb.redirectURI + "?" + q)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	// A forged or stale callback is refused and does not end the wait.
	if status, body := get("state=bad&code=stolen"); status != http.StatusBadRequest || !strings.Contains(body, "state does not match") {
		t.Errorf("wrong state: %d %q", status, body)
	}
	if status, body := get("state=good-state&code=c1&iss=https%3A%2F%2Fas"); status != http.StatusOK || !strings.Contains(body, "Signed in") {
		t.Errorf("good callback: %d %q", status, body)
	}
	res, err := cb.wait(context.Background(), time.Second)
	if err != nil || res.code != "c1" || res.iss != "https://as" || !res.issPresent {
		t.Errorf("wait = %+v, %v", res, err)
	}

	cb2, _ := listenCallback(0)
	defer cb2.close()
	if cb2.redirectURI == cb.redirectURI {
		t.Errorf("two callback servers share %s", cb.redirectURI)
	}
	cb2.start("s")
	resp, err := http.Get(cb2.redirectURI + "?state=s&error=access_denied&error_description=" + url.QueryEscape("<script>x</script>"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if strings.Contains(string(body), "<script>") {
		t.Errorf("the error page does not escape: %s", body)
	}
	if _, err := cb2.wait(context.Background(), time.Second); err == nil || !strings.Contains(err.Error(), "access_denied") {
		t.Errorf("denied: err = %v", err)
	}
}

func TestBrowserCommand(t *testing.T) {
	const u = "https://as.example.com/authorize?a=1&b=2"
	for _, tc := range []struct {
		env, goos string
		want      []string
	}{
		{"", "linux", []string{"xdg-open", u}},
		{"", "freebsd", []string{"xdg-open", u}},
		{"", "darwin", []string{"open", u}},
		{"", "windows", []string{"rundll32", "url.dll,FileProtocolHandler", u}},
		{"firefox", "linux", []string{"firefox", u}},
		{"firefox --new-tab %s", "linux", []string{"firefox", "--new-tab", u}},
		{"w3m:lynx", "linux", []string{"w3m", u}},
		{"  ", "darwin", []string{"open", u}},
	} {
		if diff := cmp.Diff(tc.want, BrowserCommand(tc.env, tc.goos, u)); diff != "" {
			t.Errorf("BrowserCommand(%q, %q) (-want +got):\n%s", tc.env, tc.goos, diff)
		}
	}
}

func TestParseChallenge(t *testing.T) {
	h := http.Header{}
	h.Add("WWW-Authenticate", `Basic realm="x", Bearer error="insufficient_scope", scope="a b", resource_metadata="https://rs/.well-known/oauth-protected-resource/mcp"`)
	got := ParseChallenge(403, h)
	want := Challenge{Status: 403, Error: "insufficient_scope", Scope: []string{"a", "b"}, ResourceMetadata: "https://rs/.well-known/oauth-protected-resource/mcp"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ParseChallenge (-want +got):\n%s", diff)
	}
	if got := ParseChallenge(401, http.Header{"Www-Authenticate": {`Bearer scope="unterminated`}}); got.Status != 401 || got.Scope != nil {
		t.Errorf("malformed challenge parsed as %+v", got)
	}
}

func TestResourceMatches(t *testing.T) {
	for _, tc := range []struct {
		resource, server string
		want             bool
	}{
		{"https://blog.example.com/mcp", "https://blog.example.com/mcp", true},
		{"https://BLOG.Example.COM/mcp", "https://blog.example.com/mcp", true},
		{"HTTPS://blog.example.com:443/mcp", "https://blog.example.com/mcp", true},
		{"http://127.0.0.1:80/mcp", "http://127.0.0.1/mcp", true},
		{"https://blog.example.com/", "https://blog.example.com", true},
		{"https://blog.example.com", "https://blog.example.com/", true},
		{"https://blog.example.com/mcp?tenant=a", "https://blog.example.com/mcp?tenant=a", true},
		{"https://blog.example.com", "https://blog.example.com/mcp", false},
		{"https://blog.example.com/", "https://blog.example.com/mcp", false},
		{"https://blog.example.com/blog", "https://blog.example.com/blog/mcp", false},
		{"https://blog.example.com/mcp/", "https://blog.example.com/mcp", false},
		{"https://BLOG.example.com:443/mcp/", "https://blog.example.com/mcp", false},
		{"https://blog.example.com/MCP", "https://blog.example.com/mcp", false},
		{"https://blog.example.com/mcp?tenant=b", "https://blog.example.com/mcp?tenant=a", false},
		{"https://blog.example.com/mcp", "https://blog.example.com/mcp?tenant=a", false},
		{"https://user@blog.example.com/mcp", "https://blog.example.com/mcp", false},
		{"ftp://blog.example.com/mcp", "ftp://blog.example.com/mcp", false},
		{"https://blog.example.com/mc", "https://blog.example.com/mcp", false},
		{"https://blog.example.com/mcp/v2", "https://blog.example.com/mcp", false},
		{"http://blog.example.com/mcp", "https://blog.example.com/mcp", false},
		{"https://evil.example.com/mcp", "https://blog.example.com/mcp", false},
		{"https://blog.example.com:8443/mcp", "https://blog.example.com/mcp", false},
		{"https://blog.example.com/mcp#x", "https://blog.example.com/mcp", false},
	} {
		if got := resourceMatches(tc.resource, tc.server); got != tc.want {
			t.Errorf("resourceMatches(%q, %q) = %v, want %v", tc.resource, tc.server, got, tc.want)
		}
	}
}

func TestNewValidatesOptions(t *testing.T) {
	for _, o := range []Options{
		{ClientSecret: "s"},
		{ClientMetadataURL: "http://client.example.com/doc.json"},
		{ClientMetadataURL: "https://client.example.com/"},
		{CallbackPort: 70000},
	} {
		if _, err := New(o); err == nil {
			t.Errorf("New(%+v) succeeded, want an error", o)
		}
	}
}

// TestDiscoveryNeedsAnOrigin: a server URL without an origin (relative, or
// with a zone) must not turn into relative well-known paths or an empty
// legacy issuer.
func TestDiscoveryNeedsAnOrigin(t *testing.T) {
	t.Parallel()
	c, err := New(Options{Stderr: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"/mcp", "mcp", "http://[fe80::1%25eth0]:3000/mcp"} {
		if info, err := c.discoverResource(t.Context(), u, ""); err == nil {
			t.Errorf("discoverResource(%q) = %+v, want an error", u, info)
		}
	}
}

func TestNewChecksTheGrant(t *testing.T) {
	for _, tt := range []struct {
		name string
		opts Options
		ok   bool
	}{
		{"the default", Options{}, true},
		{"client credentials with id and secret", Options{Grant: GrantClientCredentials, ClientID: "c", ClientSecret: "s"}, true},
		{"client credentials without a secret", Options{Grant: GrantClientCredentials, ClientID: "c"}, false},
		{"client credentials without an id", Options{Grant: GrantClientCredentials}, false},
		{"an unknown grant", Options{Grant: "password"}, false},
		{"client credentials with a key", Options{Grant: GrantClientCredentials, ClientID: "c", ClientKey: &ClientKey{}}, true},
		{"client credentials with a key and a secret", Options{Grant: GrantClientCredentials, ClientID: "c", ClientSecret: "s", ClientKey: &ClientKey{}}, false},
		{"a key with the code flow", Options{ClientID: "c", ClientKey: &ClientKey{}}, false},
	} {
		if _, err := New(tt.opts); (err == nil) != tt.ok {
			t.Errorf("%s: New error %v, want ok=%v", tt.name, err, tt.ok)
		}
	}
}
