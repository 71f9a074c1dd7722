package tokencache

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"
)

// DefaultLockWait is how long Lock waits for another process by default: a
// refresh is one token request, which the OAuth client gives 30 seconds.
const DefaultLockWait = time.Minute

// lockSuffix ends the name of a server's lock file, beside its entry.
const lockSuffix = ".lock"

// ErrLockBusy is returned by Lock when another process held the lock for
// the whole wait.
var ErrLockBusy = errors.New("tokencache: another mcp-2coffee process holds the token lock for this server")

// errWouldBlock is what tryLock returns while another holder has the lock.
var errWouldBlock = errors.New("lock held elsewhere")

// A Lock is a held per-server lock; see Store.Lock.
type Lock struct {
	f *os.File
}

// Lock takes serverURL's lock, which serialises token refreshes across
// processes: a refresh token that rotates may be used once, and an
// authorization server that sees it twice may revoke the whole grant
// (reuse detection). The holder re-reads the entry after taking the lock,
// since another process may have refreshed in the meantime, and saves
// before it unlocks.
//
// It is an advisory lock held by the operating system on a file beside
// the entry (flock on Unix, LockFileEx on Windows), so a process that dies
// releases it. Lock waits at most wait (DefaultLockWait when zero or
// negative), then returns ErrLockBusy; it returns ctx's error as soon as
// ctx ends. The lock files are never deleted: removing one while another
// process waits on it would let two processes hold "the" lock.
//
// On platforms without such locks (see lock_other.go) Lock returns a Lock
// that excludes nothing.
func (s *Store) Lock(ctx context.Context, serverURL string, wait time.Duration) (*Lock, error) {
	p, err := s.Path(serverURL)
	if err != nil {
		return nil, err
	}
	if err := s.ensureDir(); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(strings.TrimSuffix(p, fileSuffix)+lockSuffix, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("tokencache: %w", err)
	}
	if wait <= 0 {
		wait = DefaultLockWait
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
			return nil, fmt.Errorf("tokencache: locking %s: %w", f.Name(), err)
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
			return nil, fmt.Errorf("%w (waited %s)", ErrLockBusy, wait)
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
