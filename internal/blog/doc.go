// Package blog holds the article domain of mcp-2coffee: articles, the rules
// they obey (slugs, size limits, page sizes), the text folding that makes
// search work with or without Vietnamese diacritics, and the Service that
// applies those rules on top of a Store and owns the page cursors.
//
// The package does no I/O of its own. The storage backends (internal/store)
// implement Store; the REST client (internal/remote) implements Articles;
// the edges (MCP tools, REST handlers) translate the errors of
// internal/errdefs that the Service returns exactly once.
package blog
