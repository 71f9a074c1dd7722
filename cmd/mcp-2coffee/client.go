package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/2coffee/mcp-2coffee/internal/bridge"
	"github.com/2coffee/mcp-2coffee/internal/mcpcall"
	"github.com/2coffee/mcp-2coffee/internal/oauthclient"
)

// repeated is a flag that may be given several times.
type repeated []string

func (r *repeated) String() string     { return strings.Join(*r, ", ") }
func (r *repeated) Set(v string) error { *r = append(*r, v); return nil }

// clientFlags are the flags of every command that talks to a remote MCP
// server: connect, call, login, logout. One client library serves them
// all (internal/bridge); call speaks MCP over it with internal/mcpcall.
type clientFlags struct {
	headers       repeated
	headerFile    string
	credentials   repeated
	stepUp        bool
	grant         string
	clientID      string
	clientKeyFile string
	secret        string
	metadataURL   string
	// --grant jwt-bearer: the enterprise identity provider and the ID
	// token exchanged there.
	idTokenFile, idpIssuer, idpClientID, idpSecret string
	port                                           int
	authTimeout                                    time.Duration
	configDir                                      string
	debug                                          bool
	logFile                                        string
}

func (c *clientFlags) register(fs *flag.FlagSet) {
	fs.Var(&c.headers, "header", `extra request header "Name: value" (repeatable; ${VAR} is taken from the environment, so secrets can live in a client config's "env")`)
	fs.StringVar(&c.headerFile, "header-file", "", `file of "Name: value" lines, with ${VAR} expansion`)
	fs.Var(&c.credentials, "credential-header", "name of a --header that carries a credential, besides Authorization and X-API-KEY (repeatable); a refused credential is reported, not answered with a sign-in")
	fs.BoolVar(&c.stepUp, "oauth-step-up", false, "with a credential --header: sign in with OAuth when the server refuses it or asks for more scope, and send the token instead of it from then on")
	fs.StringVar(&c.grant, "grant", "authorization_code", "how to get OAuth tokens: authorization_code (a person signs in through the browser), client_credentials (a machine client: --client-id and --client-secret get a token for the client itself, never opening a browser), or jwt-bearer (enterprise-managed authorization: the user's --id-token-file is exchanged at --idp-issuer for an ID-JAG, which --client-id and --client-secret turn into a token for that user, never opening a browser)")
	fs.StringVar(&c.idTokenFile, "id-token-file", "", "with --grant jwt-bearer: a file holding the user's ID token from the enterprise identity provider (read each time one is needed, so a renewed token is picked up)")
	fs.StringVar(&c.idpIssuer, "idp-issuer", "", "with --grant jwt-bearer: the enterprise identity provider's issuer URL")
	fs.StringVar(&c.idpClientID, "idp-client-id", "", "with --grant jwt-bearer: this client's id at the identity provider (the ID token's audience)")
	fs.StringVar(&c.idpSecret, "idp-client-secret", "", "with --grant jwt-bearer: this client's secret at the identity provider (${VAR} expanded)")
	fs.StringVar(&c.clientID, "client-id", "", "pre-registered OAuth client id")
	fs.StringVar(&c.clientKeyFile, "client-key-file", "", "with --grant client_credentials or jwt-bearer: a PEM private key (EC P-256 or RSA) to authenticate with private_key_jwt (RFC 7523) instead of --client-secret")
	fs.StringVar(&c.secret, "client-secret", "", "pre-registered OAuth client secret (${VAR} expanded: prefer ${MY_SECRET} with the value in env)")
	fs.StringVar(&c.metadataURL, "client-metadata-url", "", "https URL of this client's Client ID Metadata Document, used when the server supports it")
	fs.IntVar(&c.port, "callback-port", 0, "loopback port for the OAuth redirect (default: a free port)")
	fs.DurationVar(&c.authTimeout, "auth-timeout", 5*time.Minute, "how long to wait for the browser sign-in")
	fs.StringVar(&c.configDir, "config-dir", "", "token cache directory (default: $MCP_2COFFEE_CONFIG_DIR, else the user config dir/mcp-2coffee)")
	fs.BoolVar(&c.debug, "debug", false, "log diagnostics (never secrets)")
	fs.StringVar(&c.logFile, "log-file", "", "write logs to this file instead of stderr")
}

// logger logs to stderr or --log-file, at warn level unless --debug.
func (c *clientFlags) logger(env *environment) (*slog.Logger, func(), error) {
	level := slog.LevelWarn
	if c.debug {
		level = slog.LevelDebug
	}
	w, done := env.stderr, func() {}
	if c.logFile != "" {
		f, err := os.OpenFile(c.logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return nil, nil, err
		}
		w, done = f, func() { f.Close() }
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level})), done, nil
}

