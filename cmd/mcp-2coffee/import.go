package main

import (
	"context"
	"flag"
	"fmt"

	"github.com/2coffee/mcp-2coffee/internal/importer"
)

func importCommand() *command {
	return &command{
		name:    "import",
		summary: "Import Markdown files with YAML or TOML front matter (Hugo, Jekyll, Astro, Eleventy), and WordPress (WXR .xml), Ghost (.json), RSS and Atom exports named as files; re-importing updates by slug.",
		usage:   "DIR_OR_FILE...",
		flags: func(fs *flag.FlagSet) func(context.Context, *environment, []string) error {
			var c commonFlags
			c.register(fs)
			batch := fs.Int("batch-size", 200, "articles written per transaction")
			pages := fs.Bool("pages", false, "WordPress and Ghost exports: import their pages too, tagged page (default: skip them)")
			return func(ctx context.Context, env *environment, args []string) error {
				if len(args) == 0 {
					return usageError("name at least one directory or file to import")
				}
				if *batch < 1 {
					return usageError("--batch-size must be at least 1")
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
				sum, err := importer.Import(ctx, db, args, importer.Options{BatchSize: *batch, Progress: env.stderr, Logger: logger, Pages: *pages})
				if sum != nil {
					sum.Write(env.stdout)
				}
				if err != nil {
					return fmt.Errorf("import stopped: %w (articles written before the failure are kept; nothing is half-written)", err)
				}
				if n := sum.Failed(); n > 0 {
					return &exitError{code: 3, err: fmt.Errorf("%d file(s) could not be imported; see above", n)}
				}
				return nil
			}
		},
	}
}
