package loadgen

import (
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strings"
	"time"
)

// Report is the outcome of a run. Its JSON form (the bench command's
// --json) is documented in docs/BENCHMARKS.md; the field names are
// stable.
type Report struct {
	// Mode is "http" or "stdio".
	Mode string `json:"mode"`
	// Target is the URL (without user information), or the command's
	// program name and argument count (arguments may hold credentials).
	Target string `json:"target"`
	Tool   string `json:"tool"`
	// ProtocolVersion is the revision the clients spoke: the one the
	// server answered initialize with, else the one proposed.
	ProtocolVersion string `json:"protocol_version"`
	Concurrency     int    `json:"concurrency"`
	// Seconds is the measured wall time: from the end of the warm-up to
	// the end of the last counted call.
	Seconds float64 `json:"seconds"`
	// Requests counts the measured calls; OK and Errors split them.
	Requests          int64   `json:"requests"`
	OK                int64   `json:"ok"`
	Errors            int64   `json:"errors"`
	RequestsPerSecond float64 `json:"requests_per_second"`
	// Latency is of every measured call, failed ones included, from the
	// request's first byte to the matching response.
	Latency Latency `json:"latency_ms"`
	// ErrorKinds counts the errors by kind: "http_NNN", "jsonrpc_CODE",
	// "tool_error", "transport", "invalid_response". It is empty, never
	// absent, when nothing failed.
	ErrorKinds map[string]int64 `json:"error_kinds"`
	// ErrorExamples holds the first message seen of each kind, shortened.
	ErrorExamples map[string]string `json:"error_examples,omitempty"`
	// Sessions counts the clients the server gave an Mcp-Session-Id.
	Sessions int `json:"sessions"`
	// Server is what the server process used during the measured window
	// (--pid), or, in stdio mode, what the spawned children used.
	Server *ProcStats `json:"server,omitempty"`
	// Runs and Startup are of stdio mode: how many times the command was
	// spawned, and the time from each spawn to its initialize response.
	Runs    int      `json:"runs,omitempty"`
	Startup *Latency `json:"startup_ms,omitempty"`
}

// Latency summarises durations in milliseconds. A percentile is the
// nearest-rank one: the smallest duration that at least that share of
// the calls did not exceed.
type Latency struct {
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	Max  float64 `json:"max"`
	Mean float64 `json:"mean"`
}

// ProcStats is what a process used.
type ProcStats struct {
	PID int `json:"pid,omitempty"`
	// PeakRSSBytes is the largest resident set seen: sampled from
	// /proc/PID/status (VmRSS) during the measured window with --pid, or
	// the children's own peak (getrusage) in stdio mode.
	PeakRSSBytes int64 `json:"peak_rss_bytes"`
	// HWMBytes is the process's lifetime peak (VmHWM) at the end of the
	// window, which includes whatever it used before the run; --pid only.
	HWMBytes int64 `json:"hwm_bytes,omitempty"`
	// CPUSeconds is user plus system time used during the window (stdio:
	// by all the runs' children).
	CPUSeconds float64 `json:"cpu_seconds"`
	// Samples counts the /proc readings taken (--pid).
	Samples int `json:"samples,omitempty"`
}

// summarize returns the summary of ds, which it sorts.
func summarize(ds []time.Duration) Latency {
	if len(ds) == 0 {
		return Latency{}
	}
	slices.Sort(ds)
	var sum time.Duration
	for _, d := range ds {
		sum += d
	}
	rank := func(p float64) float64 {
		i := int(math.Ceil(p/100*float64(len(ds)))) - 1
		return ms(ds[max(i, 0)])
	}
	return Latency{P50: rank(50), P90: rank(90), P99: rank(99), Max: ms(ds[len(ds)-1]), Mean: ms(sum / time.Duration(len(ds)))}
}

func ms(d time.Duration) float64 { return math.Round(float64(d)/1e3) / 1e3 }

// tally gathers one client's outcomes; the run merges them at the end, so
// the clients share nothing while they measure.
type tally struct {
	latencies []time.Duration
	ok        int64
	kinds     map[string]int64
	examples  map[string]string
}

func newTally() *tally {
	return &tally{latencies: make([]time.Duration, 0, 1024), kinds: map[string]int64{}, examples: map[string]string{}}
}

