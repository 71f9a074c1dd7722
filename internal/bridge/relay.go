package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"mime"
	"net/http"
	"slices"
	"strconv"
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
}

const (
	methodInitialize  = "initialize"
	notifyInitialized = "notifications/initialized"
	// firstStatelessVersion is the first protocol revision without
	// sessions and without the standalone GET stream (SEP-2575).
	firstStatelessVersion = "2026-07-28"
	maxBackoff            = 30 * time.Second
	replayTimeout         = time.Minute
)

// errConnectionLost answers requests that were in flight on a connection
// that broke.
var errConnectionLost = errors.New("the connection to the MCP server was lost before it answered; try again")

// Relay speaks MCP to the local client (stdin/stdout by default) and
// relays every JSON-RPC message, both ways and unchanged, to the remote
// server over Streamable HTTP (or HTTP+SSE).
//
// Requests from the client go out concurrently (a slow tool call does not
// hold up the next message); notifications and responses go out in order.
// The relay sends Mcp-Session-Id and MCP-Protocol-Version on every request
// and keeps the standalone GET stream open for server-initiated messages
// (before 2026-07-28). When the server forgets the session (404), the relay
// replays the client's initialize and notifications/initialized, swallows
// the replayed initialize's response, and sends the failed message again.
// It retries after network errors with backoff, and answers requests that
// cannot be delivered with a JSON-RPC error so the client never hangs.
//
// Relay returns nil when the local client closes its side (EOF on stdin)
// or ctx is cancelled, after ending the remote session.
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
	r := &relay{
		c:        c,
		log:      c.log,
		opts:     opts,
		incoming: make(chan jsonrpc.Message, 64),
		flights:  make(map[jsonrpc.ID]*flight),
		waiters:  make(map[jsonrpc.ID]chan *jsonrpc.Response),
		mode:     TransportStreamable,
	}
	if opts.Transport == TransportSSE {
		r.mode = TransportSSE
	}
	r.sess.streamable = r.mode == TransportStreamable
	r.hc = &http.Client{Transport: &sessionTransport{base: c.http.Transport, s: &r.sess}, CheckRedirect: c.http.CheckRedirect}
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
	// the standalone GET stream to the goroutine writing to the client.
	incoming chan jsonrpc.Message

	mu          sync.Mutex
	mode        string    // TransportStreamable or TransportSSE
	up          *upstream // the current upstream connection
	initReq     *jsonrpc.Request
	initDone    bool // the client's initialize has been answered
	initNotify  *jsonrpc.Request
	initialized bool // notifications/initialized has been sent
	flights     map[jsonrpc.ID]*flight
	waiters     map[jsonrpc.ID]chan *jsonrpc.Response
	seq         int
}

// flight is a client request sent upstream and not yet answered.
type flight struct {
	gen     int
	sending bool // Write has not returned yet
}

// upstream is one go-sdk client connection to the server. It is replaced,
// never repaired, when it fails.
type upstream struct {
	gen    int
	reinit bool // replay the handshake once connected
	ctx    context.Context
	cancel context.CancelFunc
	ready  chan struct{} // closed once conn (or err) is set
	conn   mcp.Connection
	err    error

	deadOnce sync.Once
	dead     chan struct{} // closed when reading from conn failed

	listenOnce sync.Once
}

func (r *relay) newUpstream(gen int, reinit bool) *upstream {
	ctx, cancel := context.WithCancel(r.ctx)
	return &upstream{gen: gen, reinit: reinit, ctx: ctx, cancel: cancel, ready: make(chan struct{}), dead: make(chan struct{})}
}

func (u *upstream) markDead() { u.deadOnce.Do(func() { close(u.dead) }) }

func (u *upstream) isDead() bool {
	select {
	case <-u.dead:
		return true
	default:
		return false
	}
}

