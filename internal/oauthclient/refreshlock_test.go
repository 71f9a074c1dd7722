package oauthclient

import (
	"context"
	"errors"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/2coffee/mcp-2coffee/internal/authserver"
	"github.com/2coffee/mcp-2coffee/internal/oauth"
	"github.com/2coffee/mcp-2coffee/internal/oauthclient/oauthtest"
	"github.com/2coffee/mcp-2coffee/internal/store"
	"github.com/2coffee/mcp-2coffee/internal/tokencache"
)

// realServer is mcp-2coffee's own authorization server (internal/authserver
// over SQLite) with a minimal protected /mcp in front of it, on 127.0.0.1.
type realServer struct {
	url      string // the MCP endpoint
	as       *authserver.Server
	refreshs atomic.Int32 // refresh_token grants received
	// second is closed when the second refresh request of a round
	// arrives; see holdRefreshes.
	mu      sync.Mutex
	second  chan struct{}
	inRound int
}

const (
	testUser     = "ada"
	testPassword = "correct horse battery staple"
)

// newRealServer starts the server. Its refresh grace is a nanosecond and
// its clock stands half a second past the second it rotated a token in:
// like the many authorization servers that allow no reuse at all, it
// revokes the grant when one refresh token is presented twice.
func newRealServer(t *testing.T) *realServer {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "oauth.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	issuer, _ := url.Parse(base)
	s := &realServer{url: base + "/mcp"}
	s.as, err = authserver.New(authserver.Config{
		Issuer:         issuer,
		Resource:       s.url,
		Store:          db,
		RefreshGrace:   time.Nanosecond,
		Now:            func() time.Time { return time.Now().Truncate(time.Second).Add(500 * time.Millisecond) },
		PasswordParams: oauth.PasswordParams{Time: 1, MemoryKiB: 1024, Threads: 1},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.as.Admin().CreateUser(ctx, testUser, testPassword); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/oauth-protected-resource/mcp", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"resource":%q,"authorization_servers":[%q],"scopes_supported":["articles:read"]}`, s.url, s.as.Issuer())
	})
	mux.HandleFunc("/mcp", func(w http.ResponseWriter, r *http.Request) {
		if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
			if _, err := s.as.VerifyAccessToken(r.Context(), tok); err == nil {
				w.Header().Set("Content-Type", "application/json")
				io.WriteString(w, `{"jsonrpc":"2.0","id":1,"result":{}}`)
				return
			}
		}
		w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer scope="articles:read", resource_metadata=%q`, base+"/.well-known/oauth-protected-resource/mcp"))
		w.WriteHeader(http.StatusUnauthorized)
	})
	asHandler := s.as.Handler()
	mux.Handle("/", s.holdRefreshes(asHandler))
	srv := &httptest.Server{Listener: ln, Config: &http.Server{Handler: mux}}
	srv.Start()
	t.Cleanup(srv.Close)
	return s
}

// holdRefreshes keeps the first refresh request of a round (see round)
// waiting until a second arrives, for at most half a second, so that two
// clients that both refresh do so at the same time, as two bridges whose
// tokens expire together do. One that waits for the other's refresh
// instead only costs the half second.
func (s *realServer) holdRefreshes(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == authserver.PathToken && r.Method == http.MethodPost {
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(strings.NewReader(string(body)))
			if form, _ := url.ParseQuery(string(body)); form.Get("grant_type") == "refresh_token" {
				s.refreshs.Add(1)
				s.mu.Lock()
				s.inRound++
				n, second := s.inRound, s.second
				s.mu.Unlock()
				switch n {
				case 1:
					select {
					case <-second:
					case <-time.After(500 * time.Millisecond):
					}
				case 2:
					close(second)
				}
			}
		}
		next.ServeHTTP(w, r)
	})
}

// round starts a new pair of refreshes for holdRefreshes.
func (s *realServer) round() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inRound = 0
	s.second = make(chan struct{})
}

// accepts reports whether /mcp takes token.
func (s *realServer) accepts(t *testing.T, token string) bool {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, s.url, strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"ping"}`))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

var (
	pageFormRE   = regexp.MustCompile(`(?s)<form method="post" action="([^"]+)"[^>]*>(.*?)</form>`)
	pageHiddenRE = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)
)

