package oauthclient

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/oauthex"

	"github.com/2coffee/mcp-2coffee/internal/oauthmeta"
	"github.com/2coffee/mcp-2coffee/internal/webaddr"
)

// Challenge is what a 401 or 403 response tells the client (RFC 6750 §3,
// RFC 9728 §5.1).
type Challenge struct {
	// Status is the HTTP status code of the response (401 or 403).
	Status int
	// Error is the Bearer challenge's error code, e.g. "invalid_token" or
	// "insufficient_scope".
	Error string
	// Description is the challenge's error_description, for messages to
	// the user.
	Description string
	// Scope lists the scopes the server asked for.
	Scope []string
	// ResourceMetadata is the protected resource metadata URL, if given.
	ResourceMetadata string
}

// ParseChallenge reads the Bearer challenge of a response. Malformed or
// missing headers give a Challenge with only Status set: the flow then falls
// back to well-known discovery.
func ParseChallenge(status int, h http.Header) Challenge {
	ch := Challenge{Status: status}
	cs, err := oauthex.ParseWWWAuthenticate(h.Values("WWW-Authenticate"))
	if err != nil {
		return ch
	}
	for _, c := range cs {
		if c.Scheme != "bearer" {
			continue
		}
		if v := c.Params["error"]; v != "" && ch.Error == "" {
			ch.Error = v
		}
		if v := c.Params["error_description"]; v != "" && ch.Description == "" {
			ch.Description = v
		}
		if v := c.Params["scope"]; v != "" && ch.Scope == nil {
			ch.Scope = strings.Fields(v)
		}
		if v := c.Params["resource_metadata"]; v != "" && ch.ResourceMetadata == "" {
			ch.ResourceMetadata = v
		}
	}
	return ch
}

// resourceInfo is the outcome of protected resource discovery.
type resourceInfo struct {
	// resource is the RFC 8707 resource indicator to send.
	resource string
	// issuer is the authorization server to use.
	issuer string
	// scopes is the PRM's scopes_supported.
	scopes []string
	// legacy is set when no protected resource metadata exists and the
	// 2025-03-26 rules apply: the MCP server's origin is the authorization
	// server.
	legacy bool
}

// errResourceMismatch marks metadata that names another resource. It is
// fatal: a server that points us at metadata for someone else is either
// misconfigured or attacking, and trying further locations would hide that.
var errResourceMismatch = errors.New("protected resource metadata is for another resource")

// discoverResource finds the protected resource metadata of serverURL: the
// URL from the challenge first, then the path-inserted well-known URL, then
// the root one (RFC 9728 §3.1, MCP 2025-11-25 "Protected Resource Metadata
// Discovery Requirements"). Without any, it falls back to the 2025-03-26
// behaviour.
func (c *Client) discoverResource(ctx context.Context, serverURL, fromChallenge string) (*resourceInfo, error) {
	su, err := url.Parse(serverURL)
	if err != nil {
		return nil, err
	}
	// Without an origin every candidate below would be a relative path,
	// and the legacy issuer empty.
	if webaddr.Origin(su) == "" {
		return nil, fmt.Errorf("server URL %s has no origin to discover from", su.Redacted())
	}
	var candidates []string
	if fromChallenge != "" {
		candidates = append(candidates, fromChallenge)
	}
	if p := strings.Trim(su.Path, "/"); p != "" {
		candidates = append(candidates, webaddr.Origin(su)+"/.well-known/oauth-protected-resource/"+p)
	}
	rootForm := webaddr.Origin(su) + "/.well-known/oauth-protected-resource"
	candidates = append(candidates, rootForm)

	var tried []string
	for i, mu := range candidates {
		if slices.Contains(tried, mu) {
			continue
		}
		tried = append(tried, mu)
		if err := oauthmeta.CheckEndpoint("resource_metadata", mu); err != nil {
			c.log.Debug("skipping protected resource metadata URL", "url", mu, "error", err)
			continue
		}
		var prm oauthex.ProtectedResourceMetadata
		found, err := c.getJSON(ctx, mu, &prm)
		if err != nil {
			c.log.Debug("protected resource metadata not usable", "url", mu, "error", err)
			continue
		}
		if !found {
			continue
		}
		if prm.Resource == "" {
			// resource is REQUIRED (RFC 9728 §2): this is not protected
			// resource metadata, whatever else it is.
			c.log.Debug("ignoring metadata without a resource", "url", mu)
			continue
		}
		ok := resourceMatches(prm.Resource, serverURL)
		if !ok && mu == rootForm && !(fromChallenge != "" && i == 0) {
			// RFC 9728 §3.3 asks that a document fetched from a
			// well-known URL name the identifier the suffix was inserted
			// into; for the root form, that is the origin. A server that
			// says so (the conformance suite's auth/metadata-var2 does)
			// makes the whole origin one resource. Metadata the server
			// pointed to in its challenge must name the URL we used.
			ok = resourceMatches(prm.Resource, webaddr.Origin(su))
		}
		if !ok {
			return nil, fmt.Errorf("%w: %s names resource %q, but the server this client talks to is %s; RFC 9728 §3.3 requires the two to be identical, so the metadata is not used (check the server URL, or the resource the server is configured with)", errResourceMismatch, mu, prm.Resource, serverURL)
		}
		if len(prm.AuthorizationServers) == 0 {
			return nil, fmt.Errorf("protected resource metadata at %s names no authorization server", mu)
		}
		c.log.Debug("found protected resource metadata", "url", mu, "authorization_server", prm.AuthorizationServers[0])
		return &resourceInfo{
			resource: prm.Resource,
			issuer:   prm.AuthorizationServers[0],
			scopes:   prm.ScopesSupported,
		}, nil
	}
	c.log.Debug("no protected resource metadata; using the server's origin as authorization server (2025-03-26)")
	return &resourceInfo{resource: serverURL, issuer: webaddr.Origin(su), legacy: true}, nil
}

