package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Upstream transports for RelayOptions.Transport.
const (
	// TransportAuto tries Streamable HTTP and falls back to HTTP+SSE when
	// the server refuses the initialize POST with a 4xx.
	TransportAuto = ""
	// TransportStreamable uses Streamable HTTP only.
	TransportStreamable = "streamable"
	// TransportSSE uses the legacy HTTP+SSE transport (2024-11-05) only.
	TransportSSE = "sse"
)

// RelayOptions configures Client.Relay.
type RelayOptions struct {
	// Local is the MCP client's side; default stdin/stdout
	// (mcp.StdioTransport).
	Local mcp.Transport
	// Transport selects the upstream transport: TransportAuto (default),
	// TransportStreamable or TransportSSE.
	Transport string
	// MaxRetries bounds the retries of one message after a network error
	// or a 429/503 answer, and of a reconnection. Default 5.
	MaxRetries int
	// RetryDelay is the first backoff delay, doubled on each retry up to
	// 30 s. Default 500 ms.
	RetryDelay time.Duration
	// DrainTimeout bounds how long the relay waits, once the local client
	// has closed its side (EOF on stdin), for the answers to the requests
	// it had sent, a pending browser sign-in included; requests still
	// unanswered then get a JSON-RPC error. Default DefaultDrainTimeout.
	DrainTimeout time.Duration

	// started, for tests, sees the relay once it runs.
	started func(*relay)
}

// DefaultDrainTimeout is the default RelayOptions.DrainTimeout.
const DefaultDrainTimeout = 2 * time.Minute

const (
	methodInitialize  = "initialize"
	notifyInitialized = "notifications/initialized"
	notifyCancelled   = "notifications/cancelled"
	methodToolsList   = "tools/list"
	methodToolsCall   = "tools/call"
	methodSetLevel    = "logging/setLevel"
	methodSubscribe   = "resources/subscribe"
	methodUnsubscribe = "resources/unsubscribe"
	// methodListen (2026-07-28) opens a stream of notifications that is
	// answered only when it ends: nothing to wait for once the client
	// has gone.
	methodListen = "subscriptions/listen"
	// firstStatelessVersion is the first protocol revision without
	// sessions and without the standalone GET stream (SEP-2575).
	firstStatelessVersion = "2026-07-28"
	maxBackoff            = 30 * time.Second
	replayTimeout         = time.Minute
)

// Relay speaks MCP to the local client (stdin/stdout by default) and
// relays every JSON-RPC message, both ways and unchanged, to the remote
// server over Streamable HTTP (or HTTP+SSE).
//
// Messages are handed to the server in the order the client sent them (a
// request's body is on its way before the next message goes, so a
// notifications/cancelled never overtakes its request), but requests run
// concurrently: a slow tool call does not hold up the next message.
// The relay sends Mcp-Session-Id and MCP-Protocol-Version on every request,
// Mcp-Param-* for the tools/call arguments a listed tool marks with
// x-mcp-header (2026-07-28), and keeps the standalone GET stream open for
// server-initiated messages (before 2026-07-28). When the server forgets
// the session (404), the relay replays the client's initialize,
// notifications/initialized, logging/setLevel and resource subscriptions,
// swallows the replayed requests' responses, and sends the failed message
// again. It retries after network errors with backoff, and answers
// requests that cannot be delivered with a JSON-RPC error so the client
// never hangs.
//
// When the local client closes its side (EOF on stdin), Relay still
// waits, at most DrainTimeout, for the answers to every request it had
// sent, and writes them out; then it ends the remote session and returns
// nil. It also returns nil when ctx is cancelled.
func (c *Client) Relay(ctx context.Context, opts RelayOptions) error {
	if opts.Local == nil {
		opts.Local = &mcp.StdioTransport{}
	}
	switch opts.Transport {
	case TransportAuto, TransportStreamable, TransportSSE:
	default:
		return fmt.Errorf("unknown transport %q (want %q or %q)", opts.Transport, TransportStreamable, TransportSSE)
	}
	if opts.MaxRetries <= 0 {
		opts.MaxRetries = 5
	}
	if opts.RetryDelay <= 0 {
		opts.RetryDelay = 500 * time.Millisecond
	}
	if opts.DrainTimeout <= 0 {
		opts.DrainTimeout = DefaultDrainTimeout
	}
	r := &relay{
		c:        c,
		log:      c.log,
		opts:     opts,
		incoming: make(chan jsonrpc.Message, 64),
		replies:  make(chan *jsonrpc.Response, 64),
		queue:    newMsgQueue(),
		flights:  make(map[jsonrpc.ID]*flight),
		waiters:  make(map[jsonrpc.ID]chan *jsonrpc.Response),
		changed:  make(chan struct{}),
		tools:    make(map[string]json.RawMessage),
		mode:     TransportStreamable,
	}
	if opts.Transport == TransportSSE {
		r.mode = TransportSSE
	}
	r.sess.streamable = r.mode == TransportStreamable
	r.hc = &http.Client{Transport: &sessionTransport{base: c.http.Transport, s: &r.sess}, CheckRedirect: c.http.CheckRedirect}
	if opts.started != nil {
		opts.started(r)
	}
	return r.run(ctx)
}

