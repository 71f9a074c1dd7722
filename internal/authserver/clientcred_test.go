package authserver_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/2coffee/mcp-2coffee/internal/authn"
	"github.com/2coffee/mcp-2coffee/internal/authserver"
	"github.com/2coffee/mcp-2coffee/internal/oauth"
)

// machine registers a client_credentials client as an operator would.
func (e *env) machine(method string, scopes ...string) (*oauth.Client, string) {
	e.t.Helper()
	c, secret, err := e.srv.Admin().CreateClient(e.t.Context(), oauth.ClientSpec{
		Name: "Nightly job", AuthMethod: method, Scopes: scopes, ClientCredentials: true})
	if err != nil {
		e.t.Fatal(err)
	}
	return c, secret
}

func TestClientCredentials(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	c, secret := e.machine(oauth.AuthSecretBasic, authn.ScopeRead)
	ask := func(form url.Values) (*http.Response, string) {
		t.Helper()
		f := url.Values{"grant_type": {"client_credentials"}}
		for k, v := range form {
			f[k] = v
		}
		return e.postForm(authserver.PathToken, f, &c.ID, &secret)
	}

	resp, body := ask(url.Values{"resource": {e.issuer + "/mcp"}})
	tk := decodeTokens(t, resp, body)
	if tk.TokenType != "Bearer" || tk.Scope != authn.ScopeRead || tk.RefreshToken != "" || tk.ExpiresIn <= 0 {
		t.Errorf("token response %+v: want a Bearer token for articles:read and no refresh token", tk)
	}
	p, err := e.verify(tk.AccessToken)
	if err != nil {
		t.Fatalf("VerifyAccessToken: %v", err)
	}
	if p.Subject != "client:"+c.ID || !slices.Equal(p.Scopes, []string{authn.ScopeRead}) || p.Method != "oauth" {
		t.Errorf("principal %+v: want the client itself with articles:read", p)
	}
	// Without resource or scope: the MCP endpoint and what it was given.
	resp, body = ask(nil)
	if tk := decodeTokens(t, resp, body); tk.Scope != authn.ScopeRead {
		t.Errorf("scope without asking: %q", tk.Scope)
	}

	for _, tt := range []struct {
		name   string
		form   url.Values
		status int
		code   string
	}{
		{"a scope it was not given", url.Values{"scope": {authn.ScopeWrite}}, 400, "invalid_scope"},
		{"an unknown scope", url.Values{"scope": {"admin"}}, 400, "invalid_scope"},
		{"another resource", url.Values{"resource": {"https://elsewhere.example/mcp"}}, 400, "invalid_target"},
		{"two resources", url.Values{"resource": {e.issuer + "/mcp", e.issuer + "/api/v1"}}, 400, "invalid_request"},
	} {
		resp, body := ask(tt.form)
		wantOAuthError(t, tt.name, resp, body, tt.status, tt.code)
	}

	wrong := secret[:len(secret)-1] + "x"
	resp, body = e.postForm(authserver.PathToken, url.Values{"grant_type": {"client_credentials"}}, &c.ID, &wrong)
	wantOAuthError(t, "a wrong secret", resp, body, 401, "invalid_client")
	resp, body = e.postForm(authserver.PathToken, url.Values{"grant_type": {"client_credentials"}, "client_id": {c.ID}, "client_secret": {secret}}, nil, nil)
	wantOAuthError(t, "the secret in the body of a basic client", resp, body, 401, "invalid_client")

	// A code-flow client, even a confidential one, does not get the grant.
	web, webSecret, err := e.srv.Admin().CreateClient(t.Context(), oauth.ClientSpec{
		Name: "Web app", RedirectURIs: []string{"https://app.example/cb"}, AuthMethod: oauth.AuthSecretBasic})
	if err != nil {
		t.Fatal(err)
	}
	resp, body = e.postForm(authserver.PathToken, url.Values{"grant_type": {"client_credentials"}}, &web.ID, &webSecret)
	wantOAuthError(t, "a code-flow client", resp, body, 400, "unauthorized_client")

	// Nor does the machine client get the other grants.
	resp, body = ask(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"m2cr_x"}})
	wantOAuthError(t, "refresh_token by a machine client", resp, body, 400, "unauthorized_client")

	// Revoking the token (RFC 7009) ends it.
	resp, body = e.postForm(authserver.PathRevoke, url.Values{"token": {tk.AccessToken}}, &c.ID, &secret)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("revoke: %d %s", resp.StatusCode, body)
	}
	if _, err := e.verify(tk.AccessToken); err == nil {
		t.Error("the revoked token still verifies")
	}
	// Deleting the client ends the rest.
	resp, body = ask(nil)
	last := decodeTokens(t, resp, body)
	if err := e.srv.Admin().DeleteClient(t.Context(), c.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.verify(last.AccessToken); err == nil {
		t.Error("a token of the deleted client still verifies")
	}
	resp, body = ask(nil)
	wantOAuthError(t, "the deleted client", resp, body, 401, "invalid_client")
	if logs := e.logs.String(); strings.Contains(logs, secret) || strings.Contains(logs, tk.AccessToken) {
		t.Error("the log holds the secret or the token")
	}
}

