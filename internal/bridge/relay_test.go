package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/2coffee/mcp-2coffee/internal/testkit"

	"github.com/2coffee/mcp-2coffee/internal/bridge/bridgetest"
	"github.com/google/go-cmp/cmp"
	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

func testLogger() *slog.Logger {
	if os.Getenv("BRIDGE_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// newBridge returns a Client for url with a private config directory.
func newBridge(t *testing.T, url string, o Options) *Client {
	t.Helper()
	o.ServerURL = url
	if o.ConfigDir == "" && o.OAuth.Store == nil {
		o.ConfigDir = t.TempDir()
	}
	if o.Logger == nil {
		o.Logger = testLogger()
	}
	if o.Stderr == nil {
		o.Stderr = io.Discard
	}
	c, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// relayTo runs c.Relay and returns the transport a local MCP client uses
// to reach it, and a function that waits for the relay to end.
func relayTo(t *testing.T, c *Client, opts RelayOptions) (mcp.Transport, func() error) {
	t.Helper()
	local, client := mcp.NewInMemoryTransports()
	opts.Local = local
	if opts.RetryDelay == 0 {
		opts.RetryDelay = 20 * time.Millisecond
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- c.Relay(ctx, opts) }()
	t.Cleanup(cancel)
	wait := func() error {
		select {
		case err := <-errc:
			return err
		case <-time.After(10 * time.Second):
			cancel()
			return errors.New("the relay did not stop within 10s")
		}
	}
	return client, wait
}

// observer is a local MCP client that records what it sees.
type observer struct {
	mu           sync.Mutex
	progress     []string
	toolsChanged chan struct{}
}

func (o *observer) client() *mcp.Client {
	o.toolsChanged = make(chan struct{}, 10)
	c := mcp.NewClient(&mcp.Implementation{Name: "test-client", Version: "1.0.0"}, &mcp.ClientOptions{
		ProgressNotificationHandler: func(_ context.Context, req *mcp.ProgressNotificationClientRequest) {
			o.mu.Lock()
			o.progress = append(o.progress, fmt.Sprintf("%v/%v %s", req.Params.Progress, req.Params.Total, req.Params.Message))
			o.mu.Unlock()
		},
		ElicitationHandler: func(context.Context, *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
			return &mcp.ElicitResult{Action: "accept", Content: map[string]any{"name": "Ada"}}, nil
		},
		ToolListChangedHandler: func(context.Context, *mcp.ToolListChangedRequest) {
			o.toolsChanged <- struct{}{}
		},
	})
	c.AddRoots(&mcp.Root{URI: "file:///work/blog", Name: "blog"})
	return c
}

// observed is what a client saw of a fixed sequence of calls.
type observed struct {
	Server   string
	Tools    string
	Echo     string
	Fail     string
	Count    string
	Progress []string
	Roots    string
	Ask      string
	Unknown  string
	Prompt   string
	Resource string
}

func exercise(t *testing.T, cs *mcp.ClientSession, o *observer) observed {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var got observed
	ir := cs.InitializeResult()
	got.Server = ir.ServerInfo.Name + " " + ir.ServerInfo.Version
	tools, err := cs.ListTools(ctx, nil)
	if err != nil {
		t.Fatalf("tools/list: %v", err)
	}
	got.Tools = jsonString(t, tools)
	call := func(name string, args map[string]any, progress bool) string {
		p := &mcp.CallToolParams{Name: name, Arguments: args}
		if progress {
			p.SetProgressToken("tok-1")
		}
		res, err := cs.CallTool(ctx, p)
		if err != nil {
			// Compare the JSON-RPC error, not the text: a direct go-sdk
			// client adds its transport's context to the message.
			var werr *jsonrpc.Error
			if errors.As(err, &werr) {
				return fmt.Sprintf("JSON-RPC error %d", werr.Code)
			}
			return "error: " + err.Error()
		}
		return jsonString(t, res)
	}
	got.Echo = call("echo", map[string]any{"text": "ab", "times": 2}, false)
	got.Fail = call("fail", map[string]any{}, false)
	got.Count = call("count", map[string]any{}, true)
	got.Roots = call("roots", map[string]any{}, false)
	got.Ask = call("ask", map[string]any{}, false)
	got.Unknown = call("no-such-tool", map[string]any{}, false)
	pr, err := cs.GetPrompt(ctx, &mcp.GetPromptParams{Name: "greet", Arguments: map[string]string{"who": "Grace"}})
	if err != nil {
		t.Fatalf("prompts/get: %v", err)
	}
	got.Prompt = jsonString(t, pr)
	rr, err := cs.ReadResource(ctx, &mcp.ReadResourceParams{URI: "blog://articles/hello"})
	if err != nil {
		t.Fatalf("resources/read: %v", err)
	}
	got.Resource = jsonString(t, rr)
	o.mu.Lock()
	got.Progress = append([]string(nil), o.progress...)
	o.mu.Unlock()
	return got
}

func TestRelayIsFaithful(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		opts    *mcp.StreamableHTTPOptions
		version string // the local client's protocol version ("" = newest)
		// serverRequests: the server can send roots/list and elicitation
		// requests (not in stateless mode).
		serverRequests bool
	}{
		{"stateful", nil, "", true},
		{"stateful 2025-06-18", nil, "2025-06-18", true},
		{"stateless", &mcp.StreamableHTTPOptions{Stateless: true}, "", false},
		{"stateless 2025-11-25", &mcp.StreamableHTTPOptions{Stateless: true}, "2025-11-25", false},
		{"JSON responses", &mcp.StreamableHTTPOptions{JSONResponse: true}, "2025-11-25", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv, _ := streamableServer(t, bridgetest.NewMCPServer(), tc.opts)
			url := srv.URL + "/mcp"
			sessOpts := &mcp.ClientSessionOptions{ProtocolVersion: tc.version}

			direct := &observer{}
			dcs, err := direct.client().Connect(context.Background(), &mcp.StreamableClientTransport{Endpoint: url}, sessOpts)
			if err != nil {
				t.Fatal(err)
			}
			want := exercise(t, dcs, direct)
			dcs.Close()

			transport, wait := relayTo(t, newBridge(t, url, Options{DisableOAuth: true}), RelayOptions{})
			relayed := &observer{}
			rcs, err := relayed.client().Connect(context.Background(), transport, sessOpts)
			if err != nil {
				t.Fatal(err)
			}
			got := exercise(t, rcs, relayed)
			rcs.Close()
			if err := wait(); err != nil {
				t.Errorf("Relay returned %v after the client closed, want nil", err)
			}

			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("through the relay (-direct +relayed):\n%s", diff)
			}
			// Make sure the comparison compared something.
			if len(want.Progress) != 3 || !strings.Contains(want.Fail, `"isError":true`) || !strings.Contains(want.Echo, `"echo":"abab"`) || !strings.HasPrefix(want.Unknown, "JSON-RPC error ") {
				t.Errorf("unexpected direct results: %+v", want)
			}
			if tc.serverRequests && (!strings.Contains(want.Roots, "file:///work/blog") || !strings.Contains(want.Ask, "accept Ada")) {
				t.Errorf("server-to-client requests failed directly: roots %s, ask %s", want.Roots, want.Ask)
			}
		})
	}
}

