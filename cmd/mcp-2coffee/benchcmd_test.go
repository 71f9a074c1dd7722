package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/2coffee/mcp-2coffee/internal/loadgen"
)

const benchSlug = "slug=a-semaphore-with-a-buffered-channel"

// bench runs "mcp-2coffee bench … --json" and decodes its report.
func bench(t *testing.T, env []string, wantCode int, args ...string) (*loadgen.Report, string) {
	t.Helper()
	out, errOut, code := runCLI(t, env, append([]string{"bench", "--json", "--warmup", "0"}, args...)...)
	if code != wantCode {
		t.Fatalf("bench %v: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", args, code, wantCode, out, errOut)
	}
	var r loadgen.Report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("bench %v: the output is not a JSON report: %v\n%s", args, err, out)
	}
	if r.Requests != r.OK+r.Errors {
		t.Errorf("requests %d != ok %d + errors %d", r.Requests, r.OK, r.Errors)
	}
	return &r, out + errOut
}

func TestBenchCommandHTTP(t *testing.T) {
	t.Parallel()
	s := startServe(t)
	if s.key == "" {
		t.Fatal("serve printed no admin key")
	}
	run := func(t *testing.T, env []string, code int, args ...string) (*loadgen.Report, string) {
		t.Helper()
		return bench(t, env, code, append([]string{s.mcpURL, "--concurrency", "4", "--requests", "20"}, args...)...)
	}
	t.Run("bearer from the environment", func(t *testing.T) {
		r, out := run(t, []string{"MCP_2COFFEE_BEARER=" + s.key}, 0, "--tool", "get_article", benchSlug)
		if r.OK != 20 || r.Concurrency != 4 || r.Mode != "http" {
			t.Errorf("report %+v, want 20 ok calls by 4 clients", r)
		}
		if strings.Contains(out, s.key) {
			t.Error("the output shows the key")
		}
	})
	t.Run("header with ${VAR}", func(t *testing.T) {
		r, _ := run(t, []string{"BENCH_KEY=" + s.key}, 0, "--tool", "get_article", "--header", "X-API-KEY: ${BENCH_KEY}", "--arguments", `{"slug":"a-semaphore-with-a-buffered-channel"}`)
		if r.OK != 20 {
			t.Errorf("%d ok, %v", r.OK, r.ErrorKinds)
		}
	})
	t.Run("wrong key", func(t *testing.T) {
		r, _ := run(t, nil, 1, "--tool", "get_article", benchSlug, "--bearer", "m2c_wrong_key")
		if r.ErrorKinds["http_401"] != 20 {
			t.Errorf("errors %v, want 20 HTTP 401", r.ErrorKinds)
		}
	})
	t.Run("unknown tool", func(t *testing.T) {
		r, _ := run(t, []string{"MCP_2COFFEE_BEARER=" + s.key}, 1, "--tool", "no_such_tool")
		if r.ErrorKinds["jsonrpc_-32602"] != 20 {
			t.Errorf("errors %v, want 20 JSON-RPC -32602", r.ErrorKinds)
		}
	})
	t.Run("tool error", func(t *testing.T) {
		r, _ := run(t, []string{"MCP_2COFFEE_BEARER=" + s.key}, 1, "--tool", "get_article", "slug=no-such-article")
		if r.ErrorKinds[loadgen.KindTool] != 20 {
			t.Errorf("errors %v, want 20 tool errors", r.ErrorKinds)
		}
	})
	t.Run("table", func(t *testing.T) {
		out, errOut, code := runCLI(t, []string{"MCP_2COFFEE_BEARER=" + s.key}, "bench", s.mcpURL, "--tool", "list_tags", "--requests", "5", "--warmup", "0")
		if code != 0 || !strings.Contains(out, "requests/s") || !strings.Contains(out, "p99") {
			t.Errorf("exit %d:\n%s%s", code, out, errOut)
		}
	})
}

func TestBenchCommandRefusals(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string
	}{
		// Nothing listens at 192.0.2.1 (TEST-NET-1); the guard refuses it
		// before any connection is tried.
		{[]string{"http://192.0.2.1/mcp", "--tool", "list_tags"}, "--allow-remote"},
		{[]string{"http://127.0.0.1:1/mcp"}, "--tool"},
		{[]string{"http://127.0.0.1:1/mcp", "--tool", "x", "--bearer", "t", "--header", "Authorization: Basic x"}, "give one"},
		{[]string{"http://127.0.0.1:1/mcp", "--tool", "x", "--header", "Mcp-Session-Id: forged"}, "cannot be overridden"},
		{[]string{"http://127.0.0.1:1/mcp", "--tool", "x", "--arguments", "[1]"}, "JSON object"},
		{[]string{"--stdio", "--tool", "x"}, "after --"},
		{[]string{"--stdio", "--tool", "x", "--bearer", "t", "--", "true"}, "for HTTP"},
	} {
		_, errOut, code := runCLI(t, nil, append([]string{"bench"}, tc.args...)...)
		if code != 2 || !strings.Contains(errOut, tc.want) {
			t.Errorf("bench %v: exit %d, %q; want 2 and %q", tc.args, code, errOut, tc.want)
		}
		if strings.Contains(errOut, "--bearer t") {
			t.Errorf("bench %v printed the token", tc.args)
		}
	}
}

func TestBenchCommandStdio(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "blog.db")
	r, _ := bench(t, []string{"MCP_2COFFEE_TEST_MAIN=1"}, 0, "--stdio", "--tool", "get_article", benchSlug, "--requests", "10", "--runs", "2",
		"--", os.Args[0], "stdio", "--database", db)
	if r.Mode != "stdio" || r.Runs != 2 || r.OK != 10 || r.Startup == nil || r.Startup.Max <= 0 {
		t.Errorf("report %+v: want 2 runs, 10 ok calls and a start-up time", r)
	}
	if r.Server == nil || (isLinux() && r.Server.PeakRSSBytes <= 0) {
		t.Errorf("server %+v: want the child's peak RSS", r.Server)
	}
}

func isLinux() bool { return runtime.GOOS == "linux" }

// TestBenchCommandOAuth: --oauth sends the token "login" cached, so a
// deployment behind OAuth can be loaded; with nothing cached it says what
// to run and opens no browser.
func TestBenchCommandOAuth(t *testing.T) {
	t.Parallel()
	s := startServe(t)
	env, opened := browserEnv(t, s)
	args := []string{s.mcpURL, "--oauth", "--concurrency", "2", "--requests", "10", "--tool", "get_article", benchSlug}

	_, errOut, code := runCLI(t, env, append([]string{"bench", "--json", "--warmup", "0"}, args...)...)
	if code != 2 && code != 1 || !strings.Contains(errOut, "mcp-2coffee login "+s.mcpURL) {
		t.Errorf("bench --oauth before login: exit %d, stderr %q; want it to say to log in", code, errOut)
	}
	if n := opened(); n != 0 {
		t.Fatalf("bench opened the browser %d times", n)
	}

	if out, errOut, code := runCLI(t, env, "login", s.mcpURL); code != 0 {
		t.Fatalf("login: exit %d\n%s%s", code, out, errOut)
	}
	r, out := bench(t, env, 0, args...)
	if r.OK != 10 || r.Errors != 0 {
		t.Errorf("bench --oauth after login: %d ok, %v", r.OK, r.ErrorKinds)
	}
	if strings.Contains(out, "m2ca_") {
		t.Error("the output shows the access token")
	}
	if n := opened(); n != 1 {
		t.Errorf("browser opened %d times, want once (by login)", n)
	}
}
