package authserver

import (
	"errors"
	"net/url"
	"strconv"
	"strings"

	"github.com/2coffee/mcp-2coffee/internal/webaddr"
)

// Limits on redirect URIs, for registration and client metadata documents.
const (
	MaxRedirectURIs   = 10
	MaxRedirectURILen = 2048
)

// forbiddenSchemes can never be redirect targets: they run code, read
// local files or leave the browser in ways no OAuth client needs.
var forbiddenSchemes = map[string]bool{
	"javascript": true, "data": true, "vbscript": true, "file": true, "about": true,
	"blob": true, "filesystem": true, "ftp": true, "ws": true, "wss": true,
	"mailto": true, "tel": true, "sms": true, "view-source": true, "chrome": true,
	"resource": true, "intent": true,
}

// validateRedirectURI checks one redirect URI offered at registration (or
// in a metadata document): https; http only on a loopback host; or a
// private-use scheme such as cursor:// or com.example.app:/cb (RFC 8252
// §7.1). Never a fragment or user info. The error says why, for
// error_description.
func validateRedirectURI(raw string) error {
	switch {
	case raw == "":
		return errors.New("a redirect URI is empty")
	case len(raw) > MaxRedirectURILen:
		return errors.New("a redirect URI is longer than 2048 bytes")
	case strings.Contains(raw, "#"):
		return errors.New("a redirect URI must not contain a fragment")
	case webaddr.InvalidURIByte(raw) >= 0:
		return errors.New("a redirect URI contains characters a URI may not hold")
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" {
		return errors.New("a redirect URI is not an absolute URI")
	}
	if !strings.HasPrefix(raw, u.Scheme+":") {
		// url.Parse lowers the scheme; matching is by exact string, so
		// insist on the canonical spelling now.
		return errors.New("a redirect URI's scheme must be lower case")
	}
	if u.User != nil {
		return errors.New("a redirect URI must not contain user information")
	}
	switch u.Scheme {
	case "https":
		if u.Host == "" || u.Opaque != "" || u.Hostname() == "" {
			return errors.New("an https redirect URI needs a host")
		}
		if p := u.Port(); p != "" && !validPort(p) {
			return errors.New("a redirect URI has an invalid port")
		}
	case "http":
		if _, _, ok := loopbackParts(raw); !ok {
			return errors.New("an http redirect URI must use a loopback host (127.0.0.1, [::1] or localhost); use https otherwise")
		}
	default:
		if forbiddenSchemes[u.Scheme] {
			return errors.New("the scheme " + u.Scheme + ": cannot be a redirect URI")
		}
	}
	return nil
}

func validPort(p string) bool {
	if p == "" || len(p) > 5 {
		return false
	}
	for i := 0; i < len(p); i++ {
		if p[i] < '0' || p[i] > '9' {
			return false
		}
	}
	n, _ := strconv.Atoi(p)
	return n > 0 && n <= 65535
}

// loopbackParts splits a loopback redirect URI http://HOST[:PORT]REST into
// HOST and REST (path and query), working on the text itself rather than
// on a parsed URL so that no parser leniency can make
// http://127.0.0.1.evil.example or http://evil.example@127.0.0.1 look like
// a loopback address: the authority must be exactly a loopback host,
// optionally followed by a numeric port.
func loopbackParts(s string) (host, rest string, ok bool) {
	after, ok := strings.CutPrefix(s, "http://")
	if !ok {
		return "", "", false
	}
	authority := after
	if i := strings.IndexAny(after, "/?#"); i >= 0 {
		authority, rest = after[:i], after[i:]
	}
	host = authority
	var port string
	var hasPort bool
	if strings.HasPrefix(authority, "[") {
		end := strings.IndexByte(authority, ']')
		if end < 0 {
			return "", "", false
		}
		host = authority[:end+1]
		if tail := authority[end+1:]; tail != "" {
			port, hasPort = strings.CutPrefix(tail, ":")
			if !hasPort {
				return "", "", false
			}
		}
	} else {
		host, port, hasPort = strings.Cut(authority, ":")
	}
	if hasPort && !validPort(port) {
		return "", "", false
	}
	// The host names a plain-http redirect URI may use (RFC 8252 §7.3).
	for _, h := range webaddr.LoopbackHosts() {
		if host == h {
			return host, rest, true
		}
	}
	return "", "", false
}

// matchRedirect reports whether requested may be used as a redirect URI
// for a client that registered registered: an exact string match, or, for
// a loopback redirect, the same scheme, host, path and query on any port
// (RFC 8252 §7.3: native apps listen on an ephemeral port). A fragment
// never matches.
func matchRedirect(registered []string, requested string) bool {
	if requested == "" || strings.Contains(requested, "#") {
		return false
	}
	for _, r := range registered {
		if r == requested {
			return true
		}
	}
	host, rest, ok := loopbackParts(requested)
	if !ok {
		return false
	}
	for _, r := range registered {
		if h, rr, ok := loopbackParts(r); ok && h == host && rr == rest {
			return true
		}
	}
	return false
}

// redirectSource returns what the consent page's Content-Security-Policy
// form-action must allow so that the browser follows our redirect to uri
// after the form is posted (Chrome applies form-action to redirects): the
// origin for http(s), the scheme alone for a private-use scheme. It
// returns "" when uri does not parse into something safe to put in a
// header; the page then falls back to 'self' and a link.
func redirectSource(uri string) string {
	u, err := url.Parse(uri)
	if err != nil || u.Scheme == "" {
		return ""
	}
	safe := func(s string) bool {
		for i := 0; i < len(s); i++ {
			c := s[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-.:[]+", c) >= 0) {
				return false
			}
		}
		return s != ""
	}
	switch u.Scheme {
	case "http", "https":
		if !safe(u.Host) {
			return ""
		}
		return u.Scheme + "://" + u.Host
	default:
		if !safe(u.Scheme) {
			return ""
		}
		return u.Scheme + ":"
	}
}

// redirectHost is how the consent page names where the browser goes next:
// the host of an http(s) URI, or "the app that opens scheme: links".
func redirectHost(uri string) string {
	u, err := url.Parse(uri)
	if err != nil {
		return uri
	}
	if u.Scheme == "http" || u.Scheme == "https" {
		return u.Host
	}
	return u.Scheme + ":"
}
