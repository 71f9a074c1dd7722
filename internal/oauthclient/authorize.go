package oauthclient

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/2coffee/mcp-2coffee/internal/tokencache"
)

// AccessToken returns the access token to send to serverURL, refreshing it
// first when it is about to expire; "" when no usable token is known (the
// request then goes without one and the server's 401 starts a sign-in).
func (c *Client) AccessToken(ctx context.Context, serverURL string) (string, error) {
	st, err := c.state(serverURL)
	if err != nil {
		return "", err
	}
	defer st.mu.Unlock()
	tok := st.token()
	if tok == nil {
		return "", nil
	}
	if !c.expiresSoon(tok) {
		return tok.AccessToken, nil
	}
	// Another bridge may have refreshed it already (refresh tokens often
	// rotate: using ours again would fail).
	if err := c.reload(st); err != nil {
		c.log.Warn("cannot read the token cache", "error", err)
	}
	if tok = st.token(); tok == nil {
		return "", nil
	}
	if !c.expiresSoon(tok) {
		return tok.AccessToken, nil
	}
	if tok.RefreshToken != "" {
		err := c.refreshShared(ctx, st, tok.AccessToken)
		switch {
		case err == nil:
			return st.token().AccessToken, nil
		case errors.Is(err, tokencache.ErrLockBusy) || ctx.Err() != nil:
			// Going on without a token would end in a sign-in.
			return "", err
		}
		c.log.Info("token refresh failed", "server", st.url, "error", err)
	}
	if tok = st.token(); tok != nil && tok.Expiry.After(c.now()) {
		return tok.AccessToken, nil
	}
	return "", nil
}

// Authorize reacts to a 401 or 403 answer from serverURL to a request that
// carried sentToken ("" for none). It refreshes the token, signs in through
// the browser, or steps up the scopes, and reports whether the request
// should be sent again. retry is false with a nil error when nothing can
// help (a 403 that is not insufficient_scope, or one for scopes the token
// already has): the caller then returns the server's answer.
func (c *Client) Authorize(ctx context.Context, serverURL string, ch Challenge, sentToken string) (retry bool, err error) {
	st, err := c.state(serverURL)
	if err != nil {
		return false, err
	}
	defer st.mu.Unlock()

	if c.newerToken(st, sentToken) {
		// Another request already obtained a new token while this one was
		// in flight: just use it.
		return true, nil
	}
	// So may another process (a second bridge, or mcp-2coffee login).
	if err := c.reload(st); err != nil {
		c.log.Warn("cannot read the token cache", "error", err)
	}
	if c.newerToken(st, sentToken) {
		st.unaccepted.Store(0)
		return true, nil
	}
	if n := st.unaccepted.Load(); n >= MaxAuthorizations {
		if ch.Status == http.StatusForbidden {
			return false, nil
		}
		return false, fmt.Errorf("%s refused the last %d tokens; not signing in again (run mcp-2coffee login to retry)", st.url, n)
	}

	switch ch.Status {
	case http.StatusForbidden:
		if ch.Error != "insufficient_scope" {
			return false, nil
		}
		granted := st.grantedScopes()
		if st.scopeExplicit && len(ch.Scope) > 0 && containsAll(granted, ch.Scope) {
			c.log.Info("server refuses a token that has the scopes it asks for; not signing in again", "server", st.url, "scope", strings.Join(ch.Scope, " "))
			return false, nil
		}
		want := union(granted, ch.Scope)
		if c.browserFlow() {
			fmt.Fprintf(c.opts.Stderr, "mcp-2coffee: %s needs more permissions (%s).\n", st.url, strings.Join(ch.Scope, " "))
		}
		if err := c.obtain(ctx, st, ch, want); err != nil {
			return false, err
		}
		if got := st.grantedScopes(); !c.browserFlow() && st.scopeExplicit && len(ch.Scope) > 0 && !containsAll(got, ch.Scope) {
			// A machine grant is decided by policy, not by a person who
			// might approve more next time: asking again would get the
			// same narrower token.
			return false, fmt.Errorf("%s needs the scope %s; the authorization server granted only %q", st.url, strings.Join(ch.Scope, " "), strings.Join(got, " "))
		}
		st.unaccepted.Add(1)
		return true, nil

	case http.StatusUnauthorized:
		tok := st.token()
		if sentToken != "" && tok != nil && tok.RefreshToken != "" && sentToken != st.refreshedToken {
			err := c.refreshShared(ctx, st, sentToken)
			switch {
			case err == nil:
				st.unaccepted.Add(1)
				return true, nil
			case errors.Is(err, tokencache.ErrLockBusy) || ctx.Err() != nil:
				// Signing in would not help a process stuck on the lock.
				return false, err
			}
			c.log.Info("token refresh failed; signing in again", "server", st.url, "error", err)
		}
		if err := c.obtain(ctx, st, ch, nil); err != nil {
			return false, err
		}
		st.unaccepted.Add(1)
		return true, nil
	}
	return false, nil
}

