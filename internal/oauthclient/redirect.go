package oauthclient

import (
	"fmt"
	"net/http"

	"github.com/2coffee/mcp-2coffee/internal/webaddr"
)

// redirectPolicy wraps next (nil: at most 10 redirects) so that only GETs
// of metadata documents follow redirects, and only within their origin
// (webaddr.SameOriginRedirects). Everything else this client sends
// carries secrets (codes, verifiers, refresh tokens, client credentials)
// or is meant for one server alone: net/http would re-post the form of a
// 307/308 to wherever it points and copy the headers, so such a redirect
// ends the request.
func redirectPolicy(next func(*http.Request, []*http.Request) error) func(*http.Request, []*http.Request) error {
	sameOrigin := webaddr.SameOriginRedirects(next)
	return func(req *http.Request, via []*http.Request) error {
		first := via[0]
		if first.Method != http.MethodGet && first.Method != http.MethodHead {
			return fmt.Errorf("refusing to follow a redirect of %s %s to %s: requests to the authorization server are not redirected", first.Method, first.URL.Redacted(), req.URL.Redacted())
		}
		return sameOrigin(req, via)
	}
}
