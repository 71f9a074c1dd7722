package oauthclient

import (
	"errors"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/2coffee/mcp-2coffee/internal/oauthmeta"
	"github.com/2coffee/mcp-2coffee/internal/tokencache"
)

// serverState is what a Client holds for one MCP server.
type serverState struct {
	mu     sync.Mutex // serialises refresh and authorization
	url    string     // canonical server URL
	loaded bool
	entry  *tokencache.Entry // nil: nothing known
	// scopeExplicit records whether the token response named the granted
	// scope (otherwise the requested one is assumed).
	scopeExplicit bool
	// refreshedToken is the access token obtained by the last refresh; a
	// 401 for it goes straight to a new sign-in.
	refreshedToken string
	// unaccepted counts the refreshes, sign-ins and step-ups since the
	// server last accepted a token: past MaxAuthorizations the client
	// stops trying, so a server that refuses every token cannot send the
	// user to the browser again and again, request after request. It is
	// atomic so that Accepted need not wait for a sign-in in progress.
	unaccepted atomic.Int32
}

// state returns the (lazily loaded) state for serverURL, locked. The caller
// unlocks st.mu.
func (c *Client) state(serverURL string) (*serverState, error) {
	canon, err := tokencache.CanonicalURL(serverURL)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	st, ok := c.servers[canon]
	if !ok {
		st = &serverState{url: canon}
		c.servers[canon] = st
	}
	c.mu.Unlock()
	st.mu.Lock()
	if !st.loaded {
		st.loaded = true
		if err := c.reload(st); err != nil {
			c.log.Warn("cannot read the token cache", "error", err)
		}
	}
	return st, nil
}

// reload replaces the in-memory entry with the stored one, if any.
func (c *Client) reload(st *serverState) error {
	if c.opts.Store == nil {
		return nil
	}
	e, err := c.opts.Store.Load(st.url)
	if errors.Is(err, tokencache.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	st.entry = e
	return nil
}

// save persists st.entry (a no-op without a Store). A failure is logged,
// not returned: the token still works for this process.
func (c *Client) save(st *serverState) {
	if c.opts.Store == nil || st.entry == nil {
		return
	}
	st.entry.ServerURL = st.url
	if err := c.opts.Store.Save(st.entry); err != nil {
		c.log.Warn("cannot write the token cache", "error", err)
	}
}

func (st *serverState) token() *tokencache.Token {
	if st.entry == nil || st.entry.Token == nil || st.entry.Token.AccessToken == "" {
		return nil
	}
	return st.entry.Token
}

func (c *Client) expiresSoon(t *tokencache.Token) bool {
	return !t.Expiry.IsZero() && c.now().Add(refreshMargin).After(t.Expiry)
}

// newerToken reports whether st holds a usable token other than the one
// the server refused.
func (c *Client) newerToken(st *serverState, sent string) bool {
	tok := st.token()
	return tok != nil && tok.AccessToken != sent && (tok.Expiry.IsZero() || tok.Expiry.After(c.now()))
}

// grantedScopes returns the scopes of the current token.
func (st *serverState) grantedScopes() []string {
	if t := st.token(); t != nil {
		return strings.Fields(t.Scope)
	}
	return nil
}

func (st *serverState) cachedDynamicClient(issuer string) *tokencache.Client {
	if st.entry == nil || st.entry.Client == nil {
		return nil
	}
	cl := st.entry.Client
	if cl.Kind != kindDynamic || !oauthmeta.IssuersEqual(cl.Issuer, issuer) {
		return nil
	}
	return cl
}
