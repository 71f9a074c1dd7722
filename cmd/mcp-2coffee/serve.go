package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/2coffee/mcp-2coffee/internal/apikey"
	"github.com/2coffee/mcp-2coffee/internal/authn"
	"github.com/2coffee/mcp-2coffee/internal/authserver"
	"github.com/2coffee/mcp-2coffee/internal/blog"
	"github.com/2coffee/mcp-2coffee/internal/cimd"
	"github.com/2coffee/mcp-2coffee/internal/extauth"
	"github.com/2coffee/mcp-2coffee/internal/firstrun"
	"github.com/2coffee/mcp-2coffee/internal/gcfloor"
	"github.com/2coffee/mcp-2coffee/internal/httpserver"
	"github.com/2coffee/mcp-2coffee/internal/mcpserver"
	"github.com/2coffee/mcp-2coffee/internal/oauth"
	"github.com/2coffee/mcp-2coffee/internal/oidclogin"
	"github.com/2coffee/mcp-2coffee/internal/restapi"
	"github.com/2coffee/mcp-2coffee/internal/store"
	"github.com/2coffee/mcp-2coffee/internal/webaddr"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"golang.org/x/sync/errgroup"
)

func serveCommand() *command {
	return &command{
		name:    "serve",
		summary: "Serve MCP over Streamable HTTP at /mcp, the REST API at /api/v1, /healthz, /readyz and /metrics.",
		flags: func(fs *flag.FlagSet) func(context.Context, *environment, []string) error {
			var c commonFlags
			c.registerServing(fs)
			addr := fs.String("addr", "127.0.0.1:3000", "address to listen on")
			publicURL := fs.String("public-url", "", "the URL clients use to reach this server, e.g. https://blog.example.com (default: http://ADDR); required when listening beyond loopback")
			origins := fs.String("allowed-origin", "", "comma-separated extra browser origins allowed to call, e.g. https://app.example.com")
			authMode := fs.String("auth", "apikey", "authentication: apikey (API keys, plus OAuth unless --oauth=off), or none (development only; loopback only)")
			oauthMode := fs.String("oauth", "builtin", "OAuth 2.1 authorization server: builtin, external (trust the one at --oauth-issuer), or off (API keys only)")
			var ext externalFlags
			ext.register(fs)
			var login loginFlags
			login.register(fs)
			enterprise := fs.String("enterprise-issuer", "", "with --oauth=builtin: trust ID-JAGs from this enterprise identity provider (enterprise-managed authorization): a client added with --grant jwt-bearer exchanges one for a token of the user it names, with no browser")
			refreshGrace := fs.Duration("refresh-grace", 30*time.Second, "how long a rotated refresh token may be reused (clients retry) before reuse revokes its family")
			maxBody := fs.Int64("max-body-bytes", blog.MaxRequestBytes, "largest request body accepted")
			trustedProxy := fs.String("trusted-proxy", "", "comma-separated addresses or CIDRs of reverse proxies whose X-Forwarded-For names the client (for rate limits and logs), e.g. 127.0.0.1")
			metricsAddr := fs.String("metrics-addr", "", "serve /metrics, /healthz and /readyz on this separate address too (keep it off the public network), and no longer /metrics on --addr, e.g. 127.0.0.1:9090")
			secrets := fs.String("first-run-secrets", "auto", "where a first run's admin key and password go: auto (standard error when it is a terminal, else a 0600 file "+secretsFileName+" beside the database), stderr, or a file path")
			gcFloor := fs.String("gc-floor", "16MiB", "let the Go memory of the process grow to this much before collecting while the live heap is small (fewer collections under load); 0 turns it off, as does setting GOGC or GOMEMLIMIT")
			grace := fs.Duration("shutdown-grace", 20*time.Second, "how long in-flight requests may take to finish on SIGINT/SIGTERM")
			return func(ctx context.Context, env *environment, args []string) error {
				if len(args) > 0 {
					return usageError("unexpected arguments %q", args)
				}
				logger, err := c.logger(env.stderr)
				if err != nil {
					return err
				}
				floor, err := gcfloor.ParseSize(*gcFloor)
				if err != nil {
					return usageError("--gc-floor: %v", err)
				}
				// An operator who set GOGC or GOMEMLIMIT has chosen how the
				// collector runs; the floor stays out of the way.
				gcState := "default"
				switch {
				case env.getenv("GOGC") != "" || env.getenv("GOMEMLIMIT") != "":
					gcState = "GOGC/GOMEMLIMIT"
				case floor > 0:
					defer gcfloor.Floor(floor, 100)()
					gcState = "floor " + *gcFloor
				}
				host, _, err := net.SplitHostPort(*addr)
				if err != nil {
					return usageError("--addr %q: %v", *addr, err)
				}
				loopback := webaddr.IsLoopback(host)
				loginCfg, err := login.config(fs)
				if err != nil {
					return err
				}
				if loginCfg != nil && (*oauthMode != "builtin" || *authMode != "apikey") {
					return usageError("--login-provider signs people in to the built-in authorization server; it needs --oauth=builtin")
				}
				if c.keep < 0 {
					return usageError("--revisions-keep %d: want 0 (keep all) or more", c.keep)
				}
				if *enterprise != "" && (*oauthMode != "builtin" || *authMode != "apikey") {
					return usageError("--enterprise-issuer is trusted by the built-in authorization server; it needs --oauth=builtin")
				}
				var external *extauth.Config
				switch *oauthMode {
				case "builtin", "off":
					if name := ext.setIn(fs); name != "" {
						return usageError("--%s applies only to --oauth=external", name)
					}
				case "external":
					if *authMode != "apikey" {
						return usageError("--oauth=external needs --auth=apikey")
					}
					if external, err = ext.config(); err != nil {
						return err
					}
				default:
					return usageError("--oauth %q: want builtin, external or off", *oauthMode)
				}
				switch *authMode {
				case "apikey":
				case "none":
					if !loopback {
						return usageError("--auth=none serves everyone without authentication and is refused unless --addr is a loopback address")
					}
				default:
					return usageError("--auth %q: want apikey or none", *authMode)
				}
				if !loopback && *publicURL == "" {
					return usageError("--public-url is required when listening on %s: clients and OAuth metadata must name the address they really use", *addr)
				}

				db, err := c.openStore(ctx, logger)
				if err != nil {
					return err
				}
				defer db.Close()
				if err := c.seedSamples(ctx, db, logger); err != nil {
					return err
				}
				ln, err := net.Listen("tcp", *addr)
				if err != nil {
					return fmt.Errorf("listen: %w", err)
				}
				defer ln.Close()
				base := *publicURL
				if base == "" {
					base = "http://" + ln.Addr().String()
				}
				pub, err := parsePublicURL(base)
				if err != nil {
					return usageError("--public-url: %v", err)
				}
				mcpURL := httpserver.MCPURL(pub)

				extra := splitList(*origins)
				proxies, err := httpserver.ParsePrefixes(*trustedProxy)
				if err != nil {
					return usageError("--trusted-proxy: %v", err)
				}
				var opsLn net.Listener
				if *metricsAddr != "" {
					if opsLn, err = net.Listen("tcp", *metricsAddr); err != nil {
						return fmt.Errorf("listen on --metrics-addr: %w", err)
					}
					defer opsLn.Close()
				}
				secretsOut, secretsDone, err := secretsOutput(*secrets, c.database, env.stderr)
				if err != nil {
					return err
				}
				srv, err := buildServer(ctx, serverSetup{
					clientIP: httpserver.ClientIP(proxies),
					db:       db, public: pub, listenAddr: ln.Addr().String(), origins: extra,
					apiKeys: *authMode == "apikey", oauth: *authMode == "apikey" && *oauthMode == "builtin", external: external,
					login: loginCfg, passwordLogin: login.passwordLogin, enterprise: *enterprise, keep: c.keep,
					refreshGrace: *refreshGrace, maxBody: *maxBody, logger: logger, out: secretsOut,
					separateOps: opsLn != nil,
				})
				secretsDone(logger)
				if err != nil {
					return err
				}
				oauthState := "off"
				switch {
				case srv.authServer != nil:
					oauthState = srv.authServer.Issuer()
				case srv.external != nil:
					oauthState = "external " + srv.external.Issuer() + " (" + srv.external.Mode() + ")"
				}
				if opsLn == nil {
					logger.Info("serving", "mcp", mcpURL, "listen", ln.Addr().String(), "auth", *authMode, "oauth", oauthState, "database", store.Redact(c.database), "gc", gcState)
					return httpserver.Serve(ctx, ln, srv.handler, logger, *grace)
				}
				// Two listeners, one lifetime: either failing stops both.
				g, gctx := errgroup.WithContext(ctx)
				g.Go(func() error { return httpserver.Serve(gctx, ln, srv.handler, logger, *grace) })
				g.Go(func() error { return httpserver.Serve(gctx, opsLn, srv.ops, logger, *grace) })
				logger.Info("serving", "mcp", mcpURL, "listen", ln.Addr().String(), "metrics", "http://"+opsLn.Addr().String()+"/metrics",
					"auth", *authMode, "oauth", oauthState, "database", store.Redact(c.database), "gc", gcState)
				return g.Wait()
			}
		},
	}
}