// Accepted tells the client that serverURL accepted a request made with
// its token, which re-arms the bound on repeated authorizations.
func (c *Client) Accepted(serverURL string) {
	canon, err := tokencache.CanonicalURL(serverURL)
	if err != nil {
		return
	}
	c.mu.Lock()
	st := c.servers[canon]
	c.mu.Unlock()
	if st != nil {
		st.unaccepted.Store(0)
	}
}

// refreshShared refreshes st's token while holding the server's lock in
// the token cache, so that two processes never spend one refresh token
// (an authorization server that rotates refresh tokens may take a second
// use for theft and revoke the whole grant). After taking the lock it
// re-reads the cache: when another process has refreshed meanwhile (the
// cached token is not the one sent and does not expire soon), that token is used
// and no request is made. Without a Store there is no other process to
// share with.
func (c *Client) refreshShared(ctx context.Context, st *serverState, have string) error {
	if c.opts.Store == nil {
		return c.refresh(ctx, st)
	}
	l, err := c.opts.Store.Lock(ctx, st.url, c.opts.LockWait)
	if err != nil {
		return err
	}
	defer l.Unlock()
	if err := c.reload(st); err != nil {
		c.log.Warn("cannot read the token cache", "error", err)
	}
	if tok := st.token(); tok != nil && tok.AccessToken != have && !c.expiresSoon(tok) {
		c.log.Debug("another process refreshed the token; using it", "server", st.url)
		st.refreshedToken = tok.AccessToken
		return nil
	}
	return c.refresh(ctx, st)
}

// refresh uses the refresh token (RFC 6749 §6), with the resource
// indicator. A refused refresh token is dropped so that the next attempt
// signs in.
func (c *Client) refresh(ctx context.Context, st *serverState) error {
	e := st.entry
	if e == nil || e.Token == nil || e.Token.RefreshToken == "" || e.TokenEndpoint == "" || e.Client == nil {
		return errors.New("no refresh token")
	}
	form := url.Values{
		"grant_type":    {"refresh_token"},
		"refresh_token": {e.Token.RefreshToken},
	}
	if e.Resource != "" {
		form.Set("resource", e.Resource)
	}
	tok, explicit, err := c.requestToken(ctx, e.TokenEndpoint, credsOf(e.Client, c.opts.ClientSecret), form, e.Token.Scope)
	if err != nil {
		var te *TokenError
		if errors.As(err, &te) && (te.Code == "invalid_grant" || te.Code == "invalid_client" || te.Status == http.StatusUnauthorized) {
			e.Token.RefreshToken = ""
			c.save(st)
		}
		return err
	}
	if tok.RefreshToken == "" {
		tok.RefreshToken = e.Token.RefreshToken
	}
	if !explicit {
		explicit = st.scopeExplicit
	}
	e.Token = tok
	st.scopeExplicit = explicit
	st.refreshedToken = tok.AccessToken
	c.save(st)
	c.log.Debug("refreshed access token", "server", st.url)
	return nil
}

func containsAll(have, want []string) bool {
	for _, w := range want {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return true
}

// union returns a followed by the elements of b not in a.
func union(a, b []string) []string {
	out := slices.Clone(a)
	for _, s := range b {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}
