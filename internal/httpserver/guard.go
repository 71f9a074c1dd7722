package httpserver

import (
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/2coffee/mcp-2coffee/internal/authn"
	"github.com/2coffee/mcp-2coffee/internal/webaddr"
)

// guard refuses requests whose Host or Origin the server does not answer
// to. The Host check defeats DNS rebinding (a hostile page whose name
// resolves to 127.0.0.1 reaching a local server); the Origin check refuses
// browsers on other sites. The go-sdk's own localhost guard refuses any
// non-loopback Host on a loopback listener, which breaks a server behind a
// reverse proxy; this guard follows --public-url instead.
type guard struct {
	hosts   map[string]bool // canonical host:port
	origins map[string]bool // canonical scheme://host:port
}

// newGuard allows the public URL's host and origin, the loopback names on
// the listening port when the server listens on loopback, and the extra
// origins given. Hosts and origins are compared in the forms webaddr
// gives them, so letter case and default ports do not matter and a
// look-alike name never passes.
func newGuard(public *url.URL, listenAddr string, extraOrigins []string) (*guard, error) {
	g := &guard{hosts: map[string]bool{}, origins: map[string]bool{}}
	if !g.allow(public, true) {
		return nil, &url.Error{Op: "public URL", URL: public.Redacted(), Err: errBadOrigin}
	}
	if host, port, err := net.SplitHostPort(listenAddr); err == nil && webaddr.IsLoopback(host) {
		for _, name := range webaddr.LoopbackHosts() {
			g.allow(&url.URL{Scheme: "http", Host: name + ":" + port}, true)
		}
	}
	for _, o := range extraOrigins {
		u, err := url.Parse(strings.TrimSpace(o))
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || (u.Path != "" && u.Path != "/") || !g.allow(u, false) {
			return nil, &url.Error{Op: "allowed origin", URL: o, Err: errBadOrigin}
		}
	}
	return g, nil
}

// allow adds u's origin, and its host when withHost, reporting false when
// u has none: an empty key would match every request whose Host or
// Origin has no usable form.
func (g *guard) allow(u *url.URL, withHost bool) bool {
	o, hp := webaddr.Origin(u), webaddr.HostPort(u)
	if o == "" || hp == "" {
		return false
	}
	g.origins[o] = true
	if withHost {
		g.hosts[hp] = true
	}
	return true
}

type originError string

func (e originError) Error() string { return string(e) }

const errBadOrigin = originError("want scheme://host[:port], like https://app.example.com")

// hostKey is the form of a Host header the guard compares: the host and
// port it names, the port of the request's scheme when it names none.
func hostKey(host, scheme string) string {
	return webaddr.HostPort(&url.URL{Scheme: scheme, Host: host})
}

// wrapHost checks only the Host: for endpoints that browsers on other
// origins may call (OAuth metadata, registration, token; they set CORS
// headers themselves and read no cookie) and for the sign-in pages, which
// check Origin against their own CSRF rules.
func (g *guard) wrapHost(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if g.hostOK(w, r) {
			next.ServeHTTP(w, r)
		}
	})
}

func (g *guard) hostOK(w http.ResponseWriter, r *http.Request) bool {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if !g.hosts[hostKey(r.Host, scheme)] && !g.hostBehindProxy(r.Host) {
		authn.WriteError(w, http.StatusForbidden, "forbidden_host", "this server does not answer to the host "+quoteForMessage(r.Host)+"; set --public-url to the address clients use")
		return false
	}
	return true
}

// wrap checks Host and, when present, Origin. A request from an allowed
// origin gets the CORS headers a browser-based MCP client needs: the
// origin allowed, and the headers it must read (a 401's challenge, the
// session id) exposed. A CORS preflight from an allowed origin is
// answered here, before authentication: the browser sends it without the
// credential, which the real request carries. No cookie is involved, so
// credentialed CORS is never allowed.
func (g *guard) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !g.hostOK(w, r) {
			return
		}
		if origin := r.Header.Get("Origin"); origin != "" {
			u, err := url.Parse(origin)
			if err != nil || !g.origins[webaddr.Origin(u)] {
				authn.WriteError(w, http.StatusForbidden, "forbidden_origin", "requests from the origin "+quoteForMessage(origin)+" are not allowed; add it with --allowed-origin")
				return
			}
			h := w.Header()
			h.Set("Access-Control-Allow-Origin", origin)
			h.Add("Vary", "Origin")
			h.Set("Access-Control-Expose-Headers", corsExposed)
			if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
				preflight(w, r)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// corsExposed are the response headers a browser-based MCP client reads:
// the challenge of a 401 or 403 (its resource_metadata starts OAuth), the
// session of a stateful server, the negotiated revision, and how long to
// wait.
const corsExposed = "WWW-Authenticate, Mcp-Session-Id, MCP-Protocol-Version, Retry-After"

// corsRequestHeaders are the request headers MCP clients send. Mcp-Param-*
// (SEP-2243) mirrors tool arguments, so any name under it is allowed.
var corsRequestHeaders = []string{"accept", "authorization", "content-type", "last-event-id",
	"mcp-method", "mcp-name", "mcp-protocol-version", "mcp-session-id", "x-api-key"}

// preflight answers a CORS preflight: the methods of Streamable HTTP, and
// those of the requested headers that MCP clients send (Authorization must
// be named; a "*" would not cover it).
func preflight(w http.ResponseWriter, r *http.Request) {
	var allowed []string
	for name := range strings.SplitSeq(r.Header.Get("Access-Control-Request-Headers"), ",") {
		name = strings.ToLower(strings.TrimSpace(name))
		if slices.Contains(corsRequestHeaders, name) || (strings.HasPrefix(name, "mcp-param-") && len(name) <= 128) {
			allowed = append(allowed, name)
		}
	}
	h := w.Header()
	h.Set("Access-Control-Allow-Methods", "GET, POST, DELETE")
	if len(allowed) > 0 {
		h.Set("Access-Control-Allow-Headers", strings.Join(allowed, ", "))
	}
	h.Set("Access-Control-Max-Age", "600")
	h.Add("Vary", "Access-Control-Request-Method, Access-Control-Request-Headers")
	w.WriteHeader(http.StatusNoContent)
}

// hostBehindProxy accepts the public host under either default port: a
// TLS-terminating proxy forwards "blog.example.com" over plain HTTP, which
// hostKey would read as port 80.
func (g *guard) hostBehindProxy(host string) bool {
	if _, _, err := net.SplitHostPort(host); err == nil {
		return false
	}
	return g.hosts[hostKey(host, "https")]
}

// quoteForMessage bounds and quotes untrusted text echoed in an error.
func quoteForMessage(s string) string {
	if len(s) > 100 {
		s = s[:100] + "…"
	}
	b, _ := json.Marshal(s)
	return string(b)
}

// limitBody refuses a declared Content-Length over max at once, before any
// byte is read, and caps what a handler can read of a body that does not
// declare its length.
func limitBody(max int64, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > max {
			// Close the connection rather than drain a huge body.
			w.Header().Set("Connection", "close")
			authn.WriteError(w, http.StatusRequestEntityTooLarge, "too_large", "the request body is larger than the server accepts")
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, max)
		next.ServeHTTP(w, r)
	})
}
