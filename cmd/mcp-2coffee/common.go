package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/2coffee/mcp-2coffee/internal/blog"
	"github.com/2coffee/mcp-2coffee/internal/firstrun"
	"github.com/2coffee/mcp-2coffee/internal/store"
)

// defaultDatabase is where the embedded database lives unless --database
// says otherwise: under ./data/, next to where the server is started.
const defaultDatabase = "data/mcp-2coffee.db"

// commonFlags are the flags every subcommand that touches the blog has.
type commonFlags struct {
	database  string
	logLevel  string
	maxConns  int
	noSample  bool
	noMigrate bool
	keep      int // --revisions-keep
}

func (c *commonFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.database, "database", defaultDatabase, "the database: a SQLite file path or file: URI (created on first use), or PostgreSQL as a postgres:// URL or libpq keyword string (\"host=db dbname=blog\"; PG* variables and ~/.pgpass apply)")
	fs.StringVar(&c.logLevel, "log-level", "info", "log level: debug, info, warn or error (logs go to stderr)")
	fs.IntVar(&c.maxConns, "db-max-conns", 0, "PostgreSQL: the most connections this process opens (0: the data source name's pool_max_conns, else the larger of 4 and the CPUs)")
}

// registerServing adds the flags of the commands that serve the blog
// (serve, stdio), the ones that offer a new database the samples.
func (c *commonFlags) registerServing(fs *flag.FlagSet) {
	c.register(fs)
	fs.BoolVar(&c.noSample, "no-sample", false, "do not load the bundled sample articles into a new, empty database")
	fs.IntVar(&c.keep, "revisions-keep", blog.DefaultKeepRevisions, "how many revisions of each article to keep, the newest (0: all); older ones go at the next change of that article")
	fs.BoolVar(&c.noMigrate, "no-migrate", false, "PostgreSQL: leave the schema as it is and refuse to start if it is behind (run \"mcp-2coffee migrate\" first); SQLite always migrates")
}

// service is the blog over db with the --revisions-keep policy.
func (c *commonFlags) service(db blog.Store) (*blog.Service, error) {
	if c.keep < 0 {
		return nil, usageError("--revisions-keep %d: want 0 (keep all) or more", c.keep)
	}
	s := blog.NewService(db, nil)
	s.KeepRevisions(c.keep)
	return s, nil
}

// logger builds the stderr logger at the chosen level.
func (c *commonFlags) logger(w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.logLevel)); err != nil {
		return nil, usageError("--log-level %q: want debug, info, warn or error", c.logLevel)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level})), nil
}

// openStore opens (creating if needed) the database. It loads nothing:
// the sample articles are a step of serve and stdio (seedSamples), so
// "keys list" on a new path makes an empty database, not a sample blog.
func (c *commonFlags) openStore(ctx context.Context, logger *slog.Logger) (store.Backend, error) {
	if c.maxConns < 0 {
		return nil, usageError("--db-max-conns %d: want 0 or more", c.maxConns)
	}
	db, err := store.Open(ctx, c.database, store.Options{Logger: logger, MaxConns: c.maxConns, NoMigrate: c.noMigrate})
	if err != nil {
		return nil, fmt.Errorf("opening the database: %w", err)
	}
	return db, nil
}

// seedSamples is the first-run step of serve and stdio: the bundled sample
// articles, so a first run has something to serve, unless --no-sample.
func (c *commonFlags) seedSamples(ctx context.Context, db store.Backend, logger *slog.Logger) error {
	n, err := firstrun.Samples(ctx, db, !c.noSample)
	if err != nil {
		return fmt.Errorf("loading the sample articles: %w", err)
	}
	if n > 0 {
		logger.Info("loaded the sample articles into a new database", "database", store.Redact(c.database), "articles", n)
	}
	return nil
}
