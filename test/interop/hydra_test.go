package interop

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	hydraOnce sync.Once
	hydraBin  string
	hydraErr  error
)

// hydraBinary builds Ory Hydra from the pinned module in test/tools/hydra
// once per run (SQLite in memory needs cgo and the sqlite tag). Without a
// C compiler the test skips, or fails under CI, which installs one.
func hydraBinary(t testing.TB) string {
	t.Helper()
	if _, err := exec.LookPath("gcc"); err != nil {
		msg := "Ory Hydra's SQLite store needs cgo and a C compiler (apt-get install gcc)"
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	hydraOnce.Do(func() {
		dir, err := os.MkdirTemp("", "mcp-2coffee-hydra-")
		if err != nil {
			hydraErr = err
			return
		}
		hydraBin = filepath.Join(dir, "hydra")
		cmd := exec.Command("go", "build", "-tags", "sqlite", "-o", hydraBin, "github.com/ory/hydra/v2")
		cmd.Dir = filepath.Join(moduleRoot(t), "test", "tools", "hydra")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
		if out, err := cmd.CombinedOutput(); err != nil {
			hydraErr = fmt.Errorf("building Ory Hydra: %v\n%s", err, out)
		}
	})
	if hydraErr != nil {
		t.Fatal(hydraErr)
	}
	return hydraBin
}

// hydra is a running Ory Hydra: its public URL (the issuer) and its admin
// API, which the tests use to register clients and rotate keys.
type hydra struct {
	issuer, admin string

	// Hydra has no pages: a login and consent app of the operator's
	// signs people in. The tests' app (loginApp) signs in whoever person
	// names, at once.
	mu     sync.Mutex
	person hydraPerson
	logins int
}

// hydraPerson is who the login app signs in.
type hydraPerson struct {
	Subject, Email string
	EmailVerified  bool
}

// signInAs sets who the next sign-ins at Hydra are.
func (h *hydra) signInAs(p hydraPerson) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.person = p
}

