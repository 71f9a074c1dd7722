package authserver

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/2coffee/mcp-2coffee/internal/errdefs"
	"github.com/2coffee/mcp-2coffee/internal/oauth"
)

// loginEndpoint serves the sign-in form and sign-out. It checks
// passwords against users, counts failures per name (Lockouts) and starts
// and ends browser sessions.
type loginEndpoint struct {
	*site
	clients  *clientFinder // to check the authorization request the form carries
	sessions *browserSessions
	users    oauth.Users
	lockouts oauth.Lockouts

	// hashSem bounds concurrent argon2 computations: each takes tens of
	// MiB, and a burst of sign-ins must not exhaust memory.
	hashSem chan struct{}
	// dummyHash is checked against when the name is unknown, so the
	// answer takes as long as for a known name.
	dummyOnce sync.Once
	dummyHash string
}

func newLoginEndpoint(s *site, clients *clientFinder, sessions *browserSessions, users oauth.Users, lockouts oauth.Lockouts) *loginEndpoint {
	return &loginEndpoint{site: s, clients: clients, sessions: sessions, users: users, lockouts: lockouts,
		hashSem: make(chan struct{}, 4)}
}

// loginPage shows the sign-in form. req is the authorization request to
// continue after sign-in, or nil (then sign-in leads to the apps page).
// The form's post may end, through /authorize, in a redirect to the
// client, so the client's redirect origin is allowed as a form target.
func (s *site) loginPage(w http.ResponseWriter, r *http.Request, status int, req *authRequest, username, msg string) {
	d := &pageData{Title: "Sign in", Username: username, Error: msg, PasswordLogin: !s.cfg.NoPasswordLogin}
	targets := []string{""}
	if req != nil {
		d.Request = req.raw
		d.ClientName = displayName(req.client)
		d.NameUnverified = nameUnverified(req.client)
		targets[0] = redirectSource(req.redirectURI)
	}
	if p := s.cfg.Login; p != nil {
		// A link, not a form: form-action would have to allow every
		// host the provider's sign-in redirects through (its own login
		// pages), which no one can list. Starting a sign-in changes
		// nothing, so a GET is right for it.
		d.Provider = p.Name()
		u := s.base + PathLoginUpstream
		if d.Request != "" {
			q, _ := url.ParseQuery(d.Request)
			u += "?" + q.Encode()
		}
		d.UpstreamURL = template.URL(u)
	}
	s.render(w, r, status, "login", d, targets...)
}

// serveLoginPage is GET /oauth/login: the form on its own, for reaching the
// apps page.
func (s *loginEndpoint) serveLoginPage(w http.ResponseWriter, r *http.Request) {
	if user, err := s.sessions.user(r); err == nil && user != "" {
		http.Redirect(w, r, s.base+PathApps, http.StatusSeeOther)
		return
	}
	s.loginPage(w, r, http.StatusOK, nil, "", "")
}

