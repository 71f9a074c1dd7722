package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
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
