// Package webaddr is the one home of the predicates on web addresses that
// security decisions rest on: a URL's origin, whether a host is this
// machine, the same-origin redirect policy of clients that carry
// credentials, and the characters RFC 3986 allows in a URI.
//
// Each predicate is exact and errs on the side of refusal: where two
// spellings might name the same place but a careless reading could also
// make two different places look alike, they are told apart. The table in
// webaddr_test.go fixes every such choice and gives its reason.
//
// Three neighbouring policies differ in meaning and live with their users:
// which addresses a client metadata document may be fetched from
// (cimd.PublicUnicast, against SSRF), which loopback redirect URIs match a
// registered one (authserver, on the exact text, RFC 8252 §7.3), and
// refusing every redirect of such a fetch (cimd.Fetcher).
package webaddr

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// Origin returns the ASCII serialization of u's origin (RFC 6454 §6.2):
// the scheme and host in lower case, and the port unless it is the
// scheme's default (80 for http, 443 for https), as browsers write the
// Origin header. Equal origins give equal strings, so two URLs are
// same-origin exactly when Origin gives both the same non-empty string.
//
// The result is "" when u has no origin a client may trust a credential
// to: an opaque URL (mailto:x, http:host), no scheme, no host, a port out
// of range, a host holding '%' or other bytes no host may hold, or an IPv6
// literal with a zone (RFC 6874), which browsers refuse and which names an
// interface of this machine rather than the remote host. User information
// is not part of an origin and is ignored.
//
// Only ASCII letters are folded: Go's Unicode case mapping lowers "İ" to
// "i", but the HTTP client dials a host by its IDNA form, so "maİl.test"
// (xn--mail-swc.test) and "mail.test" are different hosts. IPv6 literals
// are written in their RFC 5952 form, so [0:0::1] and [::1] agree; an
// IPv4-mapped address stays distinct from the IPv4 address, as in
// browsers. A trailing dot is kept: "example.com." is another origin to a
// browser, and refusing is the safe reading.
func Origin(u *url.URL) string {
	scheme, host, port, ok := parts(u)
	if !ok {
		return ""
	}
	if port != "" && port != defaultPort(scheme) {
		host += ":" + port
	}
	return scheme + "://" + host
}

// HostPort returns the host and port of u's origin as "host:port", the
// port always written (the scheme's default when u names none): the form
// in which a Host header can be compared with a configured URL whatever
// the request's scheme. It returns "" when u has no origin (see Origin)
// or names no port and its scheme has no default.
func HostPort(u *url.URL) string {
	scheme, host, port, ok := parts(u)
	if port == "" {
		port = defaultPort(scheme)
	}
	if !ok || port == "" {
		return ""
	}
	return host + ":" + port
}

// SameOrigin reports whether a and b have the same origin (RFC 6454 §5).
// A URL without an origin is same-origin with nothing, itself included,
// like an opaque origin in a browser.
func SameOrigin(a, b *url.URL) bool {
	o := Origin(a)
	return o != "" && o == Origin(b)
}

// parts returns the normalised scheme, host (IPv6 in brackets) and port
// (without leading zeros; "" when u names none) of u's origin.
func parts(u *url.URL) (scheme, host, port string, ok bool) {
	if u == nil || u.Opaque != "" || u.Scheme == "" {
		return "", "", "", false
	}
	scheme = lowerASCII(u.Scheme)
	name := u.Hostname()
	if strings.HasPrefix(u.Host, "[") {
		// RFC 3986 §3.2.2: brackets hold an IPv6 literal (or an
		// IPvFuture one, which nothing dials), nothing else.
		a, err := netip.ParseAddr(name)
		if err != nil || !a.Is6() || a.Zone() != "" {
			return "", "", "", false
		}
		host = "[" + a.String() + "]"
	} else {
		if name == "" || strings.ContainsFunc(name, notHostByte) {
			return "", "", "", false
		}
		host = lowerASCII(name)
	}
	if p := u.Port(); p != "" {
		// url.URL.Port keeps leading zeros, which the dialler ignores:
		// 0443 is port 443, as in browsers.
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return "", "", "", false
		}
		port = strconv.Itoa(n)
	}
	return scheme, host, port, true
}

