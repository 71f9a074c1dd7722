package bridge

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/2coffee/mcp-2coffee/internal/oauthclient"
	"github.com/2coffee/mcp-2coffee/internal/oauthclient/oauthtest"
	"github.com/2coffee/mcp-2coffee/internal/tokencache"
)

// writeNeedsMore is a server like ours: tools/call needs read and write,
// everything else read; the key "ro" holds read only, "rw" both.
func writeNeedsMore(t *testing.T) (*oauthtest.AuthServer, *oauthtest.ResourceServer) {
	t.Helper()
	return protectedMCP(t, oauthtest.ASOptions{}, oauthtest.RSOptions{
		ChallengeScope: "read",
		APIKeys:        map[string][]string{"ro": {"read"}, "rw": {"read", "write"}},
		Require: func(method string) []string {
			if method == "tools/call" {
				return []string{"read", "write"}
			}
			return []string{"read"}
		},
	})
}

// noBrowser fails the test if a sign-in is started; the sign-in then
// gives up after a second rather than the default five minutes.
func noBrowser(t *testing.T) oauthclient.Options {
	return oauthclient.Options{Timeout: time.Second, OpenBrowser: func(context.Context, string) error {
		t.Error("the browser was opened although a credential is configured")
		return nil
	}}
}

// oneCredentialEach checks, at the HTTP level, that no request reached the
// server with two credentials, and returns how many carried the key and
// how many a bearer token.
func oneCredentialEach(t *testing.T, rs *oauthtest.ResourceServer) (keys, tokens int) {
	t.Helper()
	for _, r := range rs.Snapshot() {
		if r.APIKey != "" && r.Token != "" {
			t.Errorf("%s %s carried an X-API-KEY and a bearer token", r.HTTPMethod, r.RPCMethod)
		}
		if r.APIKey != "" {
			keys++
		}
		if r.Token != "" {
			tokens++
		}
	}
	return keys, tokens
}

// relaySession runs the bridge behind an MCP client, as connect does.
func relaySession(t *testing.T, c *Client) *mcp.ClientSession {
	t.Helper()
	transport, wait := relayTo(t, c, RelayOptions{})
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "t", Version: "1"}, nil).Connect(context.Background(), transport, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cs.Close()
		if err := wait(); err != nil {
			t.Error(err)
		}
	})
	return cs
}

// A read-only key and a write call: the MCP client gets an error that says
// what happened and what to do, no sign-in starts, and the bridge keeps
// working for what the key may do. Through connect (the relay) and call
// (Dial) alike.
func TestConfiguredKeyLacksScope(t *testing.T) {
	t.Parallel()
	want := []string{"the configured X-API-KEY lacks the scope read write that this request needs; use one that has it", "drop the X-API-KEY header to sign in with OAuth", "--oauth-step-up"}
	check := func(t *testing.T, err error) {
		t.Helper()
		if err == nil {
			t.Fatal("a write call with a read-only key succeeded")
		}
		for _, w := range want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("error %q does not say %q", err, w)
			}
		}
	}
	t.Run("connect", func(t *testing.T) {
		t.Parallel()
		as, rs := writeNeedsMore(t)
		c := newBridge(t, rs.URL(), Options{Headers: []string{"X-API-KEY: ro"}, OAuth: noBrowser(t)})
		cs := relaySession(t, c)
		_, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"text": "w"}})
		check(t, err)
		if _, err := cs.ListTools(context.Background(), nil); err != nil {
			t.Errorf("tools/list after the refused call: %v", err)
		}
		if regs, auths, _ := as.Counts(); regs+auths != 0 {
			t.Errorf("OAuth ran: %d registrations, %d authorizations", regs, auths)
		}
		if keys, tokens := oneCredentialEach(t, rs); keys == 0 || tokens != 0 {
			t.Errorf("requests with the key, with a token = %d, %d; want some, 0", keys, tokens)
		}
	})
	t.Run("call", func(t *testing.T) {
		t.Parallel()
		as, rs := writeNeedsMore(t)
		c := newBridge(t, rs.URL(), Options{Headers: []string{"X-API-KEY: ro"}, OAuth: noBrowser(t)})
		_, err := callTool(c, "echo", map[string]any{"text": "w"})
		check(t, err)
		if regs, auths, _ := as.Counts(); regs+auths != 0 {
			t.Errorf("OAuth ran: %d registrations, %d authorizations", regs, auths)
		}
		oneCredentialEach(t, rs)
	})
}

