package cimd

import (
	"net/netip"
	"net/url"
	"strconv"
	"strings"

	"github.com/2coffee/mcp-2coffee/internal/webaddr"
)

// MaxURLLength bounds a client_id URL. Draft §3 recommends short URLs
// because users see them; 2048 is the common practical limit of URLs on
// the web, and refusing longer ones keeps caches and logs bounded.
const MaxURLLength = 2048

// IsURL reports whether clientID is meant as a client metadata URL rather
// than an identifier the authorization server issued. Draft §6.9 asks the
// server never to issue identifiers that start with "https://", so the
// prefix alone decides.
func IsURL(clientID string) bool {
	return strings.HasPrefix(clientID, "https://")
}

// ValidateClientID checks clientID against the client identifier rules,
// without any network I/O, and returns it parsed.
//
// Draft §3: the scheme is https; there is a path; no "." or ".." path
// segments; no fragment; no user name or password; a port is allowed. A
// query is allowed too (the draft only says clients SHOULD NOT use one).
// This also requires, so the URL the server fetches is exactly the one the
// client named:
//   - at most MaxURLLength bytes, only characters RFC 3986 allows, valid
//     percent-escapes, and a form net/url writes back unchanged;
//   - the scheme in lowercase, and a path other than "/" (a site's root
//     is its home page, not a metadata document; MCP's example is
//     https://example.com/client.json);
//   - an IP literal host without a zone, or a DNS name of at least two
//     labels whose last label is not numeric (some resolvers read
//     "127.1" or "0x7f.1" as IPv4), and not a name reserved for local use
//     (localhost, .local, .internal, .home.arpa, …).
//
// Whether an IP literal is an allowed address is the Fetcher's policy, not
// checked here.
func ValidateClientID(clientID string) (*url.URL, error) {
	bad := func(format string, args ...any) (*url.URL, error) {
		return nil, refuse(ErrInvalidURL, nil, "the client_id URL "+format, args...)
	}
	switch {
	case clientID == "":
		return bad("is empty")
	case len(clientID) > MaxURLLength:
		return bad("is longer than %d bytes", MaxURLLength)
	case !strings.HasPrefix(clientID, "https://"):
		return bad("must start with https://")
	case strings.Contains(clientID, "#"):
		return bad("must not have a fragment")
	}
	if i := webaddr.InvalidURIByte(clientID); i >= 0 {
		return bad("has a character that is not allowed in a URL at byte %d", i)
	}
	u, err := url.Parse(clientID)
	if err != nil {
		return bad("cannot be parsed")
	}
	if u.User != nil {
		return bad("must not contain a user name or password")
	}
	if u.String() != clientID {
		return bad("is not in canonical form")
	}
	if msg := checkHost(u); msg != "" {
		return bad("%s", msg)
	}
	path := u.EscapedPath()
	if path == "" || path == "/" {
		return bad("must have a path, such as https://example.com/client.json")
	}
	for seg := range strings.SplitSeq(path, "/") {
		// %2e is an escaped dot; RFC 3986 §6.2.2.2 makes the two forms
		// equivalent, so "/%2e%2e/" is as much a dot segment as "/../".
		seg = strings.ReplaceAll(strings.ReplaceAll(seg, "%2e", "."), "%2E", ".")
		if seg == "." || seg == ".." {
			return bad(`must not have "." or ".." path segments`)
		}
	}
	return u, nil
}

// localSuffixes are DNS names reserved for local or special use (RFC 6761,
// 6762, 7686, 8375, 9476, and ICANN's .internal); no public document can
// live there, and a resolver may well answer them with private addresses.
var localSuffixes = []string{".localhost", ".local", ".internal", ".home.arpa", ".onion", ".invalid", ".alt"}

// checkHost returns why u's host is unacceptable, or "".
func checkHost(u *url.URL) string {
	if strings.HasSuffix(u.Host, ":") {
		return "has an empty port"
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return "has an invalid port"
		}
	}
	host := u.Hostname()
	if host == "" {
		return "has no host"
	}
	if strings.HasPrefix(u.Host, "[") {
		a, err := netip.ParseAddr(host)
		if err != nil || !a.Is6() || a.Zone() != "" {
			return "has an invalid IPv6 address"
		}
		return ""
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return "" // a dotted-quad IPv4 literal
	}
	if len(host) > 253 {
		return "has a host name longer than 253 bytes"
	}
	labels := strings.Split(host, ".")
	if len(labels) < 2 {
		return "must have a fully qualified host name"
	}
	for _, l := range labels {
		if !validLabel(l) {
			return "has an invalid host name"
		}
	}
	if last := labels[len(labels)-1]; strings.Trim(last, "0123456789") == "" || strings.HasPrefix(strings.ToLower(last), "0x") {
		return "has a host name that looks like a numeric address"
	}
	lower := "." + strings.ToLower(host)
	for _, s := range localSuffixes {
		if strings.HasSuffix(lower, s) {
			return "has a host name reserved for local use"
		}
	}
	return ""
}

// validLabel reports whether l is a DNS label as RFC 1123 §2.1 allows in
// host names: 1–63 letters, digits and hyphens, not starting or ending with
// a hyphen. Internationalised names arrive as their xn-- form.
func validLabel(l string) bool {
	if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
		return false
	}
	for i := 0; i < len(l); i++ {
		c := l[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}
