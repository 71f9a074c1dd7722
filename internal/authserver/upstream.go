package authserver

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/2coffee/mcp-2coffee/internal/errdefs"
	"github.com/2coffee/mcp-2coffee/internal/oauth"
	"github.com/2coffee/mcp-2coffee/internal/oidclogin"
)

// A sign-in at the provider (federated sign-in) takes two requests of
// ours: the sign-in page's button links to PathLoginUpstream, which
// redirects the browser to the provider; the provider sends it back to
// PathLoginCallback with a code. What must survive between them (the
// state, the nonce, the PKCE verifier, and the authorization request to
// continue with) lives in a cookie of this browser alone, host-only,
// HttpOnly, scoped to the callback path and ten minutes long: any
// replica can finish the sign-in, and a callback that does not come to
// the browser that started it finds no cookie (a login CSRF gets
// nowhere). Nothing in the cookie is secret from its browser, and the
// authorization request in it is checked again at /authorize.

// upstreamTTL bounds a sign-in at the provider.
const upstreamTTL = 10 * time.Minute

// maxPendingRequest bounds the authorization request kept in the cookie,
// which browsers hold to about 4 KB.
const maxPendingRequest = 3500

// maxUpstreamCode bounds the provider's code, which is sent on to its
// token endpoint.
const maxUpstreamCode = 4096

func (s *site) upstreamCookie() string { return s.cookieName("m2c_upstream") }

// setUpstreamCookie sets the sign-in cookie with the attributes of every
// other (setCookie): Path=/, which the __Host- prefix demands of a Secure
// cookie (a browser drops one set for the callback's path alone), and
// Lax, with which the provider's top-level redirect back from another
// site carries it.
func (s *site) setUpstreamCookie(w http.ResponseWriter, value string, maxAge int) {
	s.setCookie(w, s.upstreamCookie(), value, maxAge)
}

// serveUpstream is GET /oauth/login/upstream?REQUEST: start a sign-in at
// the provider for the authorization request in the query (or none:
// then sign-in leads to the apps page). A page of another site may send
// a browser here; that only shows the person the provider's sign-in.
func (s *loginEndpoint) serveUpstream(w http.ResponseWriter, r *http.Request) {
	if limited, wait := s.limited(w, r, "login"); limited {
		s.errorPage(w, r, http.StatusTooManyRequests, "Too many attempts",
			"Too many sign-in attempts came from your network. Try again in "+inMinutes(wait)+".")
		return
	}
	request := ""
	reauthenticate, maxAge := false, time.Duration(-1)
	if raw := r.URL.RawQuery; raw != "" {
		req, pp, _ := s.parseAuthorize(r.Context(), s.clients, raw)
		if pp != nil {
			s.fail(r, slog.LevelInfo, pp.reason)
			s.errorPage(w, r, pp.status, "This application cannot connect", pp.message)
			return
		}
		// What the client asks of the sign-in is asked of the provider.
		reauthenticate, maxAge = slices.Contains(req.prompt, "login"), req.maxAge
		// The canonical form holds only characters a cookie may.
		q, _ := url.ParseQuery(req.raw)
		request = q.Encode()
		if len(request) > maxPendingRequest {
			s.fail(r, slog.LevelInfo, "login_request_too_long")
			s.errorPage(w, r, http.StatusBadRequest, "This application cannot connect",
				"Its authorization request is too long to carry through a sign-in at "+s.cfg.Login.Name()+".")
			return
		}
	}
	authURL, pend := s.cfg.Login.Start(reauthenticate, maxAge)
	s.setUpstreamCookie(w, strings.Join([]string{pend.State, pend.Nonce, pend.Verifier, request}, "."), int(upstreamTTL/time.Second))
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, authURL, http.StatusSeeOther)
}

