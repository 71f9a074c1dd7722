//go:build !(linux || darwin || dragonfly || freebsd || netbsd || openbsd || illumos || windows)

package tokencache

import "os"

// Platforms without flock or LockFileEx (Solaris, AIX, Plan 9, WebAssembly)
// get no cross-process lock: a refresh then relies on re-reading the entry
// before it refreshes, as it always does, which leaves a short window in
// which two processes can use one refresh token.
func tryLock(*os.File) error { return nil }

func unlock(*os.File) error { return nil }
