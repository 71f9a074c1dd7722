package authserver

import (
	"encoding/json"
	"net/http"
)

// OAuth error codes (RFC 6749 §4.1.2.1 and §5.2, RFC 7591 §3.2.2, RFC 8707
// §2, RFC 7009 §2.2.1), the ones this server sends.
const (
	errInvalidRequest          = "invalid_request"
	errInvalidClient           = "invalid_client"
	errInvalidGrant            = "invalid_grant"
	errUnauthorizedClient      = "unauthorized_client"
	errUnsupportedGrantType    = "unsupported_grant_type"
	errUnsupportedResponseType = "unsupported_response_type"
	errInvalidScope            = "invalid_scope"
	errInvalidTarget           = "invalid_target"
	errAccessDenied            = "access_denied"
	errServerError             = "server_error"
	errTemporarilyUnavailable  = "temporarily_unavailable"
	errLoginRequired           = "login_required"
	errConsentRequired         = "consent_required"
	errInvalidRedirectURI      = "invalid_redirect_uri"
	errInvalidClientMetadata   = "invalid_client_metadata"
)

// oauthError is an error answer of a JSON endpoint, or of the
// authorization endpoint as redirect parameters.
type oauthError struct {
	status      int
	code        string
	description string
	// basic asks for WWW-Authenticate: Basic on a 401 (RFC 6749 §5.2:
	// required when the client tried HTTP Basic).
	basic bool
}

func (e *oauthError) Error() string { return e.code + ": " + e.description }

func newError(status int, code, description string) *oauthError {
	return &oauthError{status: status, code: code, description: description}
}

type errorBody struct {
	Error       string `json:"error"`
	Description string `json:"error_description,omitempty"`
}

// writeError answers with e as RFC 6749 §5.2 JSON.
func writeError(w http.ResponseWriter, e *oauthError) {
	if e.basic {
		w.Header().Set("WWW-Authenticate", `Basic realm="mcp-2coffee", charset="UTF-8"`)
	}
	writeJSON(w, e.status, errorBody{Error: e.code, Description: e.description})
}

// writeJSON answers with v. Every JSON answer of this server is about
// credentials or carries them, so none may be cached (RFC 6749 §5.1).
func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	// The values are plain structs of strings and numbers, so encoding
	// cannot fail; a write error means the client has gone.
	_ = json.NewEncoder(w).Encode(v)
}
