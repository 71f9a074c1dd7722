package loadgen

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/jsonschema-go/jsonschema"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// TestMain lets the test binary serve MCP over stdio for RunStdio: a
// child started with LOADGEN_TEST_STDIO=1 runs the test server on its
// stdin and stdout.
func TestMain(m *testing.M) {
	if os.Getenv("LOADGEN_TEST_STDIO") == "1" {
		if err := newServer().Run(context.Background(), &mcp.StdioTransport{}); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// newServer is a go-sdk server with a tool that answers and one that
// reports an error.
func newServer() *mcp.Server {
	s := mcp.NewServer(&mcp.Implementation{Name: "loadgen-test", Version: "1"}, nil)
	obj := &jsonschema.Schema{Type: "object"}
	s.AddTool(&mcp.Tool{Name: "echo", InputSchema: obj}, func(_ context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: string(req.Params.Arguments)}}}, nil
	})
	s.AddTool(&mcp.Tool{Name: "fail", InputSchema: obj}, func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return &mcp.CallToolResult{IsError: true, Content: []mcp.Content{&mcp.TextContent{Text: "no such article"}}}, nil
	})
	return s
}

// serve runs the go-sdk Streamable HTTP handler on 127.0.0.1, wrapped by
// wrap when it is not nil.
func serve(t *testing.T, opts *mcp.StreamableHTTPOptions, wrap func(http.Handler) http.Handler) string {
	t.Helper()
	s := newServer()
	var h http.Handler = mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s }, opts)
	if wrap != nil {
		h = wrap(h)
	}
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	return ts.URL + "/mcp"
}

func run(t *testing.T, o Options) *Report {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r, err := Run(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if r.Requests != r.OK+r.Errors {
		t.Errorf("requests %d != ok %d + errors %d", r.Requests, r.OK, r.Errors)
	}
	var kinds int64
	for _, n := range r.ErrorKinds {
		kinds += n
	}
	if kinds != r.Errors {
		t.Errorf("error kinds %v add up to %d, want %d", r.ErrorKinds, kinds, r.Errors)
	}
	return r
}

func TestRunAgainstGoSDK(t *testing.T) {
	for _, tc := range []struct {
		name     string
		opts     mcp.StreamableHTTPOptions
		version  string
		sessions int
	}{
		{"stateless JSON", mcp.StreamableHTTPOptions{Stateless: true, JSONResponse: true}, "", 0},
		{"stateless SSE", mcp.StreamableHTTPOptions{Stateless: true}, "", 0},
		{"stateful JSON", mcp.StreamableHTTPOptions{JSONResponse: true}, "", 4},
		{"stateful SSE", mcp.StreamableHTTPOptions{}, "", 4},
		{"2026-07-28 stateless", mcp.StreamableHTTPOptions{Stateless: true, JSONResponse: true}, "2026-07-28", 0},
		{"2026-07-28 stateless SSE", mcp.StreamableHTTPOptions{Stateless: true}, "2026-07-28", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url := serve(t, &tc.opts, nil)
			r := run(t, Options{URL: url, Tool: "echo", Arguments: json.RawMessage(`{"slug":"x"}`),
				Concurrency: 4, Requests: 40, ProtocolVersion: tc.version})
			if r.Requests != 40 || r.OK != 40 {
				t.Errorf("requests %d, ok %d, want 40 of 40; errors %v %v", r.Requests, r.OK, r.ErrorKinds, r.ErrorExamples)
			}
			if r.Sessions != tc.sessions {
				t.Errorf("sessions %d, want %d", r.Sessions, tc.sessions)
			}
			want := tc.version
			if want == "" {
				want = DefaultProtocolVersion
			}
			if r.ProtocolVersion != want {
				t.Errorf("protocol %q, want %q", r.ProtocolVersion, want)
			}
			if r.Latency.Max <= 0 || r.Latency.P50 > r.Latency.P99 || r.Latency.P99 > r.Latency.Max {
				t.Errorf("latency %+v out of order", r.Latency)
			}
		})
	}
}

