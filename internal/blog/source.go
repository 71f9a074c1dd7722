package blog

import "context"

// Source is where an imported article came from, so an export can write
// it back where and as it was: the file's path under the imported tree,
// its front-matter format ("yaml" or "toml"), and the front matter no
// article field holds (unknown keys, a permalink), re-encoded in that
// format. The blog's files stay the source of truth; the database keeps
// what it needs to give them back.
type Source struct {
	Slug   string `json:"slug"`
	Path   string `json:"path"`   // slash-separated, relative to the imported tree
	Format string `json:"format"` // yaml or toml
	Extra  string `json:"extra,omitempty"`
	// Zone is the UTC offset ("+07:00") the file wrote its dates in; ""
	// for UTC. Times are stored in UTC; an export writes them back in it.
	Zone string `json:"zone,omitempty"`
}

// Sources keeps the Source of each imported article. A backend
// implements it beside Store.
type Sources interface {
	// SaveSources creates or replaces the source of each article (by
	// slug), in one transaction.
	SaveSources(ctx context.Context, ss []*Source) error
	// ListSources returns every stored source, by slug.
	ListSources(ctx context.Context) ([]*Source, error)
}
