package authserver_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/oauthex"

	"github.com/2coffee/mcp-2coffee/internal/authserver"
	"github.com/2coffee/mcp-2coffee/internal/oauth"
)

// resourceServer is the smallest protected resource the go-sdk client can
// discover our authorization server from: a 401 challenge naming the
// protected resource metadata, and that metadata.
func (e *env) resourceServer() (resourceURL string, challenge *http.Response) {
	prmPath := "/.well-known/oauth-protected-resource" + e.issuerPath() + "/mcp"
	e.extra.HandleFunc(prmPath, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{
			"resource":              e.issuer + "/mcp",
			"authorization_servers": []string{e.srv.Issuer()},
			"scopes_supported":      []string{"articles:read", "articles:write"},
		})
	})
	resp := &http.Response{
		StatusCode: http.StatusUnauthorized,
		Header:     http.Header{"Www-Authenticate": {`Bearer resource_metadata="` + e.base + prmPath + `", scope="articles:read"`}},
		Body:       http.NoBody,
	}
	return e.issuer + "/mcp", resp
}

// fetcher drives our pages like a person would and returns what the
// client's redirect URI received.
func (e *env) fetcher(t *testing.T) auth.AuthorizationCodeFetcher {
	return func(ctx context.Context, args *auth.AuthorizationArgs) (*auth.AuthorizationResult, error) {
		b := e.browser()
		pg := b.get(args.URL)
		if strings.Contains(pg.body, `/oauth/login"`) {
			pg = b.login(pg, userName, password)
			pg = b.get(b.resolve(pg))
		}
		if pg.StatusCode == http.StatusOK {
			pg = b.consent(pg, "approve")
		}
		loc, err := url.Parse(pg.Header.Get("Location"))
		if err != nil || pg.StatusCode != http.StatusSeeOther {
			t.Fatalf("authorization ended with %d %q:\n%s", pg.StatusCode, pg.Header.Get("Location"), pg.body)
		}
		q := loc.Query()
		if q.Get("error") != "" {
			t.Fatalf("authorization error %s: %s", q.Get("error"), q.Get("error_description"))
		}
		return &auth.AuthorizationResult{Code: q.Get("code"), State: q.Get("state"), Iss: q.Get("iss")}, nil
	}
}

func TestGoSDKClient(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		path string
		cimd bool
	}{
		{"DCR", "", false},
		{"DCR with a path issuer", "/blog", false},
		// A metadata-document client uses no registered auth style, so
		// the SDK tries HTTP Basic with an empty secret first.
		{"CIMD", "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel() // each case starts its own server and database
			const docURL = "https://app.example/mcp-client.json"
			e := newEnv(t, tc.path, func(c *authserver.Config) {
				// Short enough that the SDK (which counts a token as
				// expired 10s early) refreshes at once: that exercises
				// the refresh grant too.
				c.AccessTokenLifetime = 5 * time.Second
				c.MetadataFetcher = fetcherFunc(func(_ context.Context, u string) (*oauth.ClientMetadata, error) {
					return &oauth.ClientMetadata{ClientID: docURL, ClientName: "SDK client",
						RedirectURIs: []string{loopbackRedirect}, TokenEndpointAuthMethod: "none",
						GrantTypes: []string{"authorization_code", "refresh_token"}}, nil
				})
			})
			resource, challenge := e.resourceServer()
			cfg := &auth.AuthorizationCodeHandlerConfig{
				RedirectURL:              loopbackRedirect,
				AuthorizationCodeFetcher: e.fetcher(t),
			}
			if tc.cimd {
				cfg.ClientIDMetadataDocumentConfig = &auth.ClientIDMetadataDocumentConfig{URL: docURL}
			} else {
				cfg.DynamicClientRegistrationConfig = &auth.DynamicClientRegistrationConfig{Metadata: &oauthex.ClientRegistrationMetadata{
					RedirectURIs: []string{loopbackRedirect}, ClientName: "SDK client",
					GrantTypes: []string{"authorization_code", "refresh_token"}, TokenEndpointAuthMethod: "none",
				}}
			}
			h, err := auth.NewAuthorizationCodeHandler(cfg)
			if err != nil {
				t.Fatal(err)
			}
			req, _ := http.NewRequest(http.MethodPost, resource, nil)
			if err := h.Authorize(t.Context(), req, challenge); err != nil {
				t.Fatalf("Authorize: %v\nserver log:\n%s", err, e.logs)
			}
			ts, err := h.TokenSource(t.Context())
			if err != nil || ts == nil {
				t.Fatalf("TokenSource: %v", err)
			}
			tok, err := ts.Token()
			if err != nil {
				t.Fatalf("Token: %v", err)
			}
			p, err := e.verify(tok.AccessToken)
			if err != nil {
				t.Fatalf("VerifyAccessToken(SDK token): %v", err)
			}
			if p.Subject != "user:ann" || !p.Has("articles:read") {
				t.Errorf("principal %v", p)
			}
			logs := e.logs.String()
			if !strings.Contains(logs, "tokens refreshed") {
				t.Errorf("the SDK did not refresh:\n%s", logs)
			}
			if tc.cimd && !strings.Contains(logs, "reason=public_client_secret") {
				t.Errorf("the SDK did not try Basic first (the case this test is for):\n%s", logs)
			}
		})
	}
}
