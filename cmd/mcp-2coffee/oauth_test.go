package main

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/modelcontextprotocol/go-sdk/oauthex"

	"github.com/2coffee/mcp-2coffee/internal/cimd"
	"github.com/2coffee/mcp-2coffee/internal/store"
)

// callbackURL is where the test clients say they listen; nothing needs to:
// the test browser reads the redirect instead of following it.
const callbackURL = "http://127.0.0.1:9/callback"

var passwordRE = regexp.MustCompile(`(?s)First run: created the user "admin".*?shown only now:\s*\n\s+(\S+)\s*\n`)

// adminPassword is the first-run password of the OAuth user "admin".
func (s *liveServer) adminPassword(t *testing.T) string {
	t.Helper()
	m := passwordRE.FindStringSubmatch(s.logs())
	if m == nil {
		t.Fatalf("no admin password in the first-run output:\n%s", s.logs())
	}
	return m[1]
}

// signIn is a person at a browser: it loads the authorization URL, signs
// in when asked, approves, and returns the query of the redirect to the
// client (without following it).
type signIn struct {
	t          *testing.T
	user, pass string
	client     *http.Client
	approvals  atomic.Int32
	redirect   string // where the client expects the browser to land
	// upstream: sign in with the identity provider's button, not the
	// password form.
	upstream bool
}

