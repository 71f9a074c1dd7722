package mcpserver

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/2coffee/mcp-2coffee/internal/blog"
	"github.com/2coffee/mcp-2coffee/internal/errdefs"
)

// Prompt names.
const (
	PromptSummarize = "summarize_article"
	PromptOutline   = "outline_post"
	PromptRelated   = "related_reading"
)

// relatedCount is how many related articles related_reading offers.
const relatedCount = 5

func (h *handlers) addPrompts(s *mcp.Server) {
	s.AddPrompt(&mcp.Prompt{
		Name:        PromptSummarize,
		Title:       "Summarise an article",
		Description: "Summarise one article of the blog for a chosen audience.",
		Arguments: []*mcp.PromptArgument{
			{Name: "slug", Description: "the article's slug", Required: true},
			{Name: "audience", Description: "who the summary is for, e.g. 'a busy engineering manager' (default: a developer)"},
		},
	}, h.summarize)
	s.AddPrompt(&mcp.Prompt{
		Name:        PromptOutline,
		Title:       "Outline a new post",
		Description: "Draft an outline for a new post on a topic, building on what the blog already says about it.",
		Arguments: []*mcp.PromptArgument{
			{Name: "topic", Description: "what the new post is about", Required: true},
			{Name: "language", Description: "language of the post: en or vi (default en)"},
		},
	}, h.outline)
	s.AddPrompt(&mcp.Prompt{
		Name:        PromptRelated,
		Title:       "Related reading",
		Description: "Suggest what to read next after one article, from the blog's other articles.",
		Arguments: []*mcp.PromptArgument{
			{Name: "slug", Description: "the article just read", Required: true},
		},
	}, h.related)
}

// promptArticle fetches the article a prompt is about. Prompts have no
// isError result, so a bad slug is an invalid-params error.
func (h *handlers) promptArticle(ctx context.Context, req *mcp.GetPromptRequest) (*blog.Article, error) {
	slug := strings.TrimSpace(req.Params.Arguments["slug"])
	if slug == "" {
		return nil, &jsonrpc.Error{Code: jsonrpc.CodeInvalidParams, Message: "the argument slug is required"}
	}
	a, err := h.visible(ctx, slug)
	switch {
	case errors.Is(err, errdefs.ErrNotFound), errors.Is(err, errdefs.ErrInvalid):
		return nil, &jsonrpc.Error{Code: jsonrpc.CodeInvalidParams, Message: fmt.Sprintf("no article with slug %q", slug)}
	case err != nil:
		h.opts.Logger.ErrorContext(ctx, "prompt failed", "prompt", req.Params.Name, "err", err)
		return nil, errors.New("loading the article failed")
	}
	return a, nil
}

func embedded(a *blog.Article) mcp.Content {
	return &mcp.EmbeddedResource{Resource: &mcp.ResourceContents{
		URI: ResourceURI(a.Slug), MIMEType: "text/markdown", Text: markdown(a),
	}}
}

func userText(s string) *mcp.PromptMessage {
	return &mcp.PromptMessage{Role: "user", Content: &mcp.TextContent{Text: s}}
}

func (h *handlers) summarize(ctx context.Context, req *mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
	a, err := h.promptArticle(ctx, req)
	if err != nil {
		return nil, err
	}
	audience := strings.TrimSpace(req.Params.Arguments["audience"])
	if audience == "" {
		audience = "a developer"
	}
	return &mcp.GetPromptResult{
		Description: fmt.Sprintf("Summary of %q for %s", a.Title, audience),
		Messages: []*mcp.PromptMessage{
			{Role: "user", Content: embedded(a)},
			userText(fmt.Sprintf("Summarise the article above for %s in at most five bullet points, then one sentence on when its advice applies. "+
				"Write in the article's language (%s). Keep code identifiers as they are and cite the article as %q (%s).",
				audience, a.Language, a.Title, ResourceURI(a.Slug))),
		},
	}, nil
}

func (h *handlers) outline(ctx context.Context, req *mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
	topic := strings.TrimSpace(req.Params.Arguments["topic"])
	if topic == "" {
		return nil, &jsonrpc.Error{Code: jsonrpc.CodeInvalidParams, Message: "the argument topic is required"}
	}
	lang := strings.TrimSpace(req.Params.Arguments["language"])
	if lang == "" {
		lang = "en"
	}
	var existing strings.Builder
	page, err := h.articles.Search(ctx, blog.SearchOptions{Query: topic, Limit: relatedCount})
	if err == nil {
		for _, hit := range page.Hits {
			fmt.Fprintf(&existing, "- %s (%s): %s\n", hit.Article.Title, ResourceURI(hit.Article.Slug), hit.Article.Summary)
		}
	} else if !errors.Is(err, errdefs.ErrInvalid) {
		h.opts.Logger.WarnContext(ctx, "outline_post search failed", "err", err)
	}
	background := "The blog has no article on this topic yet."
	if existing.Len() > 0 {
		background = "The blog already has these related articles; link to them instead of repeating them:\n" + existing.String()
	}
	return &mcp.GetPromptResult{
		Description: fmt.Sprintf("Outline for a new post on %s", topic),
		Messages: []*mcp.PromptMessage{userText(fmt.Sprintf(
			"Outline a new post for the 2coffee programming blog on: %s\n\nLanguage: %s.\n%s\n"+
				"Give a working title, a one-sentence summary, 4-7 section headings with two or three bullet points each, "+
				"one short code example worth including, and 3-5 tags. Use get_article to read a related article before relying on it.",
			topic, lang, background))},
	}, nil
}

func (h *handlers) related(ctx context.Context, req *mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
	a, err := h.promptArticle(ctx, req)
	if err != nil {
		return nil, err
	}
	// Look for the article's tags and title words, any of them, and drop
	// the article itself.
	query := strings.Join(append(append([]string{}, a.Tags...), blog.Words(a.Title)...), " ")
	var list strings.Builder
	if page, err := h.articles.Search(ctx, blog.SearchOptions{Query: query, Limit: relatedCount + 1}); err == nil {
		n := 0
		for _, hit := range page.Hits {
			if hit.Article.Slug == a.Slug || n == relatedCount {
				continue
			}
			n++
			fmt.Fprintf(&list, "- %s (slug: %s): %s\n", hit.Article.Title, hit.Article.Slug, hit.Article.Summary)
		}
	} else {
		h.opts.Logger.WarnContext(ctx, "related_reading search failed", "err", err)
	}
	candidates := list.String()
	if candidates == "" {
		candidates = "(the search found no other article; say so)\n"
	}
	return &mcp.GetPromptResult{
		Description: fmt.Sprintf("What to read after %q", a.Title),
		Messages: []*mcp.PromptMessage{
			{Role: "user", Content: embedded(a)},
			userText("I just read the article above. From these other articles of the blog, recommend up to three to read next, " +
				"each with one sentence on why it follows from this one:\n" + candidates),
		},
	}, nil
}