func TestClientCredentialsPost(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	ask := func(c *oauth.Client, secret, scope string) (*http.Response, string) {
		return e.postForm(authserver.PathToken, url.Values{"grant_type": {"client_credentials"},
			"client_id": {c.ID}, "client_secret": {secret}, "scope": {scope}}, nil, nil)
	}
	// Given no scope, a machine client gets the least one: nobody approves
	// what it asks for.
	c, secret := e.machine(oauth.AuthSecretPost)
	resp, body := ask(c, secret, authn.ScopeWrite)
	wantOAuthError(t, "write for a machine client given no scope", resp, body, 400, "invalid_scope")
	resp, body = ask(c, secret, authn.ScopeRead)
	tk := decodeTokens(t, resp, body)
	if p, err := e.verify(tk.AccessToken); err != nil || p.Has(authn.ScopeWrite) || !p.Has(authn.ScopeRead) {
		t.Errorf("principal %+v, %v: want articles:read only", p, err)
	}
	// Given write by the operator, it may ask for it.
	w, wSecret := e.machine(oauth.AuthSecretPost, authn.ScopeWrite)
	resp, body = ask(w, wSecret, authn.ScopeWrite)
	tk = decodeTokens(t, resp, body)
	if p, err := e.verify(tk.AccessToken); err != nil || !p.Has(authn.ScopeWrite) {
		t.Errorf("principal %+v, %v: want articles:write", p, err)
	}
}

// TestMachineClientRules: only an operator makes a machine client, and
// only a confidential one without redirect URIs; it cannot start a
// browser sign-in.
func TestMachineClientRules(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	for name, spec := range map[string]oauth.ClientSpec{
		"public":                               {Name: "Job", ClientCredentials: true},
		"with a redirect":                      {Name: "Job", ClientCredentials: true, AuthMethod: oauth.AuthSecretBasic, RedirectURIs: []string{"https://app.example/cb"}},
		"an unknown scope":                     {Name: "Job", ClientCredentials: true, AuthMethod: oauth.AuthSecretBasic, Scopes: []string{"admin"}},
		"a public enterprise client":           {Name: "Agent", JWTBearer: true},
		"an enterprise client with a redirect": {Name: "Agent", JWTBearer: true, AuthMethod: oauth.AuthSecretBasic, RedirectURIs: []string{"https://app.example/cb"}},
		"both machine grants":                  {Name: "Agent", JWTBearer: true, ClientCredentials: true, AuthMethod: oauth.AuthSecretBasic},
	} {
		if c, _, err := e.srv.Admin().CreateClient(t.Context(), spec); err == nil {
			t.Errorf("%s: a machine client was made: %+v", name, c)
		}
	}
	resp, body := e.postJSON(authserver.PathRegister, `{"client_name":"Job","grant_types":["client_credentials"],"token_endpoint_auth_method":"client_secret_basic"}`)
	wantOAuthError(t, "dynamic registration of a machine client", resp, body, 400, "invalid_client_metadata")
	resp, body = e.postJSON(authserver.PathRegister, `{"client_name":"Agent","grant_types":["urn:ietf:params:oauth:grant-type:jwt-bearer"],"token_endpoint_auth_method":"client_secret_basic"}`)
	wantOAuthError(t, "dynamic registration of an enterprise client", resp, body, 400, "invalid_client_metadata")
	// An enterprise client, made by the operator, gets the least scope
	// unless given more, and the jwt-bearer grant alone.
	ent, _, err := e.srv.Admin().CreateClient(t.Context(), oauth.ClientSpec{Name: "Agent", JWTBearer: true, AuthMethod: oauth.AuthSecretPost})
	if err != nil || !slices.Equal(ent.GrantTypes, []string{oauth.GrantJWTBearer}) || !slices.Equal(ent.Scopes, []string{authn.ScopeRead}) || !ent.Machine() {
		t.Errorf("an enterprise client: %+v, %v", ent, err)
	}

	c, _ := e.machine(oauth.AuthSecretBasic)
	p := newPKCE()
	page := e.browser().get(e.authorizeURL(authParams(c.ID, "https://app.example/cb", p)))
	if page.StatusCode == http.StatusFound || page.StatusCode == http.StatusSeeOther || page.Header.Get("Location") != "" {
		t.Errorf("authorize for a machine client redirected (%d): it must end on an error page", page.StatusCode)
	}
}

// TestIntrospectMachineToken: introspection (RFC 7662) of a machine
// client's token names the client as its subject, and no user.
func TestIntrospectMachineToken(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	c, secret := e.machine(oauth.AuthSecretBasic, authn.ScopeRead)
	resp, body := e.postForm(authserver.PathToken, url.Values{"grant_type": {"client_credentials"}}, &c.ID, &secret)
	tk := decodeTokens(t, resp, body)
	resp, body = e.postForm(authserver.PathIntrospect, url.Values{"token": {tk.AccessToken}}, &c.ID, &secret)
	var m map[string]any
	if err := json.Unmarshal([]byte(body), &m); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("introspect: %d %s", resp.StatusCode, body)
	}
	if m["active"] != true || m["sub"] != "client:"+c.ID || m["client_id"] != c.ID || m["username"] != nil || m["scope"] != authn.ScopeRead {
		t.Errorf("introspection of a machine token: %v; want sub client:%s and no username", m, c.ID)
	}
	// A machine client is no resource server: a user's token is not its
	// to read.
	_, user := e.flow()
	resp, body = e.postForm(authserver.PathIntrospect, url.Values{"token": {user.AccessToken}}, &c.ID, &secret)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `"active":false`) || strings.Contains(body, "user:") {
		t.Errorf("a machine client introspecting a user's token: %d %s; want inactive", resp.StatusCode, body)
	}
}
