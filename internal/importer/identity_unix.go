//go:build unix

package importer

import (
	"io/fs"
	"syscall"
)

// fileID identifies a file whatever name it was opened by.
type fileID struct{ dev, ino uint64 }

func identity(info fs.FileInfo) (fileID, bool) {
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok {
		return fileID{}, false
	}
	return fileID{dev: uint64(st.Dev), ino: uint64(st.Ino)}, true
}
