package interop

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// defaultChromium is Debian's Chromium, which CI installs (apt-get install
// chromium). playwright-core drives it; it never downloads a browser.
const defaultChromium = "/usr/bin/chromium"

// chromiumPath returns the Chromium the browser scripts start: $CHROMIUM_PATH
// or /usr/bin/chromium. Without it the test skips, or fails under CI.
func chromiumPath(t testing.TB) string {
	t.Helper()
	p := os.Getenv("CHROMIUM_PATH")
	if p == "" {
		p = defaultChromium
	}
	if _, err := os.Stat(p); err != nil {
		msg := fmt.Sprintf("%s not found; install Debian's chromium (apt-get install chromium) or set CHROMIUM_PATH", p)
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return p
}

// browserScript returns the path of test/interop/browser/<name>, after
// checking that node and playwright-core are installed (skip, or fail
// under CI).
func browserScript(t testing.TB, name string) string {
	t.Helper()
	nodeTool(t, "playwright-core")
	return filepath.Join(moduleRoot(t), "test", "interop", "browser", name)
}

// browserEnv is the environment of a browser script: the Chromium to use,
// and no desktop session, so that xdg-open (which mcp-remote's opener
// runs) takes its generic path and runs $BROWSER rather than a desktop's
// own browser.
func browserEnv(chromium string) []string {
	return []string{
		"CHROMIUM_PATH=" + chromium,
		"DISPLAY=", "WAYLAND_DISPLAY=", "XDG_CURRENT_DESKTOP=", "DESKTOP_SESSION=", "DESKTOP=",
		"KDE_FULL_SESSION=", "GNOME_DESKTOP_SESSION_ID=", "MATE_DESKTOP_SESSION_ID=", "LXQT_SESSION_CONFIG=",
		"DBUS_SESSION_BUS_ADDRESS=",
	}
}

// testOutputDir returns an empty folder <TEST_OUTPUT_DIR>/<name> for
// artifacts CI keeps (screenshots). TEST_OUTPUT_DIR defaults to
// <repo>/test-output, which git ignores; a relative value is taken from
// the repository root.
func testOutputDir(t testing.TB, name string) string {
	t.Helper()
	dir := os.Getenv("TEST_OUTPUT_DIR")
	switch {
	case dir == "":
		dir = filepath.Join(moduleRoot(t), "test-output")
	case !filepath.IsAbs(dir):
		dir = filepath.Join(moduleRoot(t), dir)
	}
	dir = filepath.Join(dir, name)
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// randomString returns n random bytes, base64url-encoded.
func randomString(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// pkce returns a code verifier and its S256 challenge (RFC 7636).
func pkce() (verifier, challenge string) {
	verifier = randomString(32)
	sum := sha256.Sum256([]byte(verifier))
	return verifier, base64.RawURLEncoding.EncodeToString(sum[:])
}

// asMetadata is the part of the authorization server metadata the tests
// use.
type asMetadata struct {
	Issuer                        string   `json:"issuer"`
	AuthorizationEndpoint         string   `json:"authorization_endpoint"`
	TokenEndpoint                 string   `json:"token_endpoint"`
	RegistrationEndpoint          string   `json:"registration_endpoint"`
	CodeChallengeMethodsSupported []string `json:"code_challenge_methods_supported"`
}

func getJSON(t *testing.T, u string, v any) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s\n%s", u, resp.Status, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("GET %s: %v\n%s", u, err, b)
	}
}

// registerClient registers a public client by DCR (RFC 7591) and returns
// its client_id.
func registerClient(t *testing.T, endpoint, name, redirectURI string) string {
	t.Helper()
	body, _ := json.Marshal(map[string]any{
		"client_name":                name,
		"redirect_uris":              []string{redirectURI},
		"token_endpoint_auth_method": "none",
		"grant_types":                []string{"authorization_code", "refresh_token"},
		"response_types":             []string{"code"},
	})
	resp, err := http.Post(endpoint, "application/json", strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var reg struct {
		ClientID string `json:"client_id"`
	}
	if resp.StatusCode != http.StatusCreated || json.Unmarshal(b, &reg) != nil || reg.ClientID == "" {
		t.Fatalf("registering %q: %s\n%s", name, resp.Status, b)
	}
	return reg.ClientID
}

// authRequest is one authorization request the browser walks through.
type authRequest struct {
	state, verifier string
	url             string
}

func newAuthRequest(md asMetadata, clientID, redirectURI, resource string) authRequest {
	verifier, challenge := pkce()
	state := randomString(12)
	q := url.Values{
		"response_type":         {"code"},
		"client_id":             {clientID},
		"redirect_uri":          {redirectURI},
		"scope":                 {"articles:read"},
		"state":                 {state},
		"code_challenge":        {challenge},
		"code_challenge_method": {"S256"},
		"resource":              {resource},
	}
	return authRequest{state: state, verifier: verifier, url: md.AuthorizationEndpoint + "?" + q.Encode()}
}

// redirectRecorder is a client's loopback redirect URI: it records the
// query of every request to /callback and answers with a small page.
type redirectRecorder struct {
	*httptest.Server
	mu   sync.Mutex
	hits []url.Values
}

func newRedirectRecorder(t *testing.T) *redirectRecorder {
	rr := &redirectRecorder{}
	rr.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/callback" {
			http.NotFound(w, r)
			return
		}
		rr.mu.Lock()
		rr.hits = append(rr.hits, r.URL.Query())
		rr.mu.Unlock()
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<!doctype html><html lang="en"><meta name="viewport" content="width=device-width, initial-scale=1">`+
			`<title>Back in the application</title><body style="font-family:sans-serif;margin:2rem">`+
			`<h1>Back in the application</h1><p>The test's client received the answer. This page is not the blog's.</p></body></html>`)
	}))
	t.Cleanup(rr.Close)
	return rr
}

// byState returns the query that carried state, or nil.
func (rr *redirectRecorder) byState(state string) url.Values {
	rr.mu.Lock()
	defer rr.mu.Unlock()
	for _, q := range rr.hits {
		if q.Get("state") == state {
			return q
		}
	}
	return nil
}

// tokenResponse is a successful /oauth/token answer.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
	RefreshToken string `json:"refresh_token"`
	Scope        string `json:"scope"`
}

// exchangeCode redeems an authorization code as a public client.
func exchangeCode(t *testing.T, endpoint, clientID, redirectURI, code, verifier, resource string) tokenResponse {
	t.Helper()
	form := url.Values{
		"grant_type":    {"authorization_code"},
		"code":          {code},
		"redirect_uri":  {redirectURI},
		"client_id":     {clientID},
		"code_verifier": {verifier},
		"resource":      {resource},
	}
	resp, err := http.PostForm(endpoint, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var tr tokenResponse
	if resp.StatusCode != http.StatusOK || json.Unmarshal(b, &tr) != nil || tr.AccessToken == "" {
		t.Fatalf("token exchange: %s\n%s", resp.Status, b)
	}
	if cc := resp.Header.Get("Cache-Control"); !strings.Contains(cc, "no-store") {
		t.Errorf("token response Cache-Control = %q, want no-store", cc)
	}
	return tr
}

// bearerToolsList sends tools/list to /mcp with an access token, as a
// plain JSON-RPC POST, and returns the status and body.
func bearerToolsList(t *testing.T, mcpURL, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, mcpURL, strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("MCP-Protocol-Version", "2025-11-25")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// checkPageHeaders checks the clickjacking and content-security headers
// every page of the authorization server must carry.
func checkPageHeaders(t *testing.T, page string, csp, xfo string) {
	t.Helper()
	if !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("%s: Content-Security-Policy %q lacks frame-ancestors 'none'", page, csp)
	}
	if !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("%s: Content-Security-Policy %q is not default-src 'none'", page, csp)
	}
	if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
		t.Errorf("%s: Content-Security-Policy %q allows inline code", page, csp)
	}
	if !strings.EqualFold(xfo, "DENY") {
		t.Errorf("%s: X-Frame-Options %q, want DENY", page, xfo)
	}
}

// noSecrets fails the test if any of the secrets appears in log.
func noSecrets(t *testing.T, where, log string, secrets map[string]string) {
	t.Helper()
	for name, v := range secrets {
		if v != "" && strings.Contains(log, v) {
			t.Errorf("%s contains the %s", where, name)
		}
	}
}

// pageRecord is what login-consent.mjs saw on a page.
type pageRecord struct {
	Status   int      `json:"status"`
	URL      string   `json:"url"`
	Title    string   `json:"title"`
	Lang     string   `json:"lang"`
	Headings []string `json:"headings"`
	Text     string   `json:"text"`
	Alerts   []string `json:"alerts"`
	Headers  struct {
		CSP            string `json:"csp"`
		XFrameOptions  string `json:"xFrameOptions"`
		CacheControl   string `json:"cacheControl"`
		ReferrerPolicy string `json:"referrerPolicy"`
		ContentType    string `json:"contentType"`
	} `json:"headers"`
}

type fieldRecord struct {
	Name         string `json:"name"`
	Type         string `json:"type"`
	Autocomplete string `json:"autocomplete"`
}

// walkRecord is the whole record login-consent.mjs writes.
type walkRecord struct {
	Error   string `json:"error"`
	Console []struct {
		Type, Text, Page, Resource string
	} `json:"console"`
	Overflow map[string]map[string]bool `json:"overflow"`
	Login    struct {
		pageRecord
		Fields struct {
			Username fieldRecord `json:"username"`
			Password fieldRecord `json:"password"`
		} `json:"fields"`
		Focused string `json:"focused"`
		Styled  bool   `json:"styled"`
	} `json:"login"`
	LoginError struct {
		pageRecord
		UsernameValue string `json:"usernameValue"`
		PasswordValue string `json:"passwordValue"`
		SignInButton  int    `json:"signInButton"`
	} `json:"loginError"`
	SignIn struct {
		Status   int    `json:"status"`
		Location string `json:"location"`
	} `json:"signIn"`
	Consent struct {
		pageRecord
		Buttons []string `json:"buttons"`
	} `json:"consent"`
	Allow struct {
		Status   int    `json:"status"`
		Location string `json:"location"`
		Landed   string `json:"landed"`
	} `json:"allow"`
	Deny struct {
		pageRecord
		PasswordFields int    `json:"passwordFields"`
		Landed         string `json:"landed"`
	} `json:"deny"`
	Again struct {
		Landed  string   `json:"landed"`
		Hops    []string `json:"hops"`
		Consent bool     `json:"consent"`
	} `json:"again"`
	Apps pageRecord `json:"apps"`
}

// TestBrowserLoginConsent walks the sign-in and consent pages in a real
// browser (Debian's Chromium driven by playwright-core, from
// browser/login-consent.mjs): a wrong password, the right one, consent and
// Allow, a second application denied, the first one again (remembered),
// and the connected-apps page. The Go side registers the clients, builds
// the PKCE requests, plays the client's loopback redirect URI, and redeems
// the code for a token that works on /mcp. Screenshots, at phone and
// desktop sizes, go to test-output/browser/.
func TestBrowserLoginConsent(t *testing.T) {
	script := browserScript(t, "login-consent.mjs")
	chromium := chromiumPath(t)
	s := startServe(t, "--log-level", "debug")
	if s.password == "" {
		t.Fatal("serve printed no first-run password for the user admin")
	}
	shots := testOutputDir(t, "browser")
	rr := newRedirectRecorder(t)
	redirectURI := rr.URL + "/callback"

	var md asMetadata
	getJSON(t, s.base+"/.well-known/oauth-authorization-server", &md)
	if md.Issuer != s.base || !slices.Contains(md.CodeChallengeMethodsSupported, "S256") || md.RegistrationEndpoint == "" {
		t.Fatalf("authorization server metadata %+v: want issuer %s, S256 and a registration endpoint", md, s.base)
	}
	const appName, otherName = "Interop Notes", "Other Reader"
	client := registerClient(t, md.RegistrationEndpoint, appName, redirectURI)
	other := registerClient(t, md.RegistrationEndpoint, otherName, redirectURI)
	allow := newAuthRequest(md, client, redirectURI, s.mcpURL)
	deny := newAuthRequest(md, other, redirectURI, s.mcpURL)
	again := newAuthRequest(md, client, redirectURI, s.mcpURL)

	// The bare login page (for the apps page) carries the same headers.
	resp, err := http.Get(s.base + "/oauth/login")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	checkPageHeaders(t, "GET /oauth/login", resp.Header.Get("Content-Security-Policy"), resp.Header.Get("X-Frame-Options"))

	dir := t.TempDir()
	wrongPassword := "not-" + s.password
	cfg, _ := json.Marshal(map[string]string{
		"user":           "admin",
		"password":       s.password,
		"wrongPassword":  wrongPassword,
		"allowURL":       allow.url,
		"denyURL":        deny.url,
		"againURL":       again.url,
		"appsURL":        s.base + "/oauth/apps",
		"redirectOrigin": rr.URL,
		"shots":          shots,
		"result":         filepath.Join(dir, "record.json"),
	})
	cfgPath := filepath.Join(dir, "config.json")
	if err := os.WriteFile(cfgPath, cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	r := run(t, command{
		args:    []string{"node", script, cfgPath},
		dir:     moduleRoot(t),
		env:     browserEnv(chromium),
		timeout: 3 * time.Minute,
	})
	t.Logf("browser walk took %v; screenshots in %s", time.Since(start).Round(time.Millisecond), shots)
	raw, readErr := os.ReadFile(filepath.Join(dir, "record.json"))
	var rec walkRecord
	if readErr != nil || json.Unmarshal(raw, &rec) != nil || r.err != nil || rec.Error != "" {
		t.Fatalf("the browser walk failed: %v\nstderr:\n%s\nstdout:\n%s\nrecord:\n%s", r.err, r.stderr, r.stdout, raw)
	}

	t.Run("login page", func(t *testing.T) {
		l := rec.Login
		if l.Status != http.StatusOK || !strings.HasPrefix(l.Title, "Sign in") || !slices.Equal(l.Headings, []string{"Sign in"}) {
			t.Errorf("login page: status %d, title %q, headings %q; want 200 and Sign in", l.Status, l.Title, l.Headings)
		}
		if l.Lang != "en" {
			t.Errorf("<html lang> = %q, want en", l.Lang)
		}
		if !strings.Contains(l.Text, appName) {
			t.Errorf("login page does not name the application %q:\n%s", appName, l.Text)
		}
		if f := l.Fields.Username; f.Name != "username" || f.Type != "text" || f.Autocomplete != "username" {
			t.Errorf("field labelled User name: %+v", f)
		}
		if f := l.Fields.Password; f.Name != "password" || f.Type != "password" || f.Autocomplete != "current-password" {
			t.Errorf("field labelled Password: %+v", f)
		}
		if l.Focused != "username" {
			t.Errorf("focus starts on %q, want the user name field", l.Focused)
		}
		if !l.Styled {
			t.Error("the stylesheet did not load (blocked by the CSP?)")
		}
		checkPageHeaders(t, "login page", l.Headers.CSP, l.Headers.XFrameOptions)
		if !strings.Contains(l.Headers.CacheControl, "no-store") {
			t.Errorf("login page Cache-Control %q, want no-store", l.Headers.CacheControl)
		}
	})

	t.Run("wrong password", func(t *testing.T) {
		e := rec.LoginError
		if e.Status != http.StatusUnauthorized {
			t.Errorf("POST /oauth/login with a wrong password: status %d, want 401", e.Status)
		}
		if !strings.HasSuffix(e.URL, "/oauth/login") || !slices.Equal(e.Headings, []string{"Sign in"}) || e.SignInButton != 1 {
			t.Errorf("after a wrong password: at %s with headings %q; want the login page again", e.URL, e.Headings)
		}
		if len(e.Alerts) != 1 || !strings.Contains(e.Alerts[0], "not right") {
			t.Errorf("alerts %q, want one saying the user name or password is not right", e.Alerts)
		}
		if e.UsernameValue != "admin" || e.PasswordValue != "" {
			t.Errorf("after a wrong password the form holds user %q and a password of %d characters; want the name kept and the password cleared", e.UsernameValue, len(e.PasswordValue))
		}
	})

	t.Run("consent page", func(t *testing.T) {
		c := rec.Consent
		if rec.SignIn.Status != http.StatusSeeOther || !strings.HasSuffix(rec.SignIn.Location, "/oauth/authorize") {
			t.Errorf("sign-in answered %d to %q, want 303 back to /oauth/authorize", rec.SignIn.Status, rec.SignIn.Location)
		}
		if c.Status != http.StatusOK || !strings.HasPrefix(c.Title, "Allow access") {
			t.Errorf("consent page: status %d, title %q", c.Status, c.Title)
		}
		u, _ := url.Parse(rr.URL)
		for _, want := range []string{appName, u.Host, "Read the blog's articles", "admin"} {
			if !strings.Contains(c.Text, want) {
				t.Errorf("consent page does not show %q:\n%s", want, c.Text)
			}
		}
		if strings.Contains(c.Text, "articles:read") {
			t.Errorf("consent page shows the raw scope rather than plain words:\n%s", c.Text)
		}
		if !slices.Equal(c.Buttons, []string{"Allow", "Deny"}) {
			t.Errorf("consent buttons %q, want Allow and Deny", c.Buttons)
		}
		checkPageHeaders(t, "consent page", c.Headers.CSP, c.Headers.XFrameOptions)
	})

	var tokens tokenResponse
	t.Run("allow", func(t *testing.T) {
		if rec.Allow.Status != http.StatusSeeOther || rec.Allow.Location != redirectURI || rec.Allow.Landed != redirectURI {
			t.Errorf("Allow answered %d to %s and the browser landed on %s; want 303 to %s", rec.Allow.Status, rec.Allow.Location, rec.Allow.Landed, redirectURI)
		}
		q := rr.byState(allow.state)
		if q == nil {
			t.Fatalf("the redirect URI never received state %q", allow.state)
		}
		if q.Get("code") == "" || q.Get("iss") != s.base || q.Has("error") {
			t.Fatalf("redirect query has code=%t iss=%q error=%q; want a code and iss=%s", q.Get("code") != "", q.Get("iss"), q.Get("error"), s.base)
		}
		tokens = exchangeCode(t, md.TokenEndpoint, client, redirectURI, q.Get("code"), allow.verifier, s.mcpURL)
		if !strings.EqualFold(tokens.TokenType, "Bearer") || tokens.Scope != "articles:read" || tokens.RefreshToken == "" {
			t.Errorf("token response: type %q, scope %q, refresh token %t", tokens.TokenType, tokens.Scope, tokens.RefreshToken != "")
		}
		status, body := bearerToolsList(t, s.mcpURL, tokens.AccessToken)
		if status != http.StatusOK || !strings.Contains(body, `"search_articles"`) {
			t.Errorf("tools/list with the access token: %d\n%s", status, body)
		}
	})

	t.Run("deny", func(t *testing.T) {
		d := rec.Deny
		if d.PasswordFields != 0 || !strings.Contains(d.Text, otherName) {
			t.Errorf("with a session, the second application should go straight to consent naming %q; saw %d password fields and:\n%s", otherName, d.PasswordFields, d.Text)
		}
		if d.Status != http.StatusSeeOther || d.Landed != redirectURI {
			t.Errorf("Deny answered %d and landed on %s; want 303 to %s", d.Status, d.Landed, redirectURI)
		}
		q := rr.byState(deny.state)
		if q == nil {
			t.Fatalf("the redirect URI never received state %q", deny.state)
		}
		if q.Get("error") != "access_denied" || q.Has("code") || q.Get("iss") != s.base {
			t.Errorf("redirect after Deny: error=%q code=%t iss=%q; want error=access_denied, no code, iss=%s", q.Get("error"), q.Has("code"), q.Get("iss"), s.base)
		}
	})

	t.Run("approval remembered, consent shown again for a loopback client", func(t *testing.T) {
		// RFC 8252 §8.6: a loopback redirect does not assure the
		// client's identity, so the person sees who asks each time.
		if !rec.Again.Consent {
			t.Errorf("the second request of a loopback client skipped consent (hops %v)", rec.Again.Hops)
		}
		if rec.Again.Landed != redirectURI {
			t.Errorf("second request of the approved application landed on %s, want %s (hops %v)", rec.Again.Landed, redirectURI, rec.Again.Hops)
		}
		q := rr.byState(again.state)
		if q == nil || q.Get("code") == "" || q.Get("iss") != s.base {
			t.Fatalf("redirect for the remembered approval: %v", q)
		}
		tr := exchangeCode(t, md.TokenEndpoint, client, redirectURI, q.Get("code"), again.verifier, s.mcpURL)
		if tr.AccessToken == tokens.AccessToken {
			t.Error("the second code gave the same access token")
		}
	})

	t.Run("connected apps", func(t *testing.T) {
		a := rec.Apps
		if a.Status != http.StatusOK || !strings.Contains(a.Text, appName) || strings.Contains(a.Text, otherName) {
			t.Errorf("apps page (status %d) should list %q and not the denied %q:\n%s", a.Status, appName, otherName, a.Text)
		}
		checkPageHeaders(t, "apps page", a.Headers.CSP, a.Headers.XFrameOptions)
	})

	t.Run("renders cleanly", func(t *testing.T) {
		for _, m := range rec.Console {
			// Chrome reports every 4xx as a console error: the 401 of the
			// wrong password, a missing favicon. Those are expected; a
			// CSP violation ("Refused to …") or a script error is not.
			if strings.HasPrefix(m.Text, "Failed to load resource") {
				continue
			}
			t.Errorf("browser console %s on %s: %s (%s)", m.Type, m.Page, m.Text, m.Resource)
		}
		for page, sizes := range rec.Overflow {
			for size, wide := range sizes {
				if wide {
					t.Errorf("%s page is wider than the %s viewport (it scrolls sideways)", page, size)
				}
			}
		}
		for _, name := range []string{"login", "login-error", "consent", "allowed", "consent-deny", "denied", "apps"} {
			for _, size := range []string{"phone", "desktop"} {
				if fi, err := os.Stat(filepath.Join(shots, name+"-"+size+".png")); err != nil || fi.Size() == 0 {
					t.Errorf("screenshot %s-%s.png missing: %v", name, size, err)
				}
			}
		}
	})

	noSecrets(t, "the serve log", s.logAfterStartup(), map[string]string{
		"password":       s.password,
		"wrong password": wrongPassword,
		"access token":   tokens.AccessToken,
		"refresh token":  tokens.RefreshToken,
		"code verifier":  allow.verifier,
		"code":           rr.byState(allow.state).Get("code"),
	})
}

// TestBrowserCORS: a browser-based MCP client on an origin given with
// --allowed-origin reaches /mcp from Chromium (its preflight answered
// without a credential, the 401 challenge readable, a tools/list with a key
// answered); a page on any other origin cannot.
func TestBrowserCORS(t *testing.T) {
	script := browserScript(t, "cors.mjs")
	chromium := chromiumPath(t)
	page := func() *httptest.Server {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			io.WriteString(w, "<!doctype html><title>A browser MCP client</title>")
		}))
		t.Cleanup(srv.Close)
		return srv
	}
	allowed, blocked := page(), page()
	s := startServe(t, "--allowed-origin", allowed.URL)
	dir := t.TempDir()
	cfg, _ := json.Marshal(map[string]string{
		"allowedPage": allowed.URL, "blockedPage": blocked.URL, "mcpURL": s.mcpURL, "key": s.key,
		"result": filepath.Join(dir, "record.json"),
	})
	cfgPath := filepath.Join(dir, "config.json")
	if err := os.WriteFile(cfgPath, cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	r := run(t, command{args: []string{"node", script, cfgPath}, dir: moduleRoot(t), env: browserEnv(chromium), timeout: 2 * time.Minute})
	raw, err := os.ReadFile(filepath.Join(dir, "record.json"))
	type call struct {
		Status    int    `json:"status"`
		Challenge string `json:"challenge"`
		Body      string `json:"body"`
		Error     string `json:"error"`
	}
	var rec struct {
		Allowed, Blocked struct{ Anonymous, WithKey call }
		Error            string
	}
	if err != nil || json.Unmarshal(raw, &rec) != nil || r.err != nil || rec.Error != "" {
		t.Fatalf("the browser script failed: %v %v\nstderr:\n%s\nrecord:\n%s", err, r.err, r.stderr, raw)
	}
	if a := rec.Allowed.Anonymous; a.Status != http.StatusUnauthorized || !strings.Contains(a.Challenge, "resource_metadata=") {
		t.Errorf("allowed origin, no credential: %+v; want 401 with a readable challenge naming resource_metadata", a)
	}
	if a := rec.Allowed.WithKey; a.Status != http.StatusOK || !strings.Contains(a.Body, `"search_articles"`) {
		t.Errorf("allowed origin, tools/list with a key: %+v; want 200 listing the tools", a)
	}
	for name, c := range map[string]call{"no credential": rec.Blocked.Anonymous, "with a key": rec.Blocked.WithKey} {
		if c.Error == "" {
			t.Errorf("another origin, %s: the page read a response %+v; want the browser to refuse it", name, c)
		}
	}
}
