package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/2coffee/mcp-2coffee/internal/authn"
	"github.com/2coffee/mcp-2coffee/internal/mcpserver"
	"github.com/2coffee/mcp-2coffee/internal/store/postgres/pgtest"
	"github.com/2coffee/mcp-2coffee/internal/testkit"
)

// replicaBackends are the shared databases TestReplicas runs on: each
// gives a new, empty database that several processes may open at once.
var replicaBackends = []struct {
	name string
	dsn  func(t *testing.T) string
}{
	// What scale-out is for: replicas sharing one PostgreSQL database
	// (skipped without a server, except under CI=true).
	{"postgres", func(t *testing.T) string { return pgtest.Schema(t) }},
	// Several processes on one SQLite file (WAL, a busy timeout, the
	// setup lock beside it): one machine's replicas, or serve beside
	// stdio and the CLI.
	{"sqlite", func(t *testing.T) string { return filepath.Join(t.TempDir(), "blog.db") }},
}

// replicaCount is how many serve processes share the database.
const replicaCount = 3

// TestReplicas runs three serve processes on one database behind a
// round-robin proxy, as operators run replicas behind a load balancer, and
// checks that any replica serves any request: the first run's secrets are
// made once, an OAuth sign-in may hop between replicas at every step,
// tokens and API keys minted or revoked through one hold on all at once,
// and a replica killed under load costs the clients nothing they cannot
// retry, and serves again as soon as it is restarted.
func TestReplicas(t *testing.T) {
	for _, b := range replicaBackends {
		t.Run(b.name, func(t *testing.T) {
			testReplicas(t, b.dsn(t))
		})
	}
}

func testReplicas(t *testing.T, dsn string) {
	began := time.Now()
	lb := newBalancer(t)
	rs := &replicaSet{lb: lb, dsn: dsn}
	// All three start before any is waited for, so they race through
	// migrations and the first-run steps on the empty database together.
	for range replicaCount {
		rs.servers = append(rs.servers, launchServe(t, rs.options("")))
	}
	for _, s := range rs.servers {
		s.waitServing(t)
		rs.addrs = append(rs.addrs, listenAddr(t, s))
	}
	lb.setReplicas(rs.addrs)
	t.Logf("%d replicas serving after %v", replicaCount, time.Since(began).Round(time.Millisecond))

	var key, password string
	t.Run("one first run among replicas starting together", func(t *testing.T) {
		var keys, passwords int
		for _, s := range rs.servers {
			if s.key != "" {
				keys++
				key = s.key
			}
			if m := passwordRE.FindStringSubmatch(s.logs()); m != nil {
				passwords++
				password = m[1]
			}
		}
		if keys != 1 || passwords != 1 {
			t.Fatalf("%d replicas printed an admin key and %d an admin password; want exactly one of each", keys, passwords)
		}
		var list []struct{ ID, Name string }
		if err := json.Unmarshal([]byte(rs.cli(t, "keys", "list", "--json")), &list); err != nil {
			t.Fatal(err)
		}
		if len(list) != 1 || list[0].Name != "admin" {
			t.Errorf("keys list after three first runs: %+v, want the one admin key", list)
		}
		if users := rs.cli(t, "users", "list"); strings.Count(users, "admin") != 1 {
			t.Errorf("users list after three first runs:\n%s\nwant the one admin user", users)
		}
	})
	if key == "" || password == "" {
		t.FailNow()
	}

	t.Run("OAuth hops between replicas at every step", func(t *testing.T) {
		testReplicasOAuth(t, rs, password)
	})
	t.Run("a grant revoked and a password changed through the CLI end tokens on all at once", func(t *testing.T) {
		testReplicasRevokedByCLI(t, rs, password)
	})
	t.Run("an API key from the CLI holds and is revoked on all at once", func(t *testing.T) {
		readKey := rs.cli(t, "keys", "create", "--name", "replicas", "--scope", authn.ScopeRead)
		for i := range replicaCount {
			if status := rs.toolsList(t, i, map[string]string{"X-API-KEY": readKey}); status != http.StatusOK {
				t.Errorf("a new key on replica %d: %d, want 200", i, status)
			}
		}
		var list []struct{ ID, Name string }
		if err := json.Unmarshal([]byte(rs.cli(t, "keys", "list", "--json")), &list); err != nil {
			t.Fatal(err)
		}
		for _, k := range list {
			if k.Name == "replicas" {
				rs.cli(t, "keys", "revoke", k.ID)
			}
		}
		for i := range replicaCount {
			if status := rs.toolsList(t, i, map[string]string{"X-API-KEY": readKey}); status != http.StatusUnauthorized {
				t.Errorf("the revoked key on replica %d: %d, want 401", i, status)
			}
		}
	})
	t.Run("load through the balancer while a replica is killed", func(t *testing.T) {
		testReplicasUnderLoad(t, rs, key)
	})
	t.Logf("%s: %v in all", t.Name(), time.Since(began).Round(time.Millisecond))
}