// close ends the connection. Its context goes first, so that the pump
// reading from it knows the end is deliberate.
func (u *upstream) close() {
	u.cancel()
	<-u.ready
	if u.conn != nil {
		u.conn.Close()
	}
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
	r.wg.Add(1)
	go r.down()

	err = r.readLocal(parent)

	r.mu.Lock()
	up := r.up
	r.mu.Unlock()
	up.close()
	r.endSession()
	r.cancel(nil)
	r.wg.Wait()
	local.Close()
	return err
}

// endSession tells the server the session is over (a DELETE with the
// session ID, Streamable HTTP §"Session Management"). The go-sdk
// connections' own DELETEs are held back by sessionTransport, since they
// are also closed when merely replaced.
func (r *relay) endSession() {
	sid := r.sess.id()
	if sid == "" || r.currentMode() != TransportStreamable {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithValue(context.WithoutCancel(r.ctx), endSessionKey{}, true), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, r.c.url, nil)
	if err != nil {
		return
	}
	resp, err := r.hc.Do(req)
	if err != nil {
		r.log.Debug("could not end the session", "error", err)
		return
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
	resp.Body.Close()
}

// endSessionKey marks the relay's own DELETE request.
type endSessionKey struct{}

// readLocal reads the client's messages until it closes its side.
func (r *relay) readLocal(parent context.Context) error {
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
		r.dispatch(msg)
	}
}

// dispatch sends one client message upstream.
func (r *relay) dispatch(msg jsonrpc.Message) {
	switch m := msg.(type) {
	case *jsonrpc.Request:
		switch {
		case m.Method == methodInitialize && m.IsCall():
			r.mu.Lock()
			r.initReq = &jsonrpc.Request{ID: m.ID, Method: m.Method, Params: m.Params}
			r.initDone, r.initialized = false, false
			r.mu.Unlock()
			// In order: a fallback to HTTP+SSE must be settled before
			// anything else goes out.
			if err := r.send(m, true); err != nil {
				r.replyError(m.ID, err)
			}
		case m.Method == notifyInitialized:
			if err := r.send(m, false); err != nil {
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
				if err := r.send(m, true); err != nil && r.ctx.Err() == nil {
					r.replyError(m.ID, err)
				}
			}()
		default:
			if err := r.send(m, false); err != nil && r.ctx.Err() == nil {
				r.log.Warn("could not forward a notification", "method", m.Method, "error", err)
			}
		}
	case *jsonrpc.Response:
		if err := r.send(m, false); err != nil && r.ctx.Err() == nil {
			r.log.Warn("could not forward a response", "error", err)
		}
	}
}

// down writes every message from the server to the client.
func (r *relay) down() {
	defer r.wg.Done()
	for {
		var msg jsonrpc.Message
		select {
		case <-r.ctx.Done():
			return
		case msg = <-r.incoming:
		}
		if resp, ok := msg.(*jsonrpc.Response); ok {
			if r.deliverToWaiter(resp) {
				continue
			}
			if r.land(resp) {
				// Open the standalone GET stream before the client learns
				// that the session is ready, as go-sdk's own client does:
				// servers that send their requests there (the TypeScript
				// SDK, without a related request) drop what arrives
				// before it exists.
				r.mu.Lock()
				up := r.up
				r.mu.Unlock()
				r.startListener(up, true)
			}
		}
		if err := r.local.Write(r.ctx, msg); err != nil {
			if r.ctx.Err() == nil {
				r.cancel(fmt.Errorf("writing to the MCP client: %w", err))
			}
			return
		}
	}
}

