package authserver_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/2coffee/mcp-2coffee/internal/authn"
	"github.com/2coffee/mcp-2coffee/internal/authserver"
	"github.com/2coffee/mcp-2coffee/internal/oauth"
)

// codeFor runs the browser part for a new DCR client and returns the
// client id, the PKCE pair and the code.
func (e *env) codeFor() (string, pkce, string) {
	e.t.Helper()
	id := e.register()
	p := newPKCE()
	q := e.browser().authorize(authParams(id, loopbackRedirect, p))
	return id, p, q.Get("code")
}

func TestTokenCodeErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	other := e.register()
	tests := []struct {
		name   string
		edit   func(f url.Values, p pkce)
		status int
		code   string
	}{
		{"wrong verifier", func(f url.Values, _ pkce) { f.Set("code_verifier", newPKCE().verifier) }, 400, "invalid_grant"},
		{"verifier missing", func(f url.Values, _ pkce) { f.Del("code_verifier") }, 400, "invalid_request"},
		{"verifier too short", func(f url.Values, p pkce) { f.Set("code_verifier", p.verifier[:42]) }, 400, "invalid_request"},
		{"verifier equals the challenge (plain)", func(f url.Values, p pkce) { f.Set("code_verifier", p.challenge) }, 400, "invalid_grant"},
		{"other redirect_uri", func(f url.Values, _ pkce) { f.Set("redirect_uri", "http://127.0.0.1:33418/other") }, 400, "invalid_grant"},
		{"other port", func(f url.Values, _ pkce) { f.Set("redirect_uri", "http://127.0.0.1:1/oauth/callback") }, 400, "invalid_grant"},
		{"redirect_uri missing", func(f url.Values, _ pkce) { f.Del("redirect_uri") }, 400, "invalid_request"},
		{"wrong resource", func(f url.Values, _ pkce) { f.Set("resource", "https://other.example/mcp") }, 400, "invalid_target"},
		{"another client's code", func(f url.Values, _ pkce) { f.Set("client_id", other) }, 400, "invalid_grant"},
		{"unknown code", func(f url.Values, _ pkce) { f.Set("code", oauth.PrefixCode+strings.Repeat("a", 52)) }, 400, "invalid_grant"},
		{"unknown grant type", func(f url.Values, _ pkce) { f.Set("grant_type", "password") }, 400, "unsupported_grant_type"},
		{"client credentials grant, not registered for it", func(f url.Values, _ pkce) { f.Set("grant_type", "client_credentials") }, 400, "unauthorized_client"},
		{"an unknown grant", func(f url.Values, _ pkce) { f.Set("grant_type", "password") }, 400, "unsupported_grant_type"},
		{"no grant type", func(f url.Values, _ pkce) { f.Del("grant_type") }, 400, "invalid_request"},
		{"repeated parameter", func(f url.Values, p pkce) { f.Add("code_verifier", p.verifier) }, 400, "invalid_request"},
		{"unknown client", func(f url.Values, _ pkce) { f.Set("client_id", "nope") }, 401, "invalid_client"},
		{"public client with a secret", func(f url.Values, _ pkce) { f.Set("client_secret", "x") }, 401, "invalid_client"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id, p, code := e.codeFor()
			f := url.Values{"grant_type": {"authorization_code"}, "client_id": {id}, "code": {code},
				"redirect_uri": {loopbackRedirect}, "code_verifier": {p.verifier}}
			tc.edit(f, p)
			resp, body := e.postForm(authserver.PathToken, f, nil, nil)
			wantOAuthError(t, tc.name, resp, body, tc.status, tc.code)
			if resp.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("error without Cache-Control: no-store")
			}
			// None of these consumes the code: the right request still
			// works (except where the code itself was replaced, which
			// leaves it untouched too).
			resp, body = e.exchange(id, code, loopbackRedirect, p.verifier)
			decodeTokens(t, resp, body)
		})
	}
}

func TestTokenExpiredCode(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	id, p, code := e.codeFor()
	e.clock.Advance(2 * time.Minute)
	resp, body := e.exchange(id, code, loopbackRedirect, p.verifier)
	wantOAuthError(t, "expired code", resp, body, 400, "invalid_grant")
}

