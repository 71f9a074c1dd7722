package mcpserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sync"

	"github.com/google/jsonschema-go/jsonschema"
	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/2coffee/mcp-2coffee/internal/authn"
	"github.com/2coffee/mcp-2coffee/internal/blog"
	"github.com/2coffee/mcp-2coffee/internal/errdefs"
)

// tool is one entry of the tool table (see tools): everything the server
// knows about a tool, in one place. Registration, the HTTP scope check,
// the in-tool scope check, read-only mode and the metrics all read it from
// here, so none of them can drift from the others.
type tool struct {
	// def is the tool as tools/list shows it, without its input schema,
	// which add infers from the handler's input type.
	def *mcp.Tool
	// scope is the scope a tools/call needs, as declared; read it through
	// needs, which fails closed.
	scope string
	// add registers the tool on s with its handler bound to h.
	add func(s *mcp.Server, h *handlers)
}

// toolFunc is a tool's own work: given the caller's input, already
// validated against the schema, it returns the text block a model reads and
// the structured result. It is written as a method expression of handlers
// ((*handlers).search) so the table can be built without a server.
type toolFunc[In, Out any] func(h *handlers, ctx context.Context, in In) (string, Out, error)

// newTool declares a tool: its definition, the scope a call needs and its
// handler. The handler is registered through one wrapper that does what
// every tool needs around its own work, so no handler repeats it:
//
//   - the arguments checked against the input schema and decoded (see
//     toolIO.decode);
//   - the in-tool scope check, defence in depth for every path that does
//     not pass the HTTP check (stdio, tests, a wiring mistake);
//   - error mapping: errors from the blog become isError results a model
//     can act on (toolError), unexpected ones are logged and hidden;
//   - the outcome, reported to Options.OnToolCall;
//   - after a write tool succeeds, the resources/list_changed
//     notification: every write tool changes the articles;
//   - the structured result, marshalled once.
//
// It registers with the go-sdk's untyped Server.AddTool rather than the
// generic mcp.AddTool, which leaves validating the arguments and the
// result to the caller: mcp.AddTool decodes the arguments twice with a
// fresh decoder each time, then marshals the result, decodes it again and
// re-marshals it to check it against the output schema. For a result
// holding a whole article that was a third of a call's cost
// (docs/BENCHMARKS.md). The wrapper checks the arguments with the same
// resolved schema and the same library; the result is a value of the Go
// type its schema was inferred from, so checking it on every call checked
// the code against itself, and TestToolResultsMatchTheirOutputSchemas
// checks it once per tool instead.
func newTool[In, Out any](def *mcp.Tool, scope string, run toolFunc[In, Out]) tool {
	t := tool{def: def, scope: scope}
	t.add = func(s *mcp.Server, h *handlers) {
		name, needs := def.Name, t.needs()
		io := ioOf[In, Out]()
		full := *def // the table's definition stays as declared
		full.InputSchema = io.input
		if io.output != nil {
			full.OutputSchema = io.output
		}
		s.AddTool(&full, func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			var in In
			if err := io.decode(req.Params.Arguments, &in); err != nil {
				// The go-sdk's wording, which clients already show.
				h.record(name, "user_error")
				return errorResult(fmt.Errorf("validating \"arguments\": %w", err)), nil
			}
			if !h.opts.Principal(ctx).Has(needs) {
				err := fmt.Errorf("this needs the %s scope: %w", needs, errdefs.ErrForbidden)
				return toolResult(h.toolError(ctx, name, err))
			}
			// Revisions name who made each change: the credential.
			ctx = blog.WithActor(ctx, h.opts.Principal(ctx).Actor())
			msg, out, err := run(h, ctx, in)
			if err != nil {
				return toolResult(h.toolError(ctx, name, err))
			}
			if needs == authn.ScopeWrite && h.articlesChanged != nil {
				h.articlesChanged()
			}
			res := &mcp.CallToolResult{Content: text(msg)}
			if io.output != nil {
				structured, err := json.Marshal(out)
				if err != nil {
					return nil, fmt.Errorf("marshalling the result of %s: %w", name, err)
				}
				res.StructuredContent = json.RawMessage(structured)
			}
			h.record(name, "ok")
			return res, nil
		})
	}
	return t
}

