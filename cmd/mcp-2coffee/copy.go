package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/2coffee/mcp-2coffee/internal/firstrun"
	"github.com/2coffee/mcp-2coffee/internal/store"
)

// copyCommand moves a whole blog into a new database: from SQLite to
// PostgreSQL when one machine is no longer enough, or back.
func copyCommand() *command {
	return &command{
		name:    "copy",
		summary: "Copy a whole blog (articles, API keys, users, OAuth clients, grants) into a new, empty database.",
		usage:   "--from DATABASE --to DATABASE",
		flags: func(fs *flag.FlagSet) func(ctx context.Context, env *environment, args []string) error {
			var c commonFlags
			from := fs.String("from", "", "the database to copy: a SQLite file path or a postgres:// URL")
			to := fs.String("to", "", "the new database to copy into (created or migrated; it must hold no blog yet)")
			fs.StringVar(&c.logLevel, "log-level", "info", "log level: debug, info, warn or error (logs go to stderr)")
			fs.IntVar(&c.maxConns, "db-max-conns", 0, "PostgreSQL: the most connections each side opens (0: the default)")
			return func(ctx context.Context, env *environment, args []string) error {
				if len(args) > 0 {
					return usageError("copy takes flags only: copy --from data/mcp-2coffee.db --to postgres://…")
				}
				if *from == "" || *to == "" {
					return usageError("copy needs both --from and --to")
				}
				if *from == *to {
					return usageError("--from and --to name the same database")
				}
				// Opening a SQLite path creates the file: a mistyped --from
				// would copy an empty new blog and leave it behind.
				if d, err := store.ParseDSN(*from); err == nil && d.Kind == store.KindSQLite {
					if _, err := os.Stat(d.Path); err != nil {
						return usageError("--from %s: no such database file", store.Redact(*from))
					}
				}
				logger, err := c.logger(env.stderr)
				if err != nil {
					return err
				}
				opts := store.Options{Logger: logger, MaxConns: c.maxConns}
				src, err := store.Open(ctx, *from, opts)
				if err != nil {
					return fmt.Errorf("opening --from: %w", err)
				}
				defer src.Close()
				dst, err := store.Open(ctx, *to, opts)
				if err != nil {
					return fmt.Errorf("opening --to: %w", err)
				}
				defer dst.Close()
				copied, err := store.Copy(ctx, dst, src)
				if err != nil {
					return fmt.Errorf("copying %s to %s: %w", store.Redact(*from), store.Redact(*to), err)
				}
				// The copy is an existing blog: it is not offered the
				// samples, even when it holds no article.
				if _, err := dst.Once(ctx, firstrun.StepSamples, func(context.Context) error { return nil }); err != nil {
					return err
				}
				fmt.Fprintf(env.stdout, "copied %s from %s to %s\n", copied, store.Redact(*from), store.Redact(*to))
				fmt.Fprintln(env.stdout, "Sign-in sessions and issued tokens are not copied: each connected app signs in once more (its approval is kept).")
				return nil
			}
		},
	}
}
