//go:build !unix

package importer

// openNonblock is 0 where the system has no FIFOs that block on open.
const openNonblock = 0
