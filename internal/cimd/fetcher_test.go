package cimd

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestFetchHappyPath(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		url        string
		wantDial   netip.AddrPort
		wantTarget string
	}{
		{"default port", testURL, netip.AddrPortFrom(testAddr, 443), "/oauth/metadata.json"},
		{"explicit port and query", "https://client.example.test:8443/m.json?v=1",
			netip.AddrPortFrom(testAddr, 8443), "/m.json?v=1"},
		{"escaped path kept as sent", "https://client.example.test/a%7Eb/meta.json",
			netip.AddrPortFrom(testAddr, 443), "/a%7Eb/meta.json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var mu sync.Mutex
			var seen *http.Request
			body := mustJSON(t, validDoc(tt.url))
			env := newEnv(t, func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				seen = r
				mu.Unlock()
				serveJSON(body, "Content-Type", "application/json; charset=utf-8")(w, r)
			})

			doc, err := env.f.Fetch(t.Context(), tt.url)
			if err != nil {
				t.Fatalf("Fetch: %v", err)
			}
			want := &Document{
				ClientID:                tt.url,
				ClientName:              "Example MCP Client",
				ClientURI:               "https://client.example.test",
				LogoURI:                 "https://client.example.test/logo.png",
				RedirectURIs:            []string{"http://127.0.0.1:3000/callback", "https://client.example.test/cb"},
				GrantTypes:              []string{"authorization_code", "refresh_token"},
				ResponseTypes:           []string{"code"},
				TokenEndpointAuthMethod: "none",
				Scope:                   "articles:read",
			}
			if diff := cmp.Diff(want, doc); diff != "" {
				t.Errorf("document (-want +got):\n%s", diff)
			}

			mu.Lock()
			defer mu.Unlock()
			if got := seen.TLS.ServerName; got != testHost {
				t.Errorf("TLS SNI = %q, want %q", got, testHost)
			}
			if got := seen.RequestURI; got != tt.wantTarget {
				t.Errorf("request target = %q, want %q", got, tt.wantTarget)
			}
			if got := seen.Proto; got != "HTTP/1.1" {
				t.Errorf("protocol = %q, want HTTP/1.1", got)
			}
			if got := seen.Header.Get("Accept"); got != "application/cimd+json, application/json" {
				t.Errorf("Accept = %q", got)
			}
			if got := seen.Header.Get("Accept-Encoding"); got != "" {
				t.Errorf("Accept-Encoding = %q, want none", got)
			}
			// The resolver is asked once, for the absolute name, and the
			// dialer gets exactly the vetted address: no second lookup
			// could send the connection elsewhere.
			if diff := cmp.Diff([]string{"ip client.example.test."}, env.resolver.Calls()); diff != "" {
				t.Errorf("resolver calls (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([]netip.AddrPort{tt.wantDial}, env.dialer.Dialed(), cmp.Comparer(func(a, b netip.AddrPort) bool { return a == b })); diff != "" {
				t.Errorf("dials (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFetchRefusesBlockedAddresses(t *testing.T) {
	tests := []struct {
		name  string
		addrs []string
		kind  string
	}{
		{"RFC 1918 10/8", []string{"10.0.0.1"}, "a private address"},
		{"RFC 1918 192.168/16", []string{"192.168.1.2"}, "a private address"},
		{"RFC 1918 172.16/12", []string{"172.31.255.255"}, "a private address"},
		{"cloud metadata", []string{"169.254.169.254"}, "a link-local address"},
		{"loopback", []string{"127.0.0.1"}, "a loopback address"},
		{"loopback elsewhere in 127/8", []string{"127.53.0.1"}, "a loopback address"},
		{"IPv6 loopback", []string{"::1"}, "a loopback address"},
		{"IPv6 link-local", []string{"fe80::1"}, "a link-local address"},
		{"IPv6 link-local with zone", []string{"fe80::1%eth0"}, "a link-local address"},
		{"IPv4-mapped loopback", []string{"::ffff:127.0.0.1"}, "a loopback address"},
		{"IPv4-mapped private", []string{"::ffff:10.0.0.1"}, "a private address"},
		{"NAT64 of private", []string{"64:ff9b::a00:1"}, "a private address"},
		{"NAT64 of metadata", []string{"64:ff9b::a9fe:a9fe"}, "a link-local address"},
		{"NAT64 local-use", []string{"64:ff9b:1::1"}, "a NAT64 local-use address"},
		{"CGNAT", []string{"100.64.0.1"}, "a shared (carrier-grade NAT) address"},
		{"unspecified", []string{"0.0.0.0"}, "the unspecified address"},
		{"this network", []string{"0.1.2.3"}, `a "this network" address`},
		{"IPv6 unspecified", []string{"::"}, "the unspecified address"},
		{"multicast", []string{"224.0.0.251"}, "a multicast address"},
		{"IPv6 multicast", []string{"ff02::1"}, "a multicast address"},
		{"broadcast", []string{"255.255.255.255"}, "the broadcast address"},
		{"class E", []string{"240.0.0.1"}, "a reserved address"},
		{"unique local (AWS metadata v6)", []string{"fd00:ec2::254"}, "a private (unique local) address"},
		{"IETF protocol assignments (Oracle metadata)", []string{"192.0.0.192"}, "a reserved address"},
		{"documentation", []string{"192.0.2.1"}, "a documentation address"},
		{"IPv6 documentation", []string{"2001:db8::1"}, "a documentation address"},
		{"benchmarking", []string{"198.18.0.1"}, "a benchmarking address"},
		{"6to4", []string{"2002:a00:1::1"}, "a 6to4 address"},
		{"Teredo", []string{"2001:0:4136:e378::1"}, "a reserved address"},
		{"IPv4-compatible", []string{"::a00:1"}, "a reserved address"},
		{"site-local", []string{"fec0::1"}, "a site-local address"},
		{"public then private", []string{"93.184.215.14", "10.0.0.1"}, "a private address"},
		{"private then public", []string{"10.0.0.1", "2606:4700::1111"}, "a private address"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var addrs []netip.Addr
			for _, s := range tt.addrs {
				addrs = append(addrs, netip.MustParseAddr(s))
			}
			resolver := &stubResolver{addrs: map[string][]netip.Addr{testHost: addrs}}
			dialer := &recordingDialer{} // refuses everything
			f := &Fetcher{Resolver: resolver, DialHook: dialer.Dial}

			_, err := f.Fetch(t.Context(), testURL)
			wantRefusal(t, err, ErrBlockedAddress, "the client metadata URL resolves to "+tt.kind)
			if got := dialer.Dialed(); len(got) != 0 {
				t.Errorf("dialed %v; a refused host must not be dialed at all", got)
			}
			// The address goes to logs via Cause, never into the message.
			var blocked string // the first refused address is the one reported
			for _, a := range addrs {
				if !PublicUnicast(a) {
					blocked = a.Unmap().String()
					break
				}
			}
			if e, _ := errors.AsType[*Error](err); e == nil || e.Cause == nil || !strings.Contains(e.Cause.Error(), blocked) {
				t.Errorf("Cause does not name %s: %v", blocked, e)
			}
			if strings.Contains(err.Error(), blocked) {
				t.Errorf("message %q reveals the address", err.Error())
			}
		})
	}
}

func TestFetchRefusesIPLiteralsBeforeIO(t *testing.T) {
	tests := []struct{ url, kind string }{
		{"https://10.0.0.1/client.json", "a private address"},
		{"https://127.0.0.1:8443/client.json", "a loopback address"},
		{"https://169.254.169.254/latest/meta-data/iam", "a link-local address"},
		{"https://[::1]/client.json", "a loopback address"},
		{"https://[::ffff:127.0.0.1]/client.json", "a loopback address"},
		{"https://[64:ff9b::7f00:1]/client.json", "a loopback address"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			resolver := &stubResolver{}
			dialer := &recordingDialer{}
			f := &Fetcher{Resolver: resolver, DialHook: dialer.Dial}
			_, err := f.Fetch(t.Context(), tt.url)
			wantRefusal(t, err, ErrBlockedAddress, "the client metadata URL resolves to "+tt.kind)
			if c := resolver.Calls(); len(c) != 0 {
				t.Errorf("resolver called: %v", c)
			}
			if d := dialer.Dialed(); len(d) != 0 {
				t.Errorf("dialed: %v", d)
			}
		})
	}
}

func TestFetchRefusesInvalidURLBeforeIO(t *testing.T) {
	resolver := &stubResolver{}
	dialer := &recordingDialer{}
	f := &Fetcher{Resolver: resolver, DialHook: dialer.Dial}
	_, err := f.Fetch(t.Context(), "http://client.example.test/client.json")
	wantRefusal(t, err, ErrInvalidURL, "the client_id URL must start with https://")
	if c, d := resolver.Calls(), dialer.Dialed(); len(c)+len(d) != 0 {
		t.Errorf("network activity for an invalid URL: resolver %v, dialer %v", c, d)
	}
}

func TestFetchUnresolvable(t *testing.T) {
	for name, r := range map[string]*stubResolver{
		"no addresses":   {},
		"resolver error": {err: &net.DNSError{Err: "no such host", Name: testHost, IsNotFound: true}},
	} {
		t.Run(name, func(t *testing.T) {
			dialer := &recordingDialer{}
			f := &Fetcher{Resolver: r, DialHook: dialer.Dial}
			_, err := f.Fetch(t.Context(), testURL)
			wantRefusal(t, err, ErrUnresolvable, "the client metadata URL's host name does not resolve")
			if d := dialer.Dialed(); len(d) != 0 {
				t.Errorf("dialed: %v", d)
			}
		})
	}
}

func TestFetchUnreachable(t *testing.T) {
	resolver := &stubResolver{addrs: map[string][]netip.Addr{testHost: {testAddr, netip.MustParseAddr("2001:db8::10")}}}
	dialer := &recordingDialer{} // refuses everything
	allowed := func(a netip.Addr) bool { return a == testAddr || a == netip.MustParseAddr("2001:db8::10") }
	f := &Fetcher{Resolver: resolver, DialHook: dialer.Dial, Allow: allowed}

	_, err := f.Fetch(t.Context(), testURL)
	wantRefusal(t, err, ErrUnreachable, "the client metadata URL could not be reached")
	if !errors.Is(err, errRefusedByTest) {
		t.Errorf("cause %v does not wrap the dial error", err)
	}
	want := []netip.AddrPort{netip.MustParseAddrPort("203.0.113.10:443"), netip.MustParseAddrPort("[2001:db8::10]:443")}
	if got := dialer.Dialed(); !slicesEqual(got, want) {
		t.Errorf("dialed %v, want every vetted address in order %v", got, want)
	}
}

func slicesEqual[T comparable](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestFetchResponseRules(t *testing.T) {
	t.Parallel()
	const marker = "SECRET-BODY-MARKER"
	doc := func(t *testing.T) []byte { return mustJSON(t, validDoc(testURL)) }
	tests := []struct {
		name    string
		handler func(t *testing.T) http.HandlerFunc
		reason  error
		msg     string
	}{
		{"not found", func(t *testing.T) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) { http.Error(w, marker, http.StatusNotFound) }
		}, ErrStatus, "the client metadata URL answered HTTP 404, not 200"},
		{"server error", func(t *testing.T) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) { http.Error(w, marker, http.StatusInternalServerError) }
		}, ErrStatus, "the client metadata URL answered HTTP 500, not 200"},
		{"no content", func(t *testing.T) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }
		}, ErrStatus, "the client metadata URL answered HTTP 204, not 200"},
		{"redirect", func(t *testing.T) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, "https://169.254.169.254/latest/meta-data/", http.StatusFound)
			}
		}, ErrRedirect, "the client metadata URL answered with a redirect (HTTP 302); redirects are not followed"},
		{"permanent redirect to the same host", func(t *testing.T) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, "/oauth/other.json", http.StatusPermanentRedirect)
			}
		}, ErrRedirect, "the client metadata URL answered with a redirect (HTTP 308); redirects are not followed"},
		{"HTML", func(t *testing.T) http.HandlerFunc {
			return serveJSON([]byte("<html>"+marker+"</html>"), "Content-Type", "text/html; charset=utf-8")
		}, ErrContentType, "the client metadata document is not served as application/json"},
		{"no content type", func(t *testing.T) http.HandlerFunc {
			body := doc(t)
			return func(w http.ResponseWriter, r *http.Request) {
				w.Header()["Content-Type"] = nil // stops net/http from sniffing one
				w.Write(body)
			}
		}, ErrContentType, "the client metadata document is not served as application/json"},
		{"JSON in a non-UTF-8 charset", func(t *testing.T) http.HandlerFunc {
			return serveJSON(doc(t), "Content-Type", "application/json; charset=iso-8859-1")
		}, ErrContentType, "the client metadata document is not served as application/json"},
		{"look-alike media type", func(t *testing.T) http.HandlerFunc {
			return serveJSON(doc(t), "Content-Type", "application/json-seq")
		}, ErrContentType, "the client metadata document is not served as application/json"},
		{"declared length too large", func(t *testing.T) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.Header().Set("Content-Length", "6000")
				w.Write([]byte(strings.Repeat(" ", 6000)))
			}
		}, ErrTooLarge, "the client metadata document is larger than 5 KiB"},
		{"one byte too large", func(t *testing.T) http.HandlerFunc {
			return serveJSON(paddedDoc(t, DefaultMaxBytes+1))
		}, ErrTooLarge, "the client metadata document is larger than 5 KiB"},
		{"not JSON", func(t *testing.T) http.HandlerFunc {
			return serveJSON([]byte(marker))
		}, ErrMalformed, "the client metadata document is not a valid JSON object"},
		{"client_id mismatch", func(t *testing.T) http.HandlerFunc {
			d := validDoc("https://client.example.test/oauth/metadata.json/")
			return serveJSON(mustJSON(t, d))
		}, ErrClientIDMismatch, "the client metadata document's client_id does not match the URL"},
		{"missing redirect_uris", func(t *testing.T) http.HandlerFunc {
			d := validDoc(testURL)
			delete(d, "redirect_uris")
			return serveJSON(mustJSON(t, d))
		}, ErrInvalidMetadata, "the client metadata document has no redirect_uris"},
		{"client secret", func(t *testing.T) http.HandlerFunc {
			d := validDoc(testURL)
			d["token_endpoint_auth_method"] = "client_secret_basic"
			return serveJSON(mustJSON(t, d))
		}, ErrInvalidMetadata, "the client metadata document uses a shared-secret token_endpoint_auth_method; only none and private_key_jwt are possible"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := newEnv(t, tt.handler(t))
			_, err := env.f.Fetch(t.Context(), testURL)
			wantRefusal(t, err, tt.reason, tt.msg)
			if strings.Contains(err.Error(), marker) {
				t.Errorf("message echoes the response body: %q", err.Error())
			}
			// One request, one dial: a redirect is never followed, so
			// its target (a metadata address here) is never dialed.
			if got := env.requests.Load(); got != 1 {
				t.Errorf("server saw %d requests, want 1", got)
			}
			if got := env.dialer.Dialed(); len(got) != 1 || got[0] != netip.AddrPortFrom(testAddr, 443) {
				t.Errorf("dialed %v, want only %v", got, netip.AddrPortFrom(testAddr, 443))
			}
		})
	}
}

