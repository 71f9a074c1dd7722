package webaddr

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// meaning fixes what the predicates say about one URL. Every row gives the
// reason for its answer; a change to any answer is a change of security
// policy and must say why.
var meaning = []struct {
	in       string   // parsed with url.Parse, unless u is set
	u        *url.URL // a URL no parser produces, built by hand
	origin   string   // Origin; HostPort and SameOrigin follow from it
	hostPort string
	loopback bool // IsLoopback(u.Hostname())
	why      string
}{
	// Default ports and letter case.
	{in: "https://blog.example.com/mcp", origin: "https://blog.example.com", hostPort: "blog.example.com:443", why: "the plain case"},
	{in: "https://blog.example.com:443/x", origin: "https://blog.example.com", hostPort: "blog.example.com:443", why: "the default port is left out, as browsers write Origin"},
	{in: "http://blog.example.com:80", origin: "http://blog.example.com", hostPort: "blog.example.com:80", why: "http's default port is 80"},
	{in: "http://blog.example.com:443", origin: "http://blog.example.com:443", hostPort: "blog.example.com:443", why: "443 is not http's default"},
	{in: "https://blog.example.com:8443", origin: "https://blog.example.com:8443", hostPort: "blog.example.com:8443", why: "another port is another origin"},
	{in: "https://blog.example.com:0443", origin: "https://blog.example.com", hostPort: "blog.example.com:443", why: "leading zeros do not change the port the dialler uses"},
	{in: "https://blog.example.com:", origin: "https://blog.example.com", hostPort: "blog.example.com:443", why: "an empty port is the default one (RFC 3986 §3.2.3)"},
	{in: "HTTPS://Blog.Example.COM", origin: "https://blog.example.com", hostPort: "blog.example.com:443", why: "scheme and host compare case-insensitively"},
	{in: "ws://h.example", origin: "ws://h.example", why: "only http and https have default ports here; no port is known"},
	{in: "ws://h.example:80", origin: "ws://h.example:80", hostPort: "h.example:80", why: "a port is never dropped for another scheme"},

	// Host names that only look alike.
	{in: "https://ma\u0130l.test", origin: "https://ma\u0130l.test", hostPort: "ma\u0130l.test:443", why: "only ASCII folds: Go lowers İ to i, but IDNA dials xn--mail-swc.test, another host"},
	{in: "https://\u212Aa.test", origin: "https://\u212Aa.test", hostPort: "\u212Aa.test:443", why: "the Kelvin sign is not the letter k here, even where IDNA would map it: refusing is safe"},
	{in: "https://blog.example.com.", origin: "https://blog.example.com.", hostPort: "blog.example.com.:443", why: "a trailing dot is another origin to browsers; kept, never stripped"},
	{in: "https://user:pw@blog.example.com/x", origin: "https://blog.example.com", hostPort: "blog.example.com:443", why: "user information is not part of an origin (RFC 6454 §4)"},

	// IP literals.
	{in: "http://127.0.0.1:8080", origin: "http://127.0.0.1:8080", hostPort: "127.0.0.1:8080", loopback: true, why: "IPv4 loopback"},
	{in: "http://127.8.9.10", origin: "http://127.8.9.10", hostPort: "127.8.9.10:80", loopback: true, why: "all of 127.0.0.0/8 is loopback (RFC 1122 §3.2.1.3)"},
	{in: "http://[::1]:8080", origin: "http://[::1]:8080", hostPort: "[::1]:8080", loopback: true, why: "IPv6 loopback, written in brackets"},
	{in: "http://[0:0::1]", origin: "http://[::1]", hostPort: "[::1]:80", loopback: true, why: "IPv6 literals take their RFC 5952 form, so equal addresses agree"},
	{in: "http://[::FFFF:127.0.0.1]", origin: "http://[::ffff:127.0.0.1]", hostPort: "[::ffff:127.0.0.1]:80", loopback: true, why: "IPv4-mapped loopback is dialled as 127.0.0.1; its origin stays apart from the IPv4 one, as in browsers"},
	{in: "http://[::ffff:10.0.0.1]", origin: "http://[::ffff:10.0.0.1]", hostPort: "[::ffff:10.0.0.1]:80", why: "an IPv4-mapped address is loopback only when the IPv4 one is"},
	{in: "http://[fe80::1%25eth0]:8080", origin: "", why: "a zone names an interface of this machine, not the remote; browsers refuse it"},
	{in: "http://[::1%25lo]", origin: "", why: "no zone on loopback either"},
	{in: "http://0.0.0.0:8080", origin: "http://0.0.0.0:8080", hostPort: "0.0.0.0:8080", why: "the unspecified address listens everywhere: not loopback"},
	{in: "http://[::]:8080", origin: "http://[::]:8080", hostPort: "[::]:8080", why: "nor is the IPv6 unspecified address"},
	{in: "http://127.1", origin: "http://127.1", hostPort: "127.1:80", why: "a short IPv4 form is a DNS name to Go; whatever it resolves to, it is not known to be loopback"},

	// localhost.
	{in: "http://localhost:3000", origin: "http://localhost:3000", hostPort: "localhost:3000", loopback: true, why: "RFC 6761 §6.3 reserves localhost for loopback"},
	{in: "http://LocalHost", origin: "http://localhost", hostPort: "localhost:80", loopback: true, why: "DNS names compare case-insensitively (RFC 4343)"},
	{in: "http://app.localhost", origin: "http://app.localhost", hostPort: "app.localhost:80", why: "names under .localhost go to DNS, which may answer anything"},
	{in: "http://localhost.", origin: "http://localhost.", hostPort: "localhost.:80", why: "nor is the absolute name taken on trust"},
	{in: "http://localhost.example.com", origin: "http://localhost.example.com", hostPort: "localhost.example.com:80", why: "a prefix is not the name"},
	{in: "http://127.0.0.1.evil.example", origin: "http://127.0.0.1.evil.example", hostPort: "127.0.0.1.evil.example:80", why: "a DNS name that starts like an address is a DNS name"},

	// URLs without an origin.
	{in: "http:blog.example.com", origin: "", why: "opaque: no authority at all"},
	{in: "mailto:a@example.com", origin: "", why: "opaque"},
	{in: "//blog.example.com/x", origin: "", why: "no scheme: relative, no origin of its own"},
	{in: "/mcp", origin: "", why: "a path alone"},
	{in: "http://:8080", origin: "", why: "an empty host"},
	{in: "file:///etc/passwd", origin: "", why: "no host"},
	{in: "http://h.example:65536", origin: "", why: "a port out of range is dialled nowhere"},
	{in: "http://h.example:0", origin: "", why: "nor is port 0"},
	{u: &url.URL{Scheme: "http", Host: "%65xample.com"}, origin: "", why: "a percent-encoded host (url.Parse refuses one); parsers disagree on what it names"},
	{u: &url.URL{Scheme: "http", Host: "evil.example@blog.example.com"}, origin: "", why: "user information smuggled into Host"},
	{u: &url.URL{Scheme: "http", Host: "blog.example.com/x"}, origin: "", why: "a path smuggled into Host"},
	{u: &url.URL{Scheme: "http", Host: "a b"}, origin: "", why: "a space"},
	{u: &url.URL{Scheme: "http", Host: "[127.0.0.1]"}, origin: "", loopback: true, why: "brackets hold only IPv6 (RFC 3986 §3.2.2); Hostname drops them, and the address is loopback"},
	{u: &url.URL{Scheme: "http", Host: "::1"}, origin: "", why: "an IPv6 literal needs its brackets"},
}