// relay is one running connect session.
type relay struct {
	c    *Client
	log  *slog.Logger
	opts RelayOptions
	hc   *http.Client
	sess sessionState

	local  mcp.Connection
	ctx    context.Context
	cancel context.CancelCauseFunc
	wg     sync.WaitGroup

	// incoming carries messages from every upstream connection and from
	// the standalone GET stream to the goroutine writing to the client;
	// replies carries the relay's own error answers there.
	incoming chan jsonrpc.Message
	replies  chan *jsonrpc.Response
	// queue holds the client's messages, in order, between the goroutine
	// reading them and the one handing them upstream, so that EOF is seen
	// even while a message waits (for a sign-in, say).
	queue *msgQueue

	mu          sync.Mutex
	mode        string    // TransportStreamable or TransportSSE
	up          *upstream // the current upstream connection
	initReq     *jsonrpc.Request
	initDone    bool // the client's initialize has been answered
	initNotify  *jsonrpc.Request
	initialized bool // notifications/initialized has been sent
	// flights are the client's requests not yet answered or cancelled,
	// registered as soon as they are read.
	flights    map[jsonrpc.ID]*flight
	dispatched bool          // every message read has been handed on
	changed    chan struct{} // closed (and replaced) when flights shrink or dispatched is set
	waiters    map[jsonrpc.ID]chan *jsonrpc.Response
	seq        int
	setup      setup                      // what the client set up, replayed in a new session
	tools      map[string]json.RawMessage // input schemas of the listed tools, by name
}

func (r *relay) run(parent context.Context) error {
	r.ctx, r.cancel = context.WithCancelCause(parent)
	defer r.cancel(nil)
	local, err := r.opts.Local.Connect(r.ctx)
	if err != nil {
		return fmt.Errorf("connecting to the local MCP client: %w", err)
	}
	r.local = local

	r.up = r.newUpstream(1, false)
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		r.activate(r.up, nil)
	}()
	r.wg.Add(2)
	go r.forwardToClient()
	go r.dispatchAll()

	err = r.readLocal(parent)
	timedOut := false
	if err == nil && r.ctx.Err() == nil {
		timedOut = !r.drain()
	}

	r.mu.Lock()
	up := r.up
	r.mu.Unlock()
	up.close()
	r.endSession()
	r.cancel(nil)
	r.wg.Wait()
	if timedOut {
		r.failOutstanding()
	}
	local.Close()
	return err
}

// drain waits until every message the client sent has been handed on and
// every request answered, at most DrainTimeout. It reports false when
// that time ran out.
func (r *relay) drain() bool {
	t := time.NewTimer(r.opts.DrainTimeout)
	defer t.Stop()
	for {
		r.mu.Lock()
		n := 0
		for _, f := range r.flights {
			if f.method != methodListen {
				n++
			}
		}
		done := r.dispatched && n == 0
		changed := r.changed
		r.mu.Unlock()
		if done {
			return true
		}
		r.log.Debug("the MCP client closed its input; waiting for outstanding answers", "outstanding", n)
		select {
		case <-changed:
		case <-r.ctx.Done():
			return true // nothing more can be written
		case <-t.C:
			r.log.Warn("the MCP client closed its input and answers are still outstanding; giving up on them", "outstanding", n, "timeout", r.opts.DrainTimeout)
			return false
		}
	}
}

// failOutstanding answers every request still in flight with an error. It
// runs once every other goroutine has ended, so nothing else writes.
func (r *relay) failOutstanding() {
	ctx := context.WithoutCancel(r.ctx)
	r.mu.Lock()
	ids := make([]jsonrpc.ID, 0, len(r.flights))
	for id := range r.flights {
		ids = append(ids, id)
	}
	clear(r.flights)
	r.mu.Unlock()
	for _, id := range ids {
		msg := &jsonrpc.Response{ID: id, Error: &jsonrpc.Error{Code: jsonrpc.CodeInternalError, Message: fmt.Sprintf("mcp-2coffee: no answer from the server within %v after the input closed", r.opts.DrainTimeout)}}
		if err := r.local.Write(ctx, msg); err != nil {
			r.log.Warn("could not answer the MCP client", "error", err)
			return
		}
	}
}

