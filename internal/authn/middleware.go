package authn

import (
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/2coffee/mcp-2coffee/internal/blog"
)

// HeaderAPIKey is the header API keys travel in, besides Authorization:
// Bearer. Clients such as mcp-remote pass it through --header.
const HeaderAPIKey = "X-API-KEY"

// MaxCredentialLen bounds a credential before any verifier sees it. Our
// API keys are about 70 bytes and JWT access tokens a few hundred to a
// couple of thousand; anything longer is not ours and is not worth a
// database lookup.
const MaxCredentialLen = 4096

// queryCredentialParams are query parameters that, by their name, carry a
// credential. A credential in a URL ends up in access logs, proxy logs and
// browser history, so it is refused even when valid (RFC 6750 §2.3 and
// §5.3 advise against it; the MCP spec forbids it).
var queryCredentialParams = []string{"api_key", "apikey", "access_token", "key", "token"}

// Authenticator is the resource server's side of authentication: its
// Middleware turns a credential into a Principal (or answers 401/400/503
// with an RFC 6750 challenge), and its scope checks (RequireScope,
// RequireScopeFor, RequireMCPScopes, Authorize) answer 403
// insufficient_scope. One is built by the composition root and shared by
// every protected route. The zero value of every field but Verify is usable.
type Authenticator struct {
	// Verify checks a credential. Required.
	Verify Verifier
	// ResourceMetadataURL is the URL of the RFC 9728 protected resource
	// metadata. When set, every challenge carries it as
	// resource_metadata="…", which is how MCP clients discover the
	// authorization server. Empty when OAuth is off.
	ResourceMetadataURL string
	// Logger receives one record per refused request, with the reason
	// and the remote address, never the credential. Nil discards.
	Logger *slog.Logger
	// OnFailure, if set, is called once per refused request with a short
	// reason from a fixed vocabulary, fit for a metrics label: the
	// Reason* constants, or the Reason of the verifier's CredentialError
	// (malformed, unknown, revoked, expired, unrecognized), or "invalid"
	// for any other rejected credential.
	OnFailure func(reason string)
	// ClientIP gives the address a request came from, for logs (the
	// client behind a trusted proxy, httpserver.ClientIP); nil means the
	// direct peer.
	ClientIP func(*http.Request) string
	// MaxBodyBytes bounds the body RequireMCPScopes reads to find the
	// methods of a request; 0 means blog.MaxRequestBytes. Give it the
	// server's body limit, which an outer middleware enforces anyway:
	// this one only keeps the check from buffering without end.
	MaxBodyBytes int64
	// ScopeName, when set, gives the name a client must request for one
	// of our scopes at the authorization server, where it differs
	// (serve --oauth=external with --oauth-scopes): challenges name
	// scopes that way. Nil: our names.
	ScopeName func(scope string) string
}

func (a *Authenticator) clientAddr(r *http.Request) string {
	if a.ClientIP != nil {
		return a.ClientIP(r)
	}
	return r.RemoteAddr
}

func (a *Authenticator) maxBody() int64 {
	if a.MaxBodyBytes > 0 {
		return a.MaxBodyBytes
	}
	return blog.MaxRequestBytes
}

// Reasons passed to OnFailure and logged, besides those a verifier's
// CredentialError carries.
const (
	ReasonMissing           = "missing"
	ReasonQueryCredential   = "query_credential"
	ReasonBadRequest        = "bad_request"
	ReasonInsufficientScope = "insufficient_scope"
	ReasonError             = "error"
)

// Challenge returns a challenge with this server's realm and resource
// metadata URL filled in.
func (a *Authenticator) Challenge(code, description, scope string) Challenge {
	return Challenge{
		Realm:            Realm,
		Error:            code,
		Description:      description,
		Scope:            a.scopeNames(scope),
		ResourceMetadata: a.ResourceMetadataURL,
	}
}

// scopeNames renames each scope of a space-separated list through
// ScopeName.
func (a *Authenticator) scopeNames(scopes string) string {
	if a.ScopeName == nil || scopes == "" {
		return scopes
	}
	names := strings.Fields(scopes)
	for i, s := range names {
		names[i] = a.ScopeName(s)
	}
	return strings.Join(names, " ")
}

func (a *Authenticator) logger() *slog.Logger {
	if a.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return a.Logger
}

// fail logs a refusal and counts it. attrs must never include the
// credential.
func (a *Authenticator) fail(r *http.Request, level slog.Level, reason string, attrs ...any) {
	attrs = append([]any{
		"reason", reason,
		"remote", a.clientAddr(r),
		"method", r.Method,
		"path", r.URL.Path,
	}, attrs...)
	a.logger().Log(r.Context(), level, "request refused", attrs...)
	if a.OnFailure != nil {
		a.OnFailure(reason)
	}
}

