package postgres_test

import (
	"testing"

	"github.com/2coffee/mcp-2coffee/internal/store/postgres"
	"github.com/2coffee/mcp-2coffee/internal/store/postgres/pgtest"
	"github.com/2coffee/mcp-2coffee/internal/store/storetest"
)

// openTest opens a new, empty database in a schema of its own.
func openTest(t testing.TB) *postgres.DB {
	t.Helper()
	db, err := postgres.Open(t.Context(), pgtest.Schema(t), postgres.Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestSetup(t *testing.T) {
	t.Parallel()
	storetest.RunSetup(t, func(t *testing.T) storetest.Setup { return openTest(t) })
}
