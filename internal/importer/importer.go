package importer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/2coffee/mcp-2coffee/internal/blog"
)

// Upserter writes articles, creating or replacing each by slug, all in one
// transaction: every article of a call is written, or none is. Every
// blog.Store has this method.
type Upserter interface {
	UpsertArticles(ctx context.Context, as []*blog.Article, c blog.Change) ([]blog.UpsertOutcome, error)
}

// DefaultBatchSize is how many articles Import writes per transaction when
// Options.BatchSize is zero.
const DefaultBatchSize = 200

// Options tune Import. The zero value is ready to use.
type Options struct {
	// BatchSize is how many articles go into one transaction; 0 or less
	// means DefaultBatchSize.
	BatchSize int
	// Progress, if not nil, gets a line after every batch when there are
	// more files than one batch holds.
	Progress io.Writer
	// Logger gets debug records about skipped files and batches; nil logs
	// nothing.
	Logger *slog.Logger
	// Pages says what becomes of the pages (not posts) of a WordPress or
	// Ghost export: skipped (false, the default), or imported as
	// articles tagged "page".
	Pages bool
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

// Import reads every Markdown file (.md, .markdown, .mdx) under roots, each
// a file or a directory, and writes the articles to dst, BatchSize at a
// time, one transaction per batch. Hidden directories and node_modules are
// not entered. Files are taken in the order of roots and, within a
// directory, in lexical order, so a run is repeatable: when two files give
// the same slug the later one is skipped.
//
// Only regular files are read. Under a directory root nothing outside it
// is reached: a symbolic link is followed only to a file inside the root,
// never to a directory, and a file with several names there is imported
// once, under the first in walk order. A link that leads outside is
// skipped with the reason; a file named as a root is read wherever it is.
//
// Files are read as they are written, a batch at a time, so memory holds
// one batch of articles, not the tree; files that cannot be articles end
// up in Summary.Skipped, and a slug seen earlier in the run is still a
// duplicate. When a batch fails, or ctx is cancelled, Import stops and
// returns the error with the summary so far: earlier batches stay
// committed, the failed one is not written (a transaction), later ones
// are not begun. Importing the same files again reports them all
// unchanged. Progress, when the files outnumber a batch, gets a line
// "imported N/M files" after every batch: N files read (imported or
// skipped) of the M found.
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

	t, err := collect(roots)
	if err != nil {
		return sum, err
	}
	defer t.close()
	sum.Files = t.count

	// Only the batch being filled holds articles; what is remembered of
	// the whole tree is each slug's first file, to catch duplicates.
	pending := make([]*blog.Article, 0, min(batch, t.count))
	// Where each pending article came from, saved with its batch when
	// dst keeps sources (every store.Backend does).
	sources := make([]*blog.Source, 0, min(batch, t.count))
	keeper, keepsSources := dst.(blog.Sources)
	firstBySlug := map[string]string{}
	done, written := 0, 0 // files read (imported or skipped), articles sent
	flush := func() error {
		if len(pending) == 0 {
			return nil
		}
		first, last := written+1, written+len(pending)
		outcomes, err := dst.UpsertArticles(ctx, pending, blog.Change{Actor: "import", At: time.Now()})
		if err != nil {
			return fmt.Errorf("writing articles %d to %d: %w", first, last, err)
		}

		if len(outcomes) != len(pending) {
			return fmt.Errorf("writing articles %d to %d: the store reported %d outcomes for %d articles", first, last, len(outcomes), len(pending))
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
				return fmt.Errorf("writing articles %d to %d: the store reported outcome %d for %q", first, last, int(o), pending[i].Slug)
			}
		}
		written = last
		if keepsSources {
			// The batch is committed and counted; where its articles came
			// from follows it even when the import is being stopped.
			if err := keeper.SaveSources(context.WithoutCancel(ctx), sources); err != nil {
				return fmt.Errorf("recording where articles %d to %d came from: %w", first, last, err)
			}
		}
		clear(pending) // let the bodies go before the next batch is read
		pending = pending[:0]
		clear(sources)
		sources = sources[:0]
		log.Debug("import batch committed", "first", first, "last", last, "files_read", done, "files", sum.Files)
		if opts.Progress != nil && sum.Files > batch {
			fmt.Fprintf(opts.Progress, "imported %d/%d files\n", done, sum.Files)
		}
		return nil
	}
	skip := func(sk Skip) {
		log.Debug("skipping", "file", sk.File, "line", sk.Line, "reason", sk.Reason)
		sum.Skipped = append(sum.Skipped, sk)
	}

	for _, src := range t.files {
		if err := ctx.Err(); err != nil {
			return sum, fmt.Errorf("import cancelled after %d of %d files: %w", done, sum.Files, err)
		}
		if src.skip != nil {
			skip(*src.skip)
			continue
		}
		done++
		if src.root == nil && isFeedFile(src.name) {
			// An export (WordPress, Ghost, a feed) named as a root: its
			// entries are articles, each named in the summary.
			kind, es, dup, err := t.readFeed(src)
			switch {
			case dup != "":
				skip(Skip{File: src.display, Benign: true, Reason: "the same file as " + dup})
			case err != nil:
				skip(Skip{File: src.display, Reason: err.Error()})
			}
			if err == nil && dup == "" && len(es) > 0 {
				log.Debug("reading an export", "file", src.display, "kind", kind, "entries", len(es))
				sum.Files += len(es) - 1 // its entries, not the file, are counted
			}
			for _, e := range es {
				switch {
				case e.page && !opts.Pages:
					skip(Skip{File: e.name, Benign: true, Reason: "a page, not a post (import pages with --pages)"})
				case e.err != nil:
					skip(Skip{File: e.name, Reason: e.err.Error()})
				case firstBySlug[e.a.Slug] != "":
					skip(Skip{File: e.name, Reason: fmt.Sprintf("slug %q is already used by %s", e.a.Slug, firstBySlug[e.a.Slug])})
				default:
					firstBySlug[e.a.Slug] = e.name
					pending = append(pending, e.a)
					sources = append(sources, e.src)
				}
				if len(pending) == batch {
					if err := flush(); err != nil {
						return sum, err
					}
				}
			}
			continue
		}
		a, info, dup, err := t.readFile(src)
		switch {
		case dup != "":
			skip(Skip{File: src.display, Benign: true, Reason: "the same file as " + dup + " (a symbolic link or a second root leads to it)"})
		case err != nil:
			sk := Skip{File: src.display, Reason: err.Error()}
			var pe *ParseError
			if errors.As(err, &pe) {
				sk.Line, sk.Reason = pe.Line, pe.Err.Error()
			}
			sk.Benign = errors.Is(err, ErrNotArticle)
			skip(sk)
		case firstBySlug[a.Slug] != "":
			skip(Skip{File: src.display, Line: info.slugLine, Reason: fmt.Sprintf("slug %q is already used by %s", a.Slug, firstBySlug[a.Slug])})
		default:
			firstBySlug[a.Slug] = src.display
			pending = append(pending, a)
			sources = append(sources, &blog.Source{Slug: a.Slug, Path: sourcePath(src), Format: info.format, Extra: info.extra, Zone: info.zone})
		}
		if len(pending) == batch {
			if err := flush(); err != nil {
				return sum, err
			}
		}
	}
	if err := ctx.Err(); err != nil {
		return sum, fmt.Errorf("import cancelled after %d of %d files: %w", done, sum.Files, err)
	}
	return sum, flush()
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
