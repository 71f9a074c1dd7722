package authserver

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/2coffee/mcp-2coffee/internal/authn"
	"github.com/2coffee/mcp-2coffee/internal/errdefs"
	"github.com/2coffee/mcp-2coffee/internal/oauth"
)

// Reasons VerifyAccessToken refuses a token. All match
// authn.ErrInvalidCredential (401 invalid_token); ErrNotAccessToken also
// matches authn.ErrUnrecognized, so authn.Chain offers the credential to
// the next verifier (API keys).
var (
	ErrNotAccessToken error = &authn.CredentialError{Reason: "malformed", Description: "the credential is not an access token of this server", Unrecognized: true}
	ErrTokenUnknown   error = &authn.CredentialError{Reason: "unknown", Description: "the access token is not valid"}
	ErrTokenExpired   error = &authn.CredentialError{Reason: "expired", Description: "the access token has expired"}
	ErrTokenRevoked   error = &authn.CredentialError{Reason: "revoked", Description: "the access token has been revoked"}
	ErrWrongAudience  error = &authn.CredentialError{Reason: "wrong_audience", Description: "the access token was issued for another resource"}
)

// VerifyAccessToken checks an access token and returns its principal:
// Subject "user:<name>", the token's scopes, Method "oauth". It has the
// shape of an authn.Verifier. The token is looked up by its hash on every
// call, so revocation takes effect at once on every replica. The token
// must be bound to Config.Resource (RFC 8707 audience).
func (s *Server) VerifyAccessToken(ctx context.Context, token string) (*authn.Principal, error) {
	return s.verifier.verify(ctx, token, s.verifier.resource)
}

// VerifierFor is VerifyAccessToken for another of the resources in
// Config.Resources: tokens bound to anything else are refused, so a token
// for the MCP endpoint does not open the REST API, nor the reverse.
func (s *Server) VerifierFor(resource string) authn.Verifier {
	return func(ctx context.Context, token string) (*authn.Principal, error) {
		return s.verifier.verify(ctx, token, resource)
	}
}

// verifier is the resource server's side: it only looks tokens up.
type verifier struct {
	*site
	tokens oauth.Tokens
}

func (s *verifier) verify(ctx context.Context, token, resource string) (*authn.Principal, error) {
	if !oauth.WellFormed(token, oauth.PrefixAccessToken) {
		return nil, ErrNotAccessToken
	}
	t, err := s.tokens.TokenByHash(ctx, oauth.HashSecret(token))
	if errors.Is(err, errdefs.ErrNotFound) {
		return nil, ErrTokenUnknown
	}
	if err != nil {
		return nil, fmt.Errorf("authserver: looking up access token: %w", err)
	}
	// A lookup by the hash of a 256-bit secret needs no constant-time
	// comparison: timing could reveal only how much of a hash matched,
	// and finding a preimage of a chosen hash prefix is no help.
	switch {
	case t.Kind != oauth.KindAccess:
		return nil, ErrTokenUnknown
	case t.RevokedAt != nil:
		return nil, ErrTokenRevoked
	case !s.now().Before(t.ExpiresAt):
		return nil, ErrTokenExpired
	case t.Resource != resource:
		return nil, ErrWrongAudience
	}
	p := &authn.Principal{Subject: subjectOf(t), Scopes: slices.Clone(t.Scopes), Method: "oauth"}
	if t.User != "" {
		p.Client = t.ClientID
	}
	return p, nil
}

// subjectOf names who a token acts for, as the resource server and
// introspection report it: "user:NAME", or "client:ID" for a token of the
// client credentials grant, where the client acts for itself.
func subjectOf(t *oauth.Token) string {
	if t.User == "" {
		return "client:" + t.ClientID
	}
	return "user:" + t.User
}
