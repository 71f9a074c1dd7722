package importer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/2coffee/mcp-2coffee/internal/blog"
)

// Upserter writes articles, creating or replacing each by slug, all in one
// transaction: every article of a call is written, or none is. Every
// blog.Store has this method.
type Upserter interface {
	UpsertArticles(ctx context.Context, as []*blog.Article) ([]blog.UpsertOutcome, error)
}

// DefaultBatchSize is how many articles Import writes per transaction when
// Options.BatchSize is zero.
const DefaultBatchSize = 200

// Options tune Import. The zero value is ready to use.
type Options struct {
	// BatchSize is how many articles go into one transaction; 0 or less
	// means DefaultBatchSize.
	BatchSize int
	// Progress, if not nil, gets a line after every batch when the import
	// takes more than one batch.
	Progress io.Writer
	// Logger gets debug records about skipped files and batches; nil logs
	// nothing.
	Logger *slog.Logger
}

// Skip is a file (or directory) that was not imported, and why.
type Skip struct {
	File   string
	Line   int // 0 when the reason is about the whole file
	Reason string
	// Benign is set for files that are not articles by design (a Hugo
	// _index.md section page): skipping them is no failure.
	Benign bool
}

// String formats s as "file:line: reason", the shape editors and
// terminals turn into links.
func (s Skip) String() string {
	if s.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", s.File, s.Line, s.Reason)
	}
	return fmt.Sprintf("%s: %s", s.File, s.Reason)
}

// Failed counts the skipped files that are not benign.
func (s *Summary) Failed() int {
	n := 0
	for _, sk := range s.Skipped {
		if !sk.Benign {
			n++
		}
	}
	return n
}

// Summary counts what an import did.
type Summary struct {
	Files     int    // Markdown files found
	Created   int    // articles that were new
	Updated   int    // articles that replaced a different stored version
	Unchanged int    // articles equal to the stored version
	Skipped   []Skip // files that could not be imported, in walk order
}

// Write prints s for a person: the counts, then every skipped file with its
// reason.
func (s *Summary) Write(w io.Writer) {
	fmt.Fprintf(w, "%d files: %d created, %d updated, %d unchanged, %d skipped", s.Files, s.Created, s.Updated, s.Unchanged, len(s.Skipped))
	if rest := s.Files - s.Created - s.Updated - s.Unchanged - len(s.Skipped); rest > 0 {
		// The import stopped early (an error or a cancellation).
		fmt.Fprintf(w, ", %d not written", rest)
	}
	fmt.Fprintln(w)
	if len(s.Skipped) > 0 {
		fmt.Fprintln(w, "skipped:")
		for _, sk := range s.Skipped {
			fmt.Fprintf(w, "  %s\n", sk)
		}
	}
}

// source is one Markdown file to import.
type source struct {
	path    string // to open
	name    string // relative to its root, for Parse
	display string // for the summary: the root as given joined with name
}

