package authserver_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/2coffee/mcp-2coffee/internal/authn"
	"github.com/2coffee/mcp-2coffee/internal/authserver"
	"github.com/2coffee/mcp-2coffee/internal/oauth"
	"github.com/2coffee/mcp-2coffee/internal/store/sqlite"
)

// clock is an injectable clock: tests move time instead of sleeping.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// t0 is the test clock's start.
var t0 = time.Date(2026, 11, 3, 9, 30, 0, 0, time.UTC)

// cheap keeps argon2 fast in tests; production uses the RFC 9106 costs.
var cheap = oauth.PasswordParams{Time: 1, MemoryKiB: 1024, Threads: 1}

const (
	userName = "ann"
	password = "correct horse battery"
	// loopbackRedirect is what a native client such as mcp-remote
	// registers.
	loopbackRedirect = "http://127.0.0.1:33418/oauth/callback"
)

// env is a running authorization server on 127.0.0.1 with a real SQLite
// store.
type env struct {
	t      *testing.T
	srv    *authserver.Server
	store  *sqlite.DB
	ts     *httptest.Server
	clock  *clock
	issuer string
	base   string // the server's root URL, without the issuer path
	logs   *bytes.Buffer
	// extra serves paths outside the authorization server (a protected
	// resource, for the go-sdk test).
	extra *http.ServeMux
}

type envOption func(*authserver.Config)

