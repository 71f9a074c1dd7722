// Command mcp-bridge is a development front end to package bridge: the
// same library calls `mcp-2coffee connect`, `call`, `login`, `logout` and
// `auth status` make, with minimal flag handling. It exists to run the
// official MCP conformance suite against the library before the real
// subcommands are wired, and as a reference for that wiring.
//
//	mcp-bridge [flags] connect URL
//	mcp-bridge [flags] call URL METHOD [ARGS…]
//	mcp-bridge [flags] call -- COMMAND [ARGS…] -- METHOD [ARGS…]
//	mcp-bridge [flags] login URL
//	mcp-bridge [flags] logout URL
//	mcp-bridge [flags] status [URL]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/2coffee/mcp-2coffee/internal/bridge"
	"github.com/2coffee/mcp-2coffee/internal/oauthclient"
)

type headerFlags []string

func (h *headerFlags) String() string     { return strings.Join(*h, ", ") }
func (h *headerFlags) Set(v string) error { *h = append(*h, v); return nil }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	code, err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "mcp-bridge:", err)
	}
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) (int, error) {
	fs := flag.NewFlagSet("mcp-bridge", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		headers     headerFlags
		headerFile  = fs.String("header-file", "", "file of \"Name: value\" lines")
		clientID    = fs.String("client-id", "", "pre-registered OAuth client ID")
		secret      = fs.String("client-secret", "", "pre-registered OAuth client secret")
		metadataURL = fs.String("client-metadata-url", "", "Client ID Metadata Document URL")
		port        = fs.Int("callback-port", 0, "loopback port for the OAuth redirect (0: any free port)")
		timeout     = fs.Duration("auth-timeout", 5*time.Minute, "how long to wait for the browser sign-in")
		configDir   = fs.String("config-dir", "", "token cache directory")
		transport   = fs.String("transport", "", "upstream transport: streamable or sse (default: automatic)")
		format      = fs.String("format", "json", "call output: json or text")
		elicit      = fs.String("elicit", "", "call: answer elicitation requests: decline, or defaults (accept the schema's defaults)")
		debug       = fs.Bool("debug", false, "log diagnostics to stderr")
	)
	fs.Var(&headers, "header", "extra request header \"Name: value\" (repeatable, ${VAR} expanded)")
	if err := fs.Parse(args); err != nil {
		return 2, nil
	}
	rest := fs.Args()
	if len(rest) == 0 {
		return 2, errors.New("missing subcommand (connect, call, login, logout, status)")
	}
	level := slog.LevelWarn
	if *debug {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	newClient := func(url string) (*bridge.Client, error) {
		return bridge.New(bridge.Options{
			ServerURL:  url,
			Headers:    headers,
			HeaderFile: *headerFile,
			ConfigDir:  *configDir,
			Logger:     log,
			Stderr:     stderr,
			OAuth: oauthclient.Options{
				ClientID:          *clientID,
				ClientSecret:      *secret,
				ClientMetadataURL: *metadataURL,
				CallbackPort:      *port,
				Timeout:           *timeout,
			},
		})
	}

	policy, err := bridge.ParseElicitPolicy(*elicit)
	if err != nil {
		return 2, err
	}

	cmd, rest := rest[0], rest[1:]
	switch cmd {
	case "connect":
		if len(rest) != 1 {
			return 2, errors.New("usage: connect URL")
		}
		c, err := newClient(rest[0])
		if err != nil {
			return 2, err
		}
		if err := c.Relay(ctx, bridge.RelayOptions{Transport: *transport}); err != nil {
			return 1, err
		}
		return 0, nil

	case "call":
		if len(rest) < 2 {
			return 2, errors.New("usage: call URL METHOD [ARGS…] | call -- COMMAND [ARGS…] -- METHOD [ARGS…]")
		}
		var (
			res *bridge.CallResult
			err error
		)
		if rest[0] == "--" {
			end := slices.Index(rest[1:], "--")
			if end < 1 || end+2 >= len(rest) {
				return 2, errors.New("usage: call -- COMMAND [ARGS…] -- METHOD [ARGS…]")
			}
			argv, mrest := rest[1:end+1], rest[end+2:]
			req, perr := bridge.ParseCall(mrest[0], mrest[1:])
			if perr != nil {
				return 2, perr
			}
			req.Elicit = policy
			res, err = bridge.CallCommand(ctx, argv, bridge.CommandOptions{Stderr: stderr}, req)
		} else {
			req, perr := bridge.ParseCall(rest[1], rest[2:])
			if perr != nil {
				return 2, perr
			}
			req.Elicit = policy
			c, cerr := newClient(rest[0])
			if cerr != nil {
				return 2, cerr
			}
			res, err = c.Call(ctx, req)
		}
		if err != nil {
			return 1, err
		}
		if *format == "text" {
			io.WriteString(stdout, res.Text())
		} else {
			out, err := res.JSON()
			if err != nil {
				return 1, err
			}
			stdout.Write(out)
		}
		if res.IsError {
			return 1, nil
		}
		return 0, nil

	case "login", "logout":
		if len(rest) != 1 {
			return 2, fmt.Errorf("usage: %s URL", cmd)
		}
		c, err := newClient(rest[0])
		if err != nil {
			return 2, err
		}
		if cmd == "login" {
			err = c.Login(ctx)
		} else {
			err = c.Logout(ctx)
		}
		if err != nil {
			return 1, err
		}
		return 0, nil

	case "status":
		url := ""
		if len(rest) == 1 {
			url = rest[0]
		}
		st, err := bridge.Status(*configDir, url)
		if err != nil {
			return 1, err
		}
		if len(st) == 0 {
			fmt.Fprintln(stdout, "no servers signed in")
		}
		for _, s := range st {
			fmt.Fprintln(stdout, s.String())
		}
		return 0, nil
	}
	return 2, fmt.Errorf("unknown subcommand %q", cmd)
}
