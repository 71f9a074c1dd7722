package authn_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// parseChallenge parses one challenge of a WWW-Authenticate header (RFC
// 7235 §2.1: auth-scheme, then auth-params whose values are tokens or
// quoted-strings with backslash escapes). It is strict, so a test fails
// on a header a careful client would reject.
func parseChallenge(h string) (scheme string, params map[string]string, err error) {
	scheme, rest, _ := strings.Cut(h, " ")
	if scheme == "" || strings.ContainsAny(scheme, ",=\"") {
		return "", nil, fmt.Errorf("bad scheme in %q", h)
	}
	params = map[string]string{}
	i := 0
	for {
		for i < len(rest) && rest[i] == ' ' {
			i++
		}
		if i == len(rest) {
			return scheme, params, nil
		}
		j := strings.IndexByte(rest[i:], '=')
		if j <= 0 {
			return "", nil, fmt.Errorf("parameter without '=' at %d in %q", i, rest)
		}
		name := strings.ToLower(rest[i : i+j])
		if strings.ContainsAny(name, " ,\"") {
			return "", nil, fmt.Errorf("bad parameter name %q in %q", name, rest)
		}
		i += j + 1
		var value strings.Builder
		if i < len(rest) && rest[i] == '"' {
			i++
			closed := false
			for i < len(rest) {
				c := rest[i]
				i++
				if c == '\\' {
					if i == len(rest) {
						return "", nil, fmt.Errorf("dangling backslash in %q", rest)
					}
					value.WriteByte(rest[i])
					i++
					continue
				}
				if c == '"' {
					closed = true
					break
				}
				if c < 0x20 && c != '\t' || c == 0x7f {
					return "", nil, fmt.Errorf("control character %q in quoted-string of %q", c, rest)
				}
				value.WriteByte(c)
			}
			if !closed {
				return "", nil, fmt.Errorf("unterminated quoted-string in %q", rest)
			}
		} else {
			for i < len(rest) && rest[i] != ',' && rest[i] != ' ' {
				value.WriteByte(rest[i])
				i++
			}
		}
		if _, dup := params[name]; dup {
			return "", nil, fmt.Errorf("parameter %q twice in %q", name, rest)
		}
		params[name] = value.String()
		for i < len(rest) && rest[i] == ' ' {
			i++
		}
		if i < len(rest) {
			if rest[i] != ',' {
				return "", nil, fmt.Errorf("expected ',' at %d in %q", i, rest)
			}
			i++
		}
	}
}

// response is what a test needs of an HTTP answer.
type response struct {
	status int
	header http.Header
	body   []byte
}

func do(t *testing.T, req *http.Request) response {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading body: %v", err)
	}
	return response{resp.StatusCode, resp.Header, body}
}

// checkChallenge asserts the status, the parsed WWW-Authenticate
// parameters (all of them, exactly) and the JSON body (all fields).
// A nil wantParams means no WWW-Authenticate header at all.
func checkChallenge(t *testing.T, got response, wantStatus int, wantParams map[string]string, wantBody map[string]string) {
	t.Helper()
	if got.status != wantStatus {
		t.Errorf("status = %d, want %d (body %s)", got.status, wantStatus, got.body)
	}
	hs := got.header.Values("WWW-Authenticate")
	switch {
	case wantParams == nil && len(hs) != 0:
		t.Errorf("WWW-Authenticate = %q, want none", hs)
	case wantParams != nil && len(hs) != 1:
		t.Errorf("WWW-Authenticate = %q, want exactly one", hs)
	case wantParams != nil:
		scheme, params, err := parseChallenge(hs[0])
		if err != nil {
			t.Errorf("parsing WWW-Authenticate: %v", err)
		} else {
			if scheme != "Bearer" {
				t.Errorf("challenge scheme = %q, want Bearer", scheme)
			}
			if diff := cmp.Diff(wantParams, params); diff != "" {
				t.Errorf("challenge parameters mismatch (-want +got):\n%s\nheader: %s", diff, hs[0])
			}
		}
	}
	if ct := got.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	if cc := got.header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", cc)
	}
	var body map[string]string
	dec := json.NewDecoder(bytes.NewReader(got.body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		t.Errorf("body %q is not a JSON object of strings: %v", got.body, err)
		return
	}
	if diff := cmp.Diff(wantBody, body); diff != "" {
		t.Errorf("JSON body mismatch (-want +got):\n%s", diff)
	}
}

// failures records the reasons passed to Options.OnFailure.
type failures struct {
	mu      sync.Mutex
	reasons []string
}

func (f *failures) add(reason string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reasons = append(f.reasons, reason)
}

func (f *failures) get() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.reasons...)
}
