package bridge

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/2coffee/mcp-2coffee/internal/bridge/bridgetest"
	"github.com/2coffee/mcp-2coffee/internal/oauthclient"
	"github.com/2coffee/mcp-2coffee/internal/oauthclient/oauthtest"
)

func env(m map[string]string) LookupEnv {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestParseHeaders(t *testing.T) {
	lookup := env(map[string]string{"KEY": "s3cret", "EMPTY": "", "USER_1": "ada"})
	h, err := ParseHeaders([]string{
		"X-API-KEY: ${KEY}",
		"x-trace:  a=${USER_1};b=${EMPTY}; price $5  ",
		"X-Trace: second",
		"Authorization: Bearer ${KEY}",
	}, lookup)
	if err != nil {
		t.Fatal(err)
	}
	want := http.Header{
		"X-Api-Key":     {"s3cret"},
		"X-Trace":       {"a=ada;b=; price $5", "second"},
		"Authorization": {"Bearer s3cret"},
	}
	if diff := cmp.Diff(want, h); diff != "" {
		t.Errorf("ParseHeaders (-want +got):\n%s", diff)
	}

	for _, tc := range []struct{ line, wantErr string }{
		{"X-API-KEY: ${MISSING}", "MISSING is not set"},
		{"X-API-KEY: ${KEY", "unterminated"},
		{"X-API-KEY: ${1BAD}", "invalid variable name"},
		{"no colon here", "want \"Name: value\""},
		{"Bad Name: x", "invalid name"},
		{": x", "invalid name"},
		{"Mcp-Session-Id: abc", "cannot be overridden"},
		{"content-type: text/plain", "cannot be overridden"},
		{"X-A: ${NL}", "line break"},
	} {
		_, err := ParseHeaders([]string{tc.line}, env(map[string]string{"NL": "a\nb"}))
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("ParseHeaders(%q) error = %v, want %q", tc.line, err, tc.wantErr)
		}
	}
	// An error about an unnamed value does not echo a pasted secret.
	_, err = ParseHeaders([]string{"sk-live-0123456789abcdef"}, lookup)
	if err == nil || strings.Contains(err.Error(), "0123456789abcdef") {
		t.Errorf("error %v repeats the malformed value", err)
	}
}

func TestReadHeaderFile(t *testing.T) {
	t.Parallel()
	p := filepath.Join(t.TempDir(), "headers")
	os.WriteFile(p, []byte("# the blog's key\nX-API-KEY: ${KEY}\r\n\n  X-Other: 1\n"), 0o600)
	lines, err := ReadHeaderFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"X-API-KEY: ${KEY}", "X-Other: 1"}, lines); diff != "" {
		t.Errorf("ReadHeaderFile (-want +got):\n%s", diff)
	}
	c, err := New(Options{ServerURL: "https://blog.example.com/mcp", HeaderFile: p, ConfigDir: t.TempDir(), LookupEnv: env(map[string]string{"KEY": "k"})})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.http.Transport.(recordingTransport).base.(*authTransport).header.Get("X-Api-Key"); got != "k" {
		t.Errorf("header from file = %q, want k", got)
	}
}

// protectedMCP puts the test MCP server behind the test authorization
// server.
func protectedMCP(t *testing.T, aso oauthtest.ASOptions, rso oauthtest.RSOptions) (*oauthtest.AuthServer, *oauthtest.ResourceServer) {
	t.Helper()
	as := oauthtest.NewAuthServer(t, aso)
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return bridgetest.NewMCPServer() }, nil)
	return as, oauthtest.NewResourceServer(t, as, h, rso)
}

func TestRelayWithOAuth(t *testing.T) {
	as, rs := protectedMCP(t, oauthtest.ASOptions{Revocation: true}, oauthtest.RSOptions{ChallengeScope: "articles:read"})
	dir := t.TempDir()
	browser := &oauthtest.Browser{}
	run := func(opener oauthclient.BrowserOpener) {
		t.Helper()
		c := newBridge(t, rs.URL(), Options{ConfigDir: dir, OAuth: oauthclient.Options{OpenBrowser: opener, Timeout: 10 * time.Second}})
		transport, wait := relayTo(t, c, RelayOptions{})
		cs, err := (&observer{}).client().Connect(context.Background(), transport, nil)
		if err != nil {
			t.Fatal(err)
		}
		res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"text": "hi"}})
		if err != nil || res.IsError {
			t.Fatalf("tools/call: %v %v", res, err)
		}
		cs.Close()
		if err := wait(); err != nil {
			t.Fatal(err)
		}
	}

	// First run: sign in through the "browser".
	run(browser.Open)
	if n := len(browser.Opened()); n != 1 {
		t.Fatalf("browser opened %d times, want 1", n)
	}
	// A restarted bridge uses the cached token.
	run(func(context.Context, string) error {
		t.Error("the browser was opened although a valid token is cached")
		return nil
	})
	// The server revokes everything: the bridge signs in again, reusing
	// its registration.
	as.RevokeAll()
	run(browser.Open)
	if n := len(browser.Opened()); n != 2 {
		t.Errorf("browser opened %d times, want 2", n)
	}
	regs, auths, _ := as.Counts()
	if regs != 1 || auths != 2 {
		t.Errorf("registrations, authorizations = %d, %d; want 1, 2", regs, auths)
	}

	// login, auth status and logout on the same cache.
	c := newBridge(t, rs.URL(), Options{ConfigDir: dir})
	st, err := c.Status()
	if err != nil || len(st) != 1 || !st[0].SignedIn || st[0].ClientID != "client-1" {
		t.Errorf("status = %+v, %v", st, err)
	}
	if all, err := Status(dir, ""); err != nil || len(all) != 1 {
		t.Errorf("Status(all) = %+v, %v", all, err)
	}
	if err := c.Logout(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st, _ := c.Status(); st[0].SignedIn {
		t.Errorf("still signed in after logout")
	}
}

