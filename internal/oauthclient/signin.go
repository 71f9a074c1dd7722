package oauthclient

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/2coffee/mcp-2coffee/internal/oauthmeta"
	"github.com/2coffee/mcp-2coffee/internal/tokencache"
	"github.com/modelcontextprotocol/go-sdk/oauthex"
)

// obtain gets a new token for st: through the browser, or with a
// machine grant (client credentials, or jwt-bearer with an ID-JAG) when
// that is the client's grant.
func (c *Client) obtain(ctx context.Context, st *serverState, ch Challenge, scopes []string) error {
	switch c.opts.Grant {
	case GrantClientCredentials:
		return c.machineToken(ctx, st, ch, scopes, func(context.Context, *resourceInfo, *authServer, string) (url.Values, error) {
			return url.Values{"grant_type": {GrantClientCredentials}}, nil
		})
	case GrantJWTBearer:
		return c.machineToken(ctx, st, ch, scopes, c.idJAGForm)
	}
	return c.signIn(ctx, st, ch, scopes)
}

// machineToken gets a token with a grant that needs no browser (RFC 6749
// §4.4 client credentials, or RFC 7523 jwt-bearer) and stores it:
// discovery as for a sign-in, then one token request whose grant
// parameters grantForm makes, authenticated with the client's id and
// secret (or private key), bound to the resource (RFC 8707). No callback,
// no refresh token: when the token expires or is refused, the next one is
// asked for the same way. The scope is what the challenge names, else
// none, so the server gives what the client was registered for: asking for
// every scope the resource supports would be refused to a client given
// fewer.
func (c *Client) machineToken(ctx context.Context, st *serverState, ch Challenge, scopes []string,
	grantForm func(ctx context.Context, info *resourceInfo, as *authServer, scope string) (url.Values, error)) error {
	info, err := c.discoverResource(ctx, st.url, ch.ResourceMetadata)
	if err != nil {
		return err
	}
	as, err := c.discoverAuthServer(ctx, info.issuer, info.legacy)
	if err != nil {
		return err
	}
	if scopes == nil {
		scopes = ch.Scope
	}
	scope := strings.Join(scopes, " ")
	form, err := grantForm(ctx, info, as, scope)
	if err != nil {
		return err
	}
	grant := form.Get("grant_type")
	now := c.now().UTC().Truncate(time.Second)
	client := &tokencache.Client{ID: c.opts.ClientID, AuthMethod: secretAuthMethod(as.authMethods), Kind: kindPreregistered,
		Issuer: as.issuer, RegisteredAt: now}
	if client.AuthMethod == AuthNone {
		client.AuthMethod = AuthClientSecretBasic
	}
	form.Set("resource", info.resource)
	if scope != "" {
		form.Set("scope", scope)
	}
	creds := credsOf(client, c.opts.ClientSecret)
	if k := c.opts.ClientKey; k != nil {
		client.AuthMethod = AuthPrivateKeyJWT
		creds = clientCreds{id: client.ID, method: AuthPrivateKeyJWT, assert: func() (string, error) {
			return k.assertion(client.ID, as.issuer, c.now())
		}}
	}
	tok, explicit, err := c.requestToken(ctx, as.tokenEndpoint, creds, form, scope)
	if other := otherSecretMethod(client.AuthMethod); c.opts.ClientKey == nil && err != nil && isInvalidClient(err) && slices.Contains(as.authMethods, other) {
		// Nothing says which of the two methods the client was registered
		// with: the server refuses the wrong one, so try the other once
		// (an ID-JAG refused is invalid_grant, never this, so it was not
		// spent).
		client.AuthMethod = other
		form.Del("client_id")
		form.Del("client_secret")
		tok, explicit, err = c.requestToken(ctx, as.tokenEndpoint, credsOf(client, c.opts.ClientSecret), form, scope)
	}
	if err != nil {
		return fmt.Errorf("token request (%s): %w", grant, err)
	}
	tok.RefreshToken = "" // none should come; none is kept
	c.keep(st, info, as, client, tok, explicit)
	c.log.Info("obtained a token without a browser", "grant_type", grant, "server", st.url, "client_id", client.ID)
	return nil
}

