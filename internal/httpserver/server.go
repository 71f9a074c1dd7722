// Package httpserver puts handlers on HTTP: it receives the MCP endpoint,
// the REST content API, the authentication middleware and the
// authorization server from the composition root (cmd), and applies what
// every route shares: the Host/Origin guard, body limits, authentication
// in front of the protected routes, metrics, health checks, the public
// URL's path prefix, the protected resource metadata, and graceful
// serving. It knows nothing of articles or of the MCP protocol.
package httpserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/2coffee/mcp-2coffee/internal/authn"
	"github.com/2coffee/mcp-2coffee/internal/blog"
)

// AuthorizationServer is what New mounts of the built-in OAuth
// authorization server (*authserver.Server).
type AuthorizationServer interface {
	// Handler serves /oauth/… and the metadata at the host's root.
	Handler() http.Handler
	// Issuer is the issuer identifier named by the protected resource
	// metadata.
	Issuer() string
	// MetadataPath and MetadataHandler serve the RFC 8414 metadata in its
	// path-inserted form, for an issuer with a path.
	MetadataPath() string
	MetadataHandler() http.Handler
}

// Config is what New needs. PublicURL, MCP, REST and Authenticate are
// required.
type Config struct {
	// PublicURL is the base URL clients use (scheme, host, optional path
	// prefix); the MCP endpoint is MCPURL(PublicURL).
	PublicURL *url.URL
	// ListenAddr is the address the server listens on; on a loopback
	// address the loopback host names are accepted as Host and Origin.
	ListenAddr string
	// AllowedOrigins are extra browser origins allowed to call.
	AllowedOrigins []string
	// MCP serves the MCP endpoint and REST the API under /api/. Each
	// makes its own scope checks; New puts Authenticate in front of both.
	MCP, REST http.Handler
	// Authenticate puts the caller's principal in the request context or
	// answers the request itself (authn.Authenticator.Middleware, or
	// authn.Assume for serve --auth=none). AuthenticateREST, when set,
	// does it for the REST API instead: its tokens have their own
	// audience and its challenges their own resource metadata.
	Authenticate, AuthenticateREST func(http.Handler) http.Handler
	// RESTPrefix is where the REST API lives under the public URL
	// (restapi.Prefix); with an AuthServer or Issuer it gets protected resource
	// metadata of its own there. Empty: none.
	RESTPrefix string
	// AuthServer is the built-in authorization server, mounted at
	// /oauth/ and its metadata paths, and named by the protected
	// resource metadata; nil when OAuth is off or external.
	AuthServer AuthorizationServer
	// Issuer, with no AuthServer, is the external authorization server
	// the protected resource metadata names (serve --oauth=external);
	// nothing is mounted for it. Scopes are the scope names that metadata
	// lists, as clients request them there; nil is authn.AllScopes.
	Issuer string
	Scopes []string
	// Ready reports whether the server can serve (e.g. the database
	// answers); nil means always ready.
	Ready   func(context.Context) error
	Logger  *slog.Logger
	Metrics *Metrics // nil: a registry of New's own
	// MaxBodyBytes bounds every request body; 0 means blog.MaxRequestBytes.
	MaxBodyBytes int64
	// SeparateOps leaves /metrics off this handler: the operator serves
	// OpsHandler on a listener of its own (serve --metrics-addr).
	// /healthz and /readyz stay, behind the Host guard, for load balancers
	// that probe the public address.
	SeparateOps bool
}

// MCPPath is where the MCP endpoint lives under the public URL.
const MCPPath = "/mcp"

// MCPURL is the URL of the MCP endpoint under the public URL: the resource
// tokens are bound to (RFC 8707) and the one clients are configured with.
func MCPURL(public *url.URL) string { return ResourceURL(public, MCPPath) }

// ResourceMetadataURL is where the RFC 9728 protected resource metadata of
// the MCP endpoint lives: for https://host/p/mcp it is
// https://host/.well-known/oauth-protected-resource/p/mcp.
func ResourceMetadataURL(public *url.URL) string { return ResourceMetadataURLOf(public, MCPPath) }

// ResourceURL is the URL of the resource at path under the public URL.
func ResourceURL(public *url.URL, path string) string {
	return public.Scheme + "://" + public.Host + pathPrefix(public) + path
}

// ResourceMetadataURLOf is where the protected resource metadata of the
// resource at path lives (RFC 9728 §3.1: inserted after the host).
func ResourceMetadataURLOf(public *url.URL, path string) string {
	return public.Scheme + "://" + public.Host + resourceMetadataPath(public, path)
}

func resourceMetadataPath(public *url.URL, path string) string {
	return "/.well-known/oauth-protected-resource" + pathPrefix(public) + path
}

func pathPrefix(public *url.URL) string { return strings.TrimSuffix(public.Path, "/") }

