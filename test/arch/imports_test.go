// Package arch_test fixes the shape of the import graph that
// docs/ARCHITECTURE.md describes, so a seam cannot erode one convenient
// import at a time.
package arch_test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/2coffee/mcp-2coffee"

type pkg struct {
	imports     []string // direct imports of the package's own files
	testImports []string // direct imports of its tests
	deps        []string // everything it links, transitively
}

func load(t *testing.T) map[string]pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-f",
		`{{.ImportPath}}|{{join .Imports ","}}|{{join .TestImports ","}}{{if .XTestImports}},{{join .XTestImports ","}}{{end}}|{{join .Deps ","}}`,
		module+"/...")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	pkgs := map[string]pkg{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Split(line, "|")
		if len(f) != 4 {
			t.Fatalf("go list line %q", line)
		}
		split := func(s string) []string { return strings.FieldsFunc(s, func(r rune) bool { return r == ',' }) }
		pkgs[strings.TrimPrefix(f[0], module+"/")] = pkg{split(f[1]), split(f[2]), split(f[3])}
	}
	return pkgs
}

func TestImportRules(t *testing.T) {
	pkgs := load(t)
	internal := func(p string) string { return module + "/internal/" + p }
	for _, tt := range []struct {
		pkg       string
		forbidden []string
		why       string
		deps      bool // forbidden anywhere below, not only directly
		tests     bool // the package's tests too
	}{
		{"internal/httpserver", []string{internal("mcpserver"), internal("restapi"), internal("authserver"), "github.com/modelcontextprotocol/go-sdk/mcp"},
			"httpserver receives handlers; cmd builds them", true, true},
		{"cmd/mcp-2coffee", []string{internal("store/sqlite")},
			"cmd opens the database through store.Open, whatever the backend", false, true},
		{"internal/store/sqlite", []string{internal("authserver"), internal("httpserver"), internal("mcpserver"), internal("restapi"), "net/http"},
			"a backend stores domain types; it needs no HTTP package", true, false},
		{"internal/blog", []string{internal("store"), internal("store/sqlite"), internal("authn"), internal("apikey")},
			"the article domain depends on nothing but errdefs", false, false},
	} {
		p, ok := pkgs[tt.pkg]
		if !ok {
			t.Errorf("package %s not found", tt.pkg)
			continue
		}
		have := p.imports
		if tt.deps {
			have = p.deps
		}
		if tt.tests {
			have = append(slices.Clone(have), p.testImports...)
		}
		for _, f := range tt.forbidden {
			if slices.Contains(have, f) {
				t.Errorf("%s imports %s: %s", tt.pkg, f, tt.why)
			}
		}
	}
	// The leaf every layer shares imports nothing of the project.
	for _, imp := range pkgs["internal/errdefs"].imports {
		if strings.HasPrefix(imp, module) {
			t.Errorf("internal/errdefs imports %s; it must stay a leaf", imp)
		}
	}
}
