package authserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/2coffee/mcp-2coffee/internal/errdefs"
)

// loginPage shows the sign-in form. req is the authorization request to
// continue after sign-in, or nil (then sign-in leads to the apps page).
// The form's post may end, through /authorize, in a redirect to the
// client, so the client's redirect origin is allowed as a form target.
func (s *Server) loginPage(w http.ResponseWriter, r *http.Request, status int, req *authRequest, username, msg string) {
	d := &pageData{Title: "Sign in", Username: username, Error: msg}
	var target string
	if req != nil {
		d.Request = req.raw
		d.ClientName = displayName(req.client)
		target = redirectSource(req.redirectURI)
	}
	s.render(w, r, status, "login", d, target)
}

// serveLoginPage is GET /oauth/login: the form on its own, for reaching the
// apps page.
func (s *Server) serveLoginPage(w http.ResponseWriter, r *http.Request) {
	if user, err := s.currentUser(r); err == nil && user != "" {
		http.Redirect(w, r, s.base+PathApps, http.StatusSeeOther)
		return
	}
	s.loginPage(w, r, http.StatusOK, nil, "", "")
}

// serveLogin is POST /oauth/login.
func (s *Server) serveLogin(w http.ResponseWriter, r *http.Request) {
	if limited, wait := s.limited(w, r, "login"); limited {
		s.errorPage(w, r, http.StatusTooManyRequests, "Too many attempts",
			"Too many sign-in attempts came from your network. Try again in "+inMinutes(wait)+".")
		return
	}
	if !s.formOK(w, r) {
		return
	}
	// The request to continue with, re-checked: it came back from the
	// browser.
	var req *authRequest
	if raw := r.PostForm.Get("request"); raw != "" {
		var pp *pageProblem
		req, pp, _ = s.parseAuthorize(r.Context(), raw)
		if pp != nil {
			s.fail(r, slog.LevelInfo, pp.reason)
			s.errorPage(w, r, pp.status, "This application cannot connect", pp.message)
			return
		}
	}
	name := NormalizeUserName(r.PostForm.Get("username"))
	ok, wait, err := s.signIn(r.Context(), r, name, r.PostForm.Get("password"))
	switch {
	case err != nil:
		s.log.ErrorContext(r.Context(), "sign-in failed", "err", err)
		s.loginPage(w, r, http.StatusServiceUnavailable, req, name, "Signing in is not possible right now. Please try again in a moment.")
		return
	case wait > 0:
		w.Header().Set("Retry-After", fmt.Sprint(int(math.Ceil(wait.Seconds()))))
		s.loginPage(w, r, http.StatusTooManyRequests, req, name,
			"Too many failed sign-ins for this user name. Try again in "+inMinutes(wait)+".")
		return
	case !ok:
		s.loginPage(w, r, http.StatusUnauthorized, req, name, "The user name or password is not right.")
		return
	}
	if err := s.startSession(w, r, name); err != nil {
		s.log.ErrorContext(r.Context(), "creating session failed", "err", err)
		s.loginPage(w, r, http.StatusServiceUnavailable, req, name, "Signing in is not possible right now. Please try again in a moment.")
		return
	}
	s.log.InfoContext(r.Context(), "user signed in", "user", name, "remote", r.RemoteAddr)
	next := s.base + PathApps
	if req != nil {
		next = s.base + PathAuthorize + "?" + req.raw
	}
	w.Header().Set("Location", next)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusSeeOther)
}

