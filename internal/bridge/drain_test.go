package bridge

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/2coffee/mcp-2coffee/internal/testkit"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/2coffee/mcp-2coffee/internal/bridge/bridgetest"
	"github.com/2coffee/mcp-2coffee/internal/oauthclient"
	"github.com/2coffee/mcp-2coffee/internal/oauthclient/oauthtest"
)

type sleepIn struct {
	MS int `json:"ms"`
}

// serverWithSlowTool is the test server with a tool "sleep" that answers
// after ms milliseconds.
func serverWithSlowTool() *mcp.Server {
	s := bridgetest.NewMCPServer()
	mcp.AddTool(s, &mcp.Tool{Name: "sleep", Description: "Answers after ms milliseconds."},
		func(ctx context.Context, _ *mcp.CallToolRequest, in sleepIn) (*mcp.CallToolResult, any, error) {
			select {
			case <-time.After(time.Duration(in.MS) * time.Millisecond):
			case <-ctx.Done():
				return nil, nil, ctx.Err()
			}
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: fmt.Sprintf("slept %d", in.MS)}}}, nil, nil
		})
	return s
}

const initLine = `{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"script","version":"1"}}}` + "\n" +
	`{"jsonrpc":"2.0","method":"notifications/initialized"}` + "\n"

// scriptInput is what a script pipes in: the handshake and n tool calls
// (ids 1…n), fast echoes and slower sleeps mixed, and then nothing.
func scriptInput(n int) string {
	var b strings.Builder
	b.WriteString(initLine)
	for i := 1; i <= n; i++ {
		if i%2 == 0 {
			fmt.Fprintf(&b, `{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"sleep","arguments":{"ms":%d}}}`+"\n", i, (i%7)*15)
		} else {
			fmt.Fprintf(&b, `{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"echo","arguments":{"text":"m%d"}}}`+"\n", i, i)
		}
	}
	return b.String()
}

// answers decodes the relay's output: the responses by id.
func answers(t *testing.T, out string) map[int64]*jsonrpc.Response {
	t.Helper()
	got := map[int64]*jsonrpc.Response{}
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		msg, err := jsonrpc.DecodeMessage(sc.Bytes())
		if err != nil {
			t.Fatalf("undecodable output line %q: %v", sc.Text(), err)
		}
		if r, ok := msg.(*jsonrpc.Response); ok {
			id, _ := r.ID.Raw().(int64)
			if _, dup := got[id]; dup {
				t.Errorf("two answers for id %d", id)
			}
			got[id] = r
		}
	}
	return got
}

// runScript pipes input into a relay and returns its output once Relay
// has returned.
func runScript(t *testing.T, c *Client, opts RelayOptions, input string) string {
	t.Helper()
	out := &testkit.Buffer{}
	opts.Local = &mcp.IOTransport{Reader: io.NopCloser(strings.NewReader(input)), Writer: out}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.Relay(ctx, opts); err != nil {
		t.Fatalf("Relay = %v, want nil at EOF", err)
	}
	if ctx.Err() != nil {
		t.Fatalf("Relay ran until the test's own deadline; output so far:\n%s", out)
	}
	return out.String()
}

// TestRelayDrainsAnswersAfterEOF: a script writes its requests and closes
// stdin at once; every answer still reaches stdout before the relay exits.
func TestRelayDrainsAnswersAfterEOF(t *testing.T) {
	t.Parallel()
	const n = 50
	srv, _ := streamableServer(t, serverWithSlowTool(), nil)
	c := newBridge(t, srv.URL+"/mcp", Options{DisableOAuth: true})
	got := answers(t, runScript(t, c, RelayOptions{}, scriptInput(n)))
	for id := int64(0); id <= n; id++ {
		r, ok := got[id]
		switch {
		case !ok:
			t.Errorf("no answer for id %d", id)
		case r.Error != nil:
			t.Errorf("id %d: error %v", id, r.Error)
		case id > 0 && id%2 == 1 && !strings.Contains(string(r.Result), fmt.Sprintf(`"echo":"m%d"`, id)):
			t.Errorf("id %d: result %s", id, r.Result)
		}
	}
	if len(got) != n+1 {
		t.Errorf("%d answers, want %d", len(got), n+1)
	}
}

