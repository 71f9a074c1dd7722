package extauth

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/2coffee/mcp-2coffee/internal/extauth/idptest"
)

const ourIssuer = "http://127.0.0.1:3000"

var ann = idptest.Person{Subject: "u-ann", Email: "ann@example.com", EmailVerified: true, PreferredUsername: "ann"}

func grantVerifier(t *testing.T, p *idptest.Provider) *GrantVerifier {
	t.Helper()
	g, err := NewGrantVerifier(context.Background(), GrantConfig{Issuer: p.URL, Audience: ourIssuer, MinRefetch: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestIDJAGAccepted(t *testing.T) {
	p := idptest.New(t)
	g := grantVerifier(t, p)
	ctx := context.Background()
	jag, err := g.Verify(ctx, p.IDJAG(ann, ourIssuer, resource, "agent-1", "articles:read articles:write", nil))
	if err != nil {
		t.Fatal(err)
	}
	if jag.Issuer != p.URL || jag.Subject != "u-ann" || jag.ClientID != "agent-1" || jag.JTI == "" || !jag.HasScope ||
		!slices.Equal(jag.Scopes, []string{"articles:read", "articles:write"}) || !slices.Equal(jag.Resources, []string{resource}) ||
		jag.Email != "ann@example.com" || !jag.EmailVerified || jag.PreferredUsername != "ann" || time.Until(jag.Expiry) < 4*time.Minute {
		t.Errorf("the ID-JAG read back as %+v", jag)
	}
	// A resource array, an aud array holding ours, the media type in
	// full, and no scope claim.
	jag, err = g.Verify(ctx, p.IDJAG(ann, ourIssuer, "", "agent-1", "", func(c map[string]any) {
		c["resource"] = []string{resource, resource + "/other"}
		c["aud"] = []string{"https://elsewhere.example", ourIssuer}
	}))
	if err != nil {
		t.Fatal(err)
	}
	if jag.HasScope || len(jag.Scopes) != 0 || len(jag.Resources) != 2 {
		t.Errorf("an ID-JAG without scope, with two resources: %+v", jag)
	}
	typed := p.Sign(p.Claims(ourIssuer), nil, jose.RS256, "", "application/oauth-id-jag+jwt")
	if _, err := g.Verify(ctx, typed); err == nil || strings.Contains(err.Error(), "typ") {
		t.Errorf("typ application/oauth-id-jag+jwt is the same type: %v", err)
	}

	// The provider rotates its key: followed without a restart.
	p.Rotate()
	time.Sleep(2 * time.Millisecond)
	if _, err := g.Verify(ctx, p.IDJAG(ann, ourIssuer, resource, "agent-1", "", nil)); err != nil {
		t.Errorf("after a key rotation: %v", err)
	}
}

func TestIDJAGRefused(t *testing.T) {
	p := idptest.New(t)
	g := grantVerifier(t, p)
	ctx := context.Background()
	_, kid := p.Signer()
	stranger, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	jag := func(edit func(map[string]any)) string { return p.IDJAG(ann, ourIssuer, resource, "agent-1", "", edit) }
	claims := func(edit func(map[string]any)) map[string]any {
		c := map[string]any{"iss": p.URL, "sub": "u-ann", "aud": ourIssuer, "client_id": "agent-1", "jti": "j",
			"iat": time.Now().Unix(), "exp": time.Now().Add(time.Minute).Unix()}
		if edit != nil {
			edit(c)
		}
		return c
	}
	for _, tc := range []struct{ name, assertion, says string }{
		{"an ID token", p.IDToken(ann), "not an ID-JAG"},
		{"an access token", p.Token(ourIssuer, nil), "not an ID-JAG"},
		{"no typ", p.Sign(claims(nil), nil, jose.RS256, "", ""), "not an ID-JAG"},
		{"another authorization server", jag(func(c map[string]any) { c["aud"] = "https://other-as.example" }), "another authorization server"},
		{"our issuer with a slash added", jag(func(c map[string]any) { c["aud"] = ourIssuer + "/" }), "another authorization server"},
		{"another issuer", jag(func(c map[string]any) { c["iss"] = "https://evil.example" }), "another identity provider"},
		{"expired", jag(func(c map[string]any) {
			c["iat"], c["exp"] = time.Now().Add(-10*time.Minute).Unix(), time.Now().Add(-5*time.Minute).Unix()
		}), "expired"},
		{"issued in the future", jag(func(c map[string]any) { c["iat"] = time.Now().Add(10 * time.Minute).Unix() }), "not valid yet"},
		{"valid for a day", jag(func(c map[string]any) { c["exp"] = time.Now().Add(24 * time.Hour).Unix() }), "longer than"},
		{"no exp", jag(func(c map[string]any) { delete(c, "exp") }), "exp and iat"},
		{"no iat", jag(func(c map[string]any) { delete(c, "iat") }), "exp and iat"},
		{"no jti", jag(func(c map[string]any) { delete(c, "jti") }), "jti"},
		{"a huge jti", jag(func(c map[string]any) { c["jti"] = strings.Repeat("j", 300) }), "jti"},
		{"no sub", jag(func(c map[string]any) { delete(c, "sub") }), "subject"},
		{"no client_id", jag(func(c map[string]any) { delete(c, "client_id") }), "client"},
		{"a numeric resource", jag(func(c map[string]any) { c["resource"] = 42 }), "resource"},
		{"an unpublished key under a published kid", p.Sign(claims(nil), stranger, jose.RS256, kid, "oauth-id-jag+jwt"), "does not verify"},
		{"an unpublished kid", p.Sign(claims(nil), stranger, jose.RS256, "retired", "oauth-id-jag+jwt"), "does not publish"},
		{"HS256 keyed with the public key", p.Sign(claims(nil), p.PublicPEM(), jose.HS256, kid, "oauth-id-jag+jwt"), "algorithm"},
		{"alg none", b64(map[string]string{"alg": "none", "typ": "oauth-id-jag+jwt"}) + "." + b64(claims(nil)) + ".", "algorithm"},
		{"a tampered payload", tamper(jag(nil)), "does not verify"},
		{"not a JWT", "m2c_0123456789abcdef_secret", "not a signed JWT"},
	} {
		_, err := g.Verify(ctx, tc.assertion)
		var ge *GrantError
		if !errors.As(err, &ge) || !strings.Contains(ge.Description, tc.says) {
			t.Errorf("%s: %v, want a refusal saying %q", tc.name, err, tc.says)
		}
	}
}

// TestIDJAGProviderDown: a provider whose keys cannot be fetched at
// start is a configuration error, not a server that refuses every grant.
func TestIDJAGProviderDown(t *testing.T) {
	p := idptest.New(t)
	p.FailKeys(true)
	if _, err := NewGrantVerifier(context.Background(), GrantConfig{Issuer: p.URL, Audience: ourIssuer}); err == nil {
		t.Error("a provider whose keys cannot be fetched was accepted at start")
	}
}