// serveCallback is GET /oauth/login/callback: the provider's answer.
func (s *loginEndpoint) serveCallback(w http.ResponseWriter, r *http.Request) {
	if limited, wait := s.limited(w, r, "login"); limited {
		s.errorPage(w, r, http.StatusTooManyRequests, "Too many attempts",
			"Too many sign-in attempts came from your network. Try again in "+inMinutes(wait)+".")
		return
	}
	p := s.cfg.Login
	q := r.URL.Query()
	c, err := r.Cookie(s.upstreamCookie())
	parts := []string{}
	if err == nil {
		parts = strings.SplitN(c.Value, ".", 4)
	}
	// Whatever happens next, this sign-in is over.
	s.setUpstreamCookie(w, "", -1)
	if len(parts) != 4 {
		s.fail(r, slog.LevelInfo, "upstream_no_pending")
		s.errorPage(w, r, http.StatusBadRequest, "This sign-in cannot be finished",
			"It was started more than ten minutes ago, or in another browser. Go back to the application and connect again.")
		return
	}
	pend := oidclogin.Pending{State: parts[0], Nonce: parts[1], Verifier: parts[2]}
	request := parts[3]
	if !pend.StateMatches(q.Get("state")) {
		s.fail(r, slog.LevelWarn, "upstream_state_mismatch")
		s.errorPage(w, r, http.StatusBadRequest, "This sign-in cannot be finished",
			"The answer from "+p.Name()+" does not belong to the sign-in this browser started. Go back to the application and connect again.")
		return
	}
	// RFC 9207: a provider that names itself must be ours, and one that
	// says it always does must have.
	if iss := q.Get("iss"); (iss != "" || p.SendsIssuer()) && iss != p.Issuer() {
		s.fail(r, slog.LevelWarn, "upstream_wrong_issuer")
		s.errorPage(w, r, http.StatusBadRequest, "This sign-in cannot be finished", "The answer does not come from "+p.Name()+", or does not say so.")
		return
	}
	if e := q.Get("error"); e != "" {
		s.fail(r, slog.LevelInfo, "upstream_refused", "error", truncate(e, 64))
		msg := "The sign-in at " + p.Name() + " did not complete"
		if e == "access_denied" {
			msg += ": access was denied there"
		}
		s.errorPage(w, r, http.StatusForbidden, "Not signed in", msg+".")
		return
	}
	code := q.Get("code")
	if code == "" || len(code) > maxUpstreamCode {
		s.fail(r, slog.LevelInfo, "upstream_no_code")
		s.errorPage(w, r, http.StatusBadRequest, "This sign-in cannot be finished", "The answer from "+p.Name()+" carries no code.")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 20*time.Second)
	defer cancel()
	id, err := p.Finish(ctx, pend, code)
	if err != nil {
		s.log.WarnContext(r.Context(), "sign-in at the identity provider failed", "provider", p.Issuer(), "err", err, "remote", s.clientAddr(r))
		s.fail(r, slog.LevelInfo, "upstream_failed")
		s.errorPage(w, r, http.StatusBadGateway, "Not signed in",
			"The sign-in at "+p.Name()+" could not be confirmed. Go back to the application and try again.")
		return
	}
	if !p.Allowed(id) {
		who := id.Email
		if who == "" || !id.EmailVerified {
			who = "subject " + id.Subject
		}
		s.fail(r, slog.LevelWarn, "upstream_not_allowed", "provider", p.Issuer(), "subject", truncate(id.Subject, 128), "email", truncate(id.Email, 128), "email_verified", id.EmailVerified)
		s.errorPage(w, r, http.StatusForbidden, "This account may not sign in here",
			"You signed in at "+p.Name()+" as "+truncate(who, 128)+", which this blog does not admit. Sign out there and use another account, or ask the blog's owner to let this one in.")
		return
	}
	name, err := s.localUser(r.Context(), s.users, account{
		issuer: id.Issuer, subject: id.Subject, email: id.Email, emailVerified: id.EmailVerified,
		preferredUsername: id.PreferredUsername, name: id.Name,
	})
	if err == nil {
		err = s.sessions.start(w, r, name)
	}
	if err != nil {
		s.log.ErrorContext(r.Context(), "signing in a federated user failed", "err", err)
		s.errorPage(w, r, http.StatusServiceUnavailable, "Something went wrong", "Signing in is not possible right now.")
		return
	}
	if err := s.users.RecordLogin(r.Context(), name, s.now().UTC().Truncate(time.Second)); err != nil {
		s.log.WarnContext(r.Context(), "recording sign-in time failed", "user", name, "err", err)
	}
	s.log.InfoContext(r.Context(), "user signed in", "user", name, "provider", p.Issuer(), "remote", s.clientAddr(r))
	next := s.base + PathApps
	if request != "" {
		next = s.base + PathAuthorize + "?" + request
	}
	w.Header().Set("Location", next)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusSeeOther)
}

