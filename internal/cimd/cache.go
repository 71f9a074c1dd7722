package cimd

import (
	"container/list"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// cache maps a client_id URL to its document (or, when failure caching is
// on, its error) until an expiry time. It holds at most size entries and
// evicts the least recently stored first. The zero value is empty and
// ready; size must be set before use.
type cache struct {
	mu      sync.Mutex
	size    int
	entries map[string]*list.Element // of *cacheEntry
	order   list.List                // front: stored longest ago
}

type cacheEntry struct {
	key     string
	doc     *Document
	err     error
	expires time.Time
}

// get returns the entry for key if it is still fresh at now.
func (c *cache) get(key string, now time.Time) (doc *Document, err error, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.entries[key]
	if !ok {
		return nil, nil, false
	}
	e := el.Value.(*cacheEntry)
	if !now.Before(e.expires) {
		c.order.Remove(el)
		delete(c.entries, key)
		return nil, nil, false
	}
	return e.doc, e.err, true
}

// put stores doc or err for key until expires, evicting the oldest entries
// beyond the size bound.
func (c *cache) put(key string, doc *Document, err error, expires time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries = make(map[string]*list.Element)
	}
	if el, ok := c.entries[key]; ok {
		c.order.Remove(el)
	}
	c.entries[key] = c.order.PushBack(&cacheEntry{key: key, doc: doc, err: err, expires: expires})
	for c.order.Len() > c.size {
		oldest := c.order.Front()
		c.order.Remove(oldest)
		delete(c.entries, oldest.Value.(*cacheEntry).key)
	}
}

// remove forgets key, so a document the server now marks no-store does not
// linger from an earlier fetch.
func (c *cache) remove(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.entries[key]; ok {
		c.order.Remove(el)
		delete(c.entries, key)
	}
}

// len is for tests.
func (c *cache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}

// ttlPolicy is the cache-lifetime configuration of a Fetcher, defaults
// applied.
type ttlPolicy struct {
	min, def, max time.Duration
}

// lifetime returns how long a 200 response with headers h, received at
// now, may be reused; ok is false when it must not be stored at all.
//
// Draft §4.4: the server SHOULD respect HTTP caching (RFC 9111) and MAY
// bound the lifetime. So: no-store and no-cache are never stored (we do not
// revalidate, and no-cache forbids reuse without it); otherwise the
// freshness lifetime of RFC 9111 §4.2.1 (max-age, else Expires − Date),
// less the Age the response already has (§4.2.3), clamped to [min, max];
// without either header, def. s-maxage is for shared caches, which this is
// not.
func (p ttlPolicy) lifetime(h http.Header, now time.Time) (ttl time.Duration, ok bool) {
	cc := parseCacheControl(h.Values("Cache-Control"))
	if cc.noStore || cc.noCache {
		return 0, false
	}
	switch {
	case cc.hasMaxAge:
		ttl = cc.maxAge
	case len(h.Values("Expires")) > 0:
		// RFC 9111 §5.3: an Expires that does not parse means "already
		// expired"; the first of several is the one that counts.
		if exp, err := http.ParseTime(h.Values("Expires")[0]); err == nil {
			date := now
			if d, err := http.ParseTime(h.Get("Date")); err == nil {
				date = d
			}
			ttl = exp.Sub(date)
		}
	default:
		ttl = p.def
	}
	if cc.hasMaxAge || len(h.Values("Expires")) > 0 {
		if age, err := strconv.ParseUint(strings.TrimSpace(h.Get("Age")), 10, 32); err == nil {
			ttl -= time.Duration(age) * time.Second
		}
	}
	ttl = max(ttl, p.min)
	ttl = min(ttl, p.max)
	return ttl, ttl > 0
}

type cacheControl struct {
	noStore, noCache bool
	hasMaxAge        bool
	maxAge           time.Duration
}

// parseCacheControl reads the directives that matter here from every
// Cache-Control field line. Names are case-insensitive (RFC 9111 §5.2);
// the first max-age counts (§4.2.1); a max-age that is not a plain number
// makes the response stale.
func parseCacheControl(values []string) cacheControl {
	var cc cacheControl
	for _, v := range values {
		for d := range strings.SplitSeq(v, ",") {
			name, arg, _ := strings.Cut(strings.TrimSpace(d), "=")
			switch strings.ToLower(strings.TrimSpace(name)) {
			case "no-store":
				cc.noStore = true
			case "no-cache":
				// A qualified no-cache="field" only restricts those
				// fields, but treating it as plain no-cache errs on the
				// safe side.
				cc.noCache = true
			case "max-age":
				if cc.hasMaxAge {
					continue
				}
				cc.hasMaxAge = true
				cc.maxAge = parseDeltaSeconds(strings.Trim(strings.TrimSpace(arg), `"`))
			}
		}
	}
	return cc
}

// parseDeltaSeconds reads RFC 9111 §1.2.2 delta-seconds; anything else is
// 0. Values too large saturate, as §1.2.2 allows (the lifetime is clamped
// later anyway).
func parseDeltaSeconds(s string) time.Duration {
	if s == "" || strings.Trim(s, "0123456789") != "" {
		return 0
	}
	n, err := strconv.ParseUint(s, 10, 31)
	if err != nil {
		n = 1<<31 - 1
	}
	return time.Duration(n) * time.Second
}