// toolResult turns the error toolError made into what the go-sdk sends:
// a JSON-RPC error stays a protocol error, any other becomes a tool
// result with isError set.
func toolResult(err error) (*mcp.CallToolResult, error) {
	if wire, ok := errors.AsType[*jsonrpc.Error](err); ok {
		return nil, wire
	}
	return errorResult(err), nil
}

func errorResult(err error) *mcp.CallToolResult {
	res := &mcp.CallToolResult{}
	res.SetError(err)
	return res
}

// needs returns the scope a call of t needs: its declared scope when that
// is one this server knows, articles:write otherwise. An entry whose scope
// was left out or misspelt is the one way a tool can be in the server
// without a valid scope now that one table declares both; it must not be
// opened to read-only credentials by the slip.
func (t tool) needs() string {
	if authn.ValidScope(t.scope) {
		return t.scope
	}
	return authn.ScopeWrite
}

// addTools registers every tool of table on s; in read-only mode only
// those that need no more than articles:read. It returns the names it
// registered.
func (h *handlers) addTools(s *mcp.Server, table []tool) map[string]bool {
	added := make(map[string]bool, len(table))
	for _, t := range table {
		if h.opts.ReadOnly && t.needs() != authn.ScopeRead {
			continue
		}
		t.add(s, h)
		added[t.def.Name] = true
	}
	return added
}

// Scopes returns the scope check of the MCP endpoint, for
// authn.RequireMCPScopes, derived from the tool table:
//
//   - a tools/call of a tool in the table needs that tool's scope;
//   - a tools/call of any other name needs only articles:read. Such a
//     name is no tool, and the go-sdk answers it with JSON-RPC error
//     -32602 (unknown tool); demanding articles:write instead would send
//     a read-only client to ask for write access over a typo;
//   - a tools/call whose tool the check could not read from the body
//     needs articles:write, since the check cannot tell what the go-sdk
//     would run;
//   - every other method needs articles:read.
//
// A tool registered on the server behind the table's back, which this
// check cannot see, is kept from read-only callers by the server itself
// (see onlyTable). Build the check once; it is safe for concurrent use.
func Scopes() authn.ScopeFunc { return scopesOf(tools()) }

func scopesOf(table []tool) authn.ScopeFunc {
	needs := make(map[string]string, len(table))
	for _, t := range table {
		needs[t.def.Name] = t.needs()
	}
	return func(method, toolName string) string {
		if method != "tools/call" {
			return authn.ScopeRead
		}
		if toolName == "" {
			return authn.ScopeWrite
		}
		if s, ok := needs[toolName]; ok {
			return s
		}
		return authn.ScopeRead
	}
}

// onlyTable returns the receiving middleware that closes the one way
// around the table: mcp.AddTool on the *mcp.Server that New returns. Such
// a tool has no declared scope, and the HTTP check lets a name it does
// not know through with articles:read (see Scopes), so here it is treated
// as a write tool: a caller without articles:write gets the same -32602
// unknown tool a name that is no tool gets, and the tool never runs for
// it. known holds the names the table registered.
func (h *handlers) onlyTable(known map[string]bool) mcp.Middleware {
	return func(next mcp.MethodHandler) mcp.MethodHandler {
		return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
			if call, ok := req.(*mcp.CallToolRequest); ok && call.Params != nil &&
				!known[call.Params.Name] && !h.canWrite(ctx) {
				return nil, &jsonrpc.Error{
					Code:    jsonrpc.CodeInvalidParams,
					Message: fmt.Sprintf("unknown tool %q", call.Params.Name),
				}
			}
			return next(ctx, method, req)
		}
	}
}

// toolIO is what a tool's wrapper knows of its input and output types:
// the schemas tools/list shows and the input schema resolved for
// checking arguments. One is made per pair of types per process (ioOf),
// since the tool table is fixed; none is changed once made.
type toolIO struct {
	input  *jsonschema.Schema
	output *jsonschema.Schema // nil when the tool's result is untyped (any)

	// The input schema is resolved on the first call, not at start-up:
	// a stdio server answers initialize before any tool runs, and most
	// sessions call a few of the tools.
	resolveOnce sync.Once
	resolved    *jsonschema.Resolved
	defaults    bool // the input schema gives some property a default
	resolveErr  error
}

