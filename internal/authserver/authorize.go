package authserver

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/2coffee/mcp-2coffee/internal/errdefs"
	"github.com/2coffee/mcp-2coffee/internal/oauth"
)

// maxAuthorizeQuery bounds an authorization request. Real ones are a few
// hundred bytes; the request also travels through hidden form fields.
const maxAuthorizeQuery = 8 << 10

// authorizeEndpoint serves the authorization endpoint (RFC 6749 §3.1):
// the request (GET) and the consent form's answer (POST). It reads
// sessions, reads and saves grants, and issues codes.
type authorizeEndpoint struct {
	*site
	clients  *clientFinder
	sessions *browserSessions
	grants   oauth.Grants
	codes    oauth.Codes
}

// authRequest is a checked authorization request.
type authRequest struct {
	client      *oauth.Client
	redirectURI string
	state       string
	scopes      []string
	challenge   string
	resource    string // the one resource the tokens will be bound to
	prompt      []string
	// maxAge is the oldest sign-in the client accepts (OpenID Connect
	// max_age); negative when it set none.
	maxAge time.Duration
	// raw is the request as a query string, carried through the login
	// and consent forms and checked again at each step.
	raw string
}

// pageProblem is a request that cannot be redirected back to the client
// because the client or the redirect URI is not trusted: it is shown as a
// page.
type pageProblem struct {
	status  int
	reason  string // for the log
	message string // for the page
}

// singleParams may appear at most once (RFC 6749 §3.1).
var singleParams = []string{"client_id", "redirect_uri", "response_type", "scope", "state",
	"code_challenge", "code_challenge_method", "response_mode", "prompt", "max_age"}

