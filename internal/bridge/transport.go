package bridge

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"

	"github.com/2coffee/mcp-2coffee/internal/oauthclient"
	"github.com/2coffee/mcp-2coffee/internal/paramheader"
	"github.com/2coffee/mcp-2coffee/internal/webaddr"
	"golang.org/x/net/http/httpguts"
)

// maxErrorBody bounds how much of a 401/403 body is kept while the client
// decides whether to retry; such bodies are short.
const maxErrorBody = 64 << 10

// authTransport adds the configured headers and, unless a credential
// header is configured, the cached bearer token to every request to the MCP
// server. On 401 it refreshes the token or signs in, on 403
// insufficient_scope it steps up, and then it sends the request again;
// each request may trigger at most oauthclient.MaxAuthorizations of these.
//
// A request carries one credential, never two: a server may refuse the
// pair (ours answers 400), and a token cached beside a configured API key
// would then break every request until logout. A configured credential
// header is the user's choice of how to authenticate: a 401 or a 403
// insufficient_scope for it becomes a credentialError saying what to do,
// not a browser sign-in. With OAuthStepUp (oauth set although a credential
// is configured) the sign-in runs instead, and the token, once there,
// replaces the credential on every request.
//
// Headers and tokens go only to the server's own origin (scheme, host and
// port of serverURL): a request anywhere else, such as one to an endpoint
// named by a legacy SSE server or the next hop of a redirect, is refused
// rather than sent with the credentials.
type authTransport struct {
	base   http.RoundTripper
	header http.Header
	// credential is the canonical name of the configured credential
	// header in header ("" for none); see credentialHeader.
	credential string
	oauth      *oauthclient.Client // nil: no OAuth
	// oauthOff records that OAuth was turned off by the caller rather
	// than by a configured credential (the error then does not suggest
	// signing in).
	oauthOff  bool
	serverURL string
	server    *url.URL // serverURL parsed, whose origin alone gets credentials
}

// alwaysCredentials are the headers that carry a credential whatever the
// user declares: the two our server reads (X-API-KEY, Authorization).
var alwaysCredentials = []string{"Authorization", "X-Api-Key"}

