package importer

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/2coffee/mcp-2coffee/internal/blog"
)

// source is one Markdown file to import.
type source struct {
	// root is the directory root the file was found under, which confines
	// opening it to that tree; nil for a file named as a root itself.
	root    *os.Root
	rootDir string // the root as given, when root is set
	path    string // to open: relative to root (slash-separated), or as given
	name    string // relative to its root, for Parse
	display string // for the summary: the root as given joined with name
	// mode is the type of the directory entry (not of a link's target);
	// anything but a regular file or a link is skipped without opening it.
	mode fs.FileMode
	link bool // the directory entry is a symbolic link
	// skip, when set, is no file but a directory entry found not to be
	// importable while walking; it keeps its place in the walk order.
	skip *Skip
}

// tree is the files an import reads, and the open roots they are read
// through.
type tree struct {
	files []source
	count int // files, not counting the skipped directory entries
	roots []*os.Root
	// seen holds the identity of every file opened so far (device and
	// inode where the system has them), so a file reached twice, through
	// a symbolic link or overlapping roots, is imported once.
	seen map[fileID]string
	buf  bytes.Buffer // what readFile reads into
}

func (t *tree) close() {
	for _, r := range t.roots {
		r.Close()
	}
}

// collect lists the files to import. A root that cannot be read fails the
// whole import before anything is written (it is most likely a typo); a
// directory inside a root that cannot be read is reported as skipped.
//
// Under a directory root, files are opened through an os.Root, so nothing
// outside that directory can be reached, whatever the links in it say. A
// symbolic link to a file inside the root is followed (the file is
// imported under the link's name, once however many names it has); a link
// that leads outside is skipped with a reason, as is a link to a
// directory, which is never entered (its target, when under the root, is
// walked where it is; links between directories cannot loop).
func collect(roots []string) (*tree, error) {
	t := &tree{seen: map[fileID]string{}}
	seen := map[string]bool{} // absolute paths, for overlapping roots
	add := func(src source) {
		p := src.path
		if src.root != nil {
			p = filepath.Join(src.rootDir, filepath.FromSlash(src.path))
		}
		abs, err := filepath.Abs(p)
		if err != nil {
			abs = p
		}
		if seen[abs] {
			return
		}
		seen[abs] = true
		t.files = append(t.files, src)
		t.count++
	}
	skip := func(sk Skip) { t.files = append(t.files, source{skip: &sk}) }
	for _, root := range roots {
		info, err := os.Stat(root)
		if err != nil {
			t.close()
			return nil, fmt.Errorf("import %s: %w", root, err)
		}
		if !info.IsDir() {
			// Named explicitly, so taken whatever its extension, and
			// followed if it is a link: the user chose it.
			p := filepath.ToSlash(filepath.Clean(root))
			add(source{path: root, name: p, display: p})
			continue
		}
		r, err := os.OpenRoot(root)
		if err != nil {
			t.close()
			return nil, fmt.Errorf("import %s: %w", root, err)
		}
		t.roots = append(t.roots, r)
		display := func(p string) string { return filepath.ToSlash(filepath.Join(root, filepath.FromSlash(p))) }
		err = fs.WalkDir(r.FS(), ".", func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				if p == "." {
					return err
				}
				skip(Skip{File: display(p), Reason: "cannot read: " + err.Error()})
				return nil
			}
			if p != "." && (strings.HasPrefix(d.Name(), ".") || (d.IsDir() && d.Name() == "node_modules")) {
				if d.IsDir() {
					return fs.SkipDir
				}
				return nil // editor and OS droppings such as .#post.md
			}
			if d.IsDir() {
				return nil
			}
			link := d.Type()&fs.ModeSymlink != 0
			if !isMarkdown(d.Name()) {
				if link {
					if sk, ok := directoryLink(root, r, p, display(p)); ok {
						skip(sk)
					}
				}
				return nil
			}
			add(source{root: r, rootDir: root, path: p, name: p, display: display(p), mode: d.Type(), link: link})
			return nil
		})
		if err != nil {
			t.close()
			return nil, fmt.Errorf("import %s: %w", root, err)
		}
	}
	return t, nil
}

