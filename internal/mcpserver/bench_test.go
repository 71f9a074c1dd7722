package mcpserver

import "testing"

// BenchmarkNew is building the server once its schemas are cached: what
// a New after the first in a process costs (the first also infers and
// resolves every tool's schemas).
func BenchmarkNew(b *testing.B) {
	for b.Loop() {
		New(nil, Options{})
	}
}
