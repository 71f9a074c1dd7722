//go:build !linux

package loadgen

import "os"

// usage returns a reaped child's CPU seconds; its peak resident set is
// reported as 0 (unknown) outside Linux, where ru_maxrss has other units
// or does not exist.
func usage(ps *os.ProcessState) (rss int64, cpu float64) {
	if ps == nil {
		return 0, 0
	}
	return 0, (ps.UserTime() + ps.SystemTime()).Seconds()
}
