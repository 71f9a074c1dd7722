package authserver_test

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/2coffee/mcp-2coffee/internal/authserver"
	"github.com/2coffee/mcp-2coffee/internal/extauth"
	"github.com/2coffee/mcp-2coffee/internal/extauth/idptest"
	"github.com/2coffee/mcp-2coffee/internal/oauth"
)

// enterpriseEnv is a server trusting idp's ID-JAGs, with an enterprise
// client (the jwt-bearer grant, read and write) whose id and secret it
// returns.
func enterpriseEnv(t *testing.T, idp *idptest.Provider) (e *env, id, secret string) {
	t.Helper()
	e = newEnv(t, "", func(c *authserver.Config) {
		g, err := extauth.NewGrantVerifier(context.Background(), extauth.GrantConfig{Issuer: idp.URL, Audience: c.Issuer.String(), MinRefetch: time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		c.Enterprise = g
		c.Resources = []string{c.Issuer.String() + "/api/v1"}
	})
	cl, secret, err := e.srv.Admin().CreateClient(context.Background(), oauth.ClientSpec{
		Name: "Acme agent", AuthMethod: oauth.AuthSecretBasic, JWTBearer: true, Scopes: []string{"articles:read", "articles:write"}})
	if err != nil {
		t.Fatal(err)
	}
	return e, cl.ID, secret
}

var ann = idptest.Person{Subject: "u-ann", Email: "ann@example.com", EmailVerified: true}

func (e *env) jwtBearer(id, secret, assertion string, extra url.Values) (*http.Response, string) {
	e.t.Helper()
	form := url.Values{"grant_type": {oauth.GrantJWTBearer}, "assertion": {assertion}}
	for k, v := range extra {
		form[k] = v
	}
	return e.postForm(authserver.PathToken, form, &id, &secret)
}

// TestJWTBearerGrant: an ID-JAG from the trusted enterprise provider buys
// a token for the user it names, bound to our resource, with the scopes it
// grants, no refresh token; the user is made once and shows the client on
// the connected-apps page, where disconnecting revokes the token; the
// metadata says the grant and the profile are supported.
func TestJWTBearerGrant(t *testing.T) {
	idp := idptest.New(t)
	e, id, secret := enterpriseEnv(t, idp)
	resource := e.issuer + "/mcp"

	m := e.srv.Metadata()
	if !slices.Contains(m.GrantTypesSupported, oauth.GrantJWTBearer) || !slices.Equal(m.AuthorizationGrantProfilesSupported, []string{authserver.GrantProfileIDJAG}) {
		t.Errorf("metadata: grants %v, profiles %v", m.GrantTypesSupported, m.AuthorizationGrantProfilesSupported)
	}

	jag := idp.IDJAG(ann, e.issuer, resource, id, "articles:read articles:write", nil)
	resp, body := e.jwtBearer(id, secret, jag, nil)
	tk := decodeTokens(t, resp, body)
	if tk.RefreshToken != "" || tk.Scope != "articles:read articles:write" || !strings.EqualFold(tk.TokenType, "Bearer") {
		t.Errorf("token response %+v", tk)
	}
	p, err := e.verify(tk.AccessToken)
	if err != nil || p.Subject != "user:ann@example.com" || !p.Has("articles:write") {
		t.Fatalf("the token: %+v, %v", p, err)
	}
	users, _ := e.srv.Admin().ListUsers(context.Background())
	n := 0
	for _, u := range users {
		if u.Issuer == idp.URL {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d users of the provider, want 1", n)
	}

	// The same ID-JAG again: a replay.
	resp, body = e.jwtBearer(id, secret, jag, nil)
	wantOAuthError(t, "a replayed ID-JAG", resp, body, http.StatusBadRequest, "invalid_grant")
	if !strings.Contains(body, "already used") {
		t.Errorf("a replay says %s", body)
	}

	// A second one narrowed by the request; the same user.
	resp, body = e.jwtBearer(id, secret, idp.IDJAG(ann, e.issuer, resource, id, "articles:read articles:write", nil), url.Values{"scope": {"articles:read"}, "resource": {resource}})
	if tk := decodeTokens(t, resp, body); tk.Scope != "articles:read" {
		t.Errorf("a request for articles:read got %q", tk.Scope)
	}
	users, _ = e.srv.Admin().ListUsers(context.Background())
	if len(users) != 2 { // the password user and ann
		t.Errorf("after a second ID-JAG: %d users", len(users))
	}

	// The connected-apps page shows the client; disconnecting it revokes
	// the token.
	grants, err := e.store.ListGrants(context.Background(), "ann@example.com")
	if err != nil || len(grants) != 1 || grants[0].ClientID != id || grants[0].ClientName != "Acme agent" {
		t.Fatalf("grants %+v, %v", grants, err)
	}
	if err := e.store.RevokeGrant(context.Background(), "ann@example.com", id, time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := e.verify(tk.AccessToken); err == nil {
		t.Error("the token works after the app was disconnected")
	}
}

// TestJWTBearerGrantRefusals: what the profile says to refuse is refused
// with the error RFC 6749 §5.2 names, and nothing is issued.
func TestJWTBearerGrantRefusals(t *testing.T) {
	idp := idptest.New(t)
	e, id, secret := enterpriseEnv(t, idp)
	resource := e.issuer + "/mcp"
	ctx := context.Background()
	code, _, err := e.srv.Admin().CreateClient(ctx, oauth.ClientSpec{Name: "web app", RedirectURIs: []string{"http://127.0.0.1/cb"}, AuthMethod: oauth.AuthSecretBasic})
	if err != nil {
		t.Fatal(err)
	}
	good := func(scope string, edit func(map[string]any)) string {
		return idp.IDJAG(ann, e.issuer, resource, id, scope, edit)
	}
	for _, tc := range []struct {
		name, assertion string
		extra           url.Values
		status          int
		code, says      string
	}{
		{"no assertion", "", nil, 400, "invalid_request", "assertion is required"},
		{"an ID token", idp.IDToken(ann), nil, 400, "invalid_grant", "not an ID-JAG"},
		{"for another authorization server", good("", func(c map[string]any) { c["aud"] = "https://other.example" }), nil, 400, "invalid_grant", "another authorization server"},
		{"for another client", good("", func(c map[string]any) { c["client_id"] = "someone-else" }), nil, 400, "invalid_grant", "another client"},
		{"for another resource", good("", func(c map[string]any) { c["resource"] = "https://other.example/mcp" }), nil, 400, "invalid_grant", "another resource"},
		{"a resource parameter it does not name", good("", nil), url.Values{"resource": {e.issuer + "/api/v1"}}, 400, "invalid_grant", "not for the resource"},
		{"a resource parameter not ours", good("", nil), url.Values{"resource": {"https://other.example/mcp"}}, 400, "invalid_target", "resource must be"},
		{"a scope we do not have", good("articles:read admin", nil), nil, 400, "invalid_grant", "scope admin"},
		{"a scope beyond the grant", good("articles:read", nil), url.Values{"scope": {"articles:write"}}, 400, "invalid_scope", "no scope in common"},
		{"expired", good("", func(c map[string]any) {
			c["iat"], c["exp"] = time.Now().Add(-time.Hour).Unix(), time.Now().Add(-10*time.Minute).Unix()
		}), nil, 400, "invalid_grant", "expired"},
	} {
		resp, body := e.jwtBearer(id, secret, tc.assertion, tc.extra)
		wantOAuthError(t, tc.name, resp, body, tc.status, tc.code)
		if !strings.Contains(decodeErr(t, body).Description, tc.says) {
			t.Errorf("%s: %s, want it to say %q", tc.name, body, tc.says)
		}
	}
	// A client of another grant, and a wrong secret.
	resp, body := e.jwtBearer(code.ID, "whatever", good("", nil), nil)
	wantOAuthError(t, "a client with a wrong secret", resp, body, http.StatusUnauthorized, "invalid_client")
	resp, body = e.jwtBearer(id, secret+"x", good("", nil), nil)
	wantOAuthError(t, "a wrong secret", resp, body, http.StatusUnauthorized, "invalid_client")
	if users, _ := e.srv.Admin().ListUsers(ctx); len(users) != 1 {
		t.Errorf("refused grants made users: %d", len(users))
	}
}

// TestJWTBearerGrantUnregistered: a client not registered for the grant
// is refused it, and a server trusting no enterprise provider takes no
// jwt-bearer grant at all and does not advertise it.
func TestJWTBearerGrantUnregistered(t *testing.T) {
	idp := idptest.New(t)
	e, _, _ := enterpriseEnv(t, idp)
	ctx := context.Background()
	cl, secret, err := e.srv.Admin().CreateClient(ctx, oauth.ClientSpec{Name: "web app", RedirectURIs: []string{"http://127.0.0.1/cb"}, AuthMethod: oauth.AuthSecretBasic})
	if err != nil {
		t.Fatal(err)
	}
	resp, body := e.jwtBearer(cl.ID, secret, idp.IDJAG(ann, e.issuer, "", cl.ID, "", nil), nil)
	wantOAuthError(t, "an authorization_code client", resp, body, http.StatusBadRequest, "unauthorized_client")

	plain := newEnv(t, "")
	if slices.Contains(plain.srv.Metadata().GrantTypesSupported, oauth.GrantJWTBearer) || plain.srv.Metadata().AuthorizationGrantProfilesSupported != nil {
		t.Error("a server without an enterprise provider advertises the jwt-bearer grant")
	}
	cl, secret, err = plain.srv.Admin().CreateClient(ctx, oauth.ClientSpec{Name: "agent", AuthMethod: oauth.AuthSecretBasic, JWTBearer: true})
	if err != nil {
		t.Fatal(err)
	}
	resp, body = plain.jwtBearer(cl.ID, secret, idp.IDJAG(ann, plain.issuer, "", cl.ID, "", nil), nil)
	wantOAuthError(t, "no enterprise provider", resp, body, http.StatusBadRequest, "unsupported_grant_type")
}
