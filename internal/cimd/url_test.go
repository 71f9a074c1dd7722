package cimd

import (
	"errors"
	"net/url"
	"strings"
	"testing"
)

func TestValidateClientIDAccepts(t *testing.T) {
	for _, s := range []string{
		"https://client.example.test/oauth/metadata.json",
		"https://example.com/client.json",
		"https://example.com/c",
		"https://example.com/dir/", // a path other than the root
		"https://example.com:8443/client.json",
		"https://example.com/client.json?version=2", // SHOULD NOT, not MUST NOT
		"https://Example.COM/client.json",           // host case is the client's business
		"https://xn--bcher-kva.example/client.json",
		"https://a-b.example.com/%7Euser/client.json",
		"https://example.com/users/@me/client.json",
		"https://example.com/a.b/..c/c..json", // dots inside a segment are fine
		"https://93.184.215.14/client.json",   // a literal; the Fetcher's Allow decides
		"https://[2606:4700::1111]/client.json",
		"https://example.com/" + strings.Repeat("a", MaxURLLength-len("https://example.com/")),
	} {
		u, err := ValidateClientID(s)
		if err != nil {
			t.Errorf("ValidateClientID(%q) = %v, want nil", s, err)
			continue
		}
		if u.String() != s {
			t.Errorf("ValidateClientID(%q) parsed to %q", s, u)
		}
	}
}

func TestValidateClientIDRefuses(t *testing.T) {
	tests := []struct {
		url, msg string
	}{
		{"", "is empty"},
		{"https://example.com/" + strings.Repeat("a", MaxURLLength-len("https://example.com/")+1), "is longer than 2048 bytes"},
		{"http://example.com/client.json", "must start with https://"},
		{"HTTPS://example.com/client.json", "must start with https://"},
		{"example.com/client.json", "must start with https://"},
		{"client-1234", "must start with https://"},
		{"https:example.com/client.json", "must start with https://"},
		{"https://example.com/client.json#frag", "must not have a fragment"},
		{"https://example.com/client.json#", "must not have a fragment"},
		{"https://example.com/client json", "has a character that is not allowed in a URL at byte 26"},
		{"https://example.com/client.json\n", "has a character that is not allowed in a URL at byte 31"},
		{"https://example.com/clïent.json", "has a character that is not allowed in a URL at byte 22"},
		{`https://example.com\@evil.test/client.json`, "has a character that is not allowed in a URL at byte 19"},
		{"https://example.com/%zz.json", "has a character that is not allowed in a URL at byte 20"},
		{"https://example.com/client.json%2", "has a character that is not allowed in a URL at byte 31"},
		{"https://user@example.com/client.json", "must not contain a user name or password"},
		{"https://user:pass@example.com/client.json", "must not contain a user name or password"},
		{"https://example.com@evil.test/client.json", "must not contain a user name or password"},
		{"https://ex%41mple.com/client.json", "cannot be parsed"},
		{"https://ex%C3%A4mple.com/client.json", "has an invalid host name"},
		{"https://example.com", "must have a path, such as https://example.com/client.json"},
		{"https://example.com/", "must have a path, such as https://example.com/client.json"},
		{"https://example.com?x=1", "must have a path, such as https://example.com/client.json"},
		{"https://example.com/./client.json", `must not have "." or ".." path segments`},
		{"https://example.com/a/../client.json", `must not have "." or ".." path segments`},
		{"https://example.com/a/..", `must not have "." or ".." path segments`},
		{"https://example.com/a/%2e%2E/client.json", `must not have "." or ".." path segments`},
		{"https://example.com/%2E/client.json", `must not have "." or ".." path segments`},
		{"https:///client.json", "has no host"},
		{"https://:443/client.json", "has no host"},
		{"https://example.com:/client.json", "has an empty port"},
		{"https://example.com:0/client.json", "has an invalid port"},
		{"https://example.com:65536/client.json", "has an invalid port"},
		{"https://example.com:https/client.json", "cannot be parsed"},
		{"https://[fe80::1%25eth0]/client.json", "has an invalid IPv6 address"},
		{"https://[::ffff:1.2.3.4/client.json", "cannot be parsed"},
		{"https://intranet/client.json", "must have a fully qualified host name"},
		{"https://example.com./client.json", "has an invalid host name"},
		{"https://-example.com/client.json", "has an invalid host name"},
		{"https://exa_mple.com/client.json", "has an invalid host name"},
		{"https://" + strings.Repeat("a", 64) + ".com/client.json", "has an invalid host name"},
		{"https://" + strings.Repeat("a.", 127) + "com/client.json", "has a host name longer than 253 bytes"},
		{"https://127.1/client.json", "has a host name that looks like a numeric address"},
		{"https://10.0.1/client.json", "has a host name that looks like a numeric address"},
		{"https://0x7f.0x1/client.json", "has a host name that looks like a numeric address"},
		{"https://localhost.localhost/client.json", "has a host name reserved for local use"},
		{"https://app.localhost/client.json", "has a host name reserved for local use"},
		{"https://printer.local/client.json", "has a host name reserved for local use"},
		{"https://metadata.google.internal/computeMetadata/v1/", "has a host name reserved for local use"},
		{"https://router.home.arpa/client.json", "has a host name reserved for local use"},
		{"https://example.onion/client.json", "has a host name reserved for local use"},
		{"https://APP.LOCALHOST/client.json", "has a host name reserved for local use"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			u, err := ValidateClientID(tt.url)
			if u != nil {
				t.Errorf("returned URL %v along with an error", u)
			}
			wantRefusal(t, err, ErrInvalidURL, "the client_id URL "+tt.msg)
		})
	}
}