func (t *tally) record(o outcome, d time.Duration) {
	t.latencies = append(t.latencies, d)
	if o.kind == "" {
		t.ok++
		return
	}
	t.kinds[o.kind]++
	if _, seen := t.examples[o.kind]; !seen && o.detail != "" {
		t.examples[o.kind] = o.detail
	}
}

// fill sets r's counts and latency from the clients' tallies and the
// measured wall time.
func (r *Report) fill(tallies []*tally, elapsed time.Duration) {
	var all []time.Duration
	r.ErrorKinds = map[string]int64{}
	r.ErrorExamples = map[string]string{}
	for _, t := range tallies {
		all = append(all, t.latencies...)
		r.OK += t.ok
		for k, n := range t.kinds {
			r.ErrorKinds[k] += n
			r.Errors += n
		}
		for k, m := range t.examples {
			if _, ok := r.ErrorExamples[k]; !ok {
				r.ErrorExamples[k] = m
			}
		}
	}
	r.Requests = int64(len(all))
	r.Latency = summarize(all)
	r.Seconds = math.Round(elapsed.Seconds()*1e3) / 1e3
	if elapsed > 0 {
		r.RequestsPerSecond = math.Round(float64(r.Requests)/elapsed.Seconds()*10) / 10
	}
}

// WriteText writes r as the table a person reads.
func (r *Report) WriteText(w io.Writer) {
	var b strings.Builder
	row := func(name, format string, args ...any) {
		fmt.Fprintf(&b, "  %-20s "+format+"\n", append([]any{name}, args...)...)
	}
	fmt.Fprintf(&b, "%s %s, tools/call %s (protocol %s)\n", r.Mode, r.Target, r.Tool, r.ProtocolVersion)
	if r.Mode == "http" {
		row("concurrency", "%d", r.Concurrency)
		if r.Sessions > 0 {
			row("sessions", "%d", r.Sessions)
		}
	}
	row("duration", "%.2f s", r.Seconds)
	row("requests", "%d (%d ok, %d errors)", r.Requests, r.OK, r.Errors)
	row("requests/s", "%.1f", r.RequestsPerSecond)
	lat := func(name string, l Latency) {
		row(name, "p50 %s  p90 %s  p99 %s  max %s  mean %s", fmtMS(l.P50), fmtMS(l.P90), fmtMS(l.P99), fmtMS(l.Max), fmtMS(l.Mean))
	}
	lat("latency", r.Latency)
	if r.Startup != nil {
		lat(fmt.Sprintf("startup (%d runs)", r.Runs), *r.Startup)
	}
	kinds := make([]string, 0, len(r.ErrorKinds))
	for k := range r.ErrorKinds {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		row("error "+kindLabel(k), "%d", r.ErrorKinds[k])
		if ex := r.ErrorExamples[k]; ex != "" {
			fmt.Fprintf(&b, "  %-20s   first: %s\n", "", ex)
		}
	}
	if s := r.Server; s != nil {
		name := "server"
		if s.PID != 0 {
			name = fmt.Sprintf("server pid %d", s.PID)
		}
		line := fmt.Sprintf("peak RSS %s", fmtBytes(s.PeakRSSBytes))
		if s.HWMBytes > 0 {
			line += fmt.Sprintf(" (lifetime %s)", fmtBytes(s.HWMBytes))
		}
		line += fmt.Sprintf(", CPU %.2f s", s.CPUSeconds)
		row(name, "%s", line)
	}
	io.WriteString(w, b.String())
}

// kindLabel spells an error kind for people.
func kindLabel(kind string) string {
	switch {
	case strings.HasPrefix(kind, "http_"):
		return "HTTP " + strings.TrimPrefix(kind, "http_")
	case strings.HasPrefix(kind, "jsonrpc_"):
		return "JSON-RPC " + strings.TrimPrefix(kind, "jsonrpc_")
	case kind == KindTool:
		return "tool isError"
	}
	return strings.ReplaceAll(kind, "_", " ")
}

func fmtMS(v float64) string {
	if v < 10 {
		return fmt.Sprintf("%.3fms", v)
	}
	return fmt.Sprintf("%.1fms", v)
}

func fmtBytes(n int64) string {
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}
