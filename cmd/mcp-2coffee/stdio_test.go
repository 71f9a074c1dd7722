package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/2coffee/mcp-2coffee/internal/blog"
	"github.com/2coffee/mcp-2coffee/internal/mcpserver"
	"github.com/2coffee/mcp-2coffee/internal/sample"
	"github.com/2coffee/mcp-2coffee/internal/store/postgres/pgtest"
)

// selfCommand returns a command that runs this test binary as
// mcp-2coffee with args (see TestMain).
func selfCommand(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "MCP_2COFFEE_TEST_MAIN=1")
	return cmd
}

// connectStdio starts "mcp-2coffee stdio" with args as a child process and
// connects the go-sdk client to it through mcp.CommandTransport, as a
// desktop client would.
func connectStdio(t *testing.T, cmd *exec.Cmd) *mcp.ClientSession {
	t.Helper()
	return connectStdioWith(t, cmd, nil)
}

// connectStdioWith is connectStdio with the go-sdk client's options.
func connectStdioWith(t *testing.T, cmd *exec.Cmd, opts *mcp.ClientOptions) *mcp.ClientSession {
	t.Helper()
	var stderr strings.Builder
	cmd.Stderr = &stderr
	client := mcp.NewClient(&mcp.Implementation{Name: "stdio-test", Version: "1"}, opts)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	cs, err := client.Connect(ctx, &mcp.CommandTransport{Command: cmd}, nil)
	if err != nil {
		t.Fatalf("connect: %v\nstderr:\n%s", err, stderr.String())
	}
	t.Cleanup(func() {
		cs.Close()
		if t.Failed() {
			t.Logf("server stderr:\n%s", stderr.String())
		}
	})
	return cs
}

// samples returns the bundled articles, the source of truth the
// assertions below are derived from.
func samples(t *testing.T) []*blog.Article {
	t.Helper()
	as, err := sample.Parse()
	if err != nil {
		t.Fatal(err)
	}
	return as
}

func structured[T any](t *testing.T, res *mcp.CallToolResult) T {
	t.Helper()
	if res.IsError {
		t.Fatalf("tool error: %v", res.Content)
	}
	b, _ := json.Marshal(res.StructuredContent)
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return v
}

func callTool(t *testing.T, cs *mcp.ClientSession, name string, args map[string]any) *mcp.CallToolResult {
	t.Helper()
	res, err := cs.CallTool(t.Context(), &mcp.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return res
}

// TestStdioAgainstBundledSample drives the real stdio server as a child
// process with the go-sdk client and checks every tool, resource and prompt
// against the bundled sample articles.
// TestStdioAgainstBundledSample drives the whole MCP surface over stdio,
// on each backend: what a desktop client sees must not depend on where
// the blog is kept.
func TestStdioAgainstBundledSample(t *testing.T) {
	for name, database := range map[string]func(t *testing.T) string{
		"sqlite":   func(t *testing.T) string { return filepath.Join(t.TempDir(), "data", "blog.db") },
		"postgres": func(t *testing.T) string { return pgtest.Schema(t) },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			testStdioAgainstBundledSample(t, database(t))
		})
	}
}