// freePort returns a loopback port nobody listens on now.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startHydra runs Hydra in memory on two free loopback ports; access
// tokens are JWTs unless a client asks for opaque ones.
func startHydra(t *testing.T) *hydra {
	t.Helper()
	bin := hydraBinary(t)
	pub, adm := freePort(t), freePort(t)
	h := &hydra{issuer: fmt.Sprintf("http://127.0.0.1:%d", pub), admin: fmt.Sprintf("http://127.0.0.1:%d", adm)}
	app := httptest.NewServer(h.loginApp(t))
	t.Cleanup(app.Close)
	dir := t.TempDir()
	cfg := fmt.Sprintf(`dsn: memory
serve:
  public: {host: 127.0.0.1, port: %d}
  admin: {host: 127.0.0.1, port: %d}
urls:
  self: {issuer: %s}
  login: %s/login
  consent: %s/consent
strategies:
  access_token: jwt
secrets:
  system: ["a-secret-for-this-test-run-only-0123456789"]
log:
  level: warn
`, pub, adm, h.issuer, app.URL, app.URL)
	if err := os.WriteFile(filepath.Join(dir, "hydra.yml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	cmd := exec.Command(bin, "serve", "all", "--dev", "--sqa-opt-out", "-c", filepath.Join(dir, "hydra.yml"))
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("hydra log:\n%s", log.String())
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(h.admin + "/health/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("hydra did not become ready: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The first discovery makes the keys; do it before any test races it.
	h.do(t, http.MethodGet, h.issuer+"/.well-known/openid-configuration", nil, http.StatusOK)
	return h
}

// loginApp is Hydra's login and consent app for the tests: it accepts
// every login challenge as the person set with signInAs, and every
// consent challenge with the scopes asked for, putting the email in the
// ID token. Hydra's admin API does the rest (RFC-conformant OpenID
// Connect, PKCE, nonce).
func (h *hydra) loginApp(t *testing.T) http.Handler {
	accept := func(w http.ResponseWriter, kind, challenge string, body any) {
		b, _ := json.Marshal(body)
		req, _ := http.NewRequest(http.MethodPut, h.admin+"/admin/oauth2/auth/requests/"+kind+"/accept?"+kind+"_challenge="+url.QueryEscape(challenge), bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		var out struct {
			RedirectTo string `json:"redirect_to"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || out.RedirectTo == "" {
			http.Error(w, fmt.Sprintf("accepting the %s: %s %v", kind, resp.Status, err), http.StatusBadGateway)
			return
		}
		http.Redirect(w, &http.Request{Method: http.MethodGet}, out.RedirectTo, http.StatusFound)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /login", func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		p := h.person
		h.logins++
		h.mu.Unlock()
		accept(w, "login", r.URL.Query().Get("login_challenge"), map[string]any{"subject": p.Subject, "remember": false})
	})
	mux.HandleFunc("GET /consent", func(w http.ResponseWriter, r *http.Request) {
		challenge := r.URL.Query().Get("consent_challenge")
		resp, err := http.Get(h.admin + "/admin/oauth2/auth/requests/consent?consent_challenge=" + url.QueryEscape(challenge))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		var cr struct {
			RequestedScope    []string `json:"requested_scope"`
			RequestedAudience []string `json:"requested_access_token_audience"`
		}
		json.NewDecoder(resp.Body).Decode(&cr)
		h.mu.Lock()
		p := h.person
		h.mu.Unlock()
		accept(w, "consent", challenge, map[string]any{
			"grant_scope": cr.RequestedScope, "grant_access_token_audience": cr.RequestedAudience, "remember": false,
			"session": map[string]any{"id_token": map[string]any{"email": p.Email, "email_verified": p.EmailVerified}},
		})
	})
	return mux
}

// do sends a JSON request to Hydra and returns the decoded answer,
// failing the test unless the status is want.
func (h *hydra) do(t *testing.T, method, u string, body any, want int) map[string]any {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, u, r)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("%s %s: %s %s", method, u, resp.Status, raw)
	}
	var v map[string]any
	json.Unmarshal(raw, &v)
	return v
}

// client registers a machine client at Hydra through its admin API.
func (h *hydra) client(t *testing.T, id, scope string, audiences []string, extra map[string]any) (clientID, secret string) {
	t.Helper()
	secret = "secret-of-" + id + "-0123456789abcdef"
	c := map[string]any{
		"client_id": id, "client_secret": secret, "grant_types": []string{"client_credentials"},
		"scope": scope, "audience": audiences, "token_endpoint_auth_method": "client_secret_basic",
	}
	for k, v := range extra {
		c[k] = v
	}
	h.do(t, http.MethodPost, h.admin+"/admin/clients", c, http.StatusCreated)
	return id, secret
}

// token gets an access token from Hydra's token endpoint with the client
// credentials grant. Hydra names the audience with its own audience
// parameter (it does not read RFC 8707's resource).
func (h *hydra) token(t *testing.T, id, secret, scope, audience string) string {
	t.Helper()
	access, _ := h.tokenRequest(t, id, secret, url.Values{"grant_type": {"client_credentials"}, "scope": {scope}, "audience": {audience}})
	return access
}

// tokenRequest posts form to Hydra's token endpoint as client id and
// returns the access and refresh tokens, failing the test without an
// access token.
func (h *hydra) tokenRequest(t *testing.T, id, secret string, form url.Values) (access, refresh string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, h.issuer+"/oauth2/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(id, secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tr struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
	}
	raw, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(raw, &tr); err != nil || resp.StatusCode != http.StatusOK || tr.AccessToken == "" {
		t.Fatalf("hydra token for %s (%s): %s %s", id, form.Get("grant_type"), resp.Status, raw)
	}
	return tr.AccessToken, tr.RefreshToken
}

// codeFlow signs the set person in at Hydra for client id with the
// authorization code grant, as a browser would (cookies kept, redirects
// followed until the one to redirect), and redeems the code: the access
// and refresh tokens.
func (h *hydra) codeFlow(t *testing.T, id, secret, redirect, scope, audience string) (access, refresh string) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	next := h.issuer + "/oauth2/auth?" + url.Values{"client_id": {id}, "response_type": {"code"}, "scope": {scope},
		"redirect_uri": {redirect}, "state": {"state-0123456789"}, "audience": {audience}}.Encode()
	var code string
	for hops := 0; code == "" && hops < 10; hops++ {
		resp, err := browser.Get(next)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		loc := resp.Header.Get("Location")
		if loc == "" {
			t.Fatalf("the code flow at Hydra stopped at %s with %s", next, resp.Status)
		}
		u, _ := resp.Request.URL.Parse(loc)
		if strings.HasPrefix(u.String(), redirect) {
			if code = u.Query().Get("code"); code == "" {
				t.Fatalf("Hydra redirected back without a code: %s", u.RawQuery)
			}
		}
		next = u.String()
	}
	access, refresh = h.tokenRequest(t, id, secret, url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirect}})
	if refresh == "" {
		t.Fatal("Hydra issued no refresh token for offline_access")
	}
	return access, refresh
}

// jwtHeader decodes a JWT's header.
func jwtHeader(t *testing.T, tok string) map[string]any {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[0])
	if err != nil {
		t.Fatal(err)
	}
	var h map[string]any
	json.Unmarshal(raw, &h)
	return h
}

// mcpPost sends one JSON-RPC message to url with a bearer token and
// returns the status, the parsed WWW-Authenticate parameters and the body.
func mcpPost(t *testing.T, u, token, body string) (int, map[string]string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	params := map[string]string{}
	if h := resp.Header.Get("WWW-Authenticate"); h != "" {
		for part := range strings.SplitSeq(strings.TrimPrefix(h, "Bearer "), ", ") {
			k, v, _ := strings.Cut(part, "=")
			params[k] = strings.Trim(v, `"`)
		}
	}
	return resp.StatusCode, params, string(raw)
}
