package authserver

import (
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/2coffee/mcp-2coffee/internal/authn"
	"github.com/2coffee/mcp-2coffee/internal/oauth"
	"github.com/2coffee/mcp-2coffee/internal/oidclogin"
	"github.com/2coffee/mcp-2coffee/internal/webaddr"
)

// Default lifetimes and limits; a zero Config field means its default.
const (
	DefaultAccessTokenLifetime  = time.Hour
	DefaultRefreshTokenLifetime = 30 * 24 * time.Hour
	DefaultCodeLifetime         = 2 * time.Minute
	DefaultSessionLifetime      = 12 * time.Hour
	DefaultRefreshGrace         = 30 * time.Second
	// DefaultUnusedClientTTL is how long a dynamically registered client
	// may stay without ever obtaining a token before Cleanup deletes it.
	DefaultUnusedClientTTL = 24 * time.Hour
	// DefaultIdleClientTTL is how long a dynamically registered client
	// may go without obtaining a token before Cleanup deletes it.
	DefaultIdleClientTTL = 90 * 24 * time.Hour
)

// Config is what New needs. Issuer, Resource and Store are required; every
// other field has a working zero value.
type Config struct {
	// Issuer is the authorization server's public URL, e.g.
	// http://127.0.0.1:3000 or https://blog.example.com/blog. It must be
	// https, or http on a loopback host (the MCP specification requires
	// HTTPS for every other endpoint). A trailing slash is dropped; the
	// result, returned by Server.Issuer, appears byte for byte as
	// "issuer" in the metadata and as "iss" on every redirect, so the
	// protected resource metadata must name the same string.
	Issuer *url.URL
	// Resource is the canonical URL of the MCP endpoint (RFC 8707), e.g.
	// http://127.0.0.1:3000/mcp: the resource of a request that names
	// none. Every code and token is bound to one resource, and
	// VerifyAccessToken refuses tokens bound to anything but this one.
	Resource string
	// Resources are the other resources this server issues tokens for,
	// each a token's single audience when a client names it (RFC 8707):
	// the REST API. A request without resource gets Resource.
	Resources []string
	// Store keeps clients, users, sessions, grants, codes and tokens.
	// New hands each endpoint only the capabilities it uses.
	Store oauth.Store
	// MetadataFetcher resolves client_id URLs (Client ID Metadata
	// Documents). Nil turns that way of identifying clients off.
	MetadataFetcher MetadataFetcher
	// IntrospectionVerifier, when set, lets callers authenticate at the
	// introspection endpoint with an API key (Authorization: Bearer or
	// X-API-KEY) that holds articles:write. Confidential clients may use
	// their credentials either way.
	IntrospectionVerifier authn.Verifier
	// DisableRegistration turns dynamic client registration off: no
	// registration_endpoint in the metadata, 404 at /oauth/register.
	DisableRegistration bool
	// Logger receives one record per refused request (reason, client
	// id, remote address; never a password, code, token, verifier or
	// secret). Nil discards.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now. Tests inject one.
	Now func() time.Time

	AccessTokenLifetime  time.Duration // default 1h
	RefreshTokenLifetime time.Duration // default 30 days
	CodeLifetime         time.Duration // default 2 minutes
	SessionLifetime      time.Duration // default 12h
	// RefreshGrace is how long after a refresh token was rotated it may
	// still be used once more, yielding another pair in the same family,
	// because clients retry when the response to a refresh was lost.
	// Only one such re-issue is allowed per rotated token: a second
	// reuse, even within the window, and any reuse after it, revoke the
	// whole family. Default 30s.
	RefreshGrace time.Duration
	// UnusedClientTTL and IdleClientTTL bound the life of dynamically
	// registered clients; see Cleanup. Defaults 24h and 90 days.
	UnusedClientTTL time.Duration
	IdleClientTTL   time.Duration

	// RateLimits bound requests per client address to the login, token,
	// revocation, introspection and registration endpoints, and to
	// authorization requests that may fetch a client metadata document.
	RateLimits RateLimits
	// Lockout locks a sign-in name after repeated failed passwords.
	Lockout Lockout
	// PasswordParams are the argon2id costs for new password hashes;
	// zero means oauth.DefaultPasswordParams.
	PasswordParams oauth.PasswordParams
	// SecureCookies marks cookies Secure and gives them the __Host-
	// prefix. It is implied when the issuer is https.
	SecureCookies bool
	// ClientIP returns the address rate limits are keyed on; nil means
	// the host of RemoteAddr. Behind a reverse proxy, return the
	// address the proxy reports, and only from a trusted proxy.
	ClientIP func(*http.Request) string
	// Login, when set, lets people sign in at an OpenID Connect provider
	// (federated sign-in): the sign-in page offers it, and a person it
	// signs in, and the operator's allow-lists admit, becomes a local
	// user found by issuer and subject. Its redirect URL must be
	// Issuer + PathLoginCallback.
	Login *oidclogin.Provider
	// NoPasswordLogin, with Login, turns the password form off: the
	// provider is the only way in.
	NoPasswordLogin bool
	// Enterprise, when set, is the enterprise identity provider whose
	// ID-JAGs the token endpoint takes with the jwt-bearer grant
	// (enterprise-managed authorization): a client registered for that
	// grant gets a token for the user an ID-JAG names, with no browser.
	// Its audience must be Issuer.
	Enterprise EnterpriseGrants
	// SignInWait is how long a sign-in waits for one of the few password
	// hash slots before it is answered 503 with Retry-After; 0 means 2s.
	// Waiting without bound let a flood of wrong passwords push a real
	// sign-in to tens of seconds.
	SignInWait time.Duration
}

