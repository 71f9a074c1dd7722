package main

import (
	"flag"
	"strings"

	"github.com/2coffee/mcp-2coffee/internal/oidclogin"
)

// loginFlags are serve's flags for federated sign-in: the built-in
// authorization server signs people in at an OpenID Connect provider.
type loginFlags struct {
	provider, issuer, clientID, clientSecretFile, name, scopes string
	allowDomains, allowSubjects                                repeated
	allowAnyone, passwordLogin                                 bool
}

func (l *loginFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&l.provider, "login-provider", "", "sign people in to the built-in authorization server at an identity provider: oidc (an OpenID Connect provider at --login-issuer)")
	fs.StringVar(&l.issuer, "login-issuer", "", "with --login-provider oidc: the provider's issuer URL, e.g. https://accounts.google.com")
	fs.StringVar(&l.clientID, "login-client-id", "", "with --login-provider: this server's client id at the provider (a confidential web client whose redirect URI is PUBLIC-URL/oauth/login/callback)")
	fs.StringVar(&l.clientSecretFile, "login-client-secret-file", "", "with --login-provider: a file holding that client's secret")
	fs.StringVar(&l.name, "login-name", "", "with --login-provider: what the sign-in page calls the provider (default: the issuer's host)")
	fs.StringVar(&l.scopes, "login-scopes", "openid email profile", "with --login-provider: the scopes asked of the provider")
	fs.Var(&l.allowDomains, "login-allow-email-domain", "with --login-provider: admit people whose email, verified by the provider, is at this domain (repeatable, or comma-separated)")
	fs.Var(&l.allowSubjects, "login-allow-subject", "with --login-provider: admit the person with this subject (sub) at the provider (repeatable, or comma-separated)")
	fs.BoolVar(&l.allowAnyone, "login-allow-anyone", false, "with --login-provider: admit everyone the provider signs in (only for a provider whose accounts are all yours, such as your own realm)")
	fs.BoolVar(&l.passwordLogin, "password-login", true, "offer the sign-in form for this server's own users; false leaves the provider as the only way in")
}

// config checks the flags and returns the provider's configuration, or
// nil when federated sign-in is off. The redirect URL is the caller's.
func (l *loginFlags) config(fs *flag.FlagSet) (*oidclogin.Config, error) {
	if l.provider == "" {
		if name := firstSet(fs, "login-"); name != "" {
			return nil, usageError("--%s needs --login-provider oidc", name)
		}
		if !l.passwordLogin {
			return nil, usageError("--password-login=false needs --login-provider: there would be no way to sign in")
		}
		return nil, nil
	}
	if l.provider != "oidc" {
		return nil, usageError("--login-provider %q: want oidc", l.provider)
	}
	if l.issuer == "" || l.clientID == "" || l.clientSecretFile == "" {
		return nil, usageError("--login-provider oidc needs --login-issuer, --login-client-id and --login-client-secret-file")
	}
	domains, subjects := splitEach(l.allowDomains), splitEach(l.allowSubjects)
	if !l.allowAnyone && len(domains) == 0 && len(subjects) == 0 {
		return nil, usageError("--login-provider: say who may sign in with --login-allow-email-domain, --login-allow-subject or --login-allow-anyone")
	}
	secret, err := readSecretFile(l.clientSecretFile)
	if err != nil {
		return nil, usageError("--login-client-secret-file: %v", err)
	}
	return &oidclogin.Config{
		Issuer: l.issuer, ClientID: l.clientID, ClientSecret: secret, Name: l.name,
		Scopes:            strings.Fields(l.scopes),
		AllowEmailDomains: domains, AllowSubjects: subjects, AllowAnyone: l.allowAnyone,
	}, nil
}

// splitEach splits every value of a repeated flag at commas.
func splitEach(values []string) []string {
	var out []string
	for _, v := range values {
		out = append(out, splitList(v)...)
	}
	return out
}
