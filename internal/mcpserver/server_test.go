package mcpserver_test

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/2coffee/mcp-2coffee/internal/authn"
	"github.com/2coffee/mcp-2coffee/internal/blog"
	"github.com/2coffee/mcp-2coffee/internal/mcpserver"
	"github.com/2coffee/mcp-2coffee/internal/store/sqlite"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// fixture is a server over a fresh SQLite blog and a client connected to
// it in memory, calling as principal p.
type fixture struct {
	svc     *blog.Service
	session *mcp.ClientSession
}

func newFixture(t *testing.T, p *authn.Principal, opts mcpserver.Options) *fixture {
	t.Helper()
	return newFixtureWith(t, p, opts, nil)
}

// newFixtureWith is newFixture with the go-sdk client's options.
func newFixtureWith(t *testing.T, p *authn.Principal, opts mcpserver.Options, clientOpts *mcp.ClientOptions) *fixture {
	t.Helper()
	ctx := t.Context()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "blog.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	clock := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	svc := blog.NewService(db, func() time.Time { return clock })
	opts.Principal = func(context.Context) *authn.Principal { return p }
	server := mcpserver.New(svc, opts)
	st, ct := mcp.NewInMemoryTransports()
	ss, err := server.Connect(ctx, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ss.Close() })
	client := mcp.NewClient(&mcp.Implementation{Name: "test", Version: "1"}, clientOpts)
	cs, err := client.Connect(ctx, ct, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cs.Close() })
	return &fixture{svc: svc, session: cs}
}

func (f *fixture) add(t *testing.T, a blog.Article) {
	t.Helper()
	if _, err := f.svc.Create(t.Context(), &a); err != nil {
		t.Fatalf("create %s: %v", a.Slug, err)
	}
}

func (f *fixture) call(t *testing.T, tool string, args map[string]any) *mcp.CallToolResult {
	t.Helper()
	res, err := f.session.CallTool(t.Context(), &mcp.CallToolParams{Name: tool, Arguments: args})
	if err != nil {
		t.Fatalf("%s: protocol error: %v", tool, err)
	}
	return res
}

func textOf(res *mcp.CallToolResult) string {
	var b strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	return b.String()
}

func decode[T any](t *testing.T, res *mcp.CallToolResult) T {
	t.Helper()
	var v T
	b, err := json.Marshal(res.StructuredContent)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("structured content %s: %v", b, err)
	}
	return v
}

var (
	day      = func(d int) time.Time { return time.Date(2025, 6, d, 9, 0, 0, 0, time.UTC) }
	reader   = &authn.Principal{Subject: "key:r", Scopes: []string{authn.ScopeRead}, Method: "api_key"}
	writer   = &authn.Principal{Subject: "key:w", Scopes: []string{authn.ScopeWrite}, Method: "api_key"}
	fixture3 = []blog.Article{
		{Slug: "channels-in-go", Title: "Channels in Go", Body: "A channel connects goroutines. Use a buffered channel as a semaphore.", Tags: []string{"go"}, Language: "en", PublishedAt: day(1)},
		{Slug: "ca-phe-sang", Title: "Cà phê sáng", Body: "Một ly cà phê đá trước khi viết code.", Tags: []string{"coffee"}, Language: "vi", PublishedAt: day(2)},
		{Slug: "secret-draft", Title: "Draft about goroutines", Body: "unpublished goroutines notes", Tags: []string{"go"}, Language: "en", PublishedAt: day(3), Draft: true},
	}
)