func TestRelaySendsSessionHeaders(t *testing.T) {
	t.Parallel()
	srv, rec := streamableServer(t, bridgetest.NewMCPServer(), nil)
	transport, wait := relayTo(t, newBridge(t, srv.URL+"/mcp", Options{DisableOAuth: true}), RelayOptions{})
	cs, err := (&observer{}).client().Connect(context.Background(), transport, &mcp.ClientSessionOptions{ProtocolVersion: "2025-11-25"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cs.ListTools(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	cs.Close()
	if err := wait(); err != nil {
		t.Fatal(err)
	}
	var sawList, sawGET, sawDELETE bool
	// The session is the one the first request after initialize carried;
	// the standalone GET may be recorded before any POST.
	sid := ""
	for _, r := range rec.requests() {
		if r.rpcMethod != "initialize" && r.sessionID != "" {
			sid = r.sessionID
			break
		}
	}
	for _, r := range rec.requests() {
		switch {
		case r.rpcMethod == "initialize":
			if r.sessionID != "" {
				t.Errorf("initialize carried session ID %q", r.sessionID)
			}
		case r.method == http.MethodPost:
			if r.sessionID == "" || r.protocolVersion != "2025-11-25" {
				t.Errorf("%s: Mcp-Session-Id %q, MCP-Protocol-Version %q; want a session and 2025-11-25", r.rpcMethod, r.sessionID, r.protocolVersion)
			}
			if r.sessionID != sid {
				t.Errorf("%s: Mcp-Session-Id %q, want the session %q", r.rpcMethod, r.sessionID, sid)
			}
			sawList = sawList || r.rpcMethod == "tools/list"
		case r.method == http.MethodGet:
			sawGET = true
			if r.sessionID != sid || r.protocolVersion != "2025-11-25" {
				t.Errorf("GET: Mcp-Session-Id %q, MCP-Protocol-Version %q", r.sessionID, r.protocolVersion)
			}
		case r.method == http.MethodDelete:
			sawDELETE = true
			if r.sessionID != sid {
				t.Errorf("DELETE for session %q, want %q", r.sessionID, sid)
			}
		}
	}
	if !sawList || !sawGET || !sawDELETE {
		t.Errorf("saw tools/list %v, standalone GET %v, DELETE %v; want all", sawList, sawGET, sawDELETE)
	}
}

func TestRelayServerInitiatedNotification(t *testing.T) {
	t.Parallel()
	server := bridgetest.NewMCPServer()
	srv, _ := streamableServer(t, server, nil)
	transport, _ := relayTo(t, newBridge(t, srv.URL+"/mcp", Options{DisableOAuth: true}), RelayOptions{})
	o := &observer{}
	cs, err := o.client().Connect(context.Background(), transport, &mcp.ClientSessionOptions{ProtocolVersion: "2025-11-25"})
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	if _, err := cs.ListTools(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	// Outside of any request: this reaches the client only over the
	// standalone GET stream. Give the stream a moment to open.
	deadline := time.After(10 * time.Second)
	for {
		mcp.AddTool(server, &mcp.Tool{Name: fmt.Sprintf("late-%d", time.Now().UnixNano())}, func(context.Context, *mcp.CallToolRequest, struct{}) (*mcp.CallToolResult, any, error) {
			return nil, nil, nil
		})
		select {
		case <-o.toolsChanged:
			return
		case <-time.After(200 * time.Millisecond):
		case <-deadline:
			t.Fatal("notifications/tools/list_changed never reached the client")
		}
	}
}

func TestRelayReinitialisesExpiredSession(t *testing.T) {
	t.Parallel()
	srv, rec := streamableServer(t, bridgetest.NewMCPServer(), nil)
	transport, wait := relayTo(t, newBridge(t, srv.URL+"/mcp", Options{DisableOAuth: true}), RelayOptions{})
	cr := &clientRecorder{Transport: transport}
	cs, err := (&observer{}).client().Connect(context.Background(), cr, &mcp.ClientSessionOptions{ProtocolVersion: "2025-11-25"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := cs.ListTools(ctx, nil); err != nil {
		t.Fatal(err)
	}
	old := rec.lastSessionID()
	if old == "" {
		t.Fatal("no session ID seen")
	}
	// The server forgets the session (as after a restart or a timeout).
	del, _ := http.NewRequest(http.MethodDelete, srv.URL+"/mcp", nil)
	del.Header.Set("Mcp-Session-Id", old)
	resp, err := http.DefaultClient.Do(del)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"text": "again"}})
	if err != nil {
		t.Fatalf("tools/call after the session expired: %v", err)
	}
	if got := res.StructuredContent; jsonString(t, got) != `{"echo":"again"}` {
		t.Errorf("result = %s", jsonString(t, got))
	}
	if n := rec.count("initialize"); n != 2 {
		t.Errorf("initialize requests = %d, want 2 (the original and the replay)", n)
	}
	if n := rec.count("notifications/initialized"); n != 2 {
		t.Errorf("notifications/initialized = %d, want 2", n)
	}
	if now := rec.lastSessionID(); now == old || now == "" {
		t.Errorf("session after re-initialisation = %q, want a new one (old %q)", now, old)
	}
	for _, m := range cr.read() {
		if r, ok := m.(*jsonrpc.Response); ok && strings.HasPrefix(fmt.Sprint(r.ID.Raw()), "mcp-2coffee-") {
			t.Errorf("the client received the replayed initialize's response %v", r.ID.Raw())
		}
	}
	// And it keeps working.
	if _, err := cs.ListTools(ctx, nil); err != nil {
		t.Fatal(err)
	}
	cs.Close()
	if err := wait(); err != nil {
		t.Fatal(err)
	}
}

func TestRelaySSEFallback(t *testing.T) {
	t.Parallel()
	srv := testkit.Serve(t, mcp.NewSSEHandler(func(*http.Request) *mcp.Server { return bridgetest.NewMCPServer() }, nil))
	for _, mode := range []string{TransportAuto, TransportSSE} {
		t.Run("mode="+mode, func(t *testing.T) {
			transport, wait := relayTo(t, newBridge(t, srv.URL, Options{DisableOAuth: true}), RelayOptions{Transport: mode})
			o := &observer{}
			cs, err := o.client().Connect(context.Background(), transport, nil)
			if err != nil {
				t.Fatal(err)
			}
			got := exercise(t, cs, o)
			if !strings.Contains(got.Echo, `"echo":"abab"`) || len(got.Progress) != 3 || !strings.Contains(got.Roots, "file:///work/blog") {
				t.Errorf("over HTTP+SSE: %+v", got)
			}
			cs.Close()
			if err := wait(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestRelayRetriesWhileServerIsDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now

	transport, _ := relayTo(t, newBridge(t, "http://"+addr+"/mcp", Options{DisableOAuth: true}), RelayOptions{RetryDelay: 50 * time.Millisecond, MaxRetries: 8})
	type result struct {
		cs  *mcp.ClientSession
		err error
	}
	done := make(chan result, 1)
	go func() {
		cs, err := (&observer{}).client().Connect(context.Background(), transport, &mcp.ClientSessionOptions{ProtocolVersion: "2025-11-25"})
		done <- result{cs, err}
	}()
	time.Sleep(300 * time.Millisecond)
	ln, err = net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("port %s taken meanwhile: %v", addr, err)
	}
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return bridgetest.NewMCPServer() }, nil)
	s := &http.Server{Handler: h}
	go s.Serve(ln)
	defer s.Close()
	select {
	case r := <-done:
		if r.err != nil {
			t.Fatalf("Connect through the relay while the server came up: %v", r.err)
		}
		defer r.cs.Close()
		if _, err := r.cs.ListTools(context.Background(), nil); err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no answer")
	}
}

func TestRelayAnswersWhenServerIsGone(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	transport, _ := relayTo(t, newBridge(t, "http://"+addr+"/mcp", Options{DisableOAuth: true}), RelayOptions{RetryDelay: 10 * time.Millisecond, MaxRetries: 2})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := (&observer{}).client().Connect(ctx, transport, &mcp.ClientSessionOptions{ProtocolVersion: "2025-11-25"})
	if err == nil || !strings.Contains(err.Error(), "mcp-2coffee") || ctx.Err() != nil {
		t.Errorf("Connect = %v, want a prompt JSON-RPC error from the relay", err)
	}
}

func TestRelayExitsWhenStdinCloses(t *testing.T) {
	srv, _ := streamableServer(t, bridgetest.NewMCPServer(), nil)
	c := newBridge(t, srv.URL+"/mcp", Options{DisableOAuth: true})
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	go io.Copy(io.Discard, outR)
	errc := make(chan error, 1)
	go func() {
		errc <- c.Relay(context.Background(), RelayOptions{Local: &mcp.IOTransport{Reader: inR, Writer: outW}})
	}()
	io.WriteString(inW, `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"x","version":"1"}}}`+"\n")
	time.Sleep(100 * time.Millisecond)
	inW.Close()
	select {
	case err := <-errc:
		if err != nil {
			t.Errorf("Relay = %v, want nil on EOF", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Relay did not return after stdin closed")
	}
}

func TestRelayWithHeaders(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var keys []string
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return bridgetest.NewMCPServer() }, nil)
	srv := testkit.Serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		keys = append(keys, r.Header.Get("X-Api-Key"))
		mu.Unlock()
		if r.Header.Get("X-Api-Key") != "s3cret" {
			http.Error(w, "no key", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	}))
	env := map[string]string{"BLOG_KEY": "s3cret"}
	c := newBridge(t, srv.URL+"/mcp", Options{
		Headers:   []string{"X-API-KEY: ${BLOG_KEY}"},
		LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok },
	})
	transport, wait := relayTo(t, c, RelayOptions{})
	cs, err := (&observer{}).client().Connect(context.Background(), transport, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cs.ListTools(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	cs.Close()
	wait()
	mu.Lock()
	defer mu.Unlock()
	for _, k := range keys {
		if k != "s3cret" {
			t.Errorf("a request carried X-API-KEY %q", k)
		}
	}
	if len(keys) < 3 {
		t.Errorf("server saw %d requests", len(keys))
	}
}

// getOnlyServer is a minimal Streamable HTTP server that sends its
// server-to-client request on the standalone GET stream only, and drops it
// when no such stream is open, as TypeScript SDK servers do for requests
// without a related request.
type getOnlyServer struct {
	mu      sync.Mutex
	stream  chan []byte // the open GET stream, if any
	answers chan string // the client's responses, by JSON-RPC result text
}

func (s *getOnlyServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Mcp-Session-Id", "s-1")
	switch r.Method {
	case http.MethodGet:
		// A slow stream set-up: a client that does not wait for it sends
		// its first request before the stream exists.
		time.Sleep(300 * time.Millisecond)
		ch := make(chan []byte, 4)
		s.mu.Lock()
		s.stream = ch
		s.mu.Unlock()
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		for {
			select {
			case msg := <-ch:
				fmt.Fprintf(w, "event: message\ndata: %s\n\n", msg)
				w.(http.Flusher).Flush()
			case <-r.Context().Done():
				return
			}
		}
	case http.MethodDelete:
		w.WriteHeader(http.StatusOK)
		return
	}
	body, _ := io.ReadAll(r.Body)
	msg, err := jsonrpc.DecodeMessage(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	reply := func(v string) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, v)
	}
	switch m := msg.(type) {
	case *jsonrpc.Response:
		s.answers <- string(m.Result)
		w.WriteHeader(http.StatusAccepted)
	case *jsonrpc.Request:
		id := rawJSON(m.ID.Raw())
		switch m.Method {
		case "initialize":
			reply(`{"jsonrpc":"2.0","id":` + id + `,"result":{"protocolVersion":"2025-11-25","capabilities":{"tools":{}},"serverInfo":{"name":"get-only","version":"1"}}}`)
		case "tools/call":
			s.mu.Lock()
			stream := s.stream
			s.mu.Unlock()
			if stream == nil {
				reply(`{"jsonrpc":"2.0","id":` + id + `,"result":{"content":[{"type":"text","text":"no stream: request dropped"}],"isError":true}}`)
				return
			}
			stream <- []byte(`{"jsonrpc":"2.0","id":"srv-1","method":"roots/list"}`)
			select {
			case a := <-s.answers:
				reply(`{"jsonrpc":"2.0","id":` + id + `,"result":{"content":[{"type":"text","text":` + rawJSON(a) + `}]}}`)
			case <-time.After(5 * time.Second):
				reply(`{"jsonrpc":"2.0","id":` + id + `,"result":{"content":[{"type":"text","text":"no answer"}],"isError":true}}`)
			}
		default:
			if m.IsCall() {
				reply(`{"jsonrpc":"2.0","id":` + id + `,"result":{}}`)
				return
			}
			w.WriteHeader(http.StatusAccepted)
		}
	}
}

// rawJSON encodes v, for the fake server (which runs outside the test's
// goroutine and cannot fail it).
func rawJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestRelayOpensNotificationStreamBeforeFirstRequest(t *testing.T) {
	t.Parallel()
	srv := testkit.Serve(t, &getOnlyServer{answers: make(chan string, 1)})
	transport, wait := relayTo(t, newBridge(t, srv.URL+"/mcp", Options{DisableOAuth: true}), RelayOptions{})
	cs, err := (&observer{}).client().Connect(context.Background(), transport, &mcp.ClientSessionOptions{ProtocolVersion: "2025-11-25"})
	if err != nil {
		t.Fatal(err)
	}
	// The very first request: the stream must already be open.
	res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "roots", Arguments: map[string]any{}})
	if err != nil {
		t.Fatal(err)
	}
	if text := res.Content[0].(*mcp.TextContent).Text; res.IsError || !strings.Contains(text, "file:///work/blog") {
		t.Errorf("result %q (isError %v), want the client's roots", text, res.IsError)
	}
	cs.Close()
	if err := wait(); err != nil {
		t.Fatal(err)
	}
}

func TestRelayRetriesBusyServer(t *testing.T) {
	t.Parallel()
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return bridgetest.NewMCPServer() }, nil)
	var mu sync.Mutex
	busy := 2
	srv := testkit.Serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		refuse := r.Method == http.MethodPost && busy > 0
		if refuse {
			busy--
		}
		mu.Unlock()
		if refuse {
			w.Header().Set("Retry-After", "0")
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		h.ServeHTTP(w, r)
	}))
	transport, wait := relayTo(t, newBridge(t, srv.URL, Options{DisableOAuth: true}), RelayOptions{})
	cs, err := (&observer{}).client().Connect(context.Background(), transport, &mcp.ClientSessionOptions{ProtocolVersion: "2025-11-25"})
	if err != nil {
		t.Fatalf("Connect through two 503s: %v", err)
	}
	if _, err := cs.ListTools(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	cs.Close()
	if err := wait(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if busy != 0 {
		t.Errorf("the server refused %d fewer times than planned", busy)
	}
}