// A key the server refuses (revoked, mistyped) is reported as such, not
// answered with a browser.
func TestConfiguredCredentialRefused(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		opts     Options
		wantErrs []string
	}{
		{"revoked key", Options{Headers: []string{"X-API-KEY: revoked"}}, []string{"the server refused the configured X-API-KEY (401 invalid_token); check or replace it", "drop the X-API-KEY header to sign in with OAuth"}},
		{"bad Authorization", Options{Headers: []string{"Authorization: Bearer nope"}}, []string{"the server refused the configured Authorization (401 invalid_token)"}},
		{"declared credential", Options{Headers: []string{"X-Token: t"}, CredentialHeaders: []string{"x-token"}}, []string{"the server refused the configured X-Token (401)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			as, rs := writeNeedsMore(t)
			tc.opts.OAuth = noBrowser(t)
			c := newBridge(t, rs.URL(), tc.opts)
			// connect: the relay answers the client's initialize with
			// the error.
			transport, wait := relayTo(t, c, RelayOptions{})
			cs, err := mcp.NewClient(&mcp.Implementation{Name: "t", Version: "1"}, nil).Connect(context.Background(), transport, nil)
			if err == nil {
				cs.Close()
				wait()
				t.Fatal("initialize with a refused credential succeeded")
			}
			for _, w := range tc.wantErrs {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			// call: the same error.
			if _, err := listTools(c); err == nil || !strings.Contains(err.Error(), tc.wantErrs[0]) {
				t.Errorf("call: error %v, want %q", err, tc.wantErrs[0])
			}
			if regs, auths, _ := as.Counts(); regs+auths != 0 {
				t.Errorf("OAuth ran: %d registrations, %d authorizations", regs, auths)
			}
			oneCredentialEach(t, rs)
		})
	}
}

// A token cached from an earlier sign-in is not sent beside a configured
// key: the pair would be refused (400) on every request until logout.
func TestConfiguredKeyIgnoresCachedToken(t *testing.T) {
	t.Parallel()
	_, rs := writeNeedsMore(t)
	dir := t.TempDir()
	signedIn := newBridge(t, rs.URL(), Options{ConfigDir: dir, OAuth: oauthclient.Options{OpenBrowser: (&oauthtest.Browser{}).Open, Timeout: 10 * time.Second}})
	if _, err := callTool(signedIn, "echo", map[string]any{"text": "x"}); err != nil {
		t.Fatal(err)
	}
	if e, err := tokencache.Open(dir); err != nil {
		t.Fatal(err)
	} else if got, err := e.Load(rs.URL()); err != nil || got.Token == nil {
		t.Fatalf("no token cached after the sign-in: %v", err)
	}
	before := len(rs.Snapshot())

	c := newBridge(t, rs.URL(), Options{ConfigDir: dir, Headers: []string{"X-API-KEY: rw"}, OAuth: noBrowser(t)})
	res, err := callTool(c, "echo", map[string]any{"text": "with the key"})
	if err != nil || res.IsError {
		t.Fatalf("tools/call with a key while a token is cached: %v %v", res, err)
	}
	oneCredentialEach(t, rs)
	for _, r := range rs.Snapshot()[before:] {
		if r.APIKey != "rw" || r.Token != "" {
			t.Errorf("%s %s: key %q, token %q; want the key alone", r.HTTPMethod, r.RPCMethod, r.APIKey, r.Token)
		}
	}
}

