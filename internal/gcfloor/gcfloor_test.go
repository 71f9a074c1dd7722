package gcfloor

import (
	"math"
	"runtime"
	"runtime/metrics"
	"testing"
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

func TestFloorCutsCollectionsOfASmallHeap(t *testing.T) {
	runtime.GC()
	without := churn(256)

	stop := Floor(64<<20, 100)
	runtime.GC() // the controller's first cycle
	if limit := read("/gc/gomemlimit:bytes"); limit != 64<<20 {
		t.Errorf("with a small live heap the memory limit is %d, want the floor %d", limit, 64<<20)
	}
	with := churn(256)
	stop()

	t.Logf("collections while allocating 256 MiB: %d without the floor, %d with a 64 MiB floor", without, with)
	if with*4 > without {
		t.Errorf("the floor cut collections from %d to %d, want at most a quarter", without, with)
	}
	if gogc, limit := read("/gc/gogc:percent"), read("/gc/gomemlimit:bytes"); gogc != 100 || limit != math.MaxInt64 {
		t.Errorf("after stop: GOGC %d and limit %d, want 100 and none", gogc, limit)
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
	runtime.GC()
	runtime.GC() // the cleanup of the first cycle's sentinel has run by the second
	if gogc, limit := read("/gc/gogc:percent"), read("/gc/gomemlimit:bytes"); gogc != 100 || limit != math.MaxInt64 {
		t.Errorf("with 48 MiB live under a 32 MiB floor: GOGC %d and limit %d, want 100 and none", gogc, limit)
	}
	runtime.KeepAlive(live)
	live = nil
	runtime.GC()
	runtime.GC()
	if limit := read("/gc/gomemlimit:bytes"); limit != 32<<20 {
		t.Errorf("once the live heap is small again the limit is %d, want the floor", limit)
	}
}

func TestOneFloorAtATime(t *testing.T) {
	stop := Floor(64<<20, 100)
	second := Floor(128<<20, 100) // does nothing
	runtime.GC()
	runtime.GC()
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