// fakeBrowser is what $BROWSER runs in the bridge tests (see TestMain):
// sign in, approve, and deliver the redirect to the bridge's loopback
// callback, as a person's browser would.
func fakeBrowser(authURL string) error {
	b := newSignIn(nil, os.Getenv("MCP_2COFFEE_TEST_USER"), os.Getenv("MCP_2COFFEE_TEST_PASSWORD"))
	if log := os.Getenv("MCP_2COFFEE_TEST_BROWSER_LOG"); log != "" {
		f, err := os.OpenFile(log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err == nil {
			fmt.Fprintln(f, "opened")
			f.Close()
		}
	}
	loc, err := b.walk(authURL)
	if err != nil {
		return err
	}
	resp, err := http.Get(loc)
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

func newSignIn(t *testing.T, user, pass string) *signIn {
	jar, _ := cookiejar.New(nil)
	return &signIn{t: t, user: user, pass: pass, redirect: callbackURL, client: &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

var (
	// upstreamRE finds the sign-in page's link to the identity provider.
	upstreamRE = regexp.MustCompile(`<a class="button primary" id="upstream" href="([^"]+)">`)
	formRE     = regexp.MustCompile(`(?s)<form method="post" action="([^"]+)"[^>]*>(.*?)</form>`)
	hiddenRE   = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)
)

func (b *signIn) doErr(method, u string, form url.Values) (*http.Response, string, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		return nil, "", err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		pu, _ := url.Parse(u)
		req.Header.Set("Origin", pu.Scheme+"://"+pu.Host)
	}
	resp, err := b.client.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	text, _ := io.ReadAll(resp.Body)
	return resp, string(text), nil
}

// submitErr posts the first form of page whose action ends with suffix,
// with its hidden fields plus extra.
func (b *signIn) submitErr(base, page, suffix string, extra url.Values) (*http.Response, string, error) {
	for _, f := range formRE.FindAllStringSubmatch(page, -1) {
		if !strings.HasSuffix(f[1], suffix) {
			continue
		}
		form := url.Values{}
		for _, h := range hiddenRE.FindAllStringSubmatch(f[2], -1) {
			form.Set(h[1], htmlUnescape(h[2]))
		}
		for k, v := range extra {
			form[k] = v
		}
		return b.doErr(http.MethodPost, resolveURL(base, htmlUnescape(f[1])), form)
	}
	return nil, "", fmt.Errorf("no form posting to …%s in:\n%s", suffix, page)
}

func htmlUnescape(s string) string {
	return strings.NewReplacer("&amp;", "&", "&#34;", `"`, "&#39;", "'", "&lt;", "<", "&gt;", ">", "&#43;", "+").Replace(s)
}

func resolveURL(base, ref string) string {
	b, _ := url.Parse(base)
	r, _ := url.Parse(ref)
	return b.ResolveReference(r).String()
}

// walk loads authURL, signs in when asked, approves when asked, and
// returns where the server finally redirects the browser.
func (b *signIn) walk(authURL string) (string, error) {
	resp, page, err := b.doErr(http.MethodGet, authURL, nil)
	if err != nil {
		return "", err
	}
	if m := upstreamRE.FindStringSubmatch(page); b.upstream && m != nil {
		if resp, page, err = b.doErr(http.MethodGet, resolveURL(authURL, htmlUnescape(m[1])), nil); err != nil {
			return "", err
		}
		// To the provider and back, through the callback, to /authorize.
		for hops := 0; resp.StatusCode/100 == 3 && hops < 5; hops++ {
			next := resolveURL(authURL, resp.Header.Get("Location"))
			if strings.HasPrefix(next, b.redirect) {
				return next, nil
			}
			if resp, page, err = b.doErr(http.MethodGet, next, nil); err != nil {
				return "", err
			}
		}
	} else if strings.Contains(page, `name="password"`) {
		if resp, page, err = b.submitErr(authURL, page, "/oauth/login", url.Values{"username": {b.user}, "password": {b.pass}}); err != nil {
			return "", err
		}
		if resp.StatusCode != http.StatusSeeOther {
			return "", fmt.Errorf("sign-in: %d\n%s", resp.StatusCode, page)
		}
		if resp, page, err = b.doErr(http.MethodGet, resolveURL(authURL, resp.Header.Get("Location")), nil); err != nil {
			return "", err
		}
	}
	if resp.StatusCode == http.StatusOK && strings.Contains(page, `value="approve"`) {
		b.approvals.Add(1)
		if resp, page, err = b.submitErr(authURL, page, "/oauth/authorize", url.Values{"decision": {"approve"}}); err != nil {
			return "", err
		}
	}
	loc := resp.Header.Get("Location")
	if loc == "" {
		return "", fmt.Errorf("authorization ended with %d and no redirect:\n%s", resp.StatusCode, page)
	}
	return loc, nil
}

// authorize walks the pages for authURL and returns the redirect's query.
func (b *signIn) authorize(authURL string) url.Values {
	b.t.Helper()
	loc, err := b.walk(authURL)
	if err != nil {
		b.t.Fatal(err)
	}
	if !strings.HasPrefix(loc, b.redirect+"?") {
		b.t.Fatalf("authorization redirected to %q, want %s", loc, b.redirect)
	}
	u, _ := url.Parse(loc)
	return u.Query()
}

// fetcher adapts authorize to the go-sdk's AuthorizationCodeFetcher.
func (b *signIn) fetcher() auth.AuthorizationCodeFetcher {
	return func(_ context.Context, args *auth.AuthorizationArgs) (*auth.AuthorizationResult, error) {
		q := b.authorize(args.URL)
		if e := q.Get("error"); e != "" {
			return nil, fmt.Errorf("authorization error %s: %s", e, q.Get("error_description"))
		}
		return &auth.AuthorizationResult{Code: q.Get("code"), State: q.Get("state"), Iss: q.Get("iss")}, nil
	}
}

func connectOAuth(t *testing.T, mcpURL string, h auth.OAuthHandler) *mcp.ClientSession {
	t.Helper()
	client := mcp.NewClient(&mcp.Implementation{Name: "oauth-e2e", Version: "1"}, nil)
	cs, err := client.Connect(t.Context(), &mcp.StreamableClientTransport{Endpoint: mcpURL, OAuthHandler: h}, nil)
	if err != nil {
		t.Fatalf("connect with OAuth: %v", err)
	}
	t.Cleanup(func() { cs.Close() })
	return cs
}

// TestServeOAuthGoSDKClientDCR: the go-sdk client discovers the
// authorization server from the 401, registers dynamically, signs in
// through our pages, uses the tools, and steps up to articles:write when a
// write tool answers 403 insufficient_scope.
func TestServeOAuthGoSDKClientDCR(t *testing.T) {
	t.Parallel()
	s := startServe(t)
	browser := newSignIn(t, "admin", s.adminPassword(t))
	h, err := auth.NewAuthorizationCodeHandler(&auth.AuthorizationCodeHandlerConfig{
		DynamicClientRegistrationConfig: &auth.DynamicClientRegistrationConfig{Metadata: &oauthex.ClientRegistrationMetadata{
			RedirectURIs: []string{callbackURL}, ClientName: "go-sdk e2e",
			GrantTypes: []string{"authorization_code", "refresh_token"}, TokenEndpointAuthMethod: "none",
		}},
		RedirectURL:              callbackURL,
		AuthorizationCodeFetcher: browser.fetcher(),
		Client:                   http.DefaultClient, // the SDK's default refuses loopback servers
	})
	if err != nil {
		t.Fatal(err)
	}
	cs := connectOAuth(t, s.mcpURL, h)
	if got := searchSlugs(t, cs, "semaphore"); len(got) != 2 {
		t.Errorf("search over OAuth = %v", got)
	}
	if n := browser.approvals.Load(); n != 1 {
		t.Errorf("consent pages approved = %d, want 1", n)
	}
	// The first token holds articles:read (the scope the 401 asked for);
	// a write needs a step-up through the pages again.
	res := callTool(t, cs, "create_article", map[string]any{"title": "Written with OAuth", "body": "oauthbody"})
	if res.IsError {
		t.Fatalf("create_article after step-up: %v", res.Content)
	}
	if n := browser.approvals.Load(); n != 2 {
		t.Errorf("consent pages approved = %d, want 2 (the step-up asks again for the wider scope)", n)
	}
	if got := searchSlugs(t, cs, "oauthbody"); len(got) != 1 {
		t.Errorf("the article written with OAuth is not found: %v", got)
	}
	out := s.cli(t, "grants", "list")
	if !strings.Contains(out, "go-sdk e2e") || !strings.Contains(out, "articles:write") {
		t.Errorf("grants list does not show the approval:\n%s", out)
	}
	if strings.Count(s.logs(), s.adminPassword(t)) != 1 {
		t.Errorf("the admin password appears in the log beyond its one first-run line")
	}
	for _, prefix := range []string{"m2ca_", "m2cr_", "m2cc_"} {
		if strings.Contains(s.logs(), prefix) {
			t.Errorf("the serve log holds a token or code (%s…)", prefix)
		}
	}
}

// TestServeOAuthCIMD runs the same wiring as serve in-process, with a
// Client ID Metadata Document served by the test over TLS. The guarded
// fetcher resolves the document's host name through a stub resolver to a
// public-looking address, and its dial hook lands on the test's 127.0.0.1
// server, so no packet leaves this machine.
func TestServeOAuthCIMD(t *testing.T) {
	t.Parallel()
	const docURL = "https://example.com/mcp/client.json" // a name httptest's certificate covers
	docServer := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/mcp/client.json" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{
			"client_id": docURL, "client_name": "CIMD e2e client", "redirect_uris": []string{callbackURL},
			"grant_types": []string{"authorization_code", "refresh_token"}, "token_endpoint_auth_method": "none",
		})
	}))
	defer docServer.Close()
	public := netip.MustParseAddr("203.0.113.10")
	var dialed atomic.Int32
	fetcher := &cimd.Fetcher{
		Resolver: stubResolver{"example.com.": public, "example.com": public},
		Allow:    func(a netip.Addr) bool { return a == public },
		DialHook: func(ctx context.Context, network string, addr netip.AddrPort) (net.Conn, error) {
			if addr.Addr() != public {
				return nil, fmt.Errorf("unexpected dial to %v", addr)
			}
			dialed.Add(1)
			var d net.Dialer
			return d.DialContext(ctx, "tcp", docServer.Listener.Addr().String())
		},
		RootCAs: docServer.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs,
	}

	ctx := t.Context()
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "blog.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := url.Parse("http://" + ln.Addr().String())
	var firstRun strings.Builder
	built, err := buildServer(ctx, serverSetup{db: db, public: pub, listenAddr: ln.Addr().String(), apiKeys: true, oauth: true,
		refreshGrace: time.Second, logger: discardLogger(), out: &firstRun, cimd: fetcher})
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: built.handler}
	go srv.Serve(ln)
	defer srv.Close()
	if _, err := sampleLoad(ctx, db); err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`shown only now:\s*\n\s+(\S+)\s*\n\s*Change it`).FindStringSubmatch(firstRun.String())
	if m == nil {
		t.Fatalf("no admin password printed:\n%s", firstRun.String())
	}
	browser := newSignIn(t, "admin", m[1])
	ah, err := auth.NewAuthorizationCodeHandler(&auth.AuthorizationCodeHandlerConfig{
		ClientIDMetadataDocumentConfig: &auth.ClientIDMetadataDocumentConfig{URL: docURL},
		RedirectURL:                    callbackURL,
		AuthorizationCodeFetcher:       browser.fetcher(),
		Client:                         http.DefaultClient,
	})
	if err != nil {
		t.Fatal(err)
	}
	cs := connectOAuth(t, pub.String()+"/mcp", ah)
	if got := searchSlugs(t, cs, "semaphore"); len(got) != 2 {
		t.Errorf("search over OAuth with a CIMD client = %v", got)
	}
	if dialed.Load() == 0 {
		t.Errorf("the metadata document was never fetched")
	}
}

