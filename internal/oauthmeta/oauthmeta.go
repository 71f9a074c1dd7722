// Package oauthmeta holds the facts about OAuth authorization server
// metadata that both sides of the project use: where an issuer's metadata
// lives (RFC 8414, OpenID Connect Discovery), how an issuer is compared,
// which endpoint URLs are acceptable, how a bounded JSON document is
// fetched, and how a client secret goes into HTTP Basic. The MCP client
// (oauthclient) discovers the server it signs in at with it; the resource
// server (extauth) discovers the external authorization server it trusts.
package oauthmeta

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/oauthex"

	"github.com/2coffee/mcp-2coffee/internal/webaddr"
)

// MaxDocumentBytes bounds every metadata document and token or
// introspection response read: they are small, and a hostile server must
// not make us buffer much.
const MaxDocumentBytes = 1 << 20

// ErrNotFound means none of the places an issuer's metadata may live
// serves it.
var ErrNotFound = errors.New("no authorization server metadata")

// URLs lists where an issuer's metadata may live, in the order MCP
// 2025-11-25 gives: RFC 8414 path insertion, OIDC path insertion, OIDC path
// appending; or, without a path, RFC 8414 then OIDC.
func URLs(issuer string) ([]string, error) {
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

// Discover fetches an issuer's metadata from the first of URLs that serves
// it and returns it with the URL it came from. Unless skipIssuerCheck
// (the 2025-03-26 fallback of the MCP client), the document must name the
// issuer it was fetched for (RFC 8414 §3.3), or it is refused: a document
// that names another issuer could send tokens and secrets elsewhere. When
// no URL serves a document the error matches ErrNotFound.
func Discover(ctx context.Context, hc *http.Client, issuer string, skipIssuerCheck bool) (*oauthex.AuthServerMeta, string, error) {
	if err := CheckEndpoint("authorization server", issuer); err != nil {
		return nil, "", err
	}
	urls, err := URLs(issuer)
	if err != nil {
		return nil, "", fmt.Errorf("invalid authorization server %q: %w", issuer, err)
	}
	for _, mu := range urls {
		var m oauthex.AuthServerMeta
		found, err := GetJSON(ctx, hc, mu, &m)
		if err != nil {
			return nil, "", fmt.Errorf("authorization server metadata: %w", err)
		}
		if !found {
			continue
		}
		if !skipIssuerCheck && !IssuersEqual(m.Issuer, issuer) {
			return nil, "", fmt.Errorf("authorization server metadata at %s names issuer %q, want %q", mu, m.Issuer, issuer)
		}
		return &m, mu, nil
	}
	return nil, "", fmt.Errorf("%w for %s (tried %s)", ErrNotFound, issuer, strings.Join(urls, ", "))
}

// CheckEndpoint accepts https URLs, and http URLs to a loopback host:
// codes, secrets and tokens travel to an endpoint.
func CheckEndpoint(name, raw string) error {
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

// IssuersEqual compares issuer identifiers exactly, tolerating only a
// single trailing slash, which many deployments get wrong one way or the
// other without any security consequence.
func IssuersEqual(a, b string) bool {
	return strings.TrimSuffix(a, "/") == strings.TrimSuffix(b, "/")
}

// GetJSON fetches a JSON document of at most MaxDocumentBytes into v.
// found is false for a 4xx answer (the document is not there); any other
// status but 200, another content type, or a body that does not decode is
// an error.
func GetJSON(ctx context.Context, hc *http.Client, rawURL string, v any) (found bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return false, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	defer io.Copy(io.Discard, io.LimitReader(resp.Body, MaxDocumentBytes))
	if resp.StatusCode >= 400 && resp.StatusCode < 500 {
		return false, nil
	}
	if resp.StatusCode != http.StatusOK {
		return false, fmt.Errorf("GET %s: %s", rawURL, resp.Status)
	}
	if !IsJSON(resp.Header.Get("Content-Type")) {
		return false, fmt.Errorf("GET %s: content type %q, want application/json", rawURL, resp.Header.Get("Content-Type"))
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, MaxDocumentBytes)).Decode(v); err != nil {
		return false, fmt.Errorf("GET %s: %w", rawURL, err)
	}
	return true, nil
}

// IsJSON reports whether a Content-Type names JSON (application/json or a
// +json type such as application/jwk-set+json).
func IsJSON(contentType string) bool {
	mt, _, _ := mime.ParseMediaType(contentType)
	return mt == "application/json" || strings.HasSuffix(mt, "+json")
}

// SetClientSecretBasic authenticates a request to a token, introspection
// or revocation endpoint with client_secret_basic: RFC 6749 §2.3.1 has the
// identifier and secret form-encoded before they are joined and
// base64-encoded, which plain HTTP Basic does not do.
func SetClientSecretBasic(req *http.Request, clientID, secret string) {
	req.SetBasicAuth(url.QueryEscape(clientID), url.QueryEscape(secret))
}
