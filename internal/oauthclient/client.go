// Package oauthclient is the client side of the MCP authorization flow
// (MCP 2025-11-25 and 2026-07-28 "Authorization"): what mcp-2coffee does
// when a remote MCP server answers 401 or 403.
//
// It discovers the protected resource metadata (RFC 9728: the
// WWW-Authenticate resource_metadata URL, then the path-inserted well-known
// URL, then the root one), then the authorization server metadata (RFC 8414
// and OpenID discovery, in the order the MCP specification gives), and
// refuses a resource that names another server, an issuer that does not
// match, or a server without PKCE S256. It identifies itself with a
// pre-registered client when given one, else with a Client ID Metadata
// Document URL when the server supports them, else by dynamic client
// registration (RFC 7591) as a native public client; a registered client is
// cached and reused. The browser step uses PKCE S256, state, the RFC 8707
// resource on both the authorization and the token request, a loopback
// redirect on 127.0.0.1 (RFC 8252), and checks iss (RFC 9207). Tokens are
// refreshed before they expire and when the server rejects them; a 403
// insufficient_scope leads to a step-up authorization with the union of the
// granted and the requested scopes.
//
// # Why not the go-sdk's auth.AuthorizationCodeHandler
//
// go-sdk v1.8.0 ships a client handler that does most of the above. We use
// its parsers and metadata types (package oauthex) but not the handler:
// it does not expose the client it registers, so a registration cannot be
// persisted and reused across runs; its discovery client refuses private
// and loopback addresses unless handed a custom transport; it keeps tokens
// in memory only; it rejects an iss the server did not advertise even when
// it matches; it cannot send resource on refresh requests (it refreshes
// through golang.org/x/oauth2, which also probes HTTP Basic with an empty
// secret before the body for public clients); and it treats the 2025-03-26
// issuer rules as strictly as the current ones. Owning the flow, about as
// long as the configuration the handler needs, lets the bridge pass the
// official conformance suite with no warnings and keep its state in
// package tokencache.
package oauthclient

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/2coffee/mcp-2coffee/internal/tokencache"
	"github.com/modelcontextprotocol/go-sdk/oauthex"
)

// MaxAuthorizations bounds how many times one request may trigger an
// authorization (a refresh, a sign-in or a step-up) before its failure is
// returned: a server that keeps refusing must not loop the user through the
// browser forever.
const MaxAuthorizations = 3

// refreshMargin is how long before its expiry a token is refreshed, so that
// it does not expire in flight.
const refreshMargin = time.Minute

// The grants a Client can obtain tokens with (Options.Grant).
const (
	GrantAuthorizationCode = "authorization_code"
	GrantClientCredentials = "client_credentials"
	// GrantJWTBearer is enterprise-managed authorization: the user's ID
	// token from the enterprise identity provider is exchanged there for
	// an ID-JAG (RFC 8693), which the client presents to the server's
	// authorization server (RFC 7523 jwt-bearer) for a token of that user.
	GrantJWTBearer = "jwt-bearer"
)

// Enterprise is the identity provider of enterprise-managed authorization
// (Options.Enterprise, with GrantJWTBearer).
type Enterprise struct {
	// Issuer is the provider's issuer; its token endpoint is found from
	// its metadata (RFC 8414 or OpenID Connect).
	Issuer string
	// ClientID and ClientSecret are this client's registration at the
	// provider (the one the ID token was issued to); the secret is
	// optional for a provider that takes a public client.
	ClientID, ClientSecret string
	// IDToken returns the user's ID token from their sign-in at the
	// provider. It is called each time an ID-JAG is needed, so a token
	// renewed meanwhile (a file another program rewrites) is picked up.
	IDToken func() (string, error)
}

// Kinds of client identity (tokencache.Client.Kind).
const (
	kindDynamic          = "dynamic"
	kindMetadataDocument = "metadata-document"
	kindPreregistered    = "preregistered"
)

// ErrNoAuthRequired is returned by Login when the server accepted an
// unauthenticated request and publishes no protected resource metadata.
var ErrNoAuthRequired = errors.New("the server did not ask for authorization")

// ErrNotSignedIn is returned by Logout when nothing is cached for a server.
var ErrNotSignedIn = errors.New("not signed in to this server")

