package authn_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/2coffee/mcp-2coffee/internal/testkit"

	"github.com/google/go-cmp/cmp"

	"github.com/2coffee/mcp-2coffee/internal/authn"
)

// Credentials the fake verifier knows. They look like nothing in
// particular on purpose: the middleware must not care about their shape.
const (
	readCred    = "read-credential-0123456789"
	writeCred   = "write-credential-0123456789"
	revokedCred = "revoked-credential-0123456789"
	brokenCred  = "store-down-credential-0123456789"
	nilCred     = "nil-principal-credential-0123456789"
	foreignCred = "foreign-form-credential-0123456789" // no verifier's form
)

var (
	readPrincipal  = &authn.Principal{Subject: "key:reader", Scopes: []string{authn.ScopeRead}, Method: "api_key"}
	writePrincipal = &authn.Principal{Subject: "key:writer", Scopes: []string{authn.ScopeWrite}, Method: "api_key"}
	errRevoked     = &authn.CredentialError{Reason: "revoked", Description: "the API key has been revoked"}
)

// fakeVerifier counts its calls and answers from a fixed table.
type fakeVerifier struct{ calls atomic.Int32 }

func (v *fakeVerifier) Verify(_ context.Context, cred string) (*authn.Principal, error) {
	v.calls.Add(1)
	switch cred {
	case readCred:
		return readPrincipal, nil
	case writeCred:
		return writePrincipal, nil
	case revokedCred:
		return nil, errRevoked
	case brokenCred:
		return nil, errors.New("database is locked")
	case nilCred:
		return nil, nil
	case foreignCred:
		return nil, &authn.CredentialError{Reason: "malformed", Description: "the credential is not an access token of this server", Unrecognized: true}
	}
	return nil, &authn.CredentialError{Reason: "unknown", Description: "the API key is not valid"}
}

// seen is what the protected handler observed.
type seen struct {
	Principal *authn.Principal
	APIKey    []string
	Auth      []string
}

// echo is the protected handler: it reports the principal and whether
// credential headers reached it.
var echo = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(seen{
		Principal: authn.FromContext(r.Context()),
		APIKey:    r.Header.Values("X-API-KEY"),
		Auth:      r.Header.Values("Authorization"),
	})
})

type env struct {
	srv      *httptest.Server
	verifier *fakeVerifier
	failures *failures
	logs     *testkit.Buffer
}

func newEnv(t *testing.T, resourceMetadata string, wrap func(*authn.Authenticator, http.Handler) http.Handler) *env {
	t.Helper()
	e := &env{verifier: &fakeVerifier{}, failures: &failures{}, logs: &testkit.Buffer{}}
	opts := &authn.Authenticator{
		Verify:              e.verifier.Verify,
		ResourceMetadataURL: resourceMetadata,
		Logger:              slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		OnFailure:           e.failures.add,
	}
	var h http.Handler = echo
	if wrap != nil {
		h = wrap(opts, h)
	}
	// httptest.NewServer listens on 127.0.0.1.
	e.srv = httptest.NewServer(opts.Middleware(h))
	t.Cleanup(e.srv.Close)
	return e
}

func (e *env) request(t *testing.T, method, target string, headers map[string][]string, body string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+target, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range headers {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	return req
}

const (
	descMissing = "send an API key in the X-API-KEY header or an access token in Authorization: Bearer"
	descQuery   = "credentials are not accepted in the URL; send the API key in the X-API-KEY header or the token in Authorization: Bearer"
	rmURL       = `https://blog.example.com/.well-known/oauth-protected-resource/mcp`
)

func TestMiddlewareAccepts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		headers map[string][]string
		want    *authn.Principal
	}{
		{"X-API-KEY", map[string][]string{"X-API-KEY": {readCred}}, readPrincipal},
		{"x-api-key lower-case header name", map[string][]string{"x-api-key": {writeCred}}, writePrincipal},
		{"Bearer", map[string][]string{"Authorization": {"Bearer " + readCred}}, readPrincipal},
		{"bearer lower-case scheme", map[string][]string{"Authorization": {"bearer " + writeCred}}, writePrincipal},
		{"BEARER upper-case scheme", map[string][]string{"Authorization": {"BEARER " + readCred}}, readPrincipal},
		{"extra spaces", map[string][]string{"Authorization": {"Bearer   " + readCred + "  "}}, readPrincipal},
		{"both headers, same credential", map[string][]string{"X-API-KEY": {readCred}, "Authorization": {"Bearer " + readCred}}, readPrincipal},
		{"X-API-KEY beside another scheme", map[string][]string{"X-API-KEY": {readCred}, "Authorization": {"Basic dXNlcjpwYXNz"}}, readPrincipal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, "", nil)
			got := do(t, e.request(t, http.MethodGet, "/mcp?q=token&tokens=1&keyword=api_key", tt.headers, ""))
			if got.status != http.StatusOK {
				t.Fatalf("status = %d, want 200; body %s", got.status, got.body)
			}
			var s seen
			if err := json.Unmarshal(got.body, &s); err != nil {
				t.Fatalf("decoding handler output %q: %v", got.body, err)
			}
			if diff := cmp.Diff(seen{Principal: tt.want}, s); diff != "" {
				t.Errorf("what the handler saw mismatch (-want +got); the principal must be in the context and the credential headers gone:\n%s", diff)
			}
			if n := e.verifier.calls.Load(); n != 1 {
				t.Errorf("verifier called %d times, want 1", n)
			}
			if r := e.failures.get(); len(r) != 0 {
				t.Errorf("OnFailure called with %q on success", r)
			}
		})
	}
}

