package cimd

import (
	"bytes"
	"encoding/json"
	"net/url"
	"slices"
	"strings"
)

// Document is a client metadata document: the RFC 7591 §2 client metadata
// a client publishes at its client_id URL (draft §4.1). Fetch returns it
// validated, with RFC 7591 defaults filled in; other members of the
// document are ignored.
type Document struct {
	// ClientID equals, byte for byte, the URL the document came from.
	ClientID string `json:"client_id"`
	// ClientName is what the consent page shows; MCP requires it.
	ClientName string `json:"client_name"`
	ClientURI  string `json:"client_uri,omitempty"`
	LogoURI    string `json:"logo_uri,omitempty"`
	// RedirectURIs are the registered redirect URIs (draft §4.5); an
	// authorization request's redirect_uri must equal one of them.
	RedirectURIs []string `json:"redirect_uris"`
	// GrantTypes defaults to ["authorization_code"] (RFC 7591 §2).
	GrantTypes []string `json:"grant_types"`
	// ResponseTypes defaults to ["code"] (RFC 7591 §2).
	ResponseTypes []string `json:"response_types"`
	// TokenEndpointAuthMethod is "none" or "private_key_jwt". It defaults to
	// "none": RFC 7591's default, client_secret_basic, needs a shared
	// secret, which a published document cannot have (draft §4.1).
	TokenEndpointAuthMethod string `json:"token_endpoint_auth_method"`
	// Scope is space-separated.
	Scope     string   `json:"scope,omitempty"`
	Contacts  []string `json:"contacts,omitempty"`
	TOSURI    string   `json:"tos_uri,omitempty"`
	PolicyURI string   `json:"policy_uri,omitempty"`
	// JWKSURI or JWKS (never both) carries the client's public keys for
	// private_key_jwt (draft §6.2).
	JWKSURI         string          `json:"jwks_uri,omitempty"`
	JWKS            json.RawMessage `json:"jwks,omitempty"`
	SoftwareID      string          `json:"software_id,omitempty"`
	SoftwareVersion string          `json:"software_version,omitempty"`
}

// Auth methods a client metadata document may use.
const (
	AuthNone          = "none"
	AuthPrivateKeyJWT = "private_key_jwt"
)

// sharedSecretMethods are the registered token endpoint auth methods built
// on a shared secret, which draft §4.1 forbids. Named so the message can
// say why the document is refused; any other method we do not support is
// refused too.
var sharedSecretMethods = []string{"client_secret_basic", "client_secret_post", "client_secret_jwt"}

// clone returns a deep copy, so callers can never change a cached document.
func (d *Document) clone() *Document {
	c := *d
	c.RedirectURIs = slices.Clone(d.RedirectURIs)
	c.GrantTypes = slices.Clone(d.GrantTypes)
	c.ResponseTypes = slices.Clone(d.ResponseTypes)
	c.Contacts = slices.Clone(d.Contacts)
	c.JWKS = bytes.Clone(d.JWKS)
	return &c
}

