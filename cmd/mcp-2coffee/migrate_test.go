package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/2coffee/mcp-2coffee/internal/apikey"
	"github.com/2coffee/mcp-2coffee/internal/store"
)

// The database comes from --database, else $MCP_2COFFEE_DATABASE, else
// $DATABASE_URL (what hosting platforms set), else the default.
func TestDatabaseFromEnvironment(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	own, platform, flagged := filepath.Join(dir, "own.db"), filepath.Join(dir, "platform.db"), filepath.Join(dir, "flag.db")
	migrate := func(vars map[string]string, args ...string) string {
		t.Helper()
		var stdout, stderr strings.Builder
		env := &environment{stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr, getenv: func(k string) string { return vars[k] }}
		if code := run(t.Context(), append([]string{"migrate", "--log-level", "error"}, args...), env); code != 0 {
			t.Fatalf("migrate %q with %v: exit %d\n%s", args, vars, code, stderr.String())
		}
		return stdout.String()
	}
	exists := func(p string) bool { _, err := os.Stat(p); return err == nil }

	out := migrate(map[string]string{"DATABASE_URL": platform})
	if !exists(platform) || !strings.Contains(out, platform) {
		t.Errorf("with only $DATABASE_URL set, migrate did not use it (output %q)", out)
	}
	migrate(map[string]string{"MCP_2COFFEE_DATABASE": own, "DATABASE_URL": filepath.Join(dir, "unused.db")})
	if !exists(own) || exists(filepath.Join(dir, "unused.db")) {
		t.Errorf("$MCP_2COFFEE_DATABASE did not win over $DATABASE_URL")
	}
	migrate(map[string]string{"MCP_2COFFEE_DATABASE": filepath.Join(dir, "unused.db")}, "--database", flagged)
	if !exists(flagged) || exists(filepath.Join(dir, "unused.db")) {
		t.Errorf("--database did not win over the environment")
	}
}

// copy moves a blog made with the CLI into a new database, where the key
// it printed still works; it refuses to copy onto itself or into a blog.
func TestCopyCommand(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "src.db"), filepath.Join(dir, "dst.db")
	cli := func(args ...string) (string, string, int) {
		t.Helper()
		var stdout, stderr strings.Builder
		env := &environment{stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr, getenv: func(string) string { return "" }}
		code := run(t.Context(), append(args, "--log-level", "error"), env)
		return stdout.String(), stderr.String(), code
	}
	key, stderr, code := cli("keys", "create", "--name", "laptop", "--database", src)
	if code != 0 {
		t.Fatalf("keys create: exit %d: %s", code, stderr)
	}
	out, stderr, code := cli("copy", "--from", src, "--to", dst)
	if code != 0 || !strings.Contains(out, "1 API keys") {
		t.Fatalf("copy: exit %d\nstdout: %s\nstderr: %s", code, out, stderr)
	}
	list, _, _ := cli("keys", "list", "--json", "--database", dst)
	if !strings.Contains(list, `"name": "laptop"`) && !strings.Contains(list, `"name":"laptop"`) {
		t.Errorf("keys list of the copy lacks the key:\n%s", list)
	}
	db, err := store.Open(t.Context(), dst, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	p, err := apikey.New(db, apikey.Options{}).Verify(t.Context(), strings.TrimSpace(key))
	db.Close()
	if err != nil || !p.Has("articles:read") {
		t.Errorf("the key printed for the old database does not verify on the copy: %+v, %v", p, err)
	}
	if _, stderr, code := cli("copy", "--from", src, "--to", dst); code == 0 || !strings.Contains(stderr, "not empty") {
		t.Errorf("copy into a database holding a blog: exit %d, %s", code, stderr)
	}
	missing := filepath.Join(dir, "typo.db")
	if _, stderr, code := cli("copy", "--from", missing, "--to", filepath.Join(dir, "other.db")); code != 2 || !strings.Contains(stderr, "no such database") {
		t.Errorf("copy from a missing file: exit %d, %s", code, stderr)
	}
	if _, err := os.Stat(missing); err == nil {
		t.Errorf("copy from a missing file created it")
	}
	if _, stderr, code := cli("copy", "--from", src, "--to", src); code != 2 {
		t.Errorf("copy onto itself: exit %d, %s", code, stderr)
	}
}
