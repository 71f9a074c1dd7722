package importer

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// FuzzParse checks that Parse never panics and that whatever it accepts is
// an article the store would accept too. The seeds are every file of the
// testdata site plus a few shapes that file trees do not hold well (BOM,
// CRLF, TOML quirks).
func FuzzParse(f *testing.F) {
	err := filepath.WalkDir(site, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(site, p)
		if err != nil {
			return err
		}
		f.Add(filepath.ToSlash(rel), data)
		return nil
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Add("post.md", []byte("\uFEFF---\r\ntitle: T\r\ndate: 2024-03-01\r\n---\r\nBody.\r\n"))
	f.Add("post.md", []byte("+++\ntitle = 'T'\ndate = 2024-03-01T10:00:00\n[author]\nname = 'A'\n+++\n"))
	f.Add("2024-03-01-x.md", []byte("---\ntitle: T\ntags: a, b\nauthors: [{name: A}, B]\nlocale: vi_VN\n---\n"))
	f.Add("x/index.md", []byte("---\nx: &a [1, 2]\ntitle: *a\n---\n"))

	f.Fuzz(func(t *testing.T, name string, data []byte) {
		a, err := Parse(name, data)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %T %v is not a *ParseError", err, err)
			}
			if pe.Line < 0 {
				t.Fatalf("negative line in %v", err)
			}
			if a != nil {
				t.Fatalf("Parse returned both an article and %v", err)
			}
			return
		}
		if err := a.Validate(); err != nil {
			t.Fatalf("Parse accepted an article that fails Validate: %v\n%+v", err, a)
		}
		// The article is already normalised: normalising again changes
		// nothing, so what the store compares is what was parsed.
		again := a.Clone()
		again.Normalize()
		if diff := cmp.Diff(a, again); diff != "" {
			t.Fatalf("Parse returned an article Normalize still changes (-parsed +normalised):\n%s", diff)
		}
	})
}