// parseDocument decodes and validates body as the document for clientID.
//
// Members are read by their exact names from a map rather than by
// json.Unmarshal into the struct, whose case-insensitive matching would
// accept "Redirect_URIs" as redirect_uris — a document that other parsers
// would read differently.
func parseDocument(body []byte, clientID string) (*Document, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil || m == nil {
		return nil, refuse(ErrMalformed, nil, "the client metadata document is not a valid JSON object")
	}
	invalid := func(format string, args ...any) (*Document, error) {
		return nil, refuse(ErrInvalidMetadata, nil, "the client metadata document "+format, args...)
	}
	// Draft §4.1: no shared secret can be established for a published
	// document, so these members MUST NOT be used.
	for _, k := range []string{"client_secret", "client_secret_expires_at"} {
		if _, ok := m[k]; ok {
			return invalid("must not contain %s", k)
		}
	}

	var d Document
	for _, f := range []struct {
		name string
		dst  any
	}{
		{"client_id", &d.ClientID},
		{"client_name", &d.ClientName},
		{"client_uri", &d.ClientURI},
		{"logo_uri", &d.LogoURI},
		{"redirect_uris", &d.RedirectURIs},
		{"grant_types", &d.GrantTypes},
		{"response_types", &d.ResponseTypes},
		{"token_endpoint_auth_method", &d.TokenEndpointAuthMethod},
		{"scope", &d.Scope},
		{"contacts", &d.Contacts},
		{"tos_uri", &d.TOSURI},
		{"policy_uri", &d.PolicyURI},
		{"jwks_uri", &d.JWKSURI},
		{"software_id", &d.SoftwareID},
		{"software_version", &d.SoftwareVersion},
	} {
		raw, ok := m[f.name]
		if !ok || string(raw) == "null" {
			continue
		}
		if err := json.Unmarshal(raw, f.dst); err != nil {
			return invalid("has a %s of the wrong type", f.name)
		}
	}
	if raw, ok := m["jwks"]; ok && string(raw) != "null" {
		if raw[0] != '{' {
			return invalid("has a jwks that is not a JSON object")
		}
		d.JWKS = bytes.Clone(raw)
	}

	// Draft §4.1: the document's client_id MUST match its URL by simple
	// string comparison (RFC 3986 §6.2.1), with no normalisation.
	if d.ClientID == "" {
		return nil, refuse(ErrClientIDMismatch, nil, "the client metadata document has no client_id")
	}
	if d.ClientID != clientID {
		return nil, refuse(ErrClientIDMismatch, nil, "the client metadata document's client_id does not match the URL")
	}
	// MCP (2025-11-25 and 2026-07-28, client registration): the document
	// MUST include client_id, client_name and redirect_uris, and the
	// authorization server MUST check the required fields.
	if strings.TrimSpace(d.ClientName) == "" {
		return invalid("has no client_name")
	}
	if len(d.RedirectURIs) == 0 {
		return invalid("has no redirect_uris")
	}
	for _, r := range d.RedirectURIs {
		if msg := checkRedirectURI(r); msg != "" {
			return invalid("has a redirect URI that %s", msg)
		}
	}

	switch d.TokenEndpointAuthMethod {
	case "":
		d.TokenEndpointAuthMethod = AuthNone
	case AuthNone, AuthPrivateKeyJWT:
	default:
		if slices.Contains(sharedSecretMethods, d.TokenEndpointAuthMethod) {
			return invalid("uses a shared-secret token_endpoint_auth_method; only none and private_key_jwt are possible")
		}
		return invalid("uses an unsupported token_endpoint_auth_method; only none and private_key_jwt are supported")
	}
	// RFC 7591 §2: jwks_uri and jwks MUST NOT both be present.
	if d.JWKSURI != "" && d.JWKS != nil {
		return invalid("has both jwks and jwks_uri")
	}
	if d.TokenEndpointAuthMethod == AuthPrivateKeyJWT && d.JWKSURI == "" && d.JWKS == nil {
		return invalid("uses private_key_jwt without jwks or jwks_uri")
	}
	// These URLs end up as links and images on the consent page, or are
	// fetched for keys; anything but an absolute https URL (javascript:,
	// data:, plain http) has no business there.
	for _, f := range []struct{ name, value string }{
		{"client_uri", d.ClientURI},
		{"logo_uri", d.LogoURI},
		{"tos_uri", d.TOSURI},
		{"policy_uri", d.PolicyURI},
		{"jwks_uri", d.JWKSURI},
	} {
		if f.value != "" && !isHTTPSURL(f.value) {
			return invalid("has a %s that is not an https URL", f.name)
		}
	}

	if len(d.GrantTypes) == 0 {
		d.GrantTypes = []string{"authorization_code"}
	}
	if len(d.ResponseTypes) == 0 {
		d.ResponseTypes = []string{"code"}
	}
	return &d, nil
}

// checkRedirectURI returns why r cannot be a redirect URI, or "". Only the
// syntax is checked: RFC 6749 §3.1.2 wants an absolute URI without a
// fragment, and script-bearing schemes are refused outright. Which schemes
// and hosts are acceptable (https, loopback http, custom schemes per
// RFC 8252) is the authorization server's policy, the same as for DCR.
func checkRedirectURI(r string) string {
	u, err := url.Parse(r)
	switch {
	case err != nil || u.Scheme == "":
		return "is not an absolute URI"
	case strings.Contains(r, "#"):
		return "has a fragment"
	case u.Scheme == "javascript" || u.Scheme == "data" || u.Scheme == "vbscript" || u.Scheme == "file":
		return "uses a forbidden scheme"
	}
	return ""
}

func isHTTPSURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && u.Scheme == "https" && u.Host != "" && u.User == nil
}
