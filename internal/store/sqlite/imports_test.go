package sqlite_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImports forbids the storage backend the packages that serve or make
// HTTP requests: it stores the domain's records (blog, apikey, oauth) and
// must not depend on the endpoints that use them, or the next backend
// (PostgreSQL) would inherit the same knot. Tailscale keeps such tests
// ("depaware"); this one lists what must never appear, with the reason.
func TestImports(t *testing.T) {
	const internal = "github.com/2coffee/mcp-2coffee/internal/"
	forbidden := map[string]string{
		internal + "authserver":  "the OAuth records and store contracts live in internal/oauth",
		internal + "httpserver":  "routes and middleware are above the stores",
		internal + "mcpserver":   "the MCP tools are above the stores",
		internal + "restapi":     "the REST API is above the stores",
		internal + "bridge":      "the client side never reaches a store",
		internal + "oauthclient": "the client side never reaches a store",
		internal + "remote":      "the client side never reaches a store",
		internal + "cimd":        "fetching client metadata is the authorization server's job",
		"net/http/httptest":      "test helpers in a non-test dependency",
	}
	for _, dep := range goList(t, "-deps", "-f", "{{.ImportPath}}", ".") {
		if why, ok := forbidden[dep]; ok {
			t.Errorf("the sqlite package depends on %s: %s", dep, why)
		}
	}
	// Directly, the backend speaks SQL, not HTTP. (Through internal/authn,
	// which apikey imports for its scopes, net/http is still a transitive
	// dependency.)
	for _, imp := range goList(t, "-f", `{{join .Imports "\n"}}`, ".") {
		if imp == "net/http" {
			t.Errorf("the sqlite package imports net/http")
		}
	}
}

// goList runs the go command's list with args in the package's directory
// and returns its output lines. It skips the test where no go command
// is found (a test binary copied elsewhere).
func goList(t *testing.T, args ...string) []string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("no go command: %v", err)
	}
	out, err := exec.Command(goTool, append([]string{"list"}, args...)...).Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			t.Fatalf("go list %s: %v\n%s", strings.Join(args, " "), err, ee.Stderr)
		}
		t.Fatalf("go list %s: %v", strings.Join(args, " "), err)
	}
	return strings.Fields(string(out))
}