func TestMiddlewareRefuses(t *testing.T) {
	t.Parallel()
	const tooLong = "x"
	tests := []struct {
		name       string
		target     string
		headers    map[string][]string
		status     int
		params     map[string]string // WWW-Authenticate parameters; nil: no header
		body       map[string]string
		reason     string
		verifyCall bool
	}{
		{
			name:   "no credential",
			target: "/mcp", status: 401,
			params: map[string]string{"realm": "mcp-2coffee", "scope": "articles:read"},
			body:   map[string]string{"error": "unauthorized", "error_description": descMissing},
			reason: "missing",
		},
		{
			name:   "empty X-API-KEY",
			target: "/mcp", headers: map[string][]string{"X-API-KEY": {""}}, status: 401,
			params: map[string]string{"realm": "mcp-2coffee", "scope": "articles:read"},
			body:   map[string]string{"error": "unauthorized", "error_description": descMissing},
			reason: "missing",
		},
		{
			name:   "another scheme only",
			target: "/mcp", headers: map[string][]string{"Authorization": {"Basic dXNlcjpwYXNz"}}, status: 401,
			params: map[string]string{"realm": "mcp-2coffee", "scope": "articles:read"},
			body:   map[string]string{"error": "unauthorized", "error_description": descMissing},
			reason: "missing",
		},
		{
			name:   "unknown credential",
			target: "/mcp", headers: map[string][]string{"X-API-KEY": {"m2c_nope"}}, status: 401,
			params: map[string]string{"realm": "mcp-2coffee", "scope": "articles:read", "error": "invalid_token", "error_description": "the API key is not valid"},
			body:   map[string]string{"error": "invalid_token", "error_description": "the API key is not valid"},
			reason: "unknown", verifyCall: true,
		},
		{
			name:   "revoked credential as Bearer",
			target: "/mcp", headers: map[string][]string{"Authorization": {"Bearer " + revokedCred}}, status: 401,
			params: map[string]string{"realm": "mcp-2coffee", "scope": "articles:read", "error": "invalid_token", "error_description": "the API key has been revoked"},
			body:   map[string]string{"error": "invalid_token", "error_description": "the API key has been revoked"},
			reason: "revoked", verifyCall: true,
		},
		{
			name:   "unrecognized form in X-API-KEY",
			target: "/mcp", headers: map[string][]string{"X-API-KEY": {foreignCred}}, status: 401,
			params: map[string]string{"realm": "mcp-2coffee", "scope": "articles:read", "error": "invalid_token", "error_description": "the X-API-KEY header does not carry an API key of this server"},
			body:   map[string]string{"error": "invalid_token", "error_description": "the X-API-KEY header does not carry an API key of this server"},
			reason: "malformed", verifyCall: true,
		},
		{
			name:   "unrecognized form as Bearer",
			target: "/mcp", headers: map[string][]string{"Authorization": {"Bearer " + foreignCred}}, status: 401,
			params: map[string]string{"realm": "mcp-2coffee", "scope": "articles:read", "error": "invalid_token", "error_description": "the credential is not an access token of this server"},
			body:   map[string]string{"error": "invalid_token", "error_description": "the credential is not an access token of this server"},
			reason: "malformed", verifyCall: true,
		},
		{
			name:   "credential too long",
			target: "/mcp", headers: map[string][]string{"X-API-KEY": {strings.Repeat(tooLong, authn.MaxCredentialLen+1)}}, status: 401,
			params: map[string]string{"realm": "mcp-2coffee", "scope": "articles:read", "error": "invalid_token", "error_description": "the credential is too long"},
			body:   map[string]string{"error": "invalid_token", "error_description": "the credential is too long"},
			reason: "malformed",
		},
		{
			name:   "two different credentials",
			target: "/mcp", headers: map[string][]string{"X-API-KEY": {readCred}, "Authorization": {"Bearer " + writeCred}}, status: 400,
			params: map[string]string{"realm": "mcp-2coffee", "scope": "articles:read", "error": "invalid_request", "error_description": "X-API-KEY and Authorization carry different credentials; send one"},
			body:   map[string]string{"error": "invalid_request", "error_description": "X-API-KEY and Authorization carry different credentials; send one"},
			reason: "bad_request",
		},
		{
			name:   "two X-API-KEY headers",
			target: "/mcp", headers: map[string][]string{"X-API-KEY": {readCred, writeCred}}, status: 400,
			params: map[string]string{"realm": "mcp-2coffee", "scope": "articles:read", "error": "invalid_request", "error_description": "send one X-API-KEY header"},
			body:   map[string]string{"error": "invalid_request", "error_description": "send one X-API-KEY header"},
			reason: "bad_request",
		},
		{
			name:   "two Authorization headers",
			target: "/mcp", headers: map[string][]string{"Authorization": {"Bearer " + readCred, "Bearer " + readCred}}, status: 400,
			params: map[string]string{"realm": "mcp-2coffee", "scope": "articles:read", "error": "invalid_request", "error_description": "send one Authorization header"},
			body:   map[string]string{"error": "invalid_request", "error_description": "send one Authorization header"},
			reason: "bad_request",
		},
		{
			name:   "empty Bearer",
			target: "/mcp", headers: map[string][]string{"Authorization": {"Bearer   "}}, status: 400,
			params: map[string]string{"realm": "mcp-2coffee", "scope": "articles:read", "error": "invalid_request", "error_description": "the Authorization: Bearer header carries no token"},
			body:   map[string]string{"error": "invalid_request", "error_description": "the Authorization: Bearer header carries no token"},
			reason: "bad_request",
		},
		{
			name:   "store down",
			target: "/mcp", headers: map[string][]string{"X-API-KEY": {brokenCred}}, status: 503,
			body:   map[string]string{"error": "temporarily_unavailable", "error_description": "the credential could not be checked; try again later"},
			reason: "error", verifyCall: true,
		},
		{
			name:   "verifier returns neither principal nor error",
			target: "/mcp", headers: map[string][]string{"X-API-KEY": {nilCred}}, status: 503,
			body:   map[string]string{"error": "temporarily_unavailable", "error_description": "the credential could not be checked; try again later"},
			reason: "error", verifyCall: true,
		},
	}
	// Every credential-bearing query parameter is refused, even next to a
	// valid header, and the verifier never sees it.
	for _, q := range []string{"api_key", "apikey", "access_token", "key", "token", "API_KEY", "Access_Token", "api%5Fkey", "x=1&token", "x=1;key=2", "apikey=%zz"} {
		tests = append(tests, struct {
			name       string
			target     string
			headers    map[string][]string
			status     int
			params     map[string]string
			body       map[string]string
			reason     string
			verifyCall bool
		}{
			name:   "query " + q,
			target: "/mcp?" + q + "=" + readCred, headers: map[string][]string{"X-API-KEY": {readCred}}, status: 400,
			params: map[string]string{"realm": "mcp-2coffee", "scope": "articles:read", "error": "invalid_request", "error_description": descQuery},
			body:   map[string]string{"error": "invalid_request", "error_description": descQuery},
			reason: "query_credential",
		})
	}
	for _, tt := range tests {
		for _, rm := range []string{"", rmURL} {
			name := tt.name
			if rm != "" {
				name += " with resource metadata"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				e := newEnv(t, rm, nil)
				got := do(t, e.request(t, http.MethodPost, tt.target, tt.headers, `{}`))
				params := tt.params
				if params != nil && rm != "" {
					params = map[string]string{"resource_metadata": rm}
					for k, v := range tt.params {
						params[k] = v
					}
				}
				checkChallenge(t, got, tt.status, params, tt.body)
				if diff := cmp.Diff([]string{tt.reason}, e.failures.get()); diff != "" {
					t.Errorf("OnFailure reasons mismatch (-want +got):\n%s", diff)
				}
				if called := e.verifier.calls.Load() > 0; called != tt.verifyCall {
					t.Errorf("verifier called: %v, want %v", called, tt.verifyCall)
				}
				logs := e.logs.String()
				if !strings.Contains(logs, "reason="+tt.reason) || !strings.Contains(logs, "remote=127.0.0.1:") {
					t.Errorf("log lacks the reason %q or the remote address:\n%s", tt.reason, logs)
				}
				for _, vs := range tt.headers {
					for _, v := range vs {
						if cred := strings.TrimSpace(strings.TrimPrefix(v, "Bearer")); len(cred) > 4 && strings.Contains(logs, cred) {
							t.Errorf("log holds the credential %q:\n%s", cred, logs)
						}
					}
				}
				if strings.Contains(logs, readCred) {
					t.Errorf("log holds the credential %q:\n%s", readCred, logs)
				}
			})
		}
	}
}

func TestMiddlewareNilVerifyPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("Middleware with a nil Verify did not panic")
		}
	}()
	(&authn.Authenticator{}).Middleware(echo)
}

func TestChain(t *testing.T) {
	notMine := &authn.CredentialError{Reason: "malformed", Description: "not an API key", Unrecognized: true}
	alsoNotMine := &authn.CredentialError{Reason: "malformed", Description: "not a token", Unrecognized: true}
	revoked := &authn.CredentialError{Reason: "revoked", Description: "revoked"}
	storeDown := errors.New("store down")
	var calls []string
	verifier := func(name string, p *authn.Principal, err error) authn.Verifier {
		return func(context.Context, string) (*authn.Principal, error) {
			calls = append(calls, name)
			return p, err
		}
	}
	tests := []struct {
		name      string
		chain     authn.Verifier
		want      *authn.Principal
		wantErr   error
		wantCalls []string
	}{
		{"first accepts", authn.Chain(verifier("a", readPrincipal, nil), verifier("b", writePrincipal, nil)),
			readPrincipal, nil, []string{"a"}},
		{"first declines, second accepts", authn.Chain(verifier("a", nil, notMine), verifier("b", writePrincipal, nil)),
			writePrincipal, nil, []string{"a", "b"}},
		{"first rejects: no second opinion", authn.Chain(verifier("a", nil, revoked), verifier("b", writePrincipal, nil)),
			nil, revoked, []string{"a"}},
		{"first fails: no second opinion", authn.Chain(verifier("a", nil, storeDown), verifier("b", writePrincipal, nil)),
			nil, storeDown, []string{"a"}},
		{"all decline: the first one's error", authn.Chain(verifier("a", nil, notMine), verifier("b", nil, alsoNotMine)),
			nil, notMine, []string{"a", "b"}},
		{"empty chain", authn.Chain(), nil, authn.ErrUnrecognized, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls = nil
			p, err := tt.chain(context.Background(), "cred")
			if err != tt.wantErr {
				t.Errorf("error = %v, want %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, p); diff != "" {
				t.Errorf("principal mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantCalls, calls); diff != "" {
				t.Errorf("verifiers called mismatch (-want +got):\n%s", diff)
			}
		})
	}
	if !errors.Is(authn.ErrUnrecognized, authn.ErrInvalidCredential) {
		t.Error("ErrUnrecognized does not match ErrInvalidCredential")
	}
	if errors.Is(revoked, authn.ErrUnrecognized) {
		t.Error("a CredentialError without Unrecognized matches ErrUnrecognized")
	}
}

// TestRefusalsNameTheClient: behind a trusted proxy the log line of a
// refusal names the client the proxy reported, not the proxy.
func TestRefusalsNameTheClient(t *testing.T) {
	t.Parallel()
	var logs strings.Builder
	a := &authn.Authenticator{
		Verify: func(context.Context, string) (*authn.Principal, error) {
			return nil, &authn.CredentialError{Reason: "unknown"}
		},
		Logger:   slog.New(slog.NewTextHandler(&logs, nil)),
		ClientIP: func(*http.Request) string { return "203.0.113.7" },
	}
	req := httptest.NewRequest(http.MethodPost, "/mcp", nil)
	req.RemoteAddr = "127.0.0.1:5555" // the proxy
	req.Header.Set("X-API-KEY", "m2c_nope")
	rec := httptest.NewRecorder()
	a.Middleware(bodyEcho).ServeHTTP(rec, req)
	if rec.Code != http.StatusUnauthorized || !strings.Contains(logs.String(), "remote=203.0.113.7") || strings.Contains(logs.String(), "127.0.0.1") {
		t.Errorf("status %d, log %q; want 401 logged with the client's address", rec.Code, logs.String())
	}
}