// parseAuthorize checks an authorization request in the order that keeps
// redirects safe: client and redirect URI first (a problem there is a
// page), then everything else (a problem there is an error redirect to
// the now-trusted redirect URI). Exactly one of the results is non-nil,
// except that an error redirect comes with the request it is sent to.
func (s *site) parseAuthorize(ctx context.Context, clients *clientFinder, raw string) (*authRequest, *pageProblem, *oauthError) {
	if len(raw) > maxAuthorizeQuery {
		return nil, &pageProblem{http.StatusBadRequest, "request_too_long", "The authorization request is too long."}, nil
	}
	q, err := url.ParseQuery(raw)
	if err != nil {
		return nil, &pageProblem{http.StatusBadRequest, "bad_query", "The authorization request is not a well-formed query string."}, nil
	}
	if len(q["client_id"]) != 1 || q.Get("client_id") == "" {
		return nil, &pageProblem{http.StatusBadRequest, "no_client_id", "The request does not say which application is asking (client_id is missing or repeated)."}, nil
	}
	c, err := clients.find(ctx, q.Get("client_id"))
	switch {
	case errors.Is(err, errUnknownClient):
		return nil, &pageProblem{http.StatusBadRequest, "unknown_client", "The application is not known to this server. It may have been removed or its registration may have expired; reconnecting it from the application usually registers it again."}, nil
	case err != nil:
		if cp, ok := errors.AsType[*clientProblem](err); ok {
			return nil, &pageProblem{http.StatusBadRequest, "bad_client", "The application cannot be used: " + cp.msg + "."}, nil
		}
		s.log.ErrorContext(ctx, "client lookup failed", "err", err)
		return nil, &pageProblem{http.StatusServiceUnavailable, "store_error", "The application could not be looked up."}, nil
	}
	if len(q["redirect_uri"]) != 1 {
		return nil, &pageProblem{http.StatusBadRequest, "no_redirect_uri", "The request does not say where to return to (redirect_uri is missing or repeated)."}, nil
	}
	redirect := q.Get("redirect_uri")
	if !matchRedirect(c.RedirectURIs, redirect) {
		return nil, &pageProblem{http.StatusBadRequest, "redirect_mismatch", "The address the application asked to return to is not one it registered, so this server will not send you there."}, nil
	}

	// Carry the request on re-encoded, so what goes into hidden fields and
	// Location headers is a canonical query string whatever arrived.
	req := &authRequest{client: c, redirectURI: redirect, state: q.Get("state"), raw: q.Encode()}
	bad := func(code, desc string) (*authRequest, *pageProblem, *oauthError) {
		return req, nil, newError(http.StatusFound, code, desc)
	}
	for _, p := range singleParams {
		if len(q[p]) > 1 {
			return bad(errInvalidRequest, "the parameter "+p+" is repeated")
		}
	}
	switch rt := q.Get("response_type"); {
	case rt == "":
		return bad(errInvalidRequest, "response_type is required; use code")
	case rt != oauth.ResponseTypeCode:
		return bad(errUnsupportedResponseType, "only response_type=code is supported")
	case !slices.Contains(c.ResponseTypes, oauth.ResponseTypeCode) || !c.Allows(oauth.GrantAuthorizationCode):
		return bad(errUnauthorizedClient, "the client is not registered for the authorization code flow")
	}
	if m := q.Get("response_mode"); m != "" && m != "query" {
		return bad(errInvalidRequest, "only response_mode=query is supported")
	}
	switch m := q.Get("code_challenge_method"); {
	case q.Get("code_challenge") == "":
		return bad(errInvalidRequest, "PKCE is required: send code_challenge with code_challenge_method=S256")
	case m == "":
		return bad(errInvalidRequest, "code_challenge_method is required and must be S256")
	case m != "S256":
		return bad(errInvalidRequest, "code_challenge_method must be S256; plain is not accepted")
	case !validChallenge(q.Get("code_challenge")):
		return bad(errInvalidRequest, "code_challenge must be the base64url SHA-256 of the verifier (43 characters)")
	}
	req.challenge = q.Get("code_challenge")
	req.resource = s.resource
	if r, given, problem := s.resourceParam(q); problem != "" {
		return bad(errInvalidTarget, problem)
	} else if given {
		req.resource = r
	}
	scopes, err := parseScope(q.Get("scope"))
	if err != nil {
		return bad(errInvalidScope, err.Error())
	}
	if len(scopes) == 0 {
		scopes = []string{firstScope}
	}
	if len(c.Scopes) > 0 && !covers(c.Scopes, scopes) {
		return bad(errInvalidScope, "the client is not registered for the scope "+scopeText(scopes))
	}
	req.scopes = scopes
	if _, ok := q["request"]; ok {
		return bad("request_not_supported", "request objects are not supported")
	}
	if _, ok := q["request_uri"]; ok {
		return bad("request_uri_not_supported", "request_uri is not supported")
	}
	req.prompt = strings.Fields(q.Get("prompt"))
	if slices.Contains(req.prompt, "none") && len(req.prompt) > 1 {
		return bad(errInvalidRequest, "prompt=none cannot be combined with other prompt values")
	}
	req.maxAge = -1
	if v, ok := q["max_age"]; ok {
		n, err := strconv.ParseUint(v[0], 10, 31)
		if err != nil {
			return bad(errInvalidRequest, "max_age must be a number of seconds")
		}
		req.maxAge = time.Duration(n) * time.Second
	}
	return req, nil, nil
}

// firstScope is the scope of a request that names none: the least one.
const firstScope = "articles:read"

// validChallenge reports whether c looks like an S256 challenge:
// base64url without padding of 32 bytes.
func validChallenge(c string) bool {
	if len(c) != 43 {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(c)
	return err == nil
}

// validVerifier reports whether v is a PKCE code_verifier: 43 to 128
// characters of the unreserved set (RFC 7636 §4.1).
func validVerifier(v string) bool {
	if len(v) < 43 || len(v) > 128 {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~') {
			return false
		}
	}
	return true
}

// verifierMatches checks a verifier against an S256 challenge in constant
// time.
func verifierMatches(verifier, challenge string) bool {
	sum := sha256.Sum256([]byte(verifier))
	got := base64.RawURLEncoding.EncodeToString(sum[:])
	return subtle.ConstantTimeCompare([]byte(got), []byte(challenge)) == 1
}