// TestSurfaceSnapshot pins the public surface — every tool's name,
// description, schemas and annotations, the prompts, the resource template
// and the instructions — in a golden file, so any change shows in review.
// Run "go test ./internal/mcpserver -update" to accept a change.
func TestSurfaceSnapshot(t *testing.T) {
	t.Parallel()
	f := newFixture(t, writer, mcpserver.Options{Version: "test"})
	ctx := t.Context()
	tools, err := f.session.ListTools(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	prompts, err := f.session.ListPrompts(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	templates, err := f.session.ListResourceTemplates(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	surface := map[string]any{
		"instructions":       f.session.InitializeResult().Instructions,
		"capabilities":       f.session.InitializeResult().Capabilities,
		"tools":              tools.Tools,
		"prompts":            prompts.Prompts,
		"resource_templates": templates.ResourceTemplates,
	}
	got, err := json.MarshalIndent(surface, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	golden := filepath.Join("testdata", "surface.golden.json")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("public MCP surface changed (-golden +got); if intended, run go test ./internal/mcpserver -update:\n%s", diff)
	}
}

func TestReadOnlyOptionDropsWriteTools(t *testing.T) {
	t.Parallel()
	f := newFixture(t, writer, mcpserver.Options{ReadOnly: true})
	tools, err := f.session.ListTools(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tool := range tools.Tools {
		names = append(names, tool.Name)
	}
	want := []string{mcpserver.ToolGet, mcpserver.ToolList, mcpserver.ToolTags, mcpserver.ToolSearch}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("tools (-want +got):\n%s", diff)
	}
}

func TestSearchTool(t *testing.T) {
	t.Parallel()
	f := newFixture(t, reader, mcpserver.Options{})
	for _, a := range fixture3 {
		f.add(t, a)
	}
	t.Run("vietnamese without diacritics", func(t *testing.T) {
		res := f.call(t, mcpserver.ToolSearch, map[string]any{"query": "ca phe"})
		if res.IsError {
			t.Fatalf("isError: %s", textOf(res))
		}
		out := decode[mcpserver.SearchOutput](t, res)
		if len(out.Results) != 1 || out.Results[0].Slug != "ca-phe-sang" {
			t.Fatalf("results = %+v, want only ca-phe-sang", out.Results)
		}
		if !strings.Contains(out.Results[0].Snippet, "**cà**") || !strings.Contains(out.Results[0].Snippet, "**phê**") {
			t.Errorf("snippet %q does not mark the original words", out.Results[0].Snippet)
		}
		if out.Results[0].URI != "blog://articles/ca-phe-sang" {
			t.Errorf("uri = %q", out.Results[0].URI)
		}
		if !strings.Contains(textOf(res), "Cà phê sáng (slug: ca-phe-sang") {
			t.Errorf("text block %q lacks the readable result", textOf(res))
		}
	})
	t.Run("drafts hidden from readers", func(t *testing.T) {
		out := decode[mcpserver.SearchOutput](t, f.call(t, mcpserver.ToolSearch, map[string]any{"query": "goroutines"}))
		if len(out.Results) != 1 || out.Results[0].Slug != "channels-in-go" {
			t.Errorf("results = %+v, want only the published article", out.Results)
		}
	})
	t.Run("operators are plain words", func(t *testing.T) {
		res := f.call(t, mcpserver.ToolSearch, map[string]any{"query": `semaphore" OR NEAR(( title:* -`})
		if res.IsError {
			t.Fatalf("isError: %s", textOf(res))
		}
	})
	for _, tc := range []struct {
		name string
		args map[string]any
		want string
	}{
		{"empty query", map[string]any{"query": "  "}, "query: has no words"},
		{"missing query", map[string]any{}, "query"},
		{"limit too big", map[string]any{"query": "go", "limit": 51}, "limit"},
		{"forged cursor", map[string]any{"query": "go", "cursor": "not-a-cursor"}, "cursor"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := f.call(t, mcpserver.ToolSearch, tc.args)
			if !res.IsError || !strings.Contains(textOf(res), tc.want) {
				t.Errorf("isError=%v text=%q, want an error mentioning %q", res.IsError, textOf(res), tc.want)
			}
		})
	}
}

func TestGetAndListTools(t *testing.T) {
	t.Parallel()
	f := newFixture(t, reader, mcpserver.Options{})
	for _, a := range fixture3 {
		f.add(t, a)
	}
	res := f.call(t, mcpserver.ToolGet, map[string]any{"slug": "channels-in-go"})
	got := decode[mcpserver.Article](t, res)
	if got.Body != fixture3[0].Body || got.PublishedAt != "2025-06-01T09:00:00Z" || got.Title != "Channels in Go" {
		t.Errorf("get_article = %+v", got)
	}
	if !strings.HasPrefix(textOf(res), "# Channels in Go\n") {
		t.Errorf("text block %q is not the Markdown article", textOf(res))
	}
	for _, slug := range []string{"secret-draft", "no-such-article"} {
		res := f.call(t, mcpserver.ToolGet, map[string]any{"slug": slug})
		if !res.IsError || !strings.Contains(textOf(res), "search_articles") {
			t.Errorf("get %s: isError=%v text=%q, want not-found pointing at search_articles", slug, res.IsError, textOf(res))
		}
	}
	list := decode[mcpserver.ListOutput](t, f.call(t, mcpserver.ToolList, map[string]any{"limit": 1}))
	if len(list.Articles) != 1 || list.Articles[0].Slug != "ca-phe-sang" || list.NextCursor == "" {
		t.Fatalf("first page = %+v", list)
	}
	if res := f.call(t, mcpserver.ToolSearch, map[string]any{"query": "go", "cursor": list.NextCursor}); !res.IsError || !strings.Contains(textOf(res), "listing cursor") {
		t.Errorf("a listing cursor given to search: isError=%v %q", res.IsError, textOf(res))
	}
	list = decode[mcpserver.ListOutput](t, f.call(t, mcpserver.ToolList, map[string]any{"limit": 1, "cursor": list.NextCursor}))
	if len(list.Articles) != 1 || list.Articles[0].Slug != "channels-in-go" || list.NextCursor != "" {
		t.Fatalf("second page = %+v, want the last published article and no cursor", list)
	}
	if res := f.call(t, mcpserver.ToolList, map[string]any{"include_drafts": true}); !res.IsError {
		t.Errorf("include_drafts for a reader: want an error, got %s", textOf(res))
	}
	tags := decode[mcpserver.TagsOutput](t, f.call(t, mcpserver.ToolTags, nil))
	if diff := cmp.Diff([]blog.TagCount{{Tag: "coffee", Count: 1}, {Tag: "go", Count: 1}}, tags.Tags); diff != "" {
		t.Errorf("list_tags (-want +got):\n%s", diff)
	}
}

func TestWriteTools(t *testing.T) {
	t.Parallel()
	t.Run("reader is refused and nothing changes", func(t *testing.T) {
		f := newFixture(t, reader, mcpserver.Options{})
		f.add(t, fixture3[0])
		for tool, args := range map[string]map[string]any{
			mcpserver.ToolCreate: {"title": "New", "body": "x"},
			mcpserver.ToolUpdate: {"slug": "channels-in-go", "title": "Changed"},
			mcpserver.ToolDelete: {"slug": "channels-in-go"},
		} {
			res := f.call(t, tool, args)
			if !res.IsError || !strings.Contains(textOf(res), "articles:write") {
				t.Errorf("%s: isError=%v text=%q, want a refusal naming articles:write", tool, res.IsError, textOf(res))
			}
		}
		a, err := f.svc.Get(t.Context(), "channels-in-go")
		if err != nil || a.Title != "Channels in Go" {
			t.Errorf("article after refused writes = %+v, %v", a, err)
		}
	})
	t.Run("writer creates, updates and deletes", func(t *testing.T) {
		f := newFixture(t, writer, mcpserver.Options{})
		created := decode[mcpserver.Article](t, f.call(t, mcpserver.ToolCreate, map[string]any{
			"title": "Đường đến Go", "body": "Nội dung", "tags": []string{"Go", "go"}, "language": "vi",
			"published_at": "2025-02-03T04:05:06Z",
		}))
		if created.Slug != "duong-den-go" || created.PublishedAt != "2025-02-03T04:05:06Z" || !cmp.Equal(created.Tags, []string{"go"}) {
			t.Fatalf("created = %+v", created)
		}
		if res := f.call(t, mcpserver.ToolCreate, map[string]any{"title": "Đường đến Go", "body": "again"}); !res.IsError || !strings.Contains(textOf(res), "conflict") {
			t.Errorf("duplicate create: isError=%v text=%q", res.IsError, textOf(res))
		}
		if res := f.call(t, mcpserver.ToolCreate, map[string]any{"title": "T", "body": "b", "published_at": "yesterday"}); !res.IsError || !strings.Contains(textOf(res), "published_at") {
			t.Errorf("bad time: isError=%v text=%q", res.IsError, textOf(res))
		}
		updated := decode[mcpserver.Article](t, f.call(t, mcpserver.ToolUpdate, map[string]any{"slug": "duong-den-go", "summary": "Tóm tắt", "draft": true}))
		if updated.Summary != "Tóm tắt" || !updated.Draft || updated.Body != "Nội dung" || updated.UpdatedAt != "2026-01-02T03:04:05Z" {
			t.Errorf("updated = %+v", updated)
		}
		if res := f.call(t, mcpserver.ToolUpdate, map[string]any{"slug": "duong-den-go", "title": ""}); !res.IsError || !strings.Contains(textOf(res), "title") {
			t.Errorf("empty title: isError=%v text=%q", res.IsError, textOf(res))
		}
		linked := decode[mcpserver.Article](t, f.call(t, mcpserver.ToolCreate, map[string]any{
			"title": "The road to Go", "body": "Content", "language": "en", "translation_key": "road-to-go",
		}))
		if linked.TranslationKey != "road-to-go" {
			t.Errorf("created with a translation key = %+v", linked)
		}
		vi := decode[mcpserver.Article](t, f.call(t, mcpserver.ToolUpdate, map[string]any{"slug": "duong-den-go", "translation_key": "road-to-go"}))
		if vi.TranslationKey != "road-to-go" || vi.Summary != "Tóm tắt" {
			t.Errorf("linked by update = %+v", vi)
		}
		if a, _ := f.svc.Get(t.Context(), "duong-den-go"); a.TranslationKey != "road-to-go" {
			t.Errorf("stored after linking = %+v", a)
		}
		if res := f.call(t, mcpserver.ToolUpdate, map[string]any{"slug": "duong-den-go", "translation_key": ""}); res.IsError || decode[mcpserver.Article](t, res).TranslationKey != "" {
			t.Errorf("unlinking: %s", textOf(res))
		}
		del := decode[mcpserver.DeleteOutput](t, f.call(t, mcpserver.ToolDelete, map[string]any{"slug": "duong-den-go"}))
		if !del.Deleted {
			t.Errorf("delete = %+v", del)
		}
		if _, err := f.svc.Get(t.Context(), "duong-den-go"); err == nil {
			t.Errorf("article still there after delete")
		}
	})
}

// TestWritesAnnounceTheResourceList checks the server keeps the promise
// its capabilities make: every write tool call that changes the articles
// is followed by notifications/resources/list_changed, so a client that
// caches resources/list refreshes it; tools and prompts, which never
// change, are not advertised as changing.
func TestWritesAnnounceTheResourceList(t *testing.T) {
	t.Parallel()
	changed := make(chan struct{}, 16)
	f := newFixtureWith(t, writer, mcpserver.Options{}, &mcp.ClientOptions{
		ResourceListChangedHandler: func(context.Context, *mcp.ResourceListChangedRequest) { changed <- struct{}{} },
	})
	caps := f.session.InitializeResult().Capabilities
	if caps.Resources == nil || !caps.Resources.ListChanged || caps.Tools == nil || caps.Tools.ListChanged || caps.Prompts == nil || caps.Prompts.ListChanged {
		t.Fatalf("capabilities = resources %+v tools %+v prompts %+v; want listChanged on resources only", caps.Resources, caps.Tools, caps.Prompts)
	}
	announced := func(what string) {
		t.Helper()
		select {
		case <-changed:
		case <-time.After(30 * time.Second):
			t.Fatalf("no notifications/resources/list_changed after %s", what)
		}
		for len(changed) > 0 { // debounced notifications may merge or not
			<-changed
		}
	}
	listed := func() []string {
		t.Helper()
		var uris []string
		for r, err := range f.session.Resources(t.Context(), nil) {
			if err != nil {
				t.Fatal(err)
			}
			uris = append(uris, r.URI)
		}
		return uris
	}
	for _, step := range []struct {
		tool string
		args map[string]any
		want []string
	}{
		{mcpserver.ToolCreate, map[string]any{"title": "Fresh post", "body": "x"}, []string{"blog://articles/fresh-post"}},
		{mcpserver.ToolUpdate, map[string]any{"slug": "fresh-post", "title": "Renamed"}, []string{"blog://articles/fresh-post"}},
		{mcpserver.ToolDelete, map[string]any{"slug": "fresh-post"}, nil},
	} {
		if res := f.call(t, step.tool, step.args); res.IsError {
			t.Fatalf("%s: %s", step.tool, textOf(res))
		}
		announced(step.tool)
		if got := listed(); !cmp.Equal(got, step.want) {
			t.Errorf("resources/list after %s = %v, want %v", step.tool, got, step.want)
		}
	}

	ro := newFixture(t, writer, mcpserver.Options{ReadOnly: true}).session.InitializeResult().Capabilities
	if ro.Resources == nil || ro.Resources.ListChanged {
		t.Errorf("read-only server: resources capability %+v, want no listChanged (it has no write tools)", ro.Resources)
	}
	sl := newFixture(t, writer, mcpserver.Options{Stateless: true}).session.InitializeResult().Capabilities
	if sl.Resources == nil || sl.Resources.ListChanged {
		t.Errorf("stateless server: resources capability %+v, want no listChanged (no stream to send it on)", sl.Resources)
	}
}

func TestResourcesPromptsAndCompletion(t *testing.T) {
	t.Parallel()
	f := newFixture(t, reader, mcpserver.Options{})
	for _, a := range fixture3 {
		f.add(t, a)
	}
	ctx := t.Context()
	list, err := f.session.ListResources(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var uris []string
	for _, r := range list.Resources {
		uris = append(uris, r.URI)
	}
	if diff := cmp.Diff([]string{"blog://articles/ca-phe-sang", "blog://articles/channels-in-go"}, uris); diff != "" {
		t.Errorf("resources/list (-want +got):\n%s", diff)
	}
	read, err := f.session.ReadResource(ctx, &mcp.ReadResourceParams{URI: "blog://articles/ca-phe-sang"})
	if err != nil {
		t.Fatal(err)
	}
	if c := read.Contents[0]; c.MIMEType != "text/markdown" || !strings.Contains(c.Text, "Một ly cà phê đá") {
		t.Errorf("resources/read = %+v", c)
	}
	for _, uri := range []string{"blog://articles/secret-draft", "blog://articles/missing", "blog://articles/../etc"} {
		if _, err := f.session.ReadResource(ctx, &mcp.ReadResourceParams{URI: uri}); err == nil || !strings.Contains(err.Error(), "not found") {
			t.Errorf("read %s: err = %v, want resource not found", uri, err)
		}
	}

	p, err := f.session.GetPrompt(ctx, &mcp.GetPromptParams{Name: mcpserver.PromptSummarize, Arguments: map[string]string{"slug": "channels-in-go", "audience": "a manager"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Messages) != 2 {
		t.Fatalf("summarize messages = %d", len(p.Messages))
	}
	if er, ok := p.Messages[0].Content.(*mcp.EmbeddedResource); !ok || er.Resource.URI != "blog://articles/channels-in-go" {
		t.Errorf("first message = %#v, want the embedded article", p.Messages[0].Content)
	}
	if tc, ok := p.Messages[1].Content.(*mcp.TextContent); !ok || !strings.Contains(tc.Text, "a manager") {
		t.Errorf("instruction = %#v", p.Messages[1].Content)
	}
	if _, err := f.session.GetPrompt(ctx, &mcp.GetPromptParams{Name: mcpserver.PromptSummarize, Arguments: map[string]string{"slug": "nope"}}); err == nil || !strings.Contains(err.Error(), `no article with slug "nope"`) {
		t.Errorf("summarize unknown slug: err = %v", err)
	}
	outline, err := f.session.GetPrompt(ctx, &mcp.GetPromptParams{Name: mcpserver.PromptOutline, Arguments: map[string]string{"topic": "goroutines"}})
	if err != nil {
		t.Fatal(err)
	}
	if tc := outline.Messages[0].Content.(*mcp.TextContent); !strings.Contains(tc.Text, "Channels in Go (blog://articles/channels-in-go)") || strings.Contains(tc.Text, "secret-draft") {
		t.Errorf("outline does not list the related published article only:\n%s", tc.Text)
	}
	related, err := f.session.GetPrompt(ctx, &mcp.GetPromptParams{Name: mcpserver.PromptRelated, Arguments: map[string]string{"slug": "channels-in-go"}})
	if err != nil {
		t.Fatal(err)
	}
	if tc := related.Messages[1].Content.(*mcp.TextContent); strings.Contains(tc.Text, "slug: channels-in-go") {
		t.Errorf("related reading recommends the article itself:\n%s", tc.Text)
	}

	comp, err := f.session.Complete(ctx, &mcp.CompleteParams{
		Ref:      &mcp.CompleteReference{Type: "ref/resource", URI: "blog://articles/{slug}"},
		Argument: mcp.CompleteParamsArgument{Name: "slug", Value: "chan"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"channels-in-go"}, comp.Completion.Values); diff != "" {
		t.Errorf("completion (-want +got):\n%s", diff)
	}
	comp, err = f.session.Complete(ctx, &mcp.CompleteParams{
		Ref:      &mcp.CompleteReference{Type: "ref/prompt", Name: mcpserver.PromptRelated},
		Argument: mcp.CompleteParamsArgument{Name: "slug", Value: ""},
	})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"ca-phe-sang", "channels-in-go"}, comp.Completion.Values); diff != "" {
		t.Errorf("completion of an empty prefix (-want +got):\n%s", diff)
	}
}
