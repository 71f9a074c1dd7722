package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/2coffee/mcp-2coffee/internal/paramheader"
	"github.com/2coffee/mcp-2coffee/internal/sse"
)

// maxBody bounds a JSON answer read into memory.
const maxBody = 64 << 20

// drainWait bounds how long a client waits, after the response to its
// call arrived on an SSE stream, for the server to end that stream so the
// connection can carry the next call. The spec says the server should
// close the stream once it has sent the response; the wait is not part
// of the call's latency.
const drainWait = time.Second

// errFound stops reading a stream once the response is in.
var errFound = errors.New("found")

// conn is one simulated client over Streamable HTTP: a session (when the
// server keeps one) and the headers of its requests. It is used by one
// goroutine.
type conn struct {
	g       *httpRun
	header  http.Header // sent on every POST: Accept, Content-Type, the user's headers, the session
	version string      // the protocol revision in use
	session string
	ready   bool // the handshake is done, or not needed
	nextID  int64
}

func (g *httpRun) newConn() *conn {
	h := g.header.Clone()
	h.Set("Accept", "application/json, text/event-stream")
	h.Set("Content-Type", "application/json")
	c := &conn{g: g, header: h}
	c.setVersion(g.opts.ProtocolVersion)
	c.ready = c.version >= firstStatelessVersion
	return c
}

func (c *conn) setVersion(v string) {
	c.version = v
	c.header.Set("Mcp-Protocol-Version", v)
	if v >= firstStatelessVersion {
		c.header.Set("Mcp-Method", "tools/call")
		c.header.Set("Mcp-Name", c.g.opts.Tool)
		for name, values := range c.g.paramHeaders {
			c.header[name] = values
		}
	}
}

func (c *conn) setSession(id string) {
	c.session = id
	if id == "" {
		c.header.Del("Mcp-Session-Id")
	} else {
		c.header.Set("Mcp-Session-Id", id)
	}
}

// handshake runs initialize and notifications/initialized.
func (c *conn) handshake(ctx context.Context) outcome {
	c.setSession("")
	c.nextID++
	id := c.nextID
	// initialize goes without the tools/call headers, and before the
	// version is known with the one proposed.
	h := c.header.Clone()
	h.Del("Mcp-Method")
	h.Del("Mcp-Name")
	resp, o := c.post(ctx, initializeBody(id, c.g.opts.ProtocolVersion, c.g.info), h)
	if o.kind != "" {
		return o
	}
	m, o, _ := c.read(ctx, resp, id)
	if o.kind != "" {
		return o
	}
	if o = m.judge(false); o.kind != "" {
		return o
	}
	var res struct {
		ProtocolVersion string `json:"protocolVersion"`
	}
	if err := json.Unmarshal(m.Result, &res); err != nil || res.ProtocolVersion == "" {
		return failed(KindInvalid, "initialize result without a protocolVersion")
	}
	if sid := resp.Header.Get("Mcp-Session-Id"); sid != "" {
		c.setSession(sid)
	}
	c.setVersion(res.ProtocolVersion)
	if o := c.notify(ctx, initializedBody()); o.kind != "" {
		return o
	}
	c.ready = true
	return outcome{}
}

// notify posts a notification (or a response to the server), which the
// server acknowledges with 202 Accepted and no body.
func (c *conn) notify(ctx context.Context, body []byte) outcome {
	h := c.header.Clone()
	for name := range h {
		if name == "Mcp-Method" || name == "Mcp-Name" || strings.HasPrefix(name, paramheader.Prefix) {
			delete(h, name)
		}
	}
	resp, o := c.post(ctx, body, h)
	if o.kind != "" {
		return o
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, maxBody))
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted && resp.StatusCode != http.StatusOK {
		return failed(KindHTTPPrefix+strconv.Itoa(resp.StatusCode), "to a notification")
	}
	return outcome{}
}

