package restapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/2coffee/mcp-2coffee/internal/authn"
	"github.com/2coffee/mcp-2coffee/internal/errdefs"
)

// errorBody is the one error shape of the whole server:
// {"error":"not_found","error_description":"…"}, the OAuth error response
// (RFC 6749 §5.2) that internal/authn answers with before a request gets
// here. Embedding authn.ErrorBody keeps the member names the same by
// construction. Field is this API's one addition: set on invalid_argument
// errors that name the input field at fault, so a client can rebuild a
// errdefs.ValidationError without parsing the description.
//
// authn.WriteError is not used because it cannot carry Field, and because
// every answer of this API is labelled application/json; charset=utf-8.
type errorBody struct {
	authn.ErrorBody
	Field string `json:"field,omitempty"`
}

// writeJSON encodes v before writing anything, so an encoding failure can
// still become a proper 500 rather than a truncated 200.
func (h *handler) writeJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	b, err := encode(v)
	if err != nil {
		h.log.ErrorContext(r.Context(), "restapi: encoding response", "method", r.Method, "path", r.URL.Path, "err", err)
		writeError(w, http.StatusInternalServerError, "internal", "the server failed to encode its answer", "")
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func encode(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	// Article bodies are Markdown full of < > &; escaping them as \u003c
	// would only make responses bigger. The Content-Type and nosniff keep
	// browsers from reading the JSON as HTML.
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func writeError(w http.ResponseWriter, status int, code, description, field string) {
	b, err := encode(errorBody{ErrorBody: authn.ErrorBody{Error: code, Description: description}, Field: field})
	if err != nil {
		// Cannot happen: the shape holds only strings.
		b = []byte(`{"error":"internal","error_description":"internal error"}` + "\n")
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// messages words the answers whose wording depends on the request: what
// was not found, what conflicted. Errors from a store may carry details
// (SQL, file names) that are not the caller's business, so only
// validation errors, which are written for the caller, pass through.
type messages struct {
	notFound string
	conflict string
}

// fail translates an error from blog.Articles into the API's status table.
// It is the one place where that translation happens.
func (h *handler) fail(w http.ResponseWriter, r *http.Request, err error, m messages) {
	var ve *errdefs.ValidationError
	switch {
	case errors.As(err, &ve):
		writeError(w, http.StatusBadRequest, "invalid_argument", ve.Error(), ve.Field)
	case errors.Is(err, errdefs.ErrInvalid):
		writeError(w, http.StatusBadRequest, "invalid_argument", err.Error(), "")
	case errors.Is(err, errdefs.ErrNotFound):
		writeError(w, http.StatusNotFound, "not_found", orDefault(m.notFound, "not found"), "")
	case errors.Is(err, errdefs.ErrConflict):
		writeError(w, http.StatusConflict, "conflict", orDefault(m.conflict, "the change conflicts with existing data"), "")
	case errors.Is(err, errdefs.ErrForbidden):
		writeError(w, http.StatusForbidden, "forbidden", "the credential does not allow this", "")
	case errors.Is(err, errdefs.ErrUnavailable):
		h.log.WarnContext(r.Context(), "restapi: blog unavailable", "method", r.Method, "path", r.URL.Path, "err", err)
		writeError(w, http.StatusServiceUnavailable, "unavailable", "the blog is unavailable right now; try again later", "")
	case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
		// The client went away; nobody will read the answer, and it
		// is not a server fault worth an error log.
		h.log.DebugContext(r.Context(), "restapi: request cancelled", "method", r.Method, "path", r.URL.Path)
		writeError(w, http.StatusServiceUnavailable, "unavailable", "the request was cancelled", "")
	default:
		h.log.ErrorContext(r.Context(), "restapi: internal error", "method", r.Method, "path", r.URL.Path, "err", err)
		writeError(w, http.StatusInternalServerError, "internal", "internal server error", "")
	}
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// invalid answers 400 for a problem found before blog.Articles was asked.
func invalid(w http.ResponseWriter, field, message string) {
	e := &errdefs.ValidationError{Field: field, Message: message}
	writeError(w, http.StatusBadRequest, "invalid_argument", e.Error(), field)
}