// land retires the flight a response answers, and learns the negotiated
// protocol version from the response to the client's initialize. It
// reports whether resp is that (successful) response.
func (r *relay) land(resp *jsonrpc.Response) bool {
	r.mu.Lock()
	delete(r.flights, resp.ID)
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

// current waits until the current upstream connection is usable.
func (r *relay) current() (*upstream, error) {
	r.mu.Lock()
	up := r.up
	r.mu.Unlock()
	select {
	case <-up.ready:
		return up, up.err
	case <-r.ctx.Done():
		return nil, r.ctx.Err()
	}
}

// send writes msg upstream, recovering from what can be recovered from: a
// connection that already failed, a lost session, a network that is down,
// a busy server, and a server without Streamable HTTP.
func (r *relay) send(msg jsonrpc.Message, call bool) error {
	var id jsonrpc.ID
	if req, ok := msg.(*jsonrpc.Request); ok {
		id = req.ID
	}
	var stale, lost, busy int
	for {
		up, err := r.current()
		if err != nil {
			if r.ctx.Err() != nil || stale >= 2 {
				return fmt.Errorf("no connection to %s: %w", r.c.url, err)
			}
			stale++
			r.replace(up, up.reinit)
			continue
		}
		a := &attempt{}
		if call {
			r.mu.Lock()
			r.flights[id] = &flight{gen: up.gen, sending: true}
			r.mu.Unlock()
		}
		err = up.conn.Write(withAttempt(r.ctx, a), msg)
		if call {
			r.afterWrite(id, up, err == nil)
		}
		if err == nil {
			return nil
		}
		if r.ctx.Err() != nil {
			return r.ctx.Err()
		}
		requests, status, netErr, retryAfter := a.snapshot()
		switch {
		case requests == 0:
			// The connection had failed before: nothing was sent. Wait for
			// its replacement.
			if stale >= 3 {
				return err
			}
			stale++
			select {
			case <-up.dead:
			case <-time.After(time.Second):
			case <-r.ctx.Done():
			}
		case errors.Is(err, mcp.ErrSessionMissing):
			if lost >= 2 {
				return err
			}
			lost++
			r.log.Info("the server ended the session; initialising a new one", "server", r.c.url)
			r.replace(up, true)
		case status == 0 && isDialError(netErr), status == http.StatusTooManyRequests, status == http.StatusServiceUnavailable:
			if busy >= r.opts.MaxRetries {
				return err
			}
			d := r.backoff(busy, retryAfter)
			busy++
			r.log.Info("server unreachable or busy; retrying", "server", r.c.url, "status", status, "delay", d)
			if !r.sleep(d) {
				return r.ctx.Err()
			}
		case isInitialize(msg) && r.opts.Transport == TransportAuto && r.currentMode() == TransportStreamable && fallbackStatus(status):
			r.log.Info("the server refused Streamable HTTP; trying the HTTP+SSE transport", "status", status)
			if ferr := r.fallbackToSSE(up); ferr != nil {
				return errors.Join(err, fmt.Errorf("legacy HTTP+SSE transport: %w", ferr))
			}
		default:
			return err
		}
	}
}

func isInitialize(msg jsonrpc.Message) bool {
	req, ok := msg.(*jsonrpc.Request)
	return ok && req.Method == methodInitialize
}

// afterWrite moves a flight out of "sending". A request written to a
// connection that died meanwhile is answered with an error at once: its
// response can no longer arrive.
func (r *relay) afterWrite(id jsonrpc.ID, up *upstream, ok bool) {
	r.mu.Lock()
	f := r.flights[id]
	if f == nil || f.gen != up.gen {
		r.mu.Unlock()
		return
	}
	if !ok {
		delete(r.flights, id)
		r.mu.Unlock()
		return
	}
	f.sending = false
	orphan := up.isDead()
	if orphan {
		delete(r.flights, id)
	}
	r.mu.Unlock()
	if orphan {
		r.replyError(id, errConnectionLost)
	}
}

// failFlights answers every request that was in flight on generation gen.
func (r *relay) failFlights(gen int) {
	r.mu.Lock()
	var ids []jsonrpc.ID
	for id, f := range r.flights {
		if f.gen == gen && !f.sending {
			ids = append(ids, id)
			delete(r.flights, id)
		}
	}
	r.mu.Unlock()
	for _, id := range ids {
		r.replyError(id, errConnectionLost)
	}
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
	r.mu.Lock()
	delete(r.flights, id)
	r.mu.Unlock()
	if werr := r.local.Write(r.ctx, &jsonrpc.Response{ID: id, Error: werr}); werr != nil && r.ctx.Err() == nil {
		r.log.Warn("could not answer the MCP client", "error", werr)
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

func (r *relay) currentMode() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.mode
}

// replace swaps a failed upstream connection for a new one, once: callers
// that lost the race find the new one already in place. With reinit, the
// session is gone and the handshake is replayed.
func (r *relay) replace(old *upstream, reinit bool) {
	r.mu.Lock()
	if r.up != old || r.ctx.Err() != nil {
		r.mu.Unlock()
		return
	}
	nu := r.newUpstream(old.gen+1, reinit)
	r.up = nu
	r.mu.Unlock()
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		r.activate(nu, old)
	}()
}

// fallbackToSSE switches to the HTTP+SSE transport and waits for it.
func (r *relay) fallbackToSSE(old *upstream) error {
	r.mu.Lock()
	if r.up == old {
		r.mode = TransportSSE
		r.sess.setStreamable(false)
		nu := r.newUpstream(old.gen+1, false)
		r.up = nu
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			r.activate(nu, old)
		}()
	}
	r.mu.Unlock()
	_, err := r.current()
	return err
}