func TestIsURL(t *testing.T) {
	for s, want := range map[string]bool{
		"https://client.example.test/c.json": true,
		"http://client.example.test/c.json":  false,
		"c_8f2e91":                           false,
		"":                                   false,
	} {
		if got := IsURL(s); got != want {
			t.Errorf("IsURL(%q) = %v, want %v", s, got, want)
		}
	}
}

// FuzzValidateClientID checks the promises ValidateClientID makes about
// every URL it accepts, and that it never panics.
func FuzzValidateClientID(f *testing.F) {
	for _, s := range []string{
		"https://client.example.test/oauth/metadata.json",
		"https://example.com:8443/a/b.json?x=1",
		"https://[2606:4700::1111]/c.json",
		"https://93.184.215.14/c.json",
		"https://example.com/%2e%2e/c.json",
		"https://user@example.com/c.json",
		"https://example.com/c.json#f",
		"https://example.com:/c.json",
		"https://127.1/c.json",
		"https://a.localhost/c.json",
		"https://example.com/a%2Fb/c.json",
		"http://example.com/c.json",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := ValidateClientID(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidURL) {
				t.Fatalf("error %v is not ErrInvalidURL", err)
			}
			return
		}
		if len(s) > MaxURLLength {
			t.Fatalf("accepted %d bytes", len(s))
		}
		if u.String() != s {
			t.Fatalf("accepted %q, which parses to %q", s, u)
		}
		if u.Scheme != "https" || u.User != nil || u.Fragment != "" || strings.Contains(s, "#") || u.Opaque != "" {
			t.Fatalf("accepted %q: scheme %q, user %v, fragment %q, opaque %q", s, u.Scheme, u.User, u.Fragment, u.Opaque)
		}
		if u.Hostname() == "" {
			t.Fatalf("accepted %q without a host", s)
		}
		p := u.EscapedPath()
		if p == "" || p == "/" {
			t.Fatalf("accepted %q without a path", s)
		}
		// No dot segments, in any spelling (RFC 3986 §6.2.2.2 makes %2E a
		// dot; %2F is not a delimiter, so segments split on "/" only).
		for seg := range strings.SplitSeq(p, "/") {
			dec, err := url.PathUnescape(seg)
			if err != nil {
				t.Fatalf("accepted %q with a segment that does not unescape: %v", s, err)
			}
			if dec == "." || dec == ".." {
				t.Fatalf("accepted %q with a dot segment", s)
			}
		}
		// Go writes the request target from the parsed URL; it must be the
		// client's bytes.
		if want := s[strings.Index(s[len("https://"):], "/")+len("https://"):]; u.RequestURI() != want {
			t.Fatalf("accepted %q, but the request target would be %q, want %q", s, u.RequestURI(), want)
		}
	})
}