// signIn checks a name and password. It returns ok for a match; wait > 0
// when the name is locked (now, or by this very failure). Failures are
// counted per name whether or not a user has it, and an unknown name
// costs the same password hash as a known one, so neither the answer,
// the lockout nor the timing tells which names exist. While a name is
// locked no password is checked at all.
func (s *Server) signIn(ctx context.Context, r *http.Request, name, password string) (ok bool, wait time.Duration, err error) {
	now := s.now()
	if !ValidUserName(name) || password == "" || len(password) > MaxPasswordLen {
		s.fail(r, slog.LevelInfo, "login_malformed")
		s.burnHash(ctx)
		return false, 0, nil
	}
	lock := s.cfg.Lockout.Threshold > 0
	if lock {
		f, err := s.store.LoginFailures(ctx, name)
		if err != nil {
			return false, 0, err
		}
		if wait := s.cfg.Lockout.wait(f, now); wait > 0 {
			s.fail(r, slog.LevelWarn, "login_locked", "failures", f.Count)
			return false, wait, nil
		}
	}
	u, err := s.store.UserByName(ctx, name)
	known := err == nil
	switch {
	case errors.Is(err, errdefs.ErrNotFound):
		s.burnHash(ctx)
	case err != nil:
		return false, 0, err
	default:
		match, rehash, err := s.checkPassword(ctx, u.PasswordHash, password)
		if err != nil {
			return false, 0, err
		}
		if match {
			if lock {
				if err := s.store.ClearLoginFailures(ctx, name); err != nil {
					return false, 0, err
				}
			}
			if err := s.store.RecordLogin(ctx, name, now.UTC().Truncate(time.Second)); err != nil {
				s.log.WarnContext(ctx, "recording sign-in time failed", "user", name, "err", err)
			}
			if rehash {
				// Parameters changed since this hash was made: upgrade it
				// now that the password is at hand.
				if err := s.store.SetPasswordHash(ctx, name, hashPassword(password, s.cfg.PasswordParams), u.PasswordChangedAt); err != nil {
					s.log.WarnContext(ctx, "upgrading password hash failed", "user", name, "err", err)
				}
			}
			return true, 0, nil
		}
	}
	// The name is logged only when it is a user's: a name typed by
	// mistake is sometimes a password.
	attrs := []any{"user_known", known}
	if known {
		attrs = append(attrs, "user", name)
	}
	if !lock {
		s.fail(r, slog.LevelInfo, "login_failed", attrs...)
		return false, 0, nil
	}
	f, err := s.store.RecordLoginFailure(ctx, name, now, now.Add(-s.cfg.Lockout.Window))
	if err != nil {
		return false, 0, err
	}
	wait = s.cfg.Lockout.wait(f, now)
	s.fail(r, slog.LevelInfo, "login_failed", append(attrs, "failures", f.Count, "locked", wait > 0)...)
	return false, wait, nil
}

// wait is how long the name with failures f stays locked after now.
func (l Lockout) wait(f *LoginFailures, now time.Time) time.Duration {
	if l.Threshold <= 0 || f == nil || f.Count < l.Threshold {
		return 0
	}
	d := l.Base
	for range min(f.Count-l.Threshold, 32) {
		d *= 2
		if d >= l.Max {
			break
		}
	}
	d = min(d, l.Max)
	return max(f.Last.Add(d).Sub(now), 0)
}

// inMinutes renders a wait for people: "1 minute", "5 minutes".
func inMinutes(d time.Duration) string {
	n := int(math.Ceil(d.Minutes()))
	if n <= 1 {
		return "1 minute"
	}
	return fmt.Sprintf("%d minutes", n)
}

// checkPassword runs the argon2id comparison under the semaphore that
// bounds how many run at once.
func (s *Server) checkPassword(ctx context.Context, hash, password string) (ok, rehash bool, err error) {
	select {
	case s.hashSem <- struct{}{}:
	case <-ctx.Done():
		return false, false, ctx.Err()
	}
	defer func() { <-s.hashSem }()
	return checkPassword(hash, password, s.cfg.PasswordParams)
}

// burnHash spends the time of one password check, for names without a
// user.
func (s *Server) burnHash(ctx context.Context) {
	s.dummyOnce.Do(func() { s.dummyHash = hashPassword(randomText(16), s.cfg.PasswordParams) })
	_, _, _ = s.checkPassword(ctx, s.dummyHash, "not the password")
}

