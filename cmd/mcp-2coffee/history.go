package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/2coffee/mcp-2coffee/internal/blog"
	"github.com/2coffee/mcp-2coffee/internal/store"
)

// articlesCommand is a command on the blog's database run by its owner:
// the Service over the store, acting as "cli:$USER" in the revisions.
func articlesCommand(name, summary, usage string, run func(ctx context.Context, env *environment, svc *blog.Service, args []string) error, extra func(fs *flag.FlagSet)) *command {
	return storeCommand(name, summary, usage, func(ctx context.Context, env *environment, c *commonFlags, db store.Backend, _ *slog.Logger, args []string) error {
		svc, err := c.service(db)
		if err != nil {
			return err
		}
		who := "cli"
		if u := env.getenv("USER"); u != "" {
			who += ":" + u
		}
		return run(blog.WithActor(ctx, who), env, svc, args)
	}, func(fs *flag.FlagSet, c *commonFlags) {
		// The owner's commands prune nothing unless told: a server may keep
		// more than the default, and one restore here must not cut its
		// history down.
		fs.IntVar(&c.keep, "revisions-keep", 0, "how many revisions of each article to keep when this command writes one (default 0: prune nothing)")
		if extra != nil {
			extra(fs)
		}
	})
}

func revisionsCommand() *command {
	var limit int
	var cursor string
	return articlesCommand("revisions", "The kept versions of an article: list, show one, restore one.",
		"list SLUG [--limit N] [--cursor C] | show SLUG REV | restore SLUG REV",
		func(ctx context.Context, env *environment, svc *blog.Service, args []string) error {
			switch {
			case args[0] == "list" && len(args) == 2:
				page, err := svc.Revisions(ctx, args[1], limit, cursor)
				if err != nil {
					return err
				}
				tw := tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "REV\tWHEN\tACTION\tBY\tCHANGED")
				for _, r := range page.Revisions {
					fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", r.ID, r.At.Format(time.RFC3339), r.Action, r.Actor, strings.Join(r.Changed, ","))
				}
				if err := tw.Flush(); err != nil {
					return err
				}
				if page.NextCursor != "" {
					fmt.Fprintf(env.stderr, "Older revisions: --cursor %s\n", page.NextCursor)
				}
				return nil
			case (args[0] == "show" || args[0] == "restore") && len(args) == 3:
				id, err := strconv.ParseInt(args[2], 10, 64)
				if err != nil || id <= 0 {
					return usageError("revision %q: want a revision number from revisions list", args[2])
				}
				if args[0] == "show" {
					r, err := svc.Revision(ctx, args[1], id)
					if err != nil {
						return err
					}
					return printJSON(env, r)
				}
				a, err := svc.RestoreRevision(ctx, args[1], id)
				if err != nil {
					return err
				}
				fmt.Fprintf(env.stderr, "Restored %s to revision %d; the restore is a new revision.\n", a.Slug, id)
				return nil
			}
			return usageError("usage: revisions list SLUG | show SLUG REV | restore SLUG REV")
		}, func(fs *flag.FlagSet) {
			fs.IntVar(&limit, "limit", 0, "list: revisions per page (1-50, default 10)")
			fs.StringVar(&cursor, "cursor", "", "list: the cursor printed after the previous page")
		})
}

func trashCommand() *command {
	var olderThan time.Duration
	return articlesCommand("trash", "Deleted articles: list them, restore one, or purge them for good (no MCP tool can).",
		"list | restore SLUG | purge [SLUG] [--older-than 720h]",
		func(ctx context.Context, env *environment, svc *blog.Service, args []string) error {
			switch {
			case args[0] == "list" && len(args) == 1:
				items, err := svc.Trash(ctx)
				if err != nil {
					return err
				}
				tw := tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "SLUG\tDELETED\tBY\tTITLE")
				for _, it := range items {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", it.Article.Slug, it.DeletedAt.Format(time.RFC3339), it.DeletedBy, it.Article.Title)
				}
				return tw.Flush()
			case args[0] == "restore" && len(args) == 2:
				a, err := svc.Restore(ctx, args[1])
				if err != nil {
					return err
				}
				fmt.Fprintf(env.stderr, "Restored %s (%q) from the trash.\n", a.Slug, a.Title)
				return nil
			case args[0] == "purge" && len(args) <= 2:
				if olderThan < 0 {
					return usageError("--older-than %v: want 0 or more", olderThan)
				}
				slug := ""
				if len(args) == 2 {
					slug = args[1]
				}
				n, err := svc.Purge(ctx, slug, time.Now().Add(-olderThan))
				if err != nil {
					return err
				}
				fmt.Fprintf(env.stderr, "Purged %d article(s) from the trash, with their revisions; this cannot be undone.\n", n)
				return nil
			}
			return usageError("usage: trash list | restore SLUG | purge [SLUG] [--older-than D]")
		}, func(fs *flag.FlagSet) {
			fs.DurationVar(&olderThan, "older-than", 0, "purge: only articles deleted longer ago than this, e.g. 720h (default: all)")
		})
}

// printJSON writes v as indented JSON on stdout.
func printJSON(env *environment, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(env.stdout, "%s\n", b)
	return err
}