// paddedDoc is a valid document for testURL exactly size bytes long.
func paddedDoc(t *testing.T, size int) []byte {
	t.Helper()
	d := validDoc(testURL)
	d["software_version"] = ""
	n := size - len(mustJSON(t, d))
	if n < 0 {
		t.Fatalf("document is already %d bytes", size-n)
	}
	d["software_version"] = strings.Repeat("v", n)
	b := mustJSON(t, d)
	if len(b) != size {
		t.Fatalf("padded document is %d bytes, want %d", len(b), size)
	}
	return b
}

func TestFetchAcceptsJSONMediaTypes(t *testing.T) {
	t.Parallel()
	for _, ct := range []string{"application/json", "application/JSON; charset=UTF-8", "application/cimd+json", "application/ld+json"} {
		t.Run(ct, func(t *testing.T) {
			t.Parallel()
			env := newEnv(t, serveJSON(mustJSON(t, validDoc(testURL)), "Content-Type", ct))
			if _, err := env.f.Fetch(t.Context(), testURL); err != nil {
				t.Errorf("Fetch: %v", err)
			}
		})
	}
}

func TestFetchSizeLimit(t *testing.T) {
	t.Parallel()
	t.Run("exactly MaxBytes is accepted", func(t *testing.T) {
		t.Parallel()
		env := newEnv(t, serveJSON(paddedDoc(t, DefaultMaxBytes)))
		if _, err := env.f.Fetch(t.Context(), testURL); err != nil {
			t.Errorf("Fetch: %v", err)
		}
	})
	t.Run("custom MaxBytes", func(t *testing.T) {
		t.Parallel()
		env := newEnv(t, serveJSON(paddedDoc(t, 1001)))
		env.f.MaxBytes = 1000
		_, err := env.f.Fetch(t.Context(), testURL)
		wantRefusal(t, err, ErrTooLarge, "the client metadata document is larger than 1000 bytes")
	})
}