// redirect sends the browser back to the client with params, state and
// iss (RFC 9207: on every authorization response, success or error).
func (s *site) redirect(w http.ResponseWriter, req *authRequest, status int, params url.Values) {
	h := w.Header()
	h.Set("Location", s.redirectURL(req, params))
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "same-origin")
	w.WriteHeader(status)
}

// redirectURL is the client's redirect URI with params, state and iss.
func (s *site) redirectURL(req *authRequest, params url.Values) string {
	if req.state != "" {
		params.Set("state", req.state)
	}
	params.Set("iss", s.issuer)
	sep := "?"
	if strings.Contains(req.redirectURI, "?") {
		sep = "&"
	}
	return req.redirectURI + sep + params.Encode()
}

// redirectError sends an error to the client's redirect URI. status 302
// marks an answer to a GET nobody clicked: an automatic redirect, which
// RFC 9700 §4.11.2 allows only to a redirect URI the server trusts.
// Anyone may register a client (or publish a metadata document) with any
// redirect URI, so for every client but one the owner registered, such an
// error is shown on a page instead, with a link back the person may
// follow; otherwise /authorize would be an open redirector for phishing.
// Answers to a form the person posted (303) go back as usual.
func (s *site) redirectError(w http.ResponseWriter, r *http.Request, req *authRequest, status int, e *oauthError) {
	s.fail(r, slog.LevelInfo, "authorize_"+e.code, "client_id", req.client.ID, "detail", e.description)
	params := url.Values{"error": {e.code}, "error_description": {e.description}}
	if status == http.StatusFound && req.client.Kind != oauth.KindPreregistered {
		s.render(w, r, http.StatusBadRequest, "error", &pageData{
			Title:     "This application's request was refused",
			Heading:   "This application's request was refused",
			Message:   "The request of " + displayName(req.client) + " could not be accepted: " + e.description + " (" + e.code + ").",
			Hint:      "You were not sent back to the application automatically, because this server cannot vouch for where it would send you.",
			Alert:     true,
			ReturnURL: s.redirectURL(req, params),
			ReturnTo:  hostOf(req.redirectURI),
		}, "")
		return
	}
	s.redirect(w, req, status, params)
}

// serveAuthorize is GET /oauth/authorize: check the request, then sign
// in, then consent (unless a remembered grant covers it), then redirect
// with a code.
func (s *authorizeEndpoint) serveAuthorize(w http.ResponseWriter, r *http.Request) {
	if s.metadataLimited(w, r, r.URL.RawQuery) {
		return
	}
	req, pp, oe := s.parseAuthorize(r.Context(), s.clients, r.URL.RawQuery)
	if pp != nil {
		s.fail(r, slog.LevelInfo, pp.reason, "client_id", truncate(r.URL.Query().Get("client_id"), 200))
		s.errorPage(w, r, pp.status, "This application cannot connect", pp.message)
		return
	}
	if oe != nil {
		s.redirectError(w, r, req, http.StatusFound, oe)
		return
	}
	user, signedInAt, err := s.sessions.signedIn(r)
	if err != nil {
		s.sessionFailed(w, r, err)
		return
	}
	if user != "" && !req.signInFresh(signedInAt, s.now()) {
		user = "" // prompt=login or max_age: this sign-in is too old
	}
	if user == "" {
		if slices.Contains(req.prompt, "none") {
			s.redirectError(w, r, req, http.StatusFound, newError(0, errLoginRequired, "the user must sign in"))
			return
		}
		s.loginPage(w, r, http.StatusOK, req, "", "")
		return
	}
	s.decide(w, r, req, user, http.StatusFound)
}

// freshSignIn is how recent a sign-in satisfies prompt=login (or a
// max_age shorter than it): long enough for the redirect from the sign-in
// form back to /authorize, which carries the same request.
const freshSignIn = 10 * time.Second

// signInFresh reports whether a sign-in at at satisfies the request's
// prompt=login and max_age at now. A max_age below freshSignIn counts as
// freshSignIn, or no sign-in could ever satisfy max_age=0.
func (req *authRequest) signInFresh(at, now time.Time) bool {
	limit := time.Duration(-1) // none
	if slices.Contains(req.prompt, "login") {
		limit = freshSignIn
	}
	if req.maxAge >= 0 {
		if m := max(req.maxAge, freshSignIn); limit < 0 || m < limit {
			limit = m
		}
	}
	return limit < 0 || now.Sub(at) <= limit
}

