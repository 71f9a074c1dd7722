package authserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/2coffee/mcp-2coffee/internal/authn"
	"github.com/2coffee/mcp-2coffee/internal/errdefs"
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
	if !hasShape(token, PrefixAccessToken) {
		return nil, ErrNotAccessToken
	}
	t, err := s.store.TokenByHash(ctx, hashSecret(token))
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
	case t.Kind != KindAccess:
		return nil, ErrTokenUnknown
	case t.RevokedAt != nil:
		return nil, ErrTokenRevoked
	case !s.now().Before(t.ExpiresAt):
		return nil, ErrTokenExpired
	case t.Resource != s.resource:
		return nil, ErrWrongAudience
	}
	return &authn.Principal{Subject: "user:" + t.User, Scopes: slices.Clone(t.Scopes), Method: "oauth"}, nil
}

// lookupToken finds an access or refresh token by its text; nil when the
// text is neither or no such token exists.
func (s *Server) lookupToken(ctx context.Context, text string) (*Token, error) {
	if !hasShape(text, PrefixAccessToken) && !hasShape(text, PrefixRefreshToken) {
		return nil, nil
	}
	t, err := s.store.TokenByHash(ctx, hashSecret(text))
	if errors.Is(err, errdefs.ErrNotFound) {
		return nil, nil
	}
	return t, err
}

