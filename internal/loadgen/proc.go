package loadgen

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"time"
)

// sampleEvery is how often /proc is read during a run: often enough to
// see a short peak, rarely enough to cost the machine nothing.
const sampleEvery = 100 * time.Millisecond

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat.
// Linux fixes it at 100 for user space on every architecture Go runs on
// there, whatever the kernel's own tick (sysconf(_SC_CLK_TCK) says the
// same, but needs cgo to ask).
const clockTicks = 100

// procSampler reads a process's memory and CPU from /proc (Linux).
type procSampler struct {
	pid        int
	startTicks int64
	begun      bool
	stats      ProcStats
}

func newProcSampler(pid int) (*procSampler, error) {
	s := &procSampler{pid: pid, stats: ProcStats{PID: pid}}
	if _, err := s.ticks(); err != nil {
		return nil, fmt.Errorf("--pid %d: %w (the server's memory and CPU are read from /proc, on Linux)", pid, err)
	}
	return s, nil
}

// begin marks the start of the measured window.
func (s *procSampler) begin() {
	var err error
	s.startTicks, err = s.ticks()
	s.begun = err == nil
	s.sample()
}

// run samples until done is closed or ctx ends, and returns what the
// process used since begin.
func (s *procSampler) run(ctx context.Context, done <-chan struct{}) *ProcStats {
	tick := time.NewTicker(sampleEvery)
	defer tick.Stop()
	for loop := true; loop; {
		select {
		case <-tick.C:
			s.sample()
		case <-done:
			loop = false
		case <-ctx.Done():
			loop = false
		}
	}
	s.sample()
	if t, err := s.ticks(); err == nil && s.begun {
		s.stats.CPUSeconds = float64(t-s.startTicks) / clockTicks
	}
	return &s.stats
}

// sample reads VmRSS and VmHWM; a process that has gone leaves the last
// values.
func (s *procSampler) sample() {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.pid))
	if err != nil {
		return
	}
	s.stats.Samples++
	if v := statusKiB(data, "VmRSS:"); v*1024 > s.stats.PeakRSSBytes {
		s.stats.PeakRSSBytes = v * 1024
	}
	if v := statusKiB(data, "VmHWM:"); v > 0 {
		s.stats.HWMBytes = v * 1024
	}
}

// statusKiB returns the value of a "Name:   123 kB" line of
// /proc/PID/status, or 0.
func statusKiB(data []byte, name string) int64 {
	for line := range bytes.SplitSeq(data, []byte("\n")) {
		if rest, ok := bytes.CutPrefix(line, []byte(name)); ok {
			f := bytes.Fields(rest)
			if len(f) > 0 {
				n, _ := strconv.ParseInt(string(f[0]), 10, 64)
				return n
			}
		}
	}
	return 0
}

// ticks returns utime+stime of /proc/PID/stat.
func (s *procSampler) ticks() (int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", s.pid))
	if err != nil {
		return 0, err
	}
	return statTicks(data)
}

// statTicks parses utime and stime, fields 14 and 15 of a stat line. The
// second field, the command name in parentheses, may itself hold spaces
// and parentheses, so the fields are counted from the last ')'.
func statTicks(data []byte) (int64, error) {
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0, fmt.Errorf("unexpected /proc stat line")
	}
	f := bytes.Fields(data[i+1:])
	// f[0] is field 3 (state), so utime is f[11] and stime f[12].
	if len(f) < 13 {
		return 0, fmt.Errorf("unexpected /proc stat line")
	}
	u, err1 := strconv.ParseInt(string(f[11]), 10, 64)
	st, err2 := strconv.ParseInt(string(f[12]), 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("unexpected /proc stat line")
	}
	return u + st, nil
}