// serveLogout is POST /oauth/logout. With an authorization request in
// the form it goes back to it (to sign in as someone else); otherwise it
// says the user is signed out.
func (s *Server) serveLogout(w http.ResponseWriter, r *http.Request) {
	if !s.formOK(w, r) {
		return
	}
	if err := s.endSession(w, r); err != nil {
		s.log.ErrorContext(r.Context(), "ending session failed", "err", err)
	}
	if q, err := url.ParseQuery(r.PostForm.Get("request")); err == nil && len(q) > 0 && len(r.PostForm.Get("request")) <= maxAuthorizeQuery {
		w.Header().Set("Location", s.base+PathAuthorize+"?"+q.Encode())
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusSeeOther)
		return
	}
	s.render(w, r, http.StatusOK, "error", &pageData{Title: "Signed out", Heading: "Signed out", Message: "You are signed out."})
}

// serveApps is GET /oauth/apps: the signed-in user's connected apps.
func (s *Server) serveApps(w http.ResponseWriter, r *http.Request) {
	s.appsPage(w, r, "")
}

func (s *Server) appsPage(w http.ResponseWriter, r *http.Request, notice string) {
	user, err := s.currentUser(r)
	if err != nil {
		s.log.ErrorContext(r.Context(), "reading session failed", "err", err)
		s.errorPage(w, r, http.StatusServiceUnavailable, "Something went wrong", "Your sign-in could not be checked.")
		return
	}
	if user == "" {
		s.loginPage(w, r, http.StatusOK, nil, "", "")
		return
	}
	grants, err := s.store.ListGrants(r.Context(), user)
	if err != nil {
		s.log.ErrorContext(r.Context(), "listing grants failed", "err", err)
		s.errorPage(w, r, http.StatusServiceUnavailable, "Something went wrong", "Your connected apps could not be listed.")
		return
	}
	d := &pageData{Title: "Connected apps", User: user, Notice: notice}
	for _, g := range grants {
		ag := appGrant{
			ClientID: g.ClientID,
			Name:     g.ClientName,
			Approved: g.UpdatedAt.Format("2 January 2006"),
			Scopes:   describeScopes(g.Scopes),
		}
		if ag.Name == "" {
			ag.Name = "An unnamed application"
		}
		if isMetadataClientID(g.ClientID) {
			ag.Label = hostOf(g.ClientID)
		} else {
			ag.Label = "client " + g.ClientID
		}
		d.Grants = append(d.Grants, ag)
	}
	s.render(w, r, http.StatusOK, "apps", d)
}

// serveAppsRevoke is POST /oauth/apps: disconnect one app. Its tokens
// stop working at once.
func (s *Server) serveAppsRevoke(w http.ResponseWriter, r *http.Request) {
	if !s.formOK(w, r) {
		return
	}
	user, err := s.currentUser(r)
	if err != nil || user == "" {
		s.loginPage(w, r, http.StatusUnauthorized, nil, "", "Please sign in again.")
		return
	}
	id := r.PostForm.Get("client_id")
	err = s.store.RevokeGrant(r.Context(), user, id, s.now().UTC().Truncate(time.Second))
	switch {
	case errors.Is(err, errdefs.ErrNotFound):
		s.appsPage(w, r, "That application was already disconnected.")
	case err != nil:
		s.log.ErrorContext(r.Context(), "revoking grant failed", "err", err)
		s.errorPage(w, r, http.StatusServiceUnavailable, "Something went wrong", "The application could not be disconnected. Please try again.")
	default:
		s.log.InfoContext(r.Context(), "grant revoked by the user", "user", user, "client_id", truncate(id, 200))
		s.appsPage(w, r, "Disconnected. The application can no longer use this blog on your behalf.")
	}
}

// NormalizeUserName is how a typed user name is compared: without
// surrounding space, in lower case.
func NormalizeUserName(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// MaxUserNameLen bounds a user name.
const MaxUserNameLen = 64

// ValidUserName reports whether name (already normalized) is acceptable:
// 1 to 64 characters of a-z, 0-9, '.', '_', '-' and '@', starting with a
// letter or digit. Names appear in logs, the CLI and pages, so they stay
// plain.
func ValidUserName(name string) bool {
	if name == "" || len(name) > MaxUserNameLen {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		case i > 0 && (c == '.' || c == '_' || c == '-' || c == '@'):
		default:
			return false
		}
	}
	return true
}