func testStdioAgainstBundledSample(t *testing.T, database string) {
	cs := connectStdio(t, selfCommand(t, "stdio", "--database", database))
	all := samples(t)
	var published []*blog.Article
	for _, a := range all {
		if !a.Draft {
			published = append(published, a)
		}
	}
	if len(all) < 25 {
		t.Fatalf("only %d sample articles", len(all))
	}

	t.Run("tools/list", func(t *testing.T) {
		res, err := cs.ListTools(t.Context(), nil)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, tool := range res.Tools {
			names = append(names, tool.Name)
			if tool.OutputSchema == nil {
				t.Errorf("%s has no output schema", tool.Name)
			}
		}
		sort.Strings(names)
		want := []string{"create_article", "delete_article", "get_article", "get_revision", "list_articles", "list_revisions", "list_tags",
			"restore_article", "restore_revision", "search_articles", "update_article"}
		if diff := cmp.Diff(want, names); diff != "" {
			t.Errorf("tools (-want +got):\n%s", diff)
		}
	})

	t.Run("search a word in exactly two articles", func(t *testing.T) {
		// Which published articles hold the word, and which has it in the
		// title, straight from the sample files.
		var holders []string
		var inTitle string
		for _, a := range published {
			text := strings.ToLower(a.Title + " " + a.Summary + " " + a.Body + " " + strings.Join(a.Tags, " "))
			if slices.Contains(blog.Words(text), "semaphore") {
				holders = append(holders, a.Slug)
				if slices.Contains(blog.Words(a.Title), "semaphore") {
					inTitle = a.Slug
				}
			}
		}
		if len(holders) != 2 || inTitle == "" {
			t.Fatalf("the sample should have \"semaphore\" in exactly two articles, one in its title; have %v (title: %q)", holders, inTitle)
		}
		out := structured[mcpserver.SearchOutput](t, callTool(t, cs, "search_articles", map[string]any{"query": "semaphore"}))
		var got []string
		for _, r := range out.Results {
			got = append(got, r.Slug)
			if !strings.Contains(strings.ToLower(r.Snippet), "**semaphore") {
				t.Errorf("snippet of %s does not mark the word: %q", r.Slug, r.Snippet)
			}
		}
		if len(got) != 2 || got[0] != inTitle || !slices.Contains(holders, got[1]) {
			t.Errorf("search semaphore = %v, want both of %v with %s (word in the title) first", got, holders, inTitle)
		}
		if out.Results[0].Score <= out.Results[1].Score {
			t.Errorf("scores not descending: %v, %v", out.Results[0].Score, out.Results[1].Score)
		}
	})

	t.Run("vietnamese search without diacritics", func(t *testing.T) {
		var want []string
		for _, a := range published {
			if strings.Contains(strings.ToLower(a.Title+" "+a.Summary+" "+a.Body), "cà phê") {
				want = append(want, a.Slug)
			}
		}
		if len(want) < 2 {
			t.Fatalf("sample should have \"cà phê\" in at least two articles, has %v", want)
		}
		out := structured[mcpserver.SearchOutput](t, callTool(t, cs, "search_articles", map[string]any{"query": `"ca phe"`, "limit": 50}))
		var got []string
		for _, r := range out.Results {
			got = append(got, r.Slug)
		}
		sort.Strings(got)
		sort.Strings(want)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf(`search "ca phe" (-want +got):\n%s`, diff)
		}
	})

	t.Run("user mistakes are tool errors", func(t *testing.T) {
		for _, tc := range []struct {
			tool string
			args map[string]any
			want string
		}{
			{"search_articles", map[string]any{"query": ""}, "no words"},
			{"get_article", map[string]any{"slug": "does-not-exist"}, "not found"},
			{"get_article", map[string]any{"slug": "Not A Slug"}, "slug"},
		} {
			res := callTool(t, cs, tc.tool, tc.args)
			var text string
			for _, c := range res.Content {
				text += c.(*mcp.TextContent).Text
			}
			if !res.IsError || !strings.Contains(text, tc.want) {
				t.Errorf("%s %v: isError=%v %q, want an error with %q", tc.tool, tc.args, res.IsError, text, tc.want)
			}
		}
	})

	t.Run("get_article returns the file's body", func(t *testing.T) {
		a := published[0]
		got := structured[mcpserver.Article](t, callTool(t, cs, "get_article", map[string]any{"slug": a.Slug}))
		if got.Body != a.Body || got.Title != a.Title || got.Language != a.Language {
			t.Errorf("get_article %s = %+v, want the sample's title, language and body", a.Slug, got)
		}
	})

	t.Run("list_articles pages through every published article newest first", func(t *testing.T) {
		want := slices.Clone(published)
		sort.SliceStable(want, func(i, j int) bool {
			if !want[i].PublishedAt.Equal(want[j].PublishedAt) {
				return want[i].PublishedAt.After(want[j].PublishedAt)
			}
			return want[i].Slug < want[j].Slug
		})
		var got []string
		cursor := ""
		for pages := 0; pages < 20; pages++ {
			out := structured[mcpserver.ListOutput](t, callTool(t, cs, "list_articles", map[string]any{"limit": 7, "cursor": cursor}))
			for _, a := range out.Articles {
				got = append(got, a.Slug)
			}
			if cursor = out.NextCursor; cursor == "" {
				break
			}
		}
		var wantSlugs []string
		for _, a := range want {
			wantSlugs = append(wantSlugs, a.Slug)
		}
		if diff := cmp.Diff(wantSlugs, got); diff != "" {
			t.Errorf("list_articles (-want +got):\n%s", diff)
		}
	})

	t.Run("list_tags counts published articles", func(t *testing.T) {
		counts := map[string]int{}
		for _, a := range published {
			for _, tag := range a.Tags {
				counts[tag]++
			}
		}
		out := structured[mcpserver.TagsOutput](t, callTool(t, cs, "list_tags", nil))
		got := map[string]int{}
		for i, tc := range out.Tags {
			got[tc.Tag] = tc.Count
			if i > 0 && tc.Count > out.Tags[i-1].Count {
				t.Errorf("tags not most-used first at %d: %v", i, out.Tags)
			}
		}
		if diff := cmp.Diff(counts, got); diff != "" {
			t.Errorf("list_tags (-want +got):\n%s", diff)
		}
	})

	t.Run("resources", func(t *testing.T) {
		res, err := cs.ListResources(t.Context(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Resources) == 0 || res.NextCursor == "" {
			t.Fatalf("resources/list: %d resources, cursor %q; want a full first page and a cursor", len(res.Resources), res.NextCursor)
		}
		first := res.Resources[0]
		read, err := cs.ReadResource(t.Context(), &mcp.ReadResourceParams{URI: first.URI})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(read.Contents[0].Text, "# "+first.Title+"\n") {
			t.Errorf("resources/read %s starts %.60q", first.URI, read.Contents[0].Text)
		}
		tmpl, err := cs.ListResourceTemplates(t.Context(), nil)
		if err != nil || len(tmpl.ResourceTemplates) != 1 || tmpl.ResourceTemplates[0].URITemplate != "blog://articles/{slug}" {
			t.Errorf("resource templates = %+v, %v", tmpl, err)
		}
		comp, err := cs.Complete(t.Context(), &mcp.CompleteParams{
			Ref:      &mcp.CompleteReference{Type: "ref/resource", URI: "blog://articles/{slug}"},
			Argument: mcp.CompleteParamsArgument{Name: "slug", Value: first.Name[:4]},
		})
		if err != nil || !slices.Contains(comp.Completion.Values, first.Name) {
			t.Errorf("completion of %q = %+v, %v; want it to offer %s", first.Name[:4], comp, err, first.Name)
		}
	})

	t.Run("prompts", func(t *testing.T) {
		res, err := cs.ListPrompts(t.Context(), nil)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, p := range res.Prompts {
			names = append(names, p.Name)
		}
		sort.Strings(names)
		if diff := cmp.Diff([]string{"outline_post", "related_reading", "summarize_article"}, names); diff != "" {
			t.Errorf("prompts (-want +got):\n%s", diff)
		}
		a := published[0]
		for _, name := range []string{"summarize_article", "related_reading"} {
			p, err := cs.GetPrompt(t.Context(), &mcp.GetPromptParams{Name: name, Arguments: map[string]string{"slug": a.Slug}})
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			er, ok := p.Messages[0].Content.(*mcp.EmbeddedResource)
			if !ok || !strings.Contains(er.Resource.Text, a.Body[:min(40, len(a.Body))]) {
				t.Errorf("%s does not embed the article", name)
			}
		}
		p, err := cs.GetPrompt(t.Context(), &mcp.GetPromptParams{Name: "outline_post", Arguments: map[string]string{"topic": "semaphore"}})
		if err != nil {
			t.Fatal(err)
		}
		if text := p.Messages[0].Content.(*mcp.TextContent).Text; !strings.Contains(text, "blog://articles/") {
			t.Errorf("outline_post names no existing article:\n%s", text)
		}
	})

	t.Run("write tools change the local database", func(t *testing.T) {
		created := structured[mcpserver.Article](t, callTool(t, cs, "create_article", map[string]any{"title": "Stdio write test", "body": "zyxwv unique body"}))
		out := structured[mcpserver.SearchOutput](t, callTool(t, cs, "search_articles", map[string]any{"query": "zyxwv"}))
		if len(out.Results) != 1 || out.Results[0].Slug != created.Slug {
			t.Errorf("new article not searchable: %+v", out.Results)
		}
		structured[mcpserver.DeleteOutput](t, callTool(t, cs, "delete_article", map[string]any{"slug": created.Slug}))
		if res := callTool(t, cs, "get_article", map[string]any{"slug": created.Slug}); !res.IsError {
			t.Errorf("deleted article still readable")
		}
	})
}