// Import reads every Markdown file (.md, .markdown, .mdx) under roots, each
// a file or a directory, and writes the articles to dst, BatchSize at a
// time, one transaction per batch. Hidden directories and node_modules are
// not entered. Files are taken in the order of roots and, within a
// directory, in lexical order, so a run is repeatable: when two files give
// the same slug the later one is skipped.
//
// Every file is parsed before anything is written; files that cannot be
// articles end up in Summary.Skipped. When a batch fails, or ctx is
// cancelled, Import stops and returns the error with the summary so far:
// earlier batches stay committed, later ones are not begun. Importing the
// same files again reports them all unchanged.
func Import(ctx context.Context, dst Upserter, roots []string, opts Options) (*Summary, error) {
	batch := opts.BatchSize
	if batch <= 0 {
		batch = DefaultBatchSize
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	sum := &Summary{}

	files, err := collect(roots, sum, log)
	if err != nil {
		return sum, err
	}
	sum.Files = len(files)

	var articles []*blog.Article
	firstBySlug := map[string]string{}
	for _, src := range files {
		if err := ctx.Err(); err != nil {
			return sum, fmt.Errorf("import cancelled while reading files: %w", err)
		}
		a, info, err := readFile(src)
		if err != nil {
			sk := Skip{File: src.display, Reason: err.Error()}
			var pe *ParseError
			if errors.As(err, &pe) {
				sk.Line, sk.Reason = pe.Line, pe.Err.Error()
			}
			sk.Benign = errors.Is(err, ErrNotArticle)
			log.Debug("skipping file", "file", sk.File, "line", sk.Line, "reason", sk.Reason)
			sum.Skipped = append(sum.Skipped, sk)
			continue
		}
		if first, dup := firstBySlug[a.Slug]; dup {
			sk := Skip{File: src.display, Line: info.slugLine, Reason: fmt.Sprintf("slug %q is already used by %s", a.Slug, first)}
			log.Debug("skipping file", "file", sk.File, "line", sk.Line, "reason", sk.Reason)
			sum.Skipped = append(sum.Skipped, sk)
			continue
		}
		firstBySlug[a.Slug] = src.display
		articles = append(articles, a)
	}

	total := len(articles)
	for start := 0; start < total; start += batch {
		end := min(start+batch, total)
		if err := ctx.Err(); err != nil {
			return sum, fmt.Errorf("import cancelled after %d of %d articles: %w", start, total, err)
		}
		outcomes, err := dst.UpsertArticles(ctx, articles[start:end])
		if err != nil {
			return sum, fmt.Errorf("writing articles %d to %d of %d: %w", start+1, end, total, err)
		}
		if len(outcomes) != end-start {
			return sum, fmt.Errorf("writing articles %d to %d of %d: the store reported %d outcomes for %d articles", start+1, end, total, len(outcomes), end-start)
		}
		for i, o := range outcomes {
			switch o {
			case blog.Created:
				sum.Created++
			case blog.Updated:
				sum.Updated++
			case blog.Unchanged:
				sum.Unchanged++
			default:
				return sum, fmt.Errorf("writing articles %d to %d of %d: the store reported outcome %d for %q", start+1, end, total, int(o), articles[start+i].Slug)
			}
		}
		log.Debug("import batch committed", "first", start+1, "last", end, "total", total)
		if opts.Progress != nil && total > batch {
			fmt.Fprintf(opts.Progress, "imported %d/%d files\n", end, total)
		}
	}
	return sum, nil
}

// isMarkdown reports whether a file name has one of the extensions Import
// reads.
func isMarkdown(name string) bool {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".md", ".markdown", ".mdx":
		return true
	}
	return false
}

// collect lists the files to import. A root that cannot be read fails the
// whole import before anything is written (it is most likely a typo); a
// directory inside a root that cannot be read is reported as skipped.
func collect(roots []string, sum *Summary, log *slog.Logger) ([]source, error) {
	var files []source
	seen := map[string]bool{} // absolute paths, for overlapping roots
	add := func(path, name, display string) {
		abs, err := filepath.Abs(path)
		if err != nil {
			abs = path
		}
		if seen[abs] {
			return
		}
		seen[abs] = true
		files = append(files, source{path: path, name: name, display: display})
	}
	for _, root := range roots {
		info, err := os.Stat(root)
		if err != nil {
			return nil, fmt.Errorf("import %s: %w", root, err)
		}
		if !info.IsDir() {
			// Named explicitly, so taken whatever its extension.
			p := filepath.ToSlash(filepath.Clean(root))
			add(root, p, p)
			continue
		}
		err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				if p == root {
					return err
				}
				sk := Skip{File: filepath.ToSlash(p), Reason: "cannot read: " + err.Error()}
				log.Debug("skipping", "file", sk.File, "reason", sk.Reason)
				sum.Skipped = append(sum.Skipped, sk)
				return nil
			}
			if p != root && (strings.HasPrefix(d.Name(), ".") || (d.IsDir() && d.Name() == "node_modules")) {
				if d.IsDir() {
					return fs.SkipDir
				}
				return nil // editor and OS droppings such as .#post.md
			}
			if d.IsDir() || !isMarkdown(d.Name()) {
				return nil
			}
			rel, err := filepath.Rel(root, p)
			if err != nil {
				return err
			}
			add(p, filepath.ToSlash(rel), filepath.ToSlash(p))
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("import %s: %w", root, err)
		}
	}
	return files, nil
}

// readFile reads and parses one file, refusing to read more than any
// article could need.
func readFile(src source) (*blog.Article, parseInfo, error) {
	f, err := os.Open(src.path)
	if err != nil {
		return nil, parseInfo{}, fmt.Errorf("cannot read: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFileBytes+1))
	if err != nil {
		return nil, parseInfo{}, fmt.Errorf("cannot read: %w", err)
	}
	return parse(src.name, data)
}