// changedLocked wakes drain; r.mu is held.
func (r *relay) changedLocked() {
	close(r.changed)
	r.changed = make(chan struct{})
}

// readLocal reads the client's messages until it closes its side,
// registering each request as in flight before it is queued for dispatch.
func (r *relay) readLocal(parent context.Context) error {
	defer r.queue.close()
	for {
		msg, err := r.local.Read(r.ctx)
		if err != nil {
			switch {
			case errors.Is(err, io.EOF):
				r.log.Debug("the MCP client closed its input; stopping")
				return nil
			case r.ctx.Err() != nil:
				if parent.Err() != nil {
					return nil
				}
				return context.Cause(r.ctx)
			default:
				// The input cannot be resynchronised after a framing error.
				r.local.Write(r.ctx, &jsonrpc.Response{Error: &jsonrpc.Error{Code: jsonrpc.CodeParseError, Message: "mcp-2coffee: " + err.Error()}})
				return fmt.Errorf("reading from the MCP client: %w", err)
			}
		}
		if req, ok := msg.(*jsonrpc.Request); ok && req.IsCall() {
			r.track(req)
		}
		r.queue.push(msg)
	}
}

// track registers a request as in flight.
func (r *relay) track(req *jsonrpc.Request) {
	f := &flight{method: req.Method, handed: make(chan struct{})}
	if isSetup(req.Method) || req.Method == methodToolsList {
		f.params = req.Params
	}
	r.mu.Lock()
	r.flights[req.ID] = f
	r.mu.Unlock()
}

// flightOf returns the flight of the request id, nil when it was answered
// or cancelled.
func (r *relay) flightOf(id jsonrpc.ID) *flight {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.flights[id]
}

// forget retires f, the flight of id, once it is answered or cancelled.
func (r *relay) forget(id jsonrpc.ID, f *flight) {
	r.mu.Lock()
	if r.flights[id] == f {
		delete(r.flights, id)
		r.changedLocked()
	}
	r.mu.Unlock()
}

// dispatchAll hands the client's messages upstream in the order they were
// read, until the client has closed its side and all are handed on.
func (r *relay) dispatchAll() {
	defer r.wg.Done()
	for {
		msg, ok := r.queue.pop(r.ctx)
		if !ok {
			break
		}
		r.dispatch(msg)
	}
	r.mu.Lock()
	r.dispatched = true
	r.changedLocked()
	r.mu.Unlock()
}

// dispatch sends one client message upstream.
func (r *relay) dispatch(msg jsonrpc.Message) {
	switch m := msg.(type) {
	case *jsonrpc.Request:
		var f *flight
		if m.IsCall() {
			if f = r.flightOf(m.ID); f == nil {
				return // cancelled before it could be sent
			}
		}
		switch {
		case m.Method == methodInitialize && m.IsCall():
			r.mu.Lock()
			r.initReq = &jsonrpc.Request{ID: m.ID, Method: m.Method, Params: m.Params}
			r.initDone, r.initialized = false, false
			r.mu.Unlock()
			// In order: a fallback to HTTP+SSE must be settled before
			// anything else goes out.
			if err := r.send(m, f); err != nil {
				r.replyError(m.ID, err)
			}
		case m.Method == notifyInitialized:
			if err := r.send(m, nil); err != nil {
				r.log.Warn("could not forward notifications/initialized", "error", err)
				return
			}
			r.mu.Lock()
			r.initNotify = &jsonrpc.Request{Method: m.Method, Params: m.Params}
			r.initialized = true
			r.mu.Unlock()
		case m.IsCall():
			r.wg.Add(1)
			go func() {
				defer r.wg.Done()
				defer f.hand()
				if err := r.send(m, f); err != nil && r.ctx.Err() == nil {
					r.replyError(m.ID, err)
				}
			}()
			// The next message waits until this request is on its way,
			// not until it is answered.
			select {
			case <-f.handed:
			case <-r.ctx.Done():
			}
		case m.Method == notifyCancelled:
			if r.cancelFlight(m) {
				return // it was never sent, or its sender sends this after it
			}
			if err := r.send(m, nil); err != nil && r.ctx.Err() == nil {
				r.log.Warn("could not forward a cancellation", "error", err)
			}
		default:
			if err := r.send(m, nil); err != nil && r.ctx.Err() == nil {
				r.log.Warn("could not forward a notification", "method", m.Method, "error", err)
			}
		}
	case *jsonrpc.Response:
		if err := r.send(m, nil); err != nil && r.ctx.Err() == nil {
			r.log.Warn("could not forward a response", "error", err)
		}
	}
}

