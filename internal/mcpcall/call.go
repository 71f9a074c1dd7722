// Package mcpcall is the one-shot MCP client behind `mcp-2coffee call`:
// it parses an operation from the command line, performs it on a remote
// server (through a bridge.Client, with its headers and OAuth sign-in) or
// on a server it starts on stdio, and renders the result as JSON or text.
package mcpcall

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"os/exec"

	"github.com/2coffee/mcp-2coffee/internal/bridge"
	"github.com/2coffee/mcp-2coffee/internal/paramheader"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

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

// Options configure how a call's client presents itself and behaves. The
// zero value is usable.
type Options struct {
	// Version is the client version sent in initialize (clientInfo);
	// empty means "dev".
	Version string
	// Elicit says how to answer the server's elicitation requests.
	Elicit ElicitPolicy
	// Env is the environment of the server Command starts; nil inherits
	// ours. Remote ignores it.
	Env []string
	// Stderr receives the stderr of the server Command starts; default
	// os.Stderr. Remote ignores it.
	Stderr io.Writer
}

// Remote connects to the server behind c (with its headers, its token
// cache and, when needed, the browser sign-in), performs one operation and
// disconnects.
func Remote(ctx context.Context, c *bridge.Client, req Request, opts Options) (*Result, error) {
	cs, err := c.Dial(ctx, newClient(opts))
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", c.URL(), err)
	}
	defer cs.Close()
	return Do(ctx, cs, req)
}

// Command starts argv as an MCP server on stdio (mcp-2coffee call --
// command args…), performs one operation and stops it.
func Command(ctx context.Context, argv []string, req Request, opts Options) (*Result, error) {
	if len(argv) == 0 {
		return nil, errors.New("no command given")
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = opts.Env
	cmd.Stderr = opts.Stderr
	if cmd.Stderr == nil {
		cmd.Stderr = os.Stderr
	}
	cs, err := newClient(opts).Connect(ctx, &mcp.CommandTransport{Command: cmd}, nil)
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

// Do performs req on an open session; Remote and Command use it.
func Do(ctx context.Context, cs *mcp.ClientSession, req Request) (*Result, error) {
	out := &Result{Method: req.Method}
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
		callCtx := ctx
		if ir := cs.InitializeResult(); ir != nil && ir.ProtocolVersion >= paramheader.FirstVersion {
			// From 2026-07-28 a client mirrors the arguments a tool marks
			// with x-mcp-header into Mcp-Param-* headers (SEP-2243): list
			// the tools to learn the marks. The bridge's transport sets
			// the headers (paramheader.Apply).
			tools, _ := collect(cs.Tools(ctx, nil)) // errors show on the call itself
			for _, t := range tools {
				if t.Name == req.Name {
					raw, err := json.Marshal(args)
					if err != nil {
						return nil, err
					}
					callCtx = paramheader.With(ctx, paramheader.For(ir.ProtocolVersion, t.InputSchema, raw))
					break
				}
			}
		}
		res, err := cs.CallTool(callCtx, &mcp.CallToolParams{Name: req.Name, Arguments: args})
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

// newClient is the go-sdk client of a call: no roots or sampling, and
// elicitation only as the policy says, since there is nobody to ask.
func newClient(o Options) *mcp.Client {
	opts := &mcp.ClientOptions{Capabilities: &mcp.ClientCapabilities{}}
	if o.Elicit != ElicitUnsupported {
		opts.ElicitationHandler = func(_ context.Context, req *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
			if o.Elicit == ElicitDefaults && req.Params.Mode != "url" && defaultsCoverRequired(req.Params.RequestedSchema) {
				// An empty answer: the SDK fills in the schema's defaults.
				return &mcp.ElicitResult{Action: "accept", Content: map[string]any{}}, nil
			}
			return &mcp.ElicitResult{Action: "decline"}, nil
		}
	}
	version := o.Version
	if version == "" {
		version = "dev"
	}
	return mcp.NewClient(&mcp.Implementation{Name: "mcp-2coffee", Version: version}, opts)
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
