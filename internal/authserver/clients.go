package authserver

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/2coffee/mcp-2coffee/internal/errdefs"
	"github.com/2coffee/mcp-2coffee/internal/oauth"
	"github.com/2coffee/mcp-2coffee/internal/webaddr"
)

// MetadataFetcher fetches the Client ID Metadata Document at a client_id
// URL. Implementations guard against SSRF (no private, loopback or
// link-local targets), bound size and time, and cache per HTTP rules; the
// server checks what the document says. An error means the client cannot
// be identified now.
type MetadataFetcher interface {
	Fetch(ctx context.Context, clientIDURL string) (*oauth.ClientMetadata, error)
}

// Limits on client metadata.
const (
	MaxClientNameLen = 200 // characters
	MaxClientIDLen   = 2048
	maxURILen        = 2048
)

// isMetadataClientID reports whether a client_id names a metadata
// document: it is an https URL.
func isMetadataClientID(id string) bool { return strings.HasPrefix(id, "https://") }

// errUnknownClient is a client_id that names no client.
var errUnknownClient = fmt.Errorf("unknown client: %w", errdefs.ErrNotFound)

// clientProblem is a client that exists (or a document that was fetched)
// but cannot be used; the message is safe to show.
type clientProblem struct{ msg string }

func (e *clientProblem) Error() string { return e.msg }

// clientFinder identifies the client a request names, and authenticates
// it: every endpoint but registration needs it. Its store is the only
// way an endpoint reaches stored clients.
type clientFinder struct {
	*site
	store oauth.Clients
}

// find resolves a client_id: a stored client, or, when it is an https
// URL and a fetcher is configured, a metadata document. It returns
// errUnknownClient, a *clientProblem, or another error when the store or
// the fetch failed.
func (s *clientFinder) find(ctx context.Context, id string) (*oauth.Client, error) {
	if id == "" || len(id) > MaxClientIDLen || !utf8.ValidString(id) {
		return nil, errUnknownClient
	}
	if !isMetadataClientID(id) {
		c, err := s.store.ClientByID(ctx, id)
		if errors.Is(err, errdefs.ErrNotFound) {
			return nil, errUnknownClient
		}
		if err != nil {
			return nil, fmt.Errorf("looking up client: %w", err)
		}
		return c, nil
	}
	if s.cfg.MetadataFetcher == nil {
		return nil, &clientProblem{"this server does not accept client_id URLs (Client ID Metadata Documents); register the client instead"}
	}
	if err := checkMetadataURL(id); err != nil {
		return nil, &clientProblem{err.Error()}
	}
	md, err := s.cfg.MetadataFetcher.Fetch(ctx, id)
	if err != nil {
		s.log.WarnContext(ctx, "client metadata document could not be fetched", "client_id", id, "err", err)
		return nil, &clientProblem{"the client's metadata document could not be fetched"}
	}
	c, err := clientFromDocument(id, md)
	if err != nil {
		s.log.WarnContext(ctx, "client metadata document refused", "client_id", id, "err", err)
		return nil, &clientProblem{"the client's metadata document is not acceptable: " + err.Error()}
	}
	return c, nil
}

// checkMetadataURL applies the rules for a client_id URL
// (draft-ietf-oauth-client-id-metadata-document §3): https, a host, a
// path, no user info, no fragment, no dot segments.
func checkMetadataURL(id string) error {
	u, err := url.Parse(id)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.Opaque != "" || webaddr.InvalidURIByte(id) >= 0 {
		return errors.New("the client_id URL is not a valid https URL")
	}
	if u.User != nil || u.Fragment != "" || strings.Contains(id, "#") {
		return errors.New("the client_id URL must not contain user information or a fragment")
	}
	if u.Path == "" || u.Path == "/" {
		return errors.New("the client_id URL must have a path")
	}
	for seg := range strings.SplitSeq(u.EscapedPath(), "/") {
		if seg == "." || seg == ".." || strings.EqualFold(seg, "%2e") || strings.EqualFold(seg, "%2e%2e") {
			return errors.New("the client_id URL must not contain dot segments")
		}
	}
	return nil
}

