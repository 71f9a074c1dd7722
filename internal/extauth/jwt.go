package extauth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/2coffee/mcp-2coffee/internal/authn"
)

var (
	errNoExpiry = &authn.CredentialError{Reason: "malformed", Description: "the access token carries no expiry (exp)"}
	errIDToken  = &authn.CredentialError{Reason: "type", Description: "the token is an ID token or a refresh token, not an access token"}
)

// accessTyp reports whether a typ claim (Keycloak's, not the header's)
// allows an access token: absent, or Bearer.
func accessTyp(t string) bool { return t == "" || strings.EqualFold(t, "Bearer") }

// header is the part of a JOSE header read before the signature is.
type header struct {
	Alg string `json:"alg"`
	Typ string `json:"typ"`
	Kid string `json:"kid"`
}

// claims are the token's claims besides the registered ones that
// jwt.Claims holds.
type claims struct {
	// scope is a space-separated string by RFC 9068; a few servers send
	// an array, as scp is.
	Scope    json.RawMessage `json:"scope"`
	Scp      json.RawMessage `json:"scp"`
	ClientID any             `json:"client_id"`
	Azp      any             `json:"azp"`
	// Claims only an ID token has (OpenID Connect Core §2, §3.1.3.6):
	// an ID token is not an access token, even one for our audience.
	Nonce  any `json:"nonce"`
	AtHash any `json:"at_hash"`
	CHash  any `json:"c_hash"`
	// Keycloak says what a token is in typ: Bearer, ID, Refresh.
	Typ any `json:"typ"`
}

// str is a claim's value when it is a string, else "".
func str(v any) string {
	s, _ := v.(string)
	return s
}

// verifyJWT checks a JWT access token: its form, algorithm and type; its
// signature against the published keys; then issuer and times. The
// audience is For's to check.
func (v *Verifier) verifyJWT(ctx context.Context, token string) (*grant, error) {
	h, ok := peekHeader(token)
	if !ok {
		return nil, errNotJWT
	}
	if !slices.Contains(v.algs, jose.SignatureAlgorithm(h.Alg)) {
		return nil, errAlgorithm
	}
	// RFC 9068 §2.1 names at+jwt; most providers say JWT; a few say
	// nothing. Any other type (an ID-JAG, a logout token, a DPoP proof)
	// is a JWT for another purpose.
	switch strings.ToLower(strings.TrimPrefix(strings.ToLower(h.Typ), "application/")) {
	case "", "jwt", "at+jwt":
	default:
		return nil, errType
	}
	var std jwt.Claims
	var extra claims
	var all map[string]any
	dest := []any{&std, &extra}
	if v.cfg.Scopes.RolesClaim != "" {
		dest = append(dest, &all)
	}
	if err := verifySigned(ctx, v.keys, v.algs, h, token, dest...); err != nil {
		return nil, err
	}
	if std.Expiry == nil {
		return nil, errNoExpiry
	}
	if extra.Nonce != nil || extra.AtHash != nil || extra.CHash != nil || !accessTyp(str(extra.Typ)) {
		return nil, errIDToken
	}
	switch err := std.ValidateWithLeeway(jwt.Expected{Issuer: v.issuer, Time: v.now()}, v.cfg.Leeway); {
	case err == nil:
	case errors.Is(err, jwt.ErrInvalidIssuer):
		return nil, errWrongIssuer
	case errors.Is(err, jwt.ErrExpired):
		return nil, errExpired
	case errors.Is(err, jwt.ErrNotValidYet), errors.Is(err, jwt.ErrIssuedInTheFuture):
		return nil, errNotYetValid
	default:
		return nil, errMalformed
	}
	values := append(stringsOf(extra.Scope), stringsOf(extra.Scp)...)
	var roles []string
	if v.cfg.Scopes.RolesClaim != "" {
		roles = claimValues(all, v.cfg.Scopes.RolesClaim)
	}
	return &grant{
		subject:  subjectOf(std.Subject, str(extra.ClientID), str(extra.Azp)),
		scopes:   v.scopesOf(values, roles),
		audience: std.Audience,
	}, nil
}

// verifySigned checks the signature of token, whose header h the caller
// has judged, against the keys and decodes its claims into dest. It
// reports errMalformed, errUnknownKey or errSignature, or another error
// when the keys cannot be fetched at all.
func verifySigned(ctx context.Context, keys *KeySet, algs []jose.SignatureAlgorithm, h header, token string, dest ...any) error {
	tok, err := jwt.ParseSigned(token, algs)
	if err != nil || len(tok.Headers) != 1 {
		return errMalformed
	}
	found, err := keys.Keys(ctx, h.Kid, h.Alg)
	if errors.Is(err, errNoKey) {
		return errUnknownKey
	}
	if err != nil {
		return fmt.Errorf("the authorization server's keys: %w", err)
	}
	for _, key := range found {
		if err := tok.Claims(key.Key, dest...); err == nil {
			return nil
		} else if !errors.Is(err, jose.ErrCryptoFailure) {
			return errMalformed // the signature held, the claims did not decode
		}
	}
	return errSignature
}

// peekHeader decodes the protected header of what looks like a compact
// JWS, so the algorithm and type are judged before any key is looked for.
// ok is false for anything of another form (an API key, an opaque token).
func peekHeader(token string) (header, bool) {
	head, _, found := strings.Cut(token, ".")
	if !found || strings.Count(token, ".") != 2 {
		return header{}, false
	}
	raw, err := base64.RawURLEncoding.DecodeString(head)
	if err != nil {
		return header{}, false
	}
	var h header
	if json.Unmarshal(raw, &h) != nil || h.Alg == "" {
		return header{}, false
	}
	return h, true
}

// subjectOf names the caller for logs and records: the token's subject,
// or, for a provider that leaves it out of a machine token, the client.
func subjectOf(sub, clientID, azp string) string {
	for _, s := range []string{sub, clientID, azp} {
		if s != "" {
			return "ext:" + s
		}
	}
	return "ext:unknown"
}

// stringsOf reads a claim that is a space-separated string or an array of
// strings (scp is either, depending on the provider).
func stringsOf(raw json.RawMessage) []string {
	if len(raw) == 0 {
		return nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return strings.Fields(s)
	}
	var list []string
	if json.Unmarshal(raw, &list) == nil {
		return list
	}
	return nil
}

// claimValues follows a dotted path (realm_access.roles for Keycloak) into
// the claims and returns the strings there: one string, or an array's.
func claimValues(all map[string]any, path string) []string {
	var cur any = all
	for part := range strings.SplitSeq(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[part]
	}
	switch x := cur.(type) {
	case string:
		// One value, compared whole: splitting it would let a value
		// with spaces (a GitHub Actions sub) hold a role word.
		return []string{x}
	case []any:
		var out []string
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}
