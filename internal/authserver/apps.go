package authserver

import (
	"errors"
	"net/http"
	"time"

	"github.com/2coffee/mcp-2coffee/internal/errdefs"
	"github.com/2coffee/mcp-2coffee/internal/oauth"
)

// appsEndpoint serves the connected-apps page, where a signed-in user
// sees the grants they gave and revokes them.
type appsEndpoint struct {
	*site
	sessions *browserSessions
	grants   oauth.Grants
}

// serveApps is GET /oauth/apps: the signed-in user's connected apps.
func (s *appsEndpoint) serveApps(w http.ResponseWriter, r *http.Request) {
	s.appsPage(w, r, "")
}

func (s *appsEndpoint) appsPage(w http.ResponseWriter, r *http.Request, notice string) {
	user, err := s.sessions.user(r)
	if err != nil {
		s.sessionFailed(w, r, err)
		return
	}
	if user == "" {
		s.loginPage(w, r, http.StatusOK, nil, "", "")
		return
	}
	grants, err := s.grants.ListGrants(r.Context(), user)
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
func (s *appsEndpoint) serveAppsRevoke(w http.ResponseWriter, r *http.Request) {
	if !s.formOK(w, r) {
		return
	}
	user, err := s.sessions.user(r)
	if err != nil || user == "" {
		s.loginPage(w, r, http.StatusUnauthorized, nil, "", "Please sign in again.")
		return
	}
	id := r.PostForm.Get("client_id")
	err = s.grants.RevokeGrant(r.Context(), user, id, s.now().UTC().Truncate(time.Second))
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
