package authn

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
)

// ScopeFunc says which scope an MCP request needs: method is the
// JSON-RPC method and toolName the params.name of a tools/call. toolName
// is empty for every other method, and for a tools/call whose body does
// not name its tool readably (no name, or a syntax error in the message):
// then the check cannot tell which tool the MCP handler would run, so the
// function should answer the strongest scope. It returns "" when no scope
// is needed.
//
// A name that is no tool of the server needs no more than reading does:
// the MCP handler answers it with JSON-RPC error -32602 (unknown tool),
// which is what a client that sent a typo should see, rather than a 403
// asking it to step up to write access. A tool the server does have must
// therefore be known to the function, with its scope, or kept from
// callers by the server itself; mcpserver derives both from its one tool
// table.
type ScopeFunc func(method, toolName string) string

// RequireScope returns middleware that lets a request through only when
// the principal in its context holds scope (directly or through a broader
// one). Without a principal it answers 401, with one lacking the scope
// 403 insufficient_scope. It must run after Authenticator.Middleware.
func (a *Authenticator) RequireScope(scope string) func(http.Handler) http.Handler {
	return a.RequireScopeFor(func(*http.Request) string { return scope })
}

// RequireScopeFor is RequireScope with the scope decided per request by
// scopeFor (the REST API asks articles:write of unsafe methods).
func (a *Authenticator) RequireScopeFor(scopeFor func(*http.Request) string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if a.Authorize(w, r, []string{scopeFor(r)}) {
				next.ServeHTTP(w, r)
			}
		})
	}
}

// Authorize checks that the principal of r holds every scope in needed.
// If it does, Authorize returns true and writes nothing. Otherwise it
// answers 401 (no principal) or 403 insufficient_scope naming every
// needed scope, logs and counts the refusal, and returns false. Handlers
// that decide the scope themselves call it directly.
func (a *Authenticator) Authorize(w http.ResponseWriter, r *http.Request, needed []string) bool {
	p := FromContext(r.Context())
	if p == nil {
		// Only a wiring mistake gets here (the authentication middleware
		// was left out); refuse rather than serve anonymous callers.
		a.fail(r, slog.LevelError, ReasonMissing, "err", "no principal in context; is the authentication middleware installed?")
		WriteChallenge(w, http.StatusUnauthorized, a.Challenge("",
			"send an API key in the X-API-KEY header or an access token in Authorization: Bearer", ScopeRead))
		return false
	}
	needed = sortScopes(needed)
	var missing []string
	for _, s := range needed {
		if !p.Has(s) {
			missing = append(missing, s)
		}
	}
	if len(missing) == 0 {
		return true
	}
	a.fail(r, slog.LevelInfo, ReasonInsufficientScope, "subject", p.Subject, "missing", strings.Join(missing, " "))
	// RFC 6750 §3.1 and the MCP spec: scope lists everything the request
	// needs, including scopes the caller already holds, so a client that
	// steps up asks for a token that carries all of them.
	WriteChallenge(w, http.StatusForbidden, a.Challenge(CodeInsufficientScope,
		"this request needs the "+a.scopeNames(strings.Join(missing, " "))+" scope, which the credential lacks",
		strings.Join(needed, " ")))
	return false
}

