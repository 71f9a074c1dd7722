package oauthclient

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/2coffee/mcp-2coffee/internal/oauthmeta"
	"github.com/2coffee/mcp-2coffee/internal/tokencache"
)

// Token endpoint authentication methods (RFC 7591 §2).
const (
	AuthNone              = "none"
	AuthClientSecretBasic = "client_secret_basic"
	AuthClientSecretPost  = "client_secret_post"
)

// randomToken returns n bytes from crypto/rand, base64url-encoded. With
// n = 32 it is a valid PKCE verifier (43 characters, RFC 7636 §4.1).
func randomToken(n int) string {
	b := make([]byte, n)
	rand.Read(b) // never fails (crypto/rand documents it panics instead)
	return base64.RawURLEncoding.EncodeToString(b)
}

// s256 is the PKCE S256 challenge of a verifier (RFC 7636 §4.2).
func s256(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// TokenError is an error response from a token, registration or
// revocation endpoint (RFC 6749 §5.2, RFC 7591 §3.2.2).
type TokenError struct {
	// Status is the HTTP status code.
	Status int
	// Code is the error code, e.g. "invalid_grant".
	Code string `json:"error"`
	// Description is the server's error_description.
	Description string `json:"error_description"`
}

// Error renders the status, code and description.
func (e *TokenError) Error() string {
	msg := fmt.Sprintf("authorization server answered %d", e.Status)
	if e.Code != "" {
		msg += ": " + e.Code
	}
	if e.Description != "" {
		msg += " (" + e.Description + ")"
	}
	return msg
}

// clientCreds is a client identity with the secret it authenticates with,
// or, for private_key_jwt, the function that signs a fresh assertion.
type clientCreds struct {
	id, secret, method string
	assert             func() (string, error)
}

func credsOf(cl *tokencache.Client, preregSecret string) clientCreds {
	secret := cl.Secret
	if cl.Kind == kindPreregistered {
		secret = preregSecret
	}
	return clientCreds{id: cl.ID, secret: secret, method: cl.AuthMethod}
}

// apply adds client authentication to a token-endpoint style request
// (RFC 6749 §2.3.1). For Basic, id and secret are form-encoded first, as
// that section requires.
func (cc clientCreds) apply(req *http.Request, form url.Values) error {
	switch cc.method {
	case AuthPrivateKeyJWT:
		a, err := cc.assert()
		if err != nil {
			return fmt.Errorf("signing the client assertion: %w", err)
		}
		form.Set("client_id", cc.id)
		form.Set("client_assertion_type", clientAssertionType)
		form.Set("client_assertion", a)
	case AuthClientSecretBasic:
		oauthmeta.SetClientSecretBasic(req, cc.id, cc.secret)
	case AuthClientSecretPost:
		form.Set("client_id", cc.id)
		form.Set("client_secret", cc.secret)
	default: // none: a public client identifies itself only
		form.Set("client_id", cc.id)
	}
	return nil
}

// The range of expires_in values taken at face value, in seconds.
const (
	minExpiresIn = 1
	maxExpiresIn = 10 * 366 * 24 * 60 * 60 // about ten years
)

// tokenResponse is RFC 6749 §5.1.
type tokenResponse struct {
	AccessToken  string      `json:"access_token"`
	TokenType    string      `json:"token_type"`
	RefreshToken string      `json:"refresh_token"`
	ExpiresIn    json.Number `json:"expires_in"`
	Scope        string      `json:"scope"`
}

// postForm sends a form to an authorization server endpoint with client
// authentication, and decodes a JSON answer into v (when non-nil). The
// form never travels in the URL.
func (c *Client) postForm(ctx context.Context, endpoint string, cc clientCreds, form url.Values, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, nil)
	if err != nil {
		return err
	}
	if err := cc.apply(req, form); err != nil {
		return err
	}
	body := form.Encode()
	req.Body = io.NopCloser(strings.NewReader(body))
	req.ContentLength = int64(len(body))
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(body)), nil }
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, oauthmeta.MaxDocumentBytes))
	if err != nil {
		return err
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		te := &TokenError{Status: resp.StatusCode}
		_ = json.Unmarshal(data, te)
		return te
	}
	if v == nil {
		return nil
	}
	// A few servers (GitHub among them) answer form-encoded unless told
	// otherwise; we asked for JSON but accept both.
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt == "application/x-www-form-urlencoded" || mt == "text/plain" {
		vals, err := url.ParseQuery(string(data))
		if err != nil {
			return fmt.Errorf("token response: %w", err)
		}
		if vals.Get("error") != "" {
			return &TokenError{Status: resp.StatusCode, Code: vals.Get("error"), Description: vals.Get("error_description")}
		}
		tr, ok := v.(*tokenResponse)
		if !ok {
			return errors.New("unexpected form-encoded response")
		}
		*tr = tokenResponse{
			AccessToken:  vals.Get("access_token"),
			TokenType:    vals.Get("token_type"),
			RefreshToken: vals.Get("refresh_token"),
			ExpiresIn:    json.Number(vals.Get("expires_in")),
			Scope:        vals.Get("scope"),
		}
		return nil
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("decoding response from %s: %w", endpoint, err)
	}
	return nil
}

