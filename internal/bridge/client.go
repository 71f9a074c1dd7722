// Package bridge is the client side of mcp-2coffee: the library behind
// `mcp-2coffee connect` (a stdio ↔ remote MCP relay), `login`, `logout` and
// `auth status`, and the transport of `call` (package mcpcall).
//
// One Client serves them all: it holds the server URL, the --header values
// and the OAuth client (package oauthclient, with its token cache in package
// tokencache), and builds the *http.Client every remote request goes
// through. connect and call differ only in what speaks MCP over that client:
// a message-level relay (Client.Relay) or a go-sdk mcp.ClientSession
// (Client.Dial, which mcpcall uses).
package bridge

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/2coffee/mcp-2coffee/internal/oauthclient"
	"github.com/2coffee/mcp-2coffee/internal/tokencache"
)

// Options configures a Client.
type Options struct {
	// ServerURL is the remote MCP endpoint, e.g. https://blog.example.com/mcp.
	ServerURL string

	// Headers are "Name: value" lines (--header, repeatable) with ${VAR}
	// expansion; HeaderFile names a file of more such lines
	// (--header-file). Among them, at most one may be a credential (see
	// CredentialHeaders); a configured credential turns OAuth off unless
	// OAuthStepUp is set.
	Headers    []string
	HeaderFile string
	// CredentialHeaders names headers that carry a credential, besides
	// Authorization and X-API-KEY, which always do (--credential-header).
	// A configured credential is what the server authenticates the user
	// by: when the server refuses it (401) or asks for more than it
	// grants (403 insufficient_scope), the request fails with an error
	// that says so, instead of a browser sign-in.
	CredentialHeaders []string
	// OAuthStepUp lets a configured credential give way to OAuth: when the
	// server refuses it or asks for more scope, the user signs in, and
	// from then on (while a token is cached) requests carry the token
	// instead of the configured credential (--oauth-step-up).
	OAuthStepUp bool
	// LookupEnv resolves ${VAR}. Default os.LookupEnv.
	LookupEnv LookupEnv

	// OAuth configures the sign-in (client identity, callback port,
	// browser, timeout). Its Store and Logger are filled in from ConfigDir
	// and Logger when nil.
	OAuth oauthclient.Options
	// DisableOAuth sends requests without tokens and never signs in.
	DisableOAuth bool
	// ConfigDir holds the token cache; default tokencache.DefaultDir
	// ($MCP_2COFFEE_CONFIG_DIR or os.UserConfigDir()/mcp-2coffee).
	ConfigDir string

	// Transport is the base HTTP transport; default
	// http.DefaultTransport.
	Transport http.RoundTripper
	// Logger receives diagnostics (never secrets); default discards.
	Logger *slog.Logger
	// Stderr receives user-facing messages; default os.Stderr.
	Stderr io.Writer
}

// Client talks to one remote MCP server.
type Client struct {
	url  string
	http *http.Client
	// auth runs login and logout; it signs requests only when OAuth is
	// on (authTransport.oauth).
	auth   *oauthclient.Client
	store  *tokencache.Store
	log    *slog.Logger
	stderr io.Writer
}