func TestAuthorizationHeaderDisablesOAuth(t *testing.T) {
	t.Parallel()
	as, rs := protectedMCP(t, oauthtest.ASOptions{}, oauthtest.RSOptions{})
	c := newBridge(t, rs.URL(), Options{
		Headers: []string{"Authorization: Bearer not-valid"},
		OAuth: oauthclient.Options{OpenBrowser: func(context.Context, string) error {
			t.Error("the browser was opened although an Authorization header is configured")
			return nil
		}},
	})
	if _, err := listTools(c); err == nil {
		t.Fatal("tools/list with a bad configured token succeeded")
	}
	if regs, auths, _ := as.Counts(); regs+auths != 0 {
		t.Errorf("OAuth ran: %d registrations, %d authorizations", regs, auths)
	}
	for _, r := range rs.Snapshot() {
		if r.Token != "not-valid" {
			t.Errorf("request sent with token %q, want the configured one", r.Token)
		}
	}
}

func TestStepUpThroughTransport(t *testing.T) {
	t.Parallel()
	as, rs := protectedMCP(t, oauthtest.ASOptions{}, oauthtest.RSOptions{
		ChallengeScope: "read",
		Require: func(method string) []string {
			if method == "tools/call" {
				return []string{"read", "write"}
			}
			return nil
		},
	})
	browser := &oauthtest.Browser{}
	c := newBridge(t, rs.URL(), Options{OAuth: oauthclient.Options{OpenBrowser: browser.Open, Timeout: 10 * time.Second}})
	res, err := callTool(c, "echo", map[string]any{"text": "w"})
	if err != nil {
		t.Fatal(err)
	}
	if res.IsError {
		t.Errorf("echo failed after step-up")
	}
	_, auths, _, _, _ := as.Snapshot()
	var scopes []string
	for _, a := range auths {
		scopes = append(scopes, a.Get("scope"))
	}
	if diff := cmp.Diff([]string{"read", "read write"}, scopes); diff != "" {
		t.Errorf("scopes requested (-want +got):\n%s", diff)
	}
	// The retried request carried the same body.
	var bodies []string
	for _, r := range rs.Snapshot() {
		if r.RPCMethod == "tools/call" {
			bodies = append(bodies, r.Body)
		}
	}
	if len(bodies) != 2 || bodies[0] != bodies[1] || !strings.Contains(bodies[0], `"text":"w"`) {
		t.Errorf("tools/call bodies = %q, want the same body twice (403, then success)", bodies)
	}
}

func TestStepUpIsBounded(t *testing.T) {
	t.Parallel()
	as, rs := protectedMCP(t, oauthtest.ASOptions{OmitScope: true}, oauthtest.RSOptions{ChallengeScope: "admin", AlwaysForbid: "admin"})
	browser := &oauthtest.Browser{}
	c := newBridge(t, rs.URL(), Options{OAuth: oauthclient.Options{OpenBrowser: browser.Open, Timeout: 10 * time.Second}})
	if _, err := listTools(c); err == nil {
		t.Fatal("a server that always refuses was accepted")
	}
	if _, auths, _ := as.Counts(); auths != oauthclient.MaxAuthorizations {
		t.Errorf("authorizations = %d, want %d", auths, oauthclient.MaxAuthorizations)
	}
	// Each request gets its own budget, but never more.
	if auths := len(browser.Opened()); auths > oauthclient.MaxAuthorizations {
		t.Errorf("browser opened %d times for one request", auths)
	}
}

// session opens a go-sdk client session through c, as mcp-2coffee call
// does.
func session(c *Client) (*mcp.ClientSession, error) {
	return c.Dial(context.Background(), mcp.NewClient(&mcp.Implementation{Name: "bridge-test", Version: "1"}, nil))
}

// listTools lists the server's tools through c.
func listTools(c *Client) (*mcp.ListToolsResult, error) {
	cs, err := session(c)
	if err != nil {
		return nil, err
	}
	defer cs.Close()
	return cs.ListTools(context.Background(), nil)
}

// callTool calls one tool through c.
func callTool(c *Client, name string, args map[string]any) (*mcp.CallToolResult, error) {
	cs, err := session(c)
	if err != nil {
		return nil, err
	}
	defer cs.Close()
	return cs.CallTool(context.Background(), &mcp.CallToolParams{Name: name, Arguments: args})
}
