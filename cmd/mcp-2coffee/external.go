package main

import (
	"flag"
	"strings"
	"time"

	"github.com/2coffee/mcp-2coffee/internal/extauth"
)

// externalFlags are serve's flags for --oauth=external: which
// authorization server is trusted and how its tokens are read.
type externalFlags struct {
	issuer, audience, scopes, rolesClaim, roleScopes, algorithms string
	introspectionURL, clientID, clientSecretFile                 string
	introspectionCache, minRefetch, clockSkew                    time.Duration
}

func (e *externalFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&e.issuer, "oauth-issuer", "", "with --oauth=external: the issuer URL of the authorization server to trust (its RFC 8414 or OpenID Connect metadata is read from it), e.g. https://id.example.com/realms/blog")
	fs.StringVar(&e.audience, "oauth-audience", "", "with --oauth=external: comma-separated audiences accepted in tokens besides this server's resource URL (an API identifier such as api://blog)")
	fs.StringVar(&e.scopes, "oauth-scopes", "", "with --oauth=external: the provider's names of this server's scopes, as OURS=THEIRS pairs separated by commas, e.g. articles:read=api://blog/articles.read (default: the same names)")
	fs.StringVar(&e.rolesClaim, "oauth-roles-claim", "", "with --oauth=external: a claim whose values grant scopes through --oauth-role-scopes (a dotted path into nested claims, e.g. roles, groups, realm_access.roles)")
	fs.StringVar(&e.roleScopes, "oauth-role-scopes", "", "with --oauth-roles-claim: ROLE=SCOPE pairs separated by commas, e.g. blog-editor=articles:write,blog-reader=articles:read")
	fs.StringVar(&e.algorithms, "oauth-algorithms", "", "with --oauth=external: comma-separated JWT signature algorithms accepted (default: every asymmetric one, RS256 … EdDSA; none and HMACs are never accepted)")
	fs.StringVar(&e.introspectionURL, "oauth-introspection-url", "", "with --oauth=external: verify tokens by RFC 7662 introspection at this URL (for providers whose access tokens are opaque) instead of as JWTs")
	fs.StringVar(&e.clientID, "oauth-client-id", "", "with --oauth-introspection-url: the client id this server authenticates to the introspection endpoint with")
	fs.StringVar(&e.clientSecretFile, "oauth-client-secret-file", "", "with --oauth-introspection-url: a file holding that client's secret")
	fs.DurationVar(&e.introspectionCache, "oauth-introspection-cache", extauth.DefaultIntrospectionCache, "with --oauth-introspection-url: how long an answer is reused (never past the token's expiry); 0 asks every time")
	fs.DurationVar(&e.clockSkew, "oauth-clock-skew", extauth.DefaultLeeway, "with --oauth=external: how far the provider's clock may be from ours when a token's exp, nbf and iat are checked")
	fs.DurationVar(&e.minRefetch, "oauth-jwks-min-refetch", extauth.DefaultMinRefetch, "with --oauth=external: the least time between two fetches of the provider's keys prompted by an unknown key id")
}

// setIn names the first of these flags given on the command line, or "".
func (e *externalFlags) setIn(fs *flag.FlagSet) string { return firstSet(fs, "oauth-") }

// firstSet names the first flag given on the command line whose name
// starts with prefix, or "".
func firstSet(fs *flag.FlagSet, prefix string) string {
	name := ""
	fs.Visit(func(f *flag.Flag) {
		if name == "" && strings.HasPrefix(f.Name, prefix) {
			name = f.Name
		}
	})
	return name
}

// config checks the flags and returns the verifier's configuration.
func (e *externalFlags) config() (*extauth.Config, error) {
	if e.issuer == "" {
		return nil, usageError("--oauth=external needs --oauth-issuer, the URL of the authorization server to trust")
	}
	names, err := extauth.ParseNames(e.scopes)
	if err != nil {
		return nil, usageError("--oauth-scopes: %v", err)
	}
	roles, err := extauth.ParseRoles(e.roleScopes)
	if err != nil {
		return nil, usageError("--oauth-role-scopes: %v", err)
	}
	if e.clockSkew <= 0 || e.clockSkew > 10*time.Minute {
		return nil, usageError("--oauth-clock-skew %v: want more than 0 and at most 10m", e.clockSkew)
	}
	if len(roles) > 0 && e.rolesClaim == "" {
		return nil, usageError("--oauth-role-scopes needs --oauth-roles-claim, the claim the roles are read from")
	}
	cfg := &extauth.Config{
		Issuer:     e.issuer,
		Audiences:  splitList(e.audience),
		Algorithms: splitList(e.algorithms),
		Scopes:     extauth.ScopeMap{Names: names, RolesClaim: e.rolesClaim, Roles: roles},
		MinRefetch: e.minRefetch,
		Leeway:     e.clockSkew,
	}
	switch {
	case e.introspectionURL != "":
		if e.clientID == "" || e.clientSecretFile == "" {
			return nil, usageError("--oauth-introspection-url needs --oauth-client-id and --oauth-client-secret-file")
		}
		secret, err := readSecretFile(e.clientSecretFile)
		if err != nil {
			return nil, usageError("--oauth-client-secret-file: %v", err)
		}
		cfg.IntrospectionURL, cfg.ClientID, cfg.ClientSecret = e.introspectionURL, e.clientID, secret
		cfg.IntrospectionCache = e.introspectionCache
		if e.introspectionCache == 0 {
			cfg.IntrospectionCache = -1 // 0 on the command line: no cache
		}
	case e.clientID != "" || e.clientSecretFile != "":
		return nil, usageError("--oauth-client-id and --oauth-client-secret-file are for --oauth-introspection-url")
	}
	return cfg, nil
}

// splitList splits a comma-separated flag, dropping empty items.
func splitList(s string) []string {
	var out []string
	for item := range strings.SplitSeq(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}