// serverSetup is what buildServer wires together.
type serverSetup struct {
	db         store.Backend
	public     *url.URL
	listenAddr string
	origins    []string
	apiKeys    bool            // false: --auth=none
	oauth      bool            // the built-in authorization server
	external   *extauth.Config // or an external one (--oauth=external)
	// login: the built-in server signs people in at this provider, and
	// with passwords too unless !passwordLogin.
	login         *oidclogin.Config
	passwordLogin bool
	// enterprise: the issuer of the enterprise identity provider whose
	// ID-JAGs the built-in server takes (the jwt-bearer grant).
	enterprise   string
	keep         int // revisions kept per article; 0 all
	refreshGrace time.Duration
	maxBody      int64
	logger       *slog.Logger
	out          io.Writer     // where first-run secrets are printed
	cimd         *cimd.Fetcher // nil: the default guarded fetcher
	tokenTTL     time.Duration // 0: the authorization server's default
	clientIP     func(*http.Request) string
	separateOps  bool // --metrics-addr: /metrics on its own listener
}

// server is what buildServer assembles: the public handler, the handler
// of the operations listener (--metrics-addr), and the authorization
// server when OAuth is on.
type server struct {
	handler    http.Handler
	ops        http.Handler
	authServer *authserver.Server
	external   *extauth.Verifier
}

