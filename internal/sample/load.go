package sample

import (
	"context"
	"fmt"
	"io/fs"
	"time"

	"github.com/2coffee/mcp-2coffee/internal/blog"
	"github.com/2coffee/mcp-2coffee/internal/importer"
)

// Parse returns the bundled articles, parsed exactly as an import of
// Markdown files would parse them.
func Parse() ([]*blog.Article, error) {
	names, err := fs.Glob(Articles, "articles/*.md")
	if err != nil {
		return nil, err
	}
	out := make([]*blog.Article, 0, len(names))
	for _, name := range names {
		data, err := Articles.ReadFile(name)
		if err != nil {
			return nil, err
		}
		a, err := importer.Parse(name, data)
		if err != nil {
			return nil, fmt.Errorf("sample article: %w", err)
		}
		out = append(out, a)
	}
	return out, nil
}

// Load writes the bundled articles into dst in one transaction and
// returns how many there are.
func Load(ctx context.Context, dst importer.Upserter) (int, error) {
	as, err := Parse()
	if err != nil {
		return 0, err
	}
	if _, err := dst.UpsertArticles(ctx, as, blog.Change{Actor: "sample", At: time.Now()}); err != nil {
		return 0, err
	}
	return len(as), nil
}
