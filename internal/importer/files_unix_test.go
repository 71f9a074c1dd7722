//go:build unix

package importer

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// symlink makes a symbolic link at root/name pointing to target.
func symlink(t *testing.T, target, root, name string) {
	t.Helper()
	if err := os.Symlink(target, filepath.Join(root, filepath.FromSlash(name))); err != nil {
		t.Fatal(err)
	}
}

// TestImportSymlinks: links that lead inside the import root are followed,
// each file imported once; links that lead outside it (a private file, a
// device, /proc, /etc) are skipped with a reason and never read, and links
// to directories are not entered.
func TestImportSymlinks(t *testing.T) {
	t.Parallel()
	base := writeTree(t, map[string]string{
		"outside/private.md":   "---\ntitle: Private\ndate: 2024-01-01\n---\nSecret.\n",
		"outside/more/x.md":    "---\ntitle: Outside dir\ndate: 2024-01-01\n---\n",
		"root/posts/real.md":   "---\ntitle: Real\ndate: 2024-01-02\n---\n",
		"root/notes/draft.txt": "---\ntitle: Linked inside\ndate: 2024-01-03\n---\n",
		"root/notes/abs.txt":   "---\ntitle: Absolute inside\ndate: 2024-01-04\n---\n",
	})
	root := filepath.Join(base, "root")
	symlink(t, "../outside/private.md", root, "linked.md")
	symlink(t, "/dev/zero", root, "zero.md")
	symlink(t, "/proc/self/environ", root, "environ.md")
	symlink(t, "/etc/passwd", root, "passwd.md")
	symlink(t, "notes/draft.txt", root, "linked-inside.md")
	symlink(t, filepath.Join(root, "notes", "abs.txt"), root, "abs-inside.md")
	symlink(t, "posts/real.md", root, "alias.md") // real.md is walked too
	symlink(t, "../outside/more", root, "dirlink")
	symlink(t, "posts", root, "posts-alias")
	symlink(t, "loop.md", root, "loop.md")
	symlink(t, "nothing.md", root, "dangling.md")

	store := newMemStore()
	sum, err := Import(context.Background(), store, []string{root}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	disp := func(name string) string { return filepath.ToSlash(filepath.Join(root, name)) }
	real := func(p string) string {
		r, err := filepath.EvalSymlinks(p)
		if err != nil {
			t.Fatal(err)
		}
		return filepath.ToSlash(r)
	}
	outside := func(target string) string {
		return "a symbolic link to " + target + ", outside the import root: not followed (name that file as a root to import it)"
	}
	// In walk order; posts/real.md comes after alias.md, the link that
	// already imported it.
	want := &Summary{Files: 10, Created: 3, Skipped: []Skip{
		{File: disp("dangling.md"), Reason: "a broken symbolic link: no such file or directory"},
		{File: disp("dirlink"), Reason: "a symbolic link to " + real(filepath.Join(base, "outside", "more")) + ", outside the import root: not followed (name that directory as a root to import it)"},
		{File: disp("environ.md"), Reason: outside(real("/proc/self/environ"))},
		{File: disp("linked.md"), Reason: outside(real(filepath.Join(base, "outside", "private.md")))},
		{File: disp("loop.md"), Reason: "a broken symbolic link: too many levels of symbolic links"},
		{File: disp("passwd.md"), Reason: outside("/etc/passwd")},
		{File: disp("posts/real.md"), Benign: true, Reason: "the same file as " + disp("alias.md") + " (a symbolic link or a second root leads to it)"},
		{File: disp("posts-alias"), Benign: true, Reason: "a symbolic link to a directory under the import root: not followed (the directory is imported where it is)"},
		{File: disp("zero.md"), Reason: outside("/dev/zero")},
	}}
	if diff := cmp.Diff(want, sum); diff != "" {
		t.Errorf("summary (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"abs-inside", "alias", "linked-inside"}, store.slugs()); diff != "" {
		t.Errorf("stored (-want +got):\n%s", diff)
	}
	for _, a := range store.articles {
		if strings.Contains(a.Body, "Secret") || a.Title == "Private" || a.Title == "Outside dir" {
			t.Errorf("imported %q from outside the root", a.Title)
		}
	}

	// Named as a root itself, the outside file is the user's choice.
	sum, err = Import(context.Background(), store, []string{filepath.Join(root, "linked.md")}, Options{})
	if err != nil || sum.Created != 1 {
		t.Errorf("importing the link by name: %+v, %v; want it created", sum, err)
	}
}

// TestImportDeviceNamedAsRoot: a device named on the command line is
// refused from its metadata, before a byte of it is read.
func TestImportDeviceNamedAsRoot(t *testing.T) {
	t.Parallel()
	sum, err := Import(context.Background(), newMemStore(), []string{"/dev/zero"}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := &Summary{Files: 1, Skipped: []Skip{{File: "/dev/zero", Reason: "a character device, not a regular file: not read"}}}
	if diff := cmp.Diff(want, sum); diff != "" {
		t.Errorf("summary (-want +got):\n%s", diff)
	}
}

// TestImportFIFO: a named pipe called post.md, found in a directory,
// reached through a link or named as a root, is skipped without waiting
// for a writer that never comes; the rest is imported.
func TestImportFIFO(t *testing.T) {
	t.Parallel()
	root := writeTree(t, posts(2))
	fifo := filepath.Join(root, "pipe.md")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	symlink(t, "pipe.md", root, "to-pipe.md")
	named := filepath.Join(t.TempDir(), "named.md")
	if err := syscall.Mkfifo(named, 0o644); err != nil {
		t.Fatal(err)
	}

	type result struct {
		sum *Summary
		err error
	}
	done := make(chan result, 1)
	store := newMemStore()
	go func() {
		sum, err := Import(context.Background(), store, []string{root, fifo, named}, Options{})
		done <- result{sum, err}
	}()
	var got result
	select {
	case got = <-done:
	case <-time.After(30 * time.Second):
		// Open the write end so the stuck open returns and the test
		// process can end.
		for _, p := range []string{fifo, named} {
			if w, err := os.OpenFile(p, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
				w.Close()
			}
		}
		t.Fatal("Import is still waiting on the FIFO after 30s")
	}
	if got.err != nil {
		t.Fatal(got.err)
	}
	const reason = "a named pipe (FIFO), not a regular file: not read"
	disp := func(name string) string { return filepath.ToSlash(filepath.Join(root, name)) }
	// The FIFO named as a root after root is the same path as
	// root/pipe.md: counted once.
	want := &Summary{Files: 5, Created: 2, Skipped: []Skip{
		{File: disp("pipe.md"), Reason: reason},
		{File: disp("to-pipe.md"), Reason: reason},
		{File: filepath.ToSlash(named), Reason: reason},
	}}
	if diff := cmp.Diff(want, got.sum); diff != "" {
		t.Errorf("summary (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"p01", "p02"}, store.slugs()); diff != "" {
		t.Errorf("stored (-want +got):\n%s", diff)
	}
}
