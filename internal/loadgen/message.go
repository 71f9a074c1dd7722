package loadgen

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
)

// The kinds of error a call can end in (Report.ErrorKinds); an HTTP
// status or a JSON-RPC code is added to its prefix.
const (
	KindHTTPPrefix    = "http_"
	KindJSONRPCPrefix = "jsonrpc_"
	KindTool          = "tool_error"
	KindTransport     = "transport"
	KindInvalid       = "invalid_response"
)

// firstStatelessVersion is the first protocol revision without the
// initialize handshake: each request carries the protocol version, the
// client's identity and capabilities in its _meta (SEP-2575), and over
// HTTP the Mcp-Method and Mcp-Name headers.
const firstStatelessVersion = "2026-07-28"

// DefaultProtocolVersion is the revision proposed unless told otherwise:
// the newest one with the handshake, which today's servers and bridges
// speak.
const DefaultProtocolVersion = "2025-11-25"

// outcome is how one exchange ended: kind is "" on success, detail a
// short message for the report.
type outcome struct {
	kind   string
	detail string
}

func failed(kind, detail string) outcome {
	return outcome{kind: kind, detail: shorten(detail)}
}

// shorten keeps a message to one line of a readable length.
func shorten(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = s[:i] + " …"
	}
	if len(s) > 160 {
		s = s[:160] + "…"
	}
	return s
}

// message is the part of a JSON-RPC message the generator looks at.
type message struct {
	ID     json.RawMessage `json:"id"`
	Method string          `json:"method"`
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Code    int64  `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// isResponseTo reports whether m answers the request with id.
func (m *message) isResponseTo(id int64) bool {
	return m.Method == "" && string(bytes.TrimSpace(m.ID)) == strconv.FormatInt(id, 10)
}

// isRequest reports a request from the server (sampling, elicitation,
// roots): it has both a method and an id.
func (m *message) isRequest() bool {
	return m.Method != "" && len(m.ID) > 0 && string(m.ID) != "null"
}

// judge classifies a response to a tools/call (tool true) or another
// request.
func (m *message) judge(tool bool) outcome {
	if m.Error != nil {
		return failed(KindJSONRPCPrefix+strconv.FormatInt(m.Error.Code, 10), m.Error.Message)
	}
	if len(m.Result) == 0 {
		return failed(KindInvalid, "a response with neither result nor error")
	}
	// Only a result that mentions isError is decoded a second time: the
	// common answer is read once.
	if tool && bytes.Contains(m.Result, []byte(`"isError"`)) {
		var r struct {
			IsError bool `json:"isError"`
			Content []struct {
				Text string `json:"text"`
			} `json:"content"`
		}
		if err := json.Unmarshal(m.Result, &r); err != nil {
			return failed(KindInvalid, "tools/call result: "+err.Error())
		}
		if r.IsError {
			detail := ""
			if len(r.Content) > 0 {
				detail = r.Content[0].Text
			}
			return failed(KindTool, detail)
		}
	}
	return outcome{}
}

// clientInfo names the generator to servers.
type clientInfo struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// requestMeta is the _meta every request of a stateless revision
// carries, or nil before it.
func requestMeta(version string, info clientInfo) map[string]any {
	if version < firstStatelessVersion {
		return nil
	}
	return map[string]any{
		"io.modelcontextprotocol/protocolVersion":    version,
		"io.modelcontextprotocol/clientInfo":         info,
		"io.modelcontextprotocol/clientCapabilities": map[string]any{},
	}
}

// request is a JSON-RPC request or notification (id nil) to marshal.
type request struct {
	JSONRPC string `json:"jsonrpc"`
	ID      *int64 `json:"id,omitempty"`
	Method  string `json:"method"`
	Params  any    `json:"params,omitempty"`
}

func encode(id *int64, method string, params any) []byte {
	b, err := json.Marshal(request{JSONRPC: "2.0", ID: id, Method: method, Params: params})
	if err != nil {
		panic(err) // the params are built here, from JSON already checked
	}
	return b
}

func initializeBody(id int64, version string, info clientInfo) []byte {
	return encode(&id, "initialize", map[string]any{
		"protocolVersion": version,
		"capabilities":    map[string]any{},
		"clientInfo":      info,
	})
}

func initializedBody() []byte { return encode(nil, "notifications/initialized", nil) }

// methodNotFound answers a request from the server that the generator
// does not serve, so that a tool waiting on it goes on.
func methodNotFound(id json.RawMessage) []byte {
	b, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": id, "error": map[string]any{"code": -32601, "message": "the load generator answers no requests"}})
	return b
}

// callTemplate is a tools/call body split around its id, so a call costs
// an append of the id rather than a marshal.
type callTemplate struct {
	head, tail []byte
}

func newCallTemplate(version, tool string, args json.RawMessage, info clientInfo) callTemplate {
	params := map[string]any{"name": tool, "arguments": args}
	if meta := requestMeta(version, info); meta != nil {
		params["_meta"] = meta
	}
	body := encode(nil, "tools/call", params)
	// body starts `{"jsonrpc":"2.0",`; the id goes right after it.
	const lead = `{"jsonrpc":"2.0",`
	return callTemplate{head: []byte(lead + `"id":`), tail: append([]byte{','}, body[len(lead):]...)}
}

// body appends the call with id to buf[:0].
func (t callTemplate) body(buf []byte, id int64) []byte {
	buf = append(buf[:0], t.head...)
	buf = strconv.AppendInt(buf, id, 10)
	return append(buf, t.tail...)
}
