package restapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/2coffee/mcp-2coffee/internal/authn"
	"github.com/2coffee/mcp-2coffee/internal/blog"
	"github.com/2coffee/mcp-2coffee/internal/errdefs"
)

// require answers 403 unless the request's principal holds scope. The
// authentication middleware normally refuses such requests first, with a
// proper challenge; this check keeps the API safe if it is ever mounted
// without that middleware, or behind a broken one.
func require(w http.ResponseWriter, r *http.Request, scope string) bool {
	if authn.FromContext(r.Context()).Has(scope) {
		return true
	}
	writeError(w, http.StatusForbidden, "forbidden", "this request needs the "+scope+" scope", "")
	return false
}

// canWrite reports whether the caller may write, which is also what lets
// it see drafts: a draft is unpublished work, visible to its authors only.
func canWrite(r *http.Request) bool {
	return authn.FromContext(r.Context()).Has(authn.ScopeWrite)
}

// params checks the query string: well-formed, only the named
// parameters, each at most once. Rejecting the unknown ones catches typos
// such as ?tags=go, which would otherwise quietly return everything.
func params(w http.ResponseWriter, r *http.Request, allowed ...string) (url.Values, bool) {
	v, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		invalid(w, "", "the query string is malformed: "+err.Error())
		return nil, false
	}
	for k, vs := range v {
		if !slices.Contains(allowed, k) {
			msg := fmt.Sprintf("is not a parameter of %s %s", r.Method, r.URL.Path)
			if len(allowed) > 0 {
				msg += "; known: " + strings.Join(allowed, ", ")
			}
			invalid(w, k, msg)
			return nil, false
		}
		if len(vs) > 1 {
			invalid(w, k, "is given more than once")
			return nil, false
		}
	}
	return v, true
}

// intParam parses a whole-number parameter; absent means 0, which
// blog.Articles reads as "the default".
func intParam(w http.ResponseWriter, v url.Values, name string) (int, bool) {
	s := v.Get(name)
	if s == "" {
		return 0, true
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		invalid(w, name, fmt.Sprintf("%q is not a whole number", s))
		return 0, false
	}
	return n, true
}

// boolParam parses true/false (and the other spellings strconv accepts);
// absent means false.
func boolParam(w http.ResponseWriter, v url.Values, name string) (bool, bool) {
	s := v.Get(name)
	if s == "" {
		return false, true
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		invalid(w, name, fmt.Sprintf("%q is not true or false", s))
		return false, false
	}
	return b, true
}

// contentType answers 415 unless the request body is declared as one of
// the given media types (in UTF-8, the only charset JSON has).
func contentType(w http.ResponseWriter, r *http.Request, types ...string) bool {
	mt, ps, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err == nil && slices.Contains(types, mt) {
		if cs, ok := ps["charset"]; !ok || strings.EqualFold(cs, "utf-8") {
			return true
		}
	}
	writeError(w, http.StatusUnsupportedMediaType, "unsupported_media_type",
		"send the body as "+strings.Join(types, " or ")+" (UTF-8)", "")
	return false
}

// readBody reads the whole request body, at most h.maxBody bytes; past
// that it answers 413.
func (h *handler) readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.maxBody))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		writeError(w, http.StatusRequestEntityTooLarge, "too_large",
			fmt.Sprintf("the request body is larger than %d bytes", tooLarge.Limit), "")
		return nil, false
	case err != nil:
		// The client stopped sending half-way; it will not read this.
		writeError(w, http.StatusBadRequest, "invalid_argument", "the request body could not be read", "")
		return nil, false
	}
	return b, true
}

// decodeStrict decodes exactly one JSON value from b into v, refusing
// fields v does not have and anything after the value. A silently
// ignored misspelt field ("titel") would look like success to the caller.
func decodeStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonProblem(err)
	}
	if err := dec.Decode(&struct{}{}); !errors.Is(err, io.EOF) {
		return &errdefs.ValidationError{Message: "the request body holds more than one JSON value"}
	}
	return nil
}

// jsonProblem turns a decoding error into a message for the caller that
// names the JSON field, not the Go type behind it.
func jsonProblem(err error) error {
	var (
		syntax *json.SyntaxError
		typ    *json.UnmarshalTypeError
		tm     *time.ParseError
	)
	switch {
	case errors.Is(err, io.EOF):
		return &errdefs.ValidationError{Message: "the request body is empty; send a JSON object"}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &errdefs.ValidationError{Message: "the request body is not valid JSON: it ends too early"}
	case errors.As(err, &syntax):
		return &errdefs.ValidationError{Message: fmt.Sprintf("the request body is not valid JSON: %v (at byte %d)", syntax, syntax.Offset)}
	case errors.As(err, &typ):
		if typ.Field == "" {
			return &errdefs.ValidationError{Message: "the request body must be a JSON object, not " + typ.Value}
		}
		return &errdefs.ValidationError{Field: typ.Field, Message: fmt.Sprintf("must be %s, not %s", jsonKind(typ.Type), typ.Value)}
	case errors.As(err, &tm):
		return &errdefs.ValidationError{Message: fmt.Sprintf("a time is not in RFC 3339 form (like 2026-01-02T15:04:05Z): %q", tm.Value)}
	}
	return &errdefs.ValidationError{Message: "the request body is not acceptable: " + strings.TrimPrefix(err.Error(), "json: ")}
}

// jsonKind names the JSON kind that decodes into t.
func jsonKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == reflect.TypeFor[time.Time]():
		return "an RFC 3339 time string"
	case t.Kind() == reflect.String:
		return "a string"
	case t.Kind() == reflect.Bool:
		return "true or false"
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Float64:
		return "a number"
	case t.Kind() == reflect.Slice || t.Kind() == reflect.Array:
		return "an array"
	}
	return "an object"
}

// decodePatch decodes a JSON merge patch (RFC 7396) into a blog.Patch. In a
// merge patch, null removes a member: fields that may be empty (summary,
// author, tags, translation_key) are emptied; the others cannot be removed, and saying so
// beats silently keeping them.
func decodePatch(b []byte) (blog.Patch, error) {
	var p blog.Patch
	if err := decodeStrict(b, &p); err != nil {
		return blog.Patch{}, err
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(b, &members); err != nil {
		return blog.Patch{}, jsonProblem(err) // unreachable after decodeStrict
	}
	empty := ""
	for k, raw := range members {
		if string(bytes.TrimSpace(raw)) != "null" {
			continue
		}
		// encoding/json matches names case-insensitively; so must we.
		switch strings.ToLower(k) {
		case "summary":
			p.Summary = &empty
		case "author":
			p.Author = &empty
		case "tags":
			p.Tags = &[]string{}
		case "translation_key":
			p.TranslationKey = &empty
		default:
			return blog.Patch{}, &errdefs.ValidationError{Field: k, Message: "cannot be null: it cannot be removed, only changed"}
		}
	}
	return p, nil
}