// activate connects nu (retrying with backoff), starts reading from it,
// replays the handshake when asked to, and opens the GET stream.
func (r *relay) activate(nu, old *upstream) {
	if old != nil {
		old.close()
		r.failFlights(old.gen)
	}
	if nu.reinit {
		r.sess.resetSession()
	}
	var (
		conn mcp.Connection
		err  error
	)
	for i := 0; ; i++ {
		conn, err = r.dial(nu.ctx)
		if err == nil || nu.ctx.Err() != nil || i >= r.opts.MaxRetries {
			break
		}
		d := r.backoff(i, "")
		r.log.Info("cannot connect to the server; retrying", "server", r.c.url, "error", err, "delay", d)
		if !r.sleep(d) {
			break
		}
	}
	if err != nil {
		nu.err = err
		close(nu.ready)
		return
	}
	nu.conn = conn
	r.wg.Add(1)
	go r.pump(nu)
	if nu.reinit {
		if err := r.replayHandshake(nu); err != nil {
			r.log.Warn("could not initialise a new session", "error", err)
			nu.err = err
			close(nu.ready)
			return
		}
	}
	close(nu.ready)
	r.mu.Lock()
	initDone := r.initDone
	r.mu.Unlock()
	if initDone {
		r.startListener(nu, false)
	}
}

func (r *relay) dial(ctx context.Context) (mcp.Connection, error) {
	if r.currentMode() == TransportSSE {
		t := &mcp.SSEClientTransport{Endpoint: r.c.url, HTTPClient: r.hc}
		return t.Connect(ctx)
	}
	t := &mcp.StreamableClientTransport{Endpoint: r.c.url, HTTPClient: r.hc, DisableStandaloneSSE: true}
	return t.Connect(ctx)
}

// pump moves messages from one upstream connection to the client.
func (r *relay) pump(up *upstream) {
	defer r.wg.Done()
	for {
		msg, err := up.conn.Read(up.ctx)
		if err != nil {
			if up.ctx.Err() != nil {
				return // closed on purpose
			}
			up.markDead()
			// A Streamable HTTP connection fails for good on some errors
			// (go-sdk keeps no per-request state): a new one continues
			// the same session. A lost session, or the end of an HTTP+SSE
			// stream (which is the session), needs a new handshake.
			reinit := errors.Is(err, mcp.ErrSessionMissing) || r.currentMode() == TransportSSE
			r.log.Info("the connection to the server failed", "error", err, "new_session", reinit)
			r.replace(up, reinit)
			return
		}
		select {
		case r.incoming <- msg:
		case <-up.ctx.Done():
			return
		}
	}
}

