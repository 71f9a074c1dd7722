package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// StdioOptions configures RunStdio.
type StdioOptions struct {
	// Argv is the command that serves MCP on its stdin and stdout: a
	// server, or a bridge to one ("mcp-2coffee connect URL").
	Argv []string
	// Env is the command's environment; nil inherits this process's.
	Env []string
	// Stderr receives the command's standard error; nil discards it (the
	// last lines are still quoted when it fails to start).
	Stderr io.Writer

	Tool            string
	Arguments       json.RawMessage
	ProtocolVersion string
	// Runs is how many times the command is spawned for the start-up
	// figure; the calls are made in the first run. Default 1.
	Runs int
	// Duration, Requests, Warmup and Timeout are as in Options, for the
	// sequential calls.
	Duration time.Duration
	Requests int64
	Warmup   time.Duration
	Timeout  time.Duration
	// ClientVersion is the version the client gives in clientInfo.
	ClientVersion string
}

// exitWait is how long a child may take to exit once its stdin is closed
// (the stdio transport's way to say goodbye) before it is killed.
const exitWait = 5 * time.Second

// RunStdio spawns opts.Argv opts.Runs times, timing each spawn to its
// initialize response, and in the first run calls the tool in sequence.
// A child that dies or answers nothing ends the run with an error.
func RunStdio(ctx context.Context, opts StdioOptions) (*Report, error) {
	if len(opts.Argv) == 0 {
		return nil, errors.New("no command to run")
	}
	o := Options{Tool: opts.Tool, Arguments: opts.Arguments, ProtocolVersion: opts.ProtocolVersion,
		Duration: opts.Duration, Requests: opts.Requests, Warmup: opts.Warmup, Timeout: opts.Timeout, Concurrency: 1}
	if err := o.defaults(); err != nil {
		return nil, err
	}
	if opts.Runs <= 0 {
		opts.Runs = 1
	}
	info := clientInfo{Name: "mcp-2coffee-bench", Version: opts.ClientVersion}
	r := &Report{Mode: "stdio", Target: commandName(opts.Argv), Tool: o.Tool, ProtocolVersion: o.ProtocolVersion,
		Concurrency: 1, Runs: opts.Runs, Server: &ProcStats{}}
	var startups []time.Duration
	t := newTally()
	var window time.Duration
	for run := 0; run < opts.Runs && ctx.Err() == nil; run++ {
		ch, err := spawn(ctx, opts, o.Timeout)
		if err != nil {
			return nil, err
		}
		startup, version, err := ch.initialize(o.ProtocolVersion, info)
		if err == nil && run == 0 {
			r.ProtocolVersion = version
			window, err = ch.calls(ctx, o, newCallTemplate(version, o.Tool, o.Arguments, info), t)
		}
		rss, cpu := ch.close()
		if err != nil {
			return nil, ch.explain(err)
		}
		startups = append(startups, startup)
		r.Server.PeakRSSBytes = max(r.Server.PeakRSSBytes, rss)
		r.Server.CPUSeconds += cpu
	}
	r.fill([]*tally{t}, window)
	s := summarize(startups)
	r.Startup = &s
	return r, nil
}

// child is one spawned command and the line protocol to it.
type child struct {
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	out     *bufio.Reader
	stderr  *tail
	timeout time.Duration
	spawned time.Time
	nextID  int64

	mu       sync.Mutex
	watchdog *time.Timer // kills the child when an answer is overdue
	stopCtx  func() bool
}

func spawn(ctx context.Context, opts StdioOptions, timeout time.Duration) (*child, error) {
	cmd := exec.Command(opts.Argv[0], opts.Argv[1:]...)
	cmd.Env = opts.Env
	c := &child{cmd: cmd, stderr: &tail{}, timeout: timeout}
	var w io.Writer = c.stderr
	if opts.Stderr != nil {
		w = io.MultiWriter(c.stderr, opts.Stderr)
	}
	cmd.Stderr = w
	var err error
	if c.stdin, err = cmd.StdinPipe(); err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	c.out = bufio.NewReaderSize(stdout, 64<<10)
	c.spawned = time.Now()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	kill := func() { cmd.Process.Kill() }
	c.watchdog = time.AfterFunc(timeout, kill)
	c.stopCtx = context.AfterFunc(ctx, kill)
	return c, nil
}