func (c *clientFlags) newClient(env *environment, serverURL string, logger *slog.Logger) (*bridge.Client, error) {
	lookup := func(name string) (string, bool) {
		v := env.getenv(name)
		return v, v != ""
	}
	secret, err := bridge.ExpandEnv(c.secret, lookup)
	if err != nil {
		return nil, usageError("--client-secret: %v", err)
	}
	var key *oauthclient.ClientKey
	if c.clientKeyFile != "" {
		pemData, err := os.ReadFile(c.clientKeyFile)
		if err != nil {
			return nil, usageError("--client-key-file: %v", err)
		}
		if key, err = oauthclient.ParseClientKey(pemData); err != nil {
			return nil, usageError("--client-key-file %s: %v", c.clientKeyFile, err)
		}
	}
	var enterprise *oauthclient.Enterprise
	if c.grant == oauthclient.GrantJWTBearer {
		if c.idTokenFile == "" || c.idpIssuer == "" || c.idpClientID == "" {
			return nil, usageError("--grant jwt-bearer needs --id-token-file, --idp-issuer and --idp-client-id")
		}
		idpSecret, err := bridge.ExpandEnv(c.idpSecret, lookup)
		if err != nil {
			return nil, usageError("--idp-client-secret: %v", err)
		}
		file := c.idTokenFile
		enterprise = &oauthclient.Enterprise{Issuer: c.idpIssuer, ClientID: c.idpClientID, ClientSecret: idpSecret,
			IDToken: func() (string, error) {
				b, err := os.ReadFile(file)
				if err != nil {
					return "", err
				}
				return strings.TrimSpace(string(b)), nil
			}}
	} else if c.idTokenFile != "" || c.idpIssuer != "" || c.idpClientID != "" || c.idpSecret != "" {
		return nil, usageError("--id-token-file and the --idp- flags go with --grant jwt-bearer")
	}
	cl, err := bridge.New(bridge.Options{
		ServerURL:         serverURL,
		Headers:           c.headers,
		HeaderFile:        c.headerFile,
		CredentialHeaders: c.credentials,
		OAuthStepUp:       c.stepUp,
		LookupEnv:         lookup,
		ConfigDir:         c.configDir,
		Logger:            logger,
		Stderr:            env.stderr,
		OAuth: oauthclient.Options{
			Grant:             c.grant,
			Enterprise:        enterprise,
			ClientID:          c.clientID,
			ClientKey:         key,
			ClientSecret:      secret,
			ClientMetadataURL: c.metadataURL,
			CallbackPort:      c.port,
			Timeout:           c.authTimeout,
		},
	})
	if err != nil {
		return nil, usageError("%v", err)
	}
	return cl, nil
}

// open builds the client for serverURL with its logger; call done when
// finished with it (it closes --log-file).
func (c *clientFlags) open(env *environment, serverURL string) (*bridge.Client, func(), error) {
	logger, done, err := c.logger(env)
	if err != nil {
		return nil, nil, err
	}
	cl, err := c.newClient(env, serverURL, logger)
	if err != nil {
		done()
		return nil, nil, err
	}
	return cl, done, nil
}