// Options configures a Client. The zero value works: dynamic registration,
// a free callback port, the system browser, the default cache directory.
type Options struct {
	// ClientID and ClientSecret select a pre-registered client. The secret
	// is optional (a public client).
	ClientID     string
	ClientSecret string
	// ClientKey, with ClientID, authenticates the client with private_key_jwt
	// (RFC 7523) instead of a secret; only with a machine grant
	// (GrantClientCredentials, GrantJWTBearer).
	ClientKey *ClientKey
	// Enterprise is where GrantJWTBearer gets its ID-JAGs.
	Enterprise *Enterprise
	// Grant is how tokens are obtained: GrantAuthorizationCode (the
	// default: a person signs in through the browser) or
	// GrantClientCredentials (a machine client: ClientID and ClientSecret
	// get a token for the client itself, and no browser is ever opened).
	// A machine client's tokens are kept in memory only, whatever Store
	// says: it asks for one again at each start, which costs one request,
	// and a person's sign-in cached for the same server is left alone.
	Grant string
	// ClientMetadataURL is an HTTPS URL serving this client's Client ID
	// Metadata Document; used when the server advertises
	// client_id_metadata_document_supported and no ClientID is given.
	ClientMetadataURL string
	// ClientName is sent in dynamic registrations. Default "mcp-2coffee".
	ClientName string

	// CallbackPort is the loopback port for the redirect URI. Zero picks the
	// port of a cached registration when free, else any free port.
	CallbackPort int
	// Timeout bounds the browser step. Default 5 minutes.
	Timeout time.Duration
	// OpenBrowser shows the authorization URL. Default SystemBrowser.
	OpenBrowser BrowserOpener
	// Stderr receives the messages for the user (the URL to open). Default
	// os.Stderr.
	Stderr io.Writer

	// HTTPClient performs discovery, registration and token requests.
	// Default: a client with a 30 s timeout. Either way the Client works
	// on a copy that follows only same-origin redirects of metadata GETs
	// (see redirectPolicy). It never carries the bridge's custom headers.
	HTTPClient *http.Client
	// Store persists clients and tokens. Nil keeps them in memory only.
	// Refreshes take the Store's per-server lock (tokencache.Store.Lock),
	// so processes sharing its directory refresh one at a time.
	Store *tokencache.Store
	// LockWait bounds how long a refresh waits for another process's.
	// Default tokencache.DefaultLockWait.
	LockWait time.Duration
	// Logger receives diagnostics; never secrets. Default: discard.
	Logger *slog.Logger
	// Now is the clock (tests). Default time.Now.
	Now func() time.Time
}

// Client runs the authorization flow for any number of MCP servers and
// holds their tokens. It is safe for concurrent use; for one server, only
// one refresh or sign-in runs at a time and the others wait for its result.
type Client struct {
	opts Options
	http *http.Client
	log  *slog.Logger

	mu      sync.Mutex
	servers map[string]*serverState

	// idp is the enterprise identity provider's metadata, discovered at
	// the first token exchange and kept (GrantJWTBearer).
	idpMu sync.Mutex
	idp   *oauthex.AuthServerMeta
}

// New returns a Client.
func New(opts Options) (*Client, error) {
	if opts.ClientSecret != "" && opts.ClientID == "" {
		return nil, errors.New("a client secret needs a client ID")
	}
	switch opts.Grant {
	case "", GrantAuthorizationCode:
		opts.Grant = GrantAuthorizationCode
	case GrantClientCredentials, GrantJWTBearer:
		if opts.ClientID == "" || (opts.ClientSecret == "") == (opts.ClientKey == nil) {
			return nil, fmt.Errorf("the %s grant needs the client ID of a client registered for it, and its secret or its private key (one of the two)", opts.Grant)
		}
		if e := opts.Enterprise; opts.Grant == GrantJWTBearer && (e == nil || e.Issuer == "" || e.ClientID == "" || e.IDToken == nil) {
			return nil, errors.New("the jwt-bearer grant needs the enterprise identity provider's issuer, this client's id there and the user's ID token")
		}
		opts.Store = nil
	default:
		return nil, fmt.Errorf("grant %q: want %s, %s or %s", opts.Grant, GrantAuthorizationCode, GrantClientCredentials, GrantJWTBearer)
	}
	if opts.Enterprise != nil && opts.Grant != GrantJWTBearer {
		return nil, errors.New("an enterprise identity provider is used with the jwt-bearer grant only")
	}
	if opts.ClientKey != nil && opts.Grant == GrantAuthorizationCode {
		return nil, errors.New("a client key (private_key_jwt) is supported with the client_credentials and jwt-bearer grants only")
	}
	if opts.ClientMetadataURL != "" {
		u, err := url.Parse(opts.ClientMetadataURL)
		if err != nil || u.Scheme != "https" || u.Host == "" || strings.Trim(u.Path, "/") == "" {
			return nil, fmt.Errorf("client metadata URL %q must be an https URL with a path", opts.ClientMetadataURL)
		}
	}
	if opts.CallbackPort < 0 || opts.CallbackPort > 65535 {
		return nil, fmt.Errorf("invalid callback port %d", opts.CallbackPort)
	}
	if opts.ClientName == "" {
		opts.ClientName = "mcp-2coffee"
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 5 * time.Minute
	}
	if opts.Stderr == nil {
		opts.Stderr = os.Stderr
	}
	if opts.OpenBrowser == nil {
		opts.OpenBrowser = SystemBrowser(opts.Stderr)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var hc *http.Client
	if opts.HTTPClient != nil {
		c := *opts.HTTPClient // a copy: the caller's client keeps its own policy
		hc = &c
	} else {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	hc.CheckRedirect = redirectPolicy(hc.CheckRedirect)
	return &Client{opts: opts, http: hc, log: log, servers: make(map[string]*serverState)}, nil
}

func (c *Client) now() time.Time { return c.opts.Now() }