// replicaSet is the replicas of one test and the balancer in front.
type replicaSet struct {
	lb      *balancer
	dsn     string
	servers []*liveServer
	addrs   []string // each replica's listening address, kept for a restart
}

// options are how every replica runs: on the shared database, and named
// by the balancer's URL, which clients use and OAuth metadata must name.
func (rs *replicaSet) options(addr string) serveOptions {
	return serveOptions{db: rs.dsn, addr: addr, args: []string{"--public-url", rs.lb.url, "--trusted-proxy", "127.0.0.1/32"}}
}

// cli runs another mcp-2coffee command on the shared database.
func (rs *replicaSet) cli(t *testing.T, args ...string) string {
	t.Helper()
	return rs.servers[0].cli(t, args...)
}

// toolsList sends tools/list with header through the balancer to replica
// i and returns the status.
func (rs *replicaSet) toolsList(t *testing.T, i int, header map[string]string) int {
	t.Helper()
	resp, _ := post(t, rs.lb.url+"/mcp", `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`, rs.lb.pin(i, header))
	return resp.StatusCode
}

// replicaClient is a client registered through the balancer.
type replicaClient struct {
	ClientID string `json:"client_id"`
}

// oauthToken registers a public client named name on replica register,
// walks the browser's four requests (the authorization page, the sign-in,
// the consent form, the approval) on the replicas of browserSteps, and
// redeems the code on replica token.
func (rs *replicaSet) oauthToken(t *testing.T, name, password string, register int, browserSteps []int, token int) (replicaClient, tokenResponse) {
	t.Helper()
	lb := rs.lb
	resp, err := lb.client(register).Post(lb.url+"/oauth/register", "application/json", strings.NewReader(
		`{"client_name":"`+name+`","redirect_uris":["`+callbackURL+`"],"token_endpoint_auth_method":"none","grant_types":["authorization_code","refresh_token"]}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var reg replicaClient
	if resp.StatusCode != http.StatusCreated || json.Unmarshal(body, &reg) != nil || reg.ClientID == "" {
		t.Fatalf("register: %d %s", resp.StatusCode, body)
	}
	verifier := strings.Repeat("r", 20) + "0123456789-._~abcdefghijklmnop"
	sum := sha256.Sum256([]byte(verifier))
	mcpURL := lb.url + "/mcp"
	q := url.Values{
		"response_type": {"code"}, "client_id": {reg.ClientID}, "redirect_uri": {callbackURL},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"},
		"state": {"st-r"}, "scope": {authn.ScopeRead}, "resource": {mcpURL},
	}
	browser := newSignIn(t, "admin", password)
	browser.client.Transport = lb.sequence(t, browserSteps...)
	got := browser.authorize(lb.url + "/oauth/authorize?" + q.Encode())
	if got.Get("code") == "" || got.Get("state") != "st-r" || got.Get("iss") != lb.url {
		t.Fatalf("redirect query %v: want a code, state st-r and iss %s", got, lb.url)
	}
	tok := decodeTokens(t, tokenRequestWith(t, lb.client(token), lb.url, url.Values{"grant_type": {"authorization_code"}, "code": {got.Get("code")},
		"redirect_uri": {callbackURL}, "client_id": {reg.ClientID}, "code_verifier": {verifier}, "resource": {mcpURL}}, http.StatusOK))
	return reg, tok
}

// tokenEverywhere checks that every replica answers a request with the
// access token with want: 200 while it holds, 401 from the first request
// after a revocation anywhere.
func (rs *replicaSet) tokenEverywhere(t *testing.T, token string, want int) {
	t.Helper()
	for i := range replicaCount {
		if status := rs.toolsList(t, i, map[string]string{"Authorization": "Bearer " + token}); status != want {
			t.Errorf("the access token on replica %d: %d, want %d", i, status, want)
		}
	}
}

// testReplicasRevokedByCLI: an operator's revocation through the CLI (a
// grant revoked, a password changed) ends the tokens on every replica at
// once.
func testReplicasRevokedByCLI(t *testing.T, rs *replicaSet, password string) {
	reg, tok := rs.oauthToken(t, "grant to revoke", password, 1, []int{2, 0, 1, 2}, 0)
	rs.tokenEverywhere(t, tok.AccessToken, http.StatusOK)
	rs.cli(t, "grants", "revoke", "admin", reg.ClientID)
	rs.tokenEverywhere(t, tok.AccessToken, http.StatusUnauthorized)

	_, tok = rs.oauthToken(t, "password change", password, 2, []int{0, 1, 2, 0}, 1)
	rs.tokenEverywhere(t, tok.AccessToken, http.StatusOK)
	cmd := selfCommand(t, "users", "passwd", "admin", "--database", rs.dsn)
	cmd.Stdin = strings.NewReader("a brand new password for admin\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("users passwd: %v\n%s", err, out)
	}
	rs.tokenEverywhere(t, tok.AccessToken, http.StatusUnauthorized)
}

// testReplicasOAuth registers a client, signs in and redeems the code
// with each step on another replica than the one before, so every piece
// of state the flow carries (the pending authorization, the session, the
// consent form's CSRF token, the code, the tokens) must come from the
// database.
func testReplicasOAuth(t *testing.T, rs *replicaSet, password string) {
	lb := rs.lb
	mark := lb.mark()
	reg, tok := rs.oauthToken(t, "replicas e2e", password, 0, []int{1, 2, 0, 1}, 2)
	mcpURL := lb.url + "/mcp"
	want := []route{
		{"POST", "/oauth/register", 0},
		{"GET", "/oauth/authorize", 1},
		{"POST", "/oauth/login", 2},
		{"GET", "/oauth/authorize", 0},
		{"POST", "/oauth/authorize", 1},
		{"POST", "/oauth/token", 2},
	}
	if diff := cmp.Diff(want, lb.routes(mark)); diff != "" {
		t.Fatalf("where the flow's requests went (-want +got):\n%s", diff)
	}

	bearer := func(token string) map[string]string { return map[string]string{"Authorization": "Bearer " + token} }
	for i := range replicaCount {
		resp, body := post(t, mcpURL, `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"search_articles","arguments":{"query":"semaphore"}}}`, lb.pin(i, bearer(tok.AccessToken)))
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, "a-semaphore-with-a-buffered-channel") {
			t.Errorf("tools/call with the token on replica %d: %d %.300s", i, resp.StatusCode, body)
		}
	}

	refresh := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}, "client_id": {reg.ClientID}}
	second := decodeTokens(t, tokenRequestWith(t, lb.client(0), lb.url, refresh, http.StatusOK))
	for i := range replicaCount {
		if status := rs.toolsList(t, i, bearer(second.AccessToken)); status != http.StatusOK {
			t.Errorf("the refreshed token on replica %d: %d, want 200", i, status)
		}
	}

	// Revoking the newest refresh token revokes its family, both access
	// tokens included. The other replicas must refuse them on the very
	// next request: each looks the token up, none remembers it.
	mark = lb.mark()
	resp, err := lb.client(1).PostForm(lb.url+"/oauth/revoke", url.Values{"token": {second.RefreshToken}, "client_id": {reg.ClientID}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("revoke: %d", resp.StatusCode)
	}
	for _, i := range []int{2, 0} {
		for name, at := range map[string]string{"first": tok.AccessToken, "refreshed": second.AccessToken} {
			if status := rs.toolsList(t, i, bearer(at)); status != http.StatusUnauthorized {
				t.Errorf("the %s access token on replica %d after revocation through replica 1: %d, want 401", name, i, status)
			}
		}
	}
	again := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {second.RefreshToken}, "client_id": {reg.ClientID}}
	if raw := tokenRequestWith(t, lb.client(2), lb.url, again, http.StatusBadRequest); !strings.Contains(raw, "invalid_grant") {
		t.Errorf("the revoked refresh token on replica 2: %s, want invalid_grant", raw)
	}
	if got := lb.routes(mark)[0]; got != (route{"POST", "/oauth/revoke", 1}) {
		t.Errorf("the revocation went to %v, want replica 1", got)
	}
}

// Load: loadClients go-sdk sessions through the balancer, each making
// loadCalls tool calls, one in four a write. The sizes keep the whole of
// TestReplicas well under a minute per backend on two cores under -race.
const (
	loadClients = 8
	loadCalls   = 120
	killAfter   = loadClients * loadCalls / 3 // completed calls before the kill
	killed      = 1                           // the replica killed mid-load
)

// testReplicasUnderLoad runs the load, kills one replica with SIGKILL a
// third of the way through, and checks that the clients lost nothing:
// every call succeeded, at most after retries caused by the kill, and
// every write they saw acknowledged is in the database. Then it restarts
// the replica on its port and checks it serves at once.
func testReplicasUnderLoad(t *testing.T, rs *replicaSet, key string) {
	lb := rs.lb
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()

	var (
		done     atomic.Int64 // calls completed
		killNow  = make(chan struct{})
		killOnce sync.Once
		killSeq  atomic.Int64 // the balancer's sequence number when the kill was sent; 0 before
	)
	go func() {
		select {
		case <-killNow:
		case <-ctx.Done():
			return
		}
		killSeq.Store(int64(lb.mark()) + 1)
		rs.servers[killed].cmd.Process.Signal(syscall.SIGKILL)
		rs.servers[killed].wait()
	}()

	began := time.Now()
	clients := make([]*loadClient, loadClients)
	var wg sync.WaitGroup
	for c := range clients {
		lc := &loadClient{id: c, url: lb.url + "/mcp", key: key, killSeq: &killSeq}
		clients[c] = lc
		wg.Go(func() {
			defer lc.close()
			for j := range loadCalls {
				if !lc.step(ctx, j) {
					return
				}
				if done.Add(1) == killAfter {
					killOnce.Do(func() { close(killNow) })
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(began)
	if killSeq.Load() == 0 {
		t.Fatalf("the load ended (%d calls) before the kill", done.Load())
	}

	var acknowledged []write
	var retriedReads, retriedWrites int
	for _, lc := range clients {
		for _, f := range lc.failures {
			t.Error(f)
		}
		for _, e := range lc.errs {
			if !e.afterKill {
				t.Errorf("client %d: %s failed before any replica was killed: %v", lc.id, e.tool, e.err)
			}
			if e.write {
				retriedWrites++
			} else {
				retriedReads++
			}
		}
		acknowledged = append(acknowledged, lc.writes...)
	}
	total := int(done.Load())
	t.Logf("load: %d calls (%d writes) by %d clients in %v (%.0f calls/s); after the kill, %d reads and %d writes failed and were retried by their client",
		total, len(acknowledged), loadClients, elapsed.Round(time.Millisecond), float64(total)/elapsed.Seconds(), retriedReads, retriedWrites)
	if total != loadClients*loadCalls {
		t.Errorf("%d calls completed, want %d", total, loadClients*loadCalls)
	}
	// A client has one call in flight at a time, and the balancer takes
	// the dead replica out of rotation before it answers that call, so
	// the kill can fail at most one call per client.
	if n := retriedReads + retriedWrites; n > loadClients {
		t.Errorf("%d calls failed after the kill, more than the %d that can have been in flight on the killed replica", n, loadClients)
	}

	// The balancer chose the dead replica for nothing once a connection
	// to it had failed.
	downAt, ok := lb.downSince(killed)
	if !ok {
		t.Errorf("the balancer never took the killed replica out of rotation")
	}
	for _, h := range lb.hopsSince(downAt) {
		if h.replica == killed && !h.pinned {
			t.Errorf("the balancer sent %s %s (#%d) to replica %d after finding it dead (#%d)", h.method, h.path, h.seq, killed, downAt)
		}
	}

	t.Run("every acknowledged write is stored", func(t *testing.T) {
		cs := connectHTTP(t, lb.url+"/mcp", key, "2025-11-25")
		var wg sync.WaitGroup
		for c := range loadClients {
			wg.Go(func() {
				for i := c; i < len(acknowledged); i += loadClients {
					w := acknowledged[i]
					res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "get_article", Arguments: map[string]any{"slug": w.slug}})
					if err != nil {
						t.Errorf("get_article %s: %v", w.slug, err)
						return
					}
					var a mcpserver.Article
					b, _ := json.Marshal(res.StructuredContent)
					if res.IsError || json.Unmarshal(b, &a) != nil || a.Body != w.body {
						t.Errorf("%s: %s, want the body %q", w.slug, toolText(res), w.body)
					}
				}
			})
		}
		wg.Wait()
	})

	t.Run("the killed replica serves at once when restarted", func(t *testing.T) {
		began := time.Now()
		s := launchServe(t, rs.options(rs.addrs[killed]))
		s.waitServing(t)
		rs.servers[killed] = s
		if s.key != "" || passwordRE.MatchString(s.logs()) {
			t.Errorf("the restarted replica printed first-run secrets:\n%s", s.logs())
		}
		resp, err := lb.client(killed).Get(lb.url + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || string(b) != "ready\n" {
			t.Fatalf("/readyz on the restarted replica: %d %q", resp.StatusCode, b)
		}
		resp, body := post(t, lb.url+"/mcp", `{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"get_article","arguments":{"slug":"`+acknowledged[0].slug+`"}}}`,
			lb.pin(killed, map[string]string{"X-API-KEY": key}))
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, acknowledged[0].body) {
			t.Errorf("tools/call on the restarted replica: %d %.300s", resp.StatusCode, body)
		}
		t.Logf("restarted replica %d ready and serving in %v", killed, time.Since(began).Round(time.Millisecond))
		// Back in rotation (a real balancer's health check would do
		// this), it takes its share of the round robin.
		lb.revive(killed)
		mark := lb.mark()
		for range replicaCount {
			if status := rs.toolsList(t, -1, map[string]string{"X-API-KEY": key}); status != http.StatusOK {
				t.Errorf("tools/list through the balancer after the restart: %d", status)
			}
		}
		served := map[int]bool{}
		for _, r := range lb.routes(mark) {
			served[r.Replica] = true
		}
		if len(served) != replicaCount {
			t.Errorf("after the restart the round robin reached replicas %v, want all %d", served, replicaCount)
		}
	})
}

// write is a create_article its client saw acknowledged.
type write struct{ slug, body string }

// callError is a call that failed at the client and was retried.
type callError struct {
	tool      string
	write     bool
	afterKill bool
	err       error
}

// loadClient is one client of the load: a go-sdk session through the
// balancer, retrying a call that fails as a client with idempotent
// retries would, on a new session.
type loadClient struct {
	id      int
	url     string
	key     string
	killSeq *atomic.Int64

	cs       *mcp.ClientSession
	writes   []write
	errs     []callError // failed attempts that were retried
	failures []string    // what the test must report
}

// maxAttempts bounds a call's retries. The balancer takes a dead replica
// out of rotation before answering, so a retry goes to a live one and
// needs no pause.
const maxAttempts = 3

// step makes call j of the client: a write, a read of the client's own
// last write (on another replica, as the round robin goes), a search, or a
// read of a sample article. It reports false when the client should stop.
func (c *loadClient) step(ctx context.Context, j int) bool {
	switch j % 4 {
	case 0:
		w := write{slug: fmt.Sprintf("load-%d-%d", c.id, j), body: fmt.Sprintf("written by load client %d, call %d", c.id, j)}
		res, retried, ok := c.call(ctx, "create_article", map[string]any{"title": "Load " + w.slug, "slug": w.slug, "body": w.body}, true)
		if !ok {
			return false
		}
		// A write retried after a connection error may have been stored
		// the first time: finding its slug taken then is its success.
		if res.IsError && !(retried && strings.Contains(toolText(res), "is taken")) {
			c.failures = append(c.failures, fmt.Sprintf("client %d: create_article %s: %s", c.id, w.slug, toolText(res)))
			return false
		}
		c.writes = append(c.writes, w)
	case 1:
		if len(c.writes) == 0 {
			return true
		}
		w := c.writes[len(c.writes)-1]
		res, _, ok := c.call(ctx, "get_article", map[string]any{"slug": w.slug}, false)
		if !ok {
			return false
		}
		if res.IsError || !strings.Contains(toolText(res), w.body) {
			c.failures = append(c.failures, fmt.Sprintf("client %d: reading back %s: %s", c.id, w.slug, toolText(res)))
			return false
		}
	case 2:
		res, _, ok := c.call(ctx, "search_articles", map[string]any{"query": "semaphore"}, false)
		if !ok {
			return false
		}
		if res.IsError || !strings.Contains(toolText(res), "a-semaphore-with-a-buffered-channel") {
			c.failures = append(c.failures, fmt.Sprintf("client %d: search_articles: %s", c.id, toolText(res)))
			return false
		}
	case 3:
		res, _, ok := c.call(ctx, "get_article", map[string]any{"slug": "profiling-go-with-pprof"}, false)
		if !ok {
			return false
		}
		if res.IsError {
			c.failures = append(c.failures, fmt.Sprintf("client %d: get_article: %s", c.id, toolText(res)))
			return false
		}
	}
	return true
}

// call makes one tool call, retrying on a new session after an error, and
// reports whether it was retried and whether it got an answer at all.
func (c *loadClient) call(ctx context.Context, tool string, args map[string]any, isWrite bool) (*mcp.CallToolResult, bool, bool) {
	for attempt := range maxAttempts {
		res, err := c.try(ctx, tool, args)
		if err == nil {
			return res, attempt > 0, true
		}
		if ctx.Err() != nil {
			c.failures = append(c.failures, fmt.Sprintf("client %d: %s: %v", c.id, tool, ctx.Err()))
			return nil, false, false
		}
		c.errs = append(c.errs, callError{tool: tool, write: isWrite, afterKill: c.killSeq.Load() != 0, err: err})
		// The go-sdk may have given the session up (a response cut
		// short fails it); a new one costs an initialize.
		c.close()
	}
	c.failures = append(c.failures, fmt.Sprintf("client %d: %s failed %d times: %v", c.id, tool, maxAttempts, c.errs[len(c.errs)-1].err))
	return nil, false, false
}

func (c *loadClient) try(ctx context.Context, tool string, args map[string]any) (*mcp.CallToolResult, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if c.cs == nil {
		hc := &http.Client{Transport: headerTransport{header: http.Header{"X-Api-Key": {c.key}}, base: loadTransport}}
		client := mcp.NewClient(&mcp.Implementation{Name: "replicas-load", Version: "1"}, nil)
		cs, err := client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: c.url, HTTPClient: hc}, nil)
		if err != nil {
			return nil, fmt.Errorf("connect: %w", err)
		}
		c.cs = cs
	}
	return c.cs.CallTool(ctx, &mcp.CallToolParams{Name: tool, Arguments: args})
}

func (c *loadClient) close() {
	if c.cs != nil {
		c.cs.Close()
		c.cs = nil
	}
}

// loadTransport keeps a connection to the balancer per client.
var loadTransport = &http.Transport{MaxIdleConnsPerHost: loadClients, IdleConnTimeout: time.Minute}

// toolText is the text content of a tool result.
func toolText(res *mcp.CallToolResult) string {
	var b strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	return b.String()
}

// pinHeader tells the test's balancer which replica, by index, must serve
// a request. The balancer removes it before forwarding, and sends a
// pinned request there even when it holds the replica for dead.
const pinHeader = "X-Test-Replica"

// balancer is the load balancer in front of the replicas: a reverse proxy
// on 127.0.0.1 sending each request to the next live replica in turn. It
// forwards the client's Host (the replicas' --public-url names the
// balancer) and X-Forwarded-For. A connection error takes a replica out
// of rotation (a passive health check); the request then goes to another
// replica if nothing reached the dead one (the dial failed) or if it is
// safe to repeat, and is otherwise answered 502, for the client to retry.
// It records where each request went.
type balancer struct {
	url  string // http://127.0.0.1:PORT
	next http.RoundTripper

	mu       sync.Mutex
	replicas []string // host:port
	down     []bool
	downAt   []int // the sequence number when each replica was taken out
	turn     int
	seq      int // numbers the forwarding attempts
	hops     []hop
}

// hop is one forwarding attempt.
type hop struct {
	seq          int // when the replica was chosen
	method, path string
	replica      int
	pinned       bool
	status       int
	err          string // the connection error; "" when the replica answered
}

// route is where a request was answered.
type route struct {
	Method, Path string
	Replica      int
}

// errNoReplica is the balancer's answer when every replica is down.
var errNoReplica = errors.New("balancer: no live replica")

func newBalancer(t *testing.T) *balancer {
	b := &balancer{next: &http.Transport{MaxIdleConnsPerHost: 2 * loadClients, IdleConnTimeout: time.Minute}}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetXForwarded()
			// The replica is chosen per attempt by RoundTrip.
			pr.Out.URL.Scheme, pr.Out.URL.Host = "http", "replica.invalid"
			pr.Out.Host = pr.In.Host
		},
		Transport: b,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			w.WriteHeader(http.StatusBadGateway)
		},
	}
	srv := testkit.Serve(t, proxy)
	b.url = srv.URL
	t.Cleanup(func() {
		if t.Failed() {
			b.mu.Lock()
			defer b.mu.Unlock()
			var tail strings.Builder
			for _, h := range b.hops[max(0, len(b.hops)-40):] {
				fmt.Fprintf(&tail, "#%d %s %s → %d (pinned %v): %d %s\n", h.seq, h.method, h.path, h.replica, h.pinned, h.status, h.err)
			}
			t.Logf("the balancer's last %d of %d forwards:\n%s", min(40, len(b.hops)), len(b.hops), tail.String())
		}
	})
	return b
}

func (b *balancer) setReplicas(addrs []string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.replicas = addrs
	b.down = make([]bool, len(addrs))
	b.downAt = make([]int, len(addrs))
}

// RoundTrip forwards r to a replica, and to another when that fails and r
// may go again.
func (b *balancer) RoundTrip(r *http.Request) (*http.Response, error) {
	var body []byte
	if r.Body != nil {
		var err error
		if body, err = io.ReadAll(r.Body); err != nil {
			return nil, err
		}
		r.Body.Close()
	}
	pin := -1
	if v := r.Header.Get(pinHeader); v != "" {
		pin, _ = strconv.Atoi(v)
	}
	repeatable := safeToRepeat(r.Method, r.URL.Path, body)
	tried := map[int]bool{}
	for {
		i, addr, seq, ok := b.pick(pin, tried)
		if !ok {
			return nil, errNoReplica
		}
		out := r.Clone(r.Context())
		out.Header.Del(pinHeader)
		out.URL.Host = addr
		out.Body, out.ContentLength, out.GetBody = nil, 0, nil
		if r.Body != nil {
			out.Body, out.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
			out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
		}
		resp, err := b.next.RoundTrip(out)
		h := hop{seq: seq, method: r.Method, path: r.URL.Path, replica: i, pinned: pin >= 0}
		if err != nil {
			h.err = err.Error()
		} else {
			h.status = resp.StatusCode
		}
		b.record(h)
		if err == nil || r.Context().Err() != nil {
			return resp, err
		}
		b.markDown(i)
		var op *net.OpError
		dialFailed := errors.As(err, &op) && op.Op == "dial"
		if pin >= 0 || !(dialFailed || repeatable) {
			return nil, err
		}
		tried[i] = true
	}
}

// safeToRepeat reports whether a request may be sent again after a
// replica failed while it was on its way: reads. Only the MCP endpoint's
// POSTs need a look inside: everything but a call of a tool that needs
// articles:write reads.
func safeToRepeat(method, path string, body []byte) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return true
	case http.MethodPost:
	default:
		return false
	}
	if path != "/mcp" {
		return false
	}
	var msg struct {
		Method string `json:"method"`
		Params struct {
			Name string `json:"name"`
		} `json:"params"`
	}
	if json.Unmarshal(body, &msg) != nil { // a batch, or not JSON-RPC
		return false
	}
	return replicaScopes(msg.Method, msg.Params.Name) == authn.ScopeRead
}

// replicaScopes is the scope each MCP method and tool needs.
var replicaScopes = mcpserver.Scopes()

// pick chooses the replica for the next attempt: the pinned one, or the
// next live one not yet tried.
func (b *balancer) pick(pin int, tried map[int]bool) (int, string, int, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.seq++
	if pin >= 0 {
		if pin >= len(b.replicas) || tried[pin] {
			return 0, "", 0, false
		}
		return pin, b.replicas[pin], b.seq, true
	}
	for range b.replicas {
		i := b.turn % len(b.replicas)
		b.turn++
		if !b.down[i] && !tried[i] {
			return i, b.replicas[i], b.seq, true
		}
	}
	return 0, "", 0, false
}

func (b *balancer) record(h hop) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.hops = append(b.hops, h)
}

func (b *balancer) markDown(i int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.down[i] {
		b.down[i], b.downAt[i] = true, b.seq
	}
}

// downSince reports whether replica i is out of rotation, and since which
// sequence number.
func (b *balancer) downSince(i int) (int, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.downAt[i], b.down[i]
}

// revive puts replica i back in rotation.
func (b *balancer) revive(i int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.down[i] = false
}

// mark returns the sequence number of the last attempt so far.
func (b *balancer) mark() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.seq
}

// hopsSince returns the attempts whose replica was chosen after mark, in
// that order.
func (b *balancer) hopsSince(mark int) []hop {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []hop
	for _, h := range b.hops {
		if h.seq > mark {
			out = append(out, h)
		}
	}
	// Attempts are recorded as they end, not as they start.
	slices.SortFunc(out, func(a, b hop) int { return a.seq - b.seq })
	return out
}

// routes returns where the requests forwarded after mark were answered.
func (b *balancer) routes(mark int) []route {
	var out []route
	for _, h := range b.hopsSince(mark) {
		if h.err == "" {
			out = append(out, route{h.method, h.path, h.replica})
		}
	}
	return out
}

// pin adds to header the pin to replica i; -1 leaves the choice to the
// round robin.
func (b *balancer) pin(i int, header map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range header {
		out[k] = v
	}
	if i >= 0 {
		out[pinHeader] = strconv.Itoa(i)
	}
	return out
}

// client returns an HTTP client whose requests through the balancer go to
// replica i, and which does not follow redirects.
func (b *balancer) client(i int) *http.Client {
	return &http.Client{
		Transport:     headerTransport{header: http.Header{pinHeader: {strconv.Itoa(i)}}, base: http.DefaultTransport},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// sequence returns a transport that pins its requests, in order, to the
// replicas given, and fails the test when asked for more.
func (b *balancer) sequence(t *testing.T, replicas ...int) http.RoundTripper {
	var mu sync.Mutex
	return roundTripFunc(func(r *http.Request) (*http.Response, error) {
		mu.Lock()
		if len(replicas) == 0 {
			mu.Unlock()
			t.Errorf("an unplanned request %s %s", r.Method, r.URL.Path)
			return nil, errors.New("unplanned request")
		}
		i := replicas[0]
		replicas = replicas[1:]
		mu.Unlock()
		return headerTransport{header: http.Header{pinHeader: {strconv.Itoa(i)}}, base: http.DefaultTransport}.RoundTrip(r)
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