// credentialHeader returns the name of the credential header configured in
// h ("" for none): Authorization, X-API-KEY, or one of declared. More
// than one credential (two names, or one name twice) is an error, since a
// request carries one.
func credentialHeader(h http.Header, declared []string) (string, error) {
	names := slices.Clone(alwaysCredentials)
	for _, d := range declared {
		n := http.CanonicalHeaderKey(strings.TrimSpace(d))
		if !httpguts.ValidHeaderFieldName(n) {
			return "", fmt.Errorf("credential header %q: invalid name", d)
		}
		if len(h.Values(n)) == 0 {
			return "", fmt.Errorf("credential header %s: no header of that name is configured (give it with --header)", n)
		}
		if !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	var found []string
	for _, n := range names {
		for range h.Values(n) {
			found = append(found, n)
		}
	}
	switch len(found) {
	case 0:
		return "", nil
	case 1:
		return found[0], nil
	}
	return "", fmt.Errorf("more than one credential is configured (%s); a request carries one, so keep only one of these headers", strings.Join(found, ", "))
}

// credentialError is a 401 or 403 insufficient_scope answer to a request
// that carried the configured credential: what the user sees instead of a
// sign-in.
type credentialError struct {
	header    string // canonical name of the credential header
	challenge oauthclient.Challenge
	oauth     bool // signing in with OAuth is possible
}

func (e *credentialError) Error() string {
	name := e.header
	if name == "X-Api-Key" {
		name = "X-API-KEY" // as the documentation and the users write it
	}
	detail := e.challenge.Error
	if e.challenge.Description != "" {
		if detail != "" {
			detail += ": "
		}
		detail += e.challenge.Description
	}
	var b strings.Builder
	if e.challenge.Status == http.StatusForbidden {
		fmt.Fprintf(&b, "the configured %s lacks the scope", name)
		if len(e.challenge.Scope) > 0 {
			fmt.Fprintf(&b, " %s", strings.Join(e.challenge.Scope, " "))
		}
		b.WriteString(" that this request needs")
		if d := e.challenge.Description; d != "" {
			fmt.Fprintf(&b, " (%s)", d)
		}
		b.WriteString("; use one that has it")
	} else {
		fmt.Fprintf(&b, "the server refused the configured %s (%d", name, e.challenge.Status)
		if detail != "" {
			fmt.Fprintf(&b, " %s", detail)
		}
		b.WriteString("); check or replace it")
	}
	if e.oauth {
		fmt.Fprintf(&b, ", or drop the %s header to sign in with OAuth instead, or add --oauth-step-up to sign in with OAuth when the server asks for it", name)
	}
	return b.String()
}

// originError is a request refused because it would carry the server's
// credentials to another origin.
type originError struct{ to, server string }

func (e *originError) Error() string {
	return fmt.Sprintf("refusing to send credentials to %s, which is not on the server's origin (%s)", e.to, e.server)
}

// sameOriginRedirects is the CheckRedirect of the bridge's HTTP clients:
// net/http strips Authorization on a redirect to another host, but copies
// every other header (X-API-KEY among them) and would follow https to
// http, so a redirect may only stay within the origin it started from.
// The error says what to do about it.
func sameOriginRedirects() func(*http.Request, []*http.Request) error {
	check := webaddr.SameOriginRedirects(nil)
	return func(req *http.Request, via []*http.Request) error {
		err := check(req, via)
		if re, ok := errors.AsType[*webaddr.RedirectError](err); ok {
			return fmt.Errorf("the server redirected to %s, another origin; not following it with the server's credentials (if that address is right, use it as the server URL)", re.To.Redacted())
		}
		return err
	}
}

func (t *authTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	if !webaddr.SameOrigin(req.URL, t.server) && (len(t.header) > 0 || t.oauth != nil) {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, &originError{to: req.URL.Redacted(), server: webaddr.Origin(t.server)}
	}
	body, err := replayableBody(req)
	if err != nil {
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		r := req.Clone(ctx)
		if body != nil {
			r.Body, _ = body()
		}
		for name, values := range t.header {
			r.Header[name] = values
		}
		var token string
		if t.oauth != nil {
			token, err = t.oauth.AccessToken(ctx, t.serverURL)
			if err != nil {
				return nil, err
			}
			if token != "" {
				// The token replaces the configured credential
				// (--oauth-step-up): one credential per request.
				if t.credential != "" {
					r.Header.Del(t.credential)
				}
				r.Header.Set("Authorization", "Bearer "+token)
			}
		}
		resp, err := t.base.RoundTrip(r)
		if err != nil {
			return resp, err
		}
		if resp.StatusCode != http.StatusUnauthorized && resp.StatusCode != http.StatusForbidden {
			if token != "" {
				t.oauth.Accepted(t.serverURL)
			}
			return resp, nil
		}
		ch := oauthclient.ParseChallenge(resp.StatusCode, resp.Header)
		if resp.StatusCode == http.StatusForbidden && ch.Error != "insufficient_scope" {
			return resp, nil // authorization cannot help
		}
		if token == "" && t.credential != "" && t.oauth == nil {
			// The configured credential was refused, or is not enough:
			// say so, rather than hand back a bare 401/403.
			io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
			resp.Body.Close()
			return nil, &credentialError{header: t.credential, challenge: ch, oauth: !t.oauthOff}
		}
		if t.oauth == nil || attempt >= oauthclient.MaxAuthorizations {
			return resp, nil // authorization cannot help (any more)
		}
		// Keep the answer in memory: the sign-in may take minutes, and the
		// caller gets it back if nothing can be done.
		saved, err := bufferResponse(resp)
		if err != nil {
			return nil, err
		}
		retry, err := t.oauth.Authorize(ctx, t.serverURL, ch, token)
		if err != nil {
			return nil, fmt.Errorf("authorization for %s failed: %w", t.serverURL, err)
		}
		if !retry {
			return saved, nil
		}
	}
}

// replayableBody returns a function yielding fresh copies of the request
// body, so that it can be sent again after an authorization; nil when the
// request has none.
func replayableBody(req *http.Request) (func() (io.ReadCloser, error), error) {
	if req.Body == nil || req.Body == http.NoBody {
		return nil, nil
	}
	if req.GetBody != nil {
		return req.GetBody, nil
	}
	data, err := io.ReadAll(req.Body)
	req.Body.Close()
	if err != nil {
		return nil, err
	}
	return func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }, nil
}

// bufferResponse reads a (small) error response into memory and closes the
// connection's body, returning an equivalent response.
func bufferResponse(resp *http.Response) (*http.Response, error) {
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(data))
	resp.ContentLength = int64(len(data))
	return resp, nil
}

// attempt records what happened to the HTTP requests made on behalf of
// one MCP message, so that the relay can tell "never sent" from "refused
// with 404" from "network down" without parsing error strings. It travels
// in the context given to mcp.Connection.Write, which the go-sdk transports
// pass to http.NewRequestWithContext.
type attempt struct {
	mu        sync.Mutex
	requests  int
	status    int   // last response status (0: none)
	err       error // last transport error
	retryHint string
}

type attemptKey struct{}

func withAttempt(ctx context.Context, a *attempt) context.Context {
	return context.WithValue(ctx, attemptKey{}, a)
}

func attemptFrom(ctx context.Context) *attempt {
	a, _ := ctx.Value(attemptKey{}).(*attempt)
	return a
}

func (a *attempt) record(resp *http.Response, err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.requests++
	a.err = err
	a.status = 0
	a.retryHint = ""
	if resp != nil {
		a.status = resp.StatusCode
		a.retryHint = resp.Header.Get("Retry-After")
	}
}

func (a *attempt) snapshot() (requests, status int, err error, retryAfter string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.requests, a.status, a.err, a.retryHint
}

// recordingTransport fills in the attempt found in a request's context,
// and sets the Mcp-Param-* headers the context carries (paramheader.With).
type recordingTransport struct {
	base http.RoundTripper
}

func (t recordingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	req = paramheader.Apply(req)
	resp, err := t.base.RoundTrip(req)
	if a := attemptFrom(req.Context()); a != nil {
		a.record(resp, err)
	}
	return resp, err
}

// isDialError reports a failure to connect at all: the message surely did
// not reach the server, so sending it again is safe.
func isDialError(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	var dns *net.DNSError
	return errors.As(err, &dns)
}