// RequireMCPScopes returns middleware for the MCP endpoint that enforces
// scopes per JSON-RPC request. For a POST it reads the body (a single
// message or a batch), finds the method of every request in it (and the
// tool name of a tools/call), asks scopeFor what each needs and lets the
// request through only when the principal holds all of them; otherwise it
// answers 403 insufficient_scope listing every needed scope. The body is
// restored for next. A body that is not JSON passes through untouched so
// the MCP handler answers with its own parse error. Other HTTP methods
// only require a principal. It must run after Authenticator.Middleware.
//
// The body is read the way the go-sdk reads it (the first JSON value;
// object keys are case-sensitive there, and duplicate keys keep the
// last), but it errs towards requiring more: every key that equals
// "method" or "name" ignoring case counts, so no trick of letter case or
// repetition can make this check see a harmless method where the SDK sees
// a write, and a tools/call it cannot read to the end is also asked about
// with an empty tool name (see ScopeFunc). That matters because a name
// the scope function does not know needs only articles:read: a name
// missed here must not become a write tool let through.
func (a *Authenticator) RequireMCPScopes(scopeFor ScopeFunc) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodPost {
				if a.Authorize(w, r, nil) {
					next.ServeHTTP(w, r)
				}
				return
			}
			limit := a.maxBody()
			body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
			if err != nil {
				if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
					WriteError(w, http.StatusRequestEntityTooLarge, CodeInvalidRequest, "the request body is too large")
					return
				}
				WriteError(w, http.StatusBadRequest, CodeInvalidRequest, "the request body could not be read")
				return
			}
			if int64(len(body)) > limit {
				WriteError(w, http.StatusRequestEntityTooLarge, CodeInvalidRequest, "the request body is too large")
				return
			}
			calls, messages := scanCalls(body)
			if messages > MaxBatch {
				// Each message of a batch is answered; without a bound a
				// body of 10,000 pings buys 10,000 answers.
				a.fail(r, slog.LevelInfo, ReasonBadRequest, "problem", "batch too large", "messages", messages)
				writeRPCError(w, http.StatusBadRequest, -32600, fmt.Sprintf("a JSON-RPC batch may hold at most %d messages", MaxBatch))
				return
			}
			var needed []string
			for _, c := range calls {
				if s := scopeFor(c.method, c.tool); s != "" {
					needed = append(needed, s)
				}
			}
			if !a.Authorize(w, r, needed) {
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			r.ContentLength = int64(len(body))
			next.ServeHTTP(w, r)
		})
	}
}

// sortScopes returns scopes de-duplicated, without empties, the known
// ones in AllScopes order (narrowest first) and unknown ones after them
// alphabetically, so challenges are stable.
func sortScopes(scopes []string) []string {
	out := slices.DeleteFunc(slices.Clone(scopes), func(s string) bool { return s == "" })
	rank := func(s string) int {
		if i := slices.Index(AllScopes, s); i >= 0 {
			return i
		}
		return len(AllScopes)
	}
	slices.SortFunc(out, func(a, b string) int {
		if d := rank(a) - rank(b); d != 0 {
			return d
		}
		return strings.Compare(a, b)
	})
	return slices.Compact(out)
}

// call is one (method, tool) pair a body may invoke.
type call struct{ method, tool string }

// MaxBatch is the most messages a JSON-RPC batch (MCP 2025-03-26) may
// hold. Clients batch a handful; the bound keeps one body within the body
// limit from buying thousands of answers.
const MaxBatch = 100

// scanCalls returns every (method, tool name) pair that a JSON-RPC body
// could invoke, and how many messages it holds (1 for a single message;
// for a batch, counted up to MaxBatch+1). It reads only the first JSON
// value, as the go-sdk does (its decoder ignores trailing data). A parse
// error stops the scan but keeps what was found: a malformed tail never
// lowers the requirement of the requests before it. Responses (no method)
// yield nothing.
//
// It is one pass over the body's tokens: a message's members are looked
// at as they come, and values of no interest (the arguments, which may be
// the bulk of the body) are skipped whole without being kept.
func scanCalls(body []byte) ([]call, int) {
	dec := json.NewDecoder(bytes.NewReader(body))
	tok, err := dec.Token()
	if err != nil {
		return nil, 0
	}
	switch tok {
	case json.Delim('['):
		var calls []call
		messages := 0
		for dec.More() && messages <= MaxBatch {
			tok, err := dec.Token()
			if err != nil {
				break
			}
			if tok != json.Delim('{') {
				// Not a message: skip it, still a member of the batch.
				if d, ok := tok.(json.Delim); ok && !skipRest(dec, d) {
					break
				}
				messages++
				continue
			}
			cs, whole := scanMessage(dec)
			calls = append(calls, cs...)
			if !whole {
				break
			}
			messages++
		}
		return calls, messages
	case json.Delim('{'):
		calls, _ := scanMessage(dec)
		return calls, 1
	}
	return nil, 1
}

