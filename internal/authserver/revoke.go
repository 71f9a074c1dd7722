package authserver

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/2coffee/mcp-2coffee/internal/errdefs"
	"github.com/2coffee/mcp-2coffee/internal/oauth"
)

// lookupToken finds an access or refresh token by its text; nil when the
// text is neither or no such token exists.
func lookupToken(ctx context.Context, tokens oauth.Tokens, text string) (*oauth.Token, error) {
	if !oauth.WellFormed(text, oauth.PrefixAccessToken) && !oauth.WellFormed(text, oauth.PrefixRefreshToken) {
		return nil, nil
	}
	t, err := tokens.TokenByHash(ctx, oauth.HashSecret(text))
	if errors.Is(err, errdefs.ErrNotFound) {
		return nil, nil
	}
	return t, err
}

// revokeEndpoint serves token revocation (RFC 7009).
type revokeEndpoint struct {
	*site
	clients *clientFinder
	tokens  oauth.Tokens
}

// serveRevoke is POST /oauth/revoke (RFC 7009). Confidential clients
// authenticate; public ones identify themselves with client_id. The answer
// is 200 whether or not the token existed, and for a token of another
// client too (nothing is revoked then), so the endpoint tells nothing about
// tokens. Revoking a refresh token revokes its whole family (the access
// tokens issued with it included); revoking an access token revokes that
// token.
func (s *revokeEndpoint) serveRevoke(w http.ResponseWriter, r *http.Request) {
	form, ok := s.limitedTokenForm(w, r, "revoke")
	if !ok {
		return
	}
	c, oe := s.clients.authenticate(r, form)
	if oe != nil {
		writeError(w, oe)
		return
	}
	text := form.Get("token")
	if text == "" {
		writeError(w, newError(http.StatusBadRequest, errInvalidRequest, "token is required"))
		return
	}
	t, err := lookupToken(r.Context(), s.tokens, text)
	if err != nil {
		s.log.ErrorContext(r.Context(), "looking up a token to revoke failed", "err", err)
		// RFC 7009 §2.2.1: the client may retry later.
		writeError(w, newError(http.StatusServiceUnavailable, errTemporarilyUnavailable, "try again"))
		return
	}
	switch {
	case t == nil:
	case t.ClientID != c.ID:
		s.fail(r, slog.LevelWarn, "revoke_foreign_token", "client_id", c.ID, "token_client_id", t.ClientID)
	default:
		at := s.now().UTC().Truncate(time.Second)
		if t.Kind == oauth.KindRefresh {
			err = s.tokens.RevokeFamily(r.Context(), t.FamilyID, at)
		} else {
			err = s.tokens.RevokeToken(r.Context(), t.Hash, at)
		}
		if err != nil && !errors.Is(err, errdefs.ErrNotFound) {
			s.log.ErrorContext(r.Context(), "revoking a token failed", "err", err)
			writeError(w, newError(http.StatusServiceUnavailable, errTemporarilyUnavailable, "try again"))
			return
		}
		s.log.InfoContext(r.Context(), "token revoked by its client", "client_id", c.ID, "kind", t.Kind, "family", t.FamilyID)
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
}
