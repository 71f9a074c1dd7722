// Package restapi serves the REST content API (/api/v1/…) over a
// blog.Articles: the same rules the MCP tools obey, reached with plain HTTP
// and JSON. internal/remote is its client, so `mcp-2coffee stdio --api-url`
// can serve a blog that lives on another machine.
//
// Authentication is not done here: an outer middleware (internal/authn)
// turns the credential into an authn.Principal on the request context. The
// handlers still check the principal's scopes, as defence in depth, and use
// them to decide whether drafts are visible.
//
// docs/openapi.yaml describes the API; keep the two in step.
package restapi

import (
	"log/slog"
	"net/http"
	"path"
	"strings"

	"github.com/2coffee/mcp-2coffee/internal/authn"
	"github.com/2coffee/mcp-2coffee/internal/blog"
)

// Prefix is the path every route of the API lives under.
const Prefix = "/api/v1"

// Options configure the handler. The zero value is usable.
type Options struct {
	// Logger receives server-side failures (the 500s, whose details are
	// kept from the client). Nil discards them.
	Logger *slog.Logger
	// MaxBodyBytes bounds a request body; larger bodies get 413. Zero or
	// less means blog.MaxRequestBytes.
	MaxBodyBytes int64
}

// handler holds what every route needs.
type handler struct {
	articles blog.Articles
	log      *slog.Logger
	maxBody  int64
}

// New returns the REST API over articles. Its routes start with Prefix;
// mount it at Prefix+"/" (or at "/") of the server's mux, behind the
// authentication middleware.
func New(articles blog.Articles, opts Options) http.Handler {
	h := &handler{articles: articles, log: opts.Logger, maxBody: opts.MaxBodyBytes}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.maxBody <= 0 {
		h.maxBody = blog.MaxRequestBytes
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET "+Prefix+"/articles", h.list)
	mux.HandleFunc("POST "+Prefix+"/articles", h.create)
	mux.HandleFunc("GET "+Prefix+"/articles/{slug}", h.get)
	mux.HandleFunc("PATCH "+Prefix+"/articles/{slug}", h.update)
	mux.HandleFunc("DELETE "+Prefix+"/articles/{slug}", h.delete)
	mux.HandleFunc("POST "+Prefix+"/articles/{slug}/restore", h.restore)
	mux.HandleFunc("GET "+Prefix+"/articles/{slug}/revisions", h.revisions)
	mux.HandleFunc("GET "+Prefix+"/articles/{slug}/revisions/{id}", h.revision)
	mux.HandleFunc("POST "+Prefix+"/articles/{slug}/revisions/{id}/restore", h.restoreRevision)
	mux.HandleFunc("GET "+Prefix+"/search", h.search)
	mux.HandleFunc("GET "+Prefix+"/tags", h.tags)

	// ServeMux answers a wrong method and an unknown path itself, in plain
	// text. Method-less patterns are less specific than the ones above, so
	// they catch exactly the leftovers and answer in the API's error shape.
	for p, allow := range map[string]string{
		Prefix + "/articles":                               "GET, HEAD, POST",
		Prefix + "/articles/{slug}":                        "GET, HEAD, PATCH, DELETE",
		Prefix + "/articles/{slug}/restore":                "POST",
		Prefix + "/articles/{slug}/revisions":              "GET, HEAD",
		Prefix + "/articles/{slug}/revisions/{id}":         "GET, HEAD",
		Prefix + "/articles/{slug}/revisions/{id}/restore": "POST",
		Prefix + "/search":                                 "GET, HEAD",
		Prefix + "/tags":                                   "GET, HEAD",
	} {
		mux.HandleFunc(p, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", allow)
			writeError(w, http.StatusMethodNotAllowed, "method_not_allowed",
				r.Method+" is not allowed here; use "+allow, "")
		})
	}
	mux.HandleFunc("/", notFound)

	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Every answer, errors included, depends on who asked, so no
		// cache may keep one.
		hdr := w.Header()
		hdr.Set("Cache-Control", "no-store")
		hdr.Set("X-Content-Type-Options", "nosniff")
		// ServeMux would redirect a path such as /api/v1//tags with an
		// HTML body; the API has no such aliases, so say 404 in JSON.
		if !isClean(r.URL.Path) {
			notFound(w, r)
			return
		}
		// Revisions name who made each change: the credential.
		mux.ServeHTTP(w, r.WithContext(blog.WithActor(r.Context(), authn.FromContext(r.Context()).Actor())))
	})
}

func notFound(w http.ResponseWriter, r *http.Request) {
	writeError(w, http.StatusNotFound, "not_found", "no API endpoint at "+r.URL.Path, "")
}

// isClean reports whether p needs none of the cleaning ServeMux would
// answer with a redirect (double slashes, "." and ".." elements).
func isClean(p string) bool {
	if p == "" || p[0] != '/' {
		return false
	}
	c := path.Clean(p)
	if strings.HasSuffix(p, "/") && c != "/" {
		c += "/"
	}
	return c == p
}

// isHistory reports whether p is under /articles/{slug}/revisions.
func isHistory(p string) bool {
	rest, ok := strings.CutPrefix(p, Prefix+"/articles/")
	if !ok {
		return false
	}
	_, tail, found := strings.Cut(rest, "/")
	return found && (tail == "revisions" || strings.HasPrefix(tail, "revisions/"))
}

// Scope is the scope a request to the API needs: articles:read for the
// safe methods but an article's history, articles:write for every other. The composition root puts
// it in front of the handler (authn.Authenticator.RequireScopeFor), so a
// client learns it must step up from a 403 challenge before any handler
// runs; the handlers check again, as defence in depth.
func Scope(r *http.Request) string {
	switch {
	case isHistory(r.URL.Path):
		// An article's history holds drafts, deleted text and who made
		// each change: it is the writers'.
		return authn.ScopeWrite
	case r.Method == http.MethodGet, r.Method == http.MethodHead, r.Method == http.MethodOptions:
		return authn.ScopeRead
	}
	return authn.ScopeWrite
}
