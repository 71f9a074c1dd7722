package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
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
	"github.com/2coffee/mcp-2coffee/internal/httpserver"
	"github.com/2coffee/mcp-2coffee/internal/oauth"
	"github.com/2coffee/mcp-2coffee/internal/store/sqlite"
)

func serveCommand() *command {
	return &command{
		name:    "serve",
		summary: "Serve MCP over Streamable HTTP at /mcp, the REST API at /api/v1, /healthz, /readyz and /metrics.",
		flags: func(fs *flag.FlagSet) func(context.Context, *environment, []string) error {
			var c commonFlags
			c.register(fs)
			addr := fs.String("addr", "127.0.0.1:3000", "address to listen on")
			publicURL := fs.String("public-url", "", "the URL clients use to reach this server, e.g. https://blog.example.com (default: http://ADDR); required when listening beyond loopback")
			origins := fs.String("allowed-origin", "", "comma-separated extra browser origins allowed to call, e.g. https://app.example.com")
			authMode := fs.String("auth", "apikey", "authentication: apikey (API keys, plus OAuth unless --oauth=off), or none (development only; loopback only)")
			oauthMode := fs.String("oauth", "builtin", "OAuth 2.1 authorization server: builtin, or off (API keys only)")
			refreshGrace := fs.Duration("refresh-grace", 30*time.Second, "how long a rotated refresh token may be reused (clients retry) before reuse revokes its family")
			maxBody := fs.Int64("max-body-bytes", httpserver.DefaultMaxBodyBytes, "largest request body accepted")
			trustedProxy := fs.String("trusted-proxy", "", "comma-separated addresses or CIDRs of reverse proxies whose X-Forwarded-For names the client (for rate limits and logs), e.g. 127.0.0.1")
			grace := fs.Duration("shutdown-grace", 20*time.Second, "how long in-flight requests may take to finish on SIGINT/SIGTERM")
			return func(ctx context.Context, env *environment, args []string) error {
				if len(args) > 0 {
					return usageError("unexpected arguments %q", args)
				}
				logger, err := c.logger(env.stderr)
				if err != nil {
					return err
				}
				host, _, err := net.SplitHostPort(*addr)
				if err != nil {
					return usageError("--addr %q: %v", *addr, err)
				}
				loopback := isLoopback(host)
				switch *oauthMode {
				case "builtin", "off":
				default:
					return usageError("--oauth %q: want builtin or off", *oauthMode)
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
				mcpURL := strings.TrimSuffix(pub.String(), "/") + httpserver.MCPPath

				var extra []string
				for _, o := range strings.Split(*origins, ",") {
					if o = strings.TrimSpace(o); o != "" {
						extra = append(extra, o)
					}
				}
				proxies, err := httpserver.ParsePrefixes(*trustedProxy)
				if err != nil {
					return usageError("--trusted-proxy: %v", err)
				}
				h, oauth, err := buildServer(ctx, serverSetup{
					clientIP: httpserver.ClientIP(proxies),
					db:       db, public: pub, listenAddr: ln.Addr().String(), origins: extra,
					apiKeys: *authMode == "apikey", oauth: *authMode == "apikey" && *oauthMode == "builtin",
					refreshGrace: *refreshGrace, maxBody: *maxBody, logger: logger, out: env.stderr,
				})
				if err != nil {
					return err
				}
				oauthState := "off"
				if oauth != nil {
					oauthState = oauth.Issuer()
				}
				logger.Info("serving", "mcp", mcpURL, "listen", ln.Addr().String(), "auth", *authMode, "oauth", oauthState, "database", c.database)
				return httpserver.Serve(ctx, ln, h, logger, *grace)
			}
		},
	}
}

// serverSetup is what buildServer wires together.
type serverSetup struct {
	db           *sqlite.DB
	public       *url.URL
	listenAddr   string
	origins      []string
	apiKeys      bool // false: --auth=none
	oauth        bool // the built-in authorization server
	refreshGrace time.Duration
	maxBody      int64
	logger       *slog.Logger
	out          io.Writer     // where first-run secrets are printed
	cimd         *cimd.Fetcher // nil: the default guarded fetcher
	tokenTTL     time.Duration // 0: the authorization server's default
	clientIP     func(*http.Request) string
}

// buildServer assembles the HTTP handler of serve: API keys, the
// authorization server, the verifier chain and the routes. End-to-end
// tests call it too, to swap in a CIMD fetcher that reaches their own
// metadata server.
func buildServer(ctx context.Context, s serverSetup) (http.Handler, *authserver.Server, error) {
	mcpURL := strings.TrimSuffix(s.public.String(), "/") + httpserver.MCPPath
	keys := apikey.New(s.db, apikey.Options{Logger: s.logger})
	var verify authn.Verifier
	var oauth *authserver.Server
	if s.apiKeys {
		verify = keys.Verify
		if err := firstRunKey(ctx, keys, s.out, mcpURL, s.public.String()); err != nil {
			return nil, nil, err
		}
	} else {
		s.logger.Warn("AUTHENTICATION IS OFF (--auth=none): anyone who can reach " + mcpURL + " may read and change every article. Use this for local development only.")
	}
	if s.oauth {
		fetcher := s.cimd
		if fetcher == nil {
			fetcher = &cimd.Fetcher{}
		}
		var err error
		oauth, err = authserver.New(authserver.Config{
			Issuer:                s.public,
			Resource:              mcpURL,
			Store:                 s.db,
			MetadataFetcher:       cimdFetcher{fetcher},
			IntrospectionVerifier: keys.Verify,
			Logger:                s.logger,
			RefreshGrace:          s.refreshGrace,
			AccessTokenLifetime:   s.tokenTTL,
			ClientIP:              s.clientIP,
		})
		if err != nil {
			return nil, nil, usageError("OAuth: %v", err)
		}
		verify = authn.Chain(oauth.VerifyAccessToken, keys.Verify)
		if err := firstRunUser(ctx, oauth.Admin(), s.out, s.public.String()); err != nil {
			return nil, nil, err
		}
		go oauth.RunCleanup(ctx, time.Hour)
	}
	h, err := httpserver.New(httpserver.Config{
		PublicURL:      s.public,
		ListenAddr:     s.listenAddr,
		AllowedOrigins: s.origins,
		Articles:       blog.NewService(s.db, nil),
		Verify:         verify,
		Ready:          func(ctx context.Context) error { return s.db.SQL().PingContext(ctx) },
		Logger:         s.logger,
		MaxBodyBytes:   s.maxBody,
		Version:        version(),
		OAuth:          oauth,
	})
	if err != nil {
		return nil, nil, usageError("%v", err)
	}
	return h, oauth, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
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
	case u.Scheme == "http" && !isLoopback(u.Hostname()):
		return nil, fmt.Errorf("%q: clients must reach a non-loopback server over https (put a TLS-terminating proxy in front)", s)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	return u, nil
}

// firstRunKey creates an admin key when the database has none at all and
// prints it once, with configs ready to paste. Later runs print no secret.
func firstRunKey(ctx context.Context, keys *apikey.Manager, w io.Writer, mcpURL, baseURL string) error {
	existing, err := keys.List(ctx)
	if err != nil {
		return err
	}
	if len(existing) > 0 {
		return nil
	}
	plain, k, err := keys.Create(ctx, "admin", []string{authn.ScopeWrite}, 0)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "\nFirst run: created the API key %q (id %s, scope %s). It is shown only now; store it safely.\n\n    %s\n\n",
		k.Name, k.ID, strings.Join(k.Scopes, " "), plain)
	fmt.Fprint(w, clientConfigs(mcpURL, baseURL, plain))
	fmt.Fprintf(w, "Clients that sign in with OAuth (Claude.ai and ChatGPT connectors, VS Code, Cursor, npx mcp-remote %s) need no key:\nthey discover the sign-in pages from the server.\n\n", mcpURL)
	fmt.Fprintln(w, "Make more keys with \"mcp-2coffee keys create --name NAME --scope articles:read\"; list or revoke them with \"keys list\" / \"keys revoke ID\".")
	fmt.Fprintln(w)
	return nil
}

