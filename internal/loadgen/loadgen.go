// Package loadgen is the engine of `mcp-2coffee bench`: a load generator
// that users point at their own MCP deployment, to compare servers and
// bridges on the same footing.
//
// Over Streamable HTTP (Run), a number of clients each do the handshake
// when the protocol revision has one, keep the session the server gives
// them, and then call one tool over and over; over stdio (RunStdio), a
// command is spawned, its start-up timed to the first initialize
// response, and the tool called in sequence. Either way the report gives
// requests per second, latency percentiles, the errors by kind, and what
// the server process used.
//
// The clients are hand-written rather than the go-sdk's: each call is
// exactly one HTTP request (or one line each way), timed from its first
// byte to its response, and the generator does as little per call as it
// can, so that it measures the server and not itself.
package loadgen

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/2coffee/mcp-2coffee/internal/paramheader"
	"github.com/2coffee/mcp-2coffee/internal/webaddr"
)

// Defaults of Options.
const (
	DefaultConcurrency = 16
	DefaultDuration    = 10 * time.Second
	DefaultTimeout     = 30 * time.Second
)

// ErrRemote refuses a target that is not this machine without
// Options.AllowRemote: a load test is an attack on a server its user does
// not run.
var ErrRemote = errors.New("the target is not a loopback address")

// Options configures Run.
type Options struct {
	// URL is the server's MCP endpoint.
	URL string
	// AllowRemote permits a URL whose host is not loopback
	// (webaddr.IsLoopback).
	AllowRemote bool
	// Header is sent on every request, credentials included. The caller
	// has checked it (bridge.ParseHeaders): the transport's own headers
	// are not in it.
	Header http.Header
	// Tool is called with Arguments, a JSON object (nil: {}).
	Tool      string
	Arguments json.RawMessage
	// ProtocolVersion is the revision proposed; default
	// DefaultProtocolVersion. From 2026-07-28 there is no handshake.
	ProtocolVersion string
	// Concurrency is the number of clients, each with one call in flight;
	// default DefaultConcurrency.
	Concurrency int
	// Duration and Requests bound the measured part: it ends when either
	// is reached. With neither, Duration is DefaultDuration.
	Duration time.Duration
	Requests int64
	// Warmup is spent calling before the measurement starts; those calls
	// are not counted.
	Warmup time.Duration
	// Timeout bounds one request; default DefaultTimeout.
	Timeout time.Duration
	// PID, when not zero, is the server's process on this machine, whose
	// memory and CPU are sampled from /proc during the measured window.
	PID int
	// ClientVersion is the version the clients give in clientInfo.
	ClientVersion string

	// Transport replaces the HTTP transport (tests); default one sized to
	// Concurrency.
	Transport http.RoundTripper
}

// CheckTarget returns an error unless rawURL is an http or https URL of
// this machine, or allowRemote is set. It sends nothing.
func CheckTarget(rawURL string, allowRemote bool) (*url.URL, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, err
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%s: want an http or https URL", u.Redacted())
	}
	if !allowRemote && !webaddr.IsLoopback(u.Hostname()) {
		return nil, fmt.Errorf("%s: %w; pass --allow-remote to load a server you run elsewhere", u.Redacted(), ErrRemote)
	}
	return u, nil
}

// httpRun is one Run: what its clients share, all fixed before they
// start.
type httpRun struct {
	opts         Options
	url          string
	client       *http.Client
	header       http.Header
	paramHeaders http.Header
	call         callTemplate
	info         clientInfo

	start, deadline time.Time // the measured window; deadline zero: none
	claimed         atomic.Int64
}

// Run loads the server at opts.URL and reports what it measured. It
// returns an error only when it cannot start (a bad option, a remote
// target); failed calls are counted in the report. Cancelling ctx ends
// the run early with the calls counted so far.
func Run(ctx context.Context, opts Options) (*Report, error) {
	u, err := CheckTarget(opts.URL, opts.AllowRemote)
	if err != nil {
		return nil, err
	}
	if err := opts.defaults(); err != nil {
		return nil, err
	}
	var sampler *procSampler
	if opts.PID != 0 {
		// Checked before any load, so a wrong pid costs nothing.
		if sampler, err = newProcSampler(opts.PID); err != nil {
			return nil, err
		}
	}
	g := &httpRun{opts: opts, url: u.String(), header: opts.Header, info: clientInfo{Name: "mcp-2coffee-bench", Version: opts.ClientVersion}}
	if g.header == nil {
		g.header = http.Header{}
	}
	transport := opts.Transport
	if transport == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		// One idle connection per client, so that every call after the
		// first finds one and no client waits for a dial.
		t.MaxIdleConns = 2 * opts.Concurrency
		t.MaxIdleConnsPerHost = 2 * opts.Concurrency
		t.DialContext = (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext
		transport = t
		defer t.CloseIdleConnections()
	}
	g.client = &http.Client{
		Transport: transport,
		Timeout:   opts.Timeout,
		// A redirect is reported, not followed: it would carry the
		// credentials elsewhere, and a call would be two requests.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	if opts.ProtocolVersion >= paramheader.FirstVersion {
		g.paramHeaders = g.toolParamHeaders(ctx)
	}
	g.call = newCallTemplate(opts.ProtocolVersion, opts.Tool, opts.Arguments, g.info)

	g.start = time.Now().Add(opts.Warmup)
	if opts.Duration > 0 {
		g.deadline = g.start.Add(opts.Duration)
	}
	conns := make([]*conn, opts.Concurrency)
	tallies := make([]*tally, opts.Concurrency)
	lastEnd := make([]time.Time, opts.Concurrency)
	var wg sync.WaitGroup
	for i := range conns {
		conns[i], tallies[i] = g.newConn(), newTally()
		wg.Add(1)
		go func() {
			defer wg.Done()
			lastEnd[i] = g.client1(ctx, conns[i], tallies[i])
		}()
	}
	var stats *ProcStats
	if sampler != nil {
		if sleepUntil(ctx, g.start) {
			sampler.begin()
		}
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		stats = sampler.run(ctx, done)
	}
	wg.Wait()
	end := g.start
	for _, t := range lastEnd {
		if t.After(end) {
			end = t
		}
	}
	// Sessions end outside the measured window, and even when ctx was
	// cancelled: they are the server's memory.
	endCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	sessions := 0
	for _, c := range conns {
		if c.session != "" {
			sessions++
		}
		c.end(endCtx)
	}
	r := &Report{Mode: "http", Target: u.Redacted(), Tool: opts.Tool, ProtocolVersion: conns[0].version,
		Concurrency: opts.Concurrency, Sessions: sessions, Server: stats}
	r.fill(tallies, end.Sub(g.start))
	return r, nil
}

