package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/pprof"
	"testing"
	"time"
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

// TestCPUProfile: MCP_2COFFEE_CPUPROFILE writes a CPU profile (gzipped,
// as go tool pprof reads it) readable only by its owner; a path that
// cannot be written costs the command nothing.
func TestCPUProfile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cpu.pprof")
	stop := startCPUProfile(path)
	deadline := time.Now().Add(50 * time.Millisecond)
	for n := 0; time.Now().Before(deadline); n++ {
		_ = fmt.Sprint(n)
	}
	stop()
	b, err := os.ReadFile(path)
	if err != nil || len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b {
		t.Fatalf("profile: %d bytes, %v; want a gzipped profile", len(b), err)
	}
	if info, err := os.Stat(path); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("profile mode %v, %v; want 0600", info.Mode().Perm(), err)
	}
	startCPUProfile(filepath.Join(t.TempDir(), "no", "such", "dir", "cpu.pprof"))() // no panic, no profile left running
	if err := pprof.StartCPUProfile(io.Discard); err != nil {
		t.Errorf("a profile is still running after the failed start: %v", err)
	} else {
		pprof.StopCPUProfile()
	}
}