// TestStdioExitsWhenStdinCloses checks the process answers over stdout
// with protocol messages only, logs to stderr, and ends by itself with
// status 0 once the client closes its stdin.
func TestStdioExitsWhenStdinCloses(t *testing.T) {
	t.Parallel()
	cmd := selfCommand(t, "stdio", "--database", filepath.Join(t.TempDir(), "blog.db"))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	io.WriteString(stdin, `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`+"\n")
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("reading the initialize result: %v\nstderr:\n%s", err, stderr.String())
	}
	var msg struct {
		JSONRPC string `json:"jsonrpc"`
		ID      int    `json:"id"`
		Result  struct {
			ServerInfo struct{ Name string } `json:"serverInfo"`
		} `json:"result"`
	}
	if err := json.Unmarshal([]byte(line), &msg); err != nil || msg.JSONRPC != "2.0" || msg.ID != 1 || msg.Result.ServerInfo.Name != "mcp-2coffee" {
		t.Fatalf("first stdout line is not the initialize result: %q (%v)", line, err)
	}
	stdin.Close()
	done := make(chan error, 1)
	go func() { io.Copy(io.Discard, stdout); done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit: %v\nstderr:\n%s", err, stderr.String())
		}
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("stdio did not exit after stdin closed\nstderr:\n%s", stderr.String())
	}
	if !strings.Contains(stderr.String(), "stdio session ended") {
		t.Errorf("stderr lacks the log lines: %q", stderr.String())
	}
}

