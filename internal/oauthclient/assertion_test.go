package oauthclient

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

func pemOf(t *testing.T, typ string, der []byte) []byte {
	t.Helper()
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func TestParseClientKey(t *testing.T) {
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p521, _ := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	rsa2048, _ := rsa.GenerateKey(rand.Reader, 2048)
	rsa1024, _ := rsa.GenerateKey(rand.Reader, 1024)
	pkcs8 := func(k any) []byte {
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return pemOf(t, "PRIVATE KEY", der)
	}
	sec1, _ := x509.MarshalECPrivateKey(p256)
	for _, tt := range []struct {
		name string
		pem  []byte
		alg  jose.SignatureAlgorithm // "" : refused
	}{
		{"P-256, PKCS #8", pkcs8(p256), jose.ES256},
		{"P-256, SEC 1", pemOf(t, "EC PRIVATE KEY", sec1), jose.ES256},
		{"RSA 2048, PKCS #8", pkcs8(rsa2048), jose.RS256},
		{"RSA 2048, PKCS #1", pemOf(t, "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsa2048)), jose.RS256},
		{"RSA 1024", pkcs8(rsa1024), ""},
		{"P-521", pkcs8(p521), ""},
		{"a public key", pemOf(t, "PUBLIC KEY", []byte("x")), ""},
		{"not PEM", []byte("hello"), ""},
	} {
		k, err := ParseClientKey(tt.pem)
		switch {
		case tt.alg == "" && err == nil:
			t.Errorf("%s: accepted", tt.name)
		case tt.alg != "" && (err != nil || k.Algorithm != tt.alg):
			t.Errorf("%s: %v, %v; want %s", tt.name, k, err, tt.alg)
		}
	}
}

// TestClientAssertion checks the assertion as an authorization server
// would (RFC 7523 §3): signed by the key, iss and sub the client, aud the
// server, a jti, and a short life.
func TestClientAssertion(t *testing.T) {
	priv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	k := &ClientKey{Signer: priv, Algorithm: jose.ES256}
	now := time.Now().Truncate(time.Second)
	a, err := k.assertion("job-1", "https://as.example", now)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.ParseSigned(a, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatal(err)
	}
	if typ := tok.Headers[0].ExtraHeaders["typ"]; typ != "JWT" {
		t.Errorf("typ %v, want JWT", typ)
	}
	var c jwt.Claims
	if err := tok.Claims(&priv.PublicKey, &c); err != nil {
		t.Fatalf("the signature does not verify: %v", err)
	}
	if err := c.ValidateWithLeeway(jwt.Expected{Issuer: "job-1", Subject: "job-1", AnyAudience: jwt.Audience{"https://as.example"}, Time: now}, 0); err != nil {
		t.Errorf("claims %+v: %v", c, err)
	}
	if len(c.ID) < 32 || c.Expiry.Time().Sub(now) != assertionLifetime {
		t.Errorf("jti %q, expiry %v: want a random jti and a life of %v", c.ID, c.Expiry.Time(), assertionLifetime)
	}
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err := tok.Claims(&other.PublicKey, &c); err == nil {
		t.Error("the assertion verifies with another key")
	}
	b, _ := k.assertion("job-1", "https://as.example", now)
	if b == a {
		t.Error("two assertions are the same: the jti does not change")
	}
}
