package bridge

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"

	"github.com/2coffee/mcp-2coffee/internal/testkit"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// recordedRequest is what the test server saw of one HTTP request.
type recordedRequest struct {
	method, rpcMethod, sessionID, protocolVersion, apiKey string
	status                                                int
}

// serverRecorder wraps an MCP handler and records requests.
type serverRecorder struct {
	next http.Handler
	mu   sync.Mutex
	reqs []recordedRequest
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(s int) {
	if w.status == 0 {
		w.status = s
	}
	w.ResponseWriter.WriteHeader(s)
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (sr *serverRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := recordedRequest{
		method:          r.Method,
		sessionID:       r.Header.Get("Mcp-Session-Id"),
		protocolVersion: r.Header.Get("Mcp-Protocol-Version"),
		apiKey:          r.Header.Get("X-Api-Key"),
	}
	if r.Body != nil {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		if msg, err := jsonrpc.DecodeMessage(body); err == nil {
			if req, ok := msg.(*jsonrpc.Request); ok {
				rec.rpcMethod = req.Method
			}
		}
	}
	// Record the request before it is served: the client may read the
	// answer, and a test look at the record, before ServeHTTP returns.
	sr.mu.Lock()
	i := len(sr.reqs)
	sr.reqs = append(sr.reqs, rec)
	sr.mu.Unlock()
	sw := &statusWriter{ResponseWriter: w}
	sr.next.ServeHTTP(sw, r)
	if sw.status == 0 {
		sw.status = http.StatusOK
	}
	sr.mu.Lock()
	sr.reqs[i].status = sw.status
	sr.mu.Unlock()
}

func (sr *serverRecorder) requests() []recordedRequest {
	sr.mu.Lock()
	defer sr.mu.Unlock()
	return slices.Clone(sr.reqs)
}

func (sr *serverRecorder) count(rpcMethod string) int {
	n := 0
	for _, r := range sr.requests() {
		if r.rpcMethod == rpcMethod {
			n++
		}
	}
	return n
}

// lastSessionID returns the newest session ID the client sent.
func (sr *serverRecorder) lastSessionID() string {
	rs := sr.requests()
	for i := len(rs) - 1; i >= 0; i-- {
		if rs[i].sessionID != "" {
			return rs[i].sessionID
		}
	}
	return ""
}

// streamableServer starts a stateful Streamable HTTP server.
func streamableServer(t *testing.T, s *mcp.Server, opts *mcp.StreamableHTTPOptions) (*httptest.Server, *serverRecorder) {
	t.Helper()
	rec := &serverRecorder{next: mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s }, opts)}
	return testkit.Serve(t, rec), rec
}

// recordingTransport records the messages a client reads.
type clientRecorder struct {
	mcp.Transport
	mu   sync.Mutex
	msgs []jsonrpc.Message
}

func (t *clientRecorder) Connect(ctx context.Context) (mcp.Connection, error) {
	c, err := t.Transport.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &recordingConn{Connection: c, t: t}, nil
}

func (t *clientRecorder) read() []jsonrpc.Message {
	t.mu.Lock()
	defer t.mu.Unlock()
	return slices.Clone(t.msgs)
}

type recordingConn struct {
	mcp.Connection
	t *clientRecorder
}

func (c *recordingConn) Read(ctx context.Context) (jsonrpc.Message, error) {
	m, err := c.Connection.Read(ctx)
	if err == nil {
		c.t.mu.Lock()
		c.t.msgs = append(c.t.msgs, m)
		c.t.mu.Unlock()
	}
	return m, err
}

func jsonString(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
