// Package paramheader is the one home of the rule by which an MCP client
// mirrors tool-call arguments into Mcp-Param-* HTTP headers (SEP-2243,
// protocol revision 2026-07-28), so that gateways and load balancers can
// route on them without reading the body. Both `call` (package mcpcall)
// and `connect` (package bridge) use it.
//
// A tool opts in by marking properties of its input schema with
// "x-mcp-header": NAME; a tools/call of it then carries Mcp-Param-NAME
// with the argument's value. A server of that revision checks the headers
// against the body and refuses a call whose headers are missing.
package paramheader

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"math"
	"net/http"
	"strconv"
	"strings"

	"golang.org/x/net/http/httpguts"
)

// FirstVersion is the first protocol revision with Mcp-Param-* headers.
const FirstVersion = "2026-07-28"

// Prefix starts every header of this rule.
const Prefix = "Mcp-Param-"

// maxSafeInteger bounds the integers a header may carry: those a JSON
// number represents exactly in every implementation (2^53 - 1).
const maxSafeInteger = 1<<53 - 1

// For returns the Mcp-Param-* headers of a tools/call under protocol
// revision version, of a tool with inputSchema (anything that marshals to
// its JSON Schema) and arguments (the call's arguments object). It returns
// nil before FirstVersion, when no property is marked, or when the marks
// are invalid (a name that is not an HTTP token, one used twice, a mark on
// a property that is not a string, integer or boolean): SDKs drop such a
// tool from their listings, and no header is better than a wrong one.
// An absent or null argument, or one of another type than its mark
// allows, gets no header.
func For(version string, inputSchema any, arguments json.RawMessage) http.Header {
	if version < FirstVersion {
		return nil
	}
	marks, ok := marksOf(inputSchema)
	if !ok || len(marks) == 0 {
		return nil
	}
	var args map[string]json.RawMessage
	if json.Unmarshal(arguments, &args) != nil {
		return nil
	}
	h := make(http.Header)
	for _, m := range marks {
		raw, found := lookup(args, m.path)
		if !found {
			continue
		}
		if v, ok := headerValue(raw); ok {
			h.Set(Prefix+m.name, v)
		}
	}
	if len(h) == 0 {
		return nil
	}
	return h
}

// mark is one x-mcp-header annotation: the argument at path goes into
// header Prefix+name.
type mark struct {
	path []string
	name string
}

type schemaNode struct {
	Type       json.RawMessage       `json:"type"`
	Header     json.RawMessage       `json:"x-mcp-header"`
	Properties map[string]schemaNode `json:"properties"`
}

// marksOf finds the annotations of a schema, at any depth of properties.
func marksOf(schema any) ([]mark, bool) {
	data, ok := schema.(json.RawMessage)
	if !ok {
		var err error
		if data, err = json.Marshal(schema); err != nil {
			return nil, false
		}
	}
	var root schemaNode
	if len(data) == 0 || json.Unmarshal(data, &root) != nil {
		return nil, false
	}
	var marks []mark
	seen := map[string]bool{}
	var walk func(props map[string]schemaNode, prefix []string) bool
	walk = func(props map[string]schemaNode, prefix []string) bool {
		for name, p := range props {
			path := append(append([]string(nil), prefix...), name)
			if p.Header != nil {
				var header string
				if json.Unmarshal(p.Header, &header) != nil || !httpguts.ValidHeaderFieldName(header) || seen[strings.ToLower(header)] {
					return false
				}
				var typ string
				if json.Unmarshal(p.Type, &typ) != nil || (typ != "string" && typ != "integer" && typ != "boolean") {
					return false
				}
				seen[strings.ToLower(header)] = true
				marks = append(marks, mark{path: path, name: header})
			}
			if !walk(p.Properties, path) {
				return false
			}
		}
		return true
	}
	if !walk(root.Properties, nil) {
		return nil, false
	}
	return marks, true
}

// lookup finds the argument at path in nested objects.
func lookup(args map[string]json.RawMessage, path []string) (json.RawMessage, bool) {
	cur, ok := args[path[0]]
	for _, name := range path[1:] {
		if !ok {
			return nil, false
		}
		var obj map[string]json.RawMessage
		if json.Unmarshal(cur, &obj) != nil {
			return nil, false
		}
		cur, ok = obj[name]
	}
	return cur, ok
}

// headerValue formats a string, boolean or safe integer argument; strings
// that a header cannot carry as they are are base64-encoded in the
// =?base64?…?= form.
func headerValue(raw json.RawMessage) (string, bool) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) != nil {
		return "", false
	}
	switch v := v.(type) {
	case string:
		if needsEncoding(v) {
			return "=?base64?" + base64.StdEncoding.EncodeToString([]byte(v)) + "?=", true
		}
		return v, true
	case bool:
		return strconv.FormatBool(v), true
	case json.Number:
		if i, err := strconv.ParseInt(v.String(), 10, 64); err == nil {
			if i < -maxSafeInteger || i > maxSafeInteger {
				return "", false
			}
			return strconv.FormatInt(i, 10), true
		}
		f, err := v.Float64() // 1.0 or 1e3: an integer written otherwise
		if err != nil || f != math.Trunc(f) || math.Abs(f) > maxSafeInteger {
			return "", false
		}
		return strconv.FormatInt(int64(f), 10), true
	}
	return "", false
}

// needsEncoding reports a string with characters outside printable ASCII,
// surrounding blanks (which header parsing strips), or the encoded form's
// own shape (which would be decoded).
func needsEncoding(s string) bool {
	if s == "" {
		return false
	}
	if first, last := s[0], s[len(s)-1]; first == ' ' || first == '\t' || last == ' ' || last == '\t' {
		return true
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return true
		}
	}
	return strings.HasPrefix(s, "=?base64?") && strings.HasSuffix(s, "?=")
}

type headersKey struct{}

// With returns a context carrying h, the Mcp-Param-* headers of one
// tools/call (nil: none), for Apply.
func With(ctx context.Context, h http.Header) context.Context {
	if h == nil {
		h = http.Header{}
	}
	return context.WithValue(ctx, headersKey{}, h)
}

// Apply returns req with the Mcp-Param-* headers its context carries (see
// With) in place of any already set, so that this rule alone decides; req
// itself when its context carries none. For an http.RoundTripper.
func Apply(req *http.Request) *http.Request {
	h, ok := req.Context().Value(headersKey{}).(http.Header)
	if !ok {
		return req
	}
	req = req.Clone(req.Context())
	for name := range req.Header {
		if strings.HasPrefix(name, Prefix) {
			delete(req.Header, name)
		}
	}
	for name, values := range h {
		req.Header[name] = values
	}
	return req
}