// TestStdioAnswersEveryRequestBeforeExit pipes requests into stdio and
// closes stdin right after the last one, as `printf '…' | mcp-2coffee
// stdio` does: every request gets its answer before the process exits.
func TestStdioAnswersEveryRequestBeforeExit(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	const n = 40
	var in strings.Builder
	in.WriteString(`{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}` + "\n")
	in.WriteString(`{"jsonrpc":"2.0","method":"notifications/initialized"}` + "\n")
	want := []string{"0"}
	for i := 1; i <= n; i++ {
		switch i % 3 {
		case 0:
			fmt.Fprintf(&in, `{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"search_articles","arguments":{"query":"ca phe"}}}`+"\n", i)
		case 1:
			fmt.Fprintf(&in, `{"jsonrpc":"2.0","id":"r%d","method":"tools/call","params":{"name":"list_articles","arguments":{}}}`+"\n", i)
		default:
			fmt.Fprintf(&in, `{"jsonrpc":"2.0","id":%d,"method":"ping"}`+"\n", i)
		}
		if i%3 == 1 {
			want = append(want, fmt.Sprintf("%q", fmt.Sprintf("r%d", i)))
		} else {
			want = append(want, fmt.Sprint(i))
		}
	}
	for run := range 3 {
		cmd := selfCommand(t, "stdio", "--database", filepath.Join(dir, "blog.db"))
		cmd.Stdin = strings.NewReader(in.String())
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("run %d: %v\nstderr:\n%s", run, err, stderr.String())
		}
		var got []string
		for line := range strings.Lines(string(out)) {
			var msg struct {
				ID     json.RawMessage `json:"id"`
				Result json.RawMessage `json:"result"`
			}
			if err := json.Unmarshal([]byte(line), &msg); err != nil || msg.Result == nil {
				t.Fatalf("run %d: not a result: %q (%v)", run, line, err)
			}
			got = append(got, string(msg.ID))
		}
		sort.Strings(got)
		sorted := slices.Clone(want)
		sort.Strings(sorted)
		if diff := cmp.Diff(sorted, got); diff != "" {
			t.Fatalf("run %d: answers by id (-want +got):\n%s\nstderr:\n%s", run, diff, stderr.String())
		}
	}
}

