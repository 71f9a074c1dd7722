package cimd

// Test rule: no test sends a packet anywhere but 127.0.0.1. Host names
// resolve through stubResolver only; connections go through a DialHook
// that either refuses everything or sends the vetted address to an
// httptest server listening on 127.0.0.1. Addresses such as 203.0.113.10
// appear only as values handed to those stubs, never as destinations.

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const (
	testHost = "client.example.test"
	testURL  = "https://client.example.test/oauth/metadata.json"
)

// testAddr is what testHost resolves to: a documentation address, which
// the default policy refuses and the test policy allows.
var testAddr = netip.MustParseAddr("203.0.113.10")

// stubResolver answers from a map and records every question.
type stubResolver struct {
	mu    sync.Mutex
	addrs map[string][]netip.Addr // keyed by the name without its final dot
	err   error
	calls []string
}

func (r *stubResolver) LookupNetIP(_ context.Context, network, host string) ([]netip.Addr, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, network+" "+host)
	if r.err != nil {
		return nil, r.err
	}
	return r.addrs[strings.TrimSuffix(host, ".")], nil
}

func (r *stubResolver) Calls() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.calls...)
}

// recordingDialer records what it is asked to dial. With target empty it
// refuses everything; otherwise it connects to target, which must be on
// 127.0.0.1, whatever address it was asked for.
type recordingDialer struct {
	mu     sync.Mutex
	target string
	dialed []netip.AddrPort
}

var errRefusedByTest = errors.New("test dialer refuses every connection")

func (d *recordingDialer) Dial(ctx context.Context, network string, addr netip.AddrPort) (net.Conn, error) {
	d.mu.Lock()
	d.dialed = append(d.dialed, addr)
	target := d.target
	d.mu.Unlock()
	if target == "" {
		return nil, errRefusedByTest
	}
	if ap := netip.MustParseAddrPort(target); ap.Addr() != netip.MustParseAddr("127.0.0.1") {
		panic("test dialer target is not on 127.0.0.1: " + target)
	}
	var nd net.Dialer
	return nd.DialContext(ctx, "tcp", target)
}

func (d *recordingDialer) Dialed() []netip.AddrPort {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]netip.AddrPort(nil), d.dialed...)
}

// fakeClock is a settable clock for cache expiry.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// newCert makes a self-signed certificate for hosts and a pool trusting it.
func newCert(t *testing.T, hosts ...string) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: hosts[0]},
		DNSNames:              hosts,
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

// testEnv is a TLS server on 127.0.0.1 posing as testHost, and a Fetcher
// wired to reach it (and nothing else).
type testEnv struct {
	srv      *httptest.Server
	requests atomic.Int64
	resolver *stubResolver
	dialer   *recordingDialer
	clock    *fakeClock
	f        *Fetcher
}

// newEnv starts handler behind TLS for certHosts (testHost if none).
func newEnv(t *testing.T, handler http.HandlerFunc, certHosts ...string) *testEnv {
	t.Helper()
	if len(certHosts) == 0 {
		certHosts = []string{testHost}
	}
	cert, pool := newCert(t, certHosts...)
	env := &testEnv{clock: newFakeClock()}
	// Listen explicitly on 127.0.0.1 so the server is never on another
	// address, whatever httptest's fallbacks are.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	env.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		env.requests.Add(1)
		handler(w, r)
	}))
	env.srv.Listener.Close()
	env.srv.Listener = ln
	env.srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	// Handshake failures are expected in some tests; keep them out of the
	// output.
	env.srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	env.srv.StartTLS()
	t.Cleanup(env.srv.Close)

	env.resolver = &stubResolver{addrs: map[string][]netip.Addr{testHost: {testAddr}}}
	env.dialer = &recordingDialer{target: ln.Addr().String()}
	env.f = &Fetcher{
		Resolver: env.resolver,
		DialHook: env.dialer.Dial,
		Allow:    func(a netip.Addr) bool { return a == testAddr },
		RootCAs:  pool,
		Now:      env.clock.Now,
	}
	return env
}

// validDoc is a document for url that passes every check.
func validDoc(url string) map[string]any {
	return map[string]any{
		"client_id":                  url,
		"client_name":                "Example MCP Client",
		"client_uri":                 "https://client.example.test",
		"logo_uri":                   "https://client.example.test/logo.png",
		"redirect_uris":              []string{"http://127.0.0.1:3000/callback", "https://client.example.test/cb"},
		"grant_types":                []string{"authorization_code", "refresh_token"},
		"response_types":             []string{"code"},
		"token_endpoint_auth_method": "none",
		"scope":                      "articles:read",
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// docJSON is validDoc(url) encoded; for handlers, which must not call
// t.Fatal.
func docJSON(url string) []byte {
	b, err := json.Marshal(validDoc(url))
	if err != nil {
		panic(err)
	}
	return b
}

// serveJSON answers with body as application/json and the given headers.
func serveJSON(body []byte, header ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Add(header[i], header[i+1])
		}
		if w.Header().Get("Content-Type") == "" {
			w.Header().Set("Content-Type", "application/json")
		}
		w.Write(body)
	}
}

// wantRefusal checks that err is an *Error with the given reason and
// message.
func wantRefusal(t *testing.T, err error, reason error, msg string) {
	t.Helper()
	if err == nil {
		t.Fatalf("err = nil, want %v", reason)
	}
	e, ok := errors.AsType[*Error](err)
	if !ok {
		t.Fatalf("err = %T %v, want *Error", err, err)
	}
	if !errors.Is(err, reason) {
		t.Errorf("err reason = %v, want %v", e.Reason, reason)
	}
	if err.Error() != msg {
		t.Errorf("err message = %q\nwant            %q", err.Error(), msg)
	}
}