// Token exchange (RFC 8693) and the ID-JAG draft's names.
const (
	grantTokenExchange = "urn:ietf:params:oauth:grant-type:token-exchange"
	grantJWTBearerURN  = "urn:ietf:params:oauth:grant-type:jwt-bearer"
	tokenTypeIDToken   = "urn:ietf:params:oauth:token-type:id_token"
	tokenTypeIDJAG     = "urn:ietf:params:oauth:token-type:id-jag"
)

// enterpriseMeta discovers the enterprise identity provider once; every
// later ID-JAG is asked for at the token endpoint found then.
func (c *Client) enterpriseMeta(ctx context.Context) (*oauthex.AuthServerMeta, error) {
	c.idpMu.Lock()
	defer c.idpMu.Unlock()
	if c.idp != nil {
		return c.idp, nil
	}
	meta, _, err := oauthmeta.Discover(ctx, c.http, c.opts.Enterprise.Issuer, false)
	if err != nil {
		return nil, fmt.Errorf("the enterprise identity provider: %w", err)
	}
	if err := oauthmeta.CheckEndpoint("the identity provider's token_endpoint", meta.TokenEndpoint); err != nil {
		return nil, err
	}
	c.idp = meta
	return meta, nil
}

// exchangeResponse is RFC 8693 §2.2.1's answer.
type exchangeResponse struct {
	AccessToken     string `json:"access_token"`
	IssuedTokenType string `json:"issued_token_type"`
	TokenType       string `json:"token_type"`
}

// idJAGForm exchanges the user's ID token at the enterprise identity
// provider for an ID-JAG addressed to as (audience its issuer, resource
// the MCP server's, the scope asked for), and returns the jwt-bearer
// grant that presents it (enterprise-managed authorization §4 and §5).
// The ID-JAG is a credential: it is never logged.
func (c *Client) idJAGForm(ctx context.Context, info *resourceInfo, as *authServer, scope string) (url.Values, error) {
	e := c.opts.Enterprise
	meta, err := c.enterpriseMeta(ctx)
	if err != nil {
		return nil, err
	}
	idToken, err := e.IDToken()
	if err != nil {
		return nil, fmt.Errorf("the ID token: %w", err)
	}
	if idToken == "" {
		return nil, errors.New("the ID token is empty")
	}
	form := url.Values{
		"grant_type":           {grantTokenExchange},
		"requested_token_type": {tokenTypeIDJAG},
		"audience":             {as.issuer},
		"resource":             {info.resource},
		"subject_token":        {idToken},
		"subject_token_type":   {tokenTypeIDToken},
	}
	if scope != "" {
		form.Set("scope", scope)
	}
	idp := &tokencache.Client{ID: e.ClientID, AuthMethod: AuthNone, Kind: kindPreregistered}
	if e.ClientSecret != "" {
		idp.AuthMethod = secretAuthMethod(meta.TokenEndpointAuthMethodsSupported)
		if idp.AuthMethod == AuthNone {
			idp.AuthMethod = AuthClientSecretBasic
		}
	}
	var xr exchangeResponse
	if err := c.postForm(ctx, meta.TokenEndpoint, credsOf(idp, e.ClientSecret), form, &xr); err != nil {
		return nil, fmt.Errorf("token exchange at %s: %w", meta.Issuer, err)
	}
	switch {
	case xr.AccessToken == "":
		return nil, errors.New("the identity provider's token exchange answer holds no ID-JAG")
	case xr.IssuedTokenType != tokenTypeIDJAG:
		return nil, fmt.Errorf("the identity provider issued a %q, not an ID-JAG", xr.IssuedTokenType)
	}
	c.log.Debug("exchanged the ID token for an ID-JAG", "provider", meta.Issuer, "audience", as.issuer)
	return url.Values{"grant_type": {grantJWTBearerURN}, "assertion": {xr.AccessToken}}, nil
}