// notHostByte reports a byte no host name outside brackets may hold: the
// delimiters of a URL, '%' (url.Parse refuses percent-encoded host names,
// and one built by hand would be read differently by different parsers),
// and controls. Non-ASCII bytes are kept: the HTTP client dials their IDNA
// form.
func notHostByte(r rune) bool {
	return r <= ' ' || r == 0x7f || strings.ContainsRune("%/?#@[]\\:", r)
}

func defaultPort(scheme string) string {
	switch scheme {
	case "http":
		return "80"
	case "https":
		return "443"
	}
	return ""
}

// lowerASCII lowers the ASCII letters of s and leaves every other byte
// alone (see Origin for why strings.ToLower is wrong here).
func lowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// IsLoopback reports whether host, as url.URL.Hostname or
// net.SplitHostPort give it (no brackets, no port), is this machine, so
// that plain http to it never crosses a network: the exception to "https
// only" in RFC 8252 §8.3 and the MCP authorization spec.
//
// It holds for "localhost" in any letter case (RFC 6761 §6.3 reserves the
// name for loopback; DNS names compare case-insensitively, RFC 4343), for
// 127.0.0.0/8 and ::1, and for an IPv4-mapped loopback address, which Go
// dials as IPv4. It does not hold for names under .localhost, the name
// with a trailing dot, or "0.0.0.0": the first two go to a DNS server that
// may answer anything, and the last, as a listen address, means every
// interface. A zone is refused: it has no business on a loopback address.
func IsLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Zone() == "" && a.IsLoopback()
}

// LoopbackHosts returns the host names, as a URL writes them, by which
// clients on this machine name its loopback interface: the Hosts a server
// listening on loopback answers to, and the hosts of RFC 8252 §7.3
// loopback redirect URIs ("localhost" is discouraged there but used by
// real clients). Each, without its brackets, is IsLoopback.
func LoopbackHosts() []string { return []string{"127.0.0.1", "[::1]", "localhost"} }

// maxRedirects is net/http's default limit on a chain of redirects.
const maxRedirects = 10

// RedirectError is a redirect refused by SameOriginRedirects because it
// leaves the origin of the request that started the chain. http.Client
// returns it wrapped in a *url.Error; callers find it with errors.As to
// explain it in their own words.
type RedirectError struct {
	// From is the URL of the chain's first request, To the refused target.
	From, To *url.URL
}

func (e *RedirectError) Error() string {
	return fmt.Sprintf("refusing to follow a redirect from %s to %s, another origin", e.From.Redacted(), e.To.Redacted())
}

// SameOriginRedirects returns an http.Client CheckRedirect for clients that
// send credentials: a redirect may not leave the origin of the chain's
// first request. net/http drops Authorization and Cookie on a redirect to
// another domain, but copies every other header (X-API-KEY among them)
// and follows https to http; so any redirect off the origin is refused
// with a *RedirectError. Redirects within the origin go on to next (nil:
// net/http's default of at most 10).
func SameOriginRedirects(next func(*http.Request, []*http.Request) error) func(*http.Request, []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		if first := via[0].URL; !SameOrigin(req.URL, first) {
			return &RedirectError{From: first, To: req.URL}
		}
		if next != nil {
			return next(req, via)
		}
		if len(via) >= maxRedirects {
			return errors.New("stopped after 10 redirects")
		}
		return nil
	}
}

// InvalidURIByte returns the index of the first byte of s that RFC 3986 §2
// does not allow in a URI (anything but unreserved, reserved and '%'), or
// of a '%' that does not start a percent-encoding of two hex digits; -1
// when there is none. A string that passes holds no space, quote, angle
// bracket, backslash, control or non-ASCII byte, so it can go into a
// Location header or a Content-Security-Policy as it is, and no two URL
// parsers can split it differently at such a byte.
func InvalidURIByte(s string) int {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("-._~:/?#[]@!$&'()*+,;=", c) >= 0:
		case c == '%':
			if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
				return i
			}
			i += 2
		default:
			return i
		}
	}
	return -1
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}
