package bridge

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"os/exec"
	"strings"
	"text/tabwriter"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Methods understood by Call (they mirror the protocol and the Inspector
// CLI's --method).
const (
	MethodToolsList         = "tools/list"
	MethodToolsCall         = "tools/call"
	MethodResourcesList     = "resources/list"
	MethodResourcesRead     = "resources/read"
	MethodResourceTemplates = "resources/templates/list"
	MethodPromptsList       = "prompts/list"
	MethodPromptsGet        = "prompts/get"
	MethodPing              = "ping"
)

// CallRequest is one operation of `mcp-2coffee call`.
type CallRequest struct {
	// Method is one of the Method* constants.
	Method string
	// Name is the tool (tools/call) or prompt (prompts/get).
	Name string
	// URI is the resource (resources/read).
	URI string
	// Arguments are the tool's or prompt's arguments.
	Arguments map[string]any
	// Elicit says how to answer the server's elicitation requests.
	Elicit ElicitPolicy
}

// ElicitPolicy says how `call` answers a server that asks the user
// something (elicitation/create): a one-shot command has nobody to ask.
type ElicitPolicy string

const (
	// ElicitUnsupported does not declare elicitation support (default);
	// servers then do not ask.
	ElicitUnsupported ElicitPolicy = ""
	// ElicitDecline declares support and declines every request.
	ElicitDecline ElicitPolicy = "decline"
	// ElicitDefaults accepts a form with the defaults its schema gives
	// (SEP-1034) when every required field has one, and declines
	// otherwise; URL-mode requests are declined.
	ElicitDefaults ElicitPolicy = "defaults"
)

// ParseElicitPolicy checks a --elicit flag value.
func ParseElicitPolicy(s string) (ElicitPolicy, error) {
	switch p := ElicitPolicy(s); p {
	case ElicitUnsupported, ElicitDecline, ElicitDefaults:
		return p, nil
	}
	return "", fmt.Errorf("unknown elicitation policy %q (want decline or defaults)", s)
}

// ParseCall builds a CallRequest from the words after METHOD on the command
// line:
//
//	tools/list
//	tools/call NAME [key=value…] [--json '{…}']
//	resources/list | resources/templates/list
//	resources/read URI
//	prompts/list
//	prompts/get NAME [key=value…]
//	ping
//
// A tool argument's value is decoded as JSON when it is valid JSON (a
// number, true/false, null, an object, an array, or a "quoted string"),
// and taken as a plain string otherwise: count=5 is a number, q=goroutines
// and q="5" are strings. --json gives an object of arguments; key=value
// pairs override its members. Prompt arguments are always strings.
func ParseCall(method string, args []string) (CallRequest, error) {
	req := CallRequest{Method: method}
	need := func(what string) (string, error) {
		if len(args) == 0 || strings.HasPrefix(args[0], "--") {
			return "", fmt.Errorf("%s needs %s", method, what)
		}
		v := args[0]
		args = args[1:]
		return v, nil
	}
	var err error
	switch method {
	case MethodToolsList, MethodResourcesList, MethodResourceTemplates, MethodPromptsList, MethodPing:
	case MethodResourcesRead:
		if req.URI, err = need("a resource URI"); err != nil {
			return req, err
		}
	case MethodToolsCall:
		if req.Name, err = need("a tool name"); err != nil {
			return req, err
		}
		if req.Arguments, err = parseArguments(args, true); err != nil {
			return req, err
		}
		args = nil
	case MethodPromptsGet:
		if req.Name, err = need("a prompt name"); err != nil {
			return req, err
		}
		if req.Arguments, err = parseArguments(args, false); err != nil {
			return req, err
		}
		args = nil
	default:
		return req, fmt.Errorf("unknown method %q (want tools/list, tools/call, resources/list, resources/templates/list, resources/read, prompts/list, prompts/get or ping)", method)
	}
	if len(args) > 0 {
		return req, fmt.Errorf("%s takes no further arguments (got %q)", method, args[0])
	}
	return req, nil
}

// parseArguments reads key=value words and --json objects.
func parseArguments(args []string, decodeJSON bool) (map[string]any, error) {
	out := map[string]any{}
	var pairs []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		var obj string
		switch {
		case a == "--json":
			if i+1 == len(args) {
				return nil, errors.New("--json needs a JSON object")
			}
			i++
			obj = args[i]
		case strings.HasPrefix(a, "--json="):
			obj = strings.TrimPrefix(a, "--json=")
		default:
			pairs = append(pairs, a)
			continue
		}
		var m map[string]any
		dec := json.NewDecoder(strings.NewReader(obj))
		dec.UseNumber()
		if err := dec.Decode(&m); err != nil || dec.More() {
			return nil, fmt.Errorf("--json: want a JSON object: %v", err)
		}
		for k, v := range m {
			if !decodeJSON {
				if s, ok := v.(string); ok {
					out[k] = s
					continue
				}
				return nil, fmt.Errorf("--json: prompt argument %q must be a string", k)
			}
			out[k] = v
		}
	}
	for _, p := range pairs {
		k, v, ok := strings.Cut(p, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("argument %q: want key=value", p)
		}
		if decodeJSON {
			out[k] = decodeValue(v)
		} else {
			out[k] = v
		}
	}
	return out, nil
}

