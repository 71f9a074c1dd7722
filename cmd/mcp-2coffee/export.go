package main

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/2coffee/mcp-2coffee/internal/exporter"
)

func exportCommand() *command {
	return &command{
		name:    "export",
		summary: "Write the articles back to Markdown files with front matter (Hugo, Jekyll, Astro or Eleventy), where the importer read them.",
		usage:   "DIR [--format hugo|jekyll|astro|eleventy] [--since 2026-12-01T00:00:00Z | --since 24h]",
		flags: func(fs *flag.FlagSet) func(context.Context, *environment, []string) error {
			var c commonFlags
			c.register(fs)
			format := fs.String("format", exporter.Hugo, "the generator whose conventions new files follow: "+strings.Join(exporter.Formats, ", ")+" (an imported article keeps its own path and front-matter format)")
			since := fs.String("since", "", "export only the articles changed after this RFC 3339 time, or within this duration (24h)")
			return func(ctx context.Context, env *environment, args []string) error {
				if len(args) != 1 {
					return usageError("want one directory to export into")
				}
				var after time.Time
				if *since != "" {
					if d, err := time.ParseDuration(*since); err == nil && d > 0 {
						after = time.Now().Add(-d)
					} else if t, err := time.Parse(time.RFC3339, *since); err == nil {
						after = t
					} else {
						return usageError("--since %q: want an RFC 3339 time or a duration such as 24h", *since)
					}
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
				sum, err := exporter.Export(ctx, db, args[0], exporter.Options{Format: *format, Since: after})
				if err != nil {
					return err
				}
				for _, p := range sum.Paths {
					fmt.Fprintln(env.stdout, p)
				}
				fmt.Fprintf(env.stderr, "Exported %d article(s) to %s.\n", sum.Written, args[0])
				return nil
			}
		},
	}
}
