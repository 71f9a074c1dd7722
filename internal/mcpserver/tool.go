package mcpserver

import (
	"context"
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
//   - the in-tool scope check, defence in depth for every path that does
//     not pass the HTTP check (stdio, tests, a wiring mistake);
//   - error mapping: errors from the blog become isError results a model
//     can act on (toolError), unexpected ones are logged and hidden;
//   - the outcome, reported to Options.OnToolCall;
//   - after a write tool succeeds, the resources/list_changed
//     notification: every write tool changes the articles.
func newTool[In, Out any](def *mcp.Tool, scope string, run toolFunc[In, Out]) tool {
	t := tool{def: def, scope: scope}
	t.add = func(s *mcp.Server, h *handlers) {
		name, needs := def.Name, t.needs()
		full := *def // the table's definition stays as declared
		full.InputSchema = cachedInputSchema[In]()
		mcp.AddTool(s, &full, func(ctx context.Context, _ *mcp.CallToolRequest, in In) (*mcp.CallToolResult, Out, error) {
			var zero Out
			if !h.opts.Principal(ctx).Has(needs) {
				err := fmt.Errorf("this needs the %s scope: %w", needs, errdefs.ErrForbidden)
				return nil, zero, h.toolError(ctx, name, err)
			}
			msg, out, err := run(h, ctx, in)
			if err != nil {
				return nil, zero, h.toolError(ctx, name, err)
			}
			if needs == authn.ScopeWrite && h.articlesChanged != nil {
				h.articlesChanged()
			}
			h.record(name, "ok")
			return &mcp.CallToolResult{Content: text(msg)}, out, nil
		})
	}
	return t
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

// inputSchemas holds each input type's schema (reflect.Type to
// *jsonschema.Schema), made once per process: the tool table is fixed, and
// one pointer per type is what lets schemaCache find the resolved schema
// again. The schemas are never changed once stored.
var inputSchemas sync.Map

// cachedInputSchema returns inputSchema[T], inferring it on first use.
func cachedInputSchema[T any]() *jsonschema.Schema {
	t := reflect.TypeFor[T]()
	if s, ok := inputSchemas.Load(t); ok {
		return s.(*jsonschema.Schema)
	}
	s, _ := inputSchemas.LoadOrStore(t, inputSchema[T]())
	return s.(*jsonschema.Schema)
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
