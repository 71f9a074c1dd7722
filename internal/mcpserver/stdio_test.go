package mcpserver

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/2coffee/mcp-2coffee/internal/testkit"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// readAll reads the client's side of a StdioTransport to its end, as the
// SDK does, and fails the test if the end is held back for a minute.
func readAll(t *testing.T, input string, drain time.Duration) *drainingReader {
	t.Helper()
	r := StdioTransport(strings.NewReader(input), io.Discard, drain).(*mcp.IOTransport).Reader.(*drainingReader)
	done := make(chan error, 1)
	go func() { _, err := io.ReadAll(r); done <- err }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(time.Minute):
		t.Fatalf("EOF was held back for a minute with %d requests open", r.ledger.pending())
	}
	return r
}

func TestStdioTransportForgetsCancelledRequests(t *testing.T) {
	t.Parallel()
	// A drain of an hour: the end comes at once only if the cancelled
	// request no longer counts as open.
	readAll(t, `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"block","arguments":{}}}`+"\n"+
		`{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":7,"reason":"user"}}`+"\n", time.Hour)
}

func TestStdioTransportDrainIsBounded(t *testing.T) {
	t.Parallel()
	// Nobody answers request 1; the end still comes once drain has passed.
	r := readAll(t, `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"block","arguments":{}}}`+"\n", 100*time.Millisecond)
	if got := r.ledger.pending(); got != 1 {
		t.Errorf("open requests = %d, want 1", got)
	}
}

// TestStdioTransportServesTheSDK runs a real server session over the
// transport: every request read before EOF is answered, the slow one
// included, and the session ends by itself.
func TestStdioTransportServesTheSDK(t *testing.T) {
	t.Parallel()
	s := mcp.NewServer(&mcp.Implementation{Name: "t", Version: "1"}, nil)
	s.AddTool(&mcp.Tool{Name: "slow", InputSchema: map[string]any{"type": "object"}}, func(ctx context.Context, _ *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		time.Sleep(50 * time.Millisecond)
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "done"}}}, nil
	})
	var out testkit.Buffer
	in := `{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}` + "\n" +
		`{"jsonrpc":"2.0","method":"notifications/initialized"}` + "\n" +
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"slow","arguments":{}}}` + "\n" +
		`{"jsonrpc":"2.0","id":2,"method":"ping"}` + "\n"
	ss, err := s.Connect(context.Background(), StdioTransport(strings.NewReader(in), &out, time.Minute), nil)
	if err != nil {
		t.Fatal(err)
	}
	ended := make(chan struct{})
	go func() { ss.Wait(); close(ended) }()
	select {
	case <-ended:
	case <-time.After(time.Minute):
		t.Fatalf("the session did not end after stdin did; wrote:\n%s", out.String())
	}
	for _, want := range []string{`"id":0,"result"`, `"id":1,"result":{"content":[{"type":"text","text":"done"}]`, `"id":2,"result":{}`} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("no %s in what the server wrote:\n%s", want, out.String())
		}
	}
}

func TestStdioTransportLedger(t *testing.T) {
	t.Parallel()
	var out strings.Builder
	tr := StdioTransport(strings.NewReader(
		`[{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","id":"1","method":"ping"},{"jsonrpc":"2.0","method":"notifications/initialized"}]`+"\n"+
			`{"jsonrpc":"2.0","id":3,"method":"ping"}`+"\n"+
			`{"jsonrpc":"2.0","id":99,"result":{}}`+"\n"+ // the client answering a server request
			`not json`+"\n"), &out, 0).(*mcp.IOTransport)
	r := tr.Reader.(*drainingReader)
	if _, err := io.ReadAll(r); err != nil {
		t.Fatal(err)
	}
	if got := r.ledger.pending(); got != 3 {
		t.Fatalf("open requests after reading = %d, want 3 (ids 1, \"1\" and 3)", got)
	}
	w := tr.Writer
	io.WriteString(w, `[{"jsonrpc":"2.0","id":1,"result":{}}]`+"\n")
	io.WriteString(w, `{"jsonrpc":"2.0","id":5,"method":"sampling/createMessage","params":{}}`+"\n") // a server request
	if got := r.ledger.pending(); got != 2 {
		t.Fatalf("open requests after answering id 1 = %d, want 2: a number and a string id are different requests", got)
	}
	io.WriteString(w, `{"jsonrpc":"2.0","id":"1","result":{}}`+"\n")
	io.WriteString(w, `{"jsonrpc":"2.0","id":3,"error":{"code":-32603,"message":"x"}}`+"\n")
	if got := r.ledger.pending(); got != 0 {
		t.Fatalf("open requests after every answer = %d, want 0", got)
	}
}
