package mcpcall

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Methods a Request may name (they mirror the protocol and the Inspector
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

// Request is one operation of `mcp-2coffee call`.
type Request struct {
	// Method is one of the Method* constants.
	Method string
	// Name is the tool (tools/call) or prompt (prompts/get).
	Name string
	// URI is the resource (resources/read).
	URI string
	// Arguments are the tool's or prompt's arguments.
	Arguments map[string]any
}

// Parse builds a Request from the words after METHOD on the command
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
func Parse(method string, args []string) (Request, error) {
	req := Request{Method: method}
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