// call makes one tools/call and returns how it ended and when its
// response was in (the end of its latency).
func (c *conn) call(ctx context.Context) (outcome, time.Time) {
	c.nextID++
	id := c.nextID
	resp, o := c.post(ctx, c.g.call.body(nil, id), c.header)
	if o.kind != "" {
		return o, time.Now()
	}
	m, o, at := c.read(ctx, resp, id)
	if o.kind != "" {
		return o, at
	}
	return m.judge(true), at
}

// post sends one message. Redirects are not followed (see httpRun), so a
// 3xx comes back as a status like any other.
func (c *conn) post(ctx context.Context, body []byte, h http.Header) (*http.Response, outcome) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.g.url, bytes.NewReader(body))
	if err != nil {
		return nil, failed(KindTransport, err.Error())
	}
	req.Header = h
	resp, err := c.g.client.Do(req)
	if err != nil {
		return nil, failed(KindTransport, err.Error())
	}
	return resp, outcome{}
}

// read reads the answer to the request with id: a JSON body, or an SSE
// stream on which notifications and requests from the server may come
// before the response. It closes resp.Body.
func (c *conn) read(ctx context.Context, resp *http.Response, id int64) (*message, outcome, time.Time) {
	if resp.StatusCode != http.StatusOK {
		text, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
		resp.Body.Close()
		at := time.Now()
		if resp.StatusCode == http.StatusNotFound && c.session != "" {
			// The server forgot the session: a client starts a new
			// one (Streamable HTTP, "Session Management").
			c.ready = false
			c.setSession("")
		}
		return nil, failed(KindHTTPPrefix+strconv.Itoa(resp.StatusCode), string(text)), at
	}
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	switch mt {
	case "application/json":
		data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
		resp.Body.Close()
		at := time.Now()
		if err != nil {
			return nil, failed(KindTransport, err.Error()), at
		}
		var m message
		if err := json.Unmarshal(data, &m); err != nil {
			return nil, failed(KindInvalid, "JSON body: "+err.Error()), at
		}
		if !m.isResponseTo(id) {
			return nil, failed(KindInvalid, fmt.Sprintf("a JSON body that does not answer request %d", id)), at
		}
		return &m, outcome{}, at
	case "text/event-stream":
		return c.readStream(ctx, resp, id)
	}
	resp.Body.Close()
	return nil, failed(KindInvalid, fmt.Sprintf("Content-Type %q", resp.Header.Get("Content-Type"))), time.Now()
}

func (c *conn) readStream(ctx context.Context, resp *http.Response, id int64) (*message, outcome, time.Time) {
	var (
		found *message
		at    time.Time
	)
	err := sse.Read(resp.Body, func(ev sse.Event) error {
		if len(ev.Data) == 0 || (ev.Name != "" && ev.Name != "message") {
			return nil
		}
		var m message
		if json.Unmarshal(ev.Data, &m) != nil {
			return nil // not a message of ours; a later event may be
		}
		switch {
		case m.isResponseTo(id):
			found, at = &m, time.Now()
			return errFound
		case m.isRequest():
			// The server waits for this answer before it finishes the
			// call, so it goes now, on a connection of its own.
			c.notify(ctx, methodNotFound(m.ID))
		}
		return nil
	})
	if found == nil {
		resp.Body.Close()
		at = time.Now()
		if err != nil {
			return nil, failed(KindTransport, "event stream: "+err.Error()), at
		}
		return nil, failed(KindInvalid, fmt.Sprintf("the event stream ended without the response to request %d", id)), at
	}
	// Let the server end the stream, so that the connection is reused,
	// but not for ever.
	stop := time.AfterFunc(drainWait, func() { resp.Body.Close() })
	io.Copy(io.Discard, resp.Body)
	stop.Stop()
	resp.Body.Close()
	return found, outcome{}, at
}

// end asks the server to forget the session (Streamable HTTP: a client
// that no longer needs it should say so).
func (c *conn) end(ctx context.Context) {
	if c.session == "" {
		return
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, c.g.url, nil)
	if err != nil {
		return
	}
	req.Header = c.header.Clone()
	if resp, err := c.g.client.Do(req); err == nil {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		resp.Body.Close()
	}
}
