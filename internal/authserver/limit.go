package authserver

import (
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// limiter is one token bucket per client address. Buckets live in memory:
// each replica limits on its own, which bounds the total to replicas
// times the limit; the lockout, which must hold across replicas, is
// stored.
type limiter struct {
	off   bool
	limit rate.Limit
	burst int
	// full is how long a bucket takes to refill completely; an entry idle
	// that long is the same as a fresh one and can be dropped.
	full time.Duration

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	l    *rate.Limiter
	seen time.Time
	// logged is when a refusal of this bucket was last logged, and
	// quiet how many have been refused since without a line of their own.
	logged time.Time
	quiet  int
}

// refusalLogEvery is how often one address's refusals by one limit are
// logged: a flood of requests must not become a flood of log lines. The
// line says how many refusals it stands for.
const refusalLogEvery = time.Minute

// maxBuckets bounds the memory one limiter can use. A flood from more
// addresses than this resets the table: limits then fail open for a
// moment rather than the process running out of memory.
const maxBuckets = 100_000

func newLimiter(l, def Limit) *limiter {
	if l.Burst < 0 {
		return &limiter{off: true}
	}
	if l.Burst == 0 {
		l.Burst = def.Burst
	}
	if l.Interval <= 0 {
		l.Interval = def.Interval
	}
	return &limiter{
		limit:   rate.Every(l.Interval),
		burst:   l.Burst,
		full:    time.Duration(l.Burst) * l.Interval,
		buckets: map[string]*bucket{},
	}
}

// allow takes a token for key at now. When none is left it returns false
// and how long until one will be.
// allow reports whether a request keyed key may go now, and if not, how
// long to wait, whether to log the refusal, and how many refusals of the
// same key went unlogged before it.
func (l *limiter) allow(key string, now time.Time) (ok bool, wait time.Duration, log bool, quiet int) {
	if l.off {
		return true, 0, false, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[key]
	if !ok {
		if len(l.buckets) >= maxBuckets {
			l.sweep(now)
		}
		b = &bucket{l: rate.NewLimiter(l.limit, l.burst)}
		l.buckets[key] = b
	}
	b.seen = now
	res := b.l.ReserveN(now, 1)
	if d := res.DelayFrom(now); d > 0 {
		res.CancelAt(now)
		if now.Sub(b.logged) < refusalLogEvery {
			b.quiet++
			return false, d, false, 0
		}
		quiet, b.quiet, b.logged = b.quiet, 0, now
		return false, d, true, quiet
	}
	return true, 0, false, 0
}

// sweep drops buckets that have refilled, and everything if that is not
// enough.
func (l *limiter) sweep(now time.Time) {
	for k, b := range l.buckets {
		if now.Sub(b.seen) >= l.full {
			delete(l.buckets, k)
		}
	}
	if len(l.buckets) >= maxBuckets {
		clear(l.buckets)
	}
}

// limited applies the limit of endpoint to r. When the caller is over it,
// it sets Retry-After, logs, and returns true: the caller then answers
// 429 in the endpoint's own format.
func (s *site) limited(w http.ResponseWriter, r *http.Request, endpoint string) (bool, time.Duration) {
	ok, wait, log, quiet := s.limits[endpoint].allow(endpoint+" "+s.clientIP(r), s.now())
	if ok {
		return false, 0
	}
	secs := int(math.Ceil(wait.Seconds()))
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	if log {
		s.fail(r, slog.LevelWarn, "rate_limited", "limit", endpoint, "retry_after_s", secs, "unlogged_before", quiet)
	}
	return true, wait
}