// serveLogin is POST /oauth/login.
func (s *loginEndpoint) serveLogin(w http.ResponseWriter, r *http.Request) {
	if s.cfg.NoPasswordLogin {
		s.fail(r, slog.LevelInfo, "login_password_off")
		s.errorPage(w, r, http.StatusForbidden, "Sign in at "+s.cfg.Login.Name(), "This server does not take passwords; sign in with "+s.cfg.Login.Name()+".")
		return
	}
	if limited, wait := s.limited(w, r, "login"); limited {
		s.errorPage(w, r, http.StatusTooManyRequests, "Too many attempts",
			"Too many sign-in attempts came from your network. Try again in "+inMinutes(wait)+".")
		return
	}
	if ok, wait, _, _ := s.limits["login_all"].allow("all", s.now()); !ok {
		s.busy(w, r, wait)
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
		req, pp, _ = s.parseAuthorize(r.Context(), s.clients, raw)
		if pp != nil {
			s.fail(r, slog.LevelInfo, pp.reason)
			s.errorPage(w, r, pp.status, "This application cannot connect", pp.message)
			return
		}
	}
	name := oauth.NormalizeUserName(r.PostForm.Get("username"))
	ok, wait, err := s.signIn(r.Context(), r, name, r.PostForm.Get("password"))
	switch {
	case errors.Is(err, errHashBusy):
		s.busy(w, r, 5*time.Second)
		return
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
	if err := s.sessions.start(w, r, name); err != nil {
		s.log.ErrorContext(r.Context(), "creating session failed", "err", err)
		s.loginPage(w, r, http.StatusServiceUnavailable, req, name, "Signing in is not possible right now. Please try again in a moment.")
		return
	}
	s.log.InfoContext(r.Context(), "user signed in", "user", name, "remote", s.clientAddr(r))
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
func (s *loginEndpoint) signIn(ctx context.Context, r *http.Request, name, password string) (ok bool, wait time.Duration, err error) {
	now := s.now()
	if !oauth.ValidUserName(name) || password == "" || len(password) > oauth.MaxPasswordLen {
		s.fail(r, slog.LevelInfo, "login_malformed")
		if err := s.burnHash(ctx); errors.Is(err, errHashBusy) {
			return false, 0, err
		}
		return false, 0, nil
	}
	lock := s.cfg.Lockout.Threshold > 0
	// The two counts: this name from this address, and this name from
	// anywhere (see Lockout).
	keys := [2]string{oauth.FailureKey(name, s.clientIP(r)), name}
	thresholds := [2]int{s.cfg.Lockout.Threshold, s.cfg.Lockout.NameThreshold}
	if lock {
		for i, key := range keys {
			f, err := s.lockouts.LoginFailures(ctx, key)
			if err != nil {
				return false, 0, err
			}
			if wait := s.cfg.Lockout.wait(f, now, thresholds[i]); wait > 0 {
				s.fail(r, slog.LevelWarn, "login_locked", "failures", f.Count, "from_anywhere", i == 1)
				return false, wait, nil
			}
		}
	}
	u, err := s.users.UserByName(ctx, name)
	known := err == nil
	switch {
	case errors.Is(err, errdefs.ErrNotFound), err == nil && u.PasswordHash == "":
		// No such user, or one who signs in at a provider and has no
		// password here: the same answer, at the same cost.
		if err := s.burnHash(ctx); errors.Is(err, errHashBusy) {
			return false, 0, err
		}
	case err != nil:
		return false, 0, err
	default:
		match, rehash, err := s.checkPassword(ctx, u.PasswordHash, password)
		if err != nil {
			return false, 0, err
		}
		if match {
			if lock {
				for _, key := range keys {
					if err := s.lockouts.ClearLoginFailures(ctx, key); err != nil {
						return false, 0, err
					}
				}
			}
			if err := s.users.RecordLogin(ctx, name, now.UTC().Truncate(time.Second)); err != nil {
				s.log.WarnContext(ctx, "recording sign-in time failed", "user", name, "err", err)
			}
			if rehash {
				// Parameters changed since this hash was made: upgrade it
				// now that the password is at hand.
				if err := s.users.SetPasswordHash(ctx, name, oauth.HashPassword(password, s.cfg.PasswordParams), u.PasswordChangedAt); err != nil {
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
	var count int
	for i, key := range keys {
		f, err := s.lockouts.RecordLoginFailure(ctx, key, now, now.Add(-s.cfg.Lockout.Window))
		if err != nil {
			return false, 0, err
		}
		if i == 0 {
			count = f.Count
		}
		wait = max(wait, s.cfg.Lockout.wait(f, now, thresholds[i]))
	}
	s.fail(r, slog.LevelInfo, "login_failed", append(attrs, "failures", count, "locked", wait > 0)...)
	return false, wait, nil
}

// wait is how long a count with failures f stays locked after now, when
// it locks at threshold failures.
func (l Lockout) wait(f *oauth.LoginFailures, now time.Time, threshold int) time.Duration {
	if l.Threshold <= 0 || threshold <= 0 || f == nil || f.Count < threshold {
		return 0
	}
	d := l.Base
	for range min(f.Count-threshold, 32) {
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

// errHashBusy is a sign-in that found no free password-hash slot in time.
var errHashBusy = errors.New("every password hash slot is busy")

// busy answers a sign-in the server cannot take now: 503 with Retry-After,
// since the cause is load, not this client.
func (s *loginEndpoint) busy(w http.ResponseWriter, r *http.Request, wait time.Duration) {
	s.fail(r, slog.LevelInfo, "login_busy")
	w.Header().Set("Retry-After", fmt.Sprint(max(1, int(math.Ceil(wait.Seconds())))))
	s.errorPage(w, r, http.StatusServiceUnavailable, "Busy",
		"Many sign-ins are arriving right now. Please try again in a few seconds.")
}

// checkPassword runs the argon2id comparison under the semaphore that
// bounds how many run at once, waiting for a slot at most SignInWait.
func (s *loginEndpoint) checkPassword(ctx context.Context, hash, password string) (ok, rehash bool, err error) {
	wait := s.cfg.SignInWait
	if wait <= 0 {
		wait = 2 * time.Second
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case s.hashSem <- struct{}{}:
	case <-t.C:
		return false, false, errHashBusy
	case <-ctx.Done():
		return false, false, ctx.Err()
	}
	defer func() { <-s.hashSem }()
	return oauth.CheckPassword(hash, password, s.cfg.PasswordParams)
}

// burnHash spends the time of one password check, for names without a
// user. It reports errHashBusy as a real check would, so a busy server
// answers a known and an unknown name alike.
func (s *loginEndpoint) burnHash(ctx context.Context) error {
	s.dummyOnce.Do(func() { s.dummyHash = oauth.HashPassword(oauth.NewID(), s.cfg.PasswordParams) })
	_, _, err := s.checkPassword(ctx, s.dummyHash, "not the password")
	return err
}

// serveLogout is POST /oauth/logout. With an authorization request in
// the form it goes back to it (to sign in as someone else); otherwise it
// says the user is signed out.
func (s *loginEndpoint) serveLogout(w http.ResponseWriter, r *http.Request) {
	if !s.formOK(w, r) {
		return
	}
	if err := s.sessions.end(w, r); err != nil {
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
