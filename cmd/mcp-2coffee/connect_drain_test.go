package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
)

// TestConnectAnswersEverythingPipedIn: a script pipes requests into
// `mcp-2coffee connect URL` and closes stdin right after writing them;
// every answer still reaches stdout before the bridge exits.
func TestConnectAnswersEverythingPipedIn(t *testing.T) {
	t.Parallel()
	const n = 50
	s := startServe(t)
	var in strings.Builder
	in.WriteString(`{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"script","version":"1"}}}` + "\n")
	in.WriteString(`{"jsonrpc":"2.0","method":"notifications/initialized"}` + "\n")
	for i := 1; i <= n; i++ {
		switch i % 3 {
		case 0:
			fmt.Fprintf(&in, `{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"search_articles","arguments":{"query":"go"}}}`+"\n", i)
		case 1:
			fmt.Fprintf(&in, `{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"list_tags","arguments":{}}}`+"\n", i)
		default:
			fmt.Fprintf(&in, `{"jsonrpc":"2.0","id":%d,"method":"tools/list"}`+"\n", i)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, selfCommand(t).Path, "connect", "--header", "X-API-KEY: ${BLOG_KEY}", s.mcpURL)
	cmd.Env = append(selfCommand(t).Env, "BLOG_KEY="+s.key, "MCP_2COFFEE_CONFIG_DIR="+t.TempDir())
	cmd.Stdin = strings.NewReader(in.String()) // EOF right after the last request
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("connect: %v\n%s", err, stderr.String())
	}
	got := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 4<<20)
	for sc.Scan() {
		msg, err := jsonrpc.DecodeMessage(sc.Bytes())
		if err != nil {
			t.Fatalf("stdout line %.200q: %v", sc.Text(), err)
		}
		r, ok := msg.(*jsonrpc.Response)
		if !ok {
			continue
		}
		id := fmt.Sprint(r.ID.Raw())
		if r.Error != nil {
			t.Errorf("id %s: %v", id, r.Error)
		}
		if got[id] {
			t.Errorf("two answers for id %s", id)
		}
		got[id] = true
	}
	for i := 0; i <= n; i++ {
		if !got[fmt.Sprint(i)] {
			t.Errorf("no answer for id %d", i)
		}
	}
	if t.Failed() {
		t.Logf("bridge stderr:\n%s", stderr.String())
	}
}
