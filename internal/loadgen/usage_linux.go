package loadgen

import (
	"os"
	"syscall"
)

// usage returns a reaped child's peak resident set (ru_maxrss, which
// Linux gives in KiB, and which covers the descendants it reaped, so a
// launcher such as npx counts its server) and its CPU seconds.
func usage(ps *os.ProcessState) (rss int64, cpu float64) {
	if ps == nil {
		return 0, 0
	}
	if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
		rss = ru.Maxrss * 1024
	}
	return rss, (ps.UserTime() + ps.SystemTime()).Seconds()
}
