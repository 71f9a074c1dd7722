package bridge

import (
	"context"
	"io"
	"net/http"
	"net/http/httptrace"
	"sync"
	"time"
)

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

// withWritten returns ctx with an HTTP client trace that calls fn once a
// request made with it has been written out (headers and body) to the
// network: the relay waits for that before handing on the client's next
// message, so that a notifications/cancelled leaves after its request.
func withWritten(ctx context.Context, fn func()) context.Context {
	return httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		WroteRequest: func(httptrace.WroteRequestInfo) { fn() },
	})
}
