package remote

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"github.com/2coffee/mcp-2coffee/internal/errdefs"
	"github.com/2coffee/mcp-2coffee/internal/webaddr"
)

// callError is a failed call: a message for the person reading it, and
// the errors it matches under errors.Is (a blog sentinel, ErrUnauthorized,
// the transport's own error).
type callError struct {
	msg     string
	matches []error
}

func (e *callError) Error() string   { return e.msg }
func (e *callError) Unwrap() []error { return e.matches }

// request is one call to the API.
type request struct {
	method      string
	path        string     // after apiPrefix, already escaped
	query       url.Values // may be nil
	body        any        // JSON-encoded when non-nil
	contentType string     // of body
	want        int        // the success status
	out         any        // decoded from a success body when non-nil
}

// do sends rq and decodes the answer. Every way a call can fail ends up
// as an error that matches the right sentinel and names the blog's
// address, and none of them contains the key: it travels only in a
// header.
func (c *Client) do(ctx context.Context, rq request) error {
	u := c.base + apiPrefix + rq.path
	if len(rq.query) > 0 {
		u += "?" + rq.query.Encode()
	}
	var body io.Reader
	if rq.body != nil {
		b, err := json.Marshal(rq.body)
		if err != nil {
			return fmt.Errorf("remote: encoding the request: %w", err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, rq.method, u, body)
	if err != nil {
		return fmt.Errorf("remote: building the request: %w", err)
	}
	req.Header.Set("X-API-KEY", c.key)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.ua)
	if rq.body != nil {
		req.Header.Set("Content-Type", rq.contentType)
	}

	resp, err := c.hc.Do(req)
	if err != nil {
		return c.transportError(ctx, err)
	}
	defer resp.Body.Close()
	// One byte more than allowed tells a body at the limit from one past it.
	data, err := io.ReadAll(io.LimitReader(resp.Body, c.maxResp+1))
	if err != nil {
		return c.transportError(ctx, err)
	}
	if int64(len(data)) > c.maxResp {
		return &callError{
			msg: fmt.Sprintf("the blog API at %s answered %s %s with more than %d bytes; refusing it",
				c.base, rq.method, req.URL.Path, c.maxResp),
			matches: []error{errdefs.ErrUnavailable},
		}
	}
	if resp.StatusCode != rq.want {
		return c.statusError(resp, data)
	}
	if rq.out == nil {
		return nil
	}
	if err := decodeAnswer(resp.Header.Get("Content-Type"), data, rq.out); err != nil {
		return &callError{
			msg:     fmt.Sprintf("the blog API at %s gave an answer this client cannot read (%v); is it an mcp-2coffee blog of a matching version?", c.base, err),
			matches: []error{errdefs.ErrUnavailable, err},
		}
	}
	return nil
}

// transportError explains a request that got no usable answer.
func (c *Client) transportError(ctx context.Context, err error) error {
	format := "the blog API at %s cannot be reached: %v"
	var (
		ne  interface{ Timeout() bool }
		red *webaddr.RedirectError
	)
	switch {
	case errors.As(err, &red):
		// Said plainly, so that it does not read like a network failure.
		msg := fmt.Sprintf("the blog API at %s redirected to %s, another origin; not following it with the API key (if that address is right, use it as the API URL)", c.base, red.To.Redacted())
		return &callError{msg: msg, matches: []error{errdefs.ErrUnavailable, err}}
	case ctx.Err() != nil:
		// The caller gave up, not the server; err matches ctx.Err().
		format = "the call to the blog API at %s was abandoned: %v"
	case errors.As(err, &ne) && ne.Timeout():
		format = "the blog API at %s did not answer in time: %v"
	}
	return &callError{msg: fmt.Sprintf(format, c.base, err), matches: []error{errdefs.ErrUnavailable, err}}
}

// apiError is the one error shape of a blog, the OAuth error response
// (RFC 6749 §5.2): {"error":"not_found","error_description":"…"}. The REST
// API and the authentication layer in front of it (internal/authn) both
// answer with it. Field is set on some invalid_argument answers, Scope on
// insufficient_scope ones.
type apiError struct {
	Code    string `json:"error"`
	Message string `json:"error_description"`
	Field   string `json:"field"`
	Scope   string `json:"scope"`
}

// parseError reads an error answer. It reports false for anything not in
// that shape (no string "error"), such as a proxy's HTML error page,
// another server's {"message":"…"}, or the nested {"error":{"code":…}}
// of development builds before the shapes were unified.
func parseError(contentType string, data []byte) (apiError, bool) {
	var e apiError
	if decodeAnswer(contentType, data, &e) != nil || e.Code == "" {
		return apiError{}, false
	}
	return e, true
}

// scopeParam finds the scope an RFC 6750 challenge asks for.
var scopeParam = regexp.MustCompile(`scope="([^"]*)"`)

// statusError maps an answer other than the expected one to the error
// blog.Service would have returned for the same cause.
func (c *Client) statusError(resp *http.Response, data []byte) error {
	status := resp.StatusCode
	// Only an answer in the blog's own shape speaks for the blog. A 404
	// page from a proxy, or from a server that is not mcp-2coffee, must
	// not read as "no such article".
	e, ours := parseError(resp.Header.Get("Content-Type"), data)
	msg := e.Message
	if msg == "" {
		msg = e.Code
	}
	foreign := func() error {
		return &callError{
			msg: fmt.Sprintf("the blog API at %s answered %s to %s %s without an API error body; is %s the address of an mcp-2coffee blog?",
				c.base, resp.Status, resp.Request.Method, resp.Request.URL.Path, c.base),
			matches: []error{errdefs.ErrUnavailable},
		}
	}
	switch {
	case status == http.StatusUnauthorized:
		// Whatever the body says, the answer is about the key.
		return &callError{msg: fmt.Sprintf("%v (at %s)", ErrUnauthorized, c.base), matches: []error{ErrUnauthorized}}
	case status == http.StatusForbidden:
		if !ours || e.Message == "" {
			// A bare challenge still names the scope it wants in
			// WWW-Authenticate (RFC 6750 §3).
			msg = "the API key does not allow this"
			scope := e.Scope
			if m := scopeParam.FindStringSubmatch(resp.Header.Get("WWW-Authenticate")); m != nil {
				scope = m[1]
			}
			if scope != "" {
				msg += "; it needs the scope " + scope
			}
		}
		return &callError{msg: msg, matches: []error{errdefs.ErrForbidden}}
	case status == http.StatusBadRequest || status == http.StatusRequestEntityTooLarge:
		if !ours {
			return foreign()
		}
		// Rebuild the server's ValidationError, so the caller gets the
		// same error value a local blog.Service would give.
		ve := &errdefs.ValidationError{Field: e.Field, Message: msg}
		if ve.Field != "" {
			ve.Message = strings.TrimPrefix(msg, ve.Field+": ")
		}
		return ve
	case status == http.StatusNotFound:
		if !ours {
			return foreign()
		}
		return &callError{msg: msg, matches: []error{errdefs.ErrNotFound}}
	case status == http.StatusConflict:
		if !ours {
			return foreign()
		}
		return &callError{msg: msg, matches: []error{errdefs.ErrConflict}}
	case status >= 500 || status == http.StatusTooManyRequests || status == http.StatusRequestTimeout:
		detail := ""
		if ours {
			detail = ": " + msg
		}
		return &callError{
			msg:     fmt.Sprintf("the blog API at %s is unavailable (%s)%s", c.base, resp.Status, detail),
			matches: []error{errdefs.ErrUnavailable},
		}
	}
	// 405, 415 and their kind mean this client and the server disagree
	// about the API: a bug or a version mismatch, not the caller's fault.
	if !ours {
		return foreign()
	}
	return &callError{msg: fmt.Sprintf("the blog API at %s answered %s (%s): %s", c.base, resp.Status, e.Code, msg)}
}

// decodeAnswer decodes a JSON body: declared as JSON, exactly one value.
// Unknown fields are allowed, so a newer server can add some without
// breaking older clients.
func decodeAnswer(contentType string, data []byte, v any) error {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil || mt != "application/json" {
		return fmt.Errorf("the answer is %q, not application/json", contentType)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("decoding the answer: %w", err)
	}
	if err := dec.Decode(&struct{}{}); !errors.Is(err, io.EOF) {
		return errors.New("the answer holds more than one JSON value")
	}
	return nil
}
