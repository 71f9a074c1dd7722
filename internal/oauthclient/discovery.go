package oauthclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/oauthex"

	"github.com/2coffee/mcp-2coffee/internal/webaddr"
)

// maxMetadataBytes bounds every metadata document and token response we
// read: they are small, and a hostile server must not make us buffer much.
const maxMetadataBytes = 1 << 20

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
		if err := checkEndpoint("resource_metadata", mu); err != nil {
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

// authServerMetadataURLs lists where an issuer's metadata may live, in the
// order MCP 2025-11-25 gives: RFC 8414 path insertion, OIDC path insertion,
// OIDC path appending; or, without a path, RFC 8414 then OIDC.
func authServerMetadataURLs(issuer string) ([]string, error) {
	u, err := url.Parse(issuer)
	if err != nil {
		return nil, err
	}
	o := webaddr.Origin(u)
	if o == "" {
		return nil, errors.New("not an absolute URL with a host")
	}
	p := strings.Trim(u.Path, "/")
	if p == "" {
		return []string{
			o + "/.well-known/oauth-authorization-server",
			o + "/.well-known/openid-configuration",
		}, nil
	}
	return []string{
		o + "/.well-known/oauth-authorization-server/" + p,
		o + "/.well-known/openid-configuration/" + p,
		o + "/" + p + "/.well-known/openid-configuration",
	}, nil
}

// discoverAuthServer fetches and checks the issuer's metadata. In legacy
// mode (no protected resource metadata) a missing document selects the
// 2025-03-26 default endpoints, and the issuer check is skipped: that
// revision did not require it, and its servers often name a sub-path issuer.
func (c *Client) discoverAuthServer(ctx context.Context, issuer string, legacy bool) (*authServer, error) {
	if err := checkEndpoint("authorization server", issuer); err != nil {
		return nil, err
	}
	urls, err := authServerMetadataURLs(issuer)
	if err != nil {
		return nil, fmt.Errorf("invalid authorization server %q: %w", issuer, err)
	}
	for _, mu := range urls {
		var m oauthex.AuthServerMeta
		found, err := c.getJSON(ctx, mu, &m)
		if err != nil {
			return nil, fmt.Errorf("authorization server metadata: %w", err)
		}
		if !found {
			continue
		}
		if !legacy && !issuersEqual(m.Issuer, issuer) {
			return nil, fmt.Errorf("authorization server metadata at %s names issuer %q, want %q", mu, m.Issuer, issuer)
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
		c.log.Debug("found authorization server metadata", "url", mu, "issuer", as.issuer)
		return as, nil
	}
	if !legacy {
		return nil, fmt.Errorf("no authorization server metadata for %s (tried %s)", issuer, strings.Join(urls, ", "))
	}
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

// browserFlow reports whether tokens come through a person at a browser
// (the authorization code grant), which needs an authorization endpoint
// and PKCE; a machine client needs only the token endpoint.
func (c *Client) browserFlow() bool { return c.opts.Grant != GrantClientCredentials }

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
		if err := checkEndpoint(e.name, e.value); err != nil {
			return err
		}
	}
	return nil
}

// checkEndpoint accepts https URLs, and http URLs to a loopback host.
func checkEndpoint(name, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return fmt.Errorf("%s %q is not an absolute URL", name, raw)
	}
	switch strings.ToLower(u.Scheme) {
	case "https":
		return nil
	case "http":
		if webaddr.IsLoopback(u.Hostname()) {
			return nil
		}
		return fmt.Errorf("%s %q must use https", name, raw)
	default:
		return fmt.Errorf("%s %q must be an https URL", name, raw)
	}
}

// issuersEqual compares issuer identifiers exactly, tolerating only a
// single trailing slash, which many deployments get wrong one way or the
// other without any security consequence.
func issuersEqual(a, b string) bool {
	return strings.TrimSuffix(a, "/") == strings.TrimSuffix(b, "/")
}

// getJSON fetches a metadata document. found is false for a 4xx answer
// (the document is not there); other failures are errors.
func (c *Client) getJSON(ctx context.Context, rawURL string, v any) (found bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return false, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	defer io.Copy(io.Discard, io.LimitReader(resp.Body, maxMetadataBytes))
	if resp.StatusCode >= 400 && resp.StatusCode < 500 {
		return false, nil
	}
	if resp.StatusCode != http.StatusOK {
		return false, fmt.Errorf("GET %s: %s", rawURL, resp.Status)
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "application/json" && !strings.HasSuffix(mt, "+json") {
		return false, fmt.Errorf("GET %s: content type %q, want application/json", rawURL, resp.Header.Get("Content-Type"))
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxMetadataBytes)).Decode(v); err != nil {
		return false, fmt.Errorf("GET %s: %w", rawURL, err)
	}
	return true, nil
}