// identityAssured reports whether a redirect to the request's URI reaches
// only the client it names: for a client the owner registered, and for an
// https redirect URI, which only that host can receive. A loopback or a
// private-use scheme redirect does not (RFC 8252 §8.6): any program on the
// machine may listen on the port or claim the scheme, so a remembered
// approval must not hand it a code without the person seeing who asks.
func identityAssured(req *authRequest) bool {
	return req.client.Kind == oauth.KindPreregistered || strings.HasPrefix(req.redirectURI, "https://")
}

// decide issues a code at once when a remembered grant covers the request
// (and the client did not ask for consent), and shows the consent page
// otherwise.
func (s *authorizeEndpoint) decide(w http.ResponseWriter, r *http.Request, req *authRequest, user string, status int) {
	g, err := s.grants.GrantFor(r.Context(), user, req.client.ID)
	if err != nil && !errors.Is(err, errdefs.ErrNotFound) {
		s.log.ErrorContext(r.Context(), "reading grant failed", "err", err)
		s.errorPage(w, r, http.StatusServiceUnavailable, "Something went wrong", "Your earlier approvals could not be read.")
		return
	}
	remembered := g != nil && covers(g.Scopes, req.scopes)
	if remembered && !slices.Contains(req.prompt, "consent") && identityAssured(req) {
		s.approve(w, r, req, user, status)
		return
	}
	if slices.Contains(req.prompt, "none") {
		s.redirectError(w, r, req, status, newError(0, errConsentRequired, "the user has not approved this client for these scopes"))
		return
	}
	s.render(w, r, http.StatusOK, "consent", &pageData{
		Title:          "Allow access",
		User:           user,
		Request:        req.raw,
		ClientName:     displayName(req.client),
		NameUnverified: nameUnverified(req.client),
		ClientHost:     clientHost(req.client),
		RedirectHost:   redirectHost(req.redirectURI),
		Scopes:         describeScopes(req.scopes),
	}, redirectSource(req.redirectURI))
}

// displayName is the client's name, or a description when it gave none.
func displayName(c *oauth.Client) string {
	if c.Name != "" {
		return c.Name
	}
	return "An unnamed application"
}

// nameUnverified reports whether the client chose its own name: every
// client but one the blog owner registered. Every page that shows the name
// says so, since up to 200 characters of it are the client's words.
func nameUnverified(c *oauth.Client) bool { return c.Kind != oauth.KindPreregistered }

// clientHost is the host that vouches for a metadata client's identity.
func clientHost(c *oauth.Client) string {
	if c.Kind == oauth.KindMetadata {
		return hostOf(c.ID)
	}
	return ""
}

// approve issues a code and redirects to the client with it.
func (s *authorizeEndpoint) approve(w http.ResponseWriter, r *http.Request, req *authRequest, user string, status int) {
	code := oauth.NewSecret(oauth.PrefixCode)
	now := s.now().UTC().Truncate(time.Second)
	c := &oauth.Code{
		Hash:        oauth.HashSecret(code),
		FamilyID:    oauth.NewID(),
		ClientID:    req.client.ID,
		User:        user,
		RedirectURI: req.redirectURI,
		Scopes:      req.scopes,
		Resource:    req.resource,
		Challenge:   req.challenge,
		CreatedAt:   now,
		ExpiresAt:   now.Add(s.cfg.CodeLifetime),
	}
	if err := s.codes.CreateCode(r.Context(), c); err != nil {
		s.log.ErrorContext(r.Context(), "storing an authorization code failed", "err", err)
		s.redirectError(w, r, req, status, newError(0, errServerError, "the authorization could not be stored; try again"))
		return
	}
	s.log.InfoContext(r.Context(), "authorization code issued", "client_id", req.client.ID, "user", user, "scope", scopeText(req.scopes))
	s.redirect(w, req, status, url.Values{"code": {code}})
}