// decodeValue returns v decoded as JSON when it is exactly one JSON value,
// and v itself otherwise. Numbers keep their text (json.Number), so large
// integers are not rounded.
func decodeValue(v string) any {
	dec := json.NewDecoder(strings.NewReader(v))
	dec.UseNumber()
	var x any
	if err := dec.Decode(&x); err != nil {
		return v
	}
	if _, err := dec.Token(); err != io.EOF {
		return v
	}
	return x
}

// CallResult is the outcome of a Call.
type CallResult struct {
	// Method is the request's method.
	Method string
	// Result is the go-sdk result value (e.g. *mcp.CallToolResult).
	Result any
	// IsError is set when a tool reported failure (isError: true); the
	// command should exit non-zero after printing the result.
	IsError bool
}

// JSON renders the result as indented JSON, as the protocol carries it.
func (r *CallResult) JSON() ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r.Result); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Text renders the result for people (--format text).
func (r *CallResult) Text() string {
	var b bytes.Buffer
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	switch res := r.Result.(type) {
	case *mcp.ListToolsResult:
		fmt.Fprintln(tw, "NAME\tDESCRIPTION")
		for _, t := range res.Tools {
			fmt.Fprintf(tw, "%s\t%s\n", t.Name, firstLine(t.Description))
		}
	case *mcp.CallToolResult:
		tw.Flush()
		if r.IsError {
			b.WriteString("error: ")
		}
		writeContent(&b, res.Content)
		if res.StructuredContent != nil && len(res.Content) == 0 {
			data, _ := json.MarshalIndent(res.StructuredContent, "", "  ")
			b.Write(data)
			b.WriteByte('\n')
		}
	case *mcp.ListResourcesResult:
		fmt.Fprintln(tw, "URI\tNAME\tTYPE")
		for _, x := range res.Resources {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", x.URI, x.Name, x.MIMEType)
		}
	case *mcp.ListResourceTemplatesResult:
		fmt.Fprintln(tw, "URI TEMPLATE\tNAME\tTYPE")
		for _, x := range res.ResourceTemplates {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", x.URITemplate, x.Name, x.MIMEType)
		}
	case *mcp.ReadResourceResult:
		for _, c := range res.Contents {
			if c.Blob != nil {
				fmt.Fprintf(&b, "[%s: %d bytes of %s]\n", c.URI, len(c.Blob), orUnknown(c.MIMEType))
				continue
			}
			b.WriteString(c.Text)
			if !strings.HasSuffix(c.Text, "\n") {
				b.WriteByte('\n')
			}
		}
	case *mcp.ListPromptsResult:
		fmt.Fprintln(tw, "NAME\tARGUMENTS\tDESCRIPTION")
		for _, p := range res.Prompts {
			var names []string
			for _, a := range p.Arguments {
				n := a.Name
				if a.Required {
					n += "*"
				}
				names = append(names, n)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\n", p.Name, strings.Join(names, " "), firstLine(p.Description))
		}
	case *mcp.GetPromptResult:
		if res.Description != "" {
			fmt.Fprintf(&b, "%s\n\n", res.Description)
		}
		for _, m := range res.Messages {
			fmt.Fprintf(&b, "%s: ", m.Role)
			writeContent(&b, []mcp.Content{m.Content})
		}
	default:
		data, _ := json.MarshalIndent(r.Result, "", "  ")
		b.Write(data)
		b.WriteByte('\n')
	}
	tw.Flush()
	return b.String()
}

func writeContent(b *bytes.Buffer, content []mcp.Content) {
	for _, c := range content {
		switch c := c.(type) {
		case *mcp.TextContent:
			b.WriteString(c.Text)
		case *mcp.ImageContent:
			fmt.Fprintf(b, "[image: %d bytes of %s]", len(c.Data), orUnknown(c.MIMEType))
		case *mcp.AudioContent:
			fmt.Fprintf(b, "[audio: %d bytes of %s]", len(c.Data), orUnknown(c.MIMEType))
		case *mcp.ResourceLink:
			fmt.Fprintf(b, "[resource: %s]", c.URI)
		case *mcp.EmbeddedResource:
			if c.Resource != nil && c.Resource.Blob == nil {
				b.WriteString(c.Resource.Text)
			} else if c.Resource != nil {
				fmt.Fprintf(b, "[resource %s: %d bytes of %s]", c.Resource.URI, len(c.Resource.Blob), orUnknown(c.Resource.MIMEType))
			}
		default:
			data, _ := json.Marshal(c)
			b.Write(data)
		}
		if b.Len() > 0 && b.Bytes()[b.Len()-1] != '\n' {
			b.WriteByte('\n')
		}
	}
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown type"
	}
	return s
}

