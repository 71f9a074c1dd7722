package authserver_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/2coffee/mcp-2coffee/internal/authserver"
	"github.com/2coffee/mcp-2coffee/internal/oauth"
)

func TestRegister(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	tests := []struct {
		name string
		body string
		want map[string]any // without client_id, and client_secret when set
	}{
		{
			name: "public by default",
			body: `{"redirect_uris":["http://127.0.0.1:5000/cb","cursor://anysphere.cursor-retrieval/oauth/callback"],"client_name":"Cursor"}`,
			want: map[string]any{
				"client_id_issued_at":        float64(t0.Unix()),
				"redirect_uris":              []any{"http://127.0.0.1:5000/cb", "cursor://anysphere.cursor-retrieval/oauth/callback"},
				"token_endpoint_auth_method": "none",
				"grant_types":                []any{"authorization_code", "refresh_token"},
				"response_types":             []any{"code"},
				"client_name":                "Cursor",
			},
		},
		{
			name: "confidential gets a secret once",
			body: `{"redirect_uris":["https://claude.ai/api/mcp/auth_callback"],"token_endpoint_auth_method":"client_secret_basic","grant_types":["refresh_token","authorization_code"],"scope":"articles:write articles:read","unknown_member":[1,2]}`,
			want: map[string]any{
				"client_id_issued_at":        float64(t0.Unix()),
				"client_secret_expires_at":   float64(0),
				"redirect_uris":              []any{"https://claude.ai/api/mcp/auth_callback"},
				"token_endpoint_auth_method": "client_secret_basic",
				"grant_types":                []any{"authorization_code", "refresh_token"},
				"response_types":             []any{"code"},
				"scope":                      "articles:read articles:write",
			},
		},
		{
			name: "no refresh",
			body: `{"redirect_uris":["vscode://vscode.github-authentication/did-authenticate"],"grant_types":["authorization_code"],"response_types":["code"],"application_type":"native"}`,
			want: map[string]any{
				"client_id_issued_at":        float64(t0.Unix()),
				"redirect_uris":              []any{"vscode://vscode.github-authentication/did-authenticate"},
				"token_endpoint_auth_method": "none",
				"grant_types":                []any{"authorization_code"},
				"response_types":             []any{"code"},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, data := e.postJSON(authserver.PathRegister, tc.body)
			if resp.StatusCode != http.StatusCreated {
				t.Fatalf("status %d, want 201: %s", resp.StatusCode, data)
			}
			if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control %q, want no-store", cc)
			}
			var got map[string]any
			json.Unmarshal([]byte(data), &got)
			id, _ := got["client_id"].(string)
			delete(got, "client_id")
			secret, hasSecret := got["client_secret"].(string)
			delete(got, "client_secret")
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("registration response (-want +got):\n%s", diff)
			}
			_, wantSecret := tc.want["client_secret_expires_at"]
			if hasSecret != wantSecret || (hasSecret && !strings.HasPrefix(secret, oauth.PrefixClientSecret)) {
				t.Errorf("client_secret %q: want one with prefix %s: %v", secret, oauth.PrefixClientSecret, wantSecret)
			}
			// The client is stored, without its secret in the clear.
			cs, err := e.srv.Admin().ListClients(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			var found *oauth.Client
			for _, c := range cs {
				if c.ID == id {
					found = c
				}
			}
			if found == nil || found.Kind != oauth.KindDynamic {
				t.Fatalf("registered client %q not listed as dynamic: %+v", id, found)
			}
		})
	}
}

func TestRegisterRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	uris := func(us ...string) string {
		b, _ := json.Marshal(map[string]any{"redirect_uris": us})
		return string(b)
	}
	many := make([]string, 11)
	for i := range many {
		many[i] = fmt.Sprintf("http://127.0.0.1/cb%d", i)
	}
	tests := []struct {
		name   string
		ctype  string
		body   string
		status int
		code   string
	}{
		{"oversize", "application/json", `{"redirect_uris":["http://127.0.0.1/cb"],"client_name":"` + strings.Repeat("x", 17<<10) + `"}`, 413, "invalid_client_metadata"},
		{"not JSON", "application/x-www-form-urlencoded", "redirect_uris=http://127.0.0.1/cb", 400, "invalid_client_metadata"},
		{"malformed JSON", "application/json", `{"redirect_uris":`, 400, "invalid_client_metadata"},
		{"two JSON values", "application/json", uris("http://127.0.0.1/cb") + `{}`, 400, "invalid_client_metadata"},
		{"redirect_uris not a list", "application/json", `{"redirect_uris":"http://127.0.0.1/cb"}`, 400, "invalid_client_metadata"},
		{"no redirect URI", "application/json", `{"client_name":"x"}`, 400, "invalid_redirect_uri"},
		{"http on a public host", "application/json", uris("http://app.example/cb"), 400, "invalid_redirect_uri"},
		{"loopback look-alike", "application/json", uris("http://127.0.0.1.evil.example/cb"), 400, "invalid_redirect_uri"},
		{"user info", "application/json", uris("https://evil.example@app.example/cb"), 400, "invalid_redirect_uri"},
		{"user info on loopback", "application/json", uris("http://evil.example@127.0.0.1/cb"), 400, "invalid_redirect_uri"},
		{"fragment", "application/json", uris("https://app.example/cb#x"), 400, "invalid_redirect_uri"},
		{"javascript", "application/json", uris("javascript:alert(1)"), 400, "invalid_redirect_uri"},
		{"data", "application/json", uris("data:text/html,hi"), 400, "invalid_redirect_uri"},
		{"relative", "application/json", uris("/cb"), 400, "invalid_redirect_uri"},
		{"space", "application/json", uris("https://app.example/c b"), 400, "invalid_redirect_uri"},
		{"too long", "application/json", uris("https://app.example/" + strings.Repeat("a", 2048)), 400, "invalid_redirect_uri"},
		{"too many", "application/json", uris(many...), 400, "invalid_redirect_uri"},
		{"name too long", "application/json", `{"redirect_uris":["http://127.0.0.1/cb"],"client_name":"` + strings.Repeat("é", 201) + `"}`, 400, "invalid_client_metadata"},
		{"name with control characters", "application/json", `{"redirect_uris":["http://127.0.0.1/cb"],"client_name":"a\u001b[31mb"}`, 400, "invalid_client_metadata"},
		{"unknown auth method", "application/json", `{"redirect_uris":["http://127.0.0.1/cb"],"token_endpoint_auth_method":"private_key_jwt"}`, 400, "invalid_client_metadata"},
		{"unsupported grant", "application/json", `{"redirect_uris":["http://127.0.0.1/cb"],"grant_types":["client_credentials"]}`, 400, "invalid_client_metadata"},
		{"refresh only", "application/json", `{"redirect_uris":["http://127.0.0.1/cb"],"grant_types":["refresh_token"]}`, 400, "invalid_client_metadata"},
		{"token response type", "application/json", `{"redirect_uris":["http://127.0.0.1/cb"],"response_types":["token"]}`, 400, "invalid_client_metadata"},
		{"unknown scope", "application/json", `{"redirect_uris":["http://127.0.0.1/cb"],"scope":"admin"}`, 400, "invalid_client_metadata"},
		// encoding/json would let the second spelling win: a registration
		// readable two ways is refused.
		{"member in another case", "application/json", `{"redirect_uris":["http://127.0.0.1/cb"],"Redirect_URIs":["https://evil.example/cb"]}`, 400, "invalid_client_metadata"},
		{"member in another case alone", "application/json", `{"REDIRECT_URIS":["http://127.0.0.1/cb"]}`, 400, "invalid_client_metadata"},
		{"member given twice", "application/json", `{"redirect_uris":["http://127.0.0.1/cb"],"redirect_uris":["https://evil.example/cb"]}`, 400, "invalid_client_metadata"},
		{"http logo", "application/json", `{"redirect_uris":["http://127.0.0.1/cb"],"logo_uri":"http://evil.example/x.png"}`, 400, "invalid_client_metadata"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := http.Post(e.issuer+authserver.PathRegister, tc.ctype, strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body oauthErr
			json.NewDecoder(resp.Body).Decode(&body)
			if resp.StatusCode != tc.status || body.Error != tc.code {
				t.Errorf("got %d %q (%s), want %d %q", resp.StatusCode, body.Error, body.Description, tc.status, tc.code)
			}
		})
	}
	cs, _ := e.srv.Admin().ListClients(t.Context())
	if len(cs) != 0 {
		t.Errorf("refused registrations stored %d clients", len(cs))
	}
}

func TestRegistrationDisabled(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "", func(c *authserver.Config) { c.DisableRegistration = true })
	resp, _ := e.postJSON(authserver.PathRegister, `{"redirect_uris":["http://127.0.0.1/cb"]}`)
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("register with registration disabled: %d, want 404", resp.StatusCode)
	}
	if m := e.srv.Metadata(); m.RegistrationEndpoint != "" {
		t.Errorf("metadata names registration_endpoint %q", m.RegistrationEndpoint)
	}
}

// TestAdminClients covers pre-registration, as the CLI uses it.
func TestAdminClients(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	a := e.srv.Admin()
	c, secret, err := a.CreateClient(t.Context(), oauth.ClientSpec{
		Name: "Resource server", RedirectURIs: []string{"https://rs.example/cb"}, AuthMethod: oauth.AuthSecretPost,
	})
	if err != nil {
		t.Fatalf("CreateClient: %v", err)
	}
	if !strings.HasPrefix(secret, oauth.PrefixClientSecret) || c.SecretHash != nil {
		t.Errorf("CreateClient: secret %q (want prefix), SecretHash %x (want none returned)", secret, c.SecretHash)
	}
	e.clock.Advance(time.Second)
	pub, secret2, err := a.CreateClient(t.Context(), oauth.ClientSpec{Name: "CLI", RedirectURIs: []string{"http://127.0.0.1/cb"}})
	if err != nil || secret2 != "" {
		t.Fatalf("CreateClient(public): secret %q, err %v", secret2, err)
	}
	if _, _, err := a.CreateClient(t.Context(), oauth.ClientSpec{Name: "x", RedirectURIs: []string{"http://evil.example/cb"}}); err == nil {
		t.Errorf("CreateClient with an http redirect on a public host succeeded")
	}
	if _, _, err := a.CreateClient(t.Context(), oauth.ClientSpec{RedirectURIs: []string{"http://127.0.0.1/cb"}}); err == nil {
		t.Errorf("CreateClient without a name succeeded")
	}
	cs, err := a.ListClients(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	want := []*oauth.Client{c, pub}
	if diff := cmp.Diff(want, cs, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("ListClients (-want +got):\n%s", diff)
	}
	if err := a.DeleteClient(t.Context(), c.ID); err != nil {
		t.Fatalf("DeleteClient: %v", err)
	}
	if err := a.DeleteClient(t.Context(), c.ID); err == nil {
		t.Errorf("DeleteClient twice succeeded")
	}
}