// RateLimits are the per-address limits of the endpoints that attract
// abuse. A zero Limit means the default shown.
type RateLimits struct {
	Login    Limit // default: burst 10, then one every 6s
	Token    Limit // default: burst 60, then one every second
	Register Limit // default: burst 20, then one a minute
	// ClientMetadata limits authorization requests (GET and the consent
	// POST) whose client_id is a URL, each of which may make the server
	// fetch a Client ID Metadata Document. Revocation and introspection,
	// which may fetch one too, share the Token limit.
	ClientMetadata Limit // default: burst 20, then one every 3s
	// LoginAll bounds sign-ins across all addresses together: many
	// addresses each within Login could still queue the password hashes
	// without end. Past it the server answers 503 with Retry-After.
	LoginAll Limit // default: burst 40, then one every 100ms
}

// Limit is a token bucket: Burst requests at once, then one more every
// Interval. A negative Burst turns the limit off.
type Limit struct {
	Burst    int
	Interval time.Duration
}

// Lockout is the policy for repeated failed sign-ins. Failures are counted
// per name and address (the rate-limit address: IPv6 by /64): after
// Threshold of them that pair is locked for Base, doubling with each
// further failure up to Max, so someone else failing on purpose cannot
// keep the person out who signs in from their own address (NIST SP
// 800-63B §5.2.2 asks for throttling, not for an attacker's lock). The
// name itself, from every address together, locks the same way only after
// NameThreshold failures: the bound on guessing that NIST caps at 100.
// Failures older than Window are forgotten. Zero fields take the defaults
// shown; a negative Threshold turns lockout off.
type Lockout struct {
	Threshold     int           // default 5, per name and address
	NameThreshold int           // default 100, per name from all addresses
	Base          time.Duration // default 1 minute
	Max           time.Duration // default 1 hour
	Window        time.Duration // default 24 hours
}

