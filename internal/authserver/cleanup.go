package authserver

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// CleanupResult counts what one Cleanup deleted.
type CleanupResult struct {
	Clients       int // dynamic clients never or no longer used
	Codes         int
	Tokens        int
	Sessions      int
	LoginFailures int
	Assertions    int // spent assertions past their expiry
}

// codeRetention is how long a code is kept after it expired: a replay
// within it still revokes the tokens the code gave.
const codeRetention = 24 * time.Hour

// Cleanup deletes what is no longer needed: dynamically registered clients
// never used within UnusedClientTTL or idle for IdleClientTTL (with their
// grants and tokens), codes a day after they expired, expired tokens
// (rotated refresh tokens stay until they expire, for reuse detection),
// expired sessions, stale failed sign-in counts and spent assertions past
// their expiry. Every step runs even
// if one fails; the errors are joined. Run it periodically (RunCleanup
// does); it is safe to run on several replicas at once.
func (s *Server) Cleanup(ctx context.Context) (CleanupResult, error) {
	now := s.site.now().UTC()
	cfg := &s.site.cfg
	var res CleanupResult
	var errs []error
	step := func(what string, n *int, fn func() (int, error)) {
		c, err := fn()
		*n = c
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", what, err))
		}
	}
	step("clients", &res.Clients, func() (int, error) {
		return s.sweep.DeleteUnusedClients(ctx, now.Add(-cfg.UnusedClientTTL), now.Add(-cfg.IdleClientTTL))
	})
	step("codes", &res.Codes, func() (int, error) { return s.sweep.DeleteExpiredCodes(ctx, now.Add(-codeRetention)) })
	step("tokens", &res.Tokens, func() (int, error) { return s.sweep.DeleteExpiredTokens(ctx, now) })
	step("sessions", &res.Sessions, func() (int, error) { return s.sweep.DeleteExpiredSessions(ctx, now) })
	step("login failures", &res.LoginFailures, func() (int, error) {
		return s.sweep.DeleteLoginFailures(ctx, now.Add(-cfg.Lockout.Window))
	})
	step("spent assertions", &res.Assertions, func() (int, error) { return s.sweep.DeleteSpentAssertions(ctx, now) })
	if err := errors.Join(errs...); err != nil {
		return res, fmt.Errorf("authserver: cleanup: %w", err)
	}
	return res, nil
}

// RunCleanup runs Cleanup now and then every interval until ctx is done,
// logging what it deleted and any failure.
func (s *Server) RunCleanup(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		res, err := s.Cleanup(ctx)
		if err != nil && ctx.Err() == nil {
			s.site.log.ErrorContext(ctx, "oauth cleanup failed", "err", err)
		}
		if res != (CleanupResult{}) {
			s.site.log.InfoContext(ctx, "oauth cleanup", "clients", res.Clients, "codes", res.Codes, "tokens", res.Tokens,
				"sessions", res.Sessions, "login_failures", res.LoginFailures, "spent_assertions", res.Assertions)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