// clientFromDocument turns a fetched metadata document into a Client,
// checking it. Metadata documents are public and shared by every
// installation of a client, so there is no secret: the client must be
// public. Grant and response types the server does not support are
// ignored rather than refused: a document is written once for many
// servers, unlike a registration, which negotiates with this one.
func clientFromDocument(id string, md *oauth.ClientMetadata) (*oauth.Client, error) {
	if md == nil || md.ClientID != id {
		return nil, errors.New("its client_id does not equal the URL it was fetched from")
	}
	switch md.TokenEndpointAuthMethod {
	case "", oauth.AuthNone:
	default:
		return nil, fmt.Errorf("token_endpoint_auth_method %q is not supported for metadata documents; use none", truncate(md.TokenEndpointAuthMethod, 40))
	}
	if err := checkRedirectURIs(md.RedirectURIs); err != nil {
		return nil, err
	}
	c := &oauth.Client{
		ID:            id,
		Kind:          oauth.KindMetadata,
		AuthMethod:    oauth.AuthNone,
		RedirectURIs:  slices.Clone(md.RedirectURIs),
		GrantTypes:    []string{oauth.GrantAuthorizationCode, oauth.GrantRefreshToken},
		ResponseTypes: []string{oauth.ResponseTypeCode},
	}
	if md.GrantTypes != nil {
		c.GrantTypes = nil
		for _, g := range []string{oauth.GrantAuthorizationCode, oauth.GrantRefreshToken} {
			if slices.Contains(md.GrantTypes, g) {
				c.GrantTypes = append(c.GrantTypes, g)
			}
		}
	}
	if md.ResponseTypes != nil && !slices.Contains(md.ResponseTypes, oauth.ResponseTypeCode) {
		c.ResponseTypes = nil
	}
	if md.Scope != "" {
		for v := range strings.SplitSeq(md.Scope, " ") {
			if sc, err := parseScope(v); err == nil {
				c.Scopes = union(c.Scopes, sc)
			}
		}
		if len(c.Scopes) == 0 {
			return nil, errors.New("its scope names no scope this server supports")
		}
	}
	u, _ := url.Parse(id)
	c.Name = u.Host
	if name, err := checkClientName(md.ClientName); err == nil && name != "" {
		c.Name = name
	}
	if checkOptionalURI(md.ClientURI) == nil {
		c.ClientURI = md.ClientURI
	}
	if checkOptionalURI(md.LogoURI) == nil {
		c.LogoURI = md.LogoURI
	}
	return c, nil
}

// checkRedirectURIs checks a client's redirect URI list.
func checkRedirectURIs(uris []string) error {
	switch {
	case len(uris) == 0:
		return errors.New("redirect_uris must list at least one URI")
	case len(uris) > MaxRedirectURIs:
		return fmt.Errorf("redirect_uris may list at most %d URIs", MaxRedirectURIs)
	}
	for _, u := range uris {
		if err := validateRedirectURI(u); err != nil {
			return err
		}
	}
	return nil
}

// checkClientName trims a client name and checks it: it is shown on the
// consent page and printed by the CLI, so control and formatting
// characters (which could reorder or hide text) are refused.
func checkClientName(name string) (string, error) {
	name = strings.TrimSpace(name)
	switch {
	case !utf8.ValidString(name):
		return "", errors.New("client_name is not valid UTF-8")
	case utf8.RuneCountInString(name) > MaxClientNameLen:
		return "", fmt.Errorf("client_name is longer than %d characters", MaxClientNameLen)
	case strings.ContainsFunc(name, func(r rune) bool { return unicode.IsControl(r) || unicode.Is(unicode.Cf, r) }):
		return "", errors.New("client_name contains control or formatting characters")
	}
	return name, nil
}

// checkOptionalURI checks client_uri and logo_uri: empty, or https.
func checkOptionalURI(s string) error {
	if s == "" {
		return nil
	}
	u, err := url.Parse(s)
	if err != nil || len(s) > maxURILen || u.Scheme != "https" || u.Host == "" || u.User != nil || webaddr.InvalidURIByte(s) >= 0 {
		return errors.New("must be an https URL")
	}
	return nil
}

// clientCredentials is how a request identified its client.
type clientCredentials struct {
	id     string
	secret string
	basic  bool // sent with HTTP Basic
	post   bool // client_secret in the body
}