// firstRunUser creates the user "admin" with a random password when the
// authorization server has no user at all, and prints the password once:
// without a user nobody could complete the OAuth sign-in.
func firstRunUser(ctx context.Context, admin *oauth.Admin, w io.Writer, baseURL string) error {
	users, err := admin.ListUsers(ctx)
	if err != nil || len(users) > 0 {
		return err
	}
	password := rand.Text()
	if err := admin.CreateUser(ctx, "admin", password); err != nil {
		return err
	}
	fmt.Fprintf(w, "First run: created the user \"admin\" for OAuth sign-in at %s/oauth/login. Its password is shown only now:\n\n    %s\n\n", baseURL, password)
	fmt.Fprintln(w, "Change it with \"mcp-2coffee users passwd admin\"; add people with \"mcp-2coffee users add NAME\".")
	fmt.Fprintln(w)
	return nil
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

// clientConfigs renders ready-to-paste client configurations for key.
func clientConfigs(mcpURL, baseURL, key string) string {
	indent := func(v any) string {
		b, _ := json.MarshalIndent(v, "    ", "  ")
		return "    " + string(b) + "\n\n"
	}
	type obj = map[string]any
	var b strings.Builder
	b.WriteString("Claude Desktop (claude_desktop_config.json), through mcp-remote:\n")
	b.WriteString(indent(obj{"mcpServers": obj{"mcp-2coffee": obj{
		"command": "npx",
		"args":    []string{"mcp-remote", mcpURL, "--header", "X-API-KEY: " + key},
	}}}))
	b.WriteString("VS Code (.vscode/mcp.json):\n")
	b.WriteString(indent(obj{"servers": obj{"mcp-2coffee": obj{
		"type":    "http",
		"url":     mcpURL,
		"headers": obj{"X-API-KEY": key},
	}}}))
	b.WriteString("Any stdio client, with the key in env (mcp-2coffee on the PATH):\n")
	b.WriteString(indent(obj{"mcpServers": obj{"mcp-2coffee": obj{
		"command": "mcp-2coffee",
		"args":    []string{"stdio", "--api-url", baseURL},
		"env":     obj{"X-API-KEY": key},
	}}}))
	return b.String()
}
