package authserver

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/2coffee/mcp-2coffee/internal/authn"
	"github.com/2coffee/mcp-2coffee/internal/errdefs"
	"github.com/2coffee/mcp-2coffee/internal/extauth"
	"github.com/2coffee/mcp-2coffee/internal/oauth"
)

// Enterprise-managed authorization (the MCP extension, SEP-990): an MCP
// client that signed its user in at the enterprise identity provider
// exchanged the ID token there for an ID-JAG addressed to us (RFC 8693),
// and presents it here with the jwt-bearer grant (RFC 7523 §2.1). The
// provider's policy has already decided that this user may use this
// client with this server, so nobody is sent to a browser: the grant
// buys an access token for the user it names, bound to our resource.

// EnterpriseGrants verifies the ID-JAGs of the enterprise identity
// provider the operator trusts (extauth.GrantVerifier).
type EnterpriseGrants interface {
	Issuer() string
	Verify(ctx context.Context, assertion string) (*extauth.IDJAG, error)
}

// GrantProfileIDJAG is the authorization_grant_profiles_supported value
// that says this server takes ID-JAGs (the MCP profile's §6).
const GrantProfileIDJAG = "urn:ietf:params:oauth:grant-profile:id-jag"

// jwtBearer is the jwt-bearer grant with an ID-JAG. The checks follow the
// ID-JAG draft's §4.4.1 and the MCP profile's §5.1 and §7: the JWT itself
// (EnterpriseGrants.Verify), client_id the authenticated client, resource
// one of ours, scopes within the grant's, the client's registration and
// the request, and the jti spent once. The user is found by issuer and
// subject, and made the first time, as a federated sign-in makes one.
func (s *tokenEndpoint) jwtBearer(r *http.Request, c *oauth.Client, form url.Values) (*tokenResponse, *oauthError) {
	ctx := r.Context()
	ent := s.cfg.Enterprise
	if c.Public() || c.Kind != oauth.KindPreregistered {
		return nil, newError(http.StatusBadRequest, errUnauthorizedClient, "only a pre-registered confidential client may use the jwt-bearer grant")
	}
	assertion := form.Get("assertion")
	if assertion == "" {
		return nil, newError(http.StatusBadRequest, errInvalidRequest, "assertion is required: the ID-JAG from the enterprise identity provider")
	}
	jag, err := ent.Verify(ctx, assertion)
	if err != nil {
		if ge, ok := errors.AsType[*extauth.GrantError](err); ok {
			return nil, newError(http.StatusBadRequest, errInvalidGrant, ge.Description)
		}
		s.log.ErrorContext(ctx, "verifying an ID-JAG failed", "provider", ent.Issuer(), "err", err)
		return nil, newError(http.StatusServiceUnavailable, errTemporarilyUnavailable, "the enterprise identity provider's keys could not be had; try again")
	}
	if jag.ClientID != c.ID {
		return nil, newError(http.StatusBadRequest, errInvalidGrant, "the ID-JAG was issued for another client")
	}
	resource, oe := s.grantResource(form, jag.Resources)
	if oe != nil {
		return nil, oe
	}
	scopes, oe := grantScopes(c, jag, form.Get("scope"))
	if oe != nil {
		return nil, oe
	}
	// Spent before anything is issued, so that of two requests racing
	// with one ID-JAG exactly one gets a token.
	switch err := s.assertions.SpendAssertion(ctx, jag.Issuer, jag.JTI, jag.Expiry); {
	case errors.Is(err, errdefs.ErrConflict):
		s.fail(r, slog.LevelWarn, "assertion_replayed", "client_id", c.ID, "provider", jag.Issuer)
		return nil, newError(http.StatusBadRequest, errInvalidGrant, "the ID-JAG was already used; get a new one from the identity provider")
	case err != nil:
		s.log.ErrorContext(ctx, "recording a spent ID-JAG failed", "err", err)
		return nil, newError(http.StatusServiceUnavailable, errTemporarilyUnavailable, "try again")
	}
	user, err := s.localUser(ctx, s.users, account{
		issuer: jag.Issuer, subject: jag.Subject, email: jag.Email, emailVerified: jag.EmailVerified,
		preferredUsername: jag.PreferredUsername, name: jag.Name,
	})
	if err != nil {
		s.log.ErrorContext(ctx, "finding the user of an ID-JAG failed", "err", err)
		return nil, newError(http.StatusServiceUnavailable, errTemporarilyUnavailable, "try again")
	}
	// The approval is the enterprise's, remembered as the user's grant so
	// the connected-apps page shows the client and can disconnect it.
	now := s.now().UTC().Truncate(time.Second)
	g := &oauth.Grant{User: user, ClientID: c.ID, ClientName: c.Name, Scopes: scopes, CreatedAt: now, UpdatedAt: now}
	if old, err := s.grants.GrantFor(ctx, user, c.ID); err == nil {
		g.Scopes = union(old.Scopes, scopes)
	}
	if err := s.grants.SaveGrant(ctx, g); err != nil {
		s.log.ErrorContext(ctx, "saving the grant of an ID-JAG failed", "err", err)
		return nil, newError(http.StatusServiceUnavailable, errTemporarilyUnavailable, "try again")
	}
	familyID := oauth.NewID()
	resp, access := s.mintAccess(familyID, scopes)
	err = s.tokens.CreateFamily(ctx, familyID, c.ID, user, resource, access.CreatedAt, access)
	if errors.Is(err, errdefs.ErrNotFound) {
		// The client or the user was deleted since.
		return nil, newError(http.StatusBadRequest, errInvalidGrant, "the client or the user is gone")
	}
	if err != nil {
		s.log.ErrorContext(ctx, "storing the tokens of an ID-JAG failed", "client_id", c.ID, "err", err)
		return nil, newError(http.StatusServiceUnavailable, errTemporarilyUnavailable, "try again")
	}
	s.log.InfoContext(ctx, "tokens issued", "grant_type", "jwt-bearer", "client_id", c.ID, "user", user,
		"provider", jag.Issuer, "scope", scopeText(scopes), "resource", resource, "family", familyID)
	return resp, nil
}

