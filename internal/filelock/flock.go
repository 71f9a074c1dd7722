//go:build linux || darwin || dragonfly || freebsd || netbsd || openbsd || illumos

package filelock

import (
	"errors"
	"os"
	"syscall"
)

// tryLock takes an exclusive flock without waiting. flock locks belong to
// the open file description, so two Acquire calls in one process
// exclude each other as two processes do.
func tryLock(f *os.File) error {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		switch {
		case errors.Is(err, syscall.EINTR):
			continue
		case errors.Is(err, syscall.EWOULDBLOCK):
			return errWouldBlock
		}
		return err
	}
}

func unlock(f *os.File) error {
	return syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
}
