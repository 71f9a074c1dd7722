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
	go r.forwardToClient()

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

// forwardToClient writes every message from the server to the client,
// noting on the way which requests are answered.
func (r *relay) forwardToClient() {
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
			if r.retireFlight(resp) {
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
	}
}

// retireFlight retires the flight a response answers, and learns the
// negotiated protocol version from the response to the client's
// initialize. It reports whether resp is that (successful) response.
func (r *relay) retireFlight(resp *jsonrpc.Response) bool {
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