// newEnv starts a server whose issuer is the test server's URL plus path
// (e.g. "" or "/blog"). opts adjust the configuration.
func newEnv(t *testing.T, path string, opts ...envOption) *env {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "oauth.db"), nil)
	if err != nil {
		t.Fatalf("sqlite.Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	e := &env{t: t, store: db, clock: &clock{t: t0}, logs: &bytes.Buffer{}}
	var handler http.Handler = http.NotFoundHandler()
	e.ts = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	t.Cleanup(e.ts.Close)
	e.base = e.ts.URL
	e.issuer = e.ts.URL + path
	issuer, _ := url.Parse(e.issuer)
	cfg := authserver.Config{
		Issuer:         issuer,
		Resource:       e.issuer + "/mcp",
		Store:          db,
		Logger:         slog.New(slog.NewTextHandler(&lockedWriter{w: e.logs}, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:            e.clock.Now,
		PasswordParams: cheap,
		// Generous limits: only TestRateLimits tests them.
		RateLimits: authserver.RateLimits{
			Login:    authserver.Limit{Burst: 1000, Interval: time.Millisecond},
			Token:    authserver.Limit{Burst: 1000, Interval: time.Millisecond},
			Register: authserver.Limit{Burst: 1000, Interval: time.Millisecond},

			ClientMetadata: authserver.Limit{Burst: 1000, Interval: time.Millisecond},
		},
	}
	for _, o := range opts {
		o(&cfg)
	}
	e.srv, err = authserver.New(cfg)
	if err != nil {
		t.Fatalf("authserver.New: %v", err)
	}
	mux := http.NewServeMux()
	e.extra = http.NewServeMux()
	mux.Handle("/.well-known/oauth-protected-resource/", e.extra)
	inner := e.srv.Handler()
	if path != "" {
		inner = http.StripPrefix(path, inner)
		mux.Handle(e.srv.MetadataPath(), e.srv.MetadataHandler())
	}
	mux.Handle(path+"/", inner)
	handler = mux
	if err := e.srv.Admin().CreateUser(context.Background(), userName, password); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	return e
}

// lockedWriter lets concurrent handlers log into one buffer.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// browser is a user agent with a cookie jar that does not follow
// redirects, so each step can be checked.
type browser struct {
	t *testing.T
	e *env
	c *http.Client
}

func (e *env) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: e.t, e: e, c: &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// page is a response with its body read.
type page struct {
	*http.Response
	body string
}

func (b *browser) get(u string) *page {
	b.t.Helper()
	return b.do(http.MethodGet, u, nil, nil)
}

// post submits a form like a browser: with Origin set to the issuer's.
func (b *browser) post(u string, form url.Values) *page {
	b.t.Helper()
	return b.do(http.MethodPost, u, form, http.Header{"Origin": {b.e.base}})
}

func (b *browser) do(method, u string, form url.Values, h http.Header) *page {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		b.t.Fatal(err)
	}
	for k, v := range h {
		req.Header[k] = v
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return &page{Response: resp, body: string(data)}
}

// resolve makes a Location header absolute.
func (b *browser) resolve(p *page) string {
	b.t.Helper()
	loc, err := p.Request.URL.Parse(p.Header.Get("Location"))
	if err != nil {
		b.t.Fatalf("Location %q: %v", p.Header.Get("Location"), err)
	}
	return loc.String()
}

var hiddenRE = regexp.MustCompile(`<input type="hidden" name="([a-z_]+)" value="([^"]*)">`)

// hidden returns the hidden fields of the page's first form with them.
func (p *page) hidden(t *testing.T) url.Values {
	t.Helper()
	v := url.Values{}
	for _, m := range hiddenRE.FindAllStringSubmatch(p.body, -1) {
		if _, seen := v[m[1]]; !seen {
			v.Set(m[1], html.UnescapeString(m[2]))
		}
	}
	if v.Get("csrf") == "" {
		t.Fatalf("no csrf field on the page (status %d):\n%s", p.StatusCode, p.body)
	}
	return v
}

// pkce is a verifier and its S256 challenge.
type pkce struct{ verifier, challenge string }

func newPKCE() pkce {
	v := rand.Text() + rand.Text() // 52 characters of base32
	sum := sha256.Sum256([]byte(v))
	return pkce{v, base64.RawURLEncoding.EncodeToString(sum[:])}
}

// authParams are a valid authorization request's parameters.
func authParams(clientID, redirect string, p pkce) url.Values {
	return url.Values{
		"response_type":         {"code"},
		"client_id":             {clientID},
		"redirect_uri":          {redirect},
		"code_challenge":        {p.challenge},
		"code_challenge_method": {"S256"},
		"state":                 {"st-" + p.challenge[:8]},
		"scope":                 {"articles:read"},
	}
}

func (e *env) authorizeURL(q url.Values) string {
	return e.issuer + authserver.PathAuthorize + "?" + q.Encode()
}

// register registers a public client through DCR and returns its id.
func (e *env) register(redirects ...string) string {
	e.t.Helper()
	if len(redirects) == 0 {
		redirects = []string{loopbackRedirect}
	}
	body, _ := json.Marshal(map[string]any{"redirect_uris": redirects, "client_name": "Test Client", "token_endpoint_auth_method": "none"})
	resp, data := e.postJSON(authserver.PathRegister, string(body))
	if resp.StatusCode != http.StatusCreated {
		e.t.Fatalf("register: %d %s", resp.StatusCode, data)
	}
	var out struct {
		ClientID string `json:"client_id"`
	}
	json.Unmarshal([]byte(data), &out)
	return out.ClientID
}

func (e *env) postJSON(path, body string) (*http.Response, string) {
	e.t.Helper()
	resp, err := http.Post(e.issuer+path, "application/json", strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp, string(data)
}

// postForm posts form to path with optional Basic credentials.
func (e *env) postForm(path string, form url.Values, basicUser, basicPass *string) (*http.Response, string) {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.issuer+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basicUser != nil {
		req.SetBasicAuth(url.QueryEscape(*basicUser), url.QueryEscape(*basicPass))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp, string(data)
}

// oauthErr is an OAuth JSON error body.
type oauthErr struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

func decodeErr(t *testing.T, body string) oauthErr {
	t.Helper()
	var e oauthErr
	if err := json.Unmarshal([]byte(body), &e); err != nil {
		t.Fatalf("error body %q: %v", body, err)
	}
	return e
}

// wantOAuthError checks status and error code of a JSON answer.
func wantOAuthError(t *testing.T, what string, resp *http.Response, body string, status int, code string) {
	t.Helper()
	if resp.StatusCode != status {
		t.Errorf("%s: status %d, want %d (body %s)", what, resp.StatusCode, status, body)
	}
	if got := decodeErr(t, body).Error; got != code {
		t.Errorf("%s: error %q, want %q (body %s)", what, got, code, body)
	}
}

// tokens is a token response.
type tokens struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	RefreshToken string `json:"refresh_token"`
	Scope        string `json:"scope"`
}

func decodeTokens(t *testing.T, resp *http.Response, body string) tokens {
	t.Helper()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("token response: %d %s", resp.StatusCode, body)
	}
	var tk tokens
	if err := json.Unmarshal([]byte(body), &tk); err != nil {
		t.Fatalf("token response %q: %v", body, err)
	}
	return tk
}

// login signs the browser in from a login page (status 200 expected).
func (b *browser) login(p *page, user, pass string) *page {
	b.t.Helper()
	if p.StatusCode != http.StatusOK || !strings.Contains(p.body, `action="`+b.e.issuerPath()+`/oauth/login"`) {
		b.t.Fatalf("want the login page, got %d:\n%s", p.StatusCode, p.body)
	}
	f := p.hidden(b.t)
	f.Set("username", user)
	f.Set("password", pass)
	return b.post(b.e.issuer+authserver.PathLogin, f)
}

func (e *env) issuerPath() string {
	u, _ := url.Parse(e.issuer)
	return u.Path
}

// consent answers a consent page with decision.
func (b *browser) consent(p *page, decision string) *page {
	b.t.Helper()
	if p.StatusCode != http.StatusOK || !strings.Contains(p.body, `value="approve"`) {
		b.t.Fatalf("want the consent page, got %d:\n%s", p.StatusCode, p.body)
	}
	f := p.hidden(b.t)
	f.Set("decision", decision)
	return b.post(b.e.issuer+authserver.PathAuthorize, f)
}

// authorize runs the browser part of the flow (sign-in if needed, consent
// if asked) and returns the final redirect's query.
func (b *browser) authorize(q url.Values) url.Values {
	b.t.Helper()
	p := b.get(b.e.authorizeURL(q))
	if strings.Contains(p.body, `action="`+b.e.issuerPath()+`/oauth/login"`) {
		p = b.login(p, userName, password)
		if p.StatusCode != http.StatusSeeOther {
			b.t.Fatalf("login: status %d, want 303:\n%s", p.StatusCode, p.body)
		}
		p = b.get(b.resolve(p))
	}
	if p.StatusCode == http.StatusOK {
		p = b.consent(p, "approve")
	}
	return b.redirectQuery(p, q.Get("redirect_uri"))
}

// redirectQuery checks p redirects to redirectURI and returns the query it
// adds.
func (b *browser) redirectQuery(p *page, redirectURI string) url.Values {
	b.t.Helper()
	if p.StatusCode != http.StatusFound && p.StatusCode != http.StatusSeeOther {
		b.t.Fatalf("want a redirect to the client, got %d:\n%s", p.StatusCode, p.body)
	}
	loc := p.Header.Get("Location")
	base, rawQuery, _ := strings.Cut(loc, "?")
	wantBase, _, _ := strings.Cut(redirectURI, "?")
	if base != wantBase {
		b.t.Fatalf("redirect to %q, want %q", loc, redirectURI)
	}
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		b.t.Fatalf("redirect query %q: %v", rawQuery, err)
	}
	return q
}

// exchange redeems a code for a public client.
func (e *env) exchange(clientID, code, redirect, verifier string) (*http.Response, string) {
	e.t.Helper()
	return e.postForm(authserver.PathToken, url.Values{
		"grant_type":    {"authorization_code"},
		"client_id":     {clientID},
		"code":          {code},
		"redirect_uri":  {redirect},
		"code_verifier": {verifier},
		"resource":      {e.issuer + "/mcp"},
	}, nil, nil)
}

func (e *env) refresh(clientID, refreshToken string, extra url.Values) (*http.Response, string) {
	e.t.Helper()
	f := url.Values{"grant_type": {"refresh_token"}, "client_id": {clientID}, "refresh_token": {refreshToken}}
	for k, v := range extra {
		f[k] = v
	}
	return e.postForm(authserver.PathToken, f, nil, nil)
}

// flow runs a whole authorization for a fresh DCR client and returns the
// client id and the tokens.
func (e *env) flow() (string, tokens) {
	e.t.Helper()
	id := e.register()
	p := newPKCE()
	q := e.browser().authorize(authParams(id, loopbackRedirect, p))
	resp, body := e.exchange(id, q.Get("code"), loopbackRedirect, p.verifier)
	return id, decodeTokens(e.t, resp, body)
}

// verify calls VerifyAccessToken.
func (e *env) verify(tok string) (*authn.Principal, error) {
	return e.srv.VerifyAccessToken(context.Background(), tok)
}

func ptr[T any](v T) *T { return &v }