// ignoreCancel treats an interrupt as a normal end.
func ignoreCancel(err error) error {
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

func connectCommand() *command {
	return &command{
		name:    "connect",
		summary: "Bridge stdio to a remote MCP server (Streamable HTTP, or legacy HTTP+SSE), with headers or the OAuth sign-in.",
		usage:   "URL",
		flags: func(fs *flag.FlagSet) func(context.Context, *environment, []string) error {
			var c clientFlags
			c.register(fs)
			transport := fs.String("transport", "", "upstream transport: streamable or sse (default: try streamable, fall back to sse)")
			drain := fs.Duration("drain-timeout", bridge.DefaultDrainTimeout, "after stdin closes, how long to wait for the answers still outstanding (a pending sign-in included)")
			return func(ctx context.Context, env *environment, args []string) error {
				if len(args) != 1 {
					return usageError("want one server URL")
				}
				cl, done, err := c.open(env, args[0])
				if err != nil {
					return err
				}
				defer done()
				local := &mcp.IOTransport{Reader: io.NopCloser(env.stdin), Writer: nopWriteCloser{env.stdout}}
				return ignoreCancel(cl.Relay(ctx, bridge.RelayOptions{Local: local, Transport: *transport, DrainTimeout: *drain}))
			}
		},
	}
}

func callCommand() *command {
	return &command{
		name:    "call",
		summary: "Make one MCP request and print the result as JSON (exit status 1 when a tool reports an error).",
		usage:   "URL METHOD [ARGS…] | METHOD [ARGS…] -- COMMAND [ARGS…] | -- COMMAND [ARGS…] -- METHOD [ARGS…]\n\nMETHOD: tools/list, tools/call NAME [key=value…] [--json '{…}'], resources/list, resources/templates/list,\nresources/read URI, prompts/list, prompts/get NAME [key=value…], ping",
		flags: func(fs *flag.FlagSet) func(context.Context, *environment, []string) error {
			var c clientFlags
			c.register(fs)
			format := fs.String("format", "json", "output: json, or text (readable)")
			jsonArgs := fs.String("json", "", `tools/call or prompts/get: the arguments as one JSON object, e.g. '{"query":"go"}'`)
			elicit := fs.String("elicit", "", "answer a server's elicitation requests: decline, or defaults (accept the schema's defaults)")
			return func(ctx context.Context, env *environment, args []string) error {
				if *format != "json" && *format != "text" {
					return usageError("--format %q: want json or text", *format)
				}
				policy, err := mcpcall.ParseElicitPolicy(*elicit)
				if err != nil {
					return usageError("--elicit: %v", err)
				}
				var target string
				var argv, method []string
				if i := slices.Index(args, "--"); i >= 0 {
					before, after := args[:i], args[i+1:]
					if len(before) == 0 {
						j := slices.Index(after, "--")
						if j < 1 || j+1 >= len(after) {
							return usageError("call -- COMMAND [ARGS…] -- METHOD [ARGS…]: the method is missing")
						}
						argv, method = after[:j], after[j+1:]
					} else {
						method, argv = before, after
					}
					if len(argv) == 0 {
						return usageError("the command after -- is missing")
					}
				} else {
					if len(args) < 2 {
						return usageError("want a server URL and a method, e.g. call https://blog.example.com/mcp tools/list")
					}
					target, method = args[0], args[1:]
				}
				rest := method[1:]
				if *jsonArgs != "" {
					rest = append(slices.Clone(rest), "--json", *jsonArgs)
				}
				req, err := mcpcall.Parse(method[0], rest)
				if err != nil {
					return usageError("%v", err)
				}
				opts := mcpcall.Options{Version: version(), Elicit: policy, Stderr: env.stderr}
				var res *mcpcall.Result
				if target != "" {
					cl, done, err := c.open(env, target)
					if err != nil {
						return err
					}
					defer done()
					res, err = mcpcall.Remote(ctx, cl, req, opts)
					if err != nil {
						return err
					}
				} else {
					if res, err = mcpcall.Command(ctx, argv, req, opts); err != nil {
						return err
					}
				}
				if *format == "text" {
					io.WriteString(env.stdout, res.Text())
				} else {
					out, err := res.JSON()
					if err != nil {
						return err
					}
					env.stdout.Write(out)
				}
				if res.IsError {
					return &exitError{code: 1, err: errors.New("the tool reported an error (isError)")}
				}
				return nil
			}
		},
	}
}

func loginCommand(name string) *command {
	summary := "Sign in to a remote MCP server through the browser and cache the tokens."
	if name == "logout" {
		summary = "Revoke and forget the cached tokens of a remote MCP server."
	}
	return &command{
		name:    name,
		summary: summary,
		usage:   "URL",
		flags: func(fs *flag.FlagSet) func(context.Context, *environment, []string) error {
			var c clientFlags
			c.register(fs)
			return func(ctx context.Context, env *environment, args []string) error {
				if len(args) != 1 {
					return usageError("want one server URL")
				}
				if c.grant == "client_credentials" {
					return usageError("--grant client_credentials keeps no sign-in to %s: a machine client gets its token as it connects (call or connect with --grant client_credentials)", name)
				}
				cl, done, err := c.open(env, args[0])
				if err != nil {
					return err
				}
				defer done()
				if name == "login" {
					if err := cl.Login(ctx); err != nil {
						if errors.Is(err, oauthclient.ErrNoAuthRequired) {
							fmt.Fprintln(env.stderr, "The server does not ask for authorization; nothing to sign in to.")
							return nil
						}
						return err
					}
					fmt.Fprintf(env.stderr, "Signed in to %s.\n", args[0])
					return nil
				}
				if err := cl.Logout(ctx); err != nil {
					if errors.Is(err, oauthclient.ErrNotSignedIn) {
						fmt.Fprintf(env.stderr, "Not signed in to %s.\n", args[0])
						return nil
					}
					return err
				}
				fmt.Fprintf(env.stderr, "Signed out of %s; its tokens were revoked and forgotten.\n", args[0])
				return nil
			}
		},
	}
}

func authCommand() *command {
	return &command{
		name:    "auth",
		summary: "Show the servers this machine is signed in to (never tokens).",
		usage:   "status [URL] [--json]",
		flags: func(fs *flag.FlagSet) func(context.Context, *environment, []string) error {
			configDir := fs.String("config-dir", "", "token cache directory")
			asJSON := fs.Bool("json", false, "print JSON")
			return func(ctx context.Context, env *environment, args []string) error {
				if len(args) == 0 || args[0] != "status" || len(args) > 2 {
					return usageError("usage: auth status [URL]")
				}
				url := ""
				if len(args) == 2 {
					url = args[1]
				}
				st, err := bridge.Status(*configDir, url)
				if err != nil {
					return err
				}
				if *asJSON {
					if st == nil {
						st = []oauthclient.Status{}
					}
					enc := json.NewEncoder(env.stdout)
					enc.SetIndent("", "  ")
					return enc.Encode(st)
				}
				if len(st) == 0 {
					fmt.Fprintln(env.stdout, "Not signed in to any server.")
				}
				for _, s := range st {
					fmt.Fprintln(env.stdout, s.String())
				}
				return nil
			}
		},
	}
}