// otherSecretMethod is the secret method that is not m.
func otherSecretMethod(m string) string {
	if m == AuthClientSecretPost {
		return AuthClientSecretBasic
	}
	return AuthClientSecretPost
}

// isInvalidClient reports whether err is the authorization server's
// invalid_client answer.
func isInvalidClient(err error) bool {
	te, ok := errors.AsType[*TokenError](err)
	return ok && te.Code == "invalid_client"
}

// signIn runs the whole authorization code flow and stores the result.
// scopes, when non-nil, overrides the scope selection (step-up).
func (c *Client) signIn(ctx context.Context, st *serverState, ch Challenge, scopes []string) error {
	info, err := c.discoverResource(ctx, st.url, ch.ResourceMetadata)
	if err != nil {
		return err
	}
	as, err := c.discoverAuthServer(ctx, info.issuer, info.legacy)
	if err != nil {
		return err
	}

	cb, err := c.listen(st, as)
	if err != nil {
		return err
	}
	defer cb.close()

	client, err := c.identity(ctx, st, as, cb.redirectURI)
	if err != nil {
		return err
	}

	// Scope selection, MCP 2025-11-25 "Scope Selection Strategy": the
	// challenge's scope, else everything the resource supports, else none.
	if scopes == nil {
		switch {
		case len(ch.Scope) > 0:
			scopes = ch.Scope
		case len(info.scopes) > 0:
			scopes = info.scopes
		}
	}
	scopes = slices.Clone(scopes)
	// SEP-2207: ask for a refresh token the way the server documents it.
	if len(scopes) > 0 && slices.Contains(as.scopesSupported, "offline_access") && !slices.Contains(scopes, "offline_access") {
		scopes = append(scopes, "offline_access")
	}
	scope := strings.Join(scopes, " ")

	state := randomToken(32)
	verifier := randomToken(32)
	authURL, err := url.Parse(as.authorizationEndpoint)
	if err != nil {
		return fmt.Errorf("authorization endpoint: %w", err)
	}
	q := authURL.Query()
	q.Set("response_type", "code")
	q.Set("client_id", client.ID)
	q.Set("redirect_uri", cb.redirectURI)
	q.Set("code_challenge", s256(verifier))
	q.Set("code_challenge_method", "S256")
	q.Set("state", state)
	q.Set("resource", info.resource)
	if scope != "" {
		q.Set("scope", scope)
	}
	authURL.RawQuery = q.Encode()

	cb.start(state)
	fmt.Fprintf(c.opts.Stderr, "mcp-2coffee: sign in to %s in your browser. If it does not open, visit:\n\n    %s\n\n", st.url, authURL)
	if err := c.opts.OpenBrowser(ctx, authURL.String()); err != nil {
		fmt.Fprintf(c.opts.Stderr, "mcp-2coffee: could not open a browser (%v); open the URL above yourself.\n", err)
	}
	res, err := cb.wait(ctx, c.opts.Timeout)
	if err != nil {
		return err
	}

	// RFC 9207: when the server promises iss, it must be there and be the
	// issuer; when it does not, an iss that is present must still match
	// (anything else is a mix-up attempt).
	if as.issParameterSupported && !res.issPresent {
		return fmt.Errorf("authorization response has no iss although %s advertises it (RFC 9207); refusing the code", as.issuer)
	}
	if res.issPresent && res.iss != as.issuer {
		return fmt.Errorf("authorization response comes from issuer %q, want %q (RFC 9207); refusing the code", res.iss, as.issuer)
	}

	form := url.Values{
		"grant_type":    {"authorization_code"},
		"code":          {res.code},
		"redirect_uri":  {cb.redirectURI},
		"code_verifier": {verifier},
		"resource":      {info.resource},
	}
	tok, explicit, err := c.requestToken(ctx, as.tokenEndpoint, credsOf(client, c.opts.ClientSecret), form, scope)
	if err != nil {
		if isInvalidClient(err) && client.Kind == kindDynamic && st.entry != nil {
			// The server forgot our registration: drop it, so the next
			// attempt registers again.
			st.entry.Client = nil
			c.save(st)
		}
		return fmt.Errorf("token request: %w", err)
	}

	c.keep(st, info, as, client, tok, explicit)
	fmt.Fprintf(c.opts.Stderr, "mcp-2coffee: signed in to %s.\n", st.url)
	return nil
}

