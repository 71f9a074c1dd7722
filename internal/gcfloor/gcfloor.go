// Package gcfloor lets the garbage collector wait until the process's Go
// memory reaches a floor before it collects, while the live heap is small.
//
// The Go collector starts a cycle when the heap has grown by GOGC percent
// over what the last cycle left live, and no sooner than at 4 MB. A server
// whose live heap is a few MB but which makes hundreds of KB of short-lived
// garbage per request (the go-sdk's JSON decoding, docs/BENCHMARKS.md) then
// collects hundreds of times a second, and under load that is most of what
// a request costs. Raising GOGC multiplies a large live heap too; GOGC=off
// with a fixed GOMEMLIMIT makes collections run back to back once the live
// heap nears the limit.
//
// The floor does neither. After each cycle it looks at what the cycle left:
// while the live heap grown by the base percentage, plus the runtime's
// memory outside the heap, fits under the floor, the collector runs with
// GOGC off and the floor as its memory limit; once it does not, the
// collector goes back to the base percentage with no limit, exactly as if
// the floor were not there. Collections therefore never come more often
// than the base percentage alone would make them.
package gcfloor

import (
	"fmt"
	"math"
	"math/bits"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
)

// active is the controller in charge, if any: the collector's settings
// are the process's, so only one may hold them at a time.
var (
	activeMu sync.Mutex
	active   *controller
)

// Floor applies a floor of floor bytes with base as the GOGC percentage
// above it, until the returned function is called, which restores base
// and no limit. A floor of 0, a base of 0 or less, or a floor already in
// place (a second server in one process, as in tests) changes nothing, and
// the function returned then does nothing either.
func Floor(floor uint64, base int) (stop func()) {
	if floor == 0 || base <= 0 {
		return func() {}
	}
	activeMu.Lock()
	defer activeMu.Unlock()
	if active != nil {
		return func() {}
	}
	c := &controller{floor: floor, base: base}
	active = c
	c.samples = make([]metrics.Sample, len(sampleNames))
	for i, name := range sampleNames {
		c.samples[i].Name = name
	}
	c.adjust()
	c.arm()
	var once sync.Once
	return func() {
		once.Do(func() {
			activeMu.Lock()
			defer activeMu.Unlock()
			c.mu.Lock()
			defer c.mu.Unlock()
			c.stopped = true
			debug.SetGCPercent(base)
			debug.SetMemoryLimit(math.MaxInt64)
			active = nil
		})
	}
}

var sampleNames = []string{
	"/gc/heap/live:bytes",
	"/memory/classes/total:bytes",
	"/memory/classes/heap/released:bytes",
	"/memory/classes/heap/objects:bytes",
	"/memory/classes/heap/unused:bytes",
	"/memory/classes/heap/free:bytes",
}

type controller struct {
	floor uint64
	base  int

	mu       sync.Mutex
	stopped  bool
	flooring bool // GOGC off under the floor's limit, rather than base
	samples  []metrics.Sample
	cycles   int // adjustments made
}

// sentinel is garbage the moment it is made: its cleanup runs after the
// cycle that finds it unreachable, which is how the controller hears of
// each cycle. The pointer keeps it out of the tiny allocator, whose
// objects may share a block with others and be freed late.
type sentinel struct {
	_ *int
	_ [2]uintptr
}

func (c *controller) arm() {
	runtime.AddCleanup(&sentinel{}, func(c *controller) {
		if c.adjust() {
			c.arm()
		}
	}, c)
}

// adjust chooses the mode for the next cycle from what the last one left;
// it reports false once stopped.
func (c *controller) adjust() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return false
	}
	c.cycles++
	metrics.Read(c.samples)
	var v [6]uint64
	for i := range c.samples {
		if c.samples[i].Value.Kind() == metrics.KindUint64 {
			v[i] = c.samples[i].Value.Uint64()
		}
	}
	live, total, released, objects, unused, free := v[0], v[1], v[2], v[3], v[4], v[5]
	outside := uint64(0) // stacks, the runtime's own structures, …
	if heap := released + objects + unused + free; total > heap {
		outside = total - heap
	}
	floor := Fits(live, outside, c.floor, c.base)
	if floor != c.flooring || c.cycles == 1 {
		c.flooring = floor
		if floor {
			debug.SetMemoryLimit(int64(min(c.floor, math.MaxInt64)))
			debug.SetGCPercent(-1)
		} else {
			debug.SetGCPercent(c.base)
			debug.SetMemoryLimit(math.MaxInt64)
		}
	}
	return true
}

// Fits reports whether a live heap of live bytes, grown by base percent,
// and outside bytes of runtime memory beside the heap fit under floor:
// then collecting at the floor is no more often than base would collect.
func Fits(live, outside, floor uint64, base int) bool {
	over, growth := bits.Mul64(live/100, uint64(base))
	if over != 0 {
		return false
	}
	goal, carry := bits.Add64(live, growth, 0)
	need, carry2 := bits.Add64(goal, outside, 0)
	return carry == 0 && carry2 == 0 && need <= floor
}

// ParseSize reads a size such as 20MiB, 512KiB, 1GiB or 1048576 (bytes).
// The binary units are the only ones taken: GOMEMLIMIT, which the floor
// stands beside, uses them.
func ParseSize(s string) (uint64, error) {
	num, mult := s, uint64(1)
	for _, u := range []struct {
		suffix string
		mult   uint64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"B", 1}} {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			num, mult = n, u.mult
			break
		}
	}
	n, err := strconv.ParseUint(strings.TrimSpace(num), 10, 64)
	if err != nil || (n != 0 && n*mult/mult != n) {
		return 0, fmt.Errorf("%q is not a size such as 20MiB, 512KiB or 1048576", s)
	}
	return n * mult, nil
}
