package authserver

import (
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/2coffee/mcp-2coffee/internal/errdefs"
	"github.com/2coffee/mcp-2coffee/internal/oauth"
)

// maxTokenRequestBytes bounds a token, revocation or introspection
// request body.
const maxTokenRequestBytes = 16 << 10

// tokenEndpoint serves the token endpoint (RFC 6749 §3.2): it spends
// codes and rotates refresh tokens, and revokes a family whose code or
// refresh token was replayed.
type tokenEndpoint struct {
	*site
	clients *clientFinder
	codes   oauth.Codes
	tokens  oauth.Tokens
	// For the jwt-bearer grant (enterprise.go): the users it finds or
	// makes, the grants it records, the assertions it spends.
	users      oauth.Users
	grants     oauth.Grants
	assertions oauth.Assertions
}

// tokenResponse is the RFC 6749 §5.1 answer.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	RefreshToken string `json:"refresh_token,omitempty"`
	Scope        string `json:"scope"`
}

// readTokenForm reads an application/x-www-form-urlencoded body. Only the
// body counts: parameters in the URL are ignored, so a code, token or
// secret put in a query string (and so in logs) is never accepted.
// Repeated parameters are refused (RFC 6749 §3.2).
func readTokenForm(w http.ResponseWriter, r *http.Request) (url.Values, *oauthError) {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/x-www-form-urlencoded" {
		return nil, newError(http.StatusBadRequest, errInvalidRequest, "the request body must be application/x-www-form-urlencoded")
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxTokenRequestBytes))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return nil, newError(http.StatusRequestEntityTooLarge, errInvalidRequest, "the request body is too large")
		}
		return nil, newError(http.StatusBadRequest, errInvalidRequest, "the request body could not be read")
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, newError(http.StatusBadRequest, errInvalidRequest, "the request body is not well-formed")
	}
	for k, v := range form {
		if len(v) > 1 {
			return nil, newError(http.StatusBadRequest, errInvalidRequest, "the parameter "+truncate(k, 40)+" is repeated")
		}
	}
	return form, nil
}

// limitedTokenForm is the opening the token, revocation and
// introspection endpoints share: the token limit (client authentication
// may fetch a metadata document at a URL the caller chose, and an API key
// costs a lookup), then the form. When it returns false it has answered;
// what names the endpoint in the log.
func (s *site) limitedTokenForm(w http.ResponseWriter, r *http.Request, what string) (url.Values, bool) {
	if limited, _ := s.limited(w, r, "token"); limited {
		writeError(w, newError(http.StatusTooManyRequests, errTemporarilyUnavailable, "too many requests from this address; retry later"))
		return nil, false
	}
	form, oe := readTokenForm(w, r)
	if oe != nil {
		s.fail(r, slog.LevelInfo, "bad_"+what+"_request", "detail", oe.description)
		writeError(w, oe)
		return nil, false
	}
	return form, true
}

// serveToken is POST /oauth/token.
func (s *tokenEndpoint) serveToken(w http.ResponseWriter, r *http.Request) {
	form, ok := s.limitedTokenForm(w, r, "token")
	if !ok {
		return
	}
	// Authenticate before looking at the grant, so a failed attempt
	// consumes nothing.
	c, oe := s.clients.authenticate(r, form)
	if oe != nil {
		writeError(w, oe)
		return
	}
	var resp *tokenResponse
	switch gt := form.Get("grant_type"); gt {
	case "":
		oe = newError(http.StatusBadRequest, errInvalidRequest, "grant_type is required")
	case oauth.GrantAuthorizationCode, oauth.GrantRefreshToken, oauth.GrantClientCredentials, oauth.GrantJWTBearer:
		switch {
		case gt == oauth.GrantJWTBearer && s.cfg.Enterprise == nil:
			oe = newError(http.StatusBadRequest, errUnsupportedGrantType, "this server trusts no enterprise identity provider, so it takes no jwt-bearer grant")
		case !c.Allows(gt):
			oe = newError(http.StatusBadRequest, errUnauthorizedClient, "the client is not registered for the "+gt+" grant")
		case gt == oauth.GrantAuthorizationCode:
			resp, oe = s.exchangeCode(r, c, form)
		case gt == oauth.GrantRefreshToken:
			resp, oe = s.refresh(r, c, form)
		case gt == oauth.GrantJWTBearer:
			resp, oe = s.jwtBearer(r, c, form)
		default:
			resp, oe = s.clientCredentials(r, c, form)
		}
	default:
		oe = newError(http.StatusBadRequest, errUnsupportedGrantType, "grant_type must be one of "+strings.Join(s.metadata().GrantTypesSupported, ", "))
	}
	if oe != nil {
		s.fail(r, slog.LevelInfo, "token_"+oe.code, "client_id", c.ID, "grant_type", truncate(form.Get("grant_type"), 40), "detail", oe.description)
		writeError(w, oe)
		return
	}
	if c.Kind != oauth.KindMetadata {
		if err := s.clients.store.TouchClient(r.Context(), c.ID, s.now().UTC().Truncate(time.Second)); err != nil {
			s.log.WarnContext(r.Context(), "recording client use failed", "client_id", c.ID, "err", err)
		}
	}
	writeJSON(w, http.StatusOK, resp)
}

