package mcpserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/2coffee/mcp-2coffee/internal/testkit"

	"github.com/google/go-cmp/cmp"
	"github.com/google/jsonschema-go/jsonschema"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/2coffee/mcp-2coffee/internal/authn"
	"github.com/2coffee/mcp-2coffee/internal/blog"
	"github.com/2coffee/mcp-2coffee/internal/errdefs"
)

var (
	readPrincipal  = &authn.Principal{Subject: "key:r", Scopes: []string{authn.ScopeRead}, Method: "api_key"}
	writePrincipal = &authn.Principal{Subject: "key:w", Scopes: []string{authn.ScopeWrite}, Method: "api_key"}
)

// unscoped is a table entry declared with scope, counting its runs in ran.
func unscoped(name, scope string, ran *atomic.Int32) tool {
	return newTool(&mcp.Tool{Name: name}, scope, func(*handlers, context.Context, struct{}) (string, any, error) {
		ran.Add(1)
		return "ran", nil, nil
	})
}

// connect returns a client session with server, in memory.
func connect(t *testing.T, server *mcp.Server) *mcp.ClientSession {
	t.Helper()
	st, ct := mcp.NewInMemoryTransports()
	ss, err := server.Connect(t.Context(), st, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ss.Close() })
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "test", Version: "1"}, nil).Connect(t.Context(), ct, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cs.Close() })
	return cs
}

func as(p *authn.Principal) func(context.Context) *authn.Principal {
	return func(context.Context) *authn.Principal { return p }
}

func resultText(res *mcp.CallToolResult) string {
	var b strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	return b.String()
}

// TestTable checks the facts each entry declares against each other.
func TestTable(t *testing.T) {
	seen := map[string]bool{}
	for _, e := range tools() {
		name := e.def.Name
		if seen[name] {
			t.Errorf("%s is in the table twice", name)
		}
		seen[name] = true
		if !authn.ValidScope(e.scope) {
			t.Errorf("%s declares scope %q, which is no scope: it would need articles:write", name, e.scope)
		}
		// The annotation a client reads and the scope the server enforces
		// must tell the same story: a tool a reader may call changes
		// nothing, and one that changes something needs articles:write.
		// A tool may read what only writers may see (an article's
		// history): read-only, yet articles:write.
		readOnly := e.def.Annotations != nil && e.def.Annotations.ReadOnlyHint
		if e.scope == authn.ScopeRead && !readOnly {
			t.Errorf("%s: scope %s but no readOnlyHint", name, e.scope)
		}
		if readOnly && e.scope != authn.ScopeRead && name != ToolRevisions && name != ToolRevision {
			t.Errorf("%s: readOnlyHint but scope %s, and it is not one of the history tools", name, e.scope)
		}
	}
}

func TestScopes(t *testing.T) {
	tests := []struct{ method, tool, want string }{
		{"tools/call", ToolSearch, authn.ScopeRead},
		{"tools/call", ToolGet, authn.ScopeRead},
		{"tools/call", ToolList, authn.ScopeRead},
		{"tools/call", ToolTags, authn.ScopeRead},
		{"tools/call", ToolCreate, authn.ScopeWrite},
		{"tools/call", ToolUpdate, authn.ScopeWrite},
		{"tools/call", ToolDelete, authn.ScopeWrite},
		// No tool by that name: the go-sdk answers -32602.
		{"tools/call", "no_such_tool", authn.ScopeRead},
		{"tools/call", "Create_Article", authn.ScopeRead},
		// No readable name: the check cannot tell what would run.
		{"tools/call", "", authn.ScopeWrite},
		{"tools/list", "", authn.ScopeRead},
		{"initialize", "", authn.ScopeRead},
		{"resources/read", "", authn.ScopeRead},
		{"prompts/get", "", authn.ScopeRead},
	}
	scopes := Scopes()
	for _, tt := range tests {
		if got := scopes(tt.method, tt.tool); got != tt.want {
			t.Errorf("Scopes()(%q, %q) = %q, want %q", tt.method, tt.tool, got, tt.want)
		}
	}
}

