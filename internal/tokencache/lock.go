package tokencache

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/2coffee/mcp-2coffee/internal/filelock"
)

// DefaultLockWait is how long Lock waits for another process by default: a
// refresh is one token request, which the OAuth client gives 30 seconds.
const DefaultLockWait = time.Minute

// lockSuffix ends the name of a server's lock file, beside its entry.
const lockSuffix = ".lock"

// ErrLockBusy is returned by Lock when another process held the lock for
// the whole wait.
var ErrLockBusy = errors.New("tokencache: another mcp-2coffee process holds the token lock for this server")

// A Lock is a held per-server lock; see Store.Lock.
type Lock struct {
	l *filelock.Lock
}

// Lock takes serverURL's lock, which serialises token refreshes across
// processes: a refresh token that rotates may be used once, and an
// authorization server that sees it twice may revoke the whole grant
// (reuse detection). The holder re-reads the entry after taking the lock,
// since another process may have refreshed in the meantime, and saves
// before it unlocks.
//
// It is a filelock on a file beside the entry, so a process that dies
// releases it. Lock waits at most wait (DefaultLockWait when zero or
// negative), then returns ErrLockBusy; it returns ctx's error as soon as
// ctx ends. The lock files are never deleted.
func (s *Store) Lock(ctx context.Context, serverURL string, wait time.Duration) (*Lock, error) {
	p, err := s.Path(serverURL)
	if err != nil {
		return nil, err
	}
	if err := s.ensureDir(); err != nil {
		return nil, err
	}
	if wait <= 0 {
		wait = DefaultLockWait
	}
	l, err := filelock.Acquire(ctx, strings.TrimSuffix(p, fileSuffix)+lockSuffix, wait)
	switch {
	case errors.Is(err, filelock.ErrBusy):
		return nil, fmt.Errorf("%w (waited %s)", ErrLockBusy, wait)
	case err != nil && ctx.Err() != nil:
		return nil, ctx.Err()
	case err != nil:
		return nil, fmt.Errorf("tokencache: %w", err)
	}
	return &Lock{l: l}, nil
}

// Unlock releases the lock. It is safe to call more than once.
func (l *Lock) Unlock() error {
	if l == nil {
		return nil
	}
	return l.l.Unlock()
}