// clientCredentials is the client credentials grant (RFC 6749 §4.4): a
// confidential client, authenticated by its secret, gets an access token
// for itself, bound to one resource (RFC 8707) and to scopes within those
// it was registered for, in a family of its own. There is no refresh
// token (§4.4.3): the client can always ask again.
func (s *tokenEndpoint) clientCredentials(r *http.Request, c *oauth.Client, form url.Values) (*tokenResponse, *oauthError) {
	ctx := r.Context()
	if c.Public() || c.Kind != oauth.KindPreregistered {
		// Only an operator can give a client this grant (clients add);
		// the check stands in case a stored client ever says otherwise.
		return nil, newError(http.StatusBadRequest, errUnauthorizedClient, "only a pre-registered confidential client may use the client_credentials grant")
	}
	resource, given, problem := s.resourceParam(form)
	switch {
	case problem != "":
		return nil, newError(http.StatusBadRequest, errInvalidTarget, problem)
	case !given:
		resource = s.resource
	}
	scopes, err := parseScope(form.Get("scope"))
	if err != nil {
		return nil, newError(http.StatusBadRequest, errInvalidScope, err.Error())
	}
	if len(scopes) == 0 {
		// What it was registered for (RFC 6749 §3.3 lets the server
		// choose), else the least scope.
		scopes = []string{firstScope}
		if len(c.Scopes) > 0 {
			scopes = sortScopes(c.Scopes)
		}
	}
	if len(c.Scopes) > 0 && !covers(c.Scopes, scopes) {
		return nil, newError(http.StatusBadRequest, errInvalidScope, "the client is not registered for the scope "+scopeText(scopes))
	}
	familyID := oauth.NewID()
	resp, access := s.mintAccess(familyID, scopes)
	err = s.tokens.CreateFamily(ctx, familyID, c.ID, "", resource, access.CreatedAt, access)
	if errors.Is(err, errdefs.ErrNotFound) {
		// Deleted since it authenticated.
		return nil, newError(http.StatusUnauthorized, errInvalidClient, "the client is unknown")
	}
	if err != nil {
		s.log.ErrorContext(ctx, "storing client credentials tokens failed", "client_id", c.ID, "err", err)
		return nil, newError(http.StatusServiceUnavailable, errTemporarilyUnavailable, "try again")
	}
	s.log.InfoContext(ctx, "client credentials token issued", "client_id", c.ID, "scope", scopeText(scopes), "resource", resource)
	return resp, nil
}

// mintAccess makes an access token in family familyID.
func (s *tokenEndpoint) mintAccess(familyID string, scopes []string) (*tokenResponse, *oauth.Token) {
	now := s.now().UTC().Truncate(time.Second)
	access := oauth.NewSecret(oauth.PrefixAccessToken)
	resp := &tokenResponse{
		AccessToken: access,
		TokenType:   "Bearer",
		ExpiresIn:   int64(s.cfg.AccessTokenLifetime / time.Second),
		Scope:       scopeText(scopes),
	}
	return resp, &oauth.Token{
		Hash: oauth.HashSecret(access), Kind: oauth.KindAccess, FamilyID: familyID, Scopes: scopes,
		CreatedAt: now, ExpiresAt: now.Add(s.cfg.AccessTokenLifetime),
	}
}

