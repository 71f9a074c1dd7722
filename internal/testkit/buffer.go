// Package testkit holds the small helpers that tests in several packages
// share. Only _test.go files import it.
package testkit

import (
	"bytes"
	"sync"
)

// Buffer is a bytes.Buffer that concurrent writers (a logger, a process's
// stderr, a relay's stdout) may write while a test reads it. The zero
// value is ready to use. Close does nothing, so a Buffer can stand where an
// io.WriteCloser is wanted.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Close does nothing.
func (b *Buffer) Close() error { return nil }
