package mcpserver

import (
	"context"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/2coffee/mcp-2coffee/internal/blog"
)

// maxCompletions is how many values one completion answer holds; the spec
// caps a response at 100.
const maxCompletions = 20

// complete answers completion/complete for the slug argument of the article
// template and of the prompts that take a slug, and for the language
// argument.
func (h *handlers) complete(ctx context.Context, req *mcp.CompleteRequest) (*mcp.CompleteResult, error) {
	p := req.Params
	var values []string
	switch {
	case p.Argument.Name == "slug" && ((p.Ref.Type == "ref/resource" && p.Ref.URI == uriTemplate) ||
		(p.Ref.Type == "ref/prompt" && (p.Ref.Name == PromptSummarize || p.Ref.Name == PromptRelated))):
		values = h.completeSlug(ctx, p.Argument.Value)
	case p.Argument.Name == "language" && p.Ref.Type == "ref/prompt" && p.Ref.Name == PromptOutline:
		for _, l := range []string{"en", "vi"} {
			if strings.HasPrefix(l, p.Argument.Value) {
				values = append(values, l)
			}
		}
	}
	if values == nil {
		values = []string{}
	}
	return &mcp.CompleteResult{Completion: mcp.CompletionResultDetails{Values: values, Total: len(values)}}, nil
}

// completeSlug suggests slugs for what was typed so far: the newest
// articles for an empty prefix, else slugs starting with the prefix first
// and slugs containing it after, found through a prefix search on the
// words of the prefix (slugs are made from title words).
func (h *handlers) completeSlug(ctx context.Context, prefix string) []string {
	prefix = strings.ToLower(strings.TrimSpace(prefix))
	var candidates []*blog.Article
	if prefix == "" {
		page, err := h.articles.List(ctx, blog.ListOptions{Limit: maxCompletions})
		if err != nil {
			return nil
		}
		candidates = page.Articles
	} else {
		words := blog.Words(strings.ReplaceAll(prefix, "-", " "))
		if len(words) == 0 {
			return nil
		}
		page, err := h.articles.Search(ctx, blog.SearchOptions{Query: strings.Join(words, " ") + "*", Limit: blog.MaxPage})
		if err != nil {
			return nil
		}
		for _, hit := range page.Hits {
			candidates = append(candidates, hit.Article)
		}
	}
	var starts, contains []string
	canWrite := h.canWrite(ctx)
	for _, a := range candidates {
		switch {
		case !a.Public(time.Now()) && !canWrite:
		case strings.HasPrefix(a.Slug, prefix):
			starts = append(starts, a.Slug)
		case strings.Contains(a.Slug, prefix):
			contains = append(contains, a.Slug)
		}
	}
	out := append(starts, contains...)
	if len(out) > maxCompletions {
		out = out[:maxCompletions]
	}
	return out
}
