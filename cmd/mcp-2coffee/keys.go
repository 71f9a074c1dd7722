package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/2coffee/mcp-2coffee/internal/apikey"
)

func keysCommand() *command {
	return &command{
		name:    "keys",
		summary: "Manage API keys: create, list, revoke.",
		usage:   "create --name NAME [--scope S] [--expires 90d] | list [--json] | revoke ID",
		flags: func(fs *flag.FlagSet) func(context.Context, *environment, []string) error {
			var c commonFlags
			c.register(fs)
			name := fs.String("name", "", "create: a label for the key, e.g. laptop")
			scope := fs.String("scope", "articles:read", "create: articles:read or articles:write (write includes read); comma-separated for several")
			expires := fs.String("expires", "", "create: lifetime such as 12h, 90d or 8w (default: never)")
			asJSON := fs.Bool("json", false, "list: print JSON")
			return func(ctx context.Context, env *environment, args []string) error {
				if len(args) == 0 {
					return usageError("want a subcommand: create, list or revoke")
				}
				logger, err := c.logger(env.stderr)
				if err != nil {
					return err
				}
				db, err := c.openStore(ctx, logger)
				if err != nil {
					return err
				}
				defer db.Close()
				keys := apikey.New(db, apikey.Options{Logger: logger})
				switch args[0] {
				case "create":
					if len(args) != 1 {
						return usageError("keys create takes flags only, e.g. keys create --name laptop --scope articles:read")
					}
					var ttl time.Duration
					if *expires != "" {
						if ttl, err = apikey.ParseDuration(*expires); err != nil {
							return usageError("--expires: %v", err)
						}
					}
					plain, k, err := keys.Create(ctx, *name, strings.Split(*scope, ","), ttl)
					if err != nil {
						return err
					}
					exp := "never expires"
					if k.ExpiresAt != nil {
						exp = "expires " + k.ExpiresAt.Format(time.RFC3339)
					}
					fmt.Fprintf(env.stderr, "Created key %q (id %s, scope %s, %s). It is shown only now:\n", k.Name, k.ID, strings.Join(k.Scopes, " "), exp)
					fmt.Fprintln(env.stdout, plain)
					return nil
				case "list":
					list, err := keys.List(ctx)
					if err != nil {
						return err
					}
					now := time.Now()
					if *asJSON {
						type row struct {
							ID         string     `json:"id"`
							Name       string     `json:"name"`
							Scopes     []string   `json:"scopes"`
							Status     string     `json:"status"`
							CreatedAt  time.Time  `json:"created_at"`
							ExpiresAt  *time.Time `json:"expires_at,omitempty"`
							LastUsedAt *time.Time `json:"last_used_at,omitempty"`
							RevokedAt  *time.Time `json:"revoked_at,omitempty"`
						}
						rows := []row{}
						for _, k := range list {
							rows = append(rows, row{k.ID, k.Name, k.Scopes, k.Status(now), k.CreatedAt, k.ExpiresAt, k.LastUsedAt, k.RevokedAt})
						}
						enc := json.NewEncoder(env.stdout)
						enc.SetIndent("", "  ")
						return enc.Encode(rows)
					}
					tw := tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', 0)
					fmt.Fprintln(tw, "ID\tNAME\tSCOPES\tSTATUS\tCREATED\tEXPIRES\tLAST USED")
					for _, k := range list {
						fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Name, strings.Join(k.Scopes, ","), k.Status(now),
							k.CreatedAt.Format("2006-01-02"), optTime(k.ExpiresAt, "never"), optTime(k.LastUsedAt, "never"))
					}
					return tw.Flush()
				case "revoke":
					if len(args) != 2 {
						return usageError("keys revoke takes one key id (see keys list)")
					}
					if err := keys.Revoke(ctx, args[1]); err != nil {
						return err
					}
					fmt.Fprintf(env.stderr, "Revoked key %s; requests with it now get 401.\n", args[1])
					return nil
				}
				return usageError("unknown keys subcommand %q: want create, list or revoke", args[0])
			}
		},
	}
}

func optTime(t *time.Time, none string) string {
	if t == nil {
		return none
	}
	return t.Format("2006-01-02 15:04")
}