// A stateful server's session id is sent back on every call, and ended
// with a DELETE after the run.
func TestRunKeepsTheSession(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]int{} // session id → calls carrying it
	var deleted atomic.Int32
	url := serve(t, &mcp.StreamableHTTPOptions{JSONResponse: true}, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodDelete {
				deleted.Add(1)
			}
			if sid := r.Header.Get("Mcp-Session-Id"); sid != "" && r.Method == http.MethodPost {
				mu.Lock()
				seen[sid]++
				mu.Unlock()
			}
			next.ServeHTTP(w, r)
		})
	})
	r := run(t, Options{URL: url, Tool: "echo", Concurrency: 2, Requests: 10})
	if r.OK != 10 || r.Sessions != 2 {
		t.Fatalf("ok %d, sessions %d; want 10, 2", r.OK, r.Sessions)
	}
	total := 0
	for _, n := range seen {
		total += n
	}
	// Each session carries notifications/initialized and its calls.
	if len(seen) != 2 || total != 10+2 {
		t.Errorf("session ids on POSTs: %v, want 2 sessions over 12 POSTs", seen)
	}
	if deleted.Load() != 2 {
		t.Errorf("%d DELETEs, want 2", deleted.Load())
	}
}

func TestRunCountsErrorsByKind(t *testing.T) {
	url := serve(t, &mcp.StreamableHTTPOptions{Stateless: true, JSONResponse: true}, nil)
	unknown := run(t, Options{URL: url, Tool: "nope", Concurrency: 2, Requests: 10})
	if unknown.Errors != 10 || unknown.ErrorKinds["jsonrpc_-32602"] != 10 {
		t.Errorf("unknown tool: %d errors %v, want 10 jsonrpc_-32602", unknown.Errors, unknown.ErrorKinds)
	}
	if !strings.Contains(unknown.ErrorExamples["jsonrpc_-32602"], "nope") {
		t.Errorf("example %q does not name the tool", unknown.ErrorExamples["jsonrpc_-32602"])
	}
	tool := run(t, Options{URL: url, Tool: "fail", Concurrency: 2, Requests: 10})
	if tool.ErrorKinds[KindTool] != 10 || tool.ErrorExamples[KindTool] != "no such article" {
		t.Errorf("isError: %v %v, want 10 tool_error", tool.ErrorKinds, tool.ErrorExamples)
	}

	// A server that refuses the credential: the handshake fails, and each
	// refusal counts as one failed call.
	const key = "right"
	guarded := serve(t, &mcp.StreamableHTTPOptions{Stateless: true, JSONResponse: true}, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("X-Api-Key") != key {
				http.Error(w, "bad key", http.StatusUnauthorized)
				return
			}
			next.ServeHTTP(w, r)
		})
	})
	refused := run(t, Options{URL: guarded, Tool: "echo", Concurrency: 2, Requests: 10, Header: http.Header{"X-Api-Key": {"wrong"}}})
	if refused.Requests != 10 || refused.ErrorKinds["http_401"] != 10 {
		t.Errorf("wrong key: %d requests, %v; want 10 http_401", refused.Requests, refused.ErrorKinds)
	}
	ok := run(t, Options{URL: guarded, Tool: "echo", Concurrency: 2, Requests: 10, Header: http.Header{"X-Api-Key": {key}}})
	if ok.OK != 10 {
		t.Errorf("right key: %d ok, %v", ok.OK, ok.ErrorKinds)
	}

	// Nothing listens: transport errors, counted, not fatal.
	ts := httptest.NewServer(http.NotFoundHandler())
	ts.Close()
	gone := run(t, Options{URL: ts.URL + "/mcp", Tool: "echo", Concurrency: 1, Requests: 3})
	if gone.ErrorKinds[KindTransport] != 3 {
		t.Errorf("closed port: %v, want 3 transport errors", gone.ErrorKinds)
	}
}

