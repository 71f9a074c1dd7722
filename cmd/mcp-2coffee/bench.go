package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/2coffee/mcp-2coffee/internal/bridge"
	"github.com/2coffee/mcp-2coffee/internal/loadgen"
	"github.com/2coffee/mcp-2coffee/internal/mcpcall"
	"github.com/2coffee/mcp-2coffee/internal/oauthclient"
	"github.com/2coffee/mcp-2coffee/internal/tokencache"
)

func benchCommand() *command {
	return &command{
		name:    "bench",
		summary: "Load an MCP server with repeated tools/call (Streamable HTTP, or a spawned stdio command) and report requests/s, latency, errors and the server's memory and CPU.",
		usage: "URL --tool NAME [key=value…] | --stdio --tool NAME [key=value…] -- COMMAND [ARGS…]\n\n" +
			"Over HTTP, --concurrency clients each initialize (when the protocol revision has a handshake), keep the\n" +
			"session the server gives them, and call the tool over and over for --duration or --requests calls, after\n" +
			"a --warmup that is not counted. Only loopback targets are loaded unless --allow-remote is given.\n" +
			"With --stdio, COMMAND is spawned --runs times to time its start-up to the first initialize response, and\n" +
			"the tool is called in sequence in the first run. The output fields are described in docs/BENCHMARKS.md.",
		flags: func(fs *flag.FlagSet) func(context.Context, *environment, []string) error {
			var headers repeated
			fs.Var(&headers, "header", `extra request header "Name: value" (repeatable; ${VAR} is taken from the environment)`)
			bearer := fs.String("bearer", "", "access token or API key sent as Authorization: Bearer (better set through the environment variable; never printed)")
			oauth := fs.Bool("oauth", false, `HTTP: send the OAuth access token "mcp-2coffee login URL" cached for the server (refreshed first when about to expire); never opens a browser`)
			configDir := fs.String("config-dir", "", "token cache directory for --oauth (default: $MCP_2COFFEE_CONFIG_DIR, else the user config dir/mcp-2coffee)")
			tool := fs.String("tool", "", "the tool to call (required)")
			arguments := fs.String("arguments", "", `the tool's arguments as one JSON object, e.g. '{"slug":"hello"}'; key=value words override its members`)
			concurrency := fs.Int("concurrency", loadgen.DefaultConcurrency, "HTTP: clients calling at once, each with one call in flight")
			duration := fs.Duration("duration", 0, "how long to measure after the warm-up (default 10s, or no limit when --requests is given)")
			requests := fs.Int64("requests", 0, "stop after this many measured calls (0: no limit)")
			warmup := fs.Duration("warmup", time.Second, "time spent calling before the measurement starts; those calls are not counted")
			timeout := fs.Duration("timeout", loadgen.DefaultTimeout, "longest wait for one answer (HTTP: counted as a transport error; stdio: ends the run)")
			protocol := fs.String("protocol-version", loadgen.DefaultProtocolVersion, "protocol revision to propose; from 2026-07-28 there is no handshake")
			allowRemote := fs.Bool("allow-remote", false, "HTTP: allow a target that is not this machine (load only servers you run)")
			pid := fs.Int("pid", 0, "HTTP: the server's process id on this machine, to report its peak RSS and CPU seconds during the run (Linux /proc)")
			asJSON := fs.Bool("json", false, "print the report as JSON (fields in docs/BENCHMARKS.md) instead of a table")
			stdio := fs.Bool("stdio", false, "spawn the command after -- and speak MCP on its stdin and stdout")
			runs := fs.Int("runs", 1, "stdio: how many times to spawn the command for the start-up figure")
			return func(ctx context.Context, env *environment, args []string) error {
				if *tool == "" {
					return usageError("--tool NAME is required")
				}
				var target string
				var argv, pairs []string
				if i := slices.Index(args, "--"); i >= 0 {
					args, argv = args[:i], args[i+1:]
				}
				if *stdio {
					if len(argv) == 0 {
						return usageError("--stdio needs the command after --, e.g. bench --stdio --tool get_article -- mcp-2coffee stdio")
					}
					if len(headers) > 0 || *bearer != "" || *oauth || *pid != 0 {
						return usageError("--header, --bearer, --oauth and --pid are for HTTP; give a bridge command its own flags, with a credential as a ${VAR} reference (connect --header 'X-API-KEY: ${KEY}')")
					}
					pairs = args
				} else {
					if len(argv) > 0 {
						return usageError("a command after -- needs --stdio")
					}
					if len(args) == 0 {
						return usageError("want the server's MCP URL, e.g. bench http://127.0.0.1:3000/mcp --tool list_tags")
					}
					target, pairs = args[0], args[1:]
				}
				toolArgs, err := benchArguments(*tool, pairs, *arguments)
				if err != nil {
					return err
				}
				if *stdio {
					r, err := loadgen.RunStdio(ctx, loadgen.StdioOptions{
						Argv: argv, Tool: *tool, Arguments: toolArgs, ProtocolVersion: *protocol, Runs: *runs,
						Duration: *duration, Requests: *requests, Warmup: *warmup, Timeout: *timeout, ClientVersion: version(),
					})
					if err != nil {
						return err
					}
					return printBench(env, r, *asJSON)
				}
				if _, err := loadgen.CheckTarget(target, *allowRemote); err != nil {
					return usageError("%v", err)
				}
				if *oauth {
					if *bearer != "" {
						return usageError("--oauth and --bearer: give one")
					}
					if *bearer, err = cachedToken(ctx, env, target, *configDir); err != nil {
						return err
					}
				}
				header, err := benchHeaders(env, headers, *bearer)
				if err != nil {
					return err
				}
				r, err := loadgen.Run(ctx, loadgen.Options{
					URL: target, AllowRemote: *allowRemote, Header: header, Tool: *tool, Arguments: toolArgs,
					ProtocolVersion: *protocol, Concurrency: *concurrency, Duration: *duration, Requests: *requests,
					Warmup: *warmup, Timeout: *timeout, PID: *pid, ClientVersion: version(),
				})
				if err != nil {
					return err
				}
				return printBench(env, r, *asJSON)
			}
		},
	}
}

