//go:build !(linux || darwin || dragonfly || freebsd || netbsd || openbsd || illumos || windows)

package filelock

import "os"

// Platforms without flock or LockFileEx (Solaris, AIX, Plan 9, WebAssembly)
// get no cross-process lock. The token cache then relies on re-reading an
// entry before it refreshes, which leaves a short window in which two
// processes can use one refresh token; two processes starting on one new
// SQLite file may both create a first-run admin key.
func tryLock(*os.File) error { return nil }

func unlock(*os.File) error { return nil }