// readClientCredentials reads HTTP Basic (RFC 6749 §2.3.1: both parts
// form-encoded) and the client_id / client_secret body parameters.
func readClientCredentials(r *http.Request, form url.Values) (clientCredentials, *oauthError) {
	var cc clientCredentials
	if auth := r.Header.Values("Authorization"); len(auth) > 0 {
		scheme, rest, _ := strings.Cut(auth[0], " ")
		if len(auth) == 1 && strings.EqualFold(scheme, "Basic") {
			cc.basic = true
			raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(rest))
			id, secret, ok := strings.Cut(string(raw), ":")
			if ok {
				id, err = url.QueryUnescape(id)
				if err == nil {
					secret, err = url.QueryUnescape(secret)
				}
			}
			if err != nil || !ok {
				return cc, &oauthError{status: http.StatusUnauthorized, code: errInvalidClient, description: "the Authorization: Basic header is malformed", basic: true}
			}
			cc.id, cc.secret = id, secret
		}
	}
	bodyID, bodySecret := form.Get("client_id"), form.Get("client_secret")
	if cc.basic {
		if bodySecret != "" {
			return cc, newError(http.StatusBadRequest, errInvalidRequest, "send the client secret once: in Authorization: Basic or in the body, not both")
		}
		if bodyID != "" && bodyID != cc.id {
			return cc, newError(http.StatusBadRequest, errInvalidRequest, "client_id in the body differs from the one in Authorization: Basic")
		}
		return cc, nil
	}
	cc.id = bodyID
	if _, ok := form["client_secret"]; ok {
		cc.post = true
		cc.secret = bodySecret
	}
	return cc, nil
}

// authenticate identifies and authenticates the client of a request
// to the token, revocation or introspection endpoint, using the method
// the client registered. A failure is a 401 invalid_client (with a Basic
// challenge when Basic was tried) and happens before anything else is
// looked at, so a client that tries Basic first and the body second (as
// the go-sdk does for public clients) has consumed nothing.
func (s *clientFinder) authenticate(r *http.Request, form url.Values) (*oauth.Client, *oauthError) {
	cc, oe := readClientCredentials(r, form)
	if oe != nil {
		s.fail(r, slog.LevelInfo, "bad_client_credentials", "client_id", truncate(cc.id, 200), "detail", oe.description)
		return nil, oe
	}
	deny := func(reason, desc string) (*oauth.Client, *oauthError) {
		s.fail(r, slog.LevelInfo, reason, "client_id", truncate(cc.id, 200))
		return nil, &oauthError{status: http.StatusUnauthorized, code: errInvalidClient, description: desc, basic: cc.basic}
	}
	if cc.id == "" {
		return deny("no_client", "client authentication is required: send client_id (and the secret, for a confidential client)")
	}
	c, err := s.find(r.Context(), cc.id)
	switch {
	case errors.Is(err, errUnknownClient):
		return deny("unknown_client", "the client is unknown")
	case err != nil:
		if cp, ok := errors.AsType[*clientProblem](err); ok {
			return deny("bad_client", cp.msg)
		}
		s.log.ErrorContext(r.Context(), "client lookup failed", "err", err, "client_id", truncate(cc.id, 200))
		return nil, newError(http.StatusServiceUnavailable, errTemporarilyUnavailable, "the client could not be looked up; try again")
	}
	switch c.AuthMethod {
	case oauth.AuthNone:
		if cc.basic || cc.post {
			return deny("public_client_secret", "this is a public client: send client_id in the body, without a secret or HTTP Basic")
		}
	case oauth.AuthSecretBasic:
		if !cc.basic {
			return deny("wrong_auth_method", "this client authenticates with HTTP Basic (client_secret_basic)")
		}
		if !c.SecretMatches(cc.secret) {
			return deny("wrong_secret", "client authentication failed")
		}
	case oauth.AuthSecretPost:
		if !cc.post {
			return deny("wrong_auth_method", "this client authenticates with client_secret in the body (client_secret_post)")
		}
		if !c.SecretMatches(cc.secret) {
			return deny("wrong_secret", "client authentication failed")
		}
	default:
		return deny("bad_client", "the client's authentication method is not supported")
	}
	return c, nil
}