// resourceMatches reports whether a protected resource metadata's resource
// identifier is want, the resource the client uses (RFC 9728 §3.3: they
// must be identical). Only what RFC 3986 §6.2.3 makes equivalent for http
// and https is normalised: the case of scheme and host, a default port, and
// an empty path against "/". A parent path, the bare origin for a server
// with a path, or a trailing slash the server URL does not have are other
// resources. An identifier with a fragment, user information or no host is
// never one (RFC 8707 §2).
func resourceMatches(resource, want string) bool {
	r, ok := normalResource(resource)
	if !ok {
		return false
	}
	w, ok := normalResource(want)
	return ok && r == w
}

// normalResource is an absolute http(s) URL in the form resourceMatches
// compares.
func normalResource(raw string) (string, bool) {
	if strings.Contains(raw, "#") {
		return "", false
	}
	u, err := url.Parse(raw)
	if err != nil || u.User != nil || u.Opaque != "" {
		return "", false
	}
	s := strings.ToLower(u.Scheme)
	if s != "http" && s != "https" {
		return "", false
	}
	o := webaddr.Origin(u)
	if o == "" {
		return "", false
	}
	p := u.EscapedPath()
	if p == "/" {
		p = ""
	}
	if u.RawQuery != "" || u.ForceQuery {
		p += "?" + u.RawQuery
	}
	return o + p, true
}

// authServer is the subset of RFC 8414 metadata the flow uses.
type authServer struct {
	issuer                string
	authorizationEndpoint string
	tokenEndpoint         string
	registrationEndpoint  string
	revocationEndpoint    string
	scopesSupported       []string
	authMethods           []string
	cimdSupported         bool
	issParameterSupported bool
	// fromMetadata is false for the 2025-03-26 default endpoints, where
	// nothing is known about the server's capabilities.
	fromMetadata bool
}

// discoverAuthServer fetches and checks the issuer's metadata. In legacy
// mode (no protected resource metadata) a missing document selects the
// 2025-03-26 default endpoints, and the issuer check is skipped: that
// revision did not require it, and its servers often name a sub-path issuer.
func (c *Client) discoverAuthServer(ctx context.Context, issuer string, legacy bool) (*authServer, error) {
	m, from, err := oauthmeta.Discover(ctx, c.http, issuer, legacy)
	if err != nil && (!legacy || !errors.Is(err, oauthmeta.ErrNotFound)) {
		return nil, err
	}
	if err != nil {
		base := strings.TrimRight(issuer, "/")
		c.log.Debug("no authorization server metadata; using the 2025-03-26 default endpoints", "base", base)
		as := &authServer{
			issuer:                base,
			authorizationEndpoint: base + "/authorize",
			tokenEndpoint:         base + "/token",
			registrationEndpoint:  base + "/register",
		}
		return as, as.check(c.browserFlow())
	}
	// PKCE guards the browser step; a machine client has none, and
	// servers that do only client credentials (or do not advertise
	// PKCE, as Entra ID does not) serve it all the same.
	if c.browserFlow() && !slices.Contains(m.CodeChallengeMethodsSupported, "S256") {
		return nil, fmt.Errorf("authorization server %s does not support PKCE with S256 (code_challenge_methods_supported: %q); refusing to sign in", issuer, m.CodeChallengeMethodsSupported)
	}
	as := &authServer{
		issuer:                m.Issuer,
		authorizationEndpoint: m.AuthorizationEndpoint,
		tokenEndpoint:         m.TokenEndpoint,
		registrationEndpoint:  m.RegistrationEndpoint,
		revocationEndpoint:    m.RevocationEndpoint,
		scopesSupported:       m.ScopesSupported,
		authMethods:           m.TokenEndpointAuthMethodsSupported,
		cimdSupported:         m.ClientIDMetadataDocumentSupported,
		issParameterSupported: m.AuthorizationResponseIssParameterSupported,
		fromMetadata:          true,
	}
	if as.issuer == "" {
		as.issuer = issuer
	}
	if err := as.check(c.browserFlow()); err != nil {
		return nil, err
	}
	c.log.Debug("found authorization server metadata", "url", from, "issuer", as.issuer)
	return as, nil
}

// browserFlow reports whether tokens come through a person at a browser
// (the authorization code grant), which needs an authorization endpoint
// and PKCE; a machine client needs only the token endpoint.
func (c *Client) browserFlow() bool { return c.opts.Grant == GrantAuthorizationCode }

// check refuses endpoints that are missing (the authorization endpoint
// only when browser says it is needed), not http(s), or plain http to
// anything but the local machine: codes, secrets and tokens travel there.
func (as *authServer) check(browser bool) error {
	if as.tokenEndpoint == "" || (browser && as.authorizationEndpoint == "") {
		return fmt.Errorf("authorization server %s has no authorization or token endpoint", as.issuer)
	}
	for _, e := range []struct{ name, value string }{
		{"authorization_endpoint", as.authorizationEndpoint},
		{"token_endpoint", as.tokenEndpoint},
		{"registration_endpoint", as.registrationEndpoint},
		{"revocation_endpoint", as.revocationEndpoint},
	} {
		if e.value == "" {
			continue
		}
		if err := oauthmeta.CheckEndpoint(e.name, e.value); err != nil {
			return err
		}
	}
	return nil
}

// getJSON fetches a metadata document with the client's HTTP client
// (oauthmeta.GetJSON).
func (c *Client) getJSON(ctx context.Context, rawURL string, v any) (found bool, err error) {
	return oauthmeta.GetJSON(ctx, c.http, rawURL, v)
}
