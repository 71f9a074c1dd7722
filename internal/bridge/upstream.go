package bridge

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

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

	getStreamOnce sync.Once
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

// close ends the connection. Its context goes first, so that
// readUpstream, reading from it, knows the end is deliberate.
func (u *upstream) close() {
	u.cancel()
	<-u.ready
	if u.conn != nil {
		u.conn.Close()
	}
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
	go r.readUpstream(nu)
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
		r.openGetStream(nu, false)
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

// readUpstream moves messages from one upstream connection to the
// goroutine writing to the client.
func (r *relay) readUpstream(up *upstream) {
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
// notifications/initialized on a new connection, then what the client set
// up (logging/setLevel, resources/subscribe). The responses to the
// replayed requests go to us, not to the client, which already had them.
func (r *relay) replayHandshake(up *upstream) error {
	r.mu.Lock()
	init, notify := r.initReq, r.initNotify
	r.mu.Unlock()
	if init == nil {
		return nil // nothing to replay (2026-07-28 has no handshake)
	}
	resp, err := r.replayCall(up, init)
	if err != nil {
		return err
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
	for _, req := range r.setupRequests() {
		resp, err := r.replayCall(up, req)
		if err != nil {
			return err
		}
		if resp.Error != nil {
			// The session works without it; the client hears no more
			// of what it asked for, as it would from a server that forgot.
			r.log.Warn("the server refused a replayed request", "method", req.Method, "error", resp.Error)
		}
	}
	r.log.Info("initialised a new session", "server", r.c.url)
	return nil
}

// replayCall sends req (method and params) with an ID of our own on up and
// waits for its answer.
func (r *relay) replayCall(up *upstream, req *jsonrpc.Request) (*jsonrpc.Response, error) {
	r.mu.Lock()
	r.seq++
	id, _ := jsonrpc.MakeID("mcp-2coffee-reinit-" + strconv.Itoa(r.seq))
	answer := make(chan *jsonrpc.Response, 1)
	r.waiters[id] = answer
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		delete(r.waiters, id)
		r.mu.Unlock()
	}()
	if err := up.conn.Write(up.ctx, &jsonrpc.Request{ID: id, Method: req.Method, Params: req.Params}); err != nil {
		return nil, err
	}
	select {
	case resp := <-answer:
		return resp, nil
	case <-time.After(replayTimeout):
		return nil, fmt.Errorf("the server did not answer the replayed %s", req.Method)
	case <-up.ctx.Done():
		return nil, up.ctx.Err()
	}
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