// mint makes an access token and, when the client may refresh, a refresh
// token, in family f. accessScopes may be narrower than refreshScopes
// (RFC 6749 §6: a narrowed refresh keeps the original grant in the
// refresh token).
func (s *tokenEndpoint) mint(c *oauth.Client, familyID string, accessScopes, refreshScopes []string) (*tokenResponse, []*oauth.Token) {
	resp, access := s.mintAccess(familyID, accessScopes)
	toks := []*oauth.Token{access}
	if c.Allows(oauth.GrantRefreshToken) {
		refresh := oauth.NewSecret(oauth.PrefixRefreshToken)
		resp.RefreshToken = refresh
		toks = append(toks, &oauth.Token{
			Hash: oauth.HashSecret(refresh), Kind: oauth.KindRefresh, FamilyID: familyID, Scopes: refreshScopes,
			CreatedAt: access.CreatedAt, ExpiresAt: access.CreatedAt.Add(s.cfg.RefreshTokenLifetime),
		})
	}
	return resp, toks
}

// resourceParam reads an RFC 8707 resource parameter (of an authorization
// or a token request): the one resource given, which must be one this
// server issues tokens for; given is false when there is none. The
// description is for errInvalidTarget.
func (s *site) resourceParam(v url.Values) (resource string, given bool, problem string) {
	rs, ok := v["resource"]
	if !ok {
		return "", false, ""
	}
	if len(rs) != 1 || !slices.Contains(s.resources, rs[0]) {
		return "", true, "resource must be one of " + strings.Join(s.resources, ", ") + ", the resources this server issues tokens for (one per token)"
	}
	return rs[0], true, ""
}

// checkResource applies RFC 8707 at the token endpoint: a resource, when
// sent, must be the one the grant is bound to.
func checkResourceParam(form url.Values, bound string) *oauthError {
	if rs, ok := form["resource"]; ok && (len(rs) != 1 || rs[0] != bound) {
		return newError(http.StatusBadRequest, errInvalidTarget, "resource must be "+bound+", the resource this grant is for")
	}
	return nil
}

var errBadGrant = newError(http.StatusBadRequest, errInvalidGrant, "the authorization code is invalid, expired or already used")

// exchangeCode is the authorization_code grant.
func (s *tokenEndpoint) exchangeCode(r *http.Request, c *oauth.Client, form url.Values) (*tokenResponse, *oauthError) {
	ctx := r.Context()
	code, redirect, verifier := form.Get("code"), form.Get("redirect_uri"), form.Get("code_verifier")
	switch {
	case code == "":
		return nil, newError(http.StatusBadRequest, errInvalidRequest, "code is required")
	case redirect == "":
		return nil, newError(http.StatusBadRequest, errInvalidRequest, "redirect_uri is required")
	case verifier == "":
		return nil, newError(http.StatusBadRequest, errInvalidRequest, "code_verifier is required (PKCE)")
	case !validVerifier(verifier):
		return nil, newError(http.StatusBadRequest, errInvalidRequest, "code_verifier must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~")
	case !oauth.WellFormed(code, oauth.PrefixCode):
		return nil, errBadGrant
	}
	hash := oauth.HashSecret(code)
	stored, err := s.codes.CodeByHash(ctx, hash)
	if errors.Is(err, errdefs.ErrNotFound) {
		return nil, errBadGrant
	}
	if err != nil {
		s.log.ErrorContext(ctx, "reading authorization code failed", "err", err)
		return nil, newError(http.StatusServiceUnavailable, errTemporarilyUnavailable, "try again")
	}
	now := s.now()
	switch {
	case stored.UsedAt != nil:
		s.replayed(r, stored)
		return nil, errBadGrant
	case !now.Before(stored.ExpiresAt):
		return nil, newError(http.StatusBadRequest, errInvalidGrant, "the authorization code has expired")
	case stored.ClientID != c.ID:
		return nil, newError(http.StatusBadRequest, errInvalidGrant, "the authorization code was issued to another client")
	case stored.RedirectURI != redirect:
		return nil, newError(http.StatusBadRequest, errInvalidGrant, "redirect_uri differs from the one in the authorization request")
	case !verifierMatches(verifier, stored.Challenge):
		return nil, newError(http.StatusBadRequest, errInvalidGrant, "code_verifier does not match the code_challenge")
	}
	if oe := checkResourceParam(form, stored.Resource); oe != nil {
		return nil, oe
	}
	resp, toks := s.mint(c, stored.FamilyID, stored.Scopes, stored.Scopes)
	err = s.codes.ExchangeCode(ctx, hash, now.UTC().Truncate(time.Second), toks...)
	switch {
	case errors.Is(err, errdefs.ErrConflict):
		// Either the code's family was revoked since approval (the user
		// disconnected the app): the code stays unused and buys nothing.
		// Or another request won the race for this code: that is a
		// replay too.
		if again, err := s.codes.CodeByHash(ctx, hash); err == nil && again.UsedAt == nil {
			s.fail(r, slog.LevelInfo, "code_family_revoked", "client_id", c.ID, "user", stored.User, "family", stored.FamilyID)
			return nil, errBadGrant
		}
		s.replayed(r, stored)
		return nil, errBadGrant
	case err != nil:
		s.log.ErrorContext(ctx, "exchanging authorization code failed", "err", err)
		return nil, newError(http.StatusServiceUnavailable, errTemporarilyUnavailable, "try again")
	}
	s.log.InfoContext(ctx, "tokens issued", "grant_type", oauth.GrantAuthorizationCode, "client_id", c.ID, "user", stored.User, "family", stored.FamilyID)
	return resp, nil
}