type stubResolver map[string]netip.Addr

func (r stubResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if a, ok := r[host]; ok {
		return []netip.Addr{a}, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

// TestServeOAuthRefreshRotation runs the code flow by hand against the
// real serve, then refreshes: the new access token works, the old refresh
// token is accepted again only within the grace window, and reusing it
// after the window revokes the whole family.
func TestServeOAuthRefreshRotation(t *testing.T) {
	// Rotation times are kept in whole seconds, so the window is between
	// one and two seconds: a retry at once is within it.
	s := startServe(t, "--refresh-grace", "2s")
	base := s.base
	// Dynamic registration.
	resp, body := postJSON(t, base+"/oauth/register", `{"client_name":"refresh e2e","redirect_uris":["`+callbackURL+`"],"token_endpoint_auth_method":"none","grant_types":["authorization_code","refresh_token"]}`)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("register: %d %s", resp.StatusCode, body)
	}
	var reg struct {
		ClientID string `json:"client_id"`
	}
	json.Unmarshal([]byte(body), &reg)

	verifier := strings.Repeat("v", 20) + "0123456789-._~abcdefghijklmnop"
	sum := sha256.Sum256([]byte(verifier))
	q := url.Values{
		"response_type": {"code"}, "client_id": {reg.ClientID}, "redirect_uri": {callbackURL},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"},
		"state": {"st-1"}, "scope": {"articles:read"}, "resource": {s.mcpURL},
	}
	got := newSignIn(t, "admin", s.adminPassword(t)).authorize(base + "/oauth/authorize?" + q.Encode())
	if got.Get("state") != "st-1" || got.Get("iss") != base || got.Get("code") == "" {
		t.Fatalf("redirect query %v: want the code, state st-1 and iss %s", got, base)
	}
	tok := tokenRequest(t, base, url.Values{"grant_type": {"authorization_code"}, "code": {got.Get("code")},
		"redirect_uri": {callbackURL}, "client_id": {reg.ClientID}, "code_verifier": {verifier}, "resource": {s.mcpURL}}, http.StatusOK)
	if status := bearerToolsList(t, s.mcpURL, tok.AccessToken); status != http.StatusOK {
		t.Fatalf("first access token: %d", status)
	}

	refresh := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}, "client_id": {reg.ClientID}}
	second := tokenRequest(t, base, refresh, http.StatusOK)
	if second.RefreshToken == tok.RefreshToken || second.AccessToken == tok.AccessToken {
		t.Fatalf("refresh did not rotate the tokens")
	}
	if status := bearerToolsList(t, s.mcpURL, second.AccessToken); status != http.StatusOK {
		t.Errorf("refreshed access token: %d, want 200", status)
	}
	// A client that lost the answer retries at once: still accepted.
	retry := tokenRequest(t, base, refresh, http.StatusOK)

	time.Sleep(2100 * time.Millisecond) // past the 2s grace window
	var e struct{ Error string }
	raw := tokenRequestRaw(t, base, refresh, http.StatusBadRequest)
	if json.Unmarshal([]byte(raw), &e); e.Error != "invalid_grant" {
		t.Fatalf("old refresh token after the grace window: %s, want invalid_grant", raw)
	}
	for name, at := range map[string]string{"second": second.AccessToken, "retry": retry.AccessToken} {
		if status := bearerToolsList(t, s.mcpURL, at); status != http.StatusUnauthorized {
			t.Errorf("%s access token after refresh-token reuse: %d, want 401 (family revoked)", name, status)
		}
	}
	if raw := tokenRequestRaw(t, base, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {second.RefreshToken}, "client_id": {reg.ClientID}}, http.StatusBadRequest); !strings.Contains(raw, "invalid_grant") {
		t.Errorf("the newest refresh token of a revoked family: %s, want invalid_grant", raw)
	}
}