// requestToken performs a token request (authorization_code or
// refresh_token grant) and returns the new token set. requestedScope is
// recorded when the server does not say what it granted (RFC 6749 §5.1:
// then it granted what was asked); explicitScope reports whether it said.
func (c *Client) requestToken(ctx context.Context, endpoint string, cc clientCreds, form url.Values, requestedScope string) (_ *tokencache.Token, explicitScope bool, _ error) {
	var tr tokenResponse
	if err := c.postForm(ctx, endpoint, cc, form, &tr); err != nil {
		return nil, false, err
	}
	if tr.AccessToken == "" {
		return nil, false, errors.New("token response has no access_token")
	}
	if tr.TokenType != "" && !strings.EqualFold(tr.TokenType, "bearer") {
		return nil, false, fmt.Errorf("token type %q is not supported (want Bearer)", tr.TokenType)
	}
	t := &tokencache.Token{
		AccessToken:  tr.AccessToken,
		TokenType:    "Bearer",
		RefreshToken: tr.RefreshToken,
		Scope:        tr.Scope,
	}
	if t.Scope == "" {
		t.Scope = requestedScope
	}
	if tr.ExpiresIn != "" {
		// Only a plausible lifetime counts; anything else (0, negative,
		// NaN, or so large that the duration would overflow) is an
		// unknown expiry rather than one that is always in the past.
		if secs, err := strconv.ParseFloat(string(tr.ExpiresIn), 64); err == nil && secs >= minExpiresIn && secs <= maxExpiresIn {
			t.Expiry = c.now().Add(time.Duration(secs * float64(time.Second))).UTC().Truncate(time.Second)
		}
	}
	return t, tr.Scope != "", nil
}

// revoke asks the authorization server to forget a token (RFC 7009).
func (c *Client) revoke(ctx context.Context, endpoint string, cc clientCreds, token, hint string) error {
	form := url.Values{"token": {token}}
	if hint != "" {
		form.Set("token_type_hint", hint)
	}
	return c.postForm(ctx, endpoint, cc, form, nil)
}

// registrationRequest is the RFC 7591 client metadata we send.
type registrationRequest struct {
	RedirectURIs            []string `json:"redirect_uris"`
	TokenEndpointAuthMethod string   `json:"token_endpoint_auth_method"`
	GrantTypes              []string `json:"grant_types"`
	ResponseTypes           []string `json:"response_types"`
	ClientName              string   `json:"client_name"`
	ApplicationType         string   `json:"application_type"`
	Scope                   string   `json:"scope,omitempty"`
}

// registrationResponse is RFC 7591 §3.2.1.
type registrationResponse struct {
	ClientID                string `json:"client_id"`
	ClientSecret            string `json:"client_secret"`
	ClientSecretExpiresAt   int64  `json:"client_secret_expires_at"`
	TokenEndpointAuthMethod string `json:"token_endpoint_auth_method"`
}

// register performs dynamic client registration as a native public
// client (RFC 7591, RFC 8252).
func (c *Client) register(ctx context.Context, as *authServer, redirectURI string) (*tokencache.Client, error) {
	body, err := json.Marshal(registrationRequest{
		RedirectURIs:            []string{redirectURI},
		TokenEndpointAuthMethod: AuthNone,
		GrantTypes:              []string{"authorization_code", "refresh_token"},
		ResponseTypes:           []string{"code"},
		ClientName:              c.opts.ClientName,
		ApplicationType:         "native",
	})
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, as.registrationEndpoint, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("client registration: %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, oauthmeta.MaxDocumentBytes))
	if err != nil {
		return nil, fmt.Errorf("client registration: %w", err)
	}
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
		te := &TokenError{Status: resp.StatusCode}
		_ = json.Unmarshal(data, te)
		return nil, fmt.Errorf("client registration at %s: %w", as.registrationEndpoint, te)
	}
	var rr registrationResponse
	if err := json.Unmarshal(data, &rr); err != nil {
		return nil, fmt.Errorf("client registration: %w", err)
	}
	if rr.ClientID == "" {
		return nil, errors.New("client registration: response has no client_id")
	}
	cl := &tokencache.Client{
		ID:           rr.ClientID,
		Secret:       rr.ClientSecret,
		AuthMethod:   registeredAuthMethod(rr, as.authMethods),
		Kind:         kindDynamic,
		Issuer:       as.issuer,
		RedirectURI:  redirectURI,
		RegisteredAt: c.now().UTC().Truncate(time.Second),
	}
	if rr.ClientSecretExpiresAt > 0 {
		cl.SecretExpiresAt = time.Unix(rr.ClientSecretExpiresAt, 0).UTC()
	}
	return cl, nil
}

// registeredAuthMethod decides how a dynamically registered client
// authenticates: as the registration response says; else, with a secret,
// the method the server advertises (client_secret_basic, RFC 7591's
// default, when it advertises none); else as a public client.
func registeredAuthMethod(rr registrationResponse, advertised []string) string {
	switch rr.TokenEndpointAuthMethod {
	case AuthNone, AuthClientSecretBasic, AuthClientSecretPost:
		if rr.TokenEndpointAuthMethod != AuthNone && rr.ClientSecret == "" {
			return AuthNone
		}
		return rr.TokenEndpointAuthMethod
	}
	if rr.ClientSecret == "" {
		return AuthNone
	}
	return secretAuthMethod(advertised)
}

// secretAuthMethod picks the method for a client that holds a secret:
// client_secret_basic when advertised (or nothing is), else
// client_secret_post when advertised, else none (the server takes only
// public clients, so the secret is of no use).
func secretAuthMethod(advertised []string) string {
	switch {
	case len(advertised) == 0 || slices.Contains(advertised, AuthClientSecretBasic):
		return AuthClientSecretBasic
	case slices.Contains(advertised, AuthClientSecretPost):
		return AuthClientSecretPost
	case slices.Contains(advertised, AuthNone):
		return AuthNone
	default:
		return AuthClientSecretBasic
	}
}
