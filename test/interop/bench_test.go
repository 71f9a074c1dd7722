package interop

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// BenchmarkBridge measures one tools/call get_article made by a go-sdk
// client directly over Streamable HTTP, through `mcp-2coffee connect`, and
// through `mcp-remote`, against the same serve with an API key; for the
// bridges it also reports their resident memory after the run (rss-MiB).
//
//	go test -run '^$' -bench Bridge -benchtime 200x ./test/interop
func BenchmarkBridge(b *testing.B) {
	s := startServe(b)
	args := map[string]any{"slug": "a-semaphore-with-a-buffered-channel"}
	bench := func(b *testing.B, cs *mcp.ClientSession, pid int) {
		ctx := context.Background()
		if _, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "get_article", Arguments: args}); err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		for b.Loop() {
			res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "get_article", Arguments: args})
			if err != nil || res.IsError {
				b.Fatalf("%v %v", err, res)
			}
		}
		b.StopTimer()
		if pid > 0 {
			b.ReportMetric(float64(rssKiB(b, pid))/1024, "rss-MiB")
		}
	}
	b.Run("direct", func(b *testing.B) {
		cs := connectDirect(b, s)
		defer cs.Close()
		bench(b, cs, 0)
	})
	b.Run("mcp-2coffee-connect", func(b *testing.B) {
		cmd := exec.Command(binary(b), "connect", "--header", "X-API-KEY: "+s.key, s.mcpURL)
		cmd.Env = append(os.Environ(), "MCP_2COFFEE_CONFIG_DIR="+b.TempDir())
		cs := connectCommand(b, cmd)
		defer cs.Close()
		bench(b, cs, cmd.Process.Pid)
	})
	b.Run("mcp-remote", func(b *testing.B) {
		cmd := exec.Command(nodeTool(b, "mcp-remote"), s.mcpURL, "--header", "X-API-KEY: "+s.key)
		cmd.Env = append(os.Environ(), "MCP_REMOTE_CONFIG_DIR="+b.TempDir())
		cs := connectCommand(b, cmd)
		defer cs.Close()
		// mcp-remote runs node behind its bin script: measure the
		// process that holds the connection (the node child, if any).
		bench(b, cs, nodePID(cmd.Process.Pid))
	})
}

// headerRoundTripper adds one header (the API key, a bearer token) to
// every request.
type headerRoundTripper struct{ name, value string }

func (h headerRoundTripper) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set(h.name, h.value)
	return http.DefaultTransport.RoundTrip(r)
}

func connectDirect(b *testing.B, s *server) *mcp.ClientSession {
	b.Helper()
	client := mcp.NewClient(&mcp.Implementation{Name: "bench", Version: "1"}, nil)
	cs, err := client.Connect(context.Background(), &mcp.StreamableClientTransport{
		Endpoint: s.mcpURL, HTTPClient: &http.Client{Transport: headerRoundTripper{"X-API-KEY", s.key}},
	}, nil)
	if err != nil {
		b.Fatal(err)
	}
	return cs
}

func connectCommand(b *testing.B, cmd *exec.Cmd) *mcp.ClientSession {
	b.Helper()
	client := mcp.NewClient(&mcp.Implementation{Name: "bench", Version: "1"}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cs, err := client.Connect(ctx, &mcp.CommandTransport{Command: cmd}, nil)
	if err != nil {
		b.Fatal(err)
	}
	return cs
}

// rssKiB reads VmRSS of a process from /proc.
func rssKiB(b *testing.B, pid int) int {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		b.Logf("no /proc status for %d: %v", pid, err)
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			n, _ := strconv.Atoi(f[1])
			return n
		}
	}
	return 0
}

// nodePID returns pid, or its only child when pid is a shell or wrapper
// that started node.
func nodePID(pid int) int {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/task/" + strconv.Itoa(pid) + "/children")
	if err != nil {
		return pid
	}
	if f := strings.Fields(string(data)); len(f) == 1 {
		if child, err := strconv.Atoi(f[0]); err == nil {
			return child
		}
	}
	return pid
}
