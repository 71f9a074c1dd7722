// Package httpserver puts the blog on HTTP: the MCP endpoint (Streamable
// HTTP, stateless so any replica can answer any request), the REST content
// API, health checks and metrics, behind the Host/Origin guard, body
// limits and authentication.
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

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/2coffee/mcp-2coffee/internal/authn"
	"github.com/2coffee/mcp-2coffee/internal/authserver"
	"github.com/2coffee/mcp-2coffee/internal/blog"
	"github.com/2coffee/mcp-2coffee/internal/mcpserver"
	"github.com/2coffee/mcp-2coffee/internal/restapi"
)

// DefaultMaxBodyBytes bounds a request body: an article may hold 1 MiB of
// Markdown, and JSON escaping can double it.
const DefaultMaxBodyBytes = 3 << 20

// Config is what New needs. PublicURL and Articles are required.
type Config struct {
	// PublicURL is the base URL clients use (scheme, host, optional path
	// prefix); the MCP endpoint is PublicURL + "/mcp".
	PublicURL *url.URL
	// ListenAddr is the address the server listens on; on a loopback
	// address the loopback host names are accepted as Host and Origin.
	ListenAddr string
	// AllowedOrigins are extra browser origins allowed to call.
	AllowedOrigins []string
	Articles       blog.Articles
	// Verify checks credentials. Nil turns authentication off (the
	// development mode "serve --auth=none"): every caller may read and
	// write.
	Verify authn.Verifier
	// Ready reports whether the server can serve (e.g. the database
	// answers); nil means always ready.
	Ready        func(context.Context) error
	Logger       *slog.Logger
	Metrics      *Metrics
	MaxBodyBytes int64
	Version      string
	// OAuth is the built-in authorization server, mounted at /oauth/ and
	// its metadata path; nil when OAuth is off. Verify should then also
	// accept its access tokens (authn.Chain).
	OAuth *authserver.Server
}

// MCPPath is where the MCP endpoint lives under the public URL.
const MCPPath = "/mcp"

// New returns the server's handler.
func New(cfg Config) (http.Handler, error) {
	if cfg.PublicURL == nil || cfg.Articles == nil {
		return nil, errors.New("httpserver: PublicURL and Articles are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics()
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	g, err := newGuard(cfg.PublicURL, cfg.ListenAddr, cfg.AllowedOrigins)
	if err != nil {
		return nil, err
	}
	prefix := strings.TrimSuffix(cfg.PublicURL.Path, "/")
	origin := cfg.PublicURL.Scheme + "://" + cfg.PublicURL.Host
	mcpURL := origin + prefix + MCPPath
	authOpts := authn.Options{
		Verify:    cfg.Verify,
		Logger:    cfg.Logger,
		OnFailure: cfg.Metrics.AuthFailure,
	}
	// RFC 9728: the metadata of the resource https://host/p/mcp lives at
	// https://host/.well-known/oauth-protected-resource/p/mcp.
	prmPath := "/.well-known/oauth-protected-resource" + prefix + MCPPath
	if cfg.OAuth != nil {
		authOpts.ResourceMetadataURL = origin + prmPath
	}
	authenticate := authOpts.Middleware
	if cfg.Verify == nil {
		authenticate = func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				next.ServeHTTP(w, r.WithContext(authn.WithPrincipal(r.Context(), Anonymous)))
			})
		}
	}

	mcpServer := mcpserver.New(cfg.Articles, mcpserver.Options{
		Version:    cfg.Version,
		Logger:     cfg.Logger,
		OnToolCall: cfg.Metrics.ToolCall,
	})
	mcpHandler := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return mcpServer }, &mcp.StreamableHTTPOptions{
		// Stateless: no session lives in this process, so any replica
		// answers any request, and the go-sdk negotiates 2026-07-28.
		Stateless:    true,
		JSONResponse: true,
		Logger:       cfg.Logger,
		// The guard above checks Host against --public-url; the SDK's
		// own check would refuse a public host name behind a proxy.
		DisableLocalhostProtection: true,
		MaxRequestBodyBytes:        cfg.MaxBodyBytes,
	})
	api := restapi.New(cfg.Articles, restapi.Options{Logger: cfg.Logger, MaxBodyBytes: cfg.MaxBodyBytes})

	mux := http.NewServeMux()
	route := func(pattern string, h http.Handler) {
		mux.Handle(pattern, cfg.Metrics.instrument(pattern, h))
	}
	protect := func(h http.Handler) http.Handler {
		return g.wrap(limitBody(cfg.MaxBodyBytes, authenticate(h)))
	}
	route(MCPPath, protect(authn.RequireMCPScopes(mcpserver.MethodScope, authOpts)(mcpHandler)))
	route("/api/", protect(requireRESTScope(authOpts, api)))
	route("GET /healthz", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	}))
	route("GET /readyz", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
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
	}))
	route("GET /metrics", cfg.Metrics.Handler())
	route("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		authn.WriteError(w, http.StatusNotFound, "not_found", "no such endpoint; MCP is at "+MCPPath)
	}))
	if cfg.OAuth != nil {
		as := g.wrapHost(cfg.OAuth.Handler())
		route("/oauth/", as)
		route("/.well-known/oauth-authorization-server", as)
	}

	// Serve under the public URL's path prefix, if it has one, so a proxy
	// can forward https://example.com/blog/mcp unchanged. The well-known
	// documents live at the host's root whatever the prefix.
	var inner http.Handler = mux
	if prefix != "" {
		inner = http.StripPrefix(prefix, mux)
	}
	if cfg.OAuth == nil {
		return inner, nil
	}
	root := http.NewServeMux()
	root.Handle("/", inner)
	prm := g.wrapHost(protectedResourceMetadata(mcpURL, cfg.OAuth.Issuer()))
	rootRoute := func(pattern string, h http.Handler) {
		root.Handle(pattern, cfg.Metrics.instrument(pattern, h))
	}
	// The path form, then the root form clients fall back to.
	rootRoute("GET "+prmPath, prm)
	rootRoute("GET /.well-known/oauth-protected-resource", prm)
	if prefix != "" {
		rootRoute("GET "+cfg.OAuth.MetadataPath(), g.wrapHost(cfg.OAuth.MetadataHandler()))
	}
	return root, nil
}

// protectedResourceMetadata serves the RFC 9728 document that tells MCP
// clients which authorization server issues tokens for this resource.
func protectedResourceMetadata(resource, issuer string) http.Handler {
	body, _ := json.Marshal(map[string]any{
		"resource":                 resource,
		"authorization_servers":    []string{issuer},
		"scopes_supported":         authn.AllScopes,
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

// Anonymous is the principal of every caller when authentication is off.
var Anonymous = &authn.Principal{Subject: "anonymous", Scopes: []string{authn.ScopeWrite}, Method: "none"}

// requireRESTScope asks articles:read of safe methods and articles:write
// of the rest, answering 401/403 with a challenge before the API runs.
func requireRESTScope(opts authn.Options, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scope := authn.ScopeWrite
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
			scope = authn.ScopeRead
		}
		if opts.Authorize(w, r, []string{scope}) {
			next.ServeHTTP(w, r)
		}
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