// directoryLink reports the skip for a symbolic link at p that leads to a
// directory; ok is false for any other link (to a file that is not
// Markdown, or to nothing), which the walk passes over like any other
// such file.
func directoryLink(rootDir string, r *os.Root, p, display string) (sk Skip, ok bool) {
	// os.Stat follows the link wherever it leads; it only reads metadata.
	info, err := os.Stat(filepath.Join(rootDir, filepath.FromSlash(p)))
	if err != nil || !info.IsDir() {
		return Skip{}, false
	}
	if _, err := r.Stat(p); err == nil {
		return Skip{File: display, Benign: true, Reason: "a symbolic link to a directory under the import root: not followed (the directory is imported where it is)"}, true
	}
	return Skip{File: display, Reason: "a symbolic link to " + linkTarget(rootDir, p) + ", outside the import root: not followed (name that directory as a root to import it)"}, true
}

// linkTarget says where the link at p (relative to rootDir) leads, for a
// message.
func linkTarget(rootDir, p string) string {
	full := filepath.Join(rootDir, filepath.FromSlash(p))
	if target, err := filepath.EvalSymlinks(full); err == nil {
		return filepath.ToSlash(target)
	}
	if target, err := os.Readlink(full); err == nil {
		return filepath.ToSlash(target)
	}
	return "an unknown place"
}

// errSkip is a reason not to read a file that is about the file system,
// not the file's content.
type errSkip struct{ reason string }

func (e *errSkip) Error() string { return e.reason }

// open opens src for reading, confined to its root when it has one, and
// checks that it is a regular file no larger than any article could be,
// before a byte is read. It reports a file already opened under another
// name through dup (its display name).
//
// A FIFO, a device or a socket found in a directory is skipped from its
// directory entry, unopened: opening a FIFO waits for a writer, forever,
// and opening a device can have effects of its own. What a link or a root
// named on the command line leads to is opened with O_NONBLOCK, which
// returns at once for a FIFO, and refused from the opened file's own Stat,
// so no check can be raced by a rename between it and the open.
func (t *tree) open(src source, limit int64) (f *os.File, dup string, err error) {
	if !src.mode.IsRegular() && !src.link && src.root != nil {
		return nil, "", &errSkip{reason: notRegular(src.mode)}
	}
	if src.root == nil {
		f, err = os.OpenFile(src.path, os.O_RDONLY|openNonblock, 0)
	} else {
		f, err = src.root.OpenFile(src.path, os.O_RDONLY|openNonblock, 0)
		if err != nil && src.link {
			if f, err = t.openLink(src, err); err != nil {
				return nil, "", err
			}
		}
	}
	if err != nil {
		return nil, "", fmt.Errorf("cannot read: %w", err)
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, "", fmt.Errorf("cannot read: %w", err)
	}
	if !info.Mode().IsRegular() {
		f.Close()
		return nil, "", &errSkip{reason: notRegular(info.Mode())}
	}
	if info.Size() > limit {
		f.Close()
		if limit == maxFeedBytes {
			return nil, "", &errSkip{reason: fmt.Sprintf("the export is larger than %d MiB; split it", maxFeedBytes>>20)}
		}
		return nil, "", &errSkip{reason: fmt.Sprintf("the file is larger than %d bytes, more than any article may hold", maxFileBytes)}
	}
	if id, ok := identity(info); ok {
		if first, ok := t.seen[id]; ok {
			f.Close()
			return nil, first, nil
		}
		t.seen[id] = src.display
	}
	return f, "", nil
}