// ioTypes keys toolIOs (*toolIO) by the pair of types.
type ioTypes struct{ in, out reflect.Type }

var toolIOs sync.Map

// ioOf returns the toolIO of In and Out, inferring the schemas on first
// use. The output schema is inferred as the go-sdk infers it: from the
// pointed-to type for a pointer.
func ioOf[In, Out any]() *toolIO {
	key := ioTypes{reflect.TypeFor[In](), reflect.TypeFor[Out]()}
	if io, ok := toolIOs.Load(key); ok {
		return io.(*toolIO)
	}
	io := &toolIO{input: inputSchema[In]()}
	if out := key.out; out != reflect.TypeFor[any]() {
		if out.Kind() == reflect.Pointer {
			out = out.Elem()
		}
		s, err := jsonschema.ForType(out, &jsonschema.ForOptions{})
		if err != nil {
			panic(fmt.Sprintf("mcpserver: output schema for %v: %v", out, err)) // a programming error, caught by tests
		}
		io.output = s
	}
	stored, _ := toolIOs.LoadOrStore(key, io)
	return stored.(*toolIO)
}

func (io *toolIO) resolve() error {
	io.resolveOnce.Do(func() {
		io.resolved, io.resolveErr = io.input.Resolve(&jsonschema.ResolveOptions{ValidateDefaults: true})
		io.defaults = hasDefault(io.input)
	})
	return io.resolveErr
}

// decode checks a call's arguments against the input schema, as the
// go-sdk's mcp.AddTool does, and decodes them into in. Absent arguments
// are an empty object, so that required properties are still demanded.
// Defaults the schema declares are applied before decoding.
//
// The decoding is encoding/json's, which matches keys to fields ignoring
// case. That is safe because the schemas of In are closed
// (additionalProperties false, TestInputSchemasAreClosed): a key that is
// not a property exactly has already been refused.
func (io *toolIO) decode(args json.RawMessage, in any) error {
	if err := io.resolve(); err != nil {
		return err
	}
	if len(args) == 0 {
		args = json.RawMessage("{}")
	}
	var v map[string]any
	if err := json.Unmarshal(args, &v); err != nil {
		return fmt.Errorf("unmarshaling arguments: %w", err)
	}
	if v == nil { // "null"
		v = map[string]any{}
		args = json.RawMessage("{}")
	}
	if io.defaults {
		if err := io.resolved.ApplyDefaults(&v); err != nil {
			return fmt.Errorf("applying schema defaults: %w", err)
		}
	}
	if err := io.resolved.Validate(v); err != nil {
		return err
	}
	if io.defaults {
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		args = b
	}
	return json.Unmarshal(args, in)
}

// hasDefault reports whether s or a schema within it declares a
// default. It walks what jsonschema.For makes of a Go type: properties,
// items and additional properties.
func hasDefault(s *jsonschema.Schema) bool {
	if s == nil {
		return false
	}
	if s.Default != nil || hasDefault(s.Items) || hasDefault(s.AdditionalProperties) {
		return true
	}
	for _, p := range s.Properties {
		if hasDefault(p) {
			return true
		}
	}
	return false
}

// inputSchema infers the schema of T and bounds its limit field, which the
// struct tags cannot express.
func inputSchema[T any]() *jsonschema.Schema {
	s, err := jsonschema.For[T](nil)
	if err != nil {
		panic(fmt.Sprintf("mcpserver: schema for %T: %v", *new(T), err)) // a programming error, caught by tests
	}
	if p, ok := s.Properties["limit"]; ok {
		lo, hi := 1.0, float64(blog.MaxPage)
		p.Minimum, p.Maximum = &lo, &hi
	}
	for _, name := range []string{"query"} {
		if p, ok := s.Properties[name]; ok {
			n := blog.MaxQueryLen
			p.MaxLength = &n
		}
	}
	if p, ok := s.Properties["slug"]; ok {
		n := blog.MaxSlugLen
		p.MaxLength = &n
	}
	return s
}

func ptr[T any](v T) *T { return &v }

func text(s string) []mcp.Content { return []mcp.Content{&mcp.TextContent{Text: s}} }
