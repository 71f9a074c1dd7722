// Package oauthtest is a small OAuth 2.1 authorization server and a
// protected-resource wrapper, for the tests of the client side (packages
// oauthclient and bridge). It implements just enough of RFC 8414, RFC 9728,
// RFC 7591, RFC 7636, RFC 8707, RFC 9207 and RFC 7009 to be strict about
// what a client sends, and records every request for assertions. It binds
// 127.0.0.1 only. It is not for production use.
package oauthtest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"sync"
)

// Browser stands in for the user's browser: its Open method (an
// oauthclient.BrowserOpener) follows the authorization server's redirect to
// the client's loopback callback in the background, and records each URL.
type Browser struct {
	mu   sync.Mutex
	URLs []string
	// Errs holds failures of the background requests.
	Errs []error
}

// Open follows u's redirects in the background.
func (b *Browser) Open(_ context.Context, u string) error {
	b.mu.Lock()
	b.URLs = append(b.URLs, u)
	b.mu.Unlock()
	go func() {
		resp, err := http.Get(u)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		if err != nil {
			b.mu.Lock()
			b.Errs = append(b.Errs, err)
			b.mu.Unlock()
		}
	}()
	return nil
}

// Opened returns the URLs opened so far.
func (b *Browser) Opened() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.URLs)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func tokenError(w http.ResponseWriter, status int, code string) {
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, status, map[string]string{"error": code})
}

func randomString(prefix string) string {
	b := make([]byte, 16)
	rand.Read(b)
	return prefix + base64.RawURLEncoding.EncodeToString(b)
}

func s256(v string) string {
	sum := sha256.Sum256([]byte(v))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}