// grantResource is the resource the token is bound to: the request's
// resource parameter if any, which must be ours and, when the ID-JAG names
// resources, one of them; else the one resource of ours the ID-JAG names;
// else our default. An ID-JAG naming only other servers' resources is
// refused: it was meant for them (the profile's §7.6.2).
func (s *tokenEndpoint) grantResource(form url.Values, named []string) (string, *oauthError) {
	if r, given, problem := s.resourceParam(form); problem != "" {
		return "", newError(http.StatusBadRequest, errInvalidTarget, problem)
	} else if given {
		if len(named) > 0 && !slices.Contains(named, r) {
			return "", newError(http.StatusBadRequest, errInvalidGrant, "the ID-JAG is not for the resource "+r)
		}
		return r, nil
	}
	if len(named) == 0 {
		return s.resource, nil
	}
	var mine []string
	for _, r := range named {
		if slices.Contains(s.resources, r) {
			mine = append(mine, r)
		}
	}
	switch len(mine) {
	case 0:
		return "", newError(http.StatusBadRequest, errInvalidGrant, "the ID-JAG is for another resource ("+truncate(named[0], 200)+"), not one of "+strings.Join(s.resources, ", "))
	case 1:
		return mine[0], nil
	}
	return "", newError(http.StatusBadRequest, errInvalidTarget, "the ID-JAG names several of our resources: say which with the resource parameter")
}

// grantScopes decides the token's scopes: those the ID-JAG grants (every
// one a scope of ours), narrowed to the requested ones when the client
// asked for some (the profile's §7.2.1: the intersection), then to what
// the client is registered for. Without a scope claim the enterprise left
// the scope to us: the requested scopes, else the client's registered
// ones, as for client credentials. An empty result is invalid_scope.
func grantScopes(c *oauth.Client, jag *extauth.IDJAG, scope string) ([]string, *oauthError) {
	asked, err := parseScope(scope)
	if err != nil {
		return nil, newError(http.StatusBadRequest, errInvalidScope, err.Error())
	}
	var scopes []string
	switch {
	case jag.HasScope:
		for _, v := range jag.Scopes {
			if !authn.ValidScope(v) {
				return nil, newError(http.StatusBadRequest, errInvalidGrant, "the ID-JAG grants the scope "+truncate(v, 64)+", which this server does not have")
			}
		}
		granted := sortScopes(jag.Scopes)
		scopes = granted
		if len(asked) > 0 {
			scopes = slices.DeleteFunc(slices.Clone(asked), func(s string) bool { return !covers(granted, []string{s}) })
		}
	case len(asked) > 0:
		if len(c.Scopes) > 0 && !covers(c.Scopes, asked) {
			return nil, newError(http.StatusBadRequest, errInvalidScope, "the client is not registered for the scope "+scopeText(asked))
		}
		scopes = asked
	default:
		scopes = []string{firstScope}
		if len(c.Scopes) > 0 {
			scopes = sortScopes(c.Scopes)
		}
	}
	if len(c.Scopes) > 0 {
		scopes = slices.DeleteFunc(scopes, func(s string) bool { return !covers(c.Scopes, []string{s}) })
	}
	if len(scopes) == 0 {
		return nil, newError(http.StatusBadRequest, errInvalidScope, "the ID-JAG, the request and the client's registration have no scope in common")
	}
	return scopes, nil
}