// keep records a new token for st with where it came from (the resource,
// the authorization server's endpoints, the client) and saves the entry.
// A pre-registered client's secret is never stored: it comes from the
// command line each time.
func (c *Client) keep(st *serverState, info *resourceInfo, as *authServer, client *tokencache.Client, tok *tokencache.Token, explicit bool) {
	if st.entry == nil {
		st.entry = &tokencache.Entry{}
	}
	e := st.entry
	e.ServerURL = st.url
	e.Resource = info.resource
	e.Issuer = as.issuer
	e.AuthorizationEndpoint = as.authorizationEndpoint
	e.TokenEndpoint = as.tokenEndpoint
	e.RevocationEndpoint = as.revocationEndpoint
	stored := *client
	if stored.Kind == kindPreregistered {
		stored.Secret = ""
	}
	e.Client = &stored
	e.Token = tok
	st.scopeExplicit = explicit
	st.refreshedToken = ""
	c.save(st)
}

// listen opens the loopback callback. Without a configured port it tries
// the port a cached dynamic registration was made for, so the registration
// (whose redirect URI includes the port) can be reused.
func (c *Client) listen(st *serverState, as *authServer) (*callbackServer, error) {
	if c.opts.CallbackPort != 0 {
		return listenCallback(c.opts.CallbackPort)
	}
	if cl := st.cachedDynamicClient(as.issuer); cl != nil {
		if u, err := url.Parse(cl.RedirectURI); err == nil {
			if p, err := strconv.Atoi(u.Port()); err == nil && p > 0 {
				if cb, err := listenCallback(p); err == nil {
					return cb, nil
				}
				c.log.Debug("registered callback port is busy; using another", "port", p)
			}
		}
	}
	return listenCallback(0)
}

// identity chooses the client identity: pre-registered, else a Client ID
// Metadata Document, else a cached or new dynamic registration.
func (c *Client) identity(ctx context.Context, st *serverState, as *authServer, redirectURI string) (*tokencache.Client, error) {
	now := c.now().UTC().Truncate(time.Second)
	if c.opts.ClientID != "" {
		method := AuthNone
		if c.opts.ClientSecret != "" {
			method = secretAuthMethod(as.authMethods)
			if method == AuthNone {
				method = AuthClientSecretBasic
			}
		}
		return &tokencache.Client{ID: c.opts.ClientID, AuthMethod: method, Kind: kindPreregistered, Issuer: as.issuer, RegisteredAt: now}, nil
	}
	if c.opts.ClientMetadataURL != "" && as.cimdSupported {
		return &tokencache.Client{ID: c.opts.ClientMetadataURL, AuthMethod: AuthNone, Kind: kindMetadataDocument, Issuer: as.issuer, RegisteredAt: now}, nil
	}
	if cl := st.cachedDynamicClient(as.issuer); cl != nil && cl.RedirectURI == redirectURI &&
		(cl.SecretExpiresAt.IsZero() || cl.SecretExpiresAt.After(c.now())) {
		c.log.Debug("reusing registered client", "client_id", cl.ID)
		return cl, nil
	}
	if as.registrationEndpoint == "" {
		hint := "pass --client-id (and --client-secret) of a client registered there"
		if as.cimdSupported {
			hint += ", or --client-metadata-url"
		}
		return nil, fmt.Errorf("authorization server %s does not offer dynamic client registration; %s", as.issuer, hint)
	}
	cl, err := c.register(ctx, as, redirectURI)
	if err != nil {
		return nil, err
	}
	c.log.Debug("registered client", "client_id", cl.ID, "auth_method", cl.AuthMethod)
	if st.entry == nil {
		st.entry = &tokencache.Entry{ServerURL: st.url}
	}
	// Persist the registration at once: even if the sign-in is abandoned,
	// the next attempt reuses it instead of registering again.
	st.entry.Client = cl
	st.entry.Issuer = as.issuer
	c.save(st)
	return cl, nil
}