// buildServer is the composition root of serve: it builds the API keys,
// the authorization server, the authenticator (credential → principal,
// scope checks), the MCP server with its go-sdk Streamable HTTP handler
// and the REST API, and hands them to httpserver, which applies the
// guard, limits and metrics. End-to-end tests call it too, to swap in a
// CIMD fetcher that reaches their own metadata server.
func buildServer(ctx context.Context, s serverSetup) (*server, error) {
	if s.maxBody <= 0 {
		s.maxBody = blog.MaxRequestBytes
	}
	// One limit for the guard, the scope check, the go-sdk and the REST API.
	mcpURL := httpserver.MCPURL(s.public)
	site := firstrun.Site{MCPURL: mcpURL, BaseURL: s.public.String()}
	metrics := httpserver.NewMetrics()
	auth := &authn.Authenticator{Logger: s.logger, OnFailure: metrics.AuthFailure, MaxBodyBytes: s.maxBody, ClientIP: s.clientIP}
	authenticate := authn.Assume(authn.Anonymous)
	// The REST API is a resource of its own (RFC 8707): a token for /mcp
	// does not open it, and its challenges name its own metadata.
	restURL := httpserver.ResourceURL(s.public, restapi.Prefix)
	restAuth := *auth
	authenticateREST := authenticate

	keys := apikey.New(s.db, apikey.Options{Logger: s.logger})
	var authServer *authserver.Server
	if s.apiKeys {
		auth.Verify = keys.Verify
		restAuth.Verify = keys.Verify
		if err := firstrun.AdminKey(ctx, s.db, keys, s.out, site); err != nil {
			return nil, err
		}
	} else {
		s.logger.Warn("AUTHENTICATION IS OFF (--auth=none): anyone who can reach " + mcpURL + " may read and change every article. Use this for local development only.")
	}
	if s.oauth {
		fetcher := s.cimd
		if fetcher == nil {
			fetcher = &cimd.Fetcher{}
		}
		var provider *oidclogin.Provider
		if s.login != nil {
			cfg := *s.login
			cfg.RedirectURL = strings.TrimSuffix(s.public.String(), "/") + authserver.PathLoginCallback
			dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			var err error
			provider, err = oidclogin.New(dctx, cfg)
			cancel()
			if err != nil {
				return nil, fmt.Errorf("the sign-in provider %s: %w", cfg.Issuer, err)
			}
		}
		var grants authserver.EnterpriseGrants
		if s.enterprise != "" {
			dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			g, err := extauth.NewGrantVerifier(dctx, extauth.GrantConfig{
				Issuer: s.enterprise, Audience: strings.TrimSuffix(s.public.String(), "/"), Logger: s.logger,
			})
			cancel()
			if err != nil {
				return nil, fmt.Errorf("the enterprise identity provider %s: %w", s.enterprise, err)
			}
			grants = g
		}
		var err error
		authServer, err = authserver.New(authserver.Config{
			Enterprise:            grants,
			Login:                 provider,
			NoPasswordLogin:       provider != nil && !s.passwordLogin,
			Issuer:                s.public,
			Resource:              mcpURL,
			Resources:             []string{restURL},
			Store:                 s.db,
			MetadataFetcher:       cimdFetcher{fetcher},
			IntrospectionVerifier: keys.Verify,
			Logger:                s.logger,
			RefreshGrace:          s.refreshGrace,
			AccessTokenLifetime:   s.tokenTTL,
			ClientIP:              s.clientIP,
		})
		if err != nil {
			return nil, usageError("OAuth: %v", err)
		}
		// Our access tokens first: they are what OAuth clients send on
		// every request; a key is recognised by its prefix anyway.
		auth.Verify = authn.Chain(authServer.VerifyAccessToken, keys.Verify)
		auth.ResourceMetadataURL = httpserver.ResourceMetadataURL(s.public)
		restAuth.Verify = authn.Chain(authServer.VerifierFor(restURL), keys.Verify)
		restAuth.ResourceMetadataURL = httpserver.ResourceMetadataURLOf(s.public, restapi.Prefix)
		// With the password form off, a first user with a password
		// could never sign in: people come from the provider.
		if provider == nil || s.passwordLogin {
			if err := firstrun.AdminUser(ctx, s.db, authServer.Admin(), s.out, site); err != nil {
				return nil, err
			}
		}
		go authServer.RunCleanup(ctx, time.Hour)
	}
	var external *extauth.Verifier
	if s.external != nil {
		cfg := *s.external
		cfg.Logger = s.logger
		dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		var err error
		external, err = extauth.New(dctx, cfg)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("the external authorization server %s: %w", cfg.Issuer, err)
		}
		// API keys first when tokens are introspected, so a key is never
		// sent to the provider; a JWT verifier declines a key by its form.
		mcpVerify, restVerify := external.For(mcpURL), external.For(restURL)
		if external.Mode() == "introspection" {
			auth.Verify = authn.Chain(keys.Verify, notAKey(mcpVerify))
			restAuth.Verify = authn.Chain(keys.Verify, notAKey(restVerify))
		} else {
			auth.Verify = authn.Chain(mcpVerify, keys.Verify)
			restAuth.Verify = authn.Chain(restVerify, keys.Verify)
		}
		auth.ResourceMetadataURL = httpserver.ResourceMetadataURL(s.public)
		restAuth.ResourceMetadataURL = httpserver.ResourceMetadataURLOf(s.public, restapi.Prefix)
		auth.ScopeName, restAuth.ScopeName = cfg.Scopes.Name, cfg.Scopes.Name
	}
	if auth.Verify != nil {
		authenticate = auth.Middleware
		authenticateREST = restAuth.Middleware
	}

	articles := blog.NewService(s.db, nil)
	articles.KeepRevisions(s.keep)
	mcpServer := mcpserver.New(articles, mcpserver.Options{
		Version:    version(),
		Logger:     s.logger,
		OnToolCall: metrics.ToolCall,
		Stateless:  true, // as the handler below
	})
	mcpHandler := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return mcpServer }, &mcp.StreamableHTTPOptions{
		// Stateless: no session lives in this process, so any replica
		// answers any request, and the go-sdk negotiates 2026-07-28.
		Stateless:    true,
		JSONResponse: true,
		Logger:       s.logger,
		// httpserver's guard checks Host against --public-url; the SDK's
		// own check would refuse a public host name behind a proxy.
		DisableLocalhostProtection: true,
		MaxRequestBodyBytes:        s.maxBody,
	})
	api := restapi.New(articles, restapi.Options{Logger: s.logger, MaxBodyBytes: s.maxBody})

	cfg := httpserver.Config{
		PublicURL:        s.public,
		ListenAddr:       s.listenAddr,
		AllowedOrigins:   s.origins,
		MCP:              auth.RequireMCPScopes(mcpserver.Scopes())(mcpHandler),
		REST:             restAuth.RequireScopeFor(restapi.Scope)(api),
		Authenticate:     authenticate,
		AuthenticateREST: authenticateREST,
		RESTPrefix:       restapi.Prefix,
		Ready:            s.db.Ping,
		Logger:           s.logger,
		Metrics:          metrics,
		MaxBodyBytes:     s.maxBody,
		SeparateOps:      s.separateOps,
	}
	if authServer != nil { // a nil *authserver.Server in the interface would not be nil
		cfg.AuthServer = authServer
	}
	if external != nil {
		cfg.Issuer, cfg.Scopes = external.Issuer(), external.ScopesSupported()
	}
	h, err := httpserver.New(cfg)
	if err != nil {
		return nil, usageError("%v", err)
	}
	return &server{handler: h, ops: httpserver.OpsHandler(cfg), authServer: authServer, external: external}, nil
}

