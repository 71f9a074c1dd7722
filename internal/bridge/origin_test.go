package bridge

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// credentialSink records the credentials that reach a server.
type credentialSink struct {
	mu   sync.Mutex
	seen []string
}

func (s *credentialSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.seen = append(s.seen, fmt.Sprintf("%s %s key=%q auth=%q", r.Method, r.URL.Path, r.Header.Get("X-Api-Key"), r.Header.Get("Authorization")))
	s.mu.Unlock()
	w.WriteHeader(http.StatusAccepted)
}

func (s *credentialSink) leaked() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, l := range s.seen {
		if strings.Contains(l, "s3cret") || strings.Contains(l, "tok") {
			out = append(out, l)
		}
	}
	return out
}

// credHeaders are the two credentials the tests configure, one at a time
// (a request carries one).
var credHeaders = []string{"X-API-KEY: s3cret", "Authorization: Bearer tok"}

func TestCredentialsStayOnServerOrigin(t *testing.T) {
	t.Parallel()
	for _, cred := range credHeaders {
		t.Run(cred[:strings.IndexByte(cred, ':')], func(t *testing.T) {
			t.Parallel()
			testCredentialsStayOnServerOrigin(t, cred)
		})
	}
}

func testCredentialsStayOnServerOrigin(t *testing.T, cred string) {
	other := &credentialSink{}
	evil := httptest.NewServer(other)
	defer evil.Close()

	mux := http.NewServeMux()
	mux.HandleFunc("/away", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, evil.URL+"/steal", http.StatusTemporaryRedirect)
	})
	mux.HandleFunc("/downgrade", func(w http.ResponseWriter, r *http.Request) {
		// The same host and port, but through localhost: another origin.
		http.Redirect(w, r, strings.Replace(evil.URL, "127.0.0.1", "localhost", 1)+"/steal", http.StatusFound)
	})
	mux.HandleFunc("/here", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/mcp", http.StatusTemporaryRedirect)
	})
	var mu sync.Mutex
	var got string
	mux.HandleFunc("/mcp", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = r.Header.Get("X-Api-Key") + r.Header.Get("Authorization")
		mu.Unlock()
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	c := newBridge(t, srv.URL+"/mcp", Options{Headers: []string{cred}})
	hc := c.HTTPClient()

	for _, path := range []string{"/away", "/downgrade"} {
		resp, err := hc.Post(srv.URL+path, "application/json", strings.NewReader(`{}`))
		if err == nil {
			resp.Body.Close()
			t.Errorf("POST %s: a redirect to another origin was followed", path)
		}
	}
	// A request made straight to another origin (as when a server names
	// one) is refused, not sent with the credentials.
	resp, err := hc.Get(evil.URL + "/direct")
	if err == nil {
		resp.Body.Close()
		t.Error("GET to another origin succeeded")
	} else if !strings.Contains(err.Error(), "refusing to send credentials") {
		t.Errorf("GET to another origin: %v", err)
	}
	if l := other.leaked(); len(l) > 0 {
		t.Errorf("credentials reached another origin: %q", l)
	}

	// Redirects within the origin still work, credentials included.
	resp, err = hc.Post(srv.URL+"/here", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatalf("same-origin redirect: %v", err)
	}
	resp.Body.Close()
	mu.Lock()
	defer mu.Unlock()
	if _, want, _ := strings.Cut(cred, ": "); got != want {
		t.Errorf("after a same-origin redirect the credential = %q, want %q", got, want)
	}
}

// A legacy HTTP+SSE server whose endpoint event names another origin gets
// no credentials there.
func TestSSEEndpointOnAnotherOrigin(t *testing.T) {
	t.Parallel()
	for _, cred := range credHeaders {
		t.Run(cred[:strings.IndexByte(cred, ':')], func(t *testing.T) {
			t.Parallel()
			testSSEEndpointOnAnotherOrigin(t, cred)
		})
	}
}

func testSSEEndpointOnAnotherOrigin(t *testing.T, cred string) {
	other := &credentialSink{}
	evil := httptest.NewServer(other)
	defer evil.Close()
	sse := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			w.WriteHeader(http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "event: endpoint\ndata: "+evil.URL+"/messages\n\n")
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}))
	defer sse.Close()

	c := newBridge(t, sse.URL, Options{Headers: []string{cred}})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	client := mcp.NewClient(&mcp.Implementation{Name: "t", Version: "1"}, nil)
	cs, err := client.Connect(ctx, &mcp.SSEClientTransport{Endpoint: sse.URL, HTTPClient: c.HTTPClient()}, nil)
	if err == nil {
		cs.Close()
		t.Error("connected through an endpoint on another origin")
	}
	if l := other.leaked(); len(l) > 0 {
		t.Errorf("credentials reached another origin: %q", l)
	}
}

// A redirect to a host that only Unicode case mapping makes equal to the
// server's ("maİl.test" lowers to "mail.test" in Go, but IDNA sends it to
// xn--mail-swc.test) is to another origin: following it would hand the
// X-API-KEY to whoever owns the look-alike name.
func TestLookalikeHostIsAnotherOrigin(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var leaked []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/start" {
			w.Header().Set("Location", "http://ma\u0130l.test:1/steal")
			w.WriteHeader(http.StatusTemporaryRedirect)
			return
		}
		if r.Host != "mail.test:1" && r.Header.Get("X-Api-Key") != "" {
			mu.Lock()
			leaked = append(leaked, r.Host)
			mu.Unlock()
		}
	}))
	defer srv.Close()
	// Every name resolves to the test server, as DNS would for a
	// look-alike domain the attacker registered.
	tr := &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, srv.Listener.Addr().String())
	}}
	defer tr.CloseIdleConnections()
	c := newBridge(t, "http://mail.test:1/mcp", Options{Headers: credHeaders[:1], Transport: tr})
	resp, err := c.HTTPClient().Get("http://mail.test:1/start")
	if err == nil {
		resp.Body.Close()
		t.Error("a redirect to a look-alike host was followed")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(leaked) > 0 {
		t.Errorf("the key reached %q", leaked)
	}
}
