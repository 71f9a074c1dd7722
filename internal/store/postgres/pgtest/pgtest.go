// Package pgtest gives tests a PostgreSQL database of their own: a new
// schema in the server that MCP_2COFFEE_TEST_POSTGRES names (by default
// the one on 127.0.0.1:5432, database test, user postgres), dropped when
// the test ends. Without a reachable server the tests that need one skip,
// except under CI=true, where they fail: CI always has PostgreSQL.
//
// Only tests import it.
package pgtest

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvDSN names the variable holding the server tests use.
const EnvDSN = "MCP_2COFFEE_TEST_POSTGRES"

// DefaultDSN is the server tests use when EnvDSN is not set.
const DefaultDSN = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

var (
	probeOnce sync.Once
	probeErr  error
)

// Base returns the server's data source name, or skips (fails under CI)
// when no server answers there.
func Base(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv(EnvDSN)
	if dsn == "" {
		dsn = DefaultDSN
	}
	probeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			probeErr = err
			return
		}
		probeErr = conn.Ping(ctx)
		conn.Close(ctx)
	})
	if probeErr != nil {
		msg := fmt.Sprintf("no PostgreSQL for this test (set %s to a server's URL): %v", EnvDSN, probeErr)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return dsn
}

// Schema creates a new, empty schema for t, dropped when t ends, and
// returns a data source name whose connections use it.
func Schema(t testing.TB) string {
	t.Helper()
	base := Base(t)
	name := "t_" + strings.ToLower(rand.Text()[:16])
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("pgtest: connect: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+name); err != nil {
		t.Fatalf("pgtest: create schema: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Errorf("pgtest: drop schema %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+name+" CASCADE"); err != nil {
			t.Errorf("pgtest: drop schema %s: %v", name, err)
		}
	})
	return WithSchema(base, name)
}

// WithSchema returns dsn with its connections set to use schema.
func WithSchema(dsn, schema string) string {
	if strings.Contains(dsn, "://") {
		u, err := url.Parse(dsn)
		if err != nil {
			panic(err)
		}
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		return u.String()
	}
	return dsn + " search_path=" + schema
}
