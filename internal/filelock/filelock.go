// Package filelock is the one cross-process lock of mcp-2coffee: an
// advisory lock the operating system holds on a file (flock on Unix,
// LockFileEx on Windows), so a process that dies releases it. The token
// cache uses it to serialise refreshes of one server's token; the SQLite
// backend to run a first-run step in one process at a time.
package filelock

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"
)

// ErrBusy is returned by Acquire when another holder kept the lock for the
// whole wait.
var ErrBusy = errors.New("another process holds the lock")

// errWouldBlock is what tryLock returns while another holder has the lock.
var errWouldBlock = errors.New("lock held elsewhere")

// A Lock is a held lock; see Acquire.
type Lock struct {
	f *os.File
}

// Acquire takes the lock of the file at path, creating the file (mode 0600)
// if needed. It waits at most wait, then returns an error wrapping
// ErrBusy; it returns ctx's error as soon as ctx ends. Lock files are
// meant to stay: removing one while another process waits on it would let
// two processes hold "the" lock.
//
// On platforms without such locks (see other.go) Acquire returns a Lock that
// excludes nothing.
func Acquire(ctx context.Context, path string, wait time.Duration) (*Lock, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	delay := 5 * time.Millisecond
	for {
		err := tryLock(f)
		if err == nil {
			return &Lock{f: f}, nil
		}
		if !errors.Is(err, errWouldBlock) {
			f.Close()
			return nil, fmt.Errorf("locking %s: %w", path, err)
		}
		// Polling rather than a blocking call: a blocked flock cannot be
		// interrupted by a context.
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			f.Close()
			return nil, ctx.Err()
		case <-deadline.C:
			t.Stop()
			f.Close()
			return nil, fmt.Errorf("%w (waited %s)", ErrBusy, wait)
		case <-t.C:
		}
		delay = min(2*delay, 100*time.Millisecond)
	}
}

// Unlock releases the lock. It is safe to call more than once.
func (l *Lock) Unlock() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := unlock(l.f)
	if cerr := l.f.Close(); err == nil {
		err = cerr
	}
	l.f = nil
	return err
}