// New returns the server's handler.
func New(cfg Config) (http.Handler, error) {
	if cfg.PublicURL == nil || cfg.MCP == nil || cfg.REST == nil || cfg.Authenticate == nil {
		return nil, errors.New("httpserver: PublicURL, MCP, REST and Authenticate are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics()
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = blog.MaxRequestBytes
	}
	g, err := newGuard(cfg.PublicURL, cfg.ListenAddr, cfg.AllowedOrigins)
	if err != nil {
		return nil, err
	}
	prefix := pathPrefix(cfg.PublicURL)

	mux := http.NewServeMux()
	route := func(pattern string, h http.Handler) {
		mux.Handle(pattern, cfg.Metrics.instrument(pattern, h))
	}
	protect := func(h http.Handler) http.Handler {
		return g.wrap(limitBody(cfg.MaxBodyBytes, cfg.Authenticate(h)))
	}
	route(MCPPath, protect(cfg.MCP))
	authREST := cfg.AuthenticateREST
	if authREST == nil {
		authREST = cfg.Authenticate
	}
	route("/api/", g.wrap(limitBody(cfg.MaxBodyBytes, authREST(cfg.REST))))
	// The operational routes answer only to the public Host too: a page
	// on a rebinding name must not read the metrics (route patterns,
	// tool names, failure counts) or probe readiness.
	route("GET /healthz", g.wrapHost(healthz()))
	route("GET /readyz", g.wrapHost(readyz(cfg)))
	if !cfg.SeparateOps {
		route("GET /metrics", g.wrapHost(cfg.Metrics.Handler()))
	}
	route("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		authn.WriteError(w, http.StatusNotFound, "not_found", "no such endpoint; MCP is at "+MCPPath)
	}))
	as := cfg.AuthServer
	if as != nil {
		h := g.wrapHost(as.Handler())
		route("/oauth/", h)
		route("/.well-known/oauth-authorization-server", h)
	}

	// Serve under the public URL's path prefix, if it has one, so a proxy
	// can forward https://example.com/blog/mcp unchanged. The well-known
	// documents live at the host's root whatever the prefix.
	var inner http.Handler = mux
	if prefix != "" {
		inner = http.StripPrefix(prefix, mux)
	}
	issuer := cfg.Issuer
	if as != nil {
		issuer = as.Issuer()
	}
	if issuer == "" {
		return inner, nil
	}
	scopes := cfg.Scopes
	if scopes == nil {
		scopes = authn.AllScopes
	}
	root := http.NewServeMux()
	root.Handle("/", inner)
	prm := g.wrapHost(protectedResourceMetadata(MCPURL(cfg.PublicURL), issuer, scopes))
	rootRoute := func(pattern string, h http.Handler) {
		root.Handle(pattern, cfg.Metrics.instrument(pattern, h))
	}
	// The path form, then the root form clients fall back to.
	rootRoute("GET "+resourceMetadataPath(cfg.PublicURL, MCPPath), prm)
	rootRoute("GET /.well-known/oauth-protected-resource", prm)
	if cfg.RESTPrefix != "" {
		rootRoute("GET "+resourceMetadataPath(cfg.PublicURL, cfg.RESTPrefix),
			g.wrapHost(protectedResourceMetadata(ResourceURL(cfg.PublicURL, cfg.RESTPrefix), issuer, scopes)))
	}
	if prefix != "" && as != nil {
		rootRoute("GET "+as.MetadataPath(), g.wrapHost(as.MetadataHandler()))
	}
	return root, nil
}

// OpsHandler serves /metrics, /healthz and /readyz for a listener of
// their own (serve --metrics-addr), which the operator keeps off the
// public network: no Host guard, since monitoring reaches it by whatever
// address it has. cfg.Metrics must be the registry New was given.
func OpsHandler(cfg Config) http.Handler {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics()
	}
	mux := http.NewServeMux()
	mux.Handle("GET /healthz", healthz())
	mux.Handle("GET /readyz", readyz(cfg))
	mux.Handle("GET /metrics", cfg.Metrics.Handler())
	return mux
}

func healthz() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
}

func readyz(cfg Config) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if cfg.Ready != nil {
			ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
			defer cancel()
			if err := cfg.Ready(ctx); err != nil {
				cfg.Logger.Warn("not ready", "err", err)
				http.Error(w, "not ready", http.StatusServiceUnavailable)
				return
			}
		}
		fmt.Fprintln(w, "ready")
	})
}

// protectedResourceMetadata serves the RFC 9728 document that tells MCP
// clients which authorization server issues tokens for this resource.
func protectedResourceMetadata(resource, issuer string, scopes []string) http.Handler {
	body, _ := json.Marshal(map[string]any{
		"resource":                 resource,
		"authorization_servers":    []string{issuer},
		"scopes_supported":         scopes,
		"bearer_methods_supported": []string{"header"},
		"resource_name":            "mcp-2coffee blog",
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Access-Control-Allow-Origin", "*")
		w.Header().Set("Cache-Control", "public, max-age=3600")
		w.Write(body)
	})
}

// Serve answers on ln until ctx is done, then stops accepting, lets
// in-flight requests finish for up to grace, and returns.
func Serve(ctx context.Context, ln net.Listener, h http.Handler, logger *slog.Logger, grace time.Duration) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		// No WriteTimeout: an SSE response may stay open; handlers bound
		// their own work with the request context.
		IdleTimeout:    2 * time.Minute,
		MaxHeaderBytes: 64 << 10,
		ErrorLog:       slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		BaseContext:    func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down; finishing in-flight requests", "grace", grace)
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
