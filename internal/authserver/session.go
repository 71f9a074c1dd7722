package authserver

import (
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/2coffee/mcp-2coffee/internal/errdefs"
	"github.com/2coffee/mcp-2coffee/internal/oauth"
)

// Cookie names. With Secure cookies the __Host- prefix makes the browser
// refuse any such cookie that is not Secure, host-only and Path=/, so a
// sibling subdomain cannot plant one (which would defeat the double-submit
// CSRF check).
func (s *site) sessionCookie() string { return s.cookieName("m2c_session") }
func (s *site) csrfCookie() string    { return s.cookieName("m2c_csrf") }

func (s *site) cookieName(base string) string {
	if s.secure {
		return "__Host-" + base
	}
	return base
}

func (s *site) setCookie(w http.ResponseWriter, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{
		Name:     name,
		Value:    value,
		Path:     "/",
		MaxAge:   maxAge,
		HttpOnly: true,
		Secure:   s.secure,
		// Lax: sent on the top-level GET that brings the user from the
		// client app to /authorize, never on a cross-site POST.
		SameSite: http.SameSiteLaxMode,
	})
}

// browserSessions signs browsers in and out: the session cookie and the
// stored session it names. The authorization, login and apps endpoints
// share it.
type browserSessions struct {
	*site
	store oauth.Sessions
}

// user returns the signed-in user of r, or "" when there is none (no
// cookie, unknown or expired session). A store failure is returned.
func (s *browserSessions) user(r *http.Request) (string, error) {
	user, _, err := s.signedIn(r)
	return user, err
}

// signedIn is user with the time the person signed in (each sign-in
// starts a new session), for prompt=login and max_age.
func (s *browserSessions) signedIn(r *http.Request) (string, time.Time, error) {
	c, err := r.Cookie(s.sessionCookie())
	if err != nil || !oauth.WellFormed(c.Value, "") {
		return "", time.Time{}, nil
	}
	sess, err := s.store.SessionByHash(r.Context(), oauth.HashSecret(c.Value))
	if errors.Is(err, errdefs.ErrNotFound) {
		return "", time.Time{}, nil
	}
	if err != nil {
		return "", time.Time{}, err
	}
	if !s.now().Before(sess.ExpiresAt) {
		return "", time.Time{}, nil
	}
	return sess.User, sess.CreatedAt, nil
}

// start signs user in: a new session id every time, so an id an
// attacker planted before sign-in is worthless after it.
func (s *browserSessions) start(w http.ResponseWriter, r *http.Request, user string) error {
	value := oauth.NewSecret("")
	now := s.now().UTC().Truncate(time.Second)
	sess := &oauth.Session{Hash: oauth.HashSecret(value), User: user, CreatedAt: now, ExpiresAt: now.Add(s.cfg.SessionLifetime)}
	if err := s.store.CreateSession(r.Context(), sess); err != nil {
		return err
	}
	// End the session this browser had, if any.
	if old, err := r.Cookie(s.sessionCookie()); err == nil && oauth.WellFormed(old.Value, "") {
		_ = s.store.DeleteSession(r.Context(), oauth.HashSecret(old.Value))
	}
	s.setCookie(w, s.sessionCookie(), value, int(s.cfg.SessionLifetime/time.Second))
	return nil
}

// end signs the browser out.
func (s *browserSessions) end(w http.ResponseWriter, r *http.Request) error {
	s.setCookie(w, s.sessionCookie(), "", -1)
	if c, err := r.Cookie(s.sessionCookie()); err == nil && oauth.WellFormed(c.Value, "") {
		return s.store.DeleteSession(r.Context(), oauth.HashSecret(c.Value))
	}
	return nil
}

// csrfToken returns the browser's CSRF token, setting the cookie when
// there is none. Forms carry the same value in a hidden field
// (double-submit): a page on another site can make the browser post a
// form, but can neither read the cookie nor set it (HttpOnly, host-only,
// SameSite=Lax, __Host- when secure).
func (s *site) csrfToken(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(s.csrfCookie()); err == nil && oauth.WellFormed(c.Value, "") {
		return c.Value
	}
	v := oauth.NewSecret("")
	// A session cookie (no MaxAge): it lives as long as the browser
	// window, longer than any sign-in takes.
	s.setCookie(w, s.csrfCookie(), v, 0)
	// Later calls in this request (a page rendered after a refused
	// post) must see the same value.
	r.AddCookie(&http.Cookie{Name: s.csrfCookie(), Value: v})
	return v
}

// checkCSRF verifies a POST from one of our forms: the Origin (when the
// browser sends one) is the issuer's, Sec-Fetch-Site (when sent) is not
// cross-site, and the form's csrf field equals the cookie, compared in
// constant time. r.PostForm must be parsed.
func (s *site) checkCSRF(r *http.Request) (ok bool, reason string) {
	if o := r.Header.Get("Origin"); o != "" && !strings.EqualFold(o, s.origin) {
		return false, "foreign_origin"
	}
	if site := r.Header.Get("Sec-Fetch-Site"); site == "cross-site" {
		return false, "cross_site"
	}
	c, err := r.Cookie(s.csrfCookie())
	if err != nil || !oauth.WellFormed(c.Value, "") {
		return false, "csrf_cookie_missing"
	}
	form := r.PostForm.Get("csrf")
	if subtle.ConstantTimeCompare([]byte(form), []byte(c.Value)) != 1 {
		return false, "csrf_mismatch"
	}
	return true, ""
}

// readForm parses a page's POST body (never the query) within a small
// limit.
func readForm(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		return err
	}
	return nil
}

// sessionFailed answers a page request whose session could not be read
// (the store failed): 503, and the cause logged.
func (s *site) sessionFailed(w http.ResponseWriter, r *http.Request, err error) {
	s.log.ErrorContext(r.Context(), "reading session failed", "err", err)
	s.errorPage(w, r, http.StatusServiceUnavailable, "Something went wrong", "Your sign-in could not be checked.")
}
