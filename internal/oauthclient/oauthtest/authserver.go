package oauthtest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/2coffee/mcp-2coffee/internal/testkit"
)

// ASOptions shapes an AuthServer.
type ASOptions struct {
	// PathPrefix gives the issuer a path ("/tenant1"); endpoints live under
	// it and the metadata at the RFC 8414 path-inserted location.
	PathPrefix string
	// MetadataPaths overrides where the metadata is served (paths on the
	// server); default the RFC 8414 location for the issuer.
	MetadataPaths []string
	// NoMetadata serves no metadata at all (2025-03-26 fallback tests).
	NoMetadata bool
	// NoS256 leaves S256 out of code_challenge_methods_supported.
	NoS256 bool
	// IssuerInMetadata overrides the issuer the metadata claims.
	IssuerInMetadata string
	// IssSupported advertises authorization_response_iss_parameter_supported
	// and sends iss on the redirect.
	IssSupported bool
	// Iss overrides the iss sent on the redirect ("" sends the issuer when
	// IssSupported, nothing otherwise).
	Iss string
	// OmitIss sends no iss even when IssSupported.
	OmitIss bool
	// SendIss sends the right iss without advertising it.
	SendIss bool
	// CIMD advertises client_id_metadata_document_supported and accepts
	// https client IDs.
	CIMD bool
	// NoRegistration leaves out the registration endpoint.
	NoRegistration bool
	// AuthMethods is token_endpoint_auth_methods_supported (default
	// ["none"]).
	AuthMethods []string
	// RegistrationAuthMethod is the token_endpoint_auth_method returned by
	// registration (omitted when "").
	RegistrationAuthMethod string
	// RegistrationSecret, when set, is issued to registered clients.
	RegistrationSecret string
	// Preregistered maps client IDs to secrets ("" for public clients).
	Preregistered map[string]string
	// ScopesSupported goes into the metadata.
	ScopesSupported []string
	// ExpiresIn is the access token lifetime in seconds (default 3600).
	ExpiresIn int
	// GrantScope decides the granted scope from the requested one
	// (default: grant what is asked).
	GrantScope func(requested string) string
	// OmitScope leaves scope out of token responses.
	OmitScope bool
	// Revocation adds a revocation endpoint.
	Revocation bool
}

// TokenRequest is one recorded token endpoint request.
type TokenRequest struct {
	Form   url.Values
	Header http.Header
	// AuthMethod is how the client authenticated: "client_secret_basic",
	// "client_secret_post" or "none".
	AuthMethod string
}

// token is an issued access token.
type token struct {
	clientID string
	scope    string
	resource string
	expiry   time.Time
	revoked  bool
}

type code struct {
	clientID, redirectURI, challenge, resource, scope string
	used                                              bool
}

type client struct {
	secret       string
	method       string
	redirectURIs []string
}

// AuthServer is the test authorization server.
type AuthServer struct {
	Server *httptest.Server
	opts   ASOptions

	mu sync.Mutex
	// Recorded requests, for assertions.
	Registrations    []map[string]any
	AuthRequests     []url.Values
	TokenRequests    []TokenRequest
	Revocations      []url.Values
	MetadataRequests []string
	clients          map[string]*client
	codes            map[string]*code
	tokens           map[string]*token
	refresh          map[string]*token
}

// NewAuthServer starts an AuthServer on 127.0.0.1.
func NewAuthServer(t testing.TB, opts ASOptions) *AuthServer {
	as := NewAuthServerHandler(opts)
	as.Server = testkit.Serve(t, as)
	return as
}

// NewAuthServerHandler returns an AuthServer that is not started: mount it
// on a server of your own and set Server.
func NewAuthServerHandler(opts ASOptions) *AuthServer {
	if opts.AuthMethods == nil {
		opts.AuthMethods = []string{"none"}
	}
	if opts.ExpiresIn == 0 {
		opts.ExpiresIn = 3600
	}
	as := &AuthServer{
		opts:    opts,
		clients: map[string]*client{},
		codes:   map[string]*code{},
		tokens:  map[string]*token{},
		refresh: map[string]*token{},
	}
	for id, secret := range opts.Preregistered {
		method := "none"
		if secret != "" {
			method = "client_secret_basic"
		}
		as.clients[id] = &client{secret: secret, method: method}
	}
	return as
}

