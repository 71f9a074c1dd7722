package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/2coffee/mcp-2coffee/internal/apikey"
	"github.com/2coffee/mcp-2coffee/internal/authn"
	"github.com/2coffee/mcp-2coffee/internal/sample"
	"github.com/2coffee/mcp-2coffee/internal/store"
)

// benchServer starts the handler serve builds (buildServer, the
// composition root) over the sample blog, with API-key authentication or
// without, and returns its MCP URL and a read key.
func benchServer(b *testing.B, withAuth bool) (mcpURL, key string) {
	b.Helper()
	ctx := b.Context()
	db, err := store.Open(ctx, filepath.Join(b.TempDir(), "blog.db"), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	if _, err := sample.Load(ctx, db); err != nil {
		b.Fatal(err)
	}
	keys := apikey.New(db, apikey.Options{})
	key, _, err = keys.Create(ctx, "bench", []string{authn.ScopeRead}, 0)
	if err != nil {
		b.Fatal(err)
	}
	ts := httptest.NewUnstartedServer(nil)
	pub, _ := url.Parse("http://" + ts.Listener.Addr().String())
	srv, err := buildServer(ctx, serverSetup{db: db, public: pub, listenAddr: ts.Listener.Addr().String(),
		apiKeys: withAuth, oauth: withAuth, logger: discardLogger(), out: io.Discard})
	if err != nil {
		b.Fatal(err)
	}
	ts.Config.Handler = srv.handler
	ts.Start()
	b.Cleanup(ts.Close)
	return ts.URL + "/mcp", key
}

const getArticle = `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get_article","arguments":{"slug":"a-semaphore-with-a-buffered-channel"}}}`

// echoServer starts what bench/echo serves: the bare go-sdk, stateless
// with JSON responses, answering one echo tool. It is the in-process
// reference the targets are ratios of.
func echoServer(b *testing.B) string {
	type echoArgs struct {
		Text string `json:"text"`
	}
	s := mcp.NewServer(&mcp.Implementation{Name: "bench-echo", Version: "1.0.0"}, nil)
	mcp.AddTool(s, &mcp.Tool{Name: "echo", Description: "Return the text given."},
		func(_ context.Context, _ *mcp.CallToolRequest, in echoArgs) (*mcp.CallToolResult, any, error) {
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: in.Text}}}, nil, nil
		})
	ts := httptest.NewServer(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s },
		&mcp.StreamableHTTPOptions{Stateless: true, JSONResponse: true}))
	b.Cleanup(ts.Close)
	return ts.URL
}

const echoCall = `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"text":"a-semaphore-with-a-buffered-channel"}}}`

// BenchmarkGetArticleHTTP measures one stateless tools/call get_article
// over loopback HTTP, with an API key and without authentication, so the
// cost of authentication shows as the difference; echo is the bare go-sdk
// answering a tool that does nothing, run in the same process and way, so
// the ratios compare like with like. Sixteen clients call at once, as in
// the harness's middle column, so ns/op is the inverse of the throughput
// and a CPU profile shows the server under load.
func BenchmarkGetArticleHTTP(b *testing.B) {
	for _, tc := range []struct {
		name string
		auth bool
		echo bool
	}{{"apikey", true, false}, {"noauth", false, false}, {"echo", false, true}} {
		b.Run(tc.name, func(b *testing.B) {
			call, want := getArticle, `"slug":"a-semaphore-with-a-buffered-channel"`
			var mcpURL, key string
			if tc.echo {
				mcpURL, call, want = echoServer(b), echoCall, `"text":"a-semaphore-with-a-buffered-channel"`
			} else {
				mcpURL, key = benchServer(b, tc.auth)
			}
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
			b.ReportAllocs()
			b.SetParallelism((benchClients + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					req, _ := http.NewRequest(http.MethodPost, mcpURL, strings.NewReader(call))
					req.Header.Set("Content-Type", "application/json")
					req.Header.Set("Accept", "application/json, text/event-stream")
					req.Header.Set("MCP-Protocol-Version", "2025-11-25")
					if tc.auth {
						req.Header.Set("X-API-KEY", key)
					}
					resp, err := client.Do(req)
					if err != nil {
						b.Error(err)
						return
					}
					body, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), want) {
						b.Errorf("status %d: %.200s", resp.StatusCode, body)
						return
					}
				}
			})
		})
	}
}

// benchClients is how many clients BenchmarkGetArticleHTTP runs at once:
// 16, or BENCH_CLIENTS (the harness's 1, 16 and 64 columns).
var benchClients = func() int {
	if n, err := strconv.Atoi(os.Getenv("BENCH_CLIENTS")); err == nil && n > 0 {
		return n
	}
	return 16
}()