// serveRevoke is POST /oauth/revoke (RFC 7009). Confidential clients
// authenticate; public ones identify themselves with client_id. The answer
// is 200 whether or not the token existed, and for a token of another
// client too (nothing is revoked then), so the endpoint tells nothing about
// tokens. Revoking a refresh token revokes its whole family (the access
// tokens issued with it included); revoking an access token revokes that
// token.
func (s *Server) serveRevoke(w http.ResponseWriter, r *http.Request) {
	// Client authentication may fetch a metadata document at a URL the
	// caller chose: the token endpoint's limit applies.
	if limited, _ := s.limited(w, r, "token"); limited {
		writeError(w, newError(http.StatusTooManyRequests, errTemporarilyUnavailable, "too many requests from this address; retry later"))
		return
	}
	form, oe := readTokenForm(w, r)
	if oe != nil {
		s.fail(r, slog.LevelInfo, "bad_revoke_request", "detail", oe.description)
		writeError(w, oe)
		return
	}
	c, oe := s.authenticateClient(r, form)
	if oe != nil {
		writeError(w, oe)
		return
	}
	text := form.Get("token")
	if text == "" {
		writeError(w, newError(http.StatusBadRequest, errInvalidRequest, "token is required"))
		return
	}
	t, err := s.lookupToken(r.Context(), text)
	if err != nil {
		s.log.ErrorContext(r.Context(), "looking up a token to revoke failed", "err", err)
		// RFC 7009 §2.2.1: the client may retry later.
		writeError(w, newError(http.StatusServiceUnavailable, errTemporarilyUnavailable, "try again"))
		return
	}
	switch {
	case t == nil:
	case t.ClientID != c.ID:
		s.fail(r, slog.LevelWarn, "revoke_foreign_token", "client_id", c.ID, "token_client_id", t.ClientID)
	default:
		at := s.now().UTC().Truncate(time.Second)
		if t.Kind == KindRefresh {
			err = s.store.RevokeFamily(r.Context(), t.FamilyID, at)
		} else {
			err = s.store.RevokeToken(r.Context(), t.Hash, at)
		}
		if err != nil && !errors.Is(err, errdefs.ErrNotFound) {
			s.log.ErrorContext(r.Context(), "revoking a token failed", "err", err)
			writeError(w, newError(http.StatusServiceUnavailable, errTemporarilyUnavailable, "try again"))
			return
		}
		s.log.InfoContext(r.Context(), "token revoked by its client", "client_id", c.ID, "kind", t.Kind, "family", t.FamilyID)
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
}

// introspection is the RFC 7662 §2.2 answer.
type introspection struct {
	Active    bool   `json:"active"`
	Scope     string `json:"scope,omitempty"`
	ClientID  string `json:"client_id,omitempty"`
	Username  string `json:"username,omitempty"`
	TokenType string `json:"token_type,omitempty"`
	Exp       int64  `json:"exp,omitempty"`
	Iat       int64  `json:"iat,omitempty"`
	Sub       string `json:"sub,omitempty"`
	Aud       string `json:"aud,omitempty"`
	Iss       string `json:"iss,omitempty"`
}

// serveIntrospect is POST /oauth/introspect (RFC 7662), for other resource
// servers. Callers authenticate with an API key holding articles:write
// (Authorization: Bearer or X-API-KEY, when Config.IntrospectionVerifier
// is set), or as a confidential client. A pre-registered confidential
// client (a resource server the owner set up) may introspect any token; a
// dynamically registered one, which anybody can create, only its own.
// Public clients may not call it. Inactive, unknown, expired and revoked
// tokens all answer {"active":false}.
func (s *Server) serveIntrospect(w http.ResponseWriter, r *http.Request) {
	// As for revocation: client authentication may fetch a metadata
	// document, and an API key costs a lookup.
	if limited, _ := s.limited(w, r, "token"); limited {
		writeError(w, newError(http.StatusTooManyRequests, errTemporarilyUnavailable, "too many requests from this address; retry later"))
		return
	}
	form, oe := readTokenForm(w, r)
	if oe != nil {
		s.fail(r, slog.LevelInfo, "bad_introspect_request", "detail", oe.description)
		writeError(w, oe)
		return
	}
	onlyClient := ""
	if key := introspectionKey(r); key != "" {
		if !s.introspectionKeyOK(w, r, key) {
			return
		}
	} else {
		c, oe := s.authenticateClient(r, form)
		if oe != nil {
			writeError(w, oe)
			return
		}
		if c.Public() {
			s.fail(r, slog.LevelInfo, "introspect_public_client", "client_id", c.ID)
			writeError(w, &oauthError{status: http.StatusUnauthorized, code: errInvalidClient, description: "introspection needs a confidential client or an API key"})
			return
		}
		if c.Kind != KindPreregistered {
			onlyClient = c.ID
		}
	}
	text := form.Get("token")
	if text == "" {
		writeError(w, newError(http.StatusBadRequest, errInvalidRequest, "token is required"))
		return
	}
	t, err := s.lookupToken(r.Context(), text)
	if err != nil {
		s.log.ErrorContext(r.Context(), "looking up a token to introspect failed", "err", err)
		writeError(w, newError(http.StatusServiceUnavailable, errTemporarilyUnavailable, "try again"))
		return
	}
	if t == nil || t.RevokedAt != nil || !s.now().Before(t.ExpiresAt) || (onlyClient != "" && t.ClientID != onlyClient) {
		writeJSON(w, http.StatusOK, introspection{Active: false})
		return
	}
	resp := introspection{
		Active:    true,
		Scope:     scopeText(t.Scopes),
		ClientID:  t.ClientID,
		Username:  t.User,
		TokenType: "Bearer",
		Exp:       t.ExpiresAt.Unix(),
		Iat:       t.CreatedAt.Unix(),
		Sub:       "user:" + t.User,
		Aud:       t.Resource,
		Iss:       s.issuer,
	}
	if t.Kind == KindRefresh {
		resp.TokenType = "refresh_token"
	}
	writeJSON(w, http.StatusOK, resp)
}

// introspectionKey returns the API key a request to the introspection
// endpoint carries, if any.
func introspectionKey(r *http.Request) string {
	if k := strings.TrimSpace(r.Header.Get(authn.HeaderAPIKey)); k != "" {
		return k
	}
	scheme, rest, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	if strings.EqualFold(scheme, "Bearer") {
		return strings.TrimSpace(rest)
	}
	return ""
}

// introspectionKeyOK checks an API key for introspection; on failure it
// has answered.
func (s *Server) introspectionKeyOK(w http.ResponseWriter, r *http.Request, key string) bool {
	if s.cfg.IntrospectionVerifier == nil {
		s.fail(r, slog.LevelInfo, "introspect_key_not_accepted")
		authn.WriteChallenge(w, http.StatusUnauthorized, authn.Challenge{Realm: authn.Realm, Error: authn.CodeInvalidToken,
			Description: "API keys are not accepted here; authenticate as a confidential client"})
		return false
	}
	var p *authn.Principal
	var err error
	if len(key) <= authn.MaxCredentialLen {
		p, err = s.cfg.IntrospectionVerifier(r.Context(), key)
	} else {
		err = authn.ErrUnrecognized
	}
	switch {
	case err != nil && errors.Is(err, authn.ErrInvalidCredential):
		s.fail(r, slog.LevelInfo, "introspect_bad_key")
		authn.WriteChallenge(w, http.StatusUnauthorized, authn.Challenge{Realm: authn.Realm, Error: authn.CodeInvalidToken, Description: "the API key is not valid"})
		return false
	case err != nil:
		s.log.ErrorContext(r.Context(), "checking an API key failed", "err", err)
		writeError(w, newError(http.StatusServiceUnavailable, errTemporarilyUnavailable, "try again"))
		return false
	case p == nil || p.Method != "api_key" || !p.Has(authn.ScopeWrite):
		s.fail(r, slog.LevelInfo, "introspect_insufficient_scope", "subject", p.String())
		authn.WriteChallenge(w, http.StatusForbidden, authn.Challenge{Realm: authn.Realm, Error: authn.CodeInsufficientScope,
			Description: "introspection needs an API key with articles:write", Scope: authn.ScopeWrite})
		return false
	}
	return true
}
