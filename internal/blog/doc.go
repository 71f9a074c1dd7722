// Package blog holds the domain of mcp-2coffee: articles, the rules they
// obey (slugs, size limits, page sizes), the errors every layer shares, the
// text folding that makes search work with or without Vietnamese diacritics,
// and the Service that applies those rules on top of a Store.
//
// The package does no I/O of its own. Adapters (SQLite, PostgreSQL, the REST
// client) implement Store or Articles; edges (MCP tools, REST handlers)
// translate the errors defined here exactly once.
package blog