// cancelFlight forgets the request a notifications/cancelled names: the
// client expects no answer to it any more. It reports true when the
// notification must not be sent now: the request was never sent (and now
// will not be), or it is being sent again and its body is not yet out, in
// which case its sender sends the notification once it is.
func (r *relay) cancelFlight(n *jsonrpc.Request) bool {
	var p struct {
		RequestID json.RawMessage `json:"requestId"`
	}
	if err := json.Unmarshal(n.Params, &p); err != nil || len(p.RequestID) == 0 {
		return false
	}
	var raw any // a float64 or a string, as jsonrpc.MakeID wants
	if err := json.Unmarshal(p.RequestID, &raw); err != nil {
		return false
	}
	id, err := jsonrpc.MakeID(raw)
	if err != nil {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	f := r.flights[id]
	if f == nil {
		return false // answered already: the server ignores it
	}
	delete(r.flights, id)
	r.changedLocked()
	switch {
	case f.gen == 0 && !f.bodySent:
		return true // not on its way, and now it will not be
	case f.sending && !f.bodySent:
		f.pendingCancel = n
		return true
	}
	return false
}

// forwardToClient writes every message from the server to the client,
// noting on the way which requests are answered.
func (r *relay) forwardToClient() {
	defer r.wg.Done()
	for {
		var (
			msg jsonrpc.Message
			own bool // the relay's own error answer
		)
		select {
		case <-r.ctx.Done():
			return
		case msg = <-r.incoming:
		case resp := <-r.replies:
			msg, own = resp, true
		}
		resp, isResp := msg.(*jsonrpc.Response)
		var f *flight
		if isResp {
			if r.deliverToWaiter(resp) {
				continue
			}
			f = r.flightOf(resp.ID)
			if own && f == nil {
				continue // answered or cancelled meanwhile
			}
			if !own && f != nil && resp.Error == nil {
				r.learn(f, resp.Result)
			}
			if r.retireInit(resp) {
				// Open the standalone GET stream before the client learns
				// that the session is ready, as go-sdk's own client does:
				// servers that send their requests there (the TypeScript
				// SDK, without a related request) drop what arrives
				// before it exists.
				r.mu.Lock()
				up := r.up
				r.mu.Unlock()
				r.openGetStream(up, true)
			}
		}
		if err := r.local.Write(r.ctx, msg); err != nil {
			if r.ctx.Err() == nil {
				r.cancel(fmt.Errorf("writing to the MCP client: %w", err))
			}
			return
		}
		// Only now: drain ends when the last answer is written.
		if f != nil {
			r.forget(resp.ID, f)
		}
	}
}

// retireInit learns the negotiated protocol version from the response to
// the client's initialize. It reports whether resp is that (successful)
// response.
func (r *relay) retireInit(resp *jsonrpc.Response) bool {
	r.mu.Lock()
	isInit := r.initReq != nil && !r.initDone && resp.ID == r.initReq.ID && resp.Error == nil
	if isInit {
		r.initDone = true
	}
	r.mu.Unlock()
	if isInit {
		r.sess.setVersion(protocolVersionOf(resp.Result))
	}
	return isInit
}

func protocolVersionOf(result json.RawMessage) string {
	var v struct {
		ProtocolVersion string `json:"protocolVersion"`
	}
	_ = json.Unmarshal(result, &v)
	return v.ProtocolVersion
}

// replyError answers the client's request id with a JSON-RPC error. An
// error the server sent (a JSON-RPC error in an HTTP error body) is passed
// on as it is.
func (r *relay) replyError(id jsonrpc.ID, err error) {
	if !id.IsValid() {
		return
	}
	werr := serverError(err)
	if werr == nil {
		werr = &jsonrpc.Error{Code: jsonrpc.CodeInternalError, Message: "mcp-2coffee: " + err.Error()}
	}
	// Through the goroutine writing to the client, which drops it if the
	// request was answered meanwhile and retires the flight once written.
	select {
	case r.replies <- &jsonrpc.Response{ID: id, Error: werr}:
	case <-r.ctx.Done():
	}
}

// sdkErrorCodes are the codes of go-sdk's own sentinel errors ("rejected by
// transport", "server is closing", "client is closing"), which wrap
// transport failures rather than carry the server's answer.
var sdkErrorCodes = []int64{-32005, -32004, -32003}

// serverError finds the JSON-RPC error the server sent in an HTTP error
// body, if err carries one (go-sdk wraps it together with its own
// sentinels).
func serverError(err error) *jsonrpc.Error {
	switch e := err.(type) {
	case nil:
		return nil
	case *jsonrpc.Error:
		if !slices.Contains(sdkErrorCodes, e.Code) {
			return e
		}
		return nil
	case interface{ Unwrap() []error }:
		for _, x := range e.Unwrap() {
			if w := serverError(x); w != nil {
				return w
			}
		}
		return nil
	case interface{ Unwrap() error }:
		return serverError(e.Unwrap())
	}
	return nil
}
