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
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/2coffee/mcp-2coffee/internal/tokencache"
	"github.com/2coffee/mcp-2coffee/internal/webaddr"
)

// MaxAuthorizations bounds how many times one request may trigger an
// authorization (a refresh, a sign-in or a step-up) before its failure is
// returned: a server that keeps refusing must not loop the user through the
// browser forever.
const MaxAuthorizations = 3

// refreshMargin is how long before its expiry a token is refreshed, so that
// it does not expire in flight.
const refreshMargin = time.Minute

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
	// Default: a client with a 30 s timeout that refuses https→http
	// redirects. It never carries the bridge's custom headers.
	HTTPClient *http.Client
	// Store persists clients and tokens. Nil keeps them in memory only.
	Store *tokencache.Store
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
}

// serverState is what a Client holds for one MCP server.
type serverState struct {
	mu     sync.Mutex // serialises refresh and authorization
	url    string     // canonical server URL
	loaded bool
	entry  *tokencache.Entry // nil: nothing known
	// scopeExplicit records whether the token response named the granted
	// scope (otherwise the requested one is assumed).
	scopeExplicit bool
	// refreshedToken is the access token obtained by the last refresh; a
	// 401 for it goes straight to a new sign-in.
	refreshedToken string
	// unaccepted counts the refreshes, sign-ins and step-ups since the
	// server last accepted a token: past MaxAuthorizations the client
	// stops trying, so a server that refuses every token cannot send the
	// user to the browser again and again, request after request. It is
	// atomic so that Accepted need not wait for a sign-in in progress.
	unaccepted atomic.Int32
}

