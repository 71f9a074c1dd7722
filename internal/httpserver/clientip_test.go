package httpserver_test

import (
	"net/http/httptest"
	"testing"

	"github.com/2coffee/mcp-2coffee/internal/httpserver"
)

func TestClientIP(t *testing.T) {
	trusted, err := httpserver.ParsePrefixes("127.0.0.1, 10.0.0.0/8")
	if err != nil {
		t.Fatal(err)
	}
	ip := httpserver.ClientIP(trusted)
	for _, tc := range []struct {
		remote, xff, want string
	}{
		{"198.51.100.7:1234", "203.0.113.9", "198.51.100.7"},                // untrusted peer: its header is ignored
		{"127.0.0.1:1234", "", "127.0.0.1"},                                 // trusted peer, no header
		{"127.0.0.1:1234", "203.0.113.9", "203.0.113.9"},                    // one proxy
		{"127.0.0.1:1234", "6.6.6.6, 203.0.113.9, 10.1.2.3", "203.0.113.9"}, // forged left entry, two proxies
		{"127.0.0.1:1234", "203.0.113.9, garbage", "127.0.0.1"},             // malformed: trust nothing left of it
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = tc.remote
		if tc.xff != "" {
			r.Header.Set("X-Forwarded-For", tc.xff)
		}
		if got := ip(r); got != tc.want {
			t.Errorf("RemoteAddr %s, X-Forwarded-For %q: got %s, want %s", tc.remote, tc.xff, got, tc.want)
		}
	}
	if got := httpserver.ClientIP(nil)(httptest.NewRequest("GET", "/", nil)); got != "192.0.2.1" {
		t.Errorf("no trusted proxies: got %s, want the peer", got)
	}
	if _, err := httpserver.ParsePrefixes("10.0.0.0/33"); err == nil {
		t.Errorf("a bad prefix was accepted")
	}
}
