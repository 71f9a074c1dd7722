package main

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

type revisionsOut struct {
	Revisions []struct {
		ID      int64    `json:"id"`
		Actor   string   `json:"actor"`
		Action  string   `json:"action"`
		Changed []string `json:"changed"`
	} `json:"revisions"`
}

// undoEverything is what an assistant's mistakes look like, undone
// through the MCP surface: an update then a restore of the revision
// before it; a delete, then restore_article with the body intact. Every
// revision names actor, the credential that made the change.
func undoEverything(t *testing.T, cs *mcp.ClientSession, actor string) {
	t.Helper()
	const slug = "a-semaphore-with-a-buffered-channel"
	original := structured[struct{ Body string }](t, callTool(t, cs, "get_article", map[string]any{"slug": slug})).Body
	if res := callTool(t, cs, "update_article", map[string]any{"slug": slug, "body": "An assistant overwrote this."}); res.IsError {
		t.Fatalf("update_article: %v", res.Content)
	}
	revs := structured[revisionsOut](t, callTool(t, cs, "list_revisions", map[string]any{"slug": slug}))
	if len(revs.Revisions) < 2 || revs.Revisions[0].Action != "updated" || revs.Revisions[0].Actor != actor ||
		strings.Join(revs.Revisions[0].Changed, ",") != "body" {
		t.Fatalf("list_revisions after the update: %+v, want the newest an update of body by %s", revs, actor)
	}
	before := revs.Revisions[1].ID
	got := structured[struct {
		Article struct{ Body string }
	}](t, callTool(t, cs, "get_revision", map[string]any{"slug": slug, "revision": before}))
	if got.Article.Body != original {
		t.Errorf("get_revision %d: body %q, want the original", before, got.Article.Body)
	}
	if res := callTool(t, cs, "restore_revision", map[string]any{"slug": slug, "revision": before}); res.IsError {
		t.Fatalf("restore_revision: %v", res.Content)
	}
	if b := structured[struct{ Body string }](t, callTool(t, cs, "get_article", map[string]any{"slug": slug})).Body; b != original {
		t.Errorf("after restore_revision the body is %q", b)
	}

	if res := callTool(t, cs, "delete_article", map[string]any{"slug": slug}); res.IsError || !strings.Contains(textOf(res), "trash") {
		t.Fatalf("delete_article: %v", res.Content)
	}
	if res := callTool(t, cs, "get_article", map[string]any{"slug": slug}); !res.IsError {
		t.Error("get_article finds a deleted article")
	}
	if got := searchSlugs(t, cs, "semaphore"); len(got) != 1 {
		t.Errorf("search still finds the deleted article: %v", got)
	}
	if res := callTool(t, cs, "restore_article", map[string]any{"slug": slug}); res.IsError {
		t.Fatalf("restore_article: %v", res.Content)
	}
	if b := structured[struct{ Body string }](t, callTool(t, cs, "get_article", map[string]any{"slug": slug})).Body; b != original {
		t.Errorf("after restore_article the body is %q", b)
	}
	revs = structured[revisionsOut](t, callTool(t, cs, "list_revisions", map[string]any{"slug": slug}))
	var actions []string
	for _, r := range revs.Revisions {
		actions = append(actions, r.Action)
		if r.Action != "created" && r.Actor != actor {
			t.Errorf("revision %d (%s) by %q, want %q", r.ID, r.Action, r.Actor, actor)
		}
	}
	if strings.Join(actions, " ") != "restored deleted restored updated created" {
		t.Errorf("the revisions' actions, newest first: %v", actions)
	}
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

// TestUndoOverStdio: over stdio the machine's own user acts ("local").
func TestUndoOverStdio(t *testing.T) {
	t.Parallel()
	cs := connectStdio(t, selfCommand(t, "stdio", "--database", filepath.Join(t.TempDir(), "blog.db")))
	undoEverything(t, cs, "local")
}

// TestUndoOverHTTP: over HTTP the API key acts. A read-only key sees
// none of the history (it holds drafts, deleted text and who changed
// what) and may restore nothing: both are refused before any tool runs.
func TestUndoOverHTTP(t *testing.T) {
	t.Parallel()
	s := startServe(t)
	cs := connectHTTP(t, s.mcpURL, s.key, "2025-11-25")
	id := strings.SplitN(strings.TrimPrefix(s.key, "m2c_"), "_", 2)[0]
	undoEverything(t, cs, "key:"+id)

	readKey := strings.TrimSpace(s.cli(t, "keys", "create", "--name", "reader", "--scope", "articles:read"))
	const slug = "a-semaphore-with-a-buffered-channel"
	for _, call := range []struct {
		tool string
		args map[string]any
	}{
		{"list_revisions", map[string]any{"slug": slug}},
		{"get_revision", map[string]any{"slug": slug, "revision": 1}},
		{"restore_revision", map[string]any{"slug": slug, "revision": 1}},
		{"restore_article", map[string]any{"slug": slug}},
	} {
		reader := connectHTTP(t, s.mcpURL, readKey, "2025-11-25")
		if res, err := reader.CallTool(t.Context(), &mcp.CallToolParams{Name: call.tool, Arguments: call.args}); err == nil && !res.IsError {
			t.Errorf("a read-only key called %s: %v", call.tool, res.Content)
		}
	}
	resp, _ := post(t, s.mcpURL, `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"list_revisions","arguments":{"slug":"`+slug+`"}}}`,
		map[string]string{"X-API-KEY": readKey})
	if wa := resp.Header.Get("WWW-Authenticate"); resp.StatusCode != 403 || !strings.Contains(wa, `scope="articles:write"`) {
		t.Errorf("list_revisions with a read-only key: %d %q, want 403 asking for articles:write", resp.StatusCode, wa)
	}
}

// TestUndoThroughTheRemoteAPI: stdio --api-url serves a remote blog
// through its REST API; the history tools reach it, and the remote
// server records its API key as the actor.
func TestUndoThroughTheRemoteAPI(t *testing.T) {
	t.Parallel()
	s := startServe(t)
	cmd := selfCommand(t, "stdio", "--api-url", s.base)
	cmd.Env = append(cmd.Environ(), "X-API-KEY="+s.key)
	cs := connectStdio(t, cmd)
	id := strings.SplitN(strings.TrimPrefix(s.key, "m2c_"), "_", 2)[0]
	undoEverything(t, cs, "key:"+id)
}

// TestHistoryCLI: the blog's owner sees and undoes from the command line
// what an assistant did: revisions list, show and restore; trash list and
// restore; and purge, the one irreversible step, which no tool offers.
func TestHistoryCLI(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "blog.db")
	cs := connectStdio(t, selfCommand(t, "stdio", "--database", db))
	const slug = "a-semaphore-with-a-buffered-channel"
	if res := callTool(t, cs, "update_article", map[string]any{"slug": slug, "title": "Overwritten"}); res.IsError {
		t.Fatal(res.Content)
	}
	cli := func(args ...string) (string, string) {
		t.Helper()
		stdout, stderr, code := runCLI(t, []string{"USER=owner"}, append(args, "--database", db)...)
		if code != 0 {
			t.Fatalf("%v: exit %d\n%s\n%s", args, code, stdout, stderr)
		}
		return stdout, stderr
	}
	out, _ := cli("revisions", "list", slug)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.Contains(lines[1], "updated") || !strings.Contains(lines[1], "local") || !strings.Contains(lines[1], "title") {
		t.Fatalf("revisions list:\n%s", out)
	}
	first := strings.Fields(lines[2])[0]
	out, _ = cli("revisions", "show", slug, first)
	if !strings.Contains(out, `"action": "created"`) || !strings.Contains(out, `"body":`) {
		t.Errorf("revisions show:\n%s", out)
	}
	cli("revisions", "restore", slug, first)
	if title := structured[struct{ Title string }](t, callTool(t, cs, "get_article", map[string]any{"slug": slug})).Title; title == "Overwritten" {
		t.Error("revisions restore left the title overwritten")
	}
	out, _ = cli("revisions", "list", slug)
	if !strings.Contains(strings.Split(out, "\n")[1], "restored") || !strings.Contains(out, "cli:owner") {
		t.Errorf("the restore by the owner is not the newest revision:\n%s", out)
	}

	if res := callTool(t, cs, "delete_article", map[string]any{"slug": slug}); res.IsError {
		t.Fatal(res.Content)
	}
	out, _ = cli("trash", "list")
	if !strings.Contains(out, slug) || !strings.Contains(out, "local") {
		t.Errorf("trash list:\n%s", out)
	}
	cli("trash", "restore", slug)
	if res := callTool(t, cs, "get_article", map[string]any{"slug": slug}); res.IsError {
		t.Errorf("trash restore did not bring it back: %v", res.Content)
	}
	// Recent deletions survive a purge of old ones; a purge of all ends
	// them and their history.
	if res := callTool(t, cs, "delete_article", map[string]any{"slug": slug}); res.IsError {
		t.Fatal(res.Content)
	}
	_, stderr := cli("trash", "purge", "--older-than", "720h")
	if !strings.Contains(stderr, "Purged 0") {
		t.Errorf("purging what is older than 30 days: %s", stderr)
	}
	_, stderr = cli("trash", "purge")
	if !strings.Contains(stderr, "Purged 1") {
		t.Errorf("trash purge: %s", stderr)
	}
	if _, stderr, code := runCLI(t, nil, "revisions", "list", slug, "--database", db); code == 0 || !strings.Contains(stderr, "no revisions") {
		t.Errorf("the revisions of a purged article: exit %d %s", code, stderr)
	}
	if _, stderr, code := runCLI(t, nil, "trash", "restore", slug, "--database", db); code == 0 {
		t.Errorf("restoring a purged article succeeded: %s", stderr)
	}
}

