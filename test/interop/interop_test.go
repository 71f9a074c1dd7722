package interop

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// inspector runs the MCP Inspector CLI with the given method arguments
// against `mcp-2coffee stdio --database db`. The server command goes after
// "--" so that none of its flags can be taken for the Inspector's own.
func inspector(t *testing.T, db string, method ...string) result {
	t.Helper()
	args := []string{nodeTool(t, "mcp-inspector"), "--cli"}
	args = append(args, method...)
	args = append(args, "--", binary(t), "stdio", "--database", db)
	home := t.TempDir() // the Inspector keeps state under $HOME/.mcp-inspector
	return run(t, command{
		args:    args,
		dir:     home,
		env:     []string{"HOME=" + home},
		timeout: 2 * time.Minute,
	})
}

// inspectorOK is inspector that fails the test unless the CLI exits 0, and
// decodes the JSON it prints into v.
func inspectorOK(t *testing.T, db string, v any, method ...string) {
	t.Helper()
	r := inspector(t, db, method...)
	if r.err != nil {
		t.Fatalf("inspector %s: %v\nstderr:\n%s\nstdout:\n%s", strings.Join(method, " "), r.err, r.stderr, r.stdout)
	}
	decodeJSON(t, r, v)
}

func decodeJSON(t *testing.T, r result, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(r.stdout), v); err != nil {
		t.Fatalf("Inspector output is not the JSON expected: %v\nstdout:\n%s\nstderr:\n%s", err, r.stdout, r.stderr)
	}
}

// callResult is a tools/call result as the Inspector prints it.
type callResult struct {
	Content []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	} `json:"content"`
	StructuredContent json.RawMessage `json:"structuredContent"`
	IsError           bool            `json:"isError"`
}

// text joins the text blocks of the result.
func (c callResult) text() string {
	var b strings.Builder
	for _, block := range c.Content {
		if block.Type == "text" {
			b.WriteString(block.Text)
		}
	}
	return b.String()
}

// searchOutput is the part of search_articles' structured result a reader
// relies on.
type searchOutput struct {
	Results []struct {
		Slug    string `json:"slug"`
		Title   string `json:"title"`
		Snippet string `json:"snippet"`
	} `json:"results"`
	NextCursor string `json:"next_cursor"`
}

// TestInspectorCLIStdio drives `mcp-2coffee stdio` with the official MCP
// Inspector CLI, as a user checking a fresh install would: list the tools,
// search the sample articles, page through results, ask for a missing one.
func TestInspectorCLIStdio(t *testing.T) {
	nodeTool(t, "mcp-inspector") // skip (or fail under CI) once, not per subtest
	binary(t)
	// A path that does not exist yet: the first run creates the database
	// and loads the bundled sample articles.
	db := filepath.Join(t.TempDir(), "blog.db")

	t.Run("tools/list", func(t *testing.T) {
		var list struct {
			Tools []struct {
				Name         string          `json:"name"`
				Description  string          `json:"description"`
				InputSchema  json.RawMessage `json:"inputSchema"`
				OutputSchema json.RawMessage `json:"outputSchema"`
			} `json:"tools"`
		}
		inspectorOK(t, db, &list, "--method", "tools/list")
		var names []string
		for _, tool := range list.Tools {
			names = append(names, tool.Name)
		}
		for _, want := range []string{"search_articles", "get_article", "list_articles", "list_tags"} {
			i := slices.Index(names, want)
			if i < 0 {
				t.Errorf("tools/list has no %q; got %v", want, names)
				continue
			}
			tool := list.Tools[i]
			if tool.Description == "" {
				t.Errorf("tool %s has no description", want)
			}
			if len(tool.OutputSchema) == 0 {
				t.Errorf("tool %s has no outputSchema (its results should be typed)", want)
			}
		}
	})

	t.Run("search semaphore", func(t *testing.T) {
		var res callResult
		inspectorOK(t, db, &res, "--method", "tools/call",
			"--tool-name", "search_articles", "--tool-arg", "query=semaphore")
		if res.IsError {
			t.Fatalf("search_articles returned an error result: %s", res.text())
		}
		var out searchOutput
		if err := json.Unmarshal(res.StructuredContent, &out); err != nil {
			t.Fatalf("structuredContent: %v\n%s", err, res.StructuredContent)
		}
		if got := len(out.Results); got != 2 {
			t.Fatalf("search for semaphore: got %d hits, want 2 (the two sample articles that mention it): %+v", got, out.Results)
		}
		if out.Results[0].Slug == out.Results[1].Slug {
			t.Errorf("the same article twice: %q", out.Results[0].Slug)
		}
		text := res.text()
		for _, hit := range out.Results {
			if !strings.Contains(strings.ToLower(hit.Snippet), "semaphore") {
				t.Errorf("hit %s: snippet does not show the match: %q", hit.Slug, hit.Snippet)
			}
			if hit.Title == "" || !strings.Contains(text, hit.Title) {
				t.Errorf("the readable text block does not name hit %s (title %q):\n%s", hit.Slug, hit.Title, text)
			}
		}
		if out.NextCursor != "" {
			t.Errorf("next_cursor = %q on a complete result, want none", out.NextCursor)
		}
	})

	t.Run("search pages with a cursor", func(t *testing.T) {
		var first callResult
		inspectorOK(t, db, &first, "--method", "tools/call",
			"--tool-name", "search_articles", "--tool-arg", "query=semaphore", "limit=1")
		var page1 searchOutput
		if err := json.Unmarshal(first.StructuredContent, &page1); err != nil {
			t.Fatalf("structuredContent: %v\n%s", err, first.StructuredContent)
		}
		if len(page1.Results) != 1 || page1.NextCursor == "" {
			t.Fatalf("limit=1: got %d hits and next_cursor %q, want 1 hit and a cursor", len(page1.Results), page1.NextCursor)
		}

		var second callResult
		inspectorOK(t, db, &second, "--method", "tools/call",
			"--tool-name", "search_articles", "--tool-arg", "query=semaphore", "limit=1", "cursor="+page1.NextCursor)
		var page2 searchOutput
		if err := json.Unmarshal(second.StructuredContent, &page2); err != nil {
			t.Fatalf("structuredContent: %v\n%s", err, second.StructuredContent)
		}
		if len(page2.Results) != 1 || page2.NextCursor != "" {
			t.Fatalf("second page: got %d hits and next_cursor %q, want the last hit and no cursor", len(page2.Results), page2.NextCursor)
		}
		if page1.Results[0].Slug == page2.Results[0].Slug {
			t.Errorf("both pages hold %q", page1.Results[0].Slug)
		}
	})

	t.Run("get unknown article", func(t *testing.T) {
		// A missing article is the user's mistake, not a protocol error: the
		// tool answers with an isError result that says what went wrong. (The
		// Inspector prints it and exits non-zero, so the status is not checked.)
		r := inspector(t, db, "--method", "tools/call",
			"--tool-name", "get_article", "--tool-arg", "slug=no-such-article")
		var res callResult
		decodeJSON(t, r, &res)
		if !res.IsError {
			t.Fatalf("get_article of a missing slug: isError = false, want true; result: %s", r.stdout)
		}
		if text := res.text(); !strings.Contains(text, "no-such-article") {
			t.Errorf("error text should name the slug that was not found; got %q", text)
		}
	})
}
