// Package interop runs third-party MCP clients (the MCP Inspector CLI,
// mcp-remote, the conformance suite, a browser) against the real
// mcp-2coffee binary. The clients are the npm packages pinned in the
// repository's package.json; install them with `npm ci` at the repository
// root. Without them the tests skip, except under CI (CI set), where they
// fail.
package interop

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// buildDir holds the binary built for this test run; TestMain removes it.
var buildDir string

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// moduleRoot returns the directory holding go.mod, found by walking up from
// the test's working directory (the package directory under go test).
func moduleRoot(t testing.TB) string {
	t.Helper()
	root, err := findModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	return root
}

func findModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod in the working directory or any parent")
		}
		dir = parent
	}
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// binary builds ./cmd/mcp-2coffee once per test run and returns the path of
// the executable.
func binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		root, err := findModuleRoot()
		if err != nil {
			buildErr = err
			return
		}
		buildDir, err = os.MkdirTemp("", "mcp-2coffee-interop-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(buildDir, "mcp-2coffee")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "go", "build", "-o", binPath, "./cmd/mcp-2coffee")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/mcp-2coffee: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// nodeTool returns the path of node_modules/.bin/<name> at the repository
// root. When the tool (or node itself) is missing the test is skipped with
// instructions, or fails under CI, which must have installed it.
func nodeTool(t testing.TB, name string) string {
	t.Helper()
	missing := func(format string, args ...any) {
		t.Helper()
		msg := fmt.Sprintf(format, args...) +
			"; install the pinned npm tools with `npm ci` at the repository root (Node 20 or newer)"
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	if _, err := exec.LookPath("node"); err != nil {
		missing("node is not on PATH")
	}
	path := filepath.Join(moduleRoot(t), "node_modules", ".bin", name)
	if _, err := os.Stat(path); err != nil {
		missing("%s not found", path)
	}
	return path
}

// result is what a finished command printed and how it exited.
type result struct {
	stdout, stderr string
	exitCode       int // -1 when it did not exit normally (killed, not started)
	err            error
}

// command describes a process to run.
type command struct {
	args    []string // program and arguments
	dir     string   // working directory; empty for the current one
	env     []string // added to the test's environment, KEY=VALUE
	timeout time.Duration
}

// run runs c to completion or until its timeout and captures its output.
func run(t testing.TB, c command) result {
	t.Helper()
	timeout := c.timeout
	if timeout == 0 {
		timeout = time.Minute
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.args[0], c.args[1:]...)
	cmd.Dir = c.dir
	cmd.Env = append(os.Environ(), c.env...)
	cmd.WaitDelay = 5 * time.Second // do not hang on pipes held by grandchildren
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String(), exitCode: -1, err: err}
	if cmd.ProcessState != nil {
		r.exitCode = cmd.ProcessState.ExitCode()
	}
	if ctx.Err() != nil {
		r.err = fmt.Errorf("timed out after %v: %w", timeout, err)
	}
	return r
}

// runOK runs c and fails the test, showing stderr, unless it exits 0.
func runOK(t testing.TB, c command) result {
	t.Helper()
	r := run(t, c)
	if r.err != nil {
		t.Fatalf("%s: %v\nstderr:\n%s\nstdout:\n%s", quoteArgs(c.args), r.err, r.stderr, r.stdout)
	}
	return r
}

func quoteArgs(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " \t\"'$\\") {
			a = fmt.Sprintf("%q", a)
		}
		q[i] = a
	}
	return strings.Join(q, " ")
}