func TestMeaning(t *testing.T) {
	urls := make([]*url.URL, len(meaning))
	for i, tc := range meaning {
		u := tc.u
		if u == nil {
			var err error
			if u, err = url.Parse(tc.in); err != nil {
				t.Fatalf("url.Parse(%q): %v", tc.in, err)
			}
		}
		urls[i] = u
		if got := Origin(u); got != tc.origin {
			t.Errorf("Origin(%q) = %q, want %q: %s", u, got, tc.origin, tc.why)
		}
		if got := HostPort(u); got != tc.hostPort {
			t.Errorf("HostPort(%q) = %q, want %q: %s", u, got, tc.hostPort, tc.why)
		}
		if got := IsLoopback(u.Hostname()); got != tc.loopback {
			t.Errorf("IsLoopback(%q) = %v, want %v: %s", u.Hostname(), got, tc.loopback, tc.why)
		}
	}
	// Two URLs are same-origin exactly when they have the same origin;
	// a URL without one matches nothing, not even itself.
	for i, a := range urls {
		for j, b := range urls {
			want := meaning[i].origin != "" && meaning[i].origin == meaning[j].origin
			if got := SameOrigin(a, b); got != want {
				t.Errorf("SameOrigin(%q, %q) = %v, want %v", a, b, got, want)
			}
		}
	}
}

func TestIsLoopbackHost(t *testing.T) {
	for _, tc := range []struct {
		host string
		want bool
		why  string
	}{
		{"", false, "an empty listen host means every interface"},
		{"[::1]", false, "a host as Hostname gives it has no brackets"},
		{"127.0.0.1:80", false, "nor a port"},
		{"LOCALHOST", true, "letter case does not matter for DNS names"},
		{"localhost.localdomain", false, "only the reserved name itself"},
	} {
		if got := IsLoopback(tc.host); got != tc.want {
			t.Errorf("IsLoopback(%q) = %v, want %v: %s", tc.host, got, tc.want, tc.why)
		}
	}
}

