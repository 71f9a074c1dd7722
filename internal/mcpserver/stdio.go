package mcpserver

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// StdioTransport is the server's side of a stdio session: newline-delimited
// JSON-RPC messages read from in and written to out, as mcp.IOTransport
// does, with one promise more: every request read before in ends is
// answered. A client that writes its requests and closes its side at once
// (printf '…' | mcp-2coffee stdio) gets all its answers; mcp.IOTransport
// alone ends the session at EOF and drops what is still being handled.
//
// At EOF the end is held back until each request read has been answered or
// cancelled (notifications/cancelled), or drain has passed, whichever comes
// first. drain <= 0 means no waiting.
func StdioTransport(in io.Reader, out io.Writer, drain time.Duration) mcp.Transport {
	l := &ledger{open: make(map[string]struct{})}
	return &mcp.IOTransport{
		Reader: &drainingReader{in: bufio.NewReaderSize(in, 64<<10), ledger: l, drain: drain},
		Writer: &answerWriter{out: out, ledger: l},
	}
}

// ledger is the set of requests read from the client and not yet answered.
type ledger struct {
	mu   sync.Mutex
	open map[string]struct{}
	idle chan struct{} // closed when open becomes empty; nil when nobody waits
}

func (l *ledger) add(id string) {
	l.mu.Lock()
	l.open[id] = struct{}{}
	l.mu.Unlock()
}

func (l *ledger) done(id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.open, id)
	if len(l.open) == 0 && l.idle != nil {
		close(l.idle)
		l.idle = nil
	}
}

// wait returns once no request is open, or after d.
func (l *ledger) wait(d time.Duration) {
	l.mu.Lock()
	if len(l.open) == 0 || d <= 0 {
		l.mu.Unlock()
		return
	}
	if l.idle == nil {
		l.idle = make(chan struct{})
	}
	idle := l.idle
	l.mu.Unlock()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-idle:
	case <-t.C:
	}
}

// pending reports how many requests are open (for tests).
func (l *ledger) pending() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.open)
}

// drainingReader passes the client's bytes through unchanged, one line at
// a time. Before a line reaches the SDK it is noted in the ledger (a request
// opens an entry, a cancellation closes one), so an answer can never be
// written before its request is known. A line longer than the buffer is
// passed through in pieces without being looked at: the SDK bounds and
// refuses it.
type drainingReader struct {
	in     *bufio.Reader
	ledger *ledger
	drain  time.Duration

	rest    []byte // what is left of the current line
	inLong  bool   // inside a line longer than the buffer
	err     error  // the read error to report once rest is served
	drained bool
}

func (r *drainingReader) Read(p []byte) (int, error) {
	for len(r.rest) == 0 {
		if r.err != nil {
			if errors.Is(r.err, io.EOF) && !r.drained {
				r.drained = true
				r.ledger.wait(r.drain)
			}
			return 0, r.err
		}
		line, err := r.in.ReadSlice('\n')
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			r.inLong = true
		case r.inLong:
			r.inLong = false // the end of a long line
			r.err = err
		default:
			r.note(line)
			r.err = err
		}
		r.rest = line
	}
	n := copy(p, r.rest)
	r.rest = r.rest[n:]
	return n, nil
}

// Close does not close the client's stream (stdin is not ours to close).
func (r *drainingReader) Close() error { return nil }

// note records the requests and cancellations in one line: a message or,
// in 2025-03-26, a batch of them. Lines that are not JSON-RPC are left for
// the SDK to refuse.
func (r *drainingReader) note(line []byte) {
	forEachMessage(line, func(m *wireMessage) {
		switch {
		case m.Method == "notifications/cancelled" && m.ID == nil:
			var p struct {
				RequestID json.RawMessage `json:"requestId"`
			}
			if json.Unmarshal(m.Params, &p) == nil {
				if id, ok := idKey(p.RequestID); ok {
					r.ledger.done(id)
				}
			}
		case m.Method != "":
			if id, ok := idKey(m.ID); ok {
				r.ledger.add(id)
			}
		}
	})
}

// answerWriter closes the ledger entry of each response the SDK writes.
// The SDK writes one message (or batch) per Write, newline included.
type answerWriter struct {
	out    io.Writer
	ledger *ledger
}

func (w *answerWriter) Write(p []byte) (int, error) {
	n, err := w.out.Write(p)
	// Closed after the write, so a drained reader never ends the session
	// with an answer still unwritten.
	forEachMessage(p, func(m *wireMessage) {
		if m.Method == "" {
			if id, ok := idKey(m.ID); ok {
				w.ledger.done(id)
			}
		}
	})
	return n, err
}

func (w *answerWriter) Close() error {
	if c, ok := w.out.(io.Closer); ok {
		return c.Close()
	}
	return nil
}

// wireMessage is the part of a JSON-RPC message the ledger needs.
type wireMessage struct {
	ID     json.RawMessage `json:"id"`
	Method string          `json:"method"`
	Params json.RawMessage `json:"params"`
}

func forEachMessage(data []byte, f func(*wireMessage)) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return
	}
	if data[0] == '[' {
		var batch []wireMessage
		if json.Unmarshal(data, &batch) == nil {
			for i := range batch {
				f(&batch[i])
			}
		}
		return
	}
	var m wireMessage
	if json.Unmarshal(data, &m) == nil {
		f(&m)
	}
}

// idKey is a JSON-RPC id in a form that compares equal for a request and
// its response: a string stays a string, a number is compared by value.
func idKey(raw json.RawMessage) (string, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return "", false
	}
	if raw[0] == '"' {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return "", false
		}
		return "s" + s, true
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil {
		return "", false
	}
	return "n" + strconv.FormatFloat(f, 'g', -1, 64), true
}