// TestEntryWithoutScopeFailsClosed: an entry whose scope was left out or
// misspelt is treated as a write tool everywhere the table is read.
func TestEntryWithoutScopeFailsClosed(t *testing.T) {
	t.Parallel()
	var ran atomic.Int32
	table := append(tools(), unscoped("unscoped", "", &ran), unscoped("misspelt", "articles:wirte", &ran))
	scopes := scopesOf(table)
	for _, name := range []string{"unscoped", "misspelt"} {
		if got := scopes("tools/call", name); got != authn.ScopeWrite {
			t.Errorf("scope of %s = %q, want %s", name, got, authn.ScopeWrite)
		}
	}

	reader := connect(t, newServer(nil, Options{Principal: as(readPrincipal)}, table))
	for _, name := range []string{"unscoped", "misspelt"} {
		res, err := reader.CallTool(t.Context(), &mcp.CallToolParams{Name: name})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !res.IsError || !strings.Contains(resultText(res), "articles:write") {
			t.Errorf("%s for a reader: isError=%v %q, want a refusal naming articles:write", name, res.IsError, resultText(res))
		}
	}
	if n := ran.Load(); n != 0 {
		t.Fatalf("ran %d times for a reader, want 0", n)
	}

	writer := connect(t, newServer(nil, Options{Principal: as(writePrincipal)}, table))
	if res, err := writer.CallTool(t.Context(), &mcp.CallToolParams{Name: "unscoped"}); err != nil || res.IsError {
		t.Errorf("unscoped for a writer: %v %v", err, res)
	}
	if n := ran.Load(); n != 1 {
		t.Errorf("ran %d times, want 1", n)
	}

	readOnly := connect(t, newServer(nil, Options{Principal: as(writePrincipal), ReadOnly: true}, table))
	list, err := readOnly.ListTools(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tool := range list.Tools {
		names = append(names, tool.Name)
	}
	if slices.Contains(names, "unscoped") || slices.Contains(names, "misspelt") {
		t.Errorf("read-only server lists %q, want no unscoped tool", names)
	}
}

// fakeArticles answers Get by slug: an article, or the error the slug
// names. The other methods are not called.
type fakeArticles struct{ blog.Articles }

func (fakeArticles) Get(ctx context.Context, slug string) (*blog.Article, error) {
	switch slug {
	case "gone":
		return nil, fmt.Errorf("article %q: %w", slug, errdefs.ErrNotFound)
	case "down":
		return nil, fmt.Errorf("database is locked: %w", errdefs.ErrUnavailable)
	case "late":
		return nil, context.DeadlineExceeded
	case "boom":
		return nil, errors.New("disk on fire at /var/lib/secret")
	}
	return &blog.Article{Slug: slug, Title: "T", Body: "b", Language: "en"}, nil
}

// TestWrapper checks what the shared wrapper does around every tool: the
// error mapping, the outcome reported to OnToolCall, and the in-tool
// scope check.
func TestWrapper(t *testing.T) {
	t.Parallel()
	var (
		mu       sync.Mutex
		outcomes []string
		logs     testkit.Buffer
	)
	opts := Options{
		Principal: as(readPrincipal),
		Logger:    slog.New(slog.NewTextHandler(&logs, nil)),
		OnToolCall: func(tool, outcome string) {
			mu.Lock()
			defer mu.Unlock()
			outcomes = append(outcomes, tool+" "+outcome)
		},
	}
	cs := connect(t, New(fakeArticles{}, opts))
	tests := []struct {
		tool, slug string
		isError    bool
		text       string // a part of the text a model reads
		outcome    string
	}{
		{ToolGet, "ok", false, "# T", "get_article ok"},
		{ToolGet, "gone", true, "Use search_articles or list_articles", "get_article user_error"},
		{ToolGet, "down", true, "the blog is unavailable right now", "get_article unavailable"},
		{ToolGet, "late", true, "cancelled or timed out", "get_article cancelled"},
		{ToolGet, "boom", true, "internal error while running get_article; the server log has details", "get_article error"},
		// The reader lacks the scope: refused before the handler runs.
		{ToolDelete, "ok", true, "this needs the articles:write scope", "delete_article user_error"},
	}
	for _, tt := range tests {
		res, err := cs.CallTool(t.Context(), &mcp.CallToolParams{Name: tt.tool, Arguments: map[string]any{"slug": tt.slug}})
		if err != nil {
			t.Fatalf("%s %s: %v", tt.tool, tt.slug, err)
		}
		if res.IsError != tt.isError || !strings.Contains(resultText(res), tt.text) {
			t.Errorf("%s %s: isError=%v %q, want isError=%v and %q", tt.tool, tt.slug, res.IsError, resultText(res), tt.isError, tt.text)
		}
		if strings.Contains(resultText(res), "disk on fire") {
			t.Errorf("%s %s: the unexpected error leaked to the caller: %q", tt.tool, tt.slug, resultText(res))
		}
	}
	var want []string
	for _, tt := range tests {
		want = append(want, tt.outcome)
	}
	mu.Lock()
	got := slices.Clone(outcomes)
	mu.Unlock()
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("OnToolCall (-want +got):\n%s", diff)
	}
	if l := logs.String(); !strings.Contains(l, "disk on fire") || !strings.Contains(l, "tool=get_article") {
		t.Errorf("the unexpected error is not in the log:\n%s", l)
	}
}

// TestDecodeAppliesDefaults: no input of the table declares a default
// today, so the wrapper's path for one is tested on a schema made here.
func TestDecodeAppliesDefaults(t *testing.T) {
	ten := json.RawMessage("10")
	schema := &jsonschema.Schema{
		Type:                 "object",
		Properties:           map[string]*jsonschema.Schema{"limit": {Type: "integer", Default: ten}, "tag": {Type: "string"}},
		AdditionalProperties: &jsonschema.Schema{Not: &jsonschema.Schema{}},
	}
	io := &toolIO{input: schema}
	type in struct {
		Limit int    `json:"limit"`
		Tag   string `json:"tag"`
	}
	for _, tt := range []struct {
		args string
		want in
	}{
		{``, in{Limit: 10}},
		{`null`, in{Limit: 10}},
		{`{"tag":"go"}`, in{Limit: 10, Tag: "go"}},
		{`{"limit":3}`, in{Limit: 3}},
	} {
		var got in
		if err := io.decode(json.RawMessage(tt.args), &got); err != nil {
			t.Errorf("decode(%q): %v", tt.args, err)
			continue
		}
		if got != tt.want {
			t.Errorf("decode(%q) = %+v, want %+v", tt.args, got, tt.want)
		}
	}
	var got in
	if err := io.decode(json.RawMessage(`{"limit":"3"}`), &got); err == nil {
		t.Errorf("decode of a string limit succeeded: %+v", got)
	}
}
