package oauthclient

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// callbackPath is the path of the redirect URI.
const callbackPath = "/callback"

// ErrTimeout is returned (wrapped) when the browser step does not finish in
// time.
var ErrTimeout = errors.New("timed out waiting for the browser sign-in")

// callbackResult is what the authorization server sent back.
type callbackResult struct {
	code string
	iss  string
	// issPresent distinguishes an empty iss from a missing one.
	issPresent bool
}

// callbackServer is the loopback HTTP server that receives the
// authorization response (RFC 8252 §7.3). It listens on 127.0.0.1 only: a
// name like "localhost" may resolve to an address other processes or hosts
// can reach, and binding the literal loopback IP keeps the code local.
type callbackServer struct {
	ln          net.Listener
	srv         *http.Server
	redirectURI string
	state       string

	once   sync.Once
	result chan callbackOutcome
}

type callbackOutcome struct {
	res callbackResult
	err error
}

// listenCallback binds 127.0.0.1:port. With port 0 the OS picks a free
// port, so bridges running side by side never collide.
func listenCallback(port int) (*callbackServer, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return nil, fmt.Errorf("cannot listen for the sign-in callback on 127.0.0.1:%d: %w", port, err)
	}
	cs := &callbackServer{
		ln:          ln,
		redirectURI: fmt.Sprintf("http://127.0.0.1:%d%s", ln.Addr().(*net.TCPAddr).Port, callbackPath),
		result:      make(chan callbackOutcome, 1),
	}
	mux := http.NewServeMux()
	mux.HandleFunc(callbackPath, cs.handle)
	cs.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	return cs, nil
}

// start begins serving; state is the value the callback must carry.
func (cs *callbackServer) start(state string) {
	cs.state = state
	go cs.srv.Serve(cs.ln)
}

// close stops the server. A short grace period lets the final page reach
// the browser.
func (cs *callbackServer) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := cs.srv.Shutdown(ctx); err != nil {
		cs.srv.Close()
	}
	cs.ln.Close()
}

func (cs *callbackServer) handle(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	q := r.URL.Query()
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	w.Header().Set("Referrer-Policy", "no-referrer")
	if q.Get("state") != cs.state {
		// Not our flow: a stale tab or a forged request. Do not use its
		// code, and keep waiting for the real one.
		writePage(w, http.StatusBadRequest, false, "This sign-in link is not the one mcp-2coffee is waiting for (the state does not match). Use the most recent link.")
		return
	}
	if e := q.Get("error"); e != "" {
		msg := e
		if d := q.Get("error_description"); d != "" {
			msg += ": " + d
		}
		writePage(w, http.StatusOK, false, "The authorization server refused the sign-in ("+msg+").")
		cs.finish(callbackOutcome{err: fmt.Errorf("authorization refused: %s", msg)})
		return
	}
	code := q.Get("code")
	if code == "" {
		writePage(w, http.StatusBadRequest, false, "The authorization server sent no authorization code.")
		cs.finish(callbackOutcome{err: errors.New("the authorization response has no code")})
		return
	}
	_, issPresent := q["iss"]
	writePage(w, http.StatusOK, true, "Signed in. You can close this tab and return to your MCP client.")
	cs.finish(callbackOutcome{res: callbackResult{code: code, iss: q.Get("iss"), issPresent: issPresent}})
}

func (cs *callbackServer) finish(o callbackOutcome) {
	cs.once.Do(func() { cs.result <- o })
}

// wait returns the authorization response, or an error after timeout.
func (cs *callbackServer) wait(ctx context.Context, timeout time.Duration) (callbackResult, error) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case o := <-cs.result:
		return o.res, o.err
	case <-ctx.Done():
		return callbackResult{}, ctx.Err()
	case <-t.C:
		return callbackResult{}, fmt.Errorf("%w: nothing reached %s within %s; sign in again (mcp-2coffee login URL)", ErrTimeout, cs.redirectURI, timeout)
	}
}

// pageTemplate is parsed on first use: only a sign-in shows it, and every
// command of the binary would otherwise parse it at start.
var pageTemplate = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("page").Parse(pageHTML))
})

const pageHTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>mcp-2coffee: {{if .OK}}signed in{{else}}sign-in failed{{end}}</title>
<style>body{font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem;color:#222}
h1{font-size:1.4rem}.ok{color:#1a7f37}.fail{color:#b42318}</style></head>
<body><h1 class="{{if .OK}}ok{{else}}fail{{end}}">{{if .OK}}Signed in{{else}}Sign-in failed{{end}}</h1>
<p>{{.Message}}</p></body></html>
`

func writePage(w http.ResponseWriter, status int, ok bool, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	pageTemplate().Execute(w, struct {
		OK      bool
		Message string
	}{ok, msg})
}