// TestFetchOversizeStreamed serves an endless chunked body, without a
// Content-Length, and checks the fetcher hangs up after MaxBytes+1 bytes
// instead of reading it all.
func TestFetchOversizeStreamed(t *testing.T) {
	t.Parallel()
	const total = 64 << 20
	type result struct {
		written int
		err     error
	}
	done := make(chan result, 1)
	env := newEnv(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		chunk := []byte(`{"pad":"` + strings.Repeat("x", 1014) + `",`)
		rc := http.NewResponseController(w)
		var res result
		for res.written < total {
			n, err := w.Write(chunk)
			res.written += n
			if err == nil {
				err = rc.Flush()
			}
			if err != nil {
				res.err = err
				break
			}
		}
		done <- res
	})

	_, err := env.f.Fetch(t.Context(), testURL)
	wantRefusal(t, err, ErrTooLarge, "the client metadata document is larger than 5 KiB")
	select {
	case res := <-done:
		if res.err == nil || res.written >= total {
			t.Errorf("server wrote %d bytes without error; the fetcher should have hung up", res.written)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("server handler still writing 10s after the fetch returned")
	}
}

func TestFetchTimeout(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
	}{
		{"no response", func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }},
		{"body stalls", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"client_id":`))
			http.NewResponseController(w).Flush()
			<-r.Context().Done()
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newEnv(t, tt.handler)
			env.f.Timeout = 200 * time.Millisecond
			start := time.Now()
			_, err := env.f.Fetch(t.Context(), testURL)
			elapsed := time.Since(start)
			wantRefusal(t, err, ErrTimeout, "the client metadata URL did not answer within 200ms")
			if elapsed < 200*time.Millisecond || elapsed > 3*time.Second {
				t.Errorf("Fetch took %v, want about 200ms", elapsed)
			}
		})
	}
	t.Run("slow resolver", func(t *testing.T) {
		dialer := &recordingDialer{}
		f := &Fetcher{Resolver: blockingResolver{}, DialHook: dialer.Dial, Timeout: 100 * time.Millisecond}
		_, err := f.Fetch(t.Context(), testURL)
		wantRefusal(t, err, ErrTimeout, "the client metadata URL did not answer within 100ms")
		if d := dialer.Dialed(); len(d) != 0 {
			t.Errorf("dialed %v", d)
		}
	})
}

// blockingResolver never answers before its context ends.
type blockingResolver struct{}

func (blockingResolver) LookupNetIP(ctx context.Context, _, _ string) ([]netip.Addr, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

func TestFetchTLSFailures(t *testing.T) {
	t.Parallel()
	t.Run("certificate for another name", func(t *testing.T) {
		t.Parallel()
		env := newEnv(t, serveJSON(mustJSON(t, validDoc(testURL))), "other.example.test")
		_, err := env.f.Fetch(t.Context(), testURL)
		wantRefusal(t, err, ErrUnreachable, "the client metadata URL's TLS certificate could not be verified")
		if n := env.requests.Load(); n != 0 {
			t.Errorf("server saw %d requests, want 0", n)
		}
	})
	t.Run("untrusted issuer", func(t *testing.T) {
		t.Parallel()
		env := newEnv(t, serveJSON(mustJSON(t, validDoc(testURL))))
		env.f.RootCAs = nil // system roots do not include the test certificate
		_, err := env.f.Fetch(t.Context(), testURL)
		wantRefusal(t, err, ErrUnreachable, "the client metadata URL's TLS certificate could not be verified")
	})
}

func TestFetchCachesDocument(t *testing.T) {
	t.Parallel()
	env := newEnv(t, serveJSON(mustJSON(t, validDoc(testURL))))
	first, err := env.f.Fetch(t.Context(), testURL)
	if err != nil {
		t.Fatal(err)
	}
	// The caller owns what it gets: changing it must not reach the cache.
	first.RedirectURIs[0] = "https://attacker.example.test/cb"

	env.clock.Advance(DefaultCacheTTL - time.Second)
	second, err := env.f.Fetch(t.Context(), testURL)
	if err != nil {
		t.Fatal(err)
	}
	if n := env.requests.Load(); n != 1 {
		t.Errorf("server saw %d requests for two fetches within the TTL, want 1", n)
	}
	if got := second.RedirectURIs[0]; got != "http://127.0.0.1:3000/callback" {
		t.Errorf("cached redirect URI = %q; a caller's change leaked into the cache", got)
	}

	env.clock.Advance(2 * time.Second)
	if _, err := env.f.Fetch(t.Context(), testURL); err != nil {
		t.Fatal(err)
	}
	if n := env.requests.Load(); n != 2 {
		t.Errorf("server saw %d requests after the TTL passed, want 2", n)
	}
}

func TestFetchHonoursCacheHeaders(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		header      []string
		cachedUntil time.Duration // 0: not cached at all
	}{
		{"max-age", []string{"Cache-Control", "public, max-age=600"}, 10 * time.Minute},
		{"max-age below the lower bound", []string{"Cache-Control", "max-age=5"}, DefaultMinCacheTTL},
		{"max-age above the upper bound", []string{"Cache-Control", "max-age=31536000"}, DefaultMaxCacheTTL},
		{"no-store", []string{"Cache-Control", "no-store"}, 0},
		{"no-cache", []string{"Cache-Control", "no-cache"}, 0},
		{"Expires", []string{"Date", "Fri, 20 Nov 2026 12:00:00 GMT", "Expires", "Fri, 20 Nov 2026 14:00:00 GMT"}, 2 * time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := newEnv(t, serveJSON(mustJSON(t, validDoc(testURL)), tt.header...))
			fetch := func(wantRequests int64) {
				t.Helper()
				if _, err := env.f.Fetch(t.Context(), testURL); err != nil {
					t.Fatal(err)
				}
				if n := env.requests.Load(); n != wantRequests {
					t.Errorf("at +%v: server saw %d requests, want %d", env.clock.Now().Sub(newFakeClock().Now()), n, wantRequests)
				}
			}
			fetch(1)
			if tt.cachedUntil == 0 {
				fetch(2)
				return
			}
			env.clock.Advance(tt.cachedUntil - time.Second)
			fetch(1)
			env.clock.Advance(2 * time.Second)
			fetch(2)
		})
	}
}

func TestFetchNoStoreDropsEarlierEntry(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	cacheControl := "max-age=60"
	body := mustJSON(t, validDoc(testURL))
	env := newEnv(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		w.Header().Set("Cache-Control", cacheControl)
		mu.Unlock()
		serveJSON(body)(w, r)
	})
	for i, step := range []struct {
		advance      time.Duration
		cacheControl string
		want         int64
	}{
		{0, "max-age=60", 1},
		{61 * time.Second, "no-store", 2}, // expired: refetched, now no-store
		{0, "no-store", 3},                // so nothing is left to reuse
	} {
		env.clock.Advance(step.advance)
		mu.Lock()
		cacheControl = step.cacheControl
		mu.Unlock()
		if _, err := env.f.Fetch(t.Context(), testURL); err != nil {
			t.Fatal(err)
		}
		if n := env.requests.Load(); n != step.want {
			t.Errorf("step %d: %d requests, want %d", i, n, step.want)
		}
	}
	if n := env.f.cache.len(); n != 0 {
		t.Errorf("cache holds %d entries, want 0", n)
	}
}

func TestFetchCacheIsBounded(t *testing.T) {
	t.Parallel()
	env := newEnv(t, func(w http.ResponseWriter, r *http.Request) {
		serveJSON(docJSON("https://"+testHost+r.RequestURI))(w, r)
	})
	env.f.CacheSize = 2
	urls := []string{testHost + "/a.json", testHost + "/b.json", testHost + "/c.json"}
	for _, u := range urls {
		if _, err := env.f.Fetch(t.Context(), "https://"+u); err != nil {
			t.Fatal(err)
		}
	}
	if n := env.f.cache.len(); n != 2 {
		t.Errorf("cache holds %d entries, want 2", n)
	}
	// c and b are cached; a, stored first, was evicted.
	for _, step := range []struct {
		url  string
		want int64
	}{{urls[2], 3}, {urls[1], 3}, {urls[0], 4}} {
		if _, err := env.f.Fetch(t.Context(), "https://"+step.url); err != nil {
			t.Fatal(err)
		}
		if n := env.requests.Load(); n != step.want {
			t.Errorf("after fetching %s: %d requests, want %d", step.url, n, step.want)
		}
	}
}

func TestFetchMergesConcurrentFetches(t *testing.T) {
	t.Parallel()
	const callers = 16
	release := make(chan struct{})
	body := mustJSON(t, validDoc(testURL))
	env := newEnv(t, func(w http.ResponseWriter, r *http.Request) {
		<-release
		// no-store: any caller arriving after the fetch would fetch again,
		// so one request proves the callers shared the fetch, not a cache
		// entry.
		serveJSON(body, "Cache-Control", "no-store")(w, r)
	})
	var joined sync.WaitGroup
	joined.Add(callers)
	env.f.joined = joined.Done

	errs := make(chan error, callers)
	for range callers {
		go func() {
			doc, err := env.f.Fetch(t.Context(), testURL)
			if err == nil && doc.ClientID != testURL {
				err = errors.New("wrong document")
			}
			errs <- err
		}()
	}
	joined.Wait() // every caller is waiting on the fetch in flight
	close(release)
	for range callers {
		if err := <-errs; err != nil {
			t.Errorf("Fetch: %v", err)
		}
	}
	if n := env.requests.Load(); n != 1 {
		t.Errorf("server saw %d requests for %d concurrent fetches, want 1", n, callers)
	}
}

func TestFetchCallerGivingUpDoesNotCancelFetch(t *testing.T) {
	t.Parallel()
	entered := make(chan struct{})
	release := make(chan struct{})
	body := mustJSON(t, validDoc(testURL))
	env := newEnv(t, func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-release
		serveJSON(body)(w, r)
	})
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() {
		_, err := env.f.Fetch(ctx, testURL)
		errc <- err
	}()
	<-entered
	cancel()
	// The caller's own cancellation is not the client's fault, so it is
	// not an *Error the server would turn into invalid_client.
	err := <-errc
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Fetch with a cancelled context = %v, want context.Canceled", err)
	}
	if _, ok := errors.AsType[*Error](err); ok {
		t.Errorf("cancellation reported as a refused client: %v", err)
	}
	close(release)
	// Joins the fetch still in flight or finds its cached result; either
	// way the server is asked once.
	if _, err := env.f.Fetch(t.Context(), testURL); err != nil {
		t.Fatal(err)
	}
	if n := env.requests.Load(); n != 1 {
		t.Errorf("server saw %d requests, want 1", n)
	}
}

func TestFetchFailureCaching(t *testing.T) {
	t.Parallel()
	newFlaky := func(t *testing.T) *testEnv {
		var mu sync.Mutex
		calls := 0
		body := mustJSON(t, validDoc(testURL))
		return newEnv(t, func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			calls++
			first := calls == 1
			mu.Unlock()
			if first {
				http.Error(w, "down", http.StatusServiceUnavailable)
				return
			}
			serveJSON(body)(w, r)
		})
	}
	t.Run("off by default, per draft §4.4", func(t *testing.T) {
		t.Parallel()
		env := newFlaky(t)
		_, err := env.f.Fetch(t.Context(), testURL)
		wantRefusal(t, err, ErrStatus, "the client metadata URL answered HTTP 503, not 200")
		if _, err := env.f.Fetch(t.Context(), testURL); err != nil {
			t.Errorf("second Fetch: %v", err)
		}
		if n := env.requests.Load(); n != 2 {
			t.Errorf("%d requests, want 2", n)
		}
	})
	t.Run("FailureCacheTTL", func(t *testing.T) {
		t.Parallel()
		env := newFlaky(t)
		env.f.FailureCacheTTL = 30 * time.Second
		_, err1 := env.f.Fetch(t.Context(), testURL)
		_, err2 := env.f.Fetch(t.Context(), testURL)
		wantRefusal(t, err2, ErrStatus, "the client metadata URL answered HTTP 503, not 200")
		if err1 != err2 {
			t.Errorf("second error %v is not the cached first %v", err2, err1)
		}
		if n := env.requests.Load(); n != 1 {
			t.Errorf("%d requests within FailureCacheTTL, want 1", n)
		}
		env.clock.Advance(31 * time.Second)
		if _, err := env.f.Fetch(t.Context(), testURL); err != nil {
			t.Errorf("Fetch after FailureCacheTTL: %v", err)
		}
		if n := env.requests.Load(); n != 2 {
			t.Errorf("%d requests, want 2", n)
		}
	})
}

// TestFetchWithDefaultDialer runs the real dialer, with a resolver that
// names 127.0.0.1: refused under the default policy, connected when the
// policy allows loopback (the draft §6.5 exception for a server that itself
// runs on loopback).
func TestFetchWithDefaultDialer(t *testing.T) {
	t.Parallel()
	env := newEnv(t, func(w http.ResponseWriter, r *http.Request) {
		serveJSON(docJSON("https://"+r.Host+r.RequestURI))(w, r)
	})
	_, port, _ := net.SplitHostPort(env.srv.Listener.Addr().String())
	url := "https://" + testHost + ":" + port + "/oauth/metadata.json"
	loopback := netip.MustParseAddr("127.0.0.1")
	env.resolver.addrs[testHost] = []netip.Addr{loopback}
	env.f.DialHook = nil

	env.f.Allow = nil
	_, err := env.f.Fetch(t.Context(), url)
	wantRefusal(t, err, ErrBlockedAddress, "the client metadata URL resolves to a loopback address")

	f := &Fetcher{Resolver: env.resolver, RootCAs: env.f.RootCAs, Allow: func(a netip.Addr) bool { return a == loopback }}
	if _, err := f.Fetch(t.Context(), url); err != nil {
		t.Fatalf("Fetch through the default dialer: %v", err)
	}
	if n := env.requests.Load(); n != 1 {
		t.Errorf("server saw %d requests, want 1", n)
	}
}

// TestDialGuardedChecksSocket calls the default dialer directly with an
// address the policy refuses: its Control hook must stop the connect. The
// address is a listener of ours on 127.0.0.1, so even a broken guard would
// send nothing beyond loopback.
func TestDialGuardedChecksSocket(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ap := netip.MustParseAddrPort(ln.Addr().String())
	accepted := make(chan struct{}, 2)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
			accepted <- struct{}{}
		}
	}()

	f := &Fetcher{} // default policy: loopback refused
	if c, err := f.dialGuarded(t.Context(), "tcp", ap); err == nil {
		c.Close()
		t.Fatal("dialGuarded connected to a loopback address under the default policy")
	} else if !strings.Contains(err.Error(), "cimd: refusing to connect to 127.0.0.1") {
		t.Errorf("err = %v", err)
	}
	select {
	case <-accepted:
		t.Fatal("the listener accepted a connection the guard should have stopped")
	case <-time.After(100 * time.Millisecond):
	}

	f = &Fetcher{Allow: func(a netip.Addr) bool { return a == ap.Addr() }}
	c, err := f.dialGuarded(t.Context(), "tcp", ap)
	if err != nil {
		t.Fatalf("dialGuarded with loopback allowed: %v", err)
	}
	c.Close()
	select {
	case <-accepted:
	case <-time.After(5 * time.Second):
		t.Fatal("the listener saw no connection")
	}
}

func TestTransportHardening(t *testing.T) {
	f := &Fetcher{}
	f.once.Do(f.init)
	tr := f.client.Transport.(*http.Transport)
	if tr.Proxy != nil {
		t.Error("transport uses a proxy; it would dial past the address check")
	}
	if !tr.DisableKeepAlives || !tr.DisableCompression {
		t.Errorf("DisableKeepAlives = %v, DisableCompression = %v; want both true", tr.DisableKeepAlives, tr.DisableCompression)
	}
	if tr.MaxResponseHeaderBytes != maxHeaderBytes {
		t.Errorf("MaxResponseHeaderBytes = %d, want %d", tr.MaxResponseHeaderBytes, maxHeaderBytes)
	}
	if tr.Protocols == nil || tr.Protocols.HTTP2() || !tr.Protocols.HTTP1() {
		t.Errorf("Protocols = %v, want HTTP/1 only", tr.Protocols)
	}
	if f.client.CheckRedirect == nil {
		t.Error("CheckRedirect is nil: redirects would be followed")
	}
}

// A resolver answering with an IPv4-mapped IPv6 address: the policy and
// the dialer both see the IPv4 address the packets would go to.
func TestFetchUnmapsAddresses(t *testing.T) {
	t.Parallel()
	env := newEnv(t, serveJSON(mustJSON(t, validDoc(testURL))))
	env.resolver.addrs[testHost] = []netip.Addr{netip.MustParseAddr("::ffff:203.0.113.10")}
	if _, err := env.f.Fetch(t.Context(), testURL); err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	if got, want := env.dialer.Dialed(), []netip.AddrPort{netip.AddrPortFrom(testAddr, 443)}; !slicesEqual(got, want) {
		t.Errorf("dialed %v, want %v", got, want)
	}
}

func TestFetchWithDoneContextStartsNothing(t *testing.T) {
	t.Parallel()
	env := newEnv(t, serveJSON(mustJSON(t, validDoc(testURL))))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := env.f.Fetch(ctx, testURL); !errors.Is(err, context.Canceled) {
		t.Errorf("Fetch = %v, want context.Canceled", err)
	}
	if c := env.resolver.Calls(); len(c) != 0 {
		t.Errorf("resolver called: %v", c)
	}
}

// TestFetchInFlightCap: with every slot taken by a fetch that hangs, a
// fetch of another URL fails at once as busy, without touching the network.
func TestFetchInFlightCap(t *testing.T) {
	dialer := &recordingDialer{}
	f := &Fetcher{Resolver: blockingResolver{}, DialHook: dialer.Dial, MaxInFlight: 2, Timeout: 3 * time.Second}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	for i := range 2 {
		go f.Fetch(ctx, fmt.Sprintf("https://hang%d.example.test/client.json", i))
	}
	// Wait until both hanging fetches hold their slots.
	deadline := time.Now().Add(10 * time.Second)
	for {
		f.once.Do(f.init)
		if len(f.slots) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the hanging fetches never started")
		}
		time.Sleep(5 * time.Millisecond)
	}
	_, err := f.Fetch(t.Context(), testURL)
	wantRefusal(t, err, ErrBusy, "the server is fetching too many client metadata documents; try again shortly")
	if d := dialer.Dialed(); len(d) != 0 {
		t.Errorf("dialed %v", d)
	}
}
