package mcpserver_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/jsonschema-go/jsonschema"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/2coffee/mcp-2coffee/internal/blog"
	"github.com/2coffee/mcp-2coffee/internal/mcpserver"
)

// resolved returns a tools/list schema resolved for validation.
func resolved(t *testing.T, what string, schema any) *jsonschema.Resolved {
	t.Helper()
	b, err := json.Marshal(schema)
	if err != nil {
		t.Fatal(err)
	}
	var s jsonschema.Schema
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	rs, err := s.Resolve(nil)
	if err != nil {
		t.Fatalf("%s does not resolve: %v", what, err)
	}
	return rs
}

// TestToolResultsMatchTheirOutputSchemas calls every tool the server
// lists, as a writer, and checks each structured result against the
// output schema tools/list advertises. The server does not check its own
// results on every call (see newTool); this is where a result type and
// its schema drifting apart is caught.
func TestToolResultsMatchTheirOutputSchemas(t *testing.T) {
	t.Parallel()
	f := newFixture(t, writer, mcpserver.Options{})
	for _, a := range fixture3 {
		f.add(t, a)
	}
	// In this order: the writes follow one article through its life.
	calls := []struct {
		tool string
		args map[string]any
	}{
		{mcpserver.ToolSearch, map[string]any{"query": "channel"}},
		{mcpserver.ToolGet, map[string]any{"slug": "channels-in-go"}},
		{mcpserver.ToolList, map[string]any{"include_drafts": true}},
		{mcpserver.ToolTags, map[string]any{}},
		{mcpserver.ToolCreate, map[string]any{"title": "Select in Go", "body": "select waits on many channels", "tags": []string{"go"}}},
		{mcpserver.ToolUpdate, map[string]any{"slug": "select-in-go", "summary": "waiting on channels", "draft": true}},
		{mcpserver.ToolRevisions, map[string]any{"slug": "select-in-go"}},
		{mcpserver.ToolRevision, map[string]any{"slug": "select-in-go", "revision": 4}},
		{mcpserver.ToolRestoreRevision, map[string]any{"slug": "select-in-go", "revision": 4}},
		{mcpserver.ToolDelete, map[string]any{"slug": "select-in-go"}},
		{mcpserver.ToolRestore, map[string]any{"slug": "select-in-go"}},
	}
	list, err := f.session.ListTools(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]*mcp.Tool{}
	for _, tool := range list.Tools {
		listed[tool.Name] = tool
	}
	for _, c := range calls {
		tool, ok := listed[c.tool]
		if !ok {
			t.Fatalf("%s is not listed", c.tool)
		}
		delete(listed, c.tool)
		res := f.call(t, tool.Name, c.args)
		if res.IsError {
			t.Fatalf("%s: %s", tool.Name, textOf(res))
		}
		if tool.OutputSchema == nil {
			if res.StructuredContent != nil {
				t.Errorf("%s declares no output schema but returned structured content", tool.Name)
			}
			continue
		}
		// Checked as a client sees it: the JSON from the wire, decoded.
		b, err := json.Marshal(res.StructuredContent)
		if err != nil {
			t.Fatal(err)
		}
		var v any
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatal(err)
		}
		if err := resolved(t, tool.Name+" outputSchema", tool.OutputSchema).Validate(v); err != nil {
			t.Errorf("%s: the result does not match its output schema: %v\n%s", tool.Name, err, b)
		}
	}
	for name := range listed {
		t.Errorf("%s has no call in this test: add one", name)
	}
}

// TestInputSchemasAreClosed: the wrapper decodes arguments with
// encoding/json, which matches keys to fields ignoring case, after the
// schema has refused any key that is not exactly a property. That holds
// only while every input schema is closed.
func TestInputSchemasAreClosed(t *testing.T) {
	t.Parallel()
	f := newFixture(t, writer, mcpserver.Options{})
	list, err := f.session.ListTools(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tool := range list.Tools {
		b, _ := json.Marshal(tool.InputSchema)
		var s struct {
			Type                 string `json:"type"`
			AdditionalProperties any    `json:"additionalProperties"`
		}
		if err := json.Unmarshal(b, &s); err != nil {
			t.Fatal(err)
		}
		if s.Type != "object" || s.AdditionalProperties != false {
			t.Errorf("%s: input schema %s is not a closed object", tool.Name, b)
		}
	}
}

// TestArgumentsAreChecked sends arguments the input schema refuses; each
// gets a tool error naming the problem, and the tool does not run.
func TestArgumentsAreChecked(t *testing.T) {
	t.Parallel()
	f := newFixture(t, writer, mcpserver.Options{})
	for _, a := range fixture3 {
		f.add(t, a)
	}
	tests := []struct {
		name string
		tool string
		args any
		want string
	}{
		{"missing required", mcpserver.ToolGet, map[string]any{}, "slug"},
		{"no arguments at all", mcpserver.ToolGet, nil, "slug"},
		{"wrong type", mcpserver.ToolGet, map[string]any{"slug": 5}, "slug"},
		{"a key in the wrong case", mcpserver.ToolGet, map[string]any{"Slug": "channels-in-go"}, "Slug"},
		{"an unknown key", mcpserver.ToolGet, map[string]any{"slug": "channels-in-go", "extra": 1}, "extra"},
		{"too long", mcpserver.ToolGet, map[string]any{"slug": strings.Repeat("a", blog.MaxSlugLen+1)}, "slug"},
		{"not an object", mcpserver.ToolGet, []any{"channels-in-go"}, "unmarshaling arguments"},
		{"limit out of range", mcpserver.ToolList, map[string]any{"limit": blog.MaxPage + 1}, "limit"},
		{"a fractional limit", mcpserver.ToolList, map[string]any{"limit": 1.5}, "limit"},
		// A write whose arguments are refused changes nothing.
		{"create without a body", mcpserver.ToolCreate, map[string]any{"title": "No body"}, "body"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := f.session.CallTool(t.Context(), &mcp.CallToolParams{Name: tt.tool, Arguments: tt.args})
			if err != nil {
				t.Fatalf("protocol error: %v", err)
			}
			text := textOf(res)
			if !res.IsError || !strings.Contains(text, `validating "arguments"`) || !strings.Contains(text, tt.want) {
				t.Errorf("isError=%v %q, want a tool error about the arguments naming %q", res.IsError, text, tt.want)
			}
			if res.StructuredContent != nil {
				t.Errorf("structured content on a refused call: %v", res.StructuredContent)
			}
		})
	}
	page, err := f.svc.List(t.Context(), blog.ListOptions{IncludeDrafts: true})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(page.Articles); n != len(fixture3) {
		t.Errorf("%d articles after the refused calls, want %d", n, len(fixture3))
	}
	// The slug check passed with the right key, so the wrapper decodes
	// what it validated.
	if res := f.call(t, mcpserver.ToolGet, map[string]any{"slug": "channels-in-go"}); res.IsError || !strings.Contains(textOf(res), "# Channels in Go") {
		t.Errorf("get_article with valid arguments: %q", textOf(res))
	}
}
