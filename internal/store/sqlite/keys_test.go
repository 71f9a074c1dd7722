package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/2coffee/mcp-2coffee/internal/apikey"
	"github.com/2coffee/mcp-2coffee/internal/store/sqlite"
	"github.com/2coffee/mcp-2coffee/internal/store/storetest"
)

func TestKeys(t *testing.T) {
	t.Parallel()
	storetest.RunKeys(t, func(t *testing.T) apikey.Store {
		db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "keys.db"), nil)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		t.Cleanup(func() {
			if err := db.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
		return db
	})
}
