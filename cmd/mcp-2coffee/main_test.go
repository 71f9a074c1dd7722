package main

import (
	"fmt"
	"os"
	"testing"
)

// TestMain lets the test binary stand in for the mcp-2coffee binary: a
// child process started with MCP_2COFFEE_TEST_MAIN=1 runs main() with its
// arguments, so end-to-end tests drive the real command over real pipes
// without a separate build step.
func TestMain(m *testing.M) {
	if os.Getenv("MCP_2COFFEE_TEST_BROWSER") == "1" {
		// Started as $BROWSER by a bridge under test.
		if err := fakeBrowser(os.Args[len(os.Args)-1]); err != nil {
			fmt.Fprintln(os.Stderr, "test browser:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	if os.Getenv("MCP_2COFFEE_TEST_MAIN") == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}