// TestServeOAuthClientCallbacks registers the callbacks real clients use
// and checks the flow lands on each, with code, state and iss.
func TestServeOAuthClientCallbacks(t *testing.T) {
	t.Parallel()
	s := startServe(t)
	browser := newSignIn(t, "admin", s.adminPassword(t))
	for _, redirect := range []string{
		"https://claude.ai/api/mcp/auth_callback",
		"https://chatgpt.com/connector/oauth/abc123",
		"cursor://anysphere.cursor-retrieval/oauth/user-blog/callback",
		"vscode://vscode.github-authentication/did-authenticate",
		"http://localhost:33418/",
	} {
		resp, body := postJSON(t, s.base+"/oauth/register", `{"client_name":"callback test","redirect_uris":["`+redirect+`"]}`)
		if resp.StatusCode != http.StatusCreated {
			t.Errorf("register %s: %d %s", redirect, resp.StatusCode, body)
			continue
		}
		var reg struct {
			ClientID string `json:"client_id"`
		}
		json.Unmarshal([]byte(body), &reg)
		sum := sha256.Sum256([]byte(strings.Repeat("x", 43)))
		q := url.Values{"response_type": {"code"}, "client_id": {reg.ClientID}, "redirect_uri": {redirect},
			"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"}, "state": {"s"}}
		browser.redirect = redirect
		got := browser.authorize(s.base + "/oauth/authorize?" + q.Encode())
		if got.Get("code") == "" || got.Get("state") != "s" || got.Get("iss") != s.base {
			t.Errorf("%s: redirect query %v", redirect, got)
		}
	}
}