// Login signs in to serverURL through the browser even if a token is
// cached, reusing a cached client registration. It returns
// ErrNoAuthRequired when the server accepts anonymous requests and
// publishes no protected resource metadata.
func (c *Client) Login(ctx context.Context, serverURL string) error {
	st, err := c.state(serverURL)
	if err != nil {
		return err
	}
	defer st.mu.Unlock()
	ch, err := c.probe(ctx, st.url)
	if err != nil {
		return err
	}
	if ch.Status == 0 {
		info, err := c.discoverResource(ctx, st.url, "")
		if err != nil {
			return err
		}
		if info.legacy {
			return ErrNoAuthRequired
		}
	}
	st.unaccepted.Store(0)
	return c.obtain(ctx, st, ch, nil)
}

// probe sends an unauthenticated initialize request, to read the server's
// challenge. Status is 0 in the result when the server did not refuse.
func (c *Client) probe(ctx context.Context, serverURL string) (Challenge, error) {
	body := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"mcp-2coffee","version":"login"}}}`
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, serverURL, strings.NewReader(body))
	if err != nil {
		return Challenge{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	resp, err := c.http.Do(req)
	if err != nil {
		return Challenge{}, err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, oauthmeta.MaxDocumentBytes))
	resp.Body.Close()
	if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
		return ParseChallenge(resp.StatusCode, resp.Header), nil
	}
	if sid := resp.Header.Get("Mcp-Session-Id"); sid != "" {
		// We opened a session only to look; close it.
		del, err := http.NewRequestWithContext(ctx, http.MethodDelete, serverURL, nil)
		if err == nil {
			del.Header.Set("Mcp-Session-Id", sid)
			if r, err := c.http.Do(del); err == nil {
				r.Body.Close()
			}
		}
	}
	return Challenge{}, nil
}

// Logout revokes serverURL's tokens at the authorization server when it
// has a revocation endpoint (RFC 7009), then forgets everything cached for
// the server. A failed revocation is reported on Stderr but does not stop
// the local deletion.
func (c *Client) Logout(ctx context.Context, serverURL string) error {
	st, err := c.state(serverURL)
	if err != nil {
		return err
	}
	defer st.mu.Unlock()
	if err := c.reload(st); err != nil {
		c.log.Warn("cannot read the token cache", "error", err)
	}
	e := st.entry
	if e == nil {
		return ErrNotSignedIn
	}
	if e.RevocationEndpoint != "" && e.Token != nil && e.Client != nil {
		cc := credsOf(e.Client, c.opts.ClientSecret)
		for _, t := range []struct{ value, hint string }{
			{e.Token.RefreshToken, "refresh_token"},
			{e.Token.AccessToken, "access_token"},
		} {
			if t.value == "" {
				continue
			}
			if err := c.revoke(ctx, e.RevocationEndpoint, cc, t.value, t.hint); err != nil {
				fmt.Fprintf(c.opts.Stderr, "mcp-2coffee: could not revoke the %s at %s: %v\n", strings.ReplaceAll(t.hint, "_", " "), e.RevocationEndpoint, err)
			}
		}
	}
	st.entry = nil
	st.scopeExplicit = false
	st.refreshedToken = ""
	if c.opts.Store != nil {
		if err := c.opts.Store.Delete(st.url); err != nil && !errors.Is(err, tokencache.ErrNotFound) {
			return err
		}
	}
	return nil
}