// openLink handles a link the root refused to follow: os.Root follows no
// absolute link, even one that leads back inside the root, so such a
// link is opened by its target's path inside the root (still through the
// root: if the link changes meanwhile, nothing outside can be reached).
// Any other refusal is explained.
func (t *tree) openLink(src source, openErr error) (*os.File, error) {
	full := filepath.Join(src.rootDir, filepath.FromSlash(src.path))
	target, err := filepath.EvalSymlinks(full)
	if err != nil {
		return nil, &errSkip{reason: "a broken symbolic link: " + unwrapPath(openErr).Error()}
	}
	realRoot, err := filepath.EvalSymlinks(src.rootDir)
	if err != nil {
		return nil, fmt.Errorf("cannot read: %w", openErr)
	}
	rel, err := filepath.Rel(realRoot, target)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
		return nil, &errSkip{reason: "a symbolic link to " + filepath.ToSlash(target) + ", outside the import root: not followed (name that file as a root to import it)"}
	}
	f, err := src.root.OpenFile(filepath.ToSlash(rel), os.O_RDONLY|openNonblock, 0)
	if err != nil {
		return nil, fmt.Errorf("cannot read: %w", err)
	}
	return f, nil
}

// unwrapPath drops the *PathError's path from err: the message names the
// file already.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// notRegular says what kind of file mode describes, for a skip.
func notRegular(mode fs.FileMode) string {
	kind := "not a regular file"
	switch {
	case mode.IsDir():
		kind = "a directory"
	case mode&fs.ModeNamedPipe != 0:
		kind = "a named pipe (FIFO)"
	case mode&fs.ModeSocket != 0:
		kind = "a socket"
	case mode&fs.ModeCharDevice != 0:
		kind = "a character device"
	case mode&fs.ModeDevice != 0:
		kind = "a device"
	}
	return kind + ", not a regular file: not read"
}

// readFile reads and parses one file. dup is set, and nothing read, when
// the same file was already imported under another name.
func (t *tree) readFile(src source) (a *blog.Article, info parseInfo, dup string, err error) {
	f, dup, err := t.open(src, maxFileBytes)
	if err != nil || dup != "" {
		return nil, parseInfo{}, dup, err
	}
	defer f.Close()
	// One buffer serves every file: parse copies what it keeps.
	t.buf.Reset()
	if _, err := t.buf.ReadFrom(io.LimitReader(f, maxFileBytes+1)); err != nil {
		return nil, parseInfo{}, "", fmt.Errorf("cannot read: %w", err)
	}
	a, info, err = parse(src.name, t.buf.Bytes())
	return a, info, "", err
}

// maxFeedBytes bounds an export file (WordPress, Ghost, a feed), which is
// read whole.
const maxFeedBytes = 256 << 20

// readFeed reads an export file given as a root and returns its entries.
func (t *tree) readFeed(src source) (FeedKind, []entry, string, error) {
	f, dup, err := t.open(src, maxFeedBytes)
	if err != nil || dup != "" {
		return "", nil, dup, err
	}
	defer f.Close()
	var b bytes.Buffer
	if _, err := b.ReadFrom(io.LimitReader(f, maxFeedBytes+1)); err != nil {
		return "", nil, "", fmt.Errorf("cannot read: %w", err)
	}
	if b.Len() > maxFeedBytes {
		return "", nil, "", fmt.Errorf("the export is larger than %d MiB; split it", maxFeedBytes>>20)
	}
	kind, es, err := parseFeed(src.display, b.Bytes())
	return kind, es, "", err
}

// sourcePath is where src lies in the tree it was imported from, as an
// export writes it back: relative to its root, or the file's own name for
// a file given as a root.
func sourcePath(src source) string {
	if src.root == nil {
		// A file named as a root: its path as given, when that is a plain
		// relative one (a/index.md and b/index.md stay apart); else its
		// name.
		p := path.Clean(filepath.ToSlash(src.name))
		if fs.ValidPath(p) && !strings.HasPrefix(p, "../") {
			return p
		}
		return path.Base(p)
	}
	return filepath.ToSlash(src.name)
}