// Issuer is the issuer identifier.
func (as *AuthServer) Issuer() string { return as.Server.URL + as.opts.PathPrefix }

// MetadataPaths returns the paths where the metadata is served.
func (as *AuthServer) MetadataPaths() []string {
	if as.opts.MetadataPaths != nil {
		return as.opts.MetadataPaths
	}
	return []string{"/.well-known/oauth-authorization-server" + as.opts.PathPrefix}
}

// ServeHTTP routes metadata, authorize, token, register and revoke.
func (as *AuthServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	if !as.opts.NoMetadata && slices.Contains(as.MetadataPaths(), p) {
		as.serveMetadata(w, r)
		return
	}
	if strings.HasPrefix(p, "/.well-known/") {
		as.mu.Lock()
		as.MetadataRequests = append(as.MetadataRequests, p)
		as.mu.Unlock()
		http.NotFound(w, r)
		return
	}
	switch strings.TrimPrefix(p, as.opts.PathPrefix) {
	case "/authorize":
		as.serveAuthorize(w, r)
	case "/token":
		as.serveToken(w, r)
	case "/register":
		if as.opts.NoRegistration {
			http.NotFound(w, r)
			return
		}
		as.serveRegister(w, r)
	case "/revoke":
		if !as.opts.Revocation {
			http.NotFound(w, r)
			return
		}
		as.serveRevoke(w, r)
	default:
		http.NotFound(w, r)
	}
}

func (as *AuthServer) serveMetadata(w http.ResponseWriter, r *http.Request) {
	as.mu.Lock()
	as.MetadataRequests = append(as.MetadataRequests, r.URL.Path)
	as.mu.Unlock()
	iss := as.Issuer()
	m := map[string]any{
		"issuer":                                iss,
		"authorization_endpoint":                iss + "/authorize",
		"token_endpoint":                        iss + "/token",
		"response_types_supported":              []string{"code"},
		"grant_types_supported":                 []string{"authorization_code", "refresh_token"},
		"token_endpoint_auth_methods_supported": as.opts.AuthMethods,
		"code_challenge_methods_supported":      []string{"S256"},
	}
	if as.opts.IssuerInMetadata != "" {
		m["issuer"] = as.opts.IssuerInMetadata
	}
	if as.opts.NoS256 {
		m["code_challenge_methods_supported"] = []string{"plain"}
	}
	if !as.opts.NoRegistration {
		m["registration_endpoint"] = iss + "/register"
	}
	if as.opts.Revocation {
		m["revocation_endpoint"] = iss + "/revoke"
	}
	if as.opts.IssSupported {
		m["authorization_response_iss_parameter_supported"] = true
	}
	if as.opts.CIMD {
		m["client_id_metadata_document_supported"] = true
	}
	if as.opts.ScopesSupported != nil {
		m["scopes_supported"] = as.opts.ScopesSupported
	}
	writeJSON(w, http.StatusOK, m)
}

func (as *AuthServer) serveRegister(w http.ResponseWriter, r *http.Request) {
	var meta map[string]any
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&meta); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_client_metadata"})
		return
	}
	var redirects []string
	if l, ok := meta["redirect_uris"].([]any); ok {
		for _, v := range l {
			if s, ok := v.(string); ok {
				redirects = append(redirects, s)
			}
		}
	}
	if len(redirects) == 0 {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_redirect_uri"})
		return
	}
	as.mu.Lock()
	as.Registrations = append(as.Registrations, meta)
	id := fmt.Sprintf("client-%d", len(as.Registrations))
	method := as.opts.RegistrationAuthMethod
	if method == "" {
		method = "none"
		if as.opts.RegistrationSecret != "" {
			method = "client_secret_basic"
		}
	}
	as.clients[id] = &client{secret: as.opts.RegistrationSecret, method: method, redirectURIs: redirects}
	as.mu.Unlock()
	resp := map[string]any{"client_id": id, "redirect_uris": redirects, "client_name": meta["client_name"]}
	if as.opts.RegistrationSecret != "" {
		resp["client_secret"] = as.opts.RegistrationSecret
		resp["client_secret_expires_at"] = 0
	}
	if as.opts.RegistrationAuthMethod != "" {
		resp["token_endpoint_auth_method"] = as.opts.RegistrationAuthMethod
	}
	writeJSON(w, http.StatusCreated, resp)
}