// TestRelayEOFDuringSignIn: stdin closes while the browser sign-in is
// pending; the relay does not wait for it beyond the drain timeout and
// answers what is outstanding with errors.
func TestRelayEOFDuringSignIn(t *testing.T) {
	t.Parallel()
	_, rs := protectedMCP(t, oauthtest.ASOptions{}, oauthtest.RSOptions{})
	opened := make(chan string, 4)
	c := newBridge(t, rs.URL(), Options{OAuth: oauthclient.Options{
		// The user never completes the sign-in.
		OpenBrowser: func(_ context.Context, u string) error { opened <- u; return nil },
		Timeout:     time.Hour,
	}})
	got := answers(t, runScript(t, c, RelayOptions{DrainTimeout: 200 * time.Millisecond}, scriptInput(2)))
	if len(opened) == 0 {
		t.Fatal("the sign-in never started")
	}
	for id := int64(0); id <= 2; id++ {
		if r, ok := got[id]; !ok || r.Error == nil || !strings.Contains(r.Error.Error(), "mcp-2coffee") {
			t.Errorf("id %d: answer %+v, want a JSON-RPC error from the relay", id, r)
		}
	}
}

// cancelServer has a tool "wait" that runs until cancelled (or for 5 s).
func cancelServer(t *testing.T) string {
	s := bridgetest.NewMCPServer()
	mcp.AddTool(s, &mcp.Tool{Name: "wait", Description: "Runs until cancelled."},
		func(ctx context.Context, req *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, any, error) {
			select {
			case <-ctx.Done():
			case <-time.After(5 * time.Second):
			}
			return nil, nil, ctx.Err()
		})
	srv, _ := streamableServer(t, s, nil)
	return srv.URL
}

// slowCalls delays the sending of tools/call requests, as a slow new
// connection would, and records when each request starts and when it has
// been written out.
type slowCalls struct {
	mu     sync.Mutex
	events []string
}

func (s *slowCalls) record(e string) {
	s.mu.Lock()
	s.events = append(s.events, e)
	s.mu.Unlock()
}

func (s *slowCalls) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method != http.MethodPost || req.Body == nil {
		return http.DefaultTransport.RoundTrip(req)
	}
	body, err := io.ReadAll(req.Body)
	req.Body.Close()
	if err != nil {
		return nil, err
	}
	var m struct {
		Method string `json:"method"`
	}
	json.Unmarshal(body, &m)
	s.record("start " + m.Method)
	if m.Method == "tools/call" {
		time.Sleep(300 * time.Millisecond)
	}
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
		WroteRequest: func(httptrace.WroteRequestInfo) { s.record("wrote " + m.Method) },
	}))
	req.Body = io.NopCloser(bytes.NewReader(body))
	return http.DefaultTransport.RoundTrip(req)
}