type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
}

func tokenRequestRaw(t *testing.T, base string, form url.Values, wantStatus int) string {
	t.Helper()
	return tokenRequestWith(t, http.DefaultClient, base, form, wantStatus)
}

// tokenRequestWith posts form to the token endpoint through hc and
// returns the answer's body, failing the test on any other status.
func tokenRequestWith(t *testing.T, hc *http.Client, base string, form url.Values, wantStatus int) string {
	t.Helper()
	resp, err := hc.PostForm(base+"/oauth/token", form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != wantStatus {
		t.Fatalf("token request (%s): %d %s, want %d", form.Get("grant_type"), resp.StatusCode, b, wantStatus)
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("token response Cache-Control %q, want no-store", cc)
	}
	return string(b)
}

func tokenRequest(t *testing.T, base string, form url.Values, wantStatus int) tokenResponse {
	t.Helper()
	return decodeTokens(t, tokenRequestRaw(t, base, form, wantStatus))
}

// decodeTokens reads a successful token response.
func decodeTokens(t *testing.T, raw string) tokenResponse {
	t.Helper()
	var tr tokenResponse
	if err := json.Unmarshal([]byte(raw), &tr); err != nil || tr.AccessToken == "" || tr.TokenType != "Bearer" {
		t.Fatalf("token response %+v: %v", tr, err)
	}
	return tr
}

// bearerToolsList calls tools/list with an access token and returns the
// status.
func bearerToolsList(t *testing.T, mcpURL, token string) int {
	t.Helper()
	resp, _ := post(t, mcpURL, `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`, map[string]string{"Authorization": "Bearer " + token})
	return resp.StatusCode
}

func postJSON(t *testing.T, u, body string) (*http.Response, string) {
	t.Helper()
	resp, err := http.Post(u, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// TestServeOAuthAudiences: the REST API is a resource of its own (RFC
// 8707). A token for it opens it and not /mcp, a token for /mcp opens
// /mcp and not it, and its challenge names metadata that describes it, so
// a client following RFC 9728 asks for the right audience.
func TestServeOAuthAudiences(t *testing.T) {
	t.Parallel()
	s := startServe(t)
	base, restURL := s.base, s.base+"/api/v1"
	resp, body := postJSON(t, base+"/oauth/register", `{"client_name":"audiences","redirect_uris":["`+callbackURL+`"],"token_endpoint_auth_method":"none"}`)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("register: %d %s", resp.StatusCode, body)
	}
	var reg struct {
		ClientID string `json:"client_id"`
	}
	json.Unmarshal([]byte(body), &reg)
	signIn := newSignIn(t, "admin", s.adminPassword(t))
	token := func(resource string) string {
		t.Helper()
		verifier := strings.Repeat("w", 20) + "0123456789-._~abcdefghijklmnop"
		sum := sha256.Sum256([]byte(verifier))
		q := url.Values{
			"response_type": {"code"}, "client_id": {reg.ClientID}, "redirect_uri": {callbackURL},
			"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"},
			"state": {"st"}, "scope": {"articles:read"}, "resource": {resource},
		}
		got := signIn.authorize(base + "/oauth/authorize?" + q.Encode())
		return tokenRequest(t, base, url.Values{"grant_type": {"authorization_code"}, "code": {got.Get("code")},
			"redirect_uri": {callbackURL}, "client_id": {reg.ClientID}, "code_verifier": {verifier}, "resource": {resource}}, http.StatusOK).AccessToken
	}
	restGet := func(tok string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, restURL+"/articles?limit=1", nil)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	forREST, forMCP := token(restURL), token(s.mcpURL)
	if r := restGet(forREST); r.StatusCode != http.StatusOK {
		t.Errorf("a token for the REST API on it: %d, want 200", r.StatusCode)
	}
	if status := bearerToolsList(t, s.mcpURL, forREST); status != http.StatusUnauthorized {
		t.Errorf("a token for the REST API on /mcp: %d, want 401", status)
	}
	if status := bearerToolsList(t, s.mcpURL, forMCP); status != http.StatusOK {
		t.Errorf("a token for /mcp on it: %d, want 200", status)
	}
	r := restGet(forMCP)
	if c := challenge(t, r.Header.Get("WWW-Authenticate")); r.StatusCode != http.StatusUnauthorized || c["error"] != "invalid_token" {
		t.Errorf("a token for /mcp on the REST API: %d %v, want 401 invalid_token", r.StatusCode, c)
	}
	// The challenge without a credential points at the REST API's own
	// metadata, whose resource is the REST API.
	c := challenge(t, restGet("").Header.Get("WWW-Authenticate"))
	if c["resource_metadata"] != base+"/.well-known/oauth-protected-resource/api/v1" {
		t.Fatalf("REST challenge resource_metadata %q, want the REST API's own", c["resource_metadata"])
	}
	var prm struct {
		Resource             string   `json:"resource"`
		AuthorizationServers []string `json:"authorization_servers"`
	}
	if err := json.Unmarshal([]byte(get(t, c["resource_metadata"])), &prm); err != nil {
		t.Fatal(err)
	}
	if prm.Resource != restURL || len(prm.AuthorizationServers) != 1 || prm.AuthorizationServers[0] != base {
		t.Errorf("the REST API's metadata: %+v, want resource %s and issuer %s", prm, restURL, base)
	}
}
