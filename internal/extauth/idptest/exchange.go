package idptest

import (
	"crypto/rand"
	"fmt"
	"net/http"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// The enterprise-managed authorization side: the provider as an
// enterprise identity provider that exchanges an ID token it issued to an
// MCP client for an ID-JAG (RFC 8693 token exchange), addressed to the
// authorization server the client names.

// The MCP client's registration at the provider, with which it exchanges
// ID tokens.
const (
	AgentClientID     = "mcp-agent"
	AgentClientSecret = "agent-secret-0123456789"
)

// Token exchange parameters (RFC 8693, and the ID-JAG draft's token type).
const (
	GrantTokenExchange = "urn:ietf:params:oauth:grant-type:token-exchange"
	TokenTypeIDToken   = "urn:ietf:params:oauth:token-type:id_token"
	TokenTypeIDJAG     = "urn:ietf:params:oauth:token-type:id-jag"
)

// IDToken is an ID token for person issued to the MCP client
// (AgentClientID), as its sign-in at the provider gives it; the provider
// exchanges it until it expires.
func (p *Provider) IDToken(person Person) string {
	now := time.Now()
	tok := p.Sign(map[string]any{"iss": p.URL, "sub": person.Subject, "aud": AgentClientID,
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "email": person.Email,
		"email_verified": person.EmailVerified, "preferred_username": person.PreferredUsername, "name": person.Name,
	}, nil, jose.RS256, "", "JWT")
	p.mu.Lock()
	p.idTokens[tok] = person
	p.mu.Unlock()
	return tok
}

// GrantClientID sets the client_id the ID-JAGs name: the MCP client's id
// at the authorization server they are for, which the provider knows from
// its administrator.
func (p *Provider) GrantClientID(id string) {
	p.mu.Lock()
	p.grantClientID = id
	p.mu.Unlock()
}

// GrantScope, when set, is the scope the provider's policy grants,
// whatever the client asked for ("-" grants none: the claim is left out).
func (p *Provider) GrantScope(scope string) {
	p.mu.Lock()
	p.grantScope = scope
	p.mu.Unlock()
}

// Exchanges counts token exchange requests; LastExchange is the form of
// the last one.
func (p *Provider) Exchanges() int { return int(p.exchanges.Load()) }

// IDJAG is a good ID-JAG for person, for the authorization server aud and
// the resource, naming clientID, changed by edit.
func (p *Provider) IDJAG(person Person, aud, resource, clientID, scope string, edit func(map[string]any)) string {
	now := time.Now()
	c := map[string]any{"iss": p.URL, "sub": person.Subject, "aud": aud, "client_id": clientID,
		"jti": rand.Text(), "iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix()}
	if resource != "" {
		c["resource"] = resource
	}
	if scope != "" {
		c["scope"] = scope
	}
	if person.Email != "" {
		c["email"], c["email_verified"] = person.Email, person.EmailVerified
	}
	if person.PreferredUsername != "" {
		c["preferred_username"] = person.PreferredUsername
	}
	if edit != nil {
		edit(c)
	}
	return p.Sign(c, nil, jose.RS256, "", "oauth-id-jag+jwt")
}

// exchange answers a token exchange request: the MCP client
// authenticated, an ID token this provider issued to it, an ID-JAG asked
// for an audience; the answer is an ID-JAG for the ID token's person.
func (p *Provider) exchange(w http.ResponseWriter, r *http.Request) {
	p.exchanges.Add(1)
	fail := func(status int, code, desc string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"error":%q,"error_description":%q}`, code, desc)
	}
	id, secret, ok := r.BasicAuth()
	if !ok {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	if id != AgentClientID || secret != AgentClientSecret {
		fail(http.StatusUnauthorized, "invalid_client", "client authentication failed")
		return
	}
	f := r.PostForm
	p.mu.Lock()
	person, known := p.idTokens[f.Get("subject_token")]
	clientID, scope := p.grantClientID, p.grantScope
	p.mu.Unlock()
	switch {
	case f.Get("subject_token_type") != TokenTypeIDToken, f.Get("requested_token_type") != TokenTypeIDJAG, f.Get("audience") == "":
		fail(http.StatusBadRequest, "invalid_request", "want an id_token subject_token, an id-jag requested_token_type and an audience")
		return
	case !known:
		fail(http.StatusBadRequest, "invalid_grant", "the subject token is not an ID token of this provider")
		return
	}
	switch scope {
	case "":
		scope = f.Get("scope")
	case "-":
		scope = ""
	}
	jag := p.IDJAG(person, f.Get("audience"), f.Get("resource"), clientID, scope, nil)
	resp := map[string]any{"access_token": jag, "issued_token_type": TokenTypeIDJAG, "token_type": "N_A", "expires_in": 300}
	if scope != "" {
		resp["scope"] = scope
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, resp)
}
