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
		{"cmd/mcp-2coffee", []string{internal("store/sqlite"), internal("store/postgres")},
			"cmd opens the database through store.Open, whatever the backend", false, true},
		{"internal/store/sqlite", []string{internal("authserver"), internal("httpserver"), internal("mcpserver"), internal("restapi"),
			internal("bridge"), internal("oauthclient"), internal("remote"), internal("cimd"), "net/http/httptest"},
			"a backend stores the domain's records; the endpoints and the client side are above it", true, false},
		// Through apikey → authn net/http is still linked; directly, a
		// backend speaks SQL, not HTTP.
		{"internal/store/sqlite", []string{"net/http"}, "a backend speaks SQL, not HTTP", false, false},
		{"internal/store/postgres", []string{internal("authserver"), internal("httpserver"), internal("mcpserver"), internal("restapi"),
			internal("bridge"), internal("oauthclient"), internal("remote"), internal("cimd"), internal("store/sqlite"), "net/http/httptest"},
			"a backend stores the domain's records; the endpoints, the client side and the other backend are elsewhere", true, false},
		{"internal/store/postgres", []string{"net/http"}, "a backend speaks SQL, not HTTP", false, false},
		{"internal/store/sqlite", []string{internal("store/postgres")}, "the backends do not know each other", true, false},
		// The load generator is a lean client of its own: it links neither
		// the go-sdk's client (a call must be one request, timed alone) nor
		// the server side it measures.
		// The resource server's side of an external provider reads tokens;
		// it knows neither the built-in authorization server nor storage.
		{"internal/extauth", []string{internal("authserver"), internal("oauth"), internal("store"), internal("oauthclient"), internal("mcpserver")},
			"extauth verifies another server's tokens; it issues and stores none", true, false},
		// Federated sign-in's relying party says who signed in; the
		// browser's side and the accounts are authserver's.
		{"internal/oidclogin", []string{internal("authserver"), internal("oauth"), internal("store"), internal("authn")},
			"oidclogin talks to the provider; sessions and users are the authorization server's", true, false},
		// The exporter writes files from what a store lists; it knows no
		// backend, no edge and no importer (they meet in its tests only).
		{"internal/exporter", []string{internal("store"), internal("importer"), internal("mcpserver"), internal("restapi"), internal("authserver")},
			"the exporter reads the blog through its own small interface", true, false},
		{"internal/loadgen", []string{"github.com/modelcontextprotocol/go-sdk/mcp", internal("bridge"), internal("mcpserver"), internal("httpserver"), internal("store")},
			"the load generator speaks MCP by hand and measures a server from outside", true, false},
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
	// The shared test helpers never reach a binary: only tests and the
	// test-helper packages (oauthtest, bridgetest, storetest) use them.
	for name, p := range pkgs {
		if strings.HasSuffix(name, "test") {
			continue
		}
		for _, helper := range []string{internal("testkit"), internal("store/postgres/pgtest"), internal("extauth/idptest")} {
			if slices.Contains(p.deps, helper) {
				t.Errorf("%s links %s outside its tests; only _test.go files may import it", name, helper)
			}
		}
	}
	// Of the project, the article domain imports only the shared errors,
	// and the leaves nothing at all.
	for name, allowed := range map[string][]string{
		"internal/blog":    {internal("errdefs")},
		"internal/errdefs": {},
		"internal/webaddr": {},
		"internal/gcfloor": {},
		// The metadata rules both sides share.
		"internal/oauthmeta": {internal("webaddr")},
	} {
		for _, imp := range pkgs[name].imports {
			if strings.HasPrefix(imp, module+"/") && !slices.Contains(allowed, imp) {
				t.Errorf("%s imports %s; of the project it may import only %q", name, imp, allowed)
			}
		}
	}
	// The leaves: what they may link is listed, so a new dependency is a
	// decision made in review. errdefs is shared by every layer; the OAuth
	// domain has no networking, so a store importing it inherits none.
	for name, allowed := range map[string][]string{
		"internal/errdefs": {},
		"internal/oauth":   {internal("errdefs"), "golang.org/x/crypto/argon2", "golang.org/x/crypto/blake2b", "golang.org/x/sys/cpu"},
	} {
		for _, dep := range pkgs[name].deps {
			if dep == "net" || strings.HasPrefix(dep, "net/") {
				t.Errorf("%s links %s; it must not network", name, dep)
			}
			if strings.Contains(strings.SplitN(dep, "/", 2)[0], ".") && !slices.Contains(allowed, dep) {
				t.Errorf("%s links %s, which is not in its allowed list", name, dep)
			}
		}
	}
}
