package oauthclient

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// AuthPrivateKeyJWT is client authentication with a signed JWT (RFC 7523
// §2.2, OpenID Connect's private_key_jwt): the client proves itself with
// a key only it holds, and no secret crosses the wire.
const AuthPrivateKeyJWT = "private_key_jwt"

// clientAssertionType is RFC 7523 §2.2's client_assertion_type.
const clientAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// assertionLifetime is how long a client assertion is valid: one request's
// worth, with room for a clock that is a little off.
const assertionLifetime = time.Minute

// ClientKey is a private key for private_key_jwt, with the JWS algorithm
// it signs with.
type ClientKey struct {
	Signer    crypto.Signer
	Algorithm jose.SignatureAlgorithm
}

// ParseClientKey reads a PEM private key (PKCS #8, SEC 1 "EC PRIVATE KEY"
// or PKCS #1 "RSA PRIVATE KEY"). An EC P-256 key signs with ES256, P-384
// with ES384, an RSA key of at least 2048 bits with RS256; anything else
// is refused.
func ParseClientKey(pemData []byte) (*ClientKey, error) {
	block, _ := pem.Decode(pemData)
	if block == nil {
		return nil, errors.New("no PEM block in the key file")
	}
	var key any
	var err error
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("a PEM block of type %q is not a private key", block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("parsing the private key: %w", err)
	}
	switch k := key.(type) {
	case *ecdsa.PrivateKey:
		switch k.Curve {
		case elliptic.P256():
			return &ClientKey{Signer: k, Algorithm: jose.ES256}, nil
		case elliptic.P384():
			return &ClientKey{Signer: k, Algorithm: jose.ES384}, nil
		}
		return nil, fmt.Errorf("an EC key on %s is not supported (use P-256 or P-384)", k.Curve.Params().Name)
	case *rsa.PrivateKey:
		if k.N.BitLen() < 2048 {
			return nil, fmt.Errorf("an RSA key of %d bits is too short (2048 at least)", k.N.BitLen())
		}
		return &ClientKey{Signer: k, Algorithm: jose.RS256}, nil
	}
	return nil, fmt.Errorf("a %T key is not supported (use EC P-256 or RSA)", key)
}

// assertion signs a client assertion for clientID, addressed to the
// authorization server audience (its issuer identifier), valid from now
// for assertionLifetime, with a random jti so that a server can refuse a
// replay (RFC 7523 §3).
func (k *ClientKey) assertion(clientID, audience string, now time.Time) (string, error) {
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: k.Algorithm, Key: k.Signer}, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return "", err
	}
	claims := jwt.Claims{
		Issuer:   clientID,
		Subject:  clientID,
		Audience: jwt.Audience{audience},
		ID:       randomToken(32),
		IssuedAt: jwt.NewNumericDate(now),
		Expiry:   jwt.NewNumericDate(now.Add(assertionLifetime)),
	}
	return jwt.Signed(signer).Claims(claims).Serialize()
}
