// Package oidclogin signs a person in at an OpenID Connect provider for
// the built-in authorization server (serve --login-provider oidc): the
// authorization code flow as a confidential client, with PKCE (S256),
// state and nonce, and the ID token verified with go-oidc. It says who
// the person is there (issuer and subject, with the email the provider
// vouches for) and whether the operator's allow-lists let them in; the
// authorization server keeps the browser's side (cookies, pages) and the
// local account.
package oidclogin

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/2coffee/mcp-2coffee/internal/oauthmeta"
	"github.com/2coffee/mcp-2coffee/internal/webaddr"
)

// Config describes the provider and who may sign in through it.
type Config struct {
	// Issuer is the provider's issuer; its OpenID Connect metadata is
	// read from it. ClientID and ClientSecret are this server's client
	// there; RedirectURL is where the provider sends the browser back
	// (the authorization server's callback). All required.
	Issuer, ClientID, ClientSecret, RedirectURL string
	// Scopes asked for; nil is openid, email and profile.
	Scopes []string
	// Name is what the sign-in page calls the provider ("Sign in with
	// …"); empty is the issuer's host.
	Name string
	// Who may sign in: a person whose verified email is in one of
	// AllowEmailDomains, or whose subject is in AllowSubjects, or anyone
	// the provider signs in when AllowAnyone (for a provider whose users
	// are all the operator's, such as a company's own realm). One of the
	// three is required.
	AllowEmailDomains, AllowSubjects []string
	AllowAnyone                      bool
	// HTTPClient reaches the provider; nil is a client with a 10 s
	// timeout that follows redirects only within the same origin.
	HTTPClient *http.Client
}

// Provider is the configured provider, discovered.
type Provider struct {
	cfg    Config
	issuer string
	// issInRedirect: the provider names itself in the redirect back.
	issInRedirect bool
	oauth         oauth2.Config
	verifier      *oidc.IDTokenVerifier
	client        *http.Client
}

// New discovers the provider (OpenID Connect Discovery, with the issuer
// check) and checks the configuration.
func New(ctx context.Context, cfg Config) (*Provider, error) {
	switch {
	case cfg.Issuer == "" || cfg.ClientID == "" || cfg.ClientSecret == "" || cfg.RedirectURL == "":
		return nil, errors.New("the issuer, client id, client secret and redirect URL are required")
	case !cfg.AllowAnyone && len(cfg.AllowEmailDomains) == 0 && len(cfg.AllowSubjects) == 0:
		return nil, errors.New("say who may sign in: allowed email domains, allowed subjects, or anyone the provider signs in")
	}
	if err := oauthmeta.CheckEndpoint("issuer", cfg.Issuer); err != nil {
		return nil, err
	}
	for i, d := range cfg.AllowEmailDomains {
		d = strings.ToLower(strings.TrimPrefix(strings.TrimSpace(d), "@"))
		if !asciiDomain(d) {
			return nil, fmt.Errorf("allowed email domain %q is not a domain name (write it in ASCII, an internationalized one as xn--…; no wildcards: each domain is matched exactly)", cfg.AllowEmailDomains[i])
		}
		cfg.AllowEmailDomains[i] = d
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second, CheckRedirect: webaddr.SameOriginRedirects(nil)}
	}
	if cfg.Scopes == nil {
		cfg.Scopes = []string{oidc.ScopeOpenID, "email", "profile"}
	}
	if !slices.Contains(cfg.Scopes, oidc.ScopeOpenID) {
		cfg.Scopes = append([]string{oidc.ScopeOpenID}, cfg.Scopes...)
	}
	if cfg.Name == "" {
		if u, err := url.Parse(cfg.Issuer); err == nil {
			cfg.Name = u.Hostname()
		}
	}
	op, err := oidc.NewProvider(oidc.ClientContext(ctx, cfg.HTTPClient), cfg.Issuer)
	if err != nil {
		return nil, err
	}
	var meta struct {
		PKCE    []string `json:"code_challenge_methods_supported"`
		JWKS    string   `json:"jwks_uri"`
		SendsIs bool     `json:"authorization_response_iss_parameter_supported"`
	}
	_ = op.Claims(&meta)
	ep := op.Endpoint()
	for name, e := range map[string]string{"authorization_endpoint": ep.AuthURL, "token_endpoint": ep.TokenURL, "jwks_uri": meta.JWKS} {
		if err := oauthmeta.CheckEndpoint(name, e); err != nil {
			return nil, err
		}
	}
	if len(meta.PKCE) > 0 && !slices.Contains(meta.PKCE, "S256") {
		// A provider that says nothing may still do PKCE (Entra ID does
		// and does not say so); one that lists methods without S256 does
		// not.
		return nil, fmt.Errorf("the provider does not support PKCE with S256 (code_challenge_methods_supported: %q)", meta.PKCE)
	}
	return &Provider{
		cfg:           cfg,
		issuer:        cfg.Issuer,
		issInRedirect: meta.SendsIs,
		oauth: oauth2.Config{
			ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret,
			Endpoint: ep, RedirectURL: cfg.RedirectURL, Scopes: cfg.Scopes,
		},
		verifier: op.VerifierContext(oidc.ClientContext(context.WithoutCancel(ctx), cfg.HTTPClient), &oidc.Config{ClientID: cfg.ClientID}),
		client:   cfg.HTTPClient,
	}, nil
}

