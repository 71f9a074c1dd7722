package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/2coffee/mcp-2coffee/internal/authn"
	"github.com/2coffee/mcp-2coffee/internal/blog"
	"github.com/2coffee/mcp-2coffee/internal/mcpserver"
	"github.com/2coffee/mcp-2coffee/internal/remote"
	"github.com/2coffee/mcp-2coffee/internal/store"
	"github.com/2coffee/mcp-2coffee/internal/webaddr"
)

// apiKeyEnv are the environment variables stdio --api-url reads the key
// from, in order. X-API-KEY is written exactly as MCP client configs
// write it in their "env" block.
var apiKeyEnv = []string{"X-API-KEY", "MCP_2COFFEE_API_KEY"}

func stdioCommand() *command {
	return &command{
		name:    "stdio",
		summary: "Serve MCP on stdin/stdout, for a desktop client that starts this process (logs go to stderr).",
		flags: func(fs *flag.FlagSet) func(context.Context, *environment, []string) error {
			var c commonFlags
			c.registerServing(fs)
			apiURL := fs.String("api-url", "", "serve the blog of a remote mcp-2coffee through its REST API instead of the local database; the key comes from $X-API-KEY (or $MCP_2COFFEE_API_KEY)")
			readOnly := fs.Bool("read-only", false, "leave out the tools that change articles")
			return func(ctx context.Context, env *environment, args []string) error {
				if len(args) > 0 {
					return usageError("unexpected arguments %q", args)
				}
				logger, err := c.logger(env.stderr)
				if err != nil {
					return err
				}
				var articles blog.Articles
				if *apiURL != "" {
					articles, err = remoteArticles(*apiURL, env)
					if err != nil {
						return err
					}
					logger.Info("serving a remote blog over stdio", "api_url", *apiURL)
					if u, err := url.Parse(*apiURL); err == nil && u.Scheme == "http" && !webaddr.IsLoopback(u.Hostname()) {
						logger.Warn("--api-url is plain http to a host that is not this machine: the API key travels unencrypted; use https")
					}
				} else {
					db, err := c.openStore(ctx, logger)
					if err != nil {
						return err
					}
					defer db.Close()
					if err := c.seedSamples(ctx, db, logger); err != nil {
						return err
					}
					if articles, err = c.service(db); err != nil {
						return err
					}
					logger.Info("serving the local blog over stdio", "database", store.Redact(c.database))
				}
				server := mcpserver.New(articles, mcpserver.Options{
					Version:  version(),
					Logger:   logger,
					ReadOnly: *readOnly,
					// Whoever started this process owns it; a remote blog
					// enforces its key's scopes on its side.
					Principal: func(context.Context) *authn.Principal { return authn.Local },
				})
				transport := mcpserver.StdioTransport(env.stdin, nopWriteCloser{env.stdout}, stdioDrain)
				return runStdio(ctx, server, transport, logger)
			}
		},
	}
}

// stdioDrain bounds how long stdio keeps answering the requests it has
// read once the client has closed stdin.
const stdioDrain = 30 * time.Second

// runStdio serves one session on transport until the client closes its
// side or ctx ends. A signal is how clients and supervisors stop a stdio
// server (supergateway's stateless mode sends SIGTERM after every request),
// so it is logged at INFO like the client hanging up; only a broken
// session is an error. (mcp.Server.Run logs every cancellation at ERROR,
// which is why this loop is ours.)
func runStdio(ctx context.Context, server *mcp.Server, transport mcp.Transport, logger *slog.Logger) error {
	ss, err := server.Connect(ctx, transport, nil)
	if err != nil {
		return fmt.Errorf("stdio session: %w", err)
	}
	ended := make(chan error, 1)
	go func() { ended <- ss.Wait() }()
	select {
	case <-ctx.Done():
		ss.Close()
		<-ended
		logger.Info("stdio session stopped", "reason", context.Cause(ctx).Error())
		return nil
	case err := <-ended:
		if err == nil || errors.Is(err, io.EOF) || errors.Is(err, context.Canceled) {
			logger.Info("stdio session ended", "reason", "the client closed stdin")
			return nil
		}
		return fmt.Errorf("stdio session: %w", err)
	}
}

type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }

// remoteArticles is the blog of another mcp-2coffee, reached through its
// REST API with the key from this process's environment.
func remoteArticles(apiURL string, env *environment) (blog.Articles, error) {
	var key string
	for _, name := range apiKeyEnv {
		if key = env.getenv(name); key != "" {
			break
		}
	}
	if key == "" {
		return nil, usageError("--api-url needs an API key in the environment: set X-API-KEY (in the client config's \"env\") or MCP_2COFFEE_API_KEY")
	}
	c, err := remote.New(apiURL, key, remote.Options{UserAgent: "mcp-2coffee/" + version()})
	if err != nil {
		return nil, usageError("--api-url: %v", err)
	}
	return c, nil
}