// benchArguments builds the tool's arguments as call does (mcpcall.Parse:
// key=value words decoded as JSON where they are JSON, over the --json
// object, here --arguments).
func benchArguments(tool string, pairs []string, object string) (json.RawMessage, error) {
	words := append([]string{tool}, pairs...)
	if object != "" {
		words = append(words, "--json", object)
	}
	req, err := mcpcall.Parse(mcpcall.MethodToolsCall, words)
	if err != nil {
		return nil, usageError("%v", err)
	}
	return json.Marshal(req.Arguments)
}

// benchHeaders checks the --header lines and the --bearer token by the
// rules every client command follows (bridge.ParseHeaders: no transport
// header overridden, ${VAR} expanded, no line breaks).
func benchHeaders(env *environment, lines []string, bearer string) (http.Header, error) {
	lookup := func(name string) (string, bool) {
		v := env.getenv(name)
		return v, v != ""
	}
	header, err := bridge.ParseHeaders(lines, lookup)
	if err != nil {
		return nil, usageError("%v", err)
	}
	if bearer == "" {
		return header, nil
	}
	if header.Get("Authorization") != "" {
		return nil, usageError("--bearer and an Authorization --header: give one")
	}
	// The token goes through the same rule as a header line, but the
	// error never quotes it.
	h, err := bridge.ParseHeaders([]string{"Authorization: Bearer " + bearer}, func(string) (string, bool) { return "", false })
	if err != nil {
		return nil, usageError("--bearer: the token is not a valid header value")
	}
	header.Set("Authorization", h.Get("Authorization"))
	return header, nil
}

func printBench(env *environment, r *loadgen.Report, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(env.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(r); err != nil {
			return err
		}
	} else {
		r.WriteText(env.stdout)
	}
	if r.Requests > 0 && r.OK == 0 {
		return &exitError{code: 1, err: errors.New("no call succeeded")}
	}
	return nil
}

// cachedToken returns the access token the token cache holds for
// serverURL, refreshed when it is about to expire, as connect would send
// it. It never signs in: a load generator that opened a browser in the
// middle of a run would measure the person.
func cachedToken(ctx context.Context, env *environment, serverURL, configDir string) (string, error) {
	store, err := tokencache.Open(configDir)
	if err != nil {
		return "", err
	}
	oc, err := oauthclient.New(oauthclient.Options{
		Store:  store,
		Stderr: env.stderr,
		OpenBrowser: func(context.Context, string) error {
			return errors.New("bench does not sign in")
		},
	})
	if err != nil {
		return "", err
	}
	tok, err := oc.AccessToken(ctx, serverURL)
	if err != nil {
		return "", fmt.Errorf("--oauth: %w", err)
	}
	if tok == "" {
		return "", fmt.Errorf("--oauth: no usable token is cached for %s in %s: run \"mcp-2coffee login %s\" first", serverURL, store.Dir(), serverURL)
	}
	return tok, nil
}
