// Package schema reads a backend's embedded migrations: the one rule for
// their names (NNNN_what.sql, versions from 1, none twice) and their order,
// which the SQLite and PostgreSQL backends share. How a migration is
// applied and recorded is each backend's own.
package schema

import (
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"
)

// Migration is one schema change: the file migrations/Name of its
// backend, at Version.
type Migration struct {
	Version int
	Name    string
}

// List returns the migrations in the directory "migrations" of fsys in
// version order. A misnamed file or two files of one version are a build
// mistake, and fail loudly.
func List(fsys fs.FS) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, "migrations")
	if err != nil {
		return nil, err
	}
	var ms []Migration
	for _, e := range entries {
		prefix, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(prefix)
		if !ok || err != nil || v <= 0 || !strings.HasSuffix(e.Name(), ".sql") {
			return nil, fmt.Errorf("migration %q: name must look like 0001_what.sql", e.Name())
		}
		ms = append(ms, Migration{Version: v, Name: e.Name()})
	}
	slices.SortFunc(ms, func(a, b Migration) int { return a.Version - b.Version })
	for i := 1; i < len(ms); i++ {
		if ms[i].Version == ms[i-1].Version {
			return nil, fmt.Errorf("migrations %q and %q share version %d", ms[i-1].Name, ms[i].Name, ms[i].Version)
		}
	}
	return ms, nil
}
