package bridge

import (
	"context"
	"encoding/json"
	"sync"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"

	"github.com/2coffee/mcp-2coffee/internal/paramheader"
)

// setup is what the client set up in the session beyond the handshake,
// as the server accepted it: a new session after a loss gets it again.
type setup struct {
	logLevel json.RawMessage // params of the last logging/setLevel
	subs     []subscription  // resources/subscribe minus resources/unsubscribe
}

type subscription struct {
	uri    string
	params json.RawMessage
}

// isSetup reports a method whose effect lasts for the session.
func isSetup(method string) bool {
	return method == methodSetLevel || method == methodSubscribe || method == methodUnsubscribe
}

// learn notes what a successful response to the client's request f
// teaches: a setting to replay in a new session, or the listed tools'
// input schemas (for Mcp-Param-* headers).
func (r *relay) learn(f *flight, result json.RawMessage) {
	switch f.method {
	case methodSetLevel:
		r.mu.Lock()
		r.setup.logLevel = f.params
		r.mu.Unlock()
	case methodSubscribe, methodUnsubscribe:
		var p struct {
			URI string `json:"uri"`
		}
		if json.Unmarshal(f.params, &p) != nil || p.URI == "" {
			return
		}
		r.mu.Lock()
		subs := r.setup.subs[:0:0]
		for _, s := range r.setup.subs {
			if s.uri != p.URI {
				subs = append(subs, s)
			}
		}
		if f.method == methodSubscribe {
			subs = append(subs, subscription{uri: p.URI, params: f.params})
		}
		r.setup.subs = subs
		r.mu.Unlock()
	case methodToolsList:
		var res struct {
			Tools []struct {
				Name        string          `json:"name"`
				InputSchema json.RawMessage `json:"inputSchema"`
			} `json:"tools"`
		}
		if json.Unmarshal(result, &res) != nil {
			return
		}
		r.mu.Lock()
		for _, t := range res.Tools {
			r.tools[t.Name] = t.InputSchema
		}
		r.mu.Unlock()
	}
}

// setupRequests are the requests that repeat the client's setup.
func (r *relay) setupRequests() []*jsonrpc.Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*jsonrpc.Request
	if r.setup.logLevel != nil {
		out = append(out, &jsonrpc.Request{Method: methodSetLevel, Params: r.setup.logLevel})
	}
	for _, s := range r.setup.subs {
		out = append(out, &jsonrpc.Request{Method: methodSubscribe, Params: s.params})
	}
	return out
}

// withParamHeaders adds to ctx the Mcp-Param-* headers of a tools/call, as
// far as the tool has been listed.
func (r *relay) withParamHeaders(ctx context.Context, req *jsonrpc.Request) context.Context {
	var p struct {
		Name      string          `json:"name"`
		Arguments json.RawMessage `json:"arguments"`
		Meta      struct {
			Version string `json:"io.modelcontextprotocol/protocolVersion"`
		} `json:"_meta"`
	}
	if json.Unmarshal(req.Params, &p) != nil {
		return ctx
	}
	version := p.Meta.Version
	if version == "" {
		version = r.sess.version()
	}
	r.mu.Lock()
	schema, ok := r.tools[p.Name]
	r.mu.Unlock()
	if !ok {
		return ctx
	}
	return paramheader.With(ctx, paramheader.For(version, schema, p.Arguments))
}

// msgQueue is an unbounded FIFO of the client's messages: its reader
// never blocks, so it sees EOF even while dispatch waits.
type msgQueue struct {
	mu     sync.Mutex
	items  []jsonrpc.Message
	closed bool
	ready  chan struct{} // has a token while items or closed
}

func newMsgQueue() *msgQueue { return &msgQueue{ready: make(chan struct{}, 1)} }

func (q *msgQueue) signal() {
	select {
	case q.ready <- struct{}{}:
	default:
	}
}

func (q *msgQueue) push(m jsonrpc.Message) {
	q.mu.Lock()
	q.items = append(q.items, m)
	q.mu.Unlock()
	q.signal()
}

func (q *msgQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.signal()
}

// pop returns the next message; false once the queue is closed and empty,
// or ctx is done.
func (q *msgQueue) pop(ctx context.Context) (jsonrpc.Message, bool) {
	for {
		q.mu.Lock()
		if len(q.items) > 0 {
			m := q.items[0]
			q.items[0] = nil
			q.items = q.items[1:]
			more := len(q.items) > 0 || q.closed
			q.mu.Unlock()
			if more {
				q.signal()
			}
			return m, true
		}
		closed := q.closed
		q.mu.Unlock()
		if closed {
			return nil, false
		}
		select {
		case <-q.ready:
		case <-ctx.Done():
			return nil, false
		}
	}
}
