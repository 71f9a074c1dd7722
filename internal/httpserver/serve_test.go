package httpserver_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/2coffee/mcp-2coffee/internal/authn"
	"github.com/2coffee/mcp-2coffee/internal/httpserver"
)

// TestServeFinishesInFlightRequests cancels the serving context while a
// request is being handled: the request completes, new connections are
// refused, and Serve returns nil.
func TestServeFinishesInFlightRequests(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	started := make(chan struct{})
	release := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release
		io.WriteString(w, "finished")
	})
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- httpserver.Serve(ctx, ln, h, slog.New(slog.DiscardHandler), 10*time.Second) }()

	got := make(chan string, 1)
	go func() {
		resp, err := http.Get("http://" + ln.Addr().String() + "/")
		if err != nil {
			got <- "error: " + err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		got <- string(b)
	}()
	<-started
	cancel() // SIGINT arrives while the request is in flight
	refused := false
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		c, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second)
		if err != nil {
			refused = true
			break
		}
		c.Close()
	}
	if !refused {
		t.Errorf("new connections still accepted during shutdown")
	}
	close(release)
	if body := <-got; body != "finished" {
		t.Errorf("in-flight request got %q, want it to finish", body)
	}
	if err := <-served; err != nil {
		t.Errorf("Serve returned %v, want nil", err)
	}
}

// TestMetricsMethodLabelIsBounded sends requests with made-up methods: the
// metrics must not grow a series per method.
func TestMetricsMethodLabelIsBounded(t *testing.T) {
	t.Parallel()
	m := httpserver.NewMetrics()
	pub, _ := url.Parse("http://127.0.0.1:1")
	h, err := httpserver.New(httpserver.Config{PublicURL: pub, ListenAddr: "127.0.0.1:1",
		MCP: http.NotFoundHandler(), REST: http.NotFoundHandler(), Authenticate: authn.Assume(authn.Anonymous), Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		req := httptest.NewRequest(fmt.Sprintf("X%dY", i), "http://127.0.0.1:1/whatever", nil)
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	body := rec.Body.String()
	if strings.Contains(body, `method="X1Y"`) || !strings.Contains(body, `method="other"`) {
		t.Errorf("made-up methods became labels:\n%s", grepLines(body, "mcp2coffee_http_requests_total"))
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
