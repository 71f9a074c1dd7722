package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// errConnectionLost answers requests that were in flight on a connection
// that broke.
var errConnectionLost = errors.New("the connection to the MCP server was lost before it answered; try again")

// flight is a client request read and not yet answered or cancelled. The
// fields after handed are guarded by relay.mu.
type flight struct {
	method string
	params json.RawMessage // kept for what learn records
	// handed is closed once the request is on its way to the server (its
	// HTTP request has been written out, or the first attempt is over).
	handed   chan struct{}
	handOnce sync.Once

	gen      int  // the connection it was last written to; 0: not yet
	sending  bool // Write has not returned yet
	bodySent bool // the current Write's HTTP request has been written out
	// pendingCancel is the client's notifications/cancelled for it, which
	// arrived while a retry's body was not yet out: its sender sends it
	// after the request.
	pendingCancel *jsonrpc.Request
}

func (f *flight) hand() { f.handOnce.Do(func() { close(f.handed) }) }

// send writes msg upstream, recovering from what can be recovered from: a
// connection that already failed, a lost session, a network that is down,
// a busy server, and a server without Streamable HTTP. f is the flight of
// a request, nil for other messages; a request that is cancelled or
// answered meanwhile is not (again) sent.
func (r *relay) send(msg jsonrpc.Message, f *flight) error {
	var id jsonrpc.ID
	req, _ := msg.(*jsonrpc.Request)
	if req != nil {
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
		ctx := withAttempt(r.ctx, a)
		if f != nil {
			r.mu.Lock()
			if r.flights[id] != f {
				r.mu.Unlock()
				return nil // cancelled: the server must not get it now
			}
			f.gen, f.sending, f.bodySent = up.gen, true, false
			r.mu.Unlock()
			ctx = withWritten(ctx, func() {
				r.mu.Lock()
				f.bodySent = true
				r.mu.Unlock()
				f.hand()
			})
			if req.Method == methodToolsCall {
				ctx = r.withParamHeaders(ctx, req)
			}
		}
		err = up.conn.Write(ctx, msg)
		if f != nil {
			f.hand()
			if cancel, cancelled := r.afterWrite(id, f, up, err == nil); cancelled {
				if cancel != nil {
					if cerr := r.send(cancel, nil); cerr != nil && r.ctx.Err() == nil {
						r.log.Warn("could not forward a cancellation", "error", cerr)
					}
				}
				return nil
			}
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
// response can no longer arrive. When the client cancelled the request
// meanwhile, it reports cancelled, with the cancellation to send now that
// the request is out (nil if it did not get out).
func (r *relay) afterWrite(id jsonrpc.ID, f *flight, up *upstream, ok bool) (cancel *jsonrpc.Request, cancelled bool) {
	r.mu.Lock()
	f.sending = false
	if cancel := f.pendingCancel; cancel != nil {
		f.pendingCancel = nil
		if !ok && !f.bodySent {
			cancel = nil // the server never got the request
		}
		r.mu.Unlock()
		return cancel, true
	}
	if !ok && f.gen == up.gen {
		f.gen = 0 // on no connection: send retries it or gives up
	}
	if r.flights[id] != f || f.gen != up.gen || !ok {
		r.mu.Unlock()
		return nil, false
	}
	orphan := up.isDead()
	r.mu.Unlock()
	if orphan {
		r.replyError(id, errConnectionLost)
	}
	return nil, false
}

// failFlights answers every request that was in flight on generation gen.
func (r *relay) failFlights(gen int) {
	r.mu.Lock()
	var ids []jsonrpc.ID
	for id, f := range r.flights {
		if f.gen == gen && !f.sending {
			ids = append(ids, id)
		}
	}
	r.mu.Unlock()
	for _, id := range ids {
		r.replyError(id, errConnectionLost)
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