// Server is the authorization server. Its methods are safe for concurrent
// use.
//
// Each endpoint is its own type holding only the store capabilities it
// uses (fosite's style), so the type says what a handler can touch: the
// token endpoint cannot touch a user, the sign-in page cannot touch a
// token. What they share, the site, holds no store.
type Server struct {
	site  *site
	admin *oauth.Admin
	sweep oauth.Sweeper

	authorize  *authorizeEndpoint
	login      *loginEndpoint
	apps       *appsEndpoint
	token      *tokenEndpoint
	register   *registerEndpoint
	revoke     *revokeEndpoint
	introspect *introspectEndpoint
	verifier   *verifier
}

// site is what every endpoint shares: configuration, clock, logging,
// pages, cookies and rate limits. It holds no store (cfg.Store is
// cleared), so an endpoint reaches stored records only through the
// capabilities it was given.
type site struct {
	cfg       Config
	log       *slog.Logger
	now       func() time.Time
	issuer    string   // Config.Issuer without a trailing slash
	origin    string   // scheme://host of the issuer, for Origin checks
	base      string   // path of the issuer, "" or "/blog": prefix of page URLs
	resource  string   // the default resource (the MCP endpoint)
	resources []string // every resource tokens may be bound to, resource first
	secure    bool

	pages    map[string]*template.Template
	styleURL string

	limits map[string]*limiter // by endpoint: "login", "token", "register", "metadata"
}