// Issuer is the provider's issuer identifier.
func (p *Provider) Issuer() string { return p.issuer }

// SendsIssuer reports whether the provider says it names itself in the
// redirect back (RFC 9207 authorization_response_iss_parameter_supported):
// then an answer without iss is refused.
func (p *Provider) SendsIssuer() bool { return p.issInRedirect }

// Name is what the sign-in page calls the provider.
func (p *Provider) Name() string { return p.cfg.Name }

// Pending is a sign-in under way: what the browser's callback must match
// (State) and what proves the code and ID token are this sign-in's
// (Verifier, Nonce). The authorization server keeps it in the browser.
type Pending struct {
	State    string `json:"s"`
	Nonce    string `json:"n"`
	Verifier string `json:"v"`
}

// Start begins a sign-in: the URL to send the browser to, and what to
// keep until it comes back. reauthenticate asks the provider to sign the
// person in again rather than rely on its own session (prompt=login), and
// maxAge, when not negative, bounds how old the provider's sign-in may be
// (max_age): what the MCP client asked of this server is asked of the
// provider, or a step-up would be satisfied by a session nobody renewed.
func (p *Provider) Start(reauthenticate bool, maxAge time.Duration) (string, Pending) {
	pend := Pending{State: oauth2.GenerateVerifier(), Nonce: oauth2.GenerateVerifier(), Verifier: oauth2.GenerateVerifier()}
	opts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(pend.Verifier), oidc.Nonce(pend.Nonce)}
	if reauthenticate {
		opts = append(opts, oauth2.SetAuthURLParam("prompt", "login"))
	}
	if maxAge >= 0 {
		opts = append(opts, oauth2.SetAuthURLParam("max_age", strconv.FormatInt(int64(maxAge/time.Second), 10)))
	}
	return p.oauth.AuthCodeURL(pend.State, opts...), pend
}

// StateMatches compares the state that came back with the pending one in
// constant time.
func (pend Pending) StateMatches(state string) bool {
	return pend.State != "" && subtle.ConstantTimeCompare([]byte(pend.State), []byte(state)) == 1
}

// Identity is who signed in, as the ID token says.
type Identity struct {
	Issuer, Subject   string
	Email             string
	EmailVerified     bool
	Name              string
	PreferredUsername string
}

// Finish exchanges the code (with the PKCE verifier) and verifies the ID
// token: signature, issuer, audience (this client; azp when there are
// several), expiry, and the nonce of this sign-in.
func (p *Provider) Finish(ctx context.Context, pend Pending, code string) (*Identity, error) {
	ctx = oidc.ClientContext(ctx, p.client)
	tok, err := p.oauth.Exchange(ctx, code, oauth2.VerifierOption(pend.Verifier))
	if err != nil {
		return nil, fmt.Errorf("exchanging the code: %w", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return nil, errors.New("the provider returned no ID token")
	}
	idt, err := p.verifier.Verify(ctx, raw)
	if err != nil {
		return nil, fmt.Errorf("the ID token: %w", err)
	}
	if pend.Nonce == "" || subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(pend.Nonce)) != 1 {
		return nil, errors.New("the ID token's nonce is not this sign-in's")
	}
	var c struct {
		Azp               string `json:"azp"`
		Email             string `json:"email"`
		EmailVerified     any    `json:"email_verified"`
		Name              string `json:"name"`
		PreferredUsername string `json:"preferred_username"`
	}
	if err := idt.Claims(&c); err != nil {
		return nil, fmt.Errorf("the ID token's claims: %w", err)
	}
	if (len(idt.Audience) > 1 || c.Azp != "") && c.Azp != p.cfg.ClientID {
		// OpenID Connect Core §3.1.3.7: azp, when present, is this client.
		return nil, fmt.Errorf("the ID token was issued to another authorized party (azp %q)", c.Azp)
	}
	if idt.Subject == "" {
		return nil, errors.New("the ID token has no subject")
	}
	return &Identity{
		Issuer: idt.Issuer, Subject: idt.Subject, Email: c.Email,
		// Some providers send "true" as a string.
		EmailVerified: c.EmailVerified == true || c.EmailVerified == "true",
		Name:          c.Name, PreferredUsername: c.PreferredUsername,
	}, nil
}

// Allowed reports whether id may sign in here: its subject is allowed, or
// its email is verified by the provider and in an allowed domain, or
// anyone may.
func (p *Provider) Allowed(id *Identity) bool {
	if p.cfg.AllowAnyone || slices.Contains(p.cfg.AllowSubjects, id.Subject) {
		return true
	}
	if !id.EmailVerified {
		return false
	}
	at := strings.LastIndexByte(id.Email, '@')
	if at < 1 {
		return false
	}
	// Compared in ASCII only: strings.ToLower would fold the Kelvin sign
	// (U+212A) of a look-alike domain into k.
	d := id.Email[at+1:]
	return asciiDomain(strings.ToLower(d)) && slices.Contains(p.cfg.AllowEmailDomains, strings.ToLower(d))
}

// asciiDomain reports whether d is a domain name in lower-case ASCII:
// labels of a-z, 0-9 and inner hyphens, separated by single dots.
func asciiDomain(d string) bool {
	if d == "" || len(d) > 253 {
		return false
	}
	for label := range strings.SplitSeq(d, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			if c := label[i]; !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}