// An SSE answer may carry notifications and requests of the server before
// the response; the response is found by its id, and the request is
// answered so the server can go on.
func TestRunReadsEventStreams(t *testing.T) {
	var answered atomic.Int32
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m struct {
			ID     json.RawMessage `json:"id"`
			Method string          `json:"method"`
			Error  json.RawMessage `json:"error"`
		}
		body, _ := io.ReadAll(r.Body)
		json.Unmarshal(body, &m)
		switch {
		case m.Method == "initialize":
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"jsonrpc":"2.0","id":%s,"result":{"protocolVersion":"2025-06-18","capabilities":{},"serverInfo":{"name":"x","version":"1"}}}`, m.ID)
		case m.Method == "tools/call":
			if r.Header.Get("Mcp-Protocol-Version") != "2025-06-18" {
				http.Error(w, "wrong version header", http.StatusBadRequest)
				return
			}
			w.Header().Set("Content-Type", "text/event-stream")
			fmt.Fprintf(w, ": hello\n\n")
			fmt.Fprintf(w, "event: message\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{}}\n\n")
			fmt.Fprintf(w, "data: {\"jsonrpc\":\"2.0\",\"id\":\"s1\",\"method\":\"roots/list\"}\n\n")
			fmt.Fprintf(w, "data: {\"jsonrpc\":\"2.0\",\"id\":999999,\"result\":{}}\n\n") // another id
			fmt.Fprintf(w, "id: 7\ndata: {\"jsonrpc\":\"2.0\",\n")
			fmt.Fprintf(w, "data: \"id\":%s,\"result\":{\"content\":[]}}\n\n", m.ID)
		case m.Error != nil:
			answered.Add(1)
			w.WriteHeader(http.StatusAccepted)
		default:
			w.WriteHeader(http.StatusAccepted)
		}
	})
	ts := httptest.NewServer(h)
	defer ts.Close()
	r := run(t, Options{URL: ts.URL, Tool: "echo", Concurrency: 1, Requests: 5})
	if r.OK != 5 || r.ProtocolVersion != "2025-06-18" {
		t.Errorf("ok %d (%v %v), protocol %s; want 5 ok on 2025-06-18", r.OK, r.ErrorKinds, r.ErrorExamples, r.ProtocolVersion)
	}
	if answered.Load() != 5 {
		t.Errorf("%d answers to the server's requests, want 5", answered.Load())
	}
}

// The remote guard refuses before anything is sent: the transport would
// fail the test if it were asked to.
func TestRunRefusesRemoteTargets(t *testing.T) {
	never := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		t.Errorf("a request went to %s", r.URL)
		return nil, errors.New("refused by the test")
	})
	for _, u := range []string{"http://192.0.2.1/mcp", "https://example.com/mcp", "http://0.0.0.0:3000/mcp", "http://localhost.example/mcp", "http://[fe80::1%25eth0]/mcp"} {
		_, err := Run(context.Background(), Options{URL: u, Tool: "echo", Requests: 1, Transport: never})
		if !errors.Is(err, ErrRemote) {
			t.Errorf("Run(%s) = %v, want ErrRemote", u, err)
		}
	}
	for _, u := range []string{"http://127.0.0.1:1/mcp", "http://localhost/mcp", "http://[::1]/mcp", "http://127.9.9.9/mcp"} {
		if _, err := CheckTarget(u, false); err != nil {
			t.Errorf("CheckTarget(%s) = %v, want loopback", u, err)
		}
	}
	if _, err := CheckTarget("http://192.0.2.1/mcp", true); err != nil {
		t.Errorf("CheckTarget with allowRemote: %v", err)
	}
	if _, err := CheckTarget("ftp://127.0.0.1/", false); err == nil {
		t.Error("an ftp URL was accepted")
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// The warm-up's calls are made and not counted; a duration bound ends
// the run.
func TestRunWarmupAndDuration(t *testing.T) {
	var calls atomic.Int64
	url := serve(t, &mcp.StreamableHTTPOptions{Stateless: true, JSONResponse: true}, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			calls.Add(1)
			next.ServeHTTP(w, r)
		})
	})
	// The measured part is bounded by a count, not the clock; the warm-up
	// is a second, hundreds of times a loopback call, so even a loaded
	// machine makes some calls in it.
	r := run(t, Options{URL: url, Tool: "echo", Concurrency: 2, Warmup: time.Second, Requests: 20})
	if r.Requests != 20 || r.OK != r.Requests {
		t.Fatalf("%d requests, %d ok; want the 20 asked for", r.Requests, r.OK)
	}
	// Two handshakes of two POSTs each, then calls: more calls reached the
	// server than were counted, the warm-up's.
	if sent := calls.Load() - 4; sent <= r.Requests {
		t.Errorf("%d calls reached the server, %d counted: the warm-up made none", sent, r.Requests)
	}
	// With no count, the duration ends the run (the test would hang
	// otherwise); a second leaves room for calls however busy the machine.
	r = run(t, Options{URL: url, Tool: "echo", Concurrency: 2, Duration: time.Second})
	if r.Requests == 0 || r.OK != r.Requests {
		t.Errorf("a run bounded by duration: %d requests, %d ok", r.Requests, r.OK)
	}
}

func TestReportJSON(t *testing.T) {
	url := serve(t, &mcp.StreamableHTTPOptions{Stateless: true, JSONResponse: true}, nil)
	r := run(t, Options{URL: url, Tool: "fail", Concurrency: 1, Requests: 3, PID: os.Getpid()})
	data, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	for _, field := range []string{"mode", "target", "tool", "protocol_version", "concurrency", "seconds", "requests", "ok", "errors",
		"requests_per_second", "latency_ms", "error_kinds", "sessions", "server"} {
		if _, ok := got[field]; !ok {
			t.Errorf("no %q in %s", field, data)
		}
	}
	lat := got["latency_ms"].(map[string]any)
	for _, field := range []string{"p50", "p90", "p99", "max", "mean"} {
		if _, ok := lat[field]; !ok {
			t.Errorf("no latency_ms.%s in %s", field, data)
		}
	}
	server := got["server"].(map[string]any)
	if server["pid"].(float64) != float64(os.Getpid()) || server["peak_rss_bytes"].(float64) <= 0 || server["samples"].(float64) < 1 {
		t.Errorf("server %v: want this process's pid, a resident set and samples", server)
	}
	var text strings.Builder
	r.WriteText(&text)
	for _, want := range []string{"requests/s", "p99", "error tool isError", "no such article", "peak RSS"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, text.String())
		}
	}
}

func TestRunRejectsBadOptions(t *testing.T) {
	for _, o := range []Options{
		{URL: "http://127.0.0.1:1/mcp"},
		{URL: "http://127.0.0.1:1/mcp", Tool: "x", Arguments: json.RawMessage(`[1]`)},
		{URL: "http://127.0.0.1:1/mcp", Tool: "x", Duration: -time.Second},
		{URL: "http://127.0.0.1:1/mcp", Tool: "x", PID: -1},
	} {
		if _, err := Run(context.Background(), o); err == nil {
			t.Errorf("Run(%+v) accepted", o)
		}
	}
}

func TestStatTicks(t *testing.T) {
	line := "4242 (a) (b c) S 1 4242 4242 0 -1 4194560 100 0 0 0 17 5 0 0 20 0 8 0 12345 0 0"
	n, err := statTicks([]byte(line))
	if err != nil || n != 22 {
		t.Errorf("statTicks = %d, %v; want 22", n, err)
	}
	if _, err := statTicks([]byte("4242 (x) S 1")); err == nil {
		t.Error("a short line was accepted")
	}
	status := []byte("Name:\tserve\nVmHWM:\t  20480 kB\nVmRSS:\t   10240 kB\n")
	if statusKiB(status, "VmRSS:") != 10240 || statusKiB(status, "VmHWM:") != 20480 || statusKiB(status, "VmSwap:") != 0 {
		t.Error("statusKiB misread /proc/PID/status")
	}
}

func TestSummarize(t *testing.T) {
	var ds []time.Duration
	for i := 100; i >= 1; i-- {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	got := summarize(ds)
	want := Latency{P50: 50, P90: 90, P99: 99, Max: 100, Mean: 50.5}
	if got != want {
		t.Errorf("summarize = %+v, want %+v", got, want)
	}
	if summarize(nil) != (Latency{}) {
		t.Error("no durations gave a summary")
	}
}

func TestRunStdio(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// The argument stands for a bridge's credential; the child ignores it.
	r, err := RunStdio(ctx, StdioOptions{
		Argv: []string{os.Args[0], "--header", "X-API-KEY: m2c_secretid_secretsecret"}, Env: append(os.Environ(), "LOADGEN_TEST_STDIO=1"),
		Tool: "echo", Arguments: json.RawMessage(`{"a":1}`), Runs: 3, Requests: 20,
	})
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := json.Marshal(r); strings.Contains(string(b), "secret") || !strings.Contains(r.Target, "2 arguments") {
		t.Errorf("report target %q: want the program and argument count, never the arguments", r.Target)
	}
	if r.Runs != 3 || r.Requests != 20 || r.OK != 20 || r.Startup == nil || r.Startup.Max <= 0 {
		t.Errorf("report %+v: want 3 runs, 20 ok calls and a start-up time", r)
	}
	if r.Server.CPUSeconds <= 0 {
		t.Errorf("children's CPU %v", r.Server.CPUSeconds)
	}
	if r.Server.PeakRSSBytes <= 0 && isLinux() {
		t.Errorf("children's peak RSS %d", r.Server.PeakRSSBytes)
	}
	fails, err := RunStdio(ctx, StdioOptions{Argv: []string{os.Args[0]}, Env: append(os.Environ(), "LOADGEN_TEST_STDIO=1"), Tool: "nope", Requests: 4})
	if err != nil || fails.ErrorKinds["jsonrpc_-32602"] != 4 {
		t.Errorf("unknown tool over stdio: %v, %+v", err, fails)
	}
	// A command that is not a server: an error that quotes its stderr.
	_, err = RunStdio(ctx, StdioOptions{Argv: []string{"sh", "-c", "echo not a server >&2; exit 3"}, Tool: "echo", Requests: 1})
	if err == nil || !strings.Contains(err.Error(), "not a server") {
		t.Errorf("RunStdio of a failing command = %v", err)
	}
}
