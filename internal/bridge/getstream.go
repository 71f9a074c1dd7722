package bridge

import (
	"mime"
	"net/http"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"

	"github.com/2coffee/mcp-2coffee/internal/sse"
)

// getStreamWait bounds how long the first GET of the standalone stream may
// hold up the initialize response.
const getStreamWait = 10 * time.Second

// openGetStream opens the standalone GET stream (Streamable HTTP before
// 2026-07-28), once per connection. With wait, it returns once the server
// has answered the first GET (or failed to).
func (r *relay) openGetStream(up *upstream, wait bool) {
	if r.currentMode() != TransportStreamable {
		return
	}
	if v := r.sess.version(); v == "" || v >= firstStatelessVersion {
		return
	}
	opened := make(chan struct{})
	started := false
	up.getStreamOnce.Do(func() {
		started = true
		r.wg.Add(1)
		go r.keepGetStream(up, opened)
	})
	if !started || !wait {
		return
	}
	select {
	case <-opened:
	case <-time.After(getStreamWait):
	case <-up.ctx.Done():
	}
}

// keepGetStream keeps the standalone GET stream open, resuming with Last-Event-ID
// after interruptions, and stops when the server has none (405), the
// session is gone (then a new one is made), or the connection is replaced.
func (r *relay) keepGetStream(up *upstream, opened chan struct{}) {
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
		err = sse.Read(resp.Body, func(ev sse.Event) error {
			if ev.ID != "" {
				lastID = ev.ID
				progressed = true
			}
			if ev.Retry > 0 {
				delay = ev.Retry
			}
			if len(ev.Data) == 0 || (ev.Name != "" && ev.Name != "message") {
				return nil
			}
			msg, err := jsonrpc.DecodeMessage(ev.Data)
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
