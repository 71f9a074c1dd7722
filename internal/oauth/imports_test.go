package oauth_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImports keeps the domain a leaf: no networking at all (so a store
// that imports it inherits nothing of HTTP), and of this project only the
// sentinel errors. What is allowed is listed, so any new dependency is a
// decision someone made in review.
func TestImports(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("no go command: %v", err)
	}
	out, err := exec.Command(goTool, "list", "-deps", "-f", "{{.Standard}} {{.ImportPath}}", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	allowed := map[string]bool{
		"github.com/2coffee/mcp-2coffee/internal/oauth":   true,
		"github.com/2coffee/mcp-2coffee/internal/errdefs": true,
		"golang.org/x/crypto/argon2":                      true,
		"golang.org/x/crypto/blake2b":                     true, // argon2's hash
		"golang.org/x/sys/cpu":                            true, // blake2b's feature detection
	}
	for line := range strings.Lines(string(out)) {
		standard, path, _ := strings.Cut(strings.TrimSpace(line), " ")
		switch {
		case standard == "true" && (path == "net" || strings.HasPrefix(path, "net/")):
			t.Errorf("the oauth package depends on %s", path)
		case standard == "false" && !allowed[path]:
			t.Errorf("the oauth package depends on %s, which is not in the allowed list", path)
		}
	}
}
