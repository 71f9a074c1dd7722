package oauthclient

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/2coffee/mcp-2coffee/internal/tokencache"
)

// Status describes what is cached for one server. It never holds a secret.
type Status struct {
	// ServerURL is the canonical MCP endpoint.
	ServerURL string `json:"server_url"`
	// Issuer is the authorization server.
	Issuer string `json:"issuer,omitempty"`
	// ClientID, ClientKind ("dynamic", "metadata-document",
	// "preregistered") and AuthMethod describe the client identity.
	ClientID   string `json:"client_id,omitempty"`
	ClientKind string `json:"client_kind,omitempty"`
	AuthMethod string `json:"token_endpoint_auth_method,omitempty"`
	// Scopes are the scopes granted.
	Scopes []string `json:"scopes,omitempty"`
	// Expiry is when the access token expires (zero: unknown).
	Expiry time.Time `json:"expiry,omitzero"`
	// SignedIn is true when an access token is cached.
	SignedIn bool `json:"signed_in"`
	// Refreshable is true when a refresh token is cached.
	Refreshable bool `json:"refreshable"`
	// UpdatedAt is when the entry was last written.
	UpdatedAt time.Time `json:"updated_at,omitzero"`
}

// String renders s on one line, e.g. for `mcp-2coffee auth status`.
func (s Status) String() string {
	var b strings.Builder
	b.WriteString(s.ServerURL)
	if !s.SignedIn {
		b.WriteString(": not signed in")
	} else {
		b.WriteString(": signed in")
		if !s.Expiry.IsZero() {
			if d := time.Until(s.Expiry); d > 0 {
				fmt.Fprintf(&b, ", token expires %s (in %s)", s.Expiry.Local().Format(time.DateTime), d.Round(time.Second))
			} else {
				fmt.Fprintf(&b, ", token expired %s", s.Expiry.Local().Format(time.DateTime))
			}
		}
		if s.Refreshable {
			b.WriteString(", refreshable")
		}
	}
	if len(s.Scopes) > 0 {
		fmt.Fprintf(&b, "; scopes: %s", strings.Join(s.Scopes, " "))
	}
	if s.Issuer != "" {
		fmt.Fprintf(&b, "; issuer: %s", s.Issuer)
	}
	if s.ClientID != "" {
		fmt.Fprintf(&b, "; client: %s (%s)", s.ClientID, s.ClientKind)
	}
	return b.String()
}

// StatusOf lists what store holds for serverURL, or for every server when
// serverURL is "".
func StatusOf(store *tokencache.Store, serverURL string) ([]Status, error) {
	var entries []*tokencache.Entry
	if serverURL != "" {
		e, err := store.Load(serverURL)
		if errors.Is(err, tokencache.ErrNotFound) {
			canon, cerr := tokencache.CanonicalURL(serverURL)
			if cerr != nil {
				return nil, cerr
			}
			return []Status{{ServerURL: canon}}, nil
		}
		if err != nil {
			return nil, err
		}
		entries = []*tokencache.Entry{e}
	} else {
		var err error
		entries, err = store.List()
		if err != nil && len(entries) == 0 {
			return nil, err
		}
	}
	out := make([]Status, 0, len(entries))
	for _, e := range entries {
		s := Status{ServerURL: e.ServerURL, Issuer: e.Issuer, UpdatedAt: e.UpdatedAt}
		if e.Client != nil {
			s.ClientID, s.ClientKind, s.AuthMethod = e.Client.ID, e.Client.Kind, e.Client.AuthMethod
		}
		if t := e.Token; t != nil {
			s.SignedIn = t.AccessToken != ""
			s.Refreshable = t.RefreshToken != ""
			s.Scopes = strings.Fields(t.Scope)
			s.Expiry = t.Expiry
		}
		out = append(out, s)
	}
	return out, nil
}

// Status is StatusOf on the Client's store.
func (c *Client) Status(serverURL string) ([]Status, error) {
	if c.opts.Store == nil {
		return nil, errors.New("no token cache configured")
	}
	return StatusOf(c.opts.Store, serverURL)
}