// initialize does the handshake and returns the time from the spawn to
// the response, and the protocol revision the server chose.
func (c *child) initialize(version string, info clientInfo) (time.Duration, string, error) {
	c.nextID++
	id := c.nextID
	m, err := c.exchange(initializeBody(id, version, info), id)
	if err != nil {
		return 0, "", fmt.Errorf("initialize: %w", err)
	}
	startup := time.Since(c.spawned)
	if m.Error != nil {
		return 0, "", fmt.Errorf("initialize: JSON-RPC error %d: %s", m.Error.Code, m.Error.Message)
	}
	var res struct {
		ProtocolVersion string `json:"protocolVersion"`
	}
	if json.Unmarshal(m.Result, &res) != nil || res.ProtocolVersion == "" {
		return 0, "", errors.New("initialize: a result without a protocolVersion")
	}
	if err := c.write(initializedBody()); err != nil {
		return 0, "", err
	}
	return startup, res.ProtocolVersion, nil
}

// calls calls the tool in sequence, within the warm-up and then the
// measured window, and returns the window's length.
func (c *child) calls(ctx context.Context, o Options, call callTemplate, t *tally) (time.Duration, error) {
	start := time.Now().Add(o.Warmup)
	var deadline, last time.Time
	if o.Duration > 0 {
		deadline = start.Add(o.Duration)
	}
	last = start
	var counted int64
	for ctx.Err() == nil {
		t0 := time.Now()
		measured := !t0.Before(start)
		if measured && (!deadline.IsZero() && !t0.Before(deadline) || o.Requests > 0 && counted >= o.Requests) {
			break
		}
		c.nextID++
		id := c.nextID
		m, err := c.exchange(call.body(nil, id), id)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			return 0, fmt.Errorf("tools/call: %w", err)
		}
		if measured {
			last = time.Now()
			t.record(m.judge(true), last.Sub(t0))
			counted++
		}
	}
	return last.Sub(start), nil
}

// exchange writes one request and reads lines until its response,
// answering the server's own requests on the way.
func (c *child) exchange(line []byte, id int64) (*message, error) {
	c.mu.Lock()
	c.watchdog.Reset(c.timeout)
	c.mu.Unlock()
	if err := c.write(line); err != nil {
		return nil, err
	}
	for {
		data, err := c.out.ReadBytes('\n')
		if err != nil {
			if err == io.EOF {
				err = errors.New("the command closed its output")
			}
			return nil, err
		}
		data = bytes.TrimSpace(data)
		if len(data) == 0 {
			continue
		}
		var m message
		if err := json.Unmarshal(data, &m); err != nil {
			return nil, fmt.Errorf("not a JSON-RPC message on stdout: %.80q", data)
		}
		switch {
		case m.isResponseTo(id):
			return &m, nil
		case m.isRequest():
			if err := c.write(methodNotFound(m.ID)); err != nil {
				return nil, err
			}
		}
	}
}

func (c *child) write(line []byte) error {
	_, err := c.stdin.Write(append(line, '\n'))
	return err
}

// close ends the child the way a stdio client does, by closing its stdin,
// and returns its peak resident set and CPU seconds.
func (c *child) close() (rss int64, cpu float64) {
	c.stdin.Close()
	c.mu.Lock()
	c.watchdog.Reset(exitWait)
	c.mu.Unlock()
	c.cmd.Wait()
	c.watchdog.Stop()
	c.stopCtx()
	return usage(c.cmd.ProcessState)
}

// explain adds the child's last words to err.
func (c *child) explain(err error) error {
	if s := strings.TrimSpace(c.stderr.String()); s != "" {
		return fmt.Errorf("%w; the command's stderr ends:\n%s", err, s)
	}
	return err
}

// tail keeps the last bytes written to it.
type tail struct {
	mu  sync.Mutex
	buf []byte
}

const tailBytes = 2 << 10

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > tailBytes {
		t.buf = t.buf[len(t.buf)-tailBytes:]
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}

// commandName is what a report says of the spawned command: its program
// and how many arguments it had, never the arguments, which may hold a
// bridge's credential (connect URL --header "X-API-KEY: …").
func commandName(argv []string) string {
	if len(argv) == 0 {
		return ""
	}
	name := filepath.Base(argv[0])
	if n := len(argv) - 1; n > 0 {
		name += fmt.Sprintf(" (and %d arguments)", n)
	}
	return name
}