// TestStdioSignalIsANormalStop checks that SIGTERM, the way supervisors
// and supergateway's stateless mode stop a stdio server, ends it with
// status 0 and an INFO line, never an ERROR.
func TestStdioSignalIsANormalStop(t *testing.T) {
	t.Parallel()
	cmd := selfCommand(t, "stdio", "--database", filepath.Join(t.TempDir(), "blog.db"))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder // read only once the process is gone
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	io.WriteString(stdin, `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`+"\n")
	if _, err := bufio.NewReader(stdout).ReadString('\n'); err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("reading the initialize result: %v\nstderr:\n%s", err, stderr.String())
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { io.Copy(io.Discard, stdout); done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\nstderr:\n%s", err, stderr.String())
		}
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("stdio did not stop on SIGTERM\nstderr:\n%s", stderr.String())
	}
	logs := stderr.String()
	if strings.Contains(logs, "level=ERROR") {
		t.Errorf("a SIGTERM stop logged an error:\n%s", logs)
	}
	if !strings.Contains(logs, `level=INFO msg="stdio session stopped" reason="terminated signal received"`) {
		t.Errorf("no INFO line names the signal:\n%s", logs)
	}
	for line := range strings.Lines(logs) {
		if !strings.HasPrefix(line, "time=") {
			t.Errorf("stderr has a line that is not a log record: %q", line)
		}
	}
}

// TestStdioAnnouncesArticleChanges checks a desktop client that caches
// resources/list hears of the articles an assistant creates and deletes
// over stdio.
func TestStdioAnnouncesArticleChanges(t *testing.T) {
	t.Parallel()
	changed := make(chan struct{}, 16)
	cs := connectStdioWith(t, selfCommand(t, "stdio", "--database", filepath.Join(t.TempDir(), "blog.db")), &mcp.ClientOptions{
		ResourceListChangedHandler: func(context.Context, *mcp.ResourceListChangedRequest) { changed <- struct{}{} },
	})
	for _, call := range []*mcp.CallToolParams{
		{Name: "create_article", Arguments: map[string]any{"title": "Announced post", "body": "x"}},
		{Name: "delete_article", Arguments: map[string]any{"slug": "announced-post"}},
	} {
		res, err := cs.CallTool(t.Context(), call)
		if err != nil || res.IsError {
			t.Fatalf("%s: %v %+v", call.Name, err, res)
		}
		select {
		case <-changed:
		case <-time.After(30 * time.Second):
			t.Fatalf("no notifications/resources/list_changed after %s", call.Name)
		}
		for len(changed) > 0 {
			<-changed
		}
	}
}
