package authn_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/2coffee/mcp-2coffee/internal/authn"
)

func TestChallengeString(t *testing.T) {
	tests := []struct {
		name string
		c    authn.Challenge
		want string
	}{
		{"bare", authn.Challenge{}, `Bearer`},
		{"realm", authn.Challenge{Realm: "mcp-2coffee", Scope: "articles:read"},
			`Bearer realm="mcp-2coffee", scope="articles:read"`},
		{"every field", authn.Challenge{
			Realm: "r", Error: "insufficient_scope", Description: "needs write",
			Scope: "articles:read articles:write", ResourceMetadata: "https://blog.example.com/.well-known/oauth-protected-resource/mcp",
		}, `Bearer realm="r", error="insufficient_scope", error_description="needs write", scope="articles:read articles:write", resource_metadata="https://blog.example.com/.well-known/oauth-protected-resource/mcp"`},
		{"no description without an error code", authn.Challenge{Realm: "r", Description: "send a key", Scope: "articles:read"},
			`Bearer realm="r", scope="articles:read"`},
		{"quote and backslash escaped", authn.Challenge{Error: "invalid_token", Description: `say "hi" \ bye`},
			`Bearer error="invalid_token", error_description="say \"hi\" \\ bye"`},
		{"control characters and non-ASCII replaced", authn.Challenge{Error: "invalid_token", Description: "a\r\nb\x00c\x7fdé\tf"},
			"Bearer error=\"invalid_token\", error_description=\"a??b?c?d??\tf\""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.c.String(); got != tt.want {
				t.Errorf("String() =\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

// sanitized is what a quoted value becomes: printable ASCII and tab stay,
// every other byte turns into '?'.
func sanitized(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c != '\t' && (c < 0x20 || c >= 0x7f) {
			b[i] = '?'
		}
	}
	return string(b)
}

func FuzzChallengeRoundTrip(f *testing.F) {
	f.Add("mcp-2coffee", "invalid_token", `the key "x" is \ bad`, "articles:read", "https://h/x")
	f.Add("", "", "\r\n\"", "", "")
	f.Fuzz(func(t *testing.T, realm, code, desc, scope, rm string) {
		c := authn.Challenge{Realm: realm, Error: code, Description: desc, Scope: scope, ResourceMetadata: rm}
		h := c.String()
		scheme, params, err := parseChallenge(h)
		if err != nil {
			t.Fatalf("parseChallenge(%q): %v", h, err)
		}
		if scheme != "Bearer" {
			t.Errorf("scheme = %q, want Bearer", scheme)
		}
		want := map[string]string{}
		for k, v := range map[string]string{"realm": realm, "error": code, "error_description": desc, "scope": scope, "resource_metadata": rm} {
			if v != "" && (k != "error_description" || code != "") {
				want[k] = sanitized(v)
			}
		}
		if diff := cmp.Diff(want, params); diff != "" {
			t.Errorf("round trip of %q mismatch (-want +got):\n%s", h, diff)
		}
	})
}

func TestWriteChallengeBody(t *testing.T) {
	tests := []struct {
		name   string
		status int
		c      authn.Challenge
		body   map[string]string
	}{
		{"missing credential", http.StatusUnauthorized,
			authn.Challenge{Realm: "r", Description: "send a key", Scope: "articles:read"},
			map[string]string{"error": "unauthorized", "error_description": "send a key"}},
		{"invalid token", http.StatusUnauthorized,
			authn.Challenge{Realm: "r", Error: authn.CodeInvalidToken, Description: "expired", Scope: "articles:read"},
			map[string]string{"error": "invalid_token", "error_description": "expired"}},
		{"insufficient scope carries the scope", http.StatusForbidden,
			authn.Challenge{Realm: "r", Error: authn.CodeInsufficientScope, Description: "needs write", Scope: "articles:write"},
			map[string]string{"error": "insufficient_scope", "error_description": "needs write", "scope": "articles:write"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			authn.WriteChallenge(rec, tt.status, tt.c)
			_, params, err := parseChallenge(tt.c.String())
			if err != nil {
				t.Fatal(err)
			}
			checkChallenge(t, response{rec.Code, rec.Header(), rec.Body.Bytes()}, tt.status, params, tt.body)
		})
	}
}

func TestWriteError(t *testing.T) {
	rec := httptest.NewRecorder()
	authn.WriteError(rec, http.StatusServiceUnavailable, authn.CodeUnavailable, "try later")
	checkChallenge(t, response{rec.Code, rec.Header(), rec.Body.Bytes()}, http.StatusServiceUnavailable, nil,
		map[string]string{"error": "temporarily_unavailable", "error_description": "try later"})
}
