//go:build unix

package importer

import "syscall"

// openNonblock makes opening a FIFO return at once instead of waiting for
// a writer. Reads of regular files ignore it.
const openNonblock = syscall.O_NONBLOCK