// scanMessage reads the members of one message, whose opening brace dec
// has just returned, and returns the calls it could make: every string
// value of a key equal to "method" ignoring case, and for tools/call
// every string value of a "name" key (ignoring case) in every "params"
// object. Going through tokens rather than a struct sees duplicate keys,
// which a struct would collapse to one. A tools/call with no name, or
// whose message stops at a syntax error before its end (a name may follow
// the error), also yields the call with an empty tool name. whole reports
// that the message was read to its closing brace.
func scanMessage(dec *json.Decoder) (calls []call, whole bool) {
	var methods, names []string
	whole = func() bool {
		for {
			tok, err := dec.Token()
			if err != nil {
				return false
			}
			if tok == json.Delim('}') {
				return true
			}
			key, _ := tok.(string)
			switch {
			case strings.EqualFold(key, "method"):
				s, ok, err := stringValue(dec)
				if err != nil {
					return false
				}
				if ok {
					methods = append(methods, s)
				}
			case strings.EqualFold(key, "params"):
				tok, err := dec.Token()
				if err != nil {
					return false
				}
				if tok == json.Delim('{') {
					// A params object broken by a syntax error names
					// nothing: what it seemed to name settles nothing.
					ns, ok := scanParams(dec)
					if !ok {
						return false
					}
					names = append(names, ns...)
				} else if d, ok := tok.(json.Delim); ok && !skipRest(dec, d) {
					return false
				}
			default:
				if !skipValue(dec) {
					return false
				}
			}
		}
	}()
	// Each method and name counts once: a message repeating both keys
	// would otherwise make as many calls as the product of the two, and
	// a body of a few KB would buy millions.
	slices.Sort(methods)
	slices.Sort(names)
	methods, names = slices.Compact(methods), slices.Compact(names)
	for _, m := range methods {
		if m != "tools/call" {
			calls = append(calls, call{method: m})
			continue
		}
		if len(names) == 0 || !whole {
			calls = append(calls, call{method: m})
		}
		for _, n := range names {
			calls = append(calls, call{method: m, tool: n})
		}
	}
	return calls, whole
}

// scanParams reads the members of a params object, whose opening brace
// dec has just returned, and returns the string values of its keys equal
// to "name" ignoring case; ok reports that it read the object to its end.
func scanParams(dec *json.Decoder) (names []string, ok bool) {
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil, false
		}
		if tok == json.Delim('}') {
			return names, true
		}
		if key, _ := tok.(string); strings.EqualFold(key, "name") {
			s, isString, err := stringValue(dec)
			if err != nil {
				return nil, false
			}
			if isString {
				names = append(names, s)
			}
			continue
		}
		if !skipValue(dec) {
			return nil, false
		}
	}
}

// stringValue reads the next value; ok reports that it was a string.
func stringValue(dec *json.Decoder) (s string, ok bool, err error) {
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		return "", false, err
	}
	if len(raw) == 0 || raw[0] != '"' {
		return "", false, nil
	}
	return s, json.Unmarshal(raw, &s) == nil, nil
}

// skipValue reads the next value whole and keeps nothing of it; false
// means a syntax error.
func skipValue(dec *json.Decoder) bool {
	var skip json.RawMessage
	return dec.Decode(&skip) == nil
}

// skipRest reads to the end of the object or array whose opening
// delimiter d dec has just returned.
func skipRest(dec *json.Decoder, d json.Delim) bool {
	if d != '{' && d != '[' {
		return true
	}
	for depth := 1; depth > 0; {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
	}
	return true
}

// writeRPCError answers with a JSON-RPC error response (id null: the
// request as a whole is refused), for refusals a JSON-RPC client should
// read as one.
func writeRPCError(w http.ResponseWriter, status, code int, message string) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	b, _ := json.Marshal(map[string]any{
		"jsonrpc": "2.0",
		"id":      nil,
		"error":   map[string]any{"code": code, "message": message},
	})
	w.Write(b)
}