// redirectAllowed matches exactly, except that a loopback redirect may use
// any port (RFC 8252 §7.3).
func redirectAllowed(registered []string, got string) bool {
	if slices.Contains(registered, got) {
		return true
	}
	g, err := url.Parse(got)
	if err != nil || g.Hostname() != "127.0.0.1" {
		return false
	}
	for _, r := range registered {
		u, err := url.Parse(r)
		if err == nil && u.Scheme == g.Scheme && u.Hostname() == g.Hostname() && u.Path == g.Path {
			return true
		}
	}
	return false
}

func (as *AuthServer) serveAuthorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	as.mu.Lock()
	as.AuthRequests = append(as.AuthRequests, q)
	cl := as.clients[q.Get("client_id")]
	as.mu.Unlock()
	redirect := q.Get("redirect_uri")
	switch {
	case as.opts.CIMD && strings.HasPrefix(q.Get("client_id"), "https://"):
		// A metadata document client: a real server would fetch it.
	case cl == nil:
		http.Error(w, "unknown client", http.StatusBadRequest)
		return
	case cl.redirectURIs != nil && !redirectAllowed(cl.redirectURIs, redirect):
		http.Error(w, "redirect_uri not registered", http.StatusBadRequest)
		return
	}
	if q.Get("response_type") != "code" || q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" {
		http.Error(w, "PKCE S256 required", http.StatusBadRequest)
		return
	}
	c := randomString("code-")
	as.mu.Lock()
	as.codes[c] = &code{
		clientID: q.Get("client_id"), redirectURI: redirect, challenge: q.Get("code_challenge"),
		resource: q.Get("resource"), scope: q.Get("scope"),
	}
	as.mu.Unlock()
	u, err := url.Parse(redirect)
	if err != nil {
		http.Error(w, "bad redirect_uri", http.StatusBadRequest)
		return
	}
	rq := u.Query()
	rq.Set("code", c)
	rq.Set("state", q.Get("state"))
	switch {
	case as.opts.OmitIss:
	case as.opts.Iss != "":
		rq.Set("iss", as.opts.Iss)
	case as.opts.IssSupported, as.opts.SendIss:
		rq.Set("iss", as.Issuer())
	}
	u.RawQuery = rq.Encode()
	http.Redirect(w, r, u.String(), http.StatusFound)
}

func (as *AuthServer) serveToken(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		tokenError(w, http.StatusBadRequest, "invalid_request")
		return
	}
	form := r.PostForm
	tr := TokenRequest{Form: form, Header: r.Header.Clone(), AuthMethod: "none"}
	clientID := form.Get("client_id")
	var secret string
	if id, s, ok := r.BasicAuth(); ok {
		tr.AuthMethod = "client_secret_basic"
		clientID, _ = url.QueryUnescape(id)
		secret, _ = url.QueryUnescape(s)
	} else if form.Has("client_secret") {
		tr.AuthMethod = "client_secret_post"
		secret = form.Get("client_secret")
	}
	as.mu.Lock()
	defer as.mu.Unlock()
	as.TokenRequests = append(as.TokenRequests, tr)
	cl := as.clients[clientID]
	isCIMD := as.opts.CIMD && strings.HasPrefix(clientID, "https://")
	if !isCIMD && (cl == nil || cl.secret != secret || (cl.secret != "" && cl.method != tr.AuthMethod)) {
		tokenError(w, http.StatusUnauthorized, "invalid_client")
		return
	}
	switch form.Get("grant_type") {
	case "authorization_code":
		c := as.codes[form.Get("code")]
		if c == nil || c.used || c.clientID != clientID || c.redirectURI != form.Get("redirect_uri") ||
			c.resource != form.Get("resource") || s256(form.Get("code_verifier")) != c.challenge {
			tokenError(w, http.StatusBadRequest, "invalid_grant")
			return
		}
		c.used = true
		as.issue(w, clientID, as.grant(c.scope), c.resource)
	case "refresh_token":
		old := as.refresh[form.Get("refresh_token")]
		if old == nil || old.revoked || old.clientID != clientID || (form.Has("resource") && form.Get("resource") != old.resource) {
			tokenError(w, http.StatusBadRequest, "invalid_grant")
			return
		}
		old.revoked = true // rotation
		as.issue(w, clientID, old.scope, old.resource)
	default:
		tokenError(w, http.StatusBadRequest, "unsupported_grant_type")
	}
}

