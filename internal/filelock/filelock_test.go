package filelock

import (
	"context"
	"errors"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// Two holders, even in one process, exclude each other: a bounded wait
// ends in ErrBusy, a cancelled context in its error, and the lock is
// free again once released.
func TestAcquireExcludes(t *testing.T) {
	switch runtime.GOOS {
	case "linux", "darwin", "dragonfly", "freebsd", "netbsd", "openbsd", "illumos", "windows":
	default:
		t.Skipf("no file locks on %s", runtime.GOOS)
	}
	t.Parallel()
	path := filepath.Join(t.TempDir(), "x.lock")
	first, err := Acquire(t.Context(), path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Acquire(t.Context(), path, 50*time.Millisecond); !errors.Is(err, ErrBusy) {
		t.Errorf("Acquire of a held lock = %v, want ErrBusy", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(30*time.Millisecond, cancel)
	if _, err := Acquire(ctx, path, time.Minute); !errors.Is(err, context.Canceled) {
		t.Errorf("Acquire with a cancelled context = %v, want context.Canceled", err)
	}
	time.AfterFunc(30*time.Millisecond, func() { first.Unlock() })
	second, err := Acquire(t.Context(), path, 5*time.Second)
	if err != nil {
		t.Fatalf("Acquire after the holder let go: %v", err)
	}
	if err := second.Unlock(); err != nil || second.Unlock() != nil {
		t.Errorf("Unlock twice: %v", err)
	}
}
