package authserver

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"net/http"
	"strings"

	"github.com/2coffee/mcp-2coffee/internal/oauth"
)

// templateFS holds the pages: one layout and a template per page, and the
// stylesheet.
//
//go:embed templates/*.html templates/style.css
var templateFS embed.FS

// pageNames are the pages, each parsed with the layout.
var pageNames = []string{"login", "consent", "error", "apps"}

// pageData is what every page template may use. One struct for all pages
// keeps the templates' field names checked in one place.
type pageData struct {
	Title string
	Base  string // the issuer's path, prefix of every URL on the page
	Style string // the stylesheet's URL
	CSRF  string
	User  string

	// login
	Request    string // the authorization request, as a query string
	Username   string
	ClientName string
	Error      string
	// PasswordLogin shows the password form; Provider, when set, names
	// the identity provider whose button the page shows.
	PasswordLogin bool
	Provider      string
	UpstreamURL   template.URL // PathLoginUpstream with the request

	// login and consent
	NameUnverified bool // ClientName is the client's own words

	// consent
	ClientHost   string
	RedirectHost string
	Scopes       []string

	// error
	Heading string
	Message string
	Hint    string
	// ReturnURL, when set, is a link back to the client the person may
	// follow (an error not redirected automatically), to ReturnTo.
	ReturnURL string
	ReturnTo  string
	Alert     bool

	// apps
	Notice string
	Grants []appGrant
}

// appGrant is one row of the connected-apps page.
type appGrant struct {
	ClientID string
	Name     string
	Label    string
	Approved string
	Scopes   []string
}

func (s *site) loadPages() error {
	s.pages = map[string]*template.Template{}
	for _, name := range pageNames {
		t, err := template.ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return fmt.Errorf("authserver: parsing page %s: %w", name, err)
		}
		s.pages[name] = t
	}
	css, err := templateFS.ReadFile("templates/style.css")
	if err != nil {
		return fmt.Errorf("authserver: reading stylesheet: %w", err)
	}
	// The stylesheet's URL changes with its content, so it can be cached
	// for long without a release ever showing a stale one.
	sum := sha256.Sum256(css)
	s.styleURL = s.base + PathStatic + "style.css?v=" + hex.EncodeToString(sum[:6])
	return nil
}

func (s *site) serveStyle(w http.ResponseWriter, r *http.Request) {
	css, _ := templateFS.ReadFile("templates/style.css")
	h := w.Header()
	h.Set("Content-Type", "text/css; charset=utf-8")
	h.Set("Cache-Control", "public, max-age=86400")
	h.Set("X-Content-Type-Options", "nosniff")
	w.Write(css)
}

// setPageHeaders sets the security headers of every HTML page. formTargets
// are extra CSP form-action sources: the origin (or scheme) of the
// client's redirect URI on pages whose form submission may end in a
// redirect to the client, because Chrome applies form-action to every
// redirect that follows a form post.
func setPageHeaders(w http.ResponseWriter, formTargets ...string) {
	formAction := "'self'"
	for _, t := range formTargets {
		if t != "" {
			formAction += " " + t
		}
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self' https: data:; form-action "+
		formAction+"; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
}

// render writes page name with data. It renders into a buffer first, so a
// template error yields a clean 500 rather than half a page.
func (s *site) render(w http.ResponseWriter, r *http.Request, status int, name string, d *pageData, formTargets ...string) {
	d.Base = s.base
	d.Style = s.styleURL
	if d.CSRF == "" && name != "error" {
		d.CSRF = s.csrfToken(w, r)
	}
	var buf bytes.Buffer
	if err := s.pages[name].ExecuteTemplate(&buf, "layout", d); err != nil {
		s.log.ErrorContext(r.Context(), "rendering page failed", "page", name, "err", err)
		setPageHeaders(w)
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprintln(w, "<!doctype html><title>Error</title><p>Something went wrong. Please try again.</p>")
		return
	}
	setPageHeaders(w, formTargets...)
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// errorPage shows a problem to the person at the browser. It is used
// whenever the client or the redirect URI cannot be trusted, so the user
// is never sent to an address nobody vouched for.
func (s *site) errorPage(w http.ResponseWriter, r *http.Request, status int, heading, message string) {
	hint := ""
	if status < 500 {
		hint = "Go back to the application and try connecting again. If this keeps happening, tell the application's developers what this page says."
	} else {
		hint = "Please try again in a moment."
	}
	s.render(w, r, status, "error", &pageData{
		Title:   heading,
		Heading: heading,
		Message: message,
		Hint:    hint,
		Alert:   true,
	})
}

// describeScopes puts scopes in plain words for the consent and apps
// pages.
func describeScopes(scopes []string) []string {
	out := make([]string, 0, len(scopes))
	for _, sc := range scopes {
		if w, ok := scopeWords[sc]; ok {
			out = append(out, w)
		} else {
			out = append(out, sc)
		}
	}
	return out
}

// clientLabel is how a page names where a client comes from.
func clientLabel(c *oauth.Client) string {
	switch c.Kind {
	case oauth.KindMetadata:
		return hostOf(c.ID)
	case oauth.KindPreregistered:
		return "registered by the blog's owner"
	default:
		return "registered itself"
	}
}

func hostOf(rawURL string) string {
	rest, ok := strings.CutPrefix(rawURL, "https://")
	if !ok {
		return rawURL
	}
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		rest = rest[:i]
	}
	return rest
}