// serveConsent is POST /oauth/authorize: the consent form's answer.
func (s *authorizeEndpoint) serveConsent(w http.ResponseWriter, r *http.Request) {
	if !s.formOK(w, r) {
		return
	}
	if s.metadataLimited(w, r, r.PostForm.Get("request")) {
		return
	}
	req, pp, oe := s.parseAuthorize(r.Context(), s.clients, r.PostForm.Get("request"))
	if pp != nil {
		s.fail(r, slog.LevelInfo, pp.reason)
		s.errorPage(w, r, pp.status, "This application cannot connect", pp.message)
		return
	}
	// Answers to a form post use 303, so the browser follows with GET.
	if oe != nil {
		s.redirectError(w, r, req, http.StatusSeeOther, oe)
		return
	}
	user, err := s.sessions.user(r)
	if err != nil {
		s.sessionFailed(w, r, err)
		return
	}
	if user == "" {
		s.loginPage(w, r, http.StatusUnauthorized, req, "", "Your sign-in has expired. Please sign in again.")
		return
	}
	switch r.PostForm.Get("decision") {
	case "deny":
		s.log.InfoContext(r.Context(), "authorization denied by the user", "client_id", req.client.ID, "user", user)
		s.redirectError(w, r, req, http.StatusSeeOther, newError(0, errAccessDenied, "the user denied the request"))
	case "approve":
		now := s.now().UTC().Truncate(time.Second)
		g := &oauth.Grant{User: user, ClientID: req.client.ID, ClientName: req.client.Name, Scopes: req.scopes, CreatedAt: now, UpdatedAt: now}
		if old, err := s.grants.GrantFor(r.Context(), user, req.client.ID); err == nil {
			g.Scopes = union(old.Scopes, req.scopes)
		}
		if err := s.grants.SaveGrant(r.Context(), g); err != nil {
			s.log.ErrorContext(r.Context(), "saving grant failed", "err", err)
			s.redirectError(w, r, req, http.StatusSeeOther, newError(0, errServerError, "the approval could not be stored; try again"))
			return
		}
		s.approve(w, r, req, user, http.StatusSeeOther)
	default:
		s.errorPage(w, r, http.StatusBadRequest, "Something went wrong", "The form did not say whether to allow or deny.")
	}
}

// metadataLimited applies the per-address limit on authorization
// requests whose client_id is a URL: each may make the server fetch that
// client's metadata document, wherever the caller points it, so they are
// counted before anything is fetched. Requests for stored clients are not
// counted. Over the limit it answers 429 with Retry-After and returns
// true.
func (s *site) metadataLimited(w http.ResponseWriter, r *http.Request, rawQuery string) bool {
	if s.cfg.MetadataFetcher == nil {
		return false
	}
	q, err := url.ParseQuery(rawQuery)
	if err != nil || !slices.ContainsFunc(q["client_id"], isMetadataClientID) {
		return false
	}
	limited, wait := s.limited(w, r, "metadata")
	if limited {
		s.errorPage(w, r, http.StatusTooManyRequests, "Too many requests",
			"Too many applications were connected from your address just now. Try again in "+inMinutes(wait)+".")
	}
	return limited
}

// formOK reads a page's form and checks it came from our page. On
// failure it has answered (413/400, or 403 for a failed CSRF check).
func (s *site) formOK(w http.ResponseWriter, r *http.Request) bool {
	if err := readForm(w, r); err != nil {
		s.fail(r, slog.LevelInfo, "bad_form", "err", err)
		s.errorPage(w, r, http.StatusBadRequest, "Something went wrong", "The form could not be read.")
		return false
	}
	if ok, reason := s.checkCSRF(r); !ok {
		s.fail(r, slog.LevelWarn, reason, "origin", truncate(r.Header.Get("Origin"), 200))
		s.errorPage(w, r, http.StatusForbidden, "This form cannot be accepted",
			"It was not sent from this site's page, or the page is too old. Go back, reload the page and try again.")
		return false
	}
	return true
}