func TestInvalidURIByte(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int
	}{
		{"https://example.com/a-b._~:/?#[]@!$&'()*+,;=%41%7e", -1},
		{"", -1},
		{"https://example.com/a b", 21},
		{"https://example.com/\"x", 20},
		{"https://example.com/<x>", 20},
		{`https://example.com\@evil.test`, 19},
		{"https://example.com/\x00", 20},
		{"https://example.com/\x7f", 20},
		{"https://example.com/é", 20},
		{"https://example.com/%zz", 20},
		{"https://example.com/%4", 20},
		{"https://example.com/%", 20},
		{"%%41", 0},
		{"a{b}", 1},
		{"a|b", 1},
		{"a^b", 1},
		{"a`b", 1},
	} {
		if got := InvalidURIByte(tc.in); got != tc.want {
			t.Errorf("InvalidURIByte(%q) = %d, want %d", tc.in, got, tc.want)
		}
	}
}

func TestSameOriginRedirects(t *testing.T) {
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("a redirect reached another origin: %s %s", r.Method, r.URL)
	}))
	defer other.Close()
	mux := http.NewServeMux()
	mux.HandleFunc("/away", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/x", http.StatusFound)
	})
	mux.HandleFunc("/localhost", func(w http.ResponseWriter, r *http.Request) {
		// The same listener, reached by another name: another origin.
		http.Redirect(w, r, strings.Replace("http://"+r.Host, "127.0.0.1", "localhost", 1)+"/ok", http.StatusFound)
	})
	mux.HandleFunc("/here", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/ok", http.StatusFound)
	})
	mux.HandleFunc("/loop", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/loop", http.StatusFound)
	})
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) {})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	hc := &http.Client{CheckRedirect: SameOriginRedirects(nil)}
	for _, path := range []string{"/away", "/localhost"} {
		_, err := hc.Get(srv.URL + path)
		var re *RedirectError
		if !errors.As(err, &re) || re.From.String() != srv.URL+path {
			t.Errorf("GET %s: %v; want a *RedirectError from the first URL", path, err)
		}
	}
	if resp, err := hc.Get(srv.URL + "/here"); err != nil || resp.Request.URL.Path != "/ok" {
		t.Errorf("GET /here: %v; want the same-origin redirect followed", err)
	}
	if _, err := hc.Get(srv.URL + "/loop"); err == nil || !strings.Contains(err.Error(), "stopped after 10 redirects") {
		t.Errorf("GET /loop: %v; want net/http's limit of 10", err)
	}

	// A caller's own policy still runs for redirects within the origin.
	calls := 0
	hc.CheckRedirect = SameOriginRedirects(func(*http.Request, []*http.Request) error {
		calls++
		return http.ErrUseLastResponse
	})
	if resp, err := hc.Get(srv.URL + "/here"); err != nil || resp.StatusCode != http.StatusFound || calls != 1 {
		t.Errorf("GET /here with next: %v, %d calls; want next to stop at the 302", err, calls)
	}
	if _, err := hc.Get(srv.URL + "/away"); err == nil || calls != 1 {
		t.Errorf("GET /away with next: %v, %d calls; want a refusal before next runs", err, calls)
	}
}

// FuzzOrigin checks that an origin names itself: parsing it back gives the
// same origin, and the URL is same-origin with it.
func FuzzOrigin(f *testing.F) {
	for _, tc := range meaning {
		if tc.in != "" {
			f.Add(tc.in)
		}
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := url.Parse(s)
		if err != nil {
			return
		}
		o := Origin(u)
		if o == "" {
			if SameOrigin(u, u) {
				t.Errorf("%q has no origin but is same-origin with itself", s)
			}
			return
		}
		back, err := url.Parse(o)
		if err != nil {
			t.Fatalf("Origin(%q) = %q, which does not parse: %v", s, o, err)
		}
		if got := Origin(back); got != o {
			t.Errorf("Origin(%q) = %q, but Origin(%q) = %q", s, o, o, got)
		}
		if !SameOrigin(u, back) {
			t.Errorf("%q is not same-origin with its origin %q", s, o)
		}
	})
}

func TestLoopbackHostsAreLoopback(t *testing.T) {
	for _, h := range LoopbackHosts() {
		u := &url.URL{Scheme: "http", Host: h + ":8080"}
		if !IsLoopback(u.Hostname()) || Origin(u) == "" {
			t.Errorf("LoopbackHosts holds %q, which is not a loopback host of a valid origin", h)
		}
	}
}