// TestRelayCancellationFollowsItsRequest: a notifications/cancelled sent
// right after its request goes out after it, even when the request is
// slow to send, and the request is forgotten (the relay does not wait for
// its answer at EOF).
func TestRelayCancellationFollowsItsRequest(t *testing.T) {
	t.Parallel()
	url := cancelServer(t)
	slow := &slowCalls{}
	c := newBridge(t, url, Options{DisableOAuth: true, Transport: slow})
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	var r *relay
	ready := make(chan struct{})
	errc := make(chan error, 1)
	go func() {
		errc <- c.Relay(context.Background(), RelayOptions{
			Local:        &mcp.IOTransport{Reader: inR, Writer: outW},
			DrainTimeout: time.Hour,
			started:      func(x *relay) { r = x; close(ready) },
		})
	}()
	out := bufio.NewScanner(outR)
	next := func() *jsonrpc.Response {
		t.Helper()
		for out.Scan() {
			msg, err := jsonrpc.DecodeMessage(out.Bytes())
			if err != nil {
				t.Fatal(err)
			}
			if resp, ok := msg.(*jsonrpc.Response); ok {
				return resp
			}
		}
		t.Fatal("the relay's output ended")
		return nil
	}
	io.WriteString(inW, initLine)
	if resp := next(); resp.Error != nil {
		t.Fatal(resp.Error)
	}
	// A slow call and its cancellation, back to back; then a call that
	// runs beside it.
	io.WriteString(inW, `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"wait","arguments":{}}}`+"\n"+
		`{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":1,"reason":"changed my mind"}}`+"\n"+
		`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{"text":"next"}}}`+"\n")
	// The server may still answer the cancelled request (the client
	// ignores that); the echo is answered.
	for {
		resp := next()
		if fmt.Sprint(resp.ID.Raw()) == "2" {
			if resp.Error != nil {
				t.Errorf("echo: %v", resp.Error)
			}
			break
		}
	}
	// The echo went after the cancellation, which went after its call.
	// (Which of two HTTP requests on two connections a server handles
	// first is up to the server; the relay writes the call out first.)
	slow.mu.Lock()
	events := slices.Clone(slow.events)
	slow.mu.Unlock()
	wrote, cancel := slices.Index(events, "wrote tools/call"), slices.Index(events, "start notifications/cancelled")
	if wrote < 0 || cancel < wrote {
		t.Errorf("HTTP requests %q: want the cancellation to start after the call was written out", events)
	}
	// Once a later answer is out, neither is outstanding (the relay
	// forgets a request right after writing its answer).
	io.WriteString(inW, `{"jsonrpc":"2.0","id":3,"method":"ping"}`+"\n")
	for fmt.Sprint(next().ID.Raw()) != "3" {
	}
	<-ready
	r.mu.Lock()
	var left []any
	for id := range r.flights {
		if id.Raw() != int64(3) {
			left = append(left, id.Raw())
		}
	}
	r.mu.Unlock()
	if len(left) != 0 {
		t.Errorf("requests %v still outstanding after being answered or cancelled", left)
	}
	inW.Close()
	go io.Copy(io.Discard, outR)
	select {
	case err := <-errc:
		if err != nil {
			t.Errorf("Relay = %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the relay waited at EOF for the answer to a cancelled request")
	}
}

// setupServer records per session the resources its client subscribed to;
// its tool "setup" logs at info level and returns them.
func setupServer() *mcp.Server {
	var mu sync.Mutex
	subs := map[*mcp.ServerSession][]string{}
	s := mcp.NewServer(&mcp.Implementation{Name: "setup", Version: "1"}, &mcp.ServerOptions{
		SubscribeHandler: func(_ context.Context, req *mcp.SubscribeRequest) error {
			mu.Lock()
			subs[req.Session] = append(subs[req.Session], req.Params.URI)
			mu.Unlock()
			return nil
		},
		UnsubscribeHandler: func(_ context.Context, req *mcp.UnsubscribeRequest) error {
			mu.Lock()
			subs[req.Session] = slices.DeleteFunc(subs[req.Session], func(u string) bool { return u == req.Params.URI })
			mu.Unlock()
			return nil
		},
	})
	for _, u := range []string{"blog://a", "blog://b"} {
		s.AddResource(&mcp.Resource{URI: u, Name: u}, func(context.Context, *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
			return &mcp.ReadResourceResult{}, nil
		})
	}
	mcp.AddTool(s, &mcp.Tool{Name: "setup", Description: "Logs, and lists this session's subscriptions."},
		func(ctx context.Context, req *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, any, error) {
			if err := req.Session.Log(ctx, &mcp.LoggingMessageParams{Level: "info", Data: "hello"}); err != nil {
				return nil, nil, err
			}
			mu.Lock()
			defer mu.Unlock()
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: strings.Join(subs[req.Session], ",")}}}, nil, nil
		})
	return s
}