// signInBrowser is a person at a browser on the real pages: sign in,
// approve, and follow the redirect to the client's loopback callback.
func signInBrowser(ctx context.Context, authURL string) error {
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(u string) (*http.Response, string, error) {
		resp, err := hc.Get(u)
		if err != nil {
			return nil, "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return resp, string(b), err
	}
	submit := func(base, page, action string, extra url.Values) (*http.Response, error) {
		for _, f := range pageFormRE.FindAllStringSubmatch(page, -1) {
			if !strings.HasSuffix(html.UnescapeString(f[1]), action) {
				continue
			}
			form := url.Values{}
			for _, h := range pageHiddenRE.FindAllStringSubmatch(f[2], -1) {
				form.Set(h[1], html.UnescapeString(h[2]))
			}
			for k, v := range extra {
				form[k] = v
			}
			b, _ := url.Parse(base)
			target := b.ResolveReference(&url.URL{Path: html.UnescapeString(f[1])})
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, target.String(), strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Origin", b.Scheme+"://"+b.Host)
			resp, err := hc.Do(req)
			if err != nil {
				return nil, err
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			return resp, nil
		}
		return nil, fmt.Errorf("no form posting to …%s in:\n%s", action, page)
	}
	_, page, err := get(authURL)
	if err != nil {
		return err
	}
	resp, err := submit(authURL, page, authserver.PathLogin, url.Values{"username": {testUser}, "password": {testPassword}})
	if err != nil {
		return err
	}
	base, _ := url.Parse(authURL)
	next, err := base.Parse(resp.Header.Get("Location"))
	if err != nil {
		return err
	}
	if _, page, err = get(next.String()); err != nil {
		return err
	}
	if resp, err = submit(authURL, page, authserver.PathAuthorize, url.Values{"decision": {"approve"}}); err != nil {
		return err
	}
	loc := resp.Header.Get("Location")
	if loc == "" {
		return fmt.Errorf("the consent ended with %d and no redirect", resp.StatusCode)
	}
	go func() {
		if r, err := http.Get(loc); err == nil {
			r.Body.Close()
		}
	}()
	return nil
}

// browserFor is signInBrowser reporting its failures to t.
func browserFor(t *testing.T) BrowserOpener {
	return func(ctx context.Context, u string) error {
		err := signInBrowser(ctx, u)
		if err != nil {
			t.Errorf("browser: %v", err)
		}
		return err
	}
}

// TestConcurrentRefreshKeepsTheGrant: two bridges sharing one token cache
// refresh their expired token at the same moment. Against an
// authorization server that revokes a grant whose refresh token is used
// twice, only one of them may refresh; the other, once it holds the
// cache's lock, must find the new token and use it. Both keep working,
// round after round.
func TestConcurrentRefreshKeepsTheGrant(t *testing.T) {
	lockSupported(t)
	t.Parallel()
	s := newRealServer(t)
	dir := t.TempDir()
	var skew atomic.Int64
	skew.Store(int64(-2 * time.Hour)) // the sign-in's token is expired at once
	newClient := func() *Client {
		st, err := tokencache.Open(dir) // one Store each, as in two processes
		if err != nil {
			t.Fatal(err)
		}
		c, err := New(Options{
			Store:       st,
			OpenBrowser: browserFor(t),
			Stderr:      io.Discard,
			Timeout:     20 * time.Second,
			Now:         func() time.Time { return time.Now().Add(time.Duration(skew.Load())) },
		})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	a, b := newClient(), newClient()
	ctx := context.Background()
	if err := a.Login(ctx, s.url); err != nil {
		t.Fatalf("sign-in: %v", err)
	}

	for round, now := range []time.Duration{0, 2 * time.Hour, 4 * time.Hour} {
		skew.Store(int64(now)) // both tokens are expired (or about to be) now
		s.round()
		before := s.refreshs.Load()
		var wg sync.WaitGroup
		var tokens [2]string
		var errs [2]error
		for i, c := range []*Client{a, b} {
			wg.Go(func() { tokens[i], errs[i] = c.AccessToken(ctx, s.url) })
		}
		wg.Wait()
		for i, name := range []string{"first", "second"} {
			if errs[i] != nil || tokens[i] == "" {
				t.Fatalf("round %d: the %s bridge has no token (%q, %v)", round, name, tokens[i], errs[i])
			}
			if !s.accepts(t, tokens[i]) {
				t.Errorf("round %d: the %s bridge's token is refused: the grant was revoked", round, name)
			}
		}
		if n := s.refreshs.Load() - before; n != 1 {
			t.Errorf("round %d: %d refresh requests, want 1 (the other bridge uses the new token)", round, n)
		}
		if tokens[0] != tokens[1] {
			t.Errorf("round %d: the bridges hold different tokens", round)
		}
	}
}

// The control: the same two refreshes without a shared cache (and so
// without its lock) spend one refresh token twice, and the server revokes
// the grant. This is what the lock prevents.
func TestConcurrentRefreshWithoutLockLosesTheGrant(t *testing.T) {
	t.Parallel()
	s := newRealServer(t)
	var skew atomic.Int64
	skew.Store(int64(-2 * time.Hour))
	now := func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
	a, err := New(Options{OpenBrowser: browserFor(t), Stderr: io.Discard, Timeout: 20 * time.Second, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := a.Login(ctx, s.url); err != nil {
		t.Fatalf("sign-in: %v", err)
	}
	// A second bridge with a copy of the same grant, in memory only.
	b, err := New(Options{Stderr: io.Discard, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	st, err := a.state(s.url)
	if err != nil {
		t.Fatal(err)
	}
	entry := st.entry.Clone()
	st.mu.Unlock()
	b.servers[st.url] = &serverState{url: st.url, loaded: true, entry: entry}

	skew.Store(0)
	s.round()
	var wg sync.WaitGroup
	var tokens [2]string
	for i, c := range []*Client{a, b} {
		wg.Go(func() { tokens[i], _ = c.AccessToken(ctx, s.url) })
	}
	wg.Wait()
	if n := s.refreshs.Load(); n != 2 {
		t.Fatalf("%d refresh requests, want 2", n)
	}
	for i, tok := range tokens {
		if tok != "" && s.accepts(t, tok) {
			t.Errorf("bridge %d's token still works: the server did not revoke the grant, so this test shows nothing", i)
		}
	}
}

func lockSupported(t *testing.T) {
	switch runtime.GOOS {
	case "linux", "darwin", "dragonfly", "freebsd", "netbsd", "openbsd", "illumos", "windows":
	default:
		t.Skipf("no cross-process lock on %s", runtime.GOOS)
	}
}

// A refresh waits for another process's lock for a bounded time, then
// fails: it neither refreshes without the lock nor opens the browser.
func TestRefreshWaitForTheLockIsBounded(t *testing.T) {
	lockSupported(t)
	t.Parallel()
	f := newFixture(t, oauthtest.ASOptions{ExpiresIn: 1}, oauthtest.RSOptions{}, Options{})
	if status, err := f.do(f.c, "tools/list"); err != nil || status != http.StatusOK {
		t.Fatalf("sign-in: %d %v", status, err)
	}
	_, _, tokensBefore := f.as.Counts()
	other, err := tokencache.Open(f.store.Dir()) // another process's view
	if err != nil {
		t.Fatal(err)
	}
	held, err := other.Lock(context.Background(), f.rs.URL(), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Unlock()
	c := f.newClient(Options{LockWait: 50 * time.Millisecond, OpenBrowser: func(context.Context, string) error {
		t.Error("the browser was opened while another process held the lock")
		return nil
	}})
	if tok, err := c.AccessToken(context.Background(), f.rs.URL()); !errors.Is(err, tokencache.ErrLockBusy) {
		t.Fatalf("AccessToken while the lock is held = %q, %v; want ErrLockBusy", tok, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.AccessToken(ctx, f.rs.URL()); !errors.Is(err, context.Canceled) {
		t.Fatalf("AccessToken with a cancelled context: %v, want context.Canceled", err)
	}
	if _, _, n := f.as.Counts(); n != tokensBefore {
		t.Errorf("%d token requests while the lock was held, want none", n-tokensBefore)
	}
}
