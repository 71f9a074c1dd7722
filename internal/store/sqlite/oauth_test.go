package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/2coffee/mcp-2coffee/internal/oauth"
	"github.com/2coffee/mcp-2coffee/internal/store/sqlite"
	"github.com/2coffee/mcp-2coffee/internal/store/storetest"
)

func TestOAuth(t *testing.T) {
	t.Parallel()
	storetest.RunOAuth(t, func(t *testing.T) oauth.Store {
		db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "oauth.db"), nil)
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