// TestRelayReplaysSetupAfterSessionLoss: after the server forgets the
// session, the new one has the client's log level and subscriptions
// (minus the one it dropped), and the client sees none of the replay.
func TestRelayReplaysSetupAfterSessionLoss(t *testing.T) {
	t.Parallel()
	srv, rec := streamableServer(t, setupServer(), nil)
	transport, wait := relayTo(t, newBridge(t, srv.URL+"/mcp", Options{DisableOAuth: true}), RelayOptions{})
	cr := &clientRecorder{Transport: transport}
	logs := make(chan string, 8)
	client := mcp.NewClient(&mcp.Implementation{Name: "test-client", Version: "1"}, &mcp.ClientOptions{
		LoggingMessageHandler: func(_ context.Context, req *mcp.LoggingMessageRequest) {
			logs <- fmt.Sprint(req.Params.Data)
		},
	})
	cs, err := client.Connect(context.Background(), cr, &mcp.ClientSessionOptions{ProtocolVersion: "2025-11-25"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := cs.SetLoggingLevel(ctx, &mcp.SetLoggingLevelParams{Level: "info"}); err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"blog://a", "blog://b"} {
		if err := cs.Subscribe(ctx, &mcp.SubscribeParams{URI: u}); err != nil {
			t.Fatal(err)
		}
	}
	if err := cs.Unsubscribe(ctx, &mcp.UnsubscribeParams{URI: "blog://b"}); err != nil {
		t.Fatal(err)
	}
	call := func() string {
		t.Helper()
		res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "setup", Arguments: map[string]any{}})
		if err != nil {
			t.Fatal(err)
		}
		select {
		case got := <-logs:
			if got != "hello" {
				t.Errorf("log message %q", got)
			}
		case <-time.After(10 * time.Second):
			t.Error("no log message reached the client")
		}
		return res.Content[0].(*mcp.TextContent).Text
	}
	if got := call(); got != "blog://a" {
		t.Fatalf("subscriptions before the loss = %q", got)
	}

	old := rec.lastSessionID()
	del, _ := http.NewRequest(http.MethodDelete, srv.URL+"/mcp", nil)
	del.Header.Set("Mcp-Session-Id", old)
	resp, err := http.DefaultClient.Do(del)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	if got := call(); got != "blog://a" {
		t.Errorf("subscriptions in the new session = %q, want blog://a", got)
	}
	if now := rec.lastSessionID(); now == old {
		t.Errorf("still session %q", old)
	}
	if n := rec.count("logging/setLevel"); n != 2 {
		t.Errorf("logging/setLevel sent %d times, want 2 (the client's and the replay)", n)
	}
	for _, m := range cr.read() {
		if r, ok := m.(*jsonrpc.Response); ok && strings.HasPrefix(fmt.Sprint(r.ID.Raw()), "mcp-2coffee-") {
			t.Errorf("the client received the response to replayed request %v", r.ID.Raw())
		}
	}
	cs.Close()
	if err := wait(); err != nil {
		t.Fatal(err)
	}
}

// TestRelayMirrorsHeaderParams: through connect, a 2026-07-28 tools/call
// carries the Mcp-Param-* headers of the arguments the listed tool marks
// with x-mcp-header, which such a server requires.
func TestRelayMirrorsHeaderParams(t *testing.T) {
	t.Parallel()
	s := mcp.NewServer(&mcp.Implementation{Name: "headers", Version: "1"}, nil)
	s.AddTool(&mcp.Tool{
		Name:        "regional",
		InputSchema: json.RawMessage(`{"type":"object","properties":{"region":{"type":"string","x-mcp-header":"Region"},"n":{"type":"integer"}}}`),
	}, func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "ok"}}}, nil
	})
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s }, &mcp.StreamableHTTPOptions{Stateless: true})
	var mu sync.Mutex
	var got []string
	srv := testkit.Serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Mcp-Method") == "tools/call" {
			mu.Lock()
			got = append(got, r.Header.Get("Mcp-Param-Region"))
			mu.Unlock()
		}
		h.ServeHTTP(w, r)
	}))
	transport, wait := relayTo(t, newBridge(t, srv.URL, Options{DisableOAuth: true}), RelayOptions{})
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "c", Version: "1"}, nil).Connect(context.Background(), transport, &mcp.ClientSessionOptions{ProtocolVersion: "2026-07-28"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cs.ListTools(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "regional", Arguments: map[string]any{"region": "eu-west1", "n": 2}})
	if err != nil || res.IsError {
		t.Fatalf("tools/call through connect: %v %v", res, err)
	}
	cs.Close()
	if err := wait(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(got, []string{"eu-west1"}) {
		t.Errorf("Mcp-Param-Region on tools/call = %q, want [eu-west1]", got)
	}
}