// replayed handles a code used twice: whoever holds it may have stolen it,
// so every token issued from it is revoked (RFC 6749 §4.1.2, OAuth 2.1
// §4.1.3).
func (s *tokenEndpoint) replayed(r *http.Request, c *oauth.Code) {
	s.fail(r, slog.LevelWarn, "code_replayed", "client_id", c.ClientID, "user", c.User, "family", c.FamilyID)
	if err := s.tokens.RevokeFamily(r.Context(), c.FamilyID, s.now().UTC().Truncate(time.Second)); err != nil && !errors.Is(err, errdefs.ErrNotFound) {
		s.log.ErrorContext(r.Context(), "revoking the tokens of a replayed code failed", "family", c.FamilyID, "err", err)
	}
}

var errBadRefresh = newError(http.StatusBadRequest, errInvalidGrant, "the refresh token is invalid, expired or revoked")

// refresh is the refresh_token grant, with rotation and reuse detection.
func (s *tokenEndpoint) refresh(r *http.Request, c *oauth.Client, form url.Values) (*tokenResponse, *oauthError) {
	ctx := r.Context()
	rt := form.Get("refresh_token")
	if rt == "" {
		return nil, newError(http.StatusBadRequest, errInvalidRequest, "refresh_token is required")
	}
	if !oauth.WellFormed(rt, oauth.PrefixRefreshToken) {
		return nil, errBadRefresh
	}
	hash := oauth.HashSecret(rt)
	old, err := s.tokens.TokenByHash(ctx, hash)
	if errors.Is(err, errdefs.ErrNotFound) {
		return nil, errBadRefresh
	}
	if err != nil {
		s.log.ErrorContext(ctx, "reading refresh token failed", "err", err)
		return nil, newError(http.StatusServiceUnavailable, errTemporarilyUnavailable, "try again")
	}
	now := s.now()
	switch {
	case old.Kind != oauth.KindRefresh:
		return nil, errBadRefresh
	case old.ClientID != c.ID:
		return nil, newError(http.StatusBadRequest, errInvalidGrant, "the refresh token was issued to another client")
	case old.RevokedAt != nil && old.RotatedAt != nil:
		// A rotated token whose grace re-issue is spent (or whose family
		// is revoked) presented again: a reuse.
		return nil, s.refreshReused(r, c, old)
	case old.RevokedAt != nil:
		// Revoked but never rotated: a sibling superseded when the other
		// successor of a grace re-issue was used (revocation by the client
		// revokes the whole family). Two parties hold this grant's
		// chains; one of them is a thief, so the family ends.
		return nil, s.refreshReused(r, c, old)
	case !now.Before(old.ExpiresAt):
		return nil, newError(http.StatusBadRequest, errInvalidGrant, "the refresh token has expired")
	}
	if oe := checkResourceParam(form, old.Resource); oe != nil {
		return nil, oe
	}
	scopes := old.Scopes
	if _, ok := form["scope"]; ok {
		asked, err := parseScope(form.Get("scope"))
		if err != nil {
			return nil, newError(http.StatusBadRequest, errInvalidScope, err.Error())
		}
		if len(asked) > 0 {
			if !covers(old.Scopes, asked) {
				return nil, newError(http.StatusBadRequest, errInvalidScope, "a refresh may narrow the scope, never widen it; the grant is "+scopeText(old.Scopes))
			}
			scopes = asked
		}
	}
	at := now.UTC().Truncate(time.Second)
	resp, toks := s.mint(c, old.FamilyID, scopes, old.Scopes)
	if old.RotatedAt == nil {
		err := s.tokens.RotateRefreshToken(ctx, hash, at, toks...)
		if err == nil {
			s.log.InfoContext(ctx, "tokens refreshed", "client_id", c.ID, "user", old.User, "family", old.FamilyID)
			return resp, nil
		}
		if !errors.Is(err, errdefs.ErrConflict) {
			s.log.ErrorContext(ctx, "rotating refresh token failed", "err", err)
			return nil, newError(http.StatusServiceUnavailable, errTemporarilyUnavailable, "try again")
		}
		// Another request rotated it first (or revoked it): look again
		// and treat this one as a reuse.
		if old, err = s.tokens.TokenByHash(ctx, hash); err != nil || old.RotatedAt == nil {
			return nil, errBadRefresh
		}
		if old.RevokedAt != nil {
			return nil, s.refreshReused(r, c, old)
		}
	}
	// RotatedAt is stored in whole seconds, so the window is up to a
	// second shorter than the grace, never longer: a grace of zero is
	// none.
	if now.Sub(*old.RotatedAt) <= s.cfg.RefreshGrace {
		// A retry by a client that lost the answer to its refresh gets
		// another pair in the same family, but only once per rotated
		// token: ReissueRefreshToken is a compare-and-set that revokes
		// the rotated token, so a second reuse, even within the grace
		// window, is refused and revokes the family. Without this each
		// reuse in the window would start one more live chain. The two
		// successors do not both live on: using either revokes the other
		// (RotateRefreshToken), and the revoked one presented later ends
		// the family, so a thief who replays within the window holds a
		// chain only until the client's next refresh.
		err := s.tokens.ReissueRefreshToken(ctx, hash, at, toks...)
		switch {
		case err == nil:
			s.log.InfoContext(ctx, "tokens refreshed within the grace window", "client_id", c.ID, "user", old.User, "family", old.FamilyID)
			return resp, nil
		case errors.Is(err, errdefs.ErrConflict):
			// Another reuse spent the re-issue first, or the family
			// was revoked.
			return nil, s.refreshReused(r, c, old)
		case errors.Is(err, errdefs.ErrNotFound):
			return nil, errBadRefresh
		default:
			s.log.ErrorContext(ctx, "storing tokens failed", "err", err)
			return nil, newError(http.StatusServiceUnavailable, errTemporarilyUnavailable, "try again")
		}
	}
	return nil, s.refreshReused(r, c, old)
}

// refreshReused handles a rotated refresh token presented again after the
// grace window, or after its one grace re-issue, and a refresh token its
// sibling superseded: the token was probably stolen. It revokes the family, so the thief's and the client's tokens
// alike stop working and the user must approve again, and returns the
// error to answer.
func (s *tokenEndpoint) refreshReused(r *http.Request, c *oauth.Client, old *oauth.Token) *oauthError {
	now := s.now()
	if old.RotatedAt != nil {
		s.fail(r, slog.LevelWarn, "refresh_token_reused", "client_id", c.ID, "user", old.User, "family", old.FamilyID,
			"rotated_ago", now.Sub(*old.RotatedAt).Round(time.Second).String())
	} else {
		s.fail(r, slog.LevelWarn, "refresh_token_superseded", "client_id", c.ID, "user", old.User, "family", old.FamilyID)
	}
	if err := s.tokens.RevokeFamily(r.Context(), old.FamilyID, now.UTC().Truncate(time.Second)); err != nil && !errors.Is(err, errdefs.ErrNotFound) {
		s.log.ErrorContext(r.Context(), "revoking a token family failed", "family", old.FamilyID, "err", err)
	}
	return errBadRefresh
}
