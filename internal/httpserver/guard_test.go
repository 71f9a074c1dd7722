package httpserver

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
)

func TestGuard(t *testing.T) {
	ok := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	for _, tc := range []struct {
		public, listen string
		tls            bool
		host, origin   string
		want           int
		why            string
	}{
		{"https://Blog.Example.com/p", "10.0.0.1:8080", false, "blog.example.com", "", 200, "a TLS-terminating proxy forwards the public host without its port"},
		{"https://blog.example.com", "10.0.0.1:8080", true, "blog.example.com", "", 200, "the public host over TLS"},
		{"https://blog.example.com", "10.0.0.1:8080", false, "BLOG.example.com:443", "", 200, "host names compare case-insensitively, with the port made explicit"},
		{"https://blog.example.com", "10.0.0.1:8080", false, "blog.example.com:8080", "", 403, "another port"},
		{"https://blog.example.com", "10.0.0.1:8080", false, "evil.example", "", 403, "DNS rebinding"},
		{"https://blog.example.com", "10.0.0.1:8080", false, "127.0.0.1:8080", "", 403, "loopback names only on a loopback listener"},
		{"https://mail.test", "10.0.0.1:8080", true, "ma\u0130l.test", "", 403, "a look-alike host (xn--mail-swc.test) is not ours: only ASCII folds"},
		{"https://blog.example.com", "10.0.0.1:8080", false, "blog.example.com.", "", 403, "the absolute name is another host to a browser"},
		{"https://blog.example.com", "10.0.0.1:8080", true, "blog.example.com", "https://blog.example.com", 200, "the public origin"},
		{"https://blog.example.com", "10.0.0.1:8080", true, "blog.example.com", "https://BLOG.example.com:443", 200, "an origin in another spelling"},
		{"https://blog.example.com", "10.0.0.1:8080", true, "blog.example.com", "http://blog.example.com", 403, "http is another origin"},
		{"https://blog.example.com", "10.0.0.1:8080", true, "blog.example.com", "https://app.example.com", 200, "an allowed origin"},
		{"https://blog.example.com", "10.0.0.1:8080", true, "blog.example.com", "null", 403, "an opaque origin"},
		{"https://blog.example.com", "10.0.0.1:8080", true, "blog.example.com", "https://evil.example", 403, "a foreign site"},
		{"https://mail.test", "10.0.0.1:8080", true, "mail.test", "https://ma\u0130l.test", 403, "a look-alike origin"},
		{"http://localhost:8080", "127.0.0.1:8080", false, "127.0.0.1:8080", "http://localhost:8080", 200, "loopback names on a loopback listener"},
		{"http://localhost:8080", "127.0.0.1:8080", false, "[::1]:8080", "http://[0:0::1]:8080", 200, "an IPv6 loopback literal in any spelling"},
		{"http://localhost:8080", "127.0.0.1:8080", false, "localhost:8080", "http://localhost:9090", 403, "another local port is another origin"},
	} {
		pub, err := url.Parse(tc.public)
		if err != nil {
			t.Fatal(err)
		}
		g, err := newGuard(pub, tc.listen, []string{"https://app.example.com"})
		if err != nil {
			t.Fatal(err)
		}
		r := httptest.NewRequest(http.MethodPost, "/mcp", nil)
		r.Host = tc.host
		if tc.tls {
			r.TLS = &tls.ConnectionState{}
		}
		if tc.origin != "" {
			r.Header.Set("Origin", tc.origin)
		}
		w := httptest.NewRecorder()
		g.wrap(ok).ServeHTTP(w, r)
		if w.Code != tc.want {
			t.Errorf("Host %q Origin %q (public %s, listening on %s): %d, want %d: %s", tc.host, tc.origin, tc.public, tc.listen, w.Code, tc.want, tc.why)
		}
	}
}

func TestGuardRefusesOriginlessConfig(t *testing.T) {
	pub, _ := url.Parse("https://blog.example.com")
	for _, o := range []string{"https://", "https://app.example.com/path", "ftp://app.example.com", "https://[fe80::1%25eth0]"} {
		if _, err := newGuard(pub, "127.0.0.1:0", []string{o}); err == nil {
			t.Errorf("allowed origin %q accepted", o)
		}
	}
	zoned, _ := url.Parse("https://[fe80::1%25eth0]")
	if _, err := newGuard(zoned, "127.0.0.1:0", nil); err == nil {
		t.Error("a public URL without an origin accepted: its empty key would match any unusable Host")
	}
}
