package postgres_test

import (
	"testing"

	"github.com/2coffee/mcp-2coffee/internal/oauth"
	"github.com/2coffee/mcp-2coffee/internal/store/storetest"
)

func TestOAuth(t *testing.T) {
	t.Parallel()
	storetest.RunOAuth(t, func(t *testing.T) oauth.Store { return openTest(t) })
}
