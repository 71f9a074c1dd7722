package bridge

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// errConnectionLost answers requests that were in flight on a connection
// that broke.
var errConnectionLost = errors.New("the connection to the MCP server was lost before it answered; try again")

// flight is a client request sent upstream and not yet answered.
type flight struct {
	gen     int
	sending bool // Write has not returned yet
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
