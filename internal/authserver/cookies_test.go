package authserver_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/2coffee/mcp-2coffee/internal/authserver"
	"github.com/2coffee/mcp-2coffee/internal/extauth/idptest"
	"github.com/2coffee/mcp-2coffee/internal/oidclogin"
)

// TestSecureCookiesAreHostCookies: with Secure cookies every cookie the
// server sets is named __Host- and so must be Secure, host-only and
// Path=/, or browsers drop it (RFC 6265bis §4.1.3.2). The sign-in at an
// identity provider once set its cookie on the callback's path, which
// made every federated sign-in over HTTPS end on "sign-in expired"; Go's
// cookie jar does not enforce the prefix, so this looks at the headers.
func TestSecureCookiesAreHostCookies(t *testing.T) {
	idp := idptest.New(t)
	var e *env
	e = newEnv(t, "", func(c *authserver.Config) {
		c.SecureCookies = true
		p, err := oidclogin.New(context.Background(), oidclogin.Config{
			Issuer: idp.URL, ClientID: idptest.LoginClientID, ClientSecret: idptest.LoginClientSecret,
			RedirectURL: c.Issuer.String() + authserver.PathLoginCallback, AllowAnyone: true,
		})
		if err != nil {
			t.Fatalf("oidclogin.New: %v", err)
		}
		c.Login = p
	})
	client := e.register("http://127.0.0.1/callback")
	q := authParams(client, "http://127.0.0.1/callback", newPKCE())
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	seen := 0
	for _, u := range []string{
		e.authorizeURL(q), // the sign-in page and its CSRF cookie
		e.issuer + authserver.PathLoginUpstream + "?" + q.Encode(), // the cookie kept across the provider's redirect
	} {
		resp, err := noFollow.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		for _, line := range resp.Header.Values("Set-Cookie") {
			seen++
			c, err := http.ParseSetCookie(line)
			if err != nil {
				t.Fatalf("Set-Cookie %q: %v", line, err)
			}
			if !strings.HasPrefix(c.Name, "__Host-") || c.Path != "/" || !c.Secure || c.Domain != "" {
				t.Errorf("GET %s set %q: a Secure site's cookie must be __Host-, Secure, host-only and Path=/", u, line)
			}
		}
	}
	if seen < 2 {
		t.Fatalf("saw %d cookies set, want the CSRF cookie and the upstream one", seen)
	}
}