// Middleware authenticates every request: it reads the credential from
// X-API-KEY or Authorization: Bearer, verifies it, and calls next with the
// principal in the request context (see FromContext). Otherwise it answers
// itself:
//
//   - 400 invalid_request: a credential in the URL query (never verified),
//     two different credentials, repeated headers, an empty Bearer;
//   - 401 without an error code: no credential;
//   - 401 invalid_token: the verifier rejected the credential;
//   - 503: the verifier could not check it (the store is down).
//
// Every challenge names scope="articles:read", the least a client needs.
// next sees the request without the credential headers, so nothing
// downstream can log or forward them. Middleware panics if a.Verify is
// nil: failing at wiring time beats refusing (or admitting) every request.
func (a *Authenticator) Middleware(next http.Handler) http.Handler {
	if a.Verify == nil {
		panic("authn: Authenticator.Verify is nil")
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if name, ok := queryCredential(r.URL); ok {
			a.fail(r, slog.LevelWarn, ReasonQueryCredential, "param", name)
			WriteChallenge(w, http.StatusBadRequest, a.Challenge(CodeInvalidRequest,
				"credentials are not accepted in the URL; send the API key in the X-API-KEY header or the token in Authorization: Bearer", ScopeRead))
			return
		}
		cred, inKeyHeader, problem := credential(r.Header)
		switch {
		case problem != "":
			a.fail(r, slog.LevelInfo, ReasonBadRequest, "problem", problem)
			WriteChallenge(w, http.StatusBadRequest, a.Challenge(CodeInvalidRequest, problem, ScopeRead))
			return
		case cred == "":
			// Debug, not info: clients routinely probe without a
			// credential to discover how to authenticate.
			a.fail(r, slog.LevelDebug, ReasonMissing)
			WriteChallenge(w, http.StatusUnauthorized, a.Challenge("",
				"send an API key in the X-API-KEY header or an access token in Authorization: Bearer", ScopeRead))
			return
		}

		var p *Principal
		var err error
		if len(cred) > MaxCredentialLen {
			err = &CredentialError{Reason: "malformed", Description: "the credential is too long"}
		} else {
			p, err = a.Verify(r.Context(), cred)
		}
		switch {
		case err == nil && p == nil:
			// A verifier bug; admitting an anonymous caller would be
			// worse than refusing.
			a.fail(r, slog.LevelError, ReasonError, "err", "verifier returned neither principal nor error")
			WriteError(w, http.StatusServiceUnavailable, CodeUnavailable, "the credential could not be checked; try again later")
			return
		case err == nil:
		case isInvalid(err):
			reason, desc := reasonOf(err)
			if inKeyHeader && errors.Is(err, ErrUnrecognized) {
				// No verifier knows this form. The chain's answer names
				// its first verifier's kind (an access token); the
				// client sent it as an API key, so speak of one.
				desc = "the X-API-KEY header does not carry an API key of this server"
			}
			a.fail(r, slog.LevelInfo, reason)
			WriteChallenge(w, http.StatusUnauthorized, a.Challenge(CodeInvalidToken, desc, ScopeRead))
			return
		default:
			a.fail(r, slog.LevelError, ReasonError, "err", err)
			WriteError(w, http.StatusServiceUnavailable, CodeUnavailable, "the credential could not be checked; try again later")
			return
		}

		r = r.Clone(WithPrincipal(r.Context(), p))
		r.Header.Del("Authorization")
		r.Header.Del(HeaderAPIKey)
		next.ServeHTTP(w, r)
	})
}

// credential returns the credential a request carries and whether it came
// in X-API-KEY, or a description of why the request is malformed. It
// returns an empty cred and problem when there is none.
func credential(h http.Header) (cred string, inKeyHeader bool, problem string) {
	keys := h.Values(HeaderAPIKey)
	auths := h.Values("Authorization")
	if len(keys) > 1 {
		return "", false, "send one X-API-KEY header"
	}
	if len(auths) > 1 {
		return "", false, "send one Authorization header"
	}
	var key, bearer string
	if len(keys) == 1 {
		key = strings.TrimSpace(keys[0])
	}
	if len(auths) == 1 {
		scheme, rest, _ := strings.Cut(strings.TrimSpace(auths[0]), " ")
		// The scheme is case-insensitive (RFC 7235 §2.1). Another scheme
		// (Basic, say) is not ours: treat it as no credential, so the
		// client gets a challenge telling it to use Bearer.
		if strings.EqualFold(scheme, "Bearer") {
			bearer = strings.TrimSpace(rest)
			if bearer == "" {
				return "", false, "the Authorization: Bearer header carries no token"
			}
		}
	}
	if key != "" && bearer != "" && key != bearer {
		return "", false, "X-API-KEY and Authorization carry different credentials; send one"
	}
	if key != "" {
		return key, true, ""
	}
	return bearer, false, ""
}

// queryCredential reports whether the URL's query has a parameter whose
// name marks a credential, whatever its value or letter case. It reads the
// raw query itself because url.ParseQuery drops pairs it cannot decode,
// and a credential must not slip past behind a stray '%'.
func queryCredential(u *url.URL) (string, bool) {
	for pair := range strings.FieldsFuncSeq(u.RawQuery, func(r rune) bool { return r == '&' || r == ';' }) {
		name, _, _ := strings.Cut(pair, "=")
		if dec, err := url.QueryUnescape(name); err == nil {
			name = dec
		}
		name = strings.ToLower(strings.TrimSpace(name))
		for _, p := range queryCredentialParams {
			if name == p {
				return p, true
			}
		}
	}
	return "", false
}
