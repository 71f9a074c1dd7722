// Package mcpserver builds the blog's MCP server — tools, resources,
// prompts and completions — on the official go-sdk, over any blog.Articles.
// The same *mcp.Server definition serves stdio, Streamable HTTP and (through
// the remote package) a blog that lives elsewhere.
package mcpserver

import (
	"context"
	"log/slog"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/2coffee/mcp-2coffee/internal/authn"
	"github.com/2coffee/mcp-2coffee/internal/blog"
)

// Options configure New. The zero value is useful.
type Options struct {
	// Version is reported in serverInfo; "dev" when empty.
	Version string
	// Logger receives the go-sdk's and the tools' diagnostics. Nil discards.
	Logger *slog.Logger
	// Principal returns the caller of a request. Nil means
	// authn.FromContext, which the HTTP middleware fills; the stdio server
	// passes a function returning authn.Local.
	Principal func(context.Context) *authn.Principal
	// ReadOnly leaves out every tool that needs more than articles:read.
	ReadOnly bool
	// Stateless says no session outlives its request (serve's stateless
	// Streamable HTTP with JSON responses, where replicas share nothing):
	// a notification has no stream to reach the client on, so the server
	// neither advertises listChanged nor sends it.
	Stateless bool
	// OnToolCall, when set, is told each tool call's name and outcome
	// ("ok", "user_error", "unavailable", "cancelled", "error") for metrics.
	OnToolCall func(tool, outcome string)
}

// Name is the server's name in serverInfo.
const Name = "mcp-2coffee"

// Instructions tell a model how to use the server well. They are part of
// the public surface and covered by the schema snapshot test.
const Instructions = `This server gives access to the articles of a programming blog (English and Vietnamese).

How to use it well:
- To answer a question from the blog, call search_articles first with a few distinctive words (not a whole sentence). Search ignores case and Vietnamese diacritics: "ca phe" finds "cà phê". Put a phrase in double quotes; end a word with * to match its prefix. If no article holds every word, results that hold any word are returned and "relaxed" is true.
- Then call get_article with a slug from the results to read the full Markdown before quoting or summarising it. Cite articles by title and slug.
- list_articles pages through articles newest first and filters by tag or language ("en", "vi"); list_tags shows the topics the blog covers.
- Pass next_cursor back as cursor to get the next page; never invent cursors.
- Articles are also resources at blog://articles/{slug}.
- create_article, update_article and delete_article change the blog; they need write permission. Only use them when the user asked for that change, and confirm before deleting.
- Nothing is lost: delete_article moves an article to the trash (restore_article brings it back), and every change keeps a revision; list_revisions, get_revision and restore_revision undo a change. A publish_at in the future schedules an article: readers see it from then.`

// New returns the MCP server for articles.
func New(articles blog.Articles, opts Options) *mcp.Server {
	return newServer(articles, opts, tools())
}

// newServer is New with the tool table given, so tests can prove what
// the server does with an entry the real table must never hold.
func newServer(articles blog.Articles, opts Options, table []tool) *mcp.Server {
	if opts.Version == "" {
		opts.Version = "dev"
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Principal == nil {
		opts.Principal = authn.FromContext
	}
	h := &handlers{articles: articles, opts: opts}
	s := mcp.NewServer(&mcp.Implementation{
		Name:    Name,
		Title:   "2coffee blog",
		Version: opts.Version,
	}, &mcp.ServerOptions{
		Instructions:      Instructions,
		Logger:            opts.Logger,
		CompletionHandler: h.complete,
		SetCacheable:      setCacheable,
		Capabilities:      capabilities(!opts.ReadOnly && !opts.Stateless),
	})
	s.AddReceivingMiddleware(h.onlyTable(h.addTools(s, table)))
	h.addResources(s)
	h.addPrompts(s)
	return s
}

// capabilities advertises only the notifications the server sends. Tools
// and prompts are fixed for the life of a process, so their lists never
// change. The resource list is the articles: it changes with every write
// tool call, which announces it when announce is set (see
// handlers.articlesChanged). A read-only server has no write tools, and a
// stateless one no stream to announce on. Logging is the go-sdk's default
// capability, kept.
func capabilities(announce bool) *mcp.ServerCapabilities {
	return &mcp.ServerCapabilities{
		Logging:   &mcp.LoggingCapabilities{},
		Tools:     &mcp.ToolCapabilities{ListChanged: false},
		Prompts:   &mcp.PromptCapabilities{ListChanged: false},
		Resources: &mcp.ResourceCapabilities{ListChanged: announce},
	}
}

// Cache hints (protocol 2026-07-28): the lists of tools, prompts and
// templates change only with a new server version, so any cache may keep
// them a while; articles change at any time and what a caller may read
// depends on who it is (drafts), so only the caller's own client may keep
// them, briefly.
var (
	surfaceCache  = mcp.Cacheable{TTLMs: 5 * 60 * 1000, CacheScope: "public"}
	articlesCache = mcp.Cacheable{TTLMs: 30 * 1000, CacheScope: "private"}
)

func setCacheable(_ context.Context, req mcp.Request, c *mcp.Cacheable) {
	switch req.(type) {
	case *mcp.ListResourcesRequest, *mcp.ReadResourceRequest:
		*c = articlesCache
	default:
		*c = surfaceCache
	}
}

// handlers holds what every tool, resource and prompt handler needs.
type handlers struct {
	articles blog.Articles
	opts     Options
	// articlesChanged tells the connected clients that resources/list
	// has changed; set by addResources.
	articlesChanged func()
}

// canWrite reports whether the caller may see drafts and change articles.
func (h *handlers) canWrite(ctx context.Context) bool {
	return h.opts.Principal(ctx).Has(authn.ScopeWrite)
}
