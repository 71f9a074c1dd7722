package main

import (
	"context"
	"flag"
	"fmt"

	"github.com/2coffee/mcp-2coffee/internal/store"
)

// migrateCommand brings a database's schema up to date and exits: the
// step a deployment runs once before it rolls out new replicas (which,
// with --no-migrate, then refuse to start on an old schema rather than
// race to change it). serve and every other command migrate on open too,
// under the same lock, so running it is optional.
func migrateCommand() *command {
	return &command{
		name:    "migrate",
		summary: "Bring the database schema up to date (what every command does on open), and exit.",
		flags: func(fs *flag.FlagSet) func(ctx context.Context, env *environment, args []string) error {
			var c commonFlags
			c.register(fs)
			return func(ctx context.Context, env *environment, args []string) error {
				if len(args) > 0 {
					return usageError("migrate takes no arguments")
				}
				logger, err := c.logger(env.stderr)
				if err != nil {
					return err
				}
				db, err := c.openStore(ctx, logger)
				if err != nil {
					return err
				}
				if err := db.Close(); err != nil {
					return err
				}
				fmt.Fprintf(env.stdout, "database %s: schema up to date\n", store.Redact(c.database))
				return nil
			}
		},
	}
}