// New checks cfg and returns a Server.
func New(cfg Config) (*Server, error) {
	if cfg.Store == nil {
		return nil, errors.New("authserver: Config.Store is required")
	}
	issuer, err := checkIssuer(cfg.Issuer)
	if err != nil {
		return nil, err
	}
	for _, r := range append([]string{cfg.Resource}, cfg.Resources...) {
		if err := checkResource(r); err != nil {
			return nil, err
		}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	setDefault(&cfg.AccessTokenLifetime, DefaultAccessTokenLifetime)
	setDefault(&cfg.RefreshTokenLifetime, DefaultRefreshTokenLifetime)
	setDefault(&cfg.CodeLifetime, DefaultCodeLifetime)
	setDefault(&cfg.SessionLifetime, DefaultSessionLifetime)
	setDefault(&cfg.RefreshGrace, DefaultRefreshGrace)
	setDefault(&cfg.UnusedClientTTL, DefaultUnusedClientTTL)
	setDefault(&cfg.IdleClientTTL, DefaultIdleClientTTL)
	cfg.Lockout = cfg.Lockout.withDefaults()
	if cfg.PasswordParams == (oauth.PasswordParams{}) {
		cfg.PasswordParams = oauth.DefaultPasswordParams
	}
	store := cfg.Store
	cfg.Store = nil
	u, _ := url.Parse(issuer)
	s := &site{
		cfg:       cfg,
		log:       cfg.Logger,
		now:       cfg.Now,
		issuer:    issuer,
		origin:    webaddr.Origin(u),
		base:      u.Path,
		resource:  cfg.Resource,
		resources: append([]string{cfg.Resource}, cfg.Resources...),
		secure:    cfg.SecureCookies || u.Scheme == "https",
		limits: map[string]*limiter{
			"login":     newLimiter(cfg.RateLimits.Login, Limit{Burst: 10, Interval: 6 * time.Second}),
			"login_all": newLimiter(cfg.RateLimits.LoginAll, Limit{Burst: 40, Interval: 100 * time.Millisecond}),
			"token":     newLimiter(cfg.RateLimits.Token, Limit{Burst: 60, Interval: time.Second}),
			"register":  newLimiter(cfg.RateLimits.Register, Limit{Burst: 20, Interval: time.Minute}),
			"metadata":  newLimiter(cfg.RateLimits.ClientMetadata, Limit{Burst: 20, Interval: 3 * time.Second}),
		},
	}
	if cfg.NoPasswordLogin && cfg.Login == nil {
		return nil, errors.New("authserver: without a provider to sign in at, the password form cannot be turned off")
	}
	if err := s.loadPages(); err != nil {
		return nil, err
	}
	// Here, and only here, the store is handed out: to each endpoint the
	// capabilities it uses, to the operator's Admin and to Cleanup what
	// they need.
	clients := &clientFinder{site: s, store: store}
	sessions := &browserSessions{site: s, store: store}
	return &Server{
		site: s,
		admin: oauth.NewAdmin(store, oauth.AdminOptions{Now: cfg.Now, Logger: cfg.Logger,
			PasswordParams: cfg.PasswordParams, BuildClient: BuildClient}),
		sweep:      store,
		authorize:  &authorizeEndpoint{site: s, clients: clients, sessions: sessions, grants: store, codes: store},
		login:      newLoginEndpoint(s, clients, sessions, store, store),
		apps:       &appsEndpoint{site: s, sessions: sessions, grants: store},
		token:      &tokenEndpoint{site: s, clients: clients, codes: store, tokens: store, users: store, grants: store, assertions: store},
		register:   &registerEndpoint{site: s, clients: store},
		revoke:     &revokeEndpoint{site: s, clients: clients, tokens: store},
		introspect: &introspectEndpoint{site: s, clients: clients, tokens: store},
		verifier:   &verifier{site: s, tokens: store},
	}, nil
}

func setDefault(d *time.Duration, def time.Duration) {
	if *d <= 0 {
		*d = def
	}
}

func (l Lockout) withDefaults() Lockout {
	if l.Threshold == 0 {
		l.Threshold = 5
	}
	if l.NameThreshold == 0 {
		l.NameThreshold = 100
	}
	setDefault(&l.Base, time.Minute)
	setDefault(&l.Max, time.Hour)
	setDefault(&l.Window, 24*time.Hour)
	return l
}

// checkIssuer validates the issuer and returns its string form without a
// trailing slash.
func checkIssuer(u *url.URL) (string, error) {
	if u == nil {
		return "", errors.New("authserver: Config.Issuer is required")
	}
	switch {
	case u.Scheme != "https" && u.Scheme != "http":
		return "", fmt.Errorf("authserver: issuer %q: the scheme must be https", u)
	case u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.ForceQuery:
		return "", fmt.Errorf("authserver: issuer %q: want scheme://host[:port][/path], without user, query or fragment", u)
	case u.Scheme == "http" && !webaddr.IsLoopback(u.Hostname()):
		return "", fmt.Errorf("authserver: issuer %q: plain http is allowed only on a loopback host; put the server behind TLS and use its https URL", u)
	}
	c := *u
	c.Path = strings.TrimRight(c.Path, "/")
	c.RawPath = ""
	return c.String(), nil
}

func checkResource(r string) error {
	u, err := url.Parse(r)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Fragment != "" || strings.Contains(r, "#") {
		return fmt.Errorf("authserver: Config.Resource %q must be the absolute http(s) URL of the MCP endpoint", r)
	}
	return nil
}

// Issuer returns the issuer identifier exactly as the metadata and the
// iss parameter carry it.
func (s *Server) Issuer() string { return s.site.issuer }

// Admin returns the administration API (clients, users, grants) over the
// server's store, with the server's password costs and client rules.
func (s *Server) Admin() *oauth.Admin { return s.admin }

// Paths of the endpoints, relative to the issuer.
const (
	PathMetadata   = "/.well-known/oauth-authorization-server"
	PathAuthorize  = "/oauth/authorize"
	PathToken      = "/oauth/token"
	PathRegister   = "/oauth/register"
	PathRevoke     = "/oauth/revoke"
	PathIntrospect = "/oauth/introspect"
	PathLogin      = "/oauth/login"
	// PathLoginUpstream starts a sign-in at the provider (the sign-in
	// page links there); PathLoginCallback is where the provider sends the browser
	// back, the redirect URI to register there.
	PathLoginUpstream = "/oauth/login/upstream"
	PathLoginCallback = "/oauth/login/callback"
	PathLogout        = "/oauth/logout"
	PathApps          = "/oauth/apps"
	PathStatic        = "/oauth/static/"
)

// Handler serves every endpoint at its path relative to the issuer: the
// caller strips the issuer's path (if any) and routes PathMetadata and
// everything under /oauth/ here. For a path issuer the RFC 8414 metadata
// also lives at the host root, path inserted: see MetadataPath and
// MetadataHandler.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET "+PathMetadata, cors(http.HandlerFunc(s.site.serveMetadata)))
	mux.Handle("OPTIONS "+PathMetadata, cors(nil))
	if !s.site.cfg.DisableRegistration {
		mux.Handle("POST "+PathRegister, cors(http.HandlerFunc(s.register.serveRegister)))
		mux.Handle("OPTIONS "+PathRegister, cors(nil))
	}
	mux.HandleFunc("GET "+PathAuthorize, s.authorize.serveAuthorize)
	mux.HandleFunc("POST "+PathAuthorize, s.authorize.serveConsent)
	mux.HandleFunc("POST "+PathLogin, s.login.serveLogin)
	if s.site.cfg.Login != nil {
		mux.HandleFunc("GET "+PathLoginUpstream, s.login.serveUpstream)
		mux.HandleFunc("GET "+PathLoginCallback, s.login.serveCallback)
	}
	mux.HandleFunc("GET "+PathLogin, s.login.serveLoginPage)
	mux.HandleFunc("POST "+PathLogout, s.login.serveLogout)
	mux.HandleFunc("GET "+PathApps, s.apps.serveApps)
	mux.HandleFunc("POST "+PathApps, s.apps.serveAppsRevoke)
	mux.Handle("POST "+PathToken, cors(http.HandlerFunc(s.token.serveToken)))
	mux.Handle("OPTIONS "+PathToken, cors(nil))
	mux.Handle("POST "+PathRevoke, cors(http.HandlerFunc(s.revoke.serveRevoke)))
	mux.Handle("OPTIONS "+PathRevoke, cors(nil))
	mux.HandleFunc("POST "+PathIntrospect, s.introspect.serveIntrospect)
	mux.HandleFunc("GET "+PathStatic+"style.css", s.site.serveStyle)
	return mux
}

