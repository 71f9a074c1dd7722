package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"strings"

	"github.com/2coffee/mcp-2coffee/internal/sample"
	"github.com/2coffee/mcp-2coffee/internal/store/sqlite"
)

// defaultDatabase is where the embedded database lives unless --database
// says otherwise: under ./data/, next to where the server is started.
const defaultDatabase = "data/mcp-2coffee.db"

// commonFlags are the flags every subcommand that touches the blog has.
type commonFlags struct {
	database string
	logLevel string
	noSample bool
}

func (c *commonFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.database, "database", defaultDatabase, "SQLite database file (created on first use)")
	fs.StringVar(&c.logLevel, "log-level", "info", "log level: debug, info, warn or error (logs go to stderr)")
	fs.BoolVar(&c.noSample, "no-sample", false, "do not load the bundled sample articles into a new database")
}

// logger builds the stderr logger at the chosen level.
func (c *commonFlags) logger(w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.logLevel)); err != nil {
		return nil, usageError("--log-level %q: want debug, info, warn or error", c.logLevel)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level})), nil
}

// openStore opens (creating if needed) the database. A database created
// just now gets the bundled sample articles unless --no-sample, so a first
// run has something to serve; an existing one is never touched, even when
// it is empty, because an owner who deleted everything meant it.
func (c *commonFlags) openStore(ctx context.Context, logger *slog.Logger) (*sqlite.DB, error) {
	if strings.HasPrefix(c.database, "postgres://") || strings.HasPrefix(c.database, "postgresql://") {
		return nil, usageError("--database: PostgreSQL is not supported yet; give a SQLite file path")
	}
	_, statErr := os.Stat(c.database)
	isNew := errors.Is(statErr, fs.ErrNotExist)
	db, err := sqlite.Open(ctx, c.database, logger)
	if err != nil {
		return nil, fmt.Errorf("opening the database: %w", err)
	}
	if isNew && !c.noSample {
		n, err := sample.Load(ctx, db)
		if err != nil {
			db.Close()
			return nil, fmt.Errorf("loading the sample articles: %w", err)
		}
		logger.Info("created a new database with the sample articles", "path", c.database, "articles", n)
	}
	return db, nil
}
