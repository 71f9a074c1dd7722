package authn

import (
	"encoding/json"
	"net/http"
	"strings"
)

// Realm names the protection space in every challenge.
const Realm = "mcp-2coffee"

// Error codes of RFC 6750 §3.1, used in challenges and JSON bodies, plus
// the two this server adds for JSON bodies only.
const (
	CodeInvalidRequest    = "invalid_request"    // 400: the request is malformed
	CodeInvalidToken      = "invalid_token"      // 401: bad, expired or revoked credential
	CodeInsufficientScope = "insufficient_scope" // 403: the credential lacks a scope
	// CodeUnauthorized is the JSON error of a 401 without a credential;
	// RFC 6750 §3.1 says such a challenge carries no error code, but
	// clients parsing the body want one.
	CodeUnauthorized = "unauthorized"
	// CodeUnavailable is the JSON error when a credential could not be
	// checked (the key store is down).
	CodeUnavailable = "temporarily_unavailable"
)

// Challenge is the content of a WWW-Authenticate: Bearer header (RFC 6750
// §3, RFC 9728 §5.1). Empty fields are left out.
type Challenge struct {
	Realm string
	Error string // one of the Code* constants, or "" for a missing credential
	// Description is for developers and never holds a secret. It goes
	// into error_description only alongside an error code, and always
	// into the JSON body.
	Description string
	// Scope is space-separated: the scopes the request needs.
	Scope string
	// ResourceMetadata is the URL of the protected resource metadata
	// (RFC 9728), from which clients discover the authorization server.
	ResourceMetadata string
}

// String renders the header value, e.g.
// `Bearer realm="mcp-2coffee", error="invalid_token", error_description="…"`.
func (c Challenge) String() string {
	var b strings.Builder
	b.WriteString("Bearer")
	sep := " "
	param := func(name, value string) {
		if value == "" {
			return
		}
		b.WriteString(sep)
		b.WriteString(name)
		b.WriteByte('=')
		writeQuoted(&b, value)
		sep = ", "
	}
	param("realm", c.Realm)
	param("error", c.Error)
	// RFC 6750 §3.1: a request without a credential gets no error
	// information in the challenge; the JSON body still explains.
	if c.Error != "" {
		param("error_description", c.Description)
	}
	param("scope", c.Scope)
	param("resource_metadata", c.ResourceMetadata)
	return b.String()
}

// writeQuoted writes s as an RFC 7235 quoted-string: '"' and '\' are
// backslash-escaped. Control characters cannot appear in a header at all
// and non-ASCII bytes (obs-text) are mangled by many clients, so both
// become '?'; the values we send are ASCII anyway, this only keeps a
// surprising description from corrupting the header.
func writeQuoted(b *strings.Builder, s string) {
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c == '\t' || (c >= 0x20 && c < 0x7f):
			b.WriteByte(c)
		default:
			b.WriteByte('?')
		}
	}
	b.WriteByte('"')
}

// ErrorBody is the JSON body of every authentication or authorization
// failure, shaped like an OAuth error response (RFC 6749 §5.2) so one
// client-side parser handles this server, its REST API and its
// authorization server.
type ErrorBody struct {
	Error       string `json:"error"`
	Description string `json:"error_description,omitempty"`
	// Scope is set on insufficient_scope: what the request needs.
	Scope string `json:"scope,omitempty"`
}

// WriteChallenge answers with status (401, 403 or 400), the challenge in
// WWW-Authenticate and the matching JSON body. The REST API and the OAuth
// code use it too, so every challenge is written by one implementation.
func WriteChallenge(w http.ResponseWriter, status int, c Challenge) {
	w.Header().Set("WWW-Authenticate", c.String())
	body := ErrorBody{Error: c.Error, Description: c.Description}
	if body.Error == "" {
		body.Error = CodeUnauthorized
	}
	if c.Error == CodeInsufficientScope {
		body.Scope = c.Scope
	}
	writeJSON(w, status, body)
}

// WriteError answers with status and a JSON error body, without a
// challenge: for failures that are not about the credential (503 when it
// could not be checked, 413 for an oversized body).
func WriteError(w http.ResponseWriter, status int, code, description string) {
	writeJSON(w, status, ErrorBody{Error: code, Description: description})
}

func writeJSON(w http.ResponseWriter, status int, body ErrorBody) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	// Answers about credentials are specific to the request's
	// credential; no cache may keep or replay them.
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	// ErrorBody holds only strings, so encoding cannot fail; a write
	// error means the client has gone and there is no one to tell.
	_ = json.NewEncoder(w).Encode(body)
}
