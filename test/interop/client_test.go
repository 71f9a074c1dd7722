package interop

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"
)

var (
	suiteTotalRE    = regexp.MustCompile(`Total: (\d+) passed, (\d+) failed, (\d+) warnings`)
	scenarioTotalRE = regexp.MustCompile(`Passed: (\d+)/\d+, (\d+) failed, (\d+) warnings`)
)

// TestConformanceClient grades `mcp-2coffee call` (and, through it,
// `connect`) with the official suite's client scenarios: every auth
// scenario — discovery orders, CIMD, pre-registration, DCR, step-up, scope
// choice, iss checks, the 2025-03-26 back-compat ones — and the core ones,
// with no failure and no warning; and the client credentials extension's
// scenarios (a machine client, --grant client_credentials, with a secret
// and with private_key_jwt) and the enterprise-managed authorization one
// (--grant jwt-bearer: token exchange at the scenario's identity provider,
// then the jwt-bearer grant), which no suite holds.
func TestConformanceClient(t *testing.T) {
	nodeTool(t, "conformance")
	if _, err := exec.LookPath("curl"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("curl is needed as the test browser")
		}
		t.Skip("curl is needed as the test browser")
	}
	root := moduleRoot(t)
	loader := filepath.Join(root, "test", "interop", "node20-fs-globsync.mjs")
	cli := filepath.Join(root, "node_modules", "@modelcontextprotocol", "conformance", "dist", "index.js")
	wrapper := filepath.Join(root, "test", "interop", "conformance-client.sh")
	for _, tc := range []struct {
		name, suite, scenario string
		viaConnect            bool
	}{
		{"auth suite, one-shot call", "auth", "", false},
		{"auth suite, through connect", "auth", "", true},
		{"core suite", "core", "", false},
		{"client credentials, one-shot call", "", "auth/client-credentials-basic", false},
		{"client credentials, through connect", "", "auth/client-credentials-basic", true},
		{"client credentials with private_key_jwt, one-shot call", "", "auth/client-credentials-jwt", false},
		{"client credentials with private_key_jwt, through connect", "", "auth/client-credentials-jwt", true},
		{"enterprise-managed authorization, one-shot call", "", "auth/enterprise-managed-authorization", false},
		{"enterprise-managed authorization, through connect", "", "auth/enterprise-managed-authorization", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := []string{"MCP_2COFFEE_BIN=" + binary(t), "NO_COLOR=1", "FORCE_COLOR=0"}
			if tc.viaConnect {
				env = append(env, "MCP_2COFFEE_VIA_CONNECT=1")
			}
			which := []string{"--suite", tc.suite}
			if tc.scenario != "" {
				which = []string{"--scenario", tc.scenario}
			}
			r := run(t, command{
				args:    append([]string{"node", "--import", loader, cli, "client", "--command", wrapper, "-o", t.TempDir()}, which...),
				dir:     root,
				env:     env,
				timeout: 8 * time.Minute,
			})
			m := suiteTotalRE.FindStringSubmatch(r.stdout + r.stderr)
			if m == nil && tc.scenario != "" {
				m = scenarioTotalRE.FindStringSubmatch(r.stdout + r.stderr)
			}
			if m == nil {
				t.Fatalf("no suite total (exit %d, %v)\n%s\n%s", r.exitCode, r.err, r.stdout, r.stderr)
			}
			t.Log(m[0])
			if m[1] == "0" || m[2] != "0" || m[3] != "0" || r.exitCode != 0 {
				t.Errorf("%s%s: %s (exit %d)\n%s", tc.suite, tc.scenario, m[0], r.exitCode, r.stdout)
			}
		})
	}
}