// account is a person an identity provider vouches for: with an ID
// token at federated sign-in, or with an ID-JAG at the token endpoint.
type account struct {
	issuer, subject         string
	email                   string
	emailVerified           bool
	preferredUsername, name string
}

// numberedNames is how many numbered names (name-2, name-3…) a new
// account tries before it takes one made of its issuer and subject.
const numberedNames = 5

// localUser returns the name of the local account of a, making one the
// first time: found by issuer and subject, never by email or name (an
// email at a provider proves nothing about a password account here). Its
// name is drawn from the verified email, else the provider's preferred
// user name (which a person may often choose there), else the name; when
// another user has it, a number is added, and past a few numbers a short
// digest of issuer and subject, which no one else's account can take.
func (s *site) localUser(ctx context.Context, users oauth.Users, a account) (string, error) {
	email := ""
	if a.emailVerified {
		email = a.email
	}
	base := userNameFrom(email, a.preferredUsername, a.name)
	digest := sha256.Sum256([]byte(a.issuer + "\x00" + a.subject))
	for range 3 {
		u, err := users.UserBySubject(ctx, a.issuer, a.subject)
		if err == nil {
			return u.Name, nil
		}
		if !errors.Is(err, errdefs.ErrNotFound) {
			return "", err
		}
		now := s.now().UTC().Truncate(time.Second)
		for n := 1; n <= numberedNames+1; n++ {
			name := base
			if n > 1 {
				suffix := fmt.Sprintf("-%d", n)
				if n > numberedNames {
					suffix = "-" + hex.EncodeToString(digest[:4])
				}
				name = base[:min(len(base), oauth.MaxUserNameLen-len(suffix))] + suffix
			}
			err = users.CreateUser(ctx, &oauth.User{Name: name, CreatedAt: now, PasswordChangedAt: now, Issuer: a.issuer, Subject: a.subject})
			if err == nil {
				s.log.InfoContext(ctx, "created a user for an account at an identity provider", "user", name, "provider", a.issuer)
				return name, nil
			}
			if !errors.Is(err, errdefs.ErrConflict) {
				return "", err
			}
			// The name is taken, or a sign-in racing this one made the
			// user: look again before trying another name.
			if _, err := users.UserBySubject(ctx, a.issuer, a.subject); err == nil {
				break
			}
		}
	}
	return "", errors.New("no free user name for this account")
}

// userNameFrom makes a valid user name of the first candidate that has
// any usable characters: lower case, only a-z, 0-9 and . _ - @, starting
// with a letter or digit.
func userNameFrom(candidates ...string) string {
	for _, c := range candidates {
		var b strings.Builder
		for _, r := range strings.ToLower(c) {
			switch {
			case 'a' <= r && r <= 'z', '0' <= r && r <= '9':
				b.WriteRune(r)
			case b.Len() > 0 && (r == '.' || r == '_' || r == '-' || r == '@'):
				b.WriteRune(r)
			case b.Len() > 0 && r == ' ':
				b.WriteByte('.')
			}
			if b.Len() >= oauth.MaxUserNameLen-4 {
				break
			}
		}
		if name := strings.TrimRight(b.String(), ".-_@"); oauth.ValidUserName(name) {
			return name
		}
	}
	return "user"
}