// With --oauth-step-up, a read-only key that is not enough leads to the
// sign-in, and the token then replaces the key: one credential per
// request, before and after.
func TestOAuthStepUpReplacesKey(t *testing.T) {
	t.Parallel()
	as, rs := writeNeedsMore(t)
	dir := t.TempDir()
	browser := &oauthtest.Browser{}
	c := newBridge(t, rs.URL(), Options{ConfigDir: dir, Headers: []string{"X-API-KEY: ro"}, OAuthStepUp: true,
		OAuth: oauthclient.Options{OpenBrowser: browser.Open, Timeout: 10 * time.Second}})
	cs := relaySession(t, c)
	if _, err := cs.ListTools(context.Background(), nil); err != nil {
		t.Fatalf("tools/list with the key: %v", err)
	}
	if n := len(browser.Opened()); n != 0 {
		t.Fatalf("the browser was opened %d times while the key was enough", n)
	}
	res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"text": "w"}})
	if err != nil || res.IsError {
		t.Fatalf("tools/call after the step-up: %v %v", res, err)
	}
	if _, err := cs.ListTools(context.Background(), nil); err != nil {
		t.Fatalf("tools/list after the step-up: %v", err)
	}
	if n := len(browser.Opened()); n != 1 {
		t.Errorf("browser opened %d times, want 1", n)
	}
	_, auths, _, _, _ := as.Snapshot()
	if len(auths) != 1 || auths[0].Get("scope") != "read write" {
		t.Errorf("authorization requests %v, want one for \"read write\"", auths)
	}
	keys, tokens := oneCredentialEach(t, rs)
	if keys == 0 || tokens == 0 {
		t.Errorf("requests with the key, with a token = %d, %d; want both kinds", keys, tokens)
	}
	// Once a token is there, the key is no longer sent.
	reqs := rs.Snapshot()
	first := -1
	for i, r := range reqs {
		if r.Token != "" {
			first = i
			break
		}
	}
	for _, r := range reqs[first:] {
		if r.APIKey != "" {
			t.Errorf("%s %s carried the key after the sign-in", r.HTTPMethod, r.RPCMethod)
		}
	}
}

func TestCredentialHeaderRules(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		headers  []string
		declared []string
		want     string
		wantErr  string
	}{
		{name: "none", headers: []string{"X-Trace: 1"}},
		{name: "api key", headers: []string{"x-api-key: k", "X-Trace: 1"}, want: "X-Api-Key"},
		{name: "authorization", headers: []string{"Authorization: Bearer t"}, want: "Authorization"},
		{name: "declared", headers: []string{"X-Token: t"}, declared: []string{"x-token"}, want: "X-Token"},
		{name: "two credentials", headers: []string{"X-API-KEY: k", "Authorization: Bearer t"}, wantErr: "more than one credential is configured (Authorization, X-Api-Key)"},
		{name: "one credential twice", headers: []string{"X-API-KEY: k", "X-API-KEY: l"}, wantErr: "more than one credential"},
		{name: "declared and a key", headers: []string{"X-API-KEY: k", "X-Token: t"}, declared: []string{"X-Token"}, wantErr: "more than one credential"},
		{name: "declared but absent", headers: []string{"X-API-KEY: k"}, declared: []string{"X-Token"}, wantErr: "no header of that name is configured"},
		{name: "declared, bad name", declared: []string{"X Token"}, wantErr: "invalid name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := New(Options{ServerURL: "https://blog.example.com/mcp", Headers: tc.headers, CredentialHeaders: tc.declared, ConfigDir: t.TempDir()})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("New error = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			h, _ := ParseHeaders(tc.headers, nil)
			if got, _ := credentialHeader(h, tc.declared); got != tc.want {
				t.Errorf("credential header = %q, want %q", got, tc.want)
			}
		})
	}
}
