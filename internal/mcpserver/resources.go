package mcpserver

import (
	"context"
	"errors"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/2coffee/mcp-2coffee/internal/blog"
	"github.com/2coffee/mcp-2coffee/internal/errdefs"
)

// resourcesPerPage is how many articles one resources/list page holds.
const resourcesPerPage = 20

func (h *handlers) addResources(s *mcp.Server) {
	template := &mcp.ResourceTemplate{
		Name:        "article",
		Title:       "Blog article",
		Description: "One article of the blog as Markdown, by slug.",
		URITemplate: uriTemplate,
		MIMEType:    "text/markdown",
	}
	s.AddResourceTemplate(template, h.readArticle)
	// The go-sdk sends notifications/resources/list_changed only when a
	// resource or template is added or removed; it has no call to announce
	// a list it does not hold. Registering the same template again changes
	// nothing a client can see but makes it notify every session, debounced
	// (legacy sessions on their stream, 2026-07-28 ones that asked for it
	// with subscriptions/listen).
	if !h.opts.Stateless {
		h.articlesChanged = func() { s.AddResourceTemplate(template, h.readArticle) }
	}
	// resources/list shows the articles themselves, newest first and paged
	// with the store's cursor. The go-sdk lists only resources registered
	// one by one, which would go stale as articles change, so the method
	// is answered here from the blog on every call.
	s.AddReceivingMiddleware(func(next mcp.MethodHandler) mcp.MethodHandler {
		return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
			if method != "resources/list" {
				return next(ctx, method, req)
			}
			var cursor string
			if r, ok := req.(*mcp.ListResourcesRequest); ok && r.Params != nil {
				cursor = r.Params.Cursor
			}
			return h.listResources(ctx, cursor)
		}
	})
}

func (h *handlers) listResources(ctx context.Context, cursor string) (*mcp.ListResourcesResult, error) {
	page, err := h.articles.List(ctx, blog.ListOptions{Limit: resourcesPerPage, Cursor: cursor})
	if err != nil {
		if errors.Is(err, errdefs.ErrInvalid) {
			// A cursor we did not hand out is a protocol error.
			return nil, &jsonrpc.Error{Code: jsonrpc.CodeInvalidParams, Message: err.Error()}
		}
		h.opts.Logger.ErrorContext(ctx, "resources/list failed", "err", err)
		return nil, errors.New("listing articles failed")
	}
	res := &mcp.ListResourcesResult{Cacheable: articlesCache, Resources: []*mcp.Resource{}, NextCursor: page.NextCursor}
	for _, a := range page.Articles {
		res.Resources = append(res.Resources, &mcp.Resource{
			URI:         ResourceURI(a.Slug),
			Name:        a.Slug,
			Title:       a.Title,
			Description: a.Summary,
			MIMEType:    "text/markdown",
		})
	}
	return res, nil
}

func (h *handlers) readArticle(ctx context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
	uri := req.Params.URI
	slug, ok := strings.CutPrefix(uri, uriPrefix)
	if !ok || blog.ValidateSlug(slug) != nil {
		return nil, mcp.ResourceNotFoundError(uri)
	}
	a, err := h.visible(ctx, slug)
	switch {
	case errors.Is(err, errdefs.ErrNotFound):
		return nil, mcp.ResourceNotFoundError(uri)
	case err != nil:
		h.opts.Logger.ErrorContext(ctx, "resources/read failed", "uri", uri, "err", err)
		return nil, errors.New("reading the article failed")
	}
	return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{{
		URI:      uri,
		MIMEType: "text/markdown",
		Text:     markdown(a),
	}}}, nil
}
