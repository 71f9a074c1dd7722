// Package authn is the resource-server side of authentication: it turns a
// credential on a request (an API key or an OAuth access token) into a
// Principal with scopes, checks the scopes a request needs, and writes the
// 401/403 challenges clients need. The Authenticator holds it together.
package authn

import (
	"context"
	"net/http"
	"slices"
	"strings"
)

// Scopes the blog knows. A broader scope implies the narrower one:
// articles:write includes articles:read.
const (
	ScopeRead  = "articles:read"
	ScopeWrite = "articles:write"
)

// AllScopes lists every scope, narrowest first.
var AllScopes = []string{ScopeRead, ScopeWrite}

// implied maps a scope to the scopes it includes besides itself.
var implied = map[string][]string{ScopeWrite: {ScopeRead}}

// ValidScope reports whether s is a scope this server issues.
func ValidScope(s string) bool { return slices.Contains(AllScopes, s) }

// Principal is who is calling and what they may do.
type Principal struct {
	// Subject identifies the caller: "key:<id>" for an API key,
	// "user:<name>" for a signed-in user.
	Subject string
	// Scopes the credential carries, as granted (not expanded).
	Scopes []string
	// Method says how the caller authenticated: "api_key", "oauth",
	// "local" (stdio, the machine's own user) or "none" (development
	// mode without authentication).
	Method string
	// Client is the OAuth client a user's token was issued to ("" for
	// API keys, machine clients, whose Subject is the client, and stdio).
	Client string
}

// Actor names the principal in an article's revisions: its Subject, and
// the client a user acts through ("user:ann client:ab12").
func (p *Principal) Actor() string {
	switch {
	case p == nil:
		return "anonymous"
	case p.Client != "":
		return p.Subject + " client:" + p.Client
	}
	return p.Subject
}

// Has reports whether the principal holds scope, directly or through a
// broader scope that implies it.
func (p *Principal) Has(scope string) bool {
	if p == nil {
		return false
	}
	for _, s := range p.Scopes {
		if s == scope || slices.Contains(implied[s], scope) {
			return true
		}
	}
	return false
}

// String renders the principal for logs; it never holds a secret.
func (p *Principal) String() string {
	if p == nil {
		return "anonymous"
	}
	return p.Subject + " (" + strings.Join(p.Scopes, " ") + ")"
}

// Local is the principal of a stdio server reading its own database: the
// person who started the process owns the data, so it may read and write.
var Local = &Principal{Subject: "local", Scopes: []string{ScopeWrite}, Method: "local"}

// Anonymous is the principal of every HTTP caller when authentication is
// off (serve --auth=none, development on loopback only): anyone may read
// and write.
var Anonymous = &Principal{Subject: "anonymous", Scopes: []string{ScopeWrite}, Method: "none"}

// Assume returns middleware that serves every request as p, checking no
// credential: the authentication of serve --auth=none.
func Assume(p *Principal) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			next.ServeHTTP(w, r.WithContext(WithPrincipal(r.Context(), p)))
		})
	}
}

type principalKey struct{}

// WithPrincipal returns a context carrying p.
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the principal in ctx, or nil.
func FromContext(ctx context.Context) *Principal {
	p, _ := ctx.Value(principalKey{}).(*Principal)
	return p
}
