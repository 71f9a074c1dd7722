// Package remote implements blog.Articles over the REST content API of
// another mcp-2coffee (internal/restapi, docs/openapi.yaml). It is what
// `mcp-2coffee stdio --api-url URL` serves: the MCP tools run locally, the
// blog and its rules live on the server.
//
// The API key is sent in the X-API-KEY header of every request, to the
// configured origin only: never in a URL, never across a redirect to
// another origin. Answers are mapped back to the blog package's sentinel
// errors, so the edges treat a remote blog exactly like a local one.
package remote

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/2coffee/mcp-2coffee/internal/errdefs"
	"github.com/2coffee/mcp-2coffee/internal/webaddr"
)

// Defaults used when Options leaves a field zero.
const (
	// DefaultTimeout bounds one whole request, answer included. Every
	// call is a single small exchange; a blog that takes longer is as
	// good as down for an AI client waiting on a tool call.
	DefaultTimeout = 15 * time.Second
	// DefaultMaxResponseBytes bounds an answer. One article holds at most
	// 1 MiB of Markdown, which JSON escaping can grow; only answers
	// holding one whole article (Get, Create, Update) come near the
	// bound, as listings and searches carry no bodies.
	DefaultMaxResponseBytes = 4 << 20
	// DefaultUserAgent identifies the client in the server's logs.
	DefaultUserAgent = "mcp-2coffee-remote"
)

// apiPrefix is where the REST API lives under the base URL. It matches
// restapi.Prefix; the client does not import the server to say so.
const apiPrefix = "/api/v1"

// ErrUnauthorized means the server did not accept the API key: it is
// missing, mistyped, revoked or expired. Retrying will not help. It
// matches errdefs.ErrUnauthenticated, so the MCP tools show its message.
var ErrUnauthorized = fmt.Errorf("the blog API refused the key (401): check X-API-KEY: %w", errdefs.ErrUnauthenticated)

// Options configure a Client. The zero value is usable.
type Options struct {
	// HTTPClient sends the requests. Nil means a client with
	// DefaultTimeout. The Client works on a copy whose redirect policy
	// refuses to leave the base URL's origin (any CheckRedirect of the
	// given client still runs for redirects within it).
	HTTPClient *http.Client
	// UserAgent is sent with every request; empty means DefaultUserAgent.
	UserAgent string
	// MaxResponseBytes bounds an answer's body; zero or less means
	// DefaultMaxResponseBytes.
	MaxResponseBytes int64
}

// Client is a blog.Articles backed by a remote blog's REST API. It is safe
// for concurrent use.
type Client struct {
	base    string // scheme://host[:port][/path], no trailing slash
	key     string
	hc      *http.Client
	ua      string
	maxResp int64
}

// New returns a Client for the blog at baseURL (such as
// "https://blog.example.com"; a trailing "/api/v1" is accepted and
// dropped), authenticating with apiKey. baseURL must be http or https,
// without user info, query or fragment: credentials belong in the key, and
// a query would be lost on every call.
func New(baseURL string, apiKey string, opts Options) (*Client, error) {
	base, err := parseBase(baseURL)
	if err != nil {
		return nil, err
	}
	apiKey = strings.TrimSpace(apiKey)
	if apiKey == "" {
		return nil, errors.New("remote: no API key: the blog API needs one (set X-API-KEY)")
	}
	for _, r := range apiKey {
		// A control character would corrupt the header; say so here
		// rather than through an obscure transport error on every call.
		if r < 0x20 || r == 0x7f {
			return nil, errors.New("remote: the API key contains a control character")
		}
	}

	c := &Client{
		base:    base.String(),
		key:     apiKey,
		ua:      opts.UserAgent,
		maxResp: opts.MaxResponseBytes,
	}
	if c.ua == "" {
		c.ua = DefaultUserAgent
	}
	if c.maxResp <= 0 {
		c.maxResp = DefaultMaxResponseBytes
	}
	if opts.HTTPClient != nil {
		hc := *opts.HTTPClient // a copy: the caller's client keeps its own policy
		c.hc = &hc
	} else {
		c.hc = &http.Client{Timeout: DefaultTimeout}
	}
	// net/http copies X-API-KEY to wherever a redirect points, so a
	// redirect may only stay within the origin; transportError explains
	// a refused one.
	c.hc.CheckRedirect = webaddr.SameOriginRedirects(c.hc.CheckRedirect)
	return c, nil
}

// BaseURL returns the blog's address as the Client uses it.
func (c *Client) BaseURL() string { return c.base }

func parseBase(s string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil {
		return nil, fmt.Errorf("remote: the API URL is not a URL: %w", err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("remote: the API URL %q must start with https:// or http://", s)
	case u.Opaque != "" || u.Host == "" || u.Hostname() == "":
		return nil, fmt.Errorf("remote: the API URL %q has no host", s)
	case u.User != nil:
		return nil, errors.New("remote: the API URL must not hold a user name or password; the API key authenticates")
	case u.RawQuery != "" || u.ForceQuery:
		return nil, fmt.Errorf("remote: the API URL %q must not have a query", u.Redacted())
	case u.Fragment != "" || u.RawFragment != "":
		return nil, fmt.Errorf("remote: the API URL %q must not have a fragment", u.Redacted())
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("remote: the API URL %q has a bad port", s)
		}
	}
	u.Host = strings.ToLower(u.Host)
	// People paste the API's own address as often as the blog's.
	u.Path = strings.TrimSuffix(strings.TrimRight(u.Path, "/"), apiPrefix)
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	return u, nil
}
