// Package authserver is the built-in OAuth 2.1 authorization server of
// mcp-2coffee: RFC 8414 metadata, dynamic client registration (RFC 7591),
// Client ID Metadata Documents, the authorization endpoint with sign-in
// and consent pages, the token endpoint (authorization code with PKCE
// S256, refresh tokens with rotation and reuse detection), revocation
// (RFC 7009) and introspection (RFC 7662). It also verifies its own
// access tokens for the resource server (VerifyAccessToken).
//
// This package is the HTTP side only: endpoints, pages, cookies, rate
// limits, and the rules a request must follow (redirect URIs, PKCE,
// scopes). The records, their store contracts, the operator's Admin API,
// password hashing and the secret format are the domain, in
// internal/oauth. Each endpoint is a type holding only the store
// capabilities it uses (oauth.Clients, oauth.Tokens, …); New hands them
// out from the one oauth.Store of Config.
//
// Tokens, codes, session ids and client secrets are opaque random strings
// with recognisable prefixes (oauth.NewSecret); only their SHA-256 is
// stored, so a database leak yields nothing usable, and revocation is a
// row update that every replica sees on the next request. Passwords are
// hashed with argon2id (oauth.HashPassword).
//
// Nothing lives in the process but rate-limit buckets: sessions, pending
// codes, lockouts and tokens are in the store, and an authorization
// request travels through the login and consent forms as a query string
// that is checked again at every step. Any replica can serve any step.
package authserver