// notAKey keeps anything shaped like one of our API keys (even one the
// key verifier found malformed: a character short, say) from reaching v,
// which would send it to the provider's introspection endpoint.
func notAKey(v authn.Verifier) authn.Verifier {
	return func(ctx context.Context, credential string) (*authn.Principal, error) {
		if strings.HasPrefix(credential, apikey.Prefix) {
			return nil, authn.ErrUnrecognized
		}
		return v(ctx, credential)
	}
}

// parsePublicURL checks the public URL: http(s), a host, no query,
// fragment or credentials; plain http only for loopback hosts, because the
// MCP authorization spec requires HTTPS everywhere else.
func parsePublicURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, err
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("%q: want an http:// or https:// URL", s)
	case u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "":
		return nil, fmt.Errorf("%q: want scheme://host[:port][/path] without credentials, query or fragment", s)
	case u.EscapedPath() != u.Path:
		return nil, fmt.Errorf("%q: give a path of plain characters (letters, digits, '-', '.', '_', '~', '/'), which needs no escaping in a URL", s)
	case webaddr.Origin(u) == "":
		return nil, fmt.Errorf("%q: the host is not one clients can name in a URL (no zone, no %%-escapes)", s)
	case u.Scheme == "http" && !webaddr.IsLoopback(u.Hostname()):
		return nil, fmt.Errorf("%q: clients must reach a non-loopback server over https (put a TLS-terminating proxy in front)", s)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	return u, nil
}

// cimdFetcher adapts the guarded Client ID Metadata Document fetcher to
// the authorization server's interface.
type cimdFetcher struct{ f *cimd.Fetcher }

func (c cimdFetcher) Fetch(ctx context.Context, url string) (*oauth.ClientMetadata, error) {
	d, err := c.f.Fetch(ctx, url)
	if err != nil {
		return nil, err
	}
	return &oauth.ClientMetadata{
		ClientID: d.ClientID, ClientName: d.ClientName, RedirectURIs: d.RedirectURIs,
		TokenEndpointAuthMethod: d.TokenEndpointAuthMethod, GrantTypes: d.GrantTypes,
		ResponseTypes: d.ResponseTypes, ClientURI: d.ClientURI, LogoURI: d.LogoURI, Scope: d.Scope,
	}, nil
}
