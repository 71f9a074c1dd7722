package gcfloor

import (
	"math"
	"runtime"
	"runtime/metrics"
	"testing"
	"time"
)

// The tests here change the collector's settings, which belong to the
// whole process: none of them runs in parallel.

func TestFits(t *testing.T) {
	const mib = 1 << 20
	for _, tt := range []struct {
		live, outside, floor uint64
		base                 int
		want                 bool
	}{
		{3 * mib, 4 * mib, 20 * mib, 100, true},  // 6 + 4 <= 20
		{8 * mib, 4 * mib, 20 * mib, 100, true},  // 16 + 4 <= 20
		{9 * mib, 4 * mib, 20 * mib, 100, false}, // 18 + 4 > 20
		{3 * mib, 4 * mib, 20 * mib, 400, true},  // 15 + 4 <= 20
		{4 * mib, 4 * mib, 20 * mib, 400, false}, // 20 + 4 > 20
		{30 * mib, 0, 20 * mib, 100, false},      // a live heap above the floor
		{0, 0, 20 * mib, 100, true},              // before the first cycle
		{math.MaxUint64 / 2, 1, math.MaxUint64, 100, true},
		{math.MaxUint64 - 10, 0, math.MaxUint64, 100, false}, // the goal overflows
		{mib, math.MaxUint64, math.MaxUint64, 100, false},    // so does goal + outside
	} {
		if got := Fits(tt.live, tt.outside, tt.floor, tt.base); got != tt.want {
			t.Errorf("Fits(%d, %d, %d, %d) = %v, want %v", tt.live, tt.outside, tt.floor, tt.base, got, tt.want)
		}
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]uint64{
		"0": 0, "1048576": 1 << 20, "20MiB": 20 << 20, "512KiB": 512 << 10, "1GiB": 1 << 30, "64B": 64, " 3MiB": 3 << 20,
	} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v, want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "MiB", "20MB", "20mb", "-1MiB", "1.5MiB", "20 GB", "99999999999GiB"} {
		if got, err := ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q) = %d, want an error", in, got)
		}
	}
}

func read(name string) uint64 {
	s := []metrics.Sample{{Name: name}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

var sink []byte

// churn allocates n MiB of garbage, 32 KiB at a time (what the go-sdk's
// decoders make), and returns how many collections ran meanwhile.
func churn(n int) uint64 {
	before := read("/gc/cycles/total:gc-cycles")
	for range n * 32 {
		sink = make([]byte, 32<<10)
	}
	sink = nil
	return read("/gc/cycles/total:gc-cycles") - before
}

// The floor's effect, read where the runtime keeps it: the heap goal the
// collector works to. Counting collections would say the same on an idle
// machine, but on a busy one a cycle that cannot get the CPU counts what
// was allocated while it ran as live, and the counts say little.
func TestFloorRaisesTheHeapGoalOfASmallHeap(t *testing.T) {
	runtime.GC()
	without := read("/gc/heap/goal:bytes")
	cyclesWithout := churn(64)

	stop := Floor(64<<20, 100)
	runtime.GC() // the controller's first cycle
	runtime.GC()
	with := read("/gc/heap/goal:bytes")
	if limit := read("/gc/gomemlimit:bytes"); limit != 64<<20 {
		t.Errorf("with a small live heap the memory limit is %d, want the floor %d", limit, 64<<20)
	}
	cyclesWith := churn(64)
	stop()

	t.Logf("heap goal %d KiB without the floor, %d KiB with a 64 MiB floor; collections while allocating 64 MiB: %d and %d",
		without>>10, with>>10, cyclesWithout, cyclesWith)
	if without >= 16<<20 {
		t.Fatalf("the goal without a floor is %d, so the live heap is not small and the test says nothing", without)
	}
	if with < 32<<20 {
		t.Errorf("the heap goal under a 64 MiB floor is %d, want most of the floor", with)
	}
	runtime.GC()
	if gogc, limit, goal := read("/gc/gogc:percent"), read("/gc/gomemlimit:bytes"), read("/gc/heap/goal:bytes"); gogc != 100 || limit != math.MaxInt64 || goal >= 16<<20 {
		t.Errorf("after stop: GOGC %d, limit %d, goal %d; want 100, none and a small goal again", gogc, limit, goal)
	}
}

// A live heap the floor cannot hold with room to spare is collected as
// the base percentage alone would: no limit to collect against back to
// back.
func TestFloorStepsAsideForALargeLiveHeap(t *testing.T) {
	stop := Floor(32<<20, 100)
	defer stop()
	live := make([][]byte, 48) // 48 MiB that stays reachable
	for i := range live {
		live[i] = make([]byte, 1<<20)
	}
	settle(t)
	if gogc, limit := read("/gc/gogc:percent"), read("/gc/gomemlimit:bytes"); gogc != 100 || limit != math.MaxInt64 {
		t.Errorf("with 48 MiB live under a 32 MiB floor: GOGC %d and limit %d, want 100 and none", gogc, limit)
	}
	runtime.KeepAlive(live)
	live = nil
	settle(t)
	if limit := read("/gc/gomemlimit:bytes"); limit != 32<<20 {
		t.Errorf("once the live heap is small again the limit is %d, want the floor", limit)
	}
}

// settle runs a collection and waits until the controller has adjusted
// to it: cleanups run on a goroutine of their own, after the cycle.
func settle(t *testing.T) {
	t.Helper()
	activeMu.Lock()
	c := active
	activeMu.Unlock()
	if c == nil {
		t.Fatal("no floor in place")
	}
	c.mu.Lock()
	before := c.cycles
	c.mu.Unlock()
	runtime.GC()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c.mu.Lock()
		n := c.cycles
		c.mu.Unlock()
		if n > before {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the controller did not hear of the collection within 10 s")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestOneFloorAtATime(t *testing.T) {
	stop := Floor(64<<20, 100)
	second := Floor(128<<20, 100) // does nothing
	settle(t)
	if limit := read("/gc/gomemlimit:bytes"); limit != 64<<20 {
		t.Errorf("limit %d, want the first floor's", limit)
	}
	second()
	if limit := read("/gc/gomemlimit:bytes"); limit != 64<<20 {
		t.Errorf("the second floor's stop changed the limit to %d", limit)
	}
	stop()
	stop() // twice is harmless
	if limit := read("/gc/gomemlimit:bytes"); limit != math.MaxInt64 {
		t.Errorf("after stop the limit is %d", limit)
	}
}