func TestTokenNotFromTheQuery(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	id, p, code := e.codeFor()
	q := url.Values{"grant_type": {"authorization_code"}, "client_id": {id}, "code": {code},
		"redirect_uri": {loopbackRedirect}, "code_verifier": {p.verifier}}
	req, _ := http.NewRequest(http.MethodPost, e.issuer+authserver.PathToken+"?"+q.Encode(), strings.NewReader("grant_type=authorization_code&client_id="+id))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var body oauthErr
	json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	if resp.StatusCode != 400 || body.Error != "invalid_request" {
		t.Errorf("code in the query: %d %q, want 400 invalid_request", resp.StatusCode, body.Error)
	}
	// Not JSON either.
	resp, err = http.Post(e.issuer+authserver.PathToken, "application/json", strings.NewReader(`{"grant_type":"authorization_code"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Errorf("JSON body: %d, want 400", resp.StatusCode)
	}
}

// TestTokenBasicThenBody is what the go-sdk client does for a public
// client: HTTP Basic with an empty secret first, then client_id in the
// body. The first must fail as invalid_client without consuming the code.
func TestTokenBasicThenBody(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	id, p, code := e.codeFor()
	f := url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {loopbackRedirect}, "code_verifier": {p.verifier}}
	resp, body := e.postForm(authserver.PathToken, f, &id, ptr(""))
	wantOAuthError(t, "Basic with an empty secret", resp, body, 401, "invalid_client")
	if got := resp.Header.Get("WWW-Authenticate"); !strings.HasPrefix(got, "Basic ") {
		t.Errorf("WWW-Authenticate %q, want a Basic challenge", got)
	}
	f.Set("client_id", id)
	resp, body = e.postForm(authserver.PathToken, f, nil, nil)
	decodeTokens(t, resp, body)
}

func TestConfidentialClient(t *testing.T) {
	t.Parallel()
	for _, method := range []string{oauth.AuthSecretBasic, oauth.AuthSecretPost} {
		t.Run(method, func(t *testing.T) {
			e := newEnv(t, "")
			c, secret, err := e.srv.Admin().CreateClient(t.Context(), oauth.ClientSpec{
				Name: "Web app", RedirectURIs: []string{"https://app.example/cb"}, AuthMethod: method})
			if err != nil {
				t.Fatal(err)
			}
			p := newPKCE()
			q := e.browser().authorize(authParams(c.ID, "https://app.example/cb", p))
			f := url.Values{"grant_type": {"authorization_code"}, "code": {q.Get("code")},
				"redirect_uri": {"https://app.example/cb"}, "code_verifier": {p.verifier}}
			wrong := secret[:len(secret)-1] + "x"
			send := func(sec string, basic bool) (*http.Response, string) {
				g := url.Values{}
				for k, v := range f {
					g[k] = v
				}
				if basic {
					return e.postForm(authserver.PathToken, g, &c.ID, &sec)
				}
				g.Set("client_id", c.ID)
				g.Set("client_secret", sec)
				return e.postForm(authserver.PathToken, g, nil, nil)
			}
			basic := method == oauth.AuthSecretBasic
			resp, body := send(wrong, basic)
			wantOAuthError(t, "wrong secret", resp, body, 401, "invalid_client")
			resp, body = send(secret, !basic)
			wantOAuthError(t, "the other method", resp, body, 401, "invalid_client")
			g := url.Values{"client_id": {c.ID}}
			for k, v := range f {
				g[k] = v
			}
			resp, body = e.postForm(authserver.PathToken, g, nil, nil)
			wantOAuthError(t, "no secret", resp, body, 401, "invalid_client")
			resp, body = send(secret, basic)
			decodeTokens(t, resp, body)
		})
	}
}

func TestCodeReplayRevokesTokens(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	id, p, code := e.codeFor()
	resp, body := e.exchange(id, code, loopbackRedirect, p.verifier)
	tk := decodeTokens(t, resp, body)
	if _, err := e.verify(tk.AccessToken); err != nil {
		t.Fatalf("VerifyAccessToken: %v", err)
	}
	resp, body = e.exchange(id, code, loopbackRedirect, p.verifier)
	wantOAuthError(t, "replayed code", resp, body, 400, "invalid_grant")
	if _, err := e.verify(tk.AccessToken); !errors.Is(err, authserver.ErrTokenRevoked) {
		t.Errorf("access token after the code was replayed: %v, want ErrTokenRevoked", err)
	}
	resp, body = e.refresh(id, tk.RefreshToken, nil)
	wantOAuthError(t, "refresh token after the code was replayed", resp, body, 400, "invalid_grant")
	if !strings.Contains(e.logs.String(), "reason=code_replayed") {
		t.Errorf("replay not logged:\n%s", e.logs)
	}
}

// TestCodeExchangeAfterGrantRevoked: when the user disconnects the app
// between approval and exchange, the code exchanges for nothing.
func TestCodeExchangeAfterGrantRevoked(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	id, p, code := e.codeFor()
	if err := e.srv.Admin().RevokeGrant(t.Context(), userName, id); err != nil {
		t.Fatalf("RevokeGrant: %v", err)
	}
	resp, body := e.exchange(id, code, loopbackRedirect, p.verifier)
	wantOAuthError(t, "code of a revoked grant", resp, body, 400, "invalid_grant")
	if strings.Contains(e.logs.String(), "reason=code_replayed") {
		t.Errorf("a code of a revoked family was logged as replayed:\n%s", e.logs)
	}
}

// TestSetPasswordRevokesTokens: changing a password signs the user out
// of apps too, and deleting the user kills their tokens.
func TestSetPasswordRevokesTokens(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	id, tk := e.flow()
	id2, tk2 := e.flow()
	if err := e.srv.Admin().SetPassword(t.Context(), userName, "a brand new password"); err != nil {
		t.Fatalf("SetPassword: %v", err)
	}
	for _, c := range []struct {
		id string
		tk tokens
	}{{id, tk}, {id2, tk2}} {
		if _, err := e.verify(c.tk.AccessToken); !errors.Is(err, authserver.ErrTokenRevoked) {
			t.Errorf("access token after a password change: %v, want ErrTokenRevoked", err)
		}
		resp, body := e.refresh(c.id, c.tk.RefreshToken, nil)
		wantOAuthError(t, "refresh after a password change", resp, body, 400, "invalid_grant")
	}

	if err := e.srv.Admin().SetPassword(t.Context(), userName, password); err != nil {
		t.Fatalf("SetPassword back: %v", err)
	}
	id3, tk3 := e.flow()
	if err := e.srv.Admin().DeleteUser(t.Context(), userName); err != nil {
		t.Fatalf("DeleteUser: %v", err)
	}
	if _, err := e.verify(tk3.AccessToken); err == nil {
		t.Errorf("access token of a deleted user still verifies")
	}
	resp, body := e.refresh(id3, tk3.RefreshToken, nil)
	wantOAuthError(t, "refresh of a deleted user", resp, body, 400, "invalid_grant")
}

func TestCodeExchangeRace(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	id, p, code := e.codeFor()
	const n = 8
	var wg sync.WaitGroup
	statuses := make(chan int, n)
	for range n {
		wg.Go(func() {
			resp, _ := e.exchange(id, code, loopbackRedirect, p.verifier)
			statuses <- resp.StatusCode
		})
	}
	wg.Wait()
	close(statuses)
	ok := 0
	for s := range statuses {
		if s == http.StatusOK {
			ok++
		}
	}
	if ok != 1 {
		t.Errorf("%d concurrent exchanges of one code: %d succeeded, want 1", n, ok)
	}
}

func TestRefreshRotation(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	id, tk := e.flow()

	// Rotation: the old refresh token is used once.
	resp, body := e.refresh(id, tk.RefreshToken, nil)
	tk2 := decodeTokens(t, resp, body)

	// Reuse within the grace window (a client retrying): another pair in
	// the same family.
	e.clock.Advance(20 * time.Second)
	resp, body = e.refresh(id, tk.RefreshToken, nil)
	tk3 := decodeTokens(t, resp, body)
	if tk3.RefreshToken == tk2.RefreshToken || tk3.AccessToken == tk2.AccessToken {
		t.Errorf("reuse within grace returned the same tokens")
	}
	for _, tok := range []string{tk2.AccessToken, tk3.AccessToken} {
		if _, err := e.verify(tok); err != nil {
			t.Errorf("VerifyAccessToken within grace: %v", err)
		}
	}

	// Reuse after the grace window: refused, and the whole family dies.
	e.clock.Advance(11 * time.Second)
	resp, body = e.refresh(id, tk.RefreshToken, nil)
	wantOAuthError(t, "reuse after the grace window", resp, body, 400, "invalid_grant")
	for _, tok := range []string{tk.AccessToken, tk2.AccessToken, tk3.AccessToken} {
		if _, err := e.verify(tok); !errors.Is(err, authserver.ErrTokenRevoked) {
			t.Errorf("access token after reuse was detected: %v, want ErrTokenRevoked", err)
		}
	}
	for _, rt := range []string{tk2.RefreshToken, tk3.RefreshToken} {
		resp, body = e.refresh(id, rt, nil)
		wantOAuthError(t, "a family member after reuse", resp, body, 400, "invalid_grant")
	}
	if !strings.Contains(e.logs.String(), "reason=refresh_token_reused") {
		t.Errorf("reuse not logged")
	}
}

// TestRefreshGraceOnce: within the grace window a rotated refresh token
// is re-issued once (a client that lost the answer retries and succeeds);
// a second reuse, even within the window, is refused and revokes the
// family, so reuse cannot grow parallel live chains.
func TestRefreshGraceOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	id, tk := e.flow()
	resp, body := e.refresh(id, tk.RefreshToken, nil)
	tk2 := decodeTokens(t, resp, body)
	e.clock.Advance(5 * time.Second)
	resp, body = e.refresh(id, tk.RefreshToken, nil)
	tk3 := decodeTokens(t, resp, body)
	e.clock.Advance(5 * time.Second)
	resp, body = e.refresh(id, tk.RefreshToken, nil)
	wantOAuthError(t, "second reuse within the grace window", resp, body, 400, "invalid_grant")
	for _, tok := range []string{tk2.AccessToken, tk3.AccessToken} {
		if _, err := e.verify(tok); !errors.Is(err, authserver.ErrTokenRevoked) {
			t.Errorf("access token after a second reuse: %v, want ErrTokenRevoked", err)
		}
	}
	for _, rt := range []string{tk2.RefreshToken, tk3.RefreshToken} {
		resp, body = e.refresh(id, rt, nil)
		wantOAuthError(t, "a family member after a second reuse", resp, body, 400, "invalid_grant")
	}
	if !strings.Contains(e.logs.String(), "reason=refresh_token_reused") {
		t.Errorf("reuse not logged")
	}
}

// TestRefreshGraceConcurrent: however many requests reuse one rotated
// token at once within the grace window, at most one gets tokens.
func TestRefreshGraceConcurrent(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	id, tk := e.flow()
	resp, body := e.refresh(id, tk.RefreshToken, nil)
	decodeTokens(t, resp, body)
	const n = 8
	var wg sync.WaitGroup
	statuses := make(chan int, n)
	for range n {
		wg.Go(func() {
			resp, _ := e.refresh(id, tk.RefreshToken, nil)
			statuses <- resp.StatusCode
		})
	}
	wg.Wait()
	close(statuses)
	ok := 0
	for s := range statuses {
		if s == http.StatusOK {
			ok++
		}
	}
	if ok > 1 {
		t.Errorf("%d concurrent reuses within the grace window: %d succeeded, want at most 1", n, ok)
	}
}

func TestRefreshErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	other := e.register()
	tests := []struct {
		name   string
		client func(id string) string
		extra  url.Values
		status int
		code   string
	}{
		{"widen scope", nil, url.Values{"scope": {"articles:write"}}, 400, "invalid_scope"},
		{"unknown scope", nil, url.Values{"scope": {"admin"}}, 400, "invalid_scope"},
		{"wrong resource", nil, url.Values{"resource": {"https://other.example/mcp"}}, 400, "invalid_target"},
		{"another client", func(string) string { return other }, nil, 400, "invalid_grant"},
		{"an access token", nil, nil, 400, "invalid_grant"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id, tk := e.flow()
			client := id
			if tc.client != nil {
				client = tc.client(id)
			}
			rt := tk.RefreshToken
			if tc.name == "an access token" {
				rt = tk.AccessToken
			}
			resp, body := e.refresh(client, rt, tc.extra)
			wantOAuthError(t, tc.name, resp, body, tc.status, tc.code)
			// Refused requests do not rotate the token.
			resp, body = e.refresh(id, tk.RefreshToken, nil)
			decodeTokens(t, resp, body)
		})
	}
	t.Run("expired", func(t *testing.T) {
		id, tk := e.flow()
		e.clock.Advance(30 * 24 * time.Hour)
		defer e.clock.Advance(-30 * 24 * time.Hour)
		resp, body := e.refresh(id, tk.RefreshToken, nil)
		wantOAuthError(t, "expired refresh token", resp, body, 400, "invalid_grant")
	})
}

func TestRefreshNarrowsScope(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	id := e.register()
	p := newPKCE()
	q := authParams(id, loopbackRedirect, p)
	q.Set("scope", "articles:read articles:write")
	back := e.browser().authorize(q)
	resp, body := e.exchange(id, back.Get("code"), loopbackRedirect, p.verifier)
	tk := decodeTokens(t, resp, body)
	resp, body = e.refresh(id, tk.RefreshToken, url.Values{"scope": {"articles:read"}})
	narrow := decodeTokens(t, resp, body)
	if narrow.Scope != "articles:read" {
		t.Errorf("narrowed scope %q", narrow.Scope)
	}
	pr, _ := e.verify(narrow.AccessToken)
	if pr.Has(authn.ScopeWrite) {
		t.Errorf("narrowed access token has articles:write")
	}
	// The refresh token keeps the original grant (RFC 6749 §6).
	resp, body = e.refresh(id, narrow.RefreshToken, nil)
	if tk := decodeTokens(t, resp, body); tk.Scope != "articles:read articles:write" {
		t.Errorf("scope after a narrowed refresh: %q, want the original grant", tk.Scope)
	}
}

func TestVerifyAccessToken(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	_, tk := e.flow()

	t.Run("not ours", func(t *testing.T) {
		for _, cred := range []string{"m2c_aaaaaaaaaaaa_" + strings.Repeat("b", 52), "eyJhbGciOi.x.y", tk.RefreshToken, ""} {
			_, err := e.verify(cred)
			if !errors.Is(err, authn.ErrUnrecognized) {
				t.Errorf("VerifyAccessToken(%.12s…): %v, want an unrecognized credential", cred, err)
			}
		}
		// Chained with an API key verifier, the key verifier answers.
		keyErr := &authn.CredentialError{Reason: "unknown", Description: "the API key is not valid"}
		chain := authn.Chain(e.srv.VerifyAccessToken, func(context.Context, string) (*authn.Principal, error) { return nil, keyErr })
		if _, err := chain(t.Context(), "m2c_aaaaaaaaaaaa_"+strings.Repeat("b", 52)); !errors.Is(err, keyErr) {
			t.Errorf("chain: %v, want the key verifier's answer", err)
		}
	})
	t.Run("unknown", func(t *testing.T) {
		_, err := e.verify(oauth.PrefixAccessToken + strings.Repeat("a", 52))
		if !errors.Is(err, authserver.ErrTokenUnknown) || errors.Is(err, authn.ErrUnrecognized) {
			t.Errorf("unknown access token: %v, want ErrTokenUnknown", err)
		}
	})
	t.Run("other audience", func(t *testing.T) {
		// The same store and issuer, but a server for another resource:
		// a token minted for /mcp is not for it.
		u, _ := url.Parse(e.issuer)
		other, err := authserver.New(authserver.Config{Issuer: u, Resource: e.issuer + "/other", Store: e.store, Now: e.clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		_, err = other.VerifyAccessToken(t.Context(), tk.AccessToken)
		var ce *authn.CredentialError
		if !errors.As(err, &ce) || ce.Reason != "wrong_audience" {
			t.Errorf("token for another audience: %v, want reason wrong_audience", err)
		}
	})
	t.Run("expired", func(t *testing.T) {
		e.clock.Advance(time.Hour)
		defer e.clock.Advance(-time.Hour)
		_, err := e.verify(tk.AccessToken)
		var ce *authn.CredentialError
		if !errors.As(err, &ce) || ce.Reason != "expired" {
			t.Errorf("expired token: %v, want reason expired", err)
		}
	})
	t.Run("revoked", func(t *testing.T) {
		resp, _ := e.postForm(authserver.PathRevoke, url.Values{"token": {tk.AccessToken}, "client_id": {"nope"}}, nil, nil)
		if resp.StatusCode != 401 {
			t.Errorf("revoke by an unknown client: %d, want 401", resp.StatusCode)
		}
		if _, err := e.verify(tk.AccessToken); err != nil {
			t.Fatalf("token revoked by a refused request: %v", err)
		}
	})
}

func TestRevoke(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	id, tk := e.flow()
	other, tkOther := e.flow()
	post := func(client, token string) int {
		resp, body := e.postForm(authserver.PathRevoke, url.Values{"token": {token}, "client_id": {client}}, nil, nil)
		if resp.StatusCode == 200 && body != "" {
			t.Errorf("revoke answered a body: %q", body)
		}
		return resp.StatusCode
	}
	// Unknown and malformed tokens: 200 (RFC 7009 §2.2).
	for _, tok := range []string{"garbage", oauth.PrefixAccessToken + strings.Repeat("a", 52)} {
		if s := post(id, tok); s != 200 {
			t.Errorf("revoke of an unknown token: %d, want 200", s)
		}
	}
	// Another client's token: 200, and nothing revoked.
	if s := post(id, tkOther.AccessToken); s != 200 {
		t.Errorf("revoke of another client's token: %d, want 200", s)
	}
	if _, err := e.verify(tkOther.AccessToken); err != nil {
		t.Errorf("another client revoked a token: %v", err)
	}
	// Revoking an access token leaves the refresh token working.
	if s := post(id, tk.AccessToken); s != 200 {
		t.Errorf("revoke: %d", s)
	}
	if _, err := e.verify(tk.AccessToken); !errors.Is(err, authserver.ErrTokenRevoked) {
		t.Errorf("revoked access token: %v", err)
	}
	resp, body := e.refresh(id, tk.RefreshToken, nil)
	decodeTokens(t, resp, body)
	_ = other
}

// TestRefreshGraceCannotFork: a thief who replays a rotated refresh token
// within the grace window gets a chain, but not one that lives beside the
// client's: when the client next refreshes with its own successor, the
// family ends, the thief's tokens with it.
func TestRefreshGraceCannotFork(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	id, tk := e.flow()
	resp, body := e.refresh(id, tk.RefreshToken, nil)
	client := decodeTokens(t, resp, body) // the client's rotation
	e.clock.Advance(5 * time.Second)
	resp, body = e.refresh(id, tk.RefreshToken, nil)
	thief := decodeTokens(t, resp, body) // a replay within the window
	resp, body = e.refresh(id, thief.RefreshToken, nil)
	thief = decodeTokens(t, resp, body) // the thief keeps refreshing
	resp, body = e.refresh(id, client.RefreshToken, nil)
	wantOAuthError(t, "the client's refresh after the thief's", resp, body, 400, "invalid_grant")
	resp, body = e.refresh(id, thief.RefreshToken, nil)
	wantOAuthError(t, "the thief's refresh once the fork was seen", resp, body, 400, "invalid_grant")
	if _, err := e.verify(thief.AccessToken); !errors.Is(err, authserver.ErrTokenRevoked) {
		t.Errorf("the thief's access token after the fork was seen: %v, want ErrTokenRevoked", err)
	}
	if !strings.Contains(e.logs.String(), "reason=refresh_token_superseded") {
		t.Errorf("the superseded token was not logged")
	}
}