// newMCPClient is the go-sdk client `call` uses: no roots or sampling,
// and elicitation only as the policy says, since there is nobody to ask.
func newMCPClient(policy ElicitPolicy) *mcp.Client {
	opts := &mcp.ClientOptions{Capabilities: &mcp.ClientCapabilities{}}
	if policy != ElicitUnsupported {
		opts.ElicitationHandler = func(_ context.Context, req *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
			if policy == ElicitDefaults && req.Params.Mode != "url" && defaultsCoverRequired(req.Params.RequestedSchema) {
				// An empty answer: the SDK fills in the schema's defaults.
				return &mcp.ElicitResult{Action: "accept", Content: map[string]any{}}, nil
			}
			return &mcp.ElicitResult{Action: "decline"}, nil
		}
	}
	return mcp.NewClient(&mcp.Implementation{Name: "mcp-2coffee", Version: Version}, opts)
}

// defaultsCoverRequired reports whether every required property of an
// elicitation schema has a default.
func defaultsCoverRequired(schema any) bool {
	data, err := json.Marshal(schema)
	if err != nil {
		return false
	}
	var s struct {
		Required   []string `json:"required"`
		Properties map[string]struct {
			Default json.RawMessage `json:"default"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(data, &s); err != nil {
		return false
	}
	for _, name := range s.Required {
		if p, ok := s.Properties[name]; !ok || len(p.Default) == 0 {
			return false
		}
	}
	return true
}

// Call connects to the server (with headers, the token cache and, when
// needed, the browser sign-in), performs one operation and disconnects.
func (c *Client) Call(ctx context.Context, req CallRequest) (*CallResult, error) {
	cs, err := c.Dial(ctx, newMCPClient(req.Elicit))
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", c.url, err)
	}
	defer cs.Close()
	return Do(ctx, cs, req)
}

// CommandOptions configures CallCommand.
type CommandOptions struct {
	// Env is the child's environment; nil inherits ours.
	Env []string
	// Stderr receives the child's stderr; default os.Stderr.
	Stderr io.Writer
}

// CallCommand starts argv as an MCP server on stdio (mcp-2coffee call --
// command args…), performs one operation and stops it.
func CallCommand(ctx context.Context, argv []string, opts CommandOptions, req CallRequest) (*CallResult, error) {
	if len(argv) == 0 {
		return nil, errors.New("no command given")
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = opts.Env
	cmd.Stderr = opts.Stderr
	if cmd.Stderr == nil {
		cmd.Stderr = os.Stderr
	}
	cs, err := newMCPClient(req.Elicit).Connect(ctx, &mcp.CommandTransport{Command: cmd}, nil)
	if err != nil {
		return nil, fmt.Errorf("starting %s: %w", argv[0], err)
	}
	defer cs.Close()
	return Do(ctx, cs, req)
}

// maxListItems bounds what one list call gathers across pages: the go-sdk
// follows nextCursor as long as the server hands one out, so a server that
// repeats a cursor would otherwise keep call running and growing forever.
const maxListItems = 10000

// collect gathers a paged listing, at most maxListItems items.
func collect[T any](seq iter.Seq2[T, error]) ([]T, error) {
	out := []T{}
	for x, err := range seq {
		if err != nil {
			return nil, err
		}
		if len(out) == maxListItems {
			return nil, fmt.Errorf("the server listed more than %d items (or repeats its page cursor); stopping", maxListItems)
		}
		out = append(out, x)
	}
	return out, nil
}

// Do performs req on an open session; Call and CallCommand use it.
func Do(ctx context.Context, cs *mcp.ClientSession, req CallRequest) (*CallResult, error) {
	out := &CallResult{Method: req.Method}
	switch req.Method {
	case MethodToolsList:
		tools, err := collect(cs.Tools(ctx, nil))
		if err != nil {
			return nil, err
		}
		out.Result = &mcp.ListToolsResult{Tools: tools}
	case MethodToolsCall:
		args := req.Arguments
		if args == nil {
			args = map[string]any{}
		}
		if ir := cs.InitializeResult(); ir != nil && ir.ProtocolVersion >= firstStatelessVersion {
			// From 2026-07-28 a client mirrors the arguments a tool marks
			// with x-mcp-header into Mcp-Param-* headers (SEP-2243); the
			// go-sdk does so for tools it has listed in this session.
			collect(cs.Tools(ctx, nil)) // errors show on the call itself
		}
		res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: req.Name, Arguments: args})
		if err != nil {
			return nil, err
		}
		out.Result, out.IsError = res, res.IsError
	case MethodResourcesList:
		resources, err := collect(cs.Resources(ctx, nil))
		if err != nil {
			return nil, err
		}
		out.Result = &mcp.ListResourcesResult{Resources: resources}
	case MethodResourceTemplates:
		templates, err := collect(cs.ResourceTemplates(ctx, nil))
		if err != nil {
			return nil, err
		}
		out.Result = &mcp.ListResourceTemplatesResult{ResourceTemplates: templates}
	case MethodResourcesRead:
		res, err := cs.ReadResource(ctx, &mcp.ReadResourceParams{URI: req.URI})
		if err != nil {
			return nil, err
		}
		out.Result = res
	case MethodPromptsList:
		prompts, err := collect(cs.Prompts(ctx, nil))
		if err != nil {
			return nil, err
		}
		out.Result = &mcp.ListPromptsResult{Prompts: prompts}
	case MethodPromptsGet:
		args := make(map[string]string, len(req.Arguments))
		for k, v := range req.Arguments {
			s, ok := v.(string)
			if !ok {
				return nil, fmt.Errorf("prompt argument %q must be a string", k)
			}
			args[k] = s
		}
		res, err := cs.GetPrompt(ctx, &mcp.GetPromptParams{Name: req.Name, Arguments: args})
		if err != nil {
			return nil, err
		}
		out.Result = res
	case MethodPing:
		if err := cs.Ping(ctx, nil); err != nil {
			return nil, err
		}
		out.Result = struct{}{}
	default:
		return nil, fmt.Errorf("unknown method %q", req.Method)
	}
	return out, nil
}
