package postgres_test

import (
	"testing"

	"github.com/2coffee/mcp-2coffee/internal/apikey"
	"github.com/2coffee/mcp-2coffee/internal/store/storetest"
)

func TestKeys(t *testing.T) {
	t.Parallel()
	storetest.RunKeys(t, func(t *testing.T) apikey.Store { return openTest(t) })
}