func (as *AuthServer) grant(requested string) string {
	if as.opts.GrantScope != nil {
		return as.opts.GrantScope(requested)
	}
	return requested
}

// issue writes a token response; as.mu is held.
func (as *AuthServer) issue(w http.ResponseWriter, clientID, scope, resource string) {
	at, rt := randomString("at-"), randomString("rt-")
	t := &token{clientID: clientID, scope: scope, resource: resource, expiry: time.Now().Add(time.Duration(as.opts.ExpiresIn) * time.Second)}
	as.tokens[at] = t
	rtok := *t
	as.refresh[rt] = &rtok
	resp := map[string]any{"access_token": at, "token_type": "Bearer", "expires_in": as.opts.ExpiresIn, "refresh_token": rt}
	if scope != "" && !as.opts.OmitScope {
		resp["scope"] = scope
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, resp)
}

func (as *AuthServer) serveRevoke(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		tokenError(w, http.StatusBadRequest, "invalid_request")
		return
	}
	as.mu.Lock()
	defer as.mu.Unlock()
	as.Revocations = append(as.Revocations, r.PostForm)
	v := r.PostForm.Get("token")
	if t := as.tokens[v]; t != nil {
		t.revoked = true
	}
	if t := as.refresh[v]; t != nil {
		t.revoked = true
	}
	w.WriteHeader(http.StatusOK)
}

// Verify checks an access token: valid, not revoked, not expired, and for
// resource. It returns the granted scopes.
func (as *AuthServer) Verify(accessToken, resource string) ([]string, bool) {
	as.mu.Lock()
	defer as.mu.Unlock()
	t := as.tokens[accessToken]
	if t == nil || t.revoked || time.Now().After(t.expiry) || (resource != "" && t.resource != resource) {
		return nil, false
	}
	return strings.Fields(t.scope), true
}

// RevokeAccessTokens revokes every access token but no refresh token, as
// if they had all expired early.
func (as *AuthServer) RevokeAccessTokens() {
	as.mu.Lock()
	defer as.mu.Unlock()
	for _, t := range as.tokens {
		t.revoked = true
	}
}

// RevokeAll revokes every token, as an administrator would.
func (as *AuthServer) RevokeAll() {
	as.mu.Lock()
	defer as.mu.Unlock()
	for _, t := range as.tokens {
		t.revoked = true
	}
	for _, t := range as.refresh {
		t.revoked = true
	}
}

// Counts returns how many registrations, authorization requests and token
// requests were made.
func (as *AuthServer) Counts() (registrations, authorizations, tokens int) {
	as.mu.Lock()
	defer as.mu.Unlock()
	return len(as.Registrations), len(as.AuthRequests), len(as.TokenRequests)
}

// Snapshot returns copies of the recorded requests.
func (as *AuthServer) Snapshot() (regs []map[string]any, auths []url.Values, toks []TokenRequest, revs []url.Values, meta []string) {
	as.mu.Lock()
	defer as.mu.Unlock()
	return slices.Clone(as.Registrations), slices.Clone(as.AuthRequests), slices.Clone(as.TokenRequests), slices.Clone(as.Revocations), slices.Clone(as.MetadataRequests)
}
