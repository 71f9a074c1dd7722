package authserver

import (
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/2coffee/mcp-2coffee/internal/authn"
	"github.com/2coffee/mcp-2coffee/internal/oauth"
)

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

// introspectEndpoint serves token introspection (RFC 7662): it only looks
// tokens up.
type introspectEndpoint struct {
	*site
	clients *clientFinder
	tokens  oauth.Tokens
}

// serveIntrospect is POST /oauth/introspect (RFC 7662), for other resource
// servers. Callers authenticate with an API key holding articles:write
// (Authorization: Bearer or X-API-KEY, when Config.IntrospectionVerifier
// is set), or as a confidential client. A pre-registered confidential
// client (a resource server the owner set up) may introspect any token; a
// dynamically registered one, which anybody can create, only its own.
// Public clients may not call it. Inactive, unknown, expired and revoked
// tokens all answer {"active":false}.
func (s *introspectEndpoint) serveIntrospect(w http.ResponseWriter, r *http.Request) {
	form, ok := s.limitedTokenForm(w, r, "introspect")
	if !ok {
		return
	}
	onlyClient := ""
	if key := introspectionKey(r); key != "" {
		if !s.introspectionKeyOK(w, r, key) {
			return
		}
	} else {
		c, oe := s.clients.authenticate(r, form)
		if oe != nil {
			writeError(w, oe)
			return
		}
		if c.Public() {
			s.fail(r, slog.LevelInfo, "introspect_public_client", "client_id", c.ID)
			writeError(w, &oauthError{status: http.StatusUnauthorized, code: errInvalidClient, description: "introspection needs a confidential client or an API key"})
			return
		}
		// Every token is open to a resource server the owner registered;
		// a self-registered client, or a machine client (a script or an
		// agent with a secret, not a resource server), sees only its own.
		if c.Kind != oauth.KindPreregistered || c.Machine() {
			onlyClient = c.ID
		}
	}
	text := form.Get("token")
	if text == "" {
		writeError(w, newError(http.StatusBadRequest, errInvalidRequest, "token is required"))
		return
	}
	t, err := lookupToken(r.Context(), s.tokens, text)
	if err != nil {
		s.log.ErrorContext(r.Context(), "looking up a token to introspect failed", "err", err)
		writeError(w, newError(http.StatusServiceUnavailable, errTemporarilyUnavailable, "try again"))
		return
	}
	// A rotated refresh token is spent, though the grace window still
	// lets its client retry once: it is not active (RFC 7662 §2.2).
	if t == nil || t.RevokedAt != nil || t.RotatedAt != nil || !s.now().Before(t.ExpiresAt) || (onlyClient != "" && t.ClientID != onlyClient) {
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
		Sub:       subjectOf(t),
		Aud:       t.Resource,
		Iss:       s.issuer,
	}
	if t.Kind == oauth.KindRefresh {
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
func (s *site) introspectionKeyOK(w http.ResponseWriter, r *http.Request, key string) bool {
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
