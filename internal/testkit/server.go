package testkit

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// Serve serves h on 127.0.0.1 (httptest's default address, never another)
// until the test ends.
func Serve(t testing.TB, h http.Handler) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return s
}