func (o *Options) defaults() error {
	if o.Tool == "" {
		return errors.New("no tool to call")
	}
	if len(o.Arguments) == 0 {
		o.Arguments = json.RawMessage("{}")
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(o.Arguments, &obj); err != nil || obj == nil {
		return fmt.Errorf("the arguments must be a JSON object")
	}
	if o.ProtocolVersion == "" {
		o.ProtocolVersion = DefaultProtocolVersion
	}
	if o.Concurrency <= 0 {
		o.Concurrency = DefaultConcurrency
	}
	if o.Duration < 0 || o.Requests < 0 || o.Warmup < 0 {
		return errors.New("the duration, request count and warm-up cannot be negative")
	}
	if o.Duration == 0 && o.Requests == 0 {
		o.Duration = DefaultDuration
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	return nil
}

// client1 is one client's loop; it returns when its last counted call
// ended.
func (g *httpRun) client1(ctx context.Context, c *conn, t *tally) time.Time {
	var last time.Time
	for ctx.Err() == nil {
		if !c.ready {
			t0 := time.Now()
			o := c.handshake(ctx)
			if o.kind == "" || ctx.Err() != nil {
				continue
			}
			// A failed handshake stands for the call it prevented, so
			// that a refused credential shows as errors, not as silence.
			if !g.admit(t0) {
				return last
			}
			last = time.Now()
			if !t0.Before(g.start) {
				t.record(o, last.Sub(t0))
			}
			continue
		}
		t0 := time.Now()
		if !g.admit(t0) {
			return last
		}
		o, at := c.call(ctx)
		if ctx.Err() != nil {
			return last
		}
		if !t0.Before(g.start) {
			t.record(o, at.Sub(t0))
			last = at
		}
	}
	return last
}

// admit reports whether a call starting at t0 may go: any call in the
// warm-up, and in the measured window those within its duration and its
// request count.
func (g *httpRun) admit(t0 time.Time) bool {
	if t0.Before(g.start) {
		return true
	}
	if !g.deadline.IsZero() && !t0.Before(g.deadline) {
		return false
	}
	return g.opts.Requests == 0 || g.claimed.Add(1) <= g.opts.Requests
}

// toolParamHeaders lists the tools once, before the run, to learn which
// of the tool's arguments go into Mcp-Param-* headers (paramheader). A
// failed listing leaves the headers out; the calls then show the error.
func (g *httpRun) toolParamHeaders(ctx context.Context) http.Header {
	c := g.newConn()
	h := c.header.Clone()
	h.Set("Mcp-Method", "tools/list")
	h.Del("Mcp-Name")
	var cursor string
	for page := 0; page < 100; page++ {
		c.nextID++
		params := map[string]any{"_meta": requestMeta(c.version, g.info)}
		if cursor != "" {
			params["cursor"] = cursor
		}
		id := c.nextID
		resp, o := c.post(ctx, encode(&id, "tools/list", params), h)
		if o.kind != "" {
			return nil
		}
		m, o, _ := c.read(ctx, resp, id)
		if o.kind != "" || m.judge(false).kind != "" {
			return nil
		}
		var res struct {
			Tools []struct {
				Name        string          `json:"name"`
				InputSchema json.RawMessage `json:"inputSchema"`
			} `json:"tools"`
			NextCursor string `json:"nextCursor"`
		}
		if json.Unmarshal(m.Result, &res) != nil {
			return nil
		}
		for _, tool := range res.Tools {
			if tool.Name == g.opts.Tool {
				return paramheader.For(c.version, tool.InputSchema, g.opts.Arguments)
			}
		}
		if res.NextCursor == "" {
			return nil
		}
		cursor = res.NextCursor
	}
	return nil
}

// sleepUntil waits for t; false when ctx ended first.
func sleepUntil(ctx context.Context, t time.Time) bool {
	timer := time.NewTimer(time.Until(t))
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
		return false
	}
}