// New returns a Client.
func New(opts Options) (*Client, error) {
	if opts.ClientSecret != "" && opts.ClientID == "" {
		return nil, errors.New("a client secret needs a client ID")
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

// redirectPolicy wraps next (nil: at most 10 redirects) so that only GETs
// of metadata documents follow redirects, and only within their origin
// (webaddr.SameOriginRedirects). Everything else this client sends
// carries secrets (codes, verifiers, refresh tokens, client credentials)
// or is meant for one server alone: net/http would re-post the form of a
// 307/308 to wherever it points and copy the headers, so such a redirect
// ends the request.
func redirectPolicy(next func(*http.Request, []*http.Request) error) func(*http.Request, []*http.Request) error {
	sameOrigin := webaddr.SameOriginRedirects(next)
	return func(req *http.Request, via []*http.Request) error {
		first := via[0]
		if first.Method != http.MethodGet && first.Method != http.MethodHead {
			return fmt.Errorf("refusing to follow a redirect of %s %s to %s: requests to the authorization server are not redirected", first.Method, first.URL.Redacted(), req.URL.Redacted())
		}
		return sameOrigin(req, via)
	}
}

// state returns the (lazily loaded) state for serverURL, locked. The caller
// unlocks st.mu.
func (c *Client) state(serverURL string) (*serverState, error) {
	canon, err := tokencache.CanonicalURL(serverURL)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	st, ok := c.servers[canon]
	if !ok {
		st = &serverState{url: canon}
		c.servers[canon] = st
	}
	c.mu.Unlock()
	st.mu.Lock()
	if !st.loaded {
		st.loaded = true
		if err := c.reload(st); err != nil {
			c.log.Warn("cannot read the token cache", "error", err)
		}
	}
	return st, nil
}

// reload replaces the in-memory entry with the stored one, if any.
func (c *Client) reload(st *serverState) error {
	if c.opts.Store == nil {
		return nil
	}
	e, err := c.opts.Store.Load(st.url)
	if errors.Is(err, tokencache.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	st.entry = e
	return nil
}

// save persists st.entry (a no-op without a Store). A failure is logged,
// not returned: the token still works for this process.
func (c *Client) save(st *serverState) {
	if c.opts.Store == nil || st.entry == nil {
		return
	}
	st.entry.ServerURL = st.url
	if err := c.opts.Store.Save(st.entry); err != nil {
		c.log.Warn("cannot write the token cache", "error", err)
	}
}

// AccessToken returns the access token to send to serverURL, refreshing it
// first when it is about to expire; "" when no usable token is known (the
// request then goes without one and the server's 401 starts a sign-in).
func (c *Client) AccessToken(ctx context.Context, serverURL string) (string, error) {
	st, err := c.state(serverURL)
	if err != nil {
		return "", err
	}
	defer st.mu.Unlock()
	tok := st.token()
	if tok == nil {
		return "", nil
	}
	if !c.expiresSoon(tok) {
		return tok.AccessToken, nil
	}
	// Another bridge may have refreshed it already (refresh tokens often
	// rotate: using ours again would fail).
	if err := c.reload(st); err != nil {
		c.log.Warn("cannot read the token cache", "error", err)
	}
	if tok = st.token(); tok == nil {
		return "", nil
	}
	if !c.expiresSoon(tok) {
		return tok.AccessToken, nil
	}
	if tok.RefreshToken != "" {
		if err := c.refresh(ctx, st); err == nil {
			return st.token().AccessToken, nil
		} else {
			c.log.Info("token refresh failed", "server", st.url, "error", err)
		}
	}
	if tok = st.token(); tok != nil && tok.Expiry.After(c.now()) {
		return tok.AccessToken, nil
	}
	return "", nil
}

func (st *serverState) token() *tokencache.Token {
	if st.entry == nil || st.entry.Token == nil || st.entry.Token.AccessToken == "" {
		return nil
	}
	return st.entry.Token
}

func (c *Client) expiresSoon(t *tokencache.Token) bool {
	return !t.Expiry.IsZero() && c.now().Add(refreshMargin).After(t.Expiry)
}

// Authorize reacts to a 401 or 403 answer from serverURL to a request that
// carried sentToken ("" for none). It refreshes the token, signs in through
// the browser, or steps up the scopes, and reports whether the request
// should be sent again. retry is false with a nil error when nothing can
// help (a 403 that is not insufficient_scope, or one for scopes the token
// already has): the caller then returns the server's answer.
func (c *Client) Authorize(ctx context.Context, serverURL string, ch Challenge, sentToken string) (retry bool, err error) {
	st, err := c.state(serverURL)
	if err != nil {
		return false, err
	}
	defer st.mu.Unlock()

	if c.newerToken(st, sentToken) {
		// Another request already obtained a new token while this one was
		// in flight: just use it.
		return true, nil
	}
	// So may another process (a second bridge, or mcp-2coffee login).
	if err := c.reload(st); err != nil {
		c.log.Warn("cannot read the token cache", "error", err)
	}
	if c.newerToken(st, sentToken) {
		st.unaccepted.Store(0)
		return true, nil
	}
	if n := st.unaccepted.Load(); n >= MaxAuthorizations {
		if ch.Status == http.StatusForbidden {
			return false, nil
		}
		return false, fmt.Errorf("%s refused the last %d tokens; not signing in again (run mcp-2coffee login to retry)", st.url, n)
	}

	switch ch.Status {
	case http.StatusForbidden:
		if ch.Error != "insufficient_scope" {
			return false, nil
		}
		granted := st.grantedScopes()
		if st.scopeExplicit && len(ch.Scope) > 0 && containsAll(granted, ch.Scope) {
			c.log.Info("server refuses a token that has the scopes it asks for; not signing in again", "server", st.url, "scope", strings.Join(ch.Scope, " "))
			return false, nil
		}
		want := union(granted, ch.Scope)
		fmt.Fprintf(c.opts.Stderr, "mcp-2coffee: %s needs more permissions (%s).\n", st.url, strings.Join(ch.Scope, " "))
		if err := c.signIn(ctx, st, ch, want); err != nil {
			return false, err
		}
		st.unaccepted.Add(1)
		return true, nil

	case http.StatusUnauthorized:
		tok := st.token()
		if sentToken != "" && tok != nil && tok.RefreshToken != "" && sentToken != st.refreshedToken {
			if err := c.refresh(ctx, st); err == nil {
				st.unaccepted.Add(1)
				return true, nil
			} else {
				c.log.Info("token refresh failed; signing in again", "server", st.url, "error", err)
			}
		}
		if err := c.signIn(ctx, st, ch, nil); err != nil {
			return false, err
		}
		st.unaccepted.Add(1)
		return true, nil
	}
	return false, nil
}

// Accepted tells the client that serverURL accepted a request made with
// its token, which re-arms the bound on repeated authorizations.
func (c *Client) Accepted(serverURL string) {
	canon, err := tokencache.CanonicalURL(serverURL)
	if err != nil {
		return
	}
	c.mu.Lock()
	st := c.servers[canon]
	c.mu.Unlock()
	if st != nil {
		st.unaccepted.Store(0)
	}
}

// newerToken reports whether st holds a usable token other than the one
// the server refused.
func (c *Client) newerToken(st *serverState, sent string) bool {
	tok := st.token()
	return tok != nil && tok.AccessToken != sent && (tok.Expiry.IsZero() || tok.Expiry.After(c.now()))
}

// grantedScopes returns the scopes of the current token.
func (st *serverState) grantedScopes() []string {
	if t := st.token(); t != nil {
		return strings.Fields(t.Scope)
	}
	return nil
}

// refresh uses the refresh token (RFC 6749 §6), with the resource
// indicator. A refused refresh token is dropped so that the next attempt
// signs in.
func (c *Client) refresh(ctx context.Context, st *serverState) error {
	e := st.entry
	if e == nil || e.Token == nil || e.Token.RefreshToken == "" || e.TokenEndpoint == "" || e.Client == nil {
		return errors.New("no refresh token")
	}
	form := url.Values{
		"grant_type":    {"refresh_token"},
		"refresh_token": {e.Token.RefreshToken},
	}
	if e.Resource != "" {
		form.Set("resource", e.Resource)
	}
	tok, explicit, err := c.requestToken(ctx, e.TokenEndpoint, credsOf(e.Client, c.opts.ClientSecret), form, e.Token.Scope)
	if err != nil {
		var te *TokenError
		if errors.As(err, &te) && (te.Code == "invalid_grant" || te.Code == "invalid_client" || te.Status == http.StatusUnauthorized) {
			e.Token.RefreshToken = ""
			c.save(st)
		}
		return err
	}
	if tok.RefreshToken == "" {
		tok.RefreshToken = e.Token.RefreshToken
	}
	if !explicit {
		explicit = st.scopeExplicit
	}
	e.Token = tok
	st.scopeExplicit = explicit
	st.refreshedToken = tok.AccessToken
	c.save(st)
	c.log.Debug("refreshed access token", "server", st.url)
	return nil
}

// signIn runs the whole authorization code flow and stores the result.
// scopes, when non-nil, overrides the scope selection (step-up).
func (c *Client) signIn(ctx context.Context, st *serverState, ch Challenge, scopes []string) error {
	info, err := c.discoverResource(ctx, st.url, ch.ResourceMetadata)
	if err != nil {
		return err
	}
	as, err := c.discoverAuthServer(ctx, info.issuer, info.legacy)
	if err != nil {
		return err
	}

	cb, err := c.listen(st, as)
	if err != nil {
		return err
	}
	defer cb.close()

	client, err := c.identity(ctx, st, as, cb.redirectURI)
	if err != nil {
		return err
	}

	// Scope selection, MCP 2025-11-25 "Scope Selection Strategy": the
	// challenge's scope, else everything the resource supports, else none.
	if scopes == nil {
		switch {
		case len(ch.Scope) > 0:
			scopes = ch.Scope
		case len(info.scopes) > 0:
			scopes = info.scopes
		}
	}
	scopes = slices.Clone(scopes)
	// SEP-2207: ask for a refresh token the way the server documents it.
	if len(scopes) > 0 && slices.Contains(as.scopesSupported, "offline_access") && !slices.Contains(scopes, "offline_access") {
		scopes = append(scopes, "offline_access")
	}
	scope := strings.Join(scopes, " ")

	state := randomToken(32)
	verifier := randomToken(32)
	authURL, err := url.Parse(as.authorizationEndpoint)
	if err != nil {
		return fmt.Errorf("authorization endpoint: %w", err)
	}
	q := authURL.Query()
	q.Set("response_type", "code")
	q.Set("client_id", client.ID)
	q.Set("redirect_uri", cb.redirectURI)
	q.Set("code_challenge", s256(verifier))
	q.Set("code_challenge_method", "S256")
	q.Set("state", state)
	q.Set("resource", info.resource)
	if scope != "" {
		q.Set("scope", scope)
	}
	authURL.RawQuery = q.Encode()

	cb.start(state)
	fmt.Fprintf(c.opts.Stderr, "mcp-2coffee: sign in to %s in your browser. If it does not open, visit:\n\n    %s\n\n", st.url, authURL)
	if err := c.opts.OpenBrowser(ctx, authURL.String()); err != nil {
		fmt.Fprintf(c.opts.Stderr, "mcp-2coffee: could not open a browser (%v); open the URL above yourself.\n", err)
	}
	res, err := cb.wait(ctx, c.opts.Timeout)
	if err != nil {
		return err
	}

	// RFC 9207: when the server promises iss, it must be there and be the
	// issuer; when it does not, an iss that is present must still match
	// (anything else is a mix-up attempt).
	if as.issParameterSupported && !res.issPresent {
		return fmt.Errorf("authorization response has no iss although %s advertises it (RFC 9207); refusing the code", as.issuer)
	}
	if res.issPresent && res.iss != as.issuer {
		return fmt.Errorf("authorization response comes from issuer %q, want %q (RFC 9207); refusing the code", res.iss, as.issuer)
	}

	form := url.Values{
		"grant_type":    {"authorization_code"},
		"code":          {res.code},
		"redirect_uri":  {cb.redirectURI},
		"code_verifier": {verifier},
		"resource":      {info.resource},
	}
	tok, explicit, err := c.requestToken(ctx, as.tokenEndpoint, credsOf(client, c.opts.ClientSecret), form, scope)
	if err != nil {
		var te *TokenError
		if errors.As(err, &te) && te.Code == "invalid_client" && client.Kind == kindDynamic && st.entry != nil {
			// The server forgot our registration: drop it, so the next
			// attempt registers again.
			st.entry.Client = nil
			c.save(st)
		}
		return fmt.Errorf("token request: %w", err)
	}

	if st.entry == nil {
		st.entry = &tokencache.Entry{}
	}
	e := st.entry
	e.ServerURL = st.url
	e.Resource = info.resource
	e.Issuer = as.issuer
	e.AuthorizationEndpoint = as.authorizationEndpoint
	e.TokenEndpoint = as.tokenEndpoint
	e.RevocationEndpoint = as.revocationEndpoint
	stored := *client
	if stored.Kind == kindPreregistered {
		stored.Secret = "" // it comes from the command line each time
	}
	e.Client = &stored
	e.Token = tok
	st.scopeExplicit = explicit
	st.refreshedToken = ""
	c.save(st)
	fmt.Fprintf(c.opts.Stderr, "mcp-2coffee: signed in to %s.\n", st.url)
	return nil
}

// listen opens the loopback callback. Without a configured port it tries
// the port a cached dynamic registration was made for, so the registration
// (whose redirect URI includes the port) can be reused.
func (c *Client) listen(st *serverState, as *authServer) (*callbackServer, error) {
	if c.opts.CallbackPort != 0 {
		return listenCallback(c.opts.CallbackPort)
	}
	if cl := st.cachedDynamicClient(as.issuer); cl != nil {
		if u, err := url.Parse(cl.RedirectURI); err == nil {
			if p, err := strconv.Atoi(u.Port()); err == nil && p > 0 {
				if cb, err := listenCallback(p); err == nil {
					return cb, nil
				}
				c.log.Debug("registered callback port is busy; using another", "port", p)
			}
		}
	}
	return listenCallback(0)
}

func (st *serverState) cachedDynamicClient(issuer string) *tokencache.Client {
	if st.entry == nil || st.entry.Client == nil {
		return nil
	}
	cl := st.entry.Client
	if cl.Kind != kindDynamic || !issuersEqual(cl.Issuer, issuer) {
		return nil
	}
	return cl
}

// identity chooses the client identity: pre-registered, else a Client ID
// Metadata Document, else a cached or new dynamic registration.
func (c *Client) identity(ctx context.Context, st *serverState, as *authServer, redirectURI string) (*tokencache.Client, error) {
	now := c.now().UTC().Truncate(time.Second)
	if c.opts.ClientID != "" {
		method := AuthNone
		if c.opts.ClientSecret != "" {
			method = secretAuthMethod(as.authMethods)
			if method == AuthNone {
				method = AuthClientSecretBasic
			}
		}
		return &tokencache.Client{ID: c.opts.ClientID, AuthMethod: method, Kind: kindPreregistered, Issuer: as.issuer, RegisteredAt: now}, nil
	}
	if c.opts.ClientMetadataURL != "" && as.cimdSupported {
		return &tokencache.Client{ID: c.opts.ClientMetadataURL, AuthMethod: AuthNone, Kind: kindMetadataDocument, Issuer: as.issuer, RegisteredAt: now}, nil
	}
	if cl := st.cachedDynamicClient(as.issuer); cl != nil && cl.RedirectURI == redirectURI &&
		(cl.SecretExpiresAt.IsZero() || cl.SecretExpiresAt.After(c.now())) {
		c.log.Debug("reusing registered client", "client_id", cl.ID)
		return cl, nil
	}
	if as.registrationEndpoint == "" {
		hint := "pass --client-id (and --client-secret) of a client registered there"
		if as.cimdSupported {
			hint += ", or --client-metadata-url"
		}
		return nil, fmt.Errorf("authorization server %s does not offer dynamic client registration; %s", as.issuer, hint)
	}
	cl, err := c.register(ctx, as, redirectURI)
	if err != nil {
		return nil, err
	}
	c.log.Debug("registered client", "client_id", cl.ID, "auth_method", cl.AuthMethod)
	if st.entry == nil {
		st.entry = &tokencache.Entry{ServerURL: st.url}
	}
	// Persist the registration at once: even if the sign-in is abandoned,
	// the next attempt reuses it instead of registering again.
	st.entry.Client = cl
	st.entry.Issuer = as.issuer
	c.save(st)
	return cl, nil
}

// Login signs in to serverURL through the browser even if a token is
// cached, reusing a cached client registration. It returns
// ErrNoAuthRequired when the server accepts anonymous requests and
// publishes no protected resource metadata.
func (c *Client) Login(ctx context.Context, serverURL string) error {
	st, err := c.state(serverURL)
	if err != nil {
		return err
	}
	defer st.mu.Unlock()
	ch, err := c.probe(ctx, st.url)
	if err != nil {
		return err
	}
	if ch.Status == 0 {
		info, err := c.discoverResource(ctx, st.url, "")
		if err != nil {
			return err
		}
		if info.legacy {
			return ErrNoAuthRequired
		}
	}
	st.unaccepted.Store(0)
	return c.signIn(ctx, st, ch, nil)
}

// probe sends an unauthenticated initialize request, to read the server's
// challenge. Status is 0 in the result when the server did not refuse.
func (c *Client) probe(ctx context.Context, serverURL string) (Challenge, error) {
	body := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"mcp-2coffee","version":"login"}}}`
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, serverURL, strings.NewReader(body))
	if err != nil {
		return Challenge{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	resp, err := c.http.Do(req)
	if err != nil {
		return Challenge{}, err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, maxMetadataBytes))
	resp.Body.Close()
	if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
		return ParseChallenge(resp.StatusCode, resp.Header), nil
	}
	if sid := resp.Header.Get("Mcp-Session-Id"); sid != "" {
		// We opened a session only to look; close it.
		del, err := http.NewRequestWithContext(ctx, http.MethodDelete, serverURL, nil)
		if err == nil {
			del.Header.Set("Mcp-Session-Id", sid)
			if r, err := c.http.Do(del); err == nil {
				r.Body.Close()
			}
		}
	}
	return Challenge{}, nil
}

// Logout revokes serverURL's tokens at the authorization server when it
// has a revocation endpoint (RFC 7009), then forgets everything cached for
// the server. A failed revocation is reported on Stderr but does not stop
// the local deletion.
func (c *Client) Logout(ctx context.Context, serverURL string) error {
	st, err := c.state(serverURL)
	if err != nil {
		return err
	}
	defer st.mu.Unlock()
	if err := c.reload(st); err != nil {
		c.log.Warn("cannot read the token cache", "error", err)
	}
	e := st.entry
	if e == nil {
		return ErrNotSignedIn
	}
	if e.RevocationEndpoint != "" && e.Token != nil && e.Client != nil {
		cc := credsOf(e.Client, c.opts.ClientSecret)
		for _, t := range []struct{ value, hint string }{
			{e.Token.RefreshToken, "refresh_token"},
			{e.Token.AccessToken, "access_token"},
		} {
			if t.value == "" {
				continue
			}
			if err := c.revoke(ctx, e.RevocationEndpoint, cc, t.value, t.hint); err != nil {
				fmt.Fprintf(c.opts.Stderr, "mcp-2coffee: could not revoke the %s at %s: %v\n", strings.ReplaceAll(t.hint, "_", " "), e.RevocationEndpoint, err)
			}
		}
	}
	st.entry = nil
	st.scopeExplicit = false
	st.refreshedToken = ""
	if c.opts.Store != nil {
		if err := c.opts.Store.Delete(st.url); err != nil && !errors.Is(err, tokencache.ErrNotFound) {
			return err
		}
	}
	return nil
}

// Status describes what is cached for one server. It never holds a secret.
type Status struct {
	// ServerURL is the canonical MCP endpoint.
	ServerURL string `json:"server_url"`
	// Issuer is the authorization server.
	Issuer string `json:"issuer,omitempty"`
	// ClientID, ClientKind ("dynamic", "metadata-document",
	// "preregistered") and AuthMethod describe the client identity.
	ClientID   string `json:"client_id,omitempty"`
	ClientKind string `json:"client_kind,omitempty"`
	AuthMethod string `json:"token_endpoint_auth_method,omitempty"`
	// Scopes are the scopes granted.
	Scopes []string `json:"scopes,omitempty"`
	// Expiry is when the access token expires (zero: unknown).
	Expiry time.Time `json:"expiry,omitzero"`
	// SignedIn is true when an access token is cached.
	SignedIn bool `json:"signed_in"`
	// Refreshable is true when a refresh token is cached.
	Refreshable bool `json:"refreshable"`
	// UpdatedAt is when the entry was last written.
	UpdatedAt time.Time `json:"updated_at,omitzero"`
}

// String renders s on one line, e.g. for `mcp-2coffee auth status`.
func (s Status) String() string {
	var b strings.Builder
	b.WriteString(s.ServerURL)
	if !s.SignedIn {
		b.WriteString(": not signed in")
	} else {
		b.WriteString(": signed in")
		if !s.Expiry.IsZero() {
			if d := time.Until(s.Expiry); d > 0 {
				fmt.Fprintf(&b, ", token expires %s (in %s)", s.Expiry.Local().Format(time.DateTime), d.Round(time.Second))
			} else {
				fmt.Fprintf(&b, ", token expired %s", s.Expiry.Local().Format(time.DateTime))
			}
		}
		if s.Refreshable {
			b.WriteString(", refreshable")
		}
	}
	if len(s.Scopes) > 0 {
		fmt.Fprintf(&b, "; scopes: %s", strings.Join(s.Scopes, " "))
	}
	if s.Issuer != "" {
		fmt.Fprintf(&b, "; issuer: %s", s.Issuer)
	}
	if s.ClientID != "" {
		fmt.Fprintf(&b, "; client: %s (%s)", s.ClientID, s.ClientKind)
	}
	return b.String()
}

// StatusOf lists what store holds for serverURL, or for every server when
// serverURL is "".
func StatusOf(store *tokencache.Store, serverURL string) ([]Status, error) {
	var entries []*tokencache.Entry
	if serverURL != "" {
		e, err := store.Load(serverURL)
		if errors.Is(err, tokencache.ErrNotFound) {
			canon, cerr := tokencache.CanonicalURL(serverURL)
			if cerr != nil {
				return nil, cerr
			}
			return []Status{{ServerURL: canon}}, nil
		}
		if err != nil {
			return nil, err
		}
		entries = []*tokencache.Entry{e}
	} else {
		var err error
		entries, err = store.List()
		if err != nil && len(entries) == 0 {
			return nil, err
		}
	}
	out := make([]Status, 0, len(entries))
	for _, e := range entries {
		s := Status{ServerURL: e.ServerURL, Issuer: e.Issuer, UpdatedAt: e.UpdatedAt}
		if e.Client != nil {
			s.ClientID, s.ClientKind, s.AuthMethod = e.Client.ID, e.Client.Kind, e.Client.AuthMethod
		}
		if t := e.Token; t != nil {
			s.SignedIn = t.AccessToken != ""
			s.Refreshable = t.RefreshToken != ""
			s.Scopes = strings.Fields(t.Scope)
			s.Expiry = t.Expiry
		}
		out = append(out, s)
	}
	return out, nil
}

// Status is StatusOf on the Client's store.
func (c *Client) Status(serverURL string) ([]Status, error) {
	if c.opts.Store == nil {
		return nil, errors.New("no token cache configured")
	}
	return StatusOf(c.opts.Store, serverURL)
}

func containsAll(have, want []string) bool {
	for _, w := range want {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return true
}

// union returns a followed by the elements of b not in a.
func union(a, b []string) []string {
	out := slices.Clone(a)
	for _, s := range b {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}