// New validates opts and returns a Client.
func New(opts Options) (*Client, error) {
	canon, err := tokencache.CanonicalURL(opts.ServerURL)
	if err != nil {
		return nil, err
	}
	lines := append([]string(nil), opts.Headers...)
	if opts.HeaderFile != "" {
		more, err := ReadHeaderFile(opts.HeaderFile)
		if err != nil {
			return nil, err
		}
		lines = append(lines, more...)
	}
	header, err := ParseHeaders(lines, opts.LookupEnv)
	if err != nil {
		return nil, err
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	stderr := opts.Stderr
	if stderr == nil {
		stderr = os.Stderr
	}
	base := opts.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	c := &Client{url: canon, log: log, stderr: stderr}

	credential, err := credentialHeader(header, opts.CredentialHeaders)
	if err != nil {
		return nil, err
	}
	needOAuth := !opts.DisableOAuth && (credential == "" || opts.OAuthStepUp)
	oo := opts.OAuth
	if oo.Store == nil {
		store, err := tokencache.Open(opts.ConfigDir)
		switch {
		case err == nil:
			oo.Store = store
		case needOAuth:
			return nil, err
		default:
			// Without OAuth the cache is only needed by login and logout,
			// which then report the missing directory.
			log.Debug("no token cache", "error", err)
		}
	}
	c.store = oo.Store
	if oo.Logger == nil {
		oo.Logger = log
	}
	if oo.Stderr == nil {
		oo.Stderr = stderr
	}
	if oo.HTTPClient == nil && opts.Transport != nil {
		oo.HTTPClient = &http.Client{Transport: opts.Transport}
	}
	oc, err := oauthclient.New(oo)
	if err != nil {
		return nil, err
	}
	c.auth = oc
	cu, err := url.Parse(canon)
	if err != nil {
		return nil, err
	}
	at := &authTransport{base: base, header: header, credential: credential, oauthOff: opts.DisableOAuth, serverURL: canon, server: cu}
	if needOAuth {
		at.oauth = oc
	} else if !opts.DisableOAuth {
		log.Debug("a credential header is configured; OAuth is off (--oauth-step-up turns it on)", "header", credential)
	}
	c.http = &http.Client{Transport: recordingTransport{base: at}, CheckRedirect: sameOriginRedirects()}
	return c, nil
}

// URL returns the canonical server URL.
func (c *Client) URL() string { return c.url }

// HTTPClient returns the client that adds headers and tokens. It has no
// overall timeout: MCP streams stay open for as long as a session lasts.
func (c *Client) HTTPClient() *http.Client { return c.http }

// Login signs in to the server through the browser (mcp-2coffee login).
func (c *Client) Login(ctx context.Context) error {
	return c.auth.Login(ctx, c.url)
}

// Logout revokes and forgets the server's tokens (mcp-2coffee logout).
func (c *Client) Logout(ctx context.Context) error {
	return c.auth.Logout(ctx, c.url)
}

// Status describes what is cached for the server.
func (c *Client) Status() ([]oauthclient.Status, error) {
	if c.store == nil {
		return nil, errors.New("no token cache directory (set " + tokencache.EnvConfigDir + ")")
	}
	return oauthclient.StatusOf(c.store, c.url)
}

// Status lists what is cached in configDir ("" for the default) for
// serverURL, or for every server when serverURL is "" (mcp-2coffee auth
// status). It never returns secrets.
func Status(configDir, serverURL string) ([]oauthclient.Status, error) {
	store, err := tokencache.Open(configDir)
	if err != nil {
		return nil, err
	}
	return oauthclient.StatusOf(store, serverURL)
}

// Dial connects an MCP client session to the server: Streamable HTTP, or
// the legacy HTTP+SSE transport when the server answers the Streamable HTTP
// handshake with a 4xx (the 2025-03-26 backwards-compatibility rule).
func (c *Client) Dial(ctx context.Context, client *mcp.Client) (*mcp.ClientSession, error) {
	a := &attempt{}
	st := &mcp.StreamableClientTransport{Endpoint: c.url, HTTPClient: c.http}
	cs, err := client.Connect(withAttempt(ctx, a), st, nil)
	if err == nil {
		return cs, nil
	}
	_, status, _, _ := a.snapshot()
	if !fallbackStatus(status) || ctx.Err() != nil {
		return nil, err
	}
	c.log.Debug("Streamable HTTP handshake refused; trying the HTTP+SSE transport", "status", status)
	cs, sseErr := client.Connect(ctx, &mcp.SSEClientTransport{Endpoint: c.url, HTTPClient: c.http}, nil)
	if sseErr != nil {
		return nil, errors.Join(err, fmt.Errorf("legacy HTTP+SSE transport: %w", sseErr))
	}
	return cs, nil
}

// fallbackStatus reports a status that, answering a Streamable HTTP
// initialize, means "try the HTTP+SSE transport": any 4xx but the
// authorization ones, which the OAuth flow already handled.
func fallbackStatus(status int) bool {
	return status >= 400 && status < 500 && status != http.StatusUnauthorized && status != http.StatusForbidden
}