// TestScheduledPost: an article created with publish_at a moment ahead is
// invisible to a read-only key (get, search, listings, tags, resources,
// REST) and shown to the writer as scheduled; when its time comes it is
// public, with nothing run in between.
func TestScheduledPost(t *testing.T) {
	t.Parallel()
	s := startServe(t)
	writer := connectHTTP(t, s.mcpURL, s.key, "2025-11-25")
	readKey := strings.TrimSpace(s.cli(t, "keys", "create", "--name", "reader", "--scope", "articles:read"))
	reader := connectHTTP(t, s.mcpURL, readKey, "2025-11-25")
	at := time.Now().Add(2 * time.Second).UTC().Truncate(time.Second).Add(time.Second)
	res := callTool(t, writer, "create_article", map[string]any{"title": "Zebras on parade", "body": "Zebras, scheduled.",
		"tags": []string{"zebras"}, "publish_at": at.Format(time.RFC3339)})
	if res.IsError || !strings.Contains(textOf(res), "scheduled") {
		t.Fatalf("create_article with publish_at: %v", res.Content)
	}
	const slug = "zebras-on-parade"
	hidden := func(cs *mcp.ClientSession) []string {
		var seen []string
		if res := callTool(t, cs, "get_article", map[string]any{"slug": slug}); !res.IsError {
			seen = append(seen, "get_article")
		}
		if len(searchSlugs(t, cs, "zebras")) > 0 {
			seen = append(seen, "search_articles")
		}
		if strings.Contains(textOf(callTool(t, cs, "list_articles", map[string]any{"limit": 50})), slug) {
			seen = append(seen, "list_articles")
		}
		if strings.Contains(textOf(callTool(t, cs, "list_tags", map[string]any{})), "zebras") {
			seen = append(seen, "list_tags")
		}
		if _, err := cs.ReadResource(t.Context(), &mcp.ReadResourceParams{URI: "blog://articles/" + slug}); err == nil {
			seen = append(seen, "resources/read")
		}
		return seen
	}
	if seen := hidden(reader); len(seen) != 0 {
		t.Errorf("a read-only key sees the scheduled post through %v", seen)
	}
	if r := restGet(t, s.base+"/api/v1/articles/"+slug, readKey); r != 404 {
		t.Errorf("REST GET of the scheduled post with a read-only key: %d", r)
	}
	got := structured[struct{ State string }](t, callTool(t, writer, "get_article", map[string]any{"slug": slug}))
	if got.State != "scheduled" {
		t.Errorf("the writer sees state %q, want scheduled", got.State)
	}
	if !strings.Contains(textOf(callTool(t, writer, "list_articles", map[string]any{"include_drafts": true})), slug) {
		t.Error("the writer's listing with include_drafts leaves the scheduled post out")
	}

	time.Sleep(time.Until(at) + 100*time.Millisecond)
	if seen := hidden(reader); len(seen) != 5 {
		t.Errorf("after its time the post is seen only through %v", seen)
	}
	if r := restGet(t, s.base+"/api/v1/articles/"+slug, readKey); r != 200 {
		t.Errorf("REST GET after its time: %d", r)
	}
}

// restGet is the status of a GET with an API key.
func restGet(t *testing.T, u, key string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	req.Header.Set("X-API-KEY", key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