// replayHandshake repeats the client's initialize and
// notifications/initialized on a new connection. The response to the
// replayed initialize goes to us, not to the client, which already had
// one.
func (r *relay) replayHandshake(up *upstream) error {
	r.mu.Lock()
	init, notify := r.initReq, r.initNotify
	r.seq++
	idText := "mcp-2coffee-reinit-" + strconv.Itoa(r.seq)
	r.mu.Unlock()
	if init == nil {
		return nil // nothing to replay (2026-07-28 has no handshake)
	}
	id, _ := jsonrpc.MakeID(idText)
	answer := make(chan *jsonrpc.Response, 1)
	r.mu.Lock()
	r.waiters[id] = answer
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		delete(r.waiters, id)
		r.mu.Unlock()
	}()
	if err := up.conn.Write(up.ctx, &jsonrpc.Request{ID: id, Method: init.Method, Params: init.Params}); err != nil {
		return err
	}
	var resp *jsonrpc.Response
	select {
	case resp = <-answer:
	case <-time.After(replayTimeout):
		return errors.New("the server did not answer the replayed initialize")
	case <-up.ctx.Done():
		return up.ctx.Err()
	}
	if resp.Error != nil {
		return fmt.Errorf("the server refused the replayed initialize: %w", resp.Error)
	}
	r.sess.setVersion(protocolVersionOf(resp.Result))
	if notify != nil {
		if err := up.conn.Write(up.ctx, notify); err != nil {
			return err
		}
	}
	r.log.Info("initialised a new session", "server", r.c.url)
	return nil
}

func (r *relay) deliverToWaiter(resp *jsonrpc.Response) bool {
	r.mu.Lock()
	ch, ok := r.waiters[resp.ID]
	r.mu.Unlock()
	if ok {
		select {
		case ch <- resp:
		default:
		}
	}
	return ok
}

// listenerWait bounds how long the first GET of the standalone stream may
// hold up the initialize response.
const listenerWait = 10 * time.Second

// startListener opens the standalone GET stream (Streamable HTTP before
// 2026-07-28), once per connection. With wait, it returns once the server
// has answered the first GET (or failed to).
func (r *relay) startListener(up *upstream, wait bool) {
	if r.currentMode() != TransportStreamable {
		return
	}
	if v := r.sess.version(); v == "" || v >= firstStatelessVersion {
		return
	}
	opened := make(chan struct{})
	started := false
	up.listenOnce.Do(func() {
		started = true
		r.wg.Add(1)
		go r.listen(up, opened)
	})
	if !started || !wait {
		return
	}
	select {
	case <-opened:
	case <-time.After(listenerWait):
	case <-up.ctx.Done():
	}
}

// listen keeps the standalone GET stream open, resuming with Last-Event-ID
// after interruptions, and stops when the server has none (405), the
// session is gone (then a new one is made), or the connection is replaced.
func (r *relay) listen(up *upstream, opened chan struct{}) {
	defer r.wg.Done()
	var (
		lastID   string
		failures int
		delay    time.Duration
		once     sync.Once
	)
	signal := func() { once.Do(func() { close(opened) }) }
	defer signal()
	for up.ctx.Err() == nil && !up.isDead() {
		if delay > 0 && !sleepCtx(up.ctx, delay) {
			return
		}
		req, err := http.NewRequestWithContext(up.ctx, http.MethodGet, r.c.url, nil)
		if err != nil {
			return
		}
		req.Header.Set("Accept", "text/event-stream")
		if lastID != "" {
			req.Header.Set("Last-Event-ID", lastID)
		}
		resp, err := r.hc.Do(req)
		signal()
		if err != nil {
			if up.ctx.Err() != nil {
				return
			}
			failures++
			if failures > r.opts.MaxRetries {
				r.log.Warn("giving up on the server's notification stream", "error", err)
				return
			}
			delay = r.backoff(failures-1, "")
			continue
		}
		mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
		switch {
		case resp.StatusCode == http.StatusNotFound && r.sess.id() != "":
			resp.Body.Close()
			r.log.Info("the server ended the session; initialising a new one", "server", r.c.url)
			up.markDead()
			r.replace(up, true)
			return
		case resp.StatusCode < 200 || resp.StatusCode > 299 || mt != "text/event-stream":
			// 405 is the normal "no such stream"; other answers are
			// tolerated the same way, as go-sdk does.
			resp.Body.Close()
			r.log.Debug("no standalone notification stream", "status", resp.StatusCode)
			return
		}
		progressed := false
		err = readEvents(resp.Body, func(ev sseEvent) error {
			if ev.id != "" {
				lastID = ev.id
				progressed = true
			}
			if ev.retry > 0 {
				delay = ev.retry
			}
			if len(ev.data) == 0 || (ev.name != "" && ev.name != "message") {
				return nil
			}
			msg, err := jsonrpc.DecodeMessage(ev.data)
			if err != nil {
				r.log.Warn("ignoring an undecodable message on the notification stream", "error", err)
				return nil
			}
			progressed = true
			select {
			case r.incoming <- msg:
				return nil
			case <-up.ctx.Done():
				return up.ctx.Err()
			}
		})
		resp.Body.Close()
		if up.ctx.Err() != nil {
			return
		}
		if progressed {
			failures = 0
		} else if failures++; failures > r.opts.MaxRetries {
			r.log.Debug("the notification stream keeps closing; not reopening it", "error", err)
			return
		}
		if delay == 0 {
			delay = r.backoff(failures, "")
		}
	}
}