// cors lets browser-based clients (the MCP Inspector, web connectors)
// read the answers of the endpoints they call with fetch: metadata,
// registration, token and revocation. None of them reads a cookie, so
// allowing every origin grants nothing a script could not already do
// from a server. A nil next answers preflight requests.
func cors(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", "*")
		if next == nil {
			h.Set("Access-Control-Allow-Methods", "GET, POST")
			h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, MCP-Protocol-Version")
			h.Set("Access-Control-Max-Age", "86400")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// clientAddr is the address a request came from, for logs: the
// configured function (the client behind a trusted proxy), or the host of
// RemoteAddr.
func (s *site) clientAddr(r *http.Request) string {
	if s.cfg.ClientIP != nil {
		return s.cfg.ClientIP(r)
	}
	if h, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return h
	}
	return r.RemoteAddr
}

// clientIP is the key for rate limits: clientAddr, with IPv6 addresses cut
// to their /64, which one subscriber usually holds whole.
func (s *site) clientIP(r *http.Request) string {
	addr := s.clientAddr(r)
	if ip := net.ParseIP(addr); ip != nil && ip.To4() == nil {
		return ip.Mask(net.CIDRMask(64, 128)).String() + "/64"
	}
	return addr
}

// fail logs a refused request. attrs must never hold a secret: no
// password, code, token, verifier or client secret.
func (s *site) fail(r *http.Request, level slog.Level, reason string, attrs ...any) {
	attrs = append([]any{"reason", reason, "remote", s.clientAddr(r), "endpoint", r.Method + " " + r.URL.Path}, attrs...)
	s.log.Log(r.Context(), level, "oauth request refused", attrs...)
}
