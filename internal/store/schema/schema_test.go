package schema

import (
	"strings"
	"testing"
	"testing/fstest"
)

func TestList(t *testing.T) {
	t.Parallel()
	files := func(names ...string) fstest.MapFS {
		m := fstest.MapFS{}
		for _, n := range names {
			m["migrations/"+n] = &fstest.MapFile{Data: []byte("SELECT 1;")}
		}
		return m
	}
	ms, err := List(files("0010_later.sql", "0002_b.sql", "0001_a.sql"))
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 3 || ms[0] != (Migration{1, "0001_a.sql"}) || ms[1].Version != 2 || ms[2].Version != 10 {
		t.Errorf("List = %+v, want versions 1, 2, 10 in order", ms)
	}
	for _, bad := range [][]string{
		{"0001_a.sql", "0001_again.sql"},
		{"first.sql"},
		{"0000_zero.sql"},
		{"0003_notes.txt"},
	} {
		if _, err := List(files(bad...)); err == nil || !strings.Contains(err.Error(), "migration") {
			t.Errorf("List(%q) = %v, want a build mistake reported", bad, err)
		}
	}
}