// backoff is the delay before retry n (from 0): Retry-After when the
// server gave seconds, else RetryDelay doubled n times, capped, with
// jitter.
func (r *relay) backoff(n int, retryAfter string) time.Duration {
	if s, err := strconv.Atoi(retryAfter); err == nil && s >= 0 {
		return min(time.Duration(s)*time.Second, maxBackoff)
	}
	d := r.opts.RetryDelay << min(n, 16)
	d = min(d, maxBackoff)
	return d + rand.N(d/4+1)
}

func (r *relay) sleep(d time.Duration) bool { return sleepCtx(r.ctx, d) }

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// sessionState is the Streamable HTTP session as the relay sees it. The
// go-sdk connection sets Mcp-Session-Id and MCP-Protocol-Version itself
// only when an mcp.Client drives it; the relay drives it with raw messages,
// so sessionTransport adds them. Keeping the session here also lets a
// failed connection be replaced without losing the session.
type sessionState struct {
	mu         sync.Mutex
	streamable bool
	sid        string
	pv         string
}

func (s *sessionState) id() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sid
}

func (s *sessionState) version() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pv
}

func (s *sessionState) setVersion(v string) {
	if v == "" {
		return
	}
	s.mu.Lock()
	s.pv = v
	s.mu.Unlock()
}

func (s *sessionState) setStreamable(on bool) {
	s.mu.Lock()
	s.streamable = on
	s.mu.Unlock()
}

func (s *sessionState) resetSession() {
	s.mu.Lock()
	s.sid, s.pv = "", ""
	s.mu.Unlock()
}

// sessionTransport adds the session headers, learns the session ID, and
// holds back the DELETE a go-sdk connection sends when closed: replacing a
// connection must not end the session (relay.endSession does, at the end).
type sessionTransport struct {
	base http.RoundTripper
	s    *sessionState
}

func (t *sessionTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	t.s.mu.Lock()
	streamable, sid, pv := t.s.streamable, t.s.sid, t.s.pv
	t.s.mu.Unlock()
	if req.Method == http.MethodDelete && req.Context().Value(endSessionKey{}) == nil {
		return &http.Response{
			Status: "204 No Content", StatusCode: http.StatusNoContent,
			Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Header: make(http.Header), Body: http.NoBody, Request: req,
		}, nil
	}
	if streamable {
		needSID := sid != "" && req.Header.Get("Mcp-Session-Id") == ""
		needPV := pv != "" && req.Header.Get("Mcp-Protocol-Version") == ""
		if needSID || needPV {
			req = req.Clone(req.Context())
			if needSID {
				req.Header.Set("Mcp-Session-Id", sid)
			}
			if needPV {
				req.Header.Set("Mcp-Protocol-Version", pv)
			}
		}
	}
	resp, err := t.base.RoundTrip(req)
	if err == nil && streamable {
		if got := resp.Header.Get("Mcp-Session-Id"); got != "" {
			t.s.mu.Lock()
			if t.s.sid == "" {
				t.s.sid = got
			}
			t.s.mu.Unlock()
		}
	}
	return resp, err
}
