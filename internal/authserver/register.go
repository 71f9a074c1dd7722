package authserver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"slices"
	"time"

	"github.com/2coffee/mcp-2coffee/internal/errdefs"
)

// MaxRegistrationBytes bounds a registration request body. Real ones are
// a few hundred bytes; ten redirect URIs of the longest allowed length
// would not fit, which is fine: nobody needs that.
const MaxRegistrationBytes = 16 << 10

// metadataError is a refused registration (RFC 7591 §3.2.2).
type metadataError struct {
	code string // errInvalidRedirectURI or errInvalidClientMetadata
	msg  string
}

func (e *metadataError) Error() string { return e.msg }

// Is makes a refused registration a errdefs.ErrInvalid for Admin callers.
func (e *metadataError) Is(target error) bool { return target == errdefs.ErrInvalid }

func badMetadata(format string, args ...any) error {
	return &metadataError{code: errInvalidClientMetadata, msg: fmt.Sprintf(format, args...)}
}

// buildClient checks client metadata and makes a client of kind with a
// new id and, for a confidential client, a new secret (returned once).
// Defaults: a public client ("none": MCP clients are mostly native apps
// that cannot keep a secret, and a secret handed to an anonymous
// registrant proves nothing), the authorization_code and refresh_token
// grants, the code response type, every scope.
func buildClient(md *ClientMetadata, kind string, now time.Time) (*Client, string, error) {
	if err := checkRedirectURIs(md.RedirectURIs); err != nil {
		return nil, "", &metadataError{code: errInvalidRedirectURI, msg: err.Error()}
	}
	name, err := checkClientName(md.ClientName)
	if err != nil {
		return nil, "", badMetadata("%v", err)
	}
	c := &Client{
		ID:            newID(),
		Name:          name,
		Kind:          kind,
		AuthMethod:    md.TokenEndpointAuthMethod,
		RedirectURIs:  slices.Clone(md.RedirectURIs),
		GrantTypes:    []string{GrantAuthorizationCode, GrantRefreshToken},
		ResponseTypes: []string{ResponseTypeCode},
		CreatedAt:     now.UTC().Truncate(time.Second),
	}
	var secret string
	switch c.AuthMethod {
	case "":
		c.AuthMethod = AuthNone
	case AuthNone:
	case AuthSecretBasic, AuthSecretPost:
		secret = newSecret(PrefixClientSecret)
		c.SecretHash = hashSecret(secret)
	default:
		return nil, "", badMetadata("token_endpoint_auth_method must be none, client_secret_basic or client_secret_post")
	}
	if md.GrantTypes != nil {
		c.GrantTypes = nil
		for _, g := range md.GrantTypes {
			if g != GrantAuthorizationCode && g != GrantRefreshToken {
				return nil, "", badMetadata("grant_types may hold only authorization_code and refresh_token")
			}
			if !slices.Contains(c.GrantTypes, g) {
				c.GrantTypes = append(c.GrantTypes, g)
			}
		}
		if !slices.Contains(c.GrantTypes, GrantAuthorizationCode) {
			return nil, "", badMetadata("grant_types must include authorization_code, the only way to obtain tokens here")
		}
		slices.Sort(c.GrantTypes) // authorization_code, refresh_token
	}
	if md.ResponseTypes != nil && !slices.Equal(slices.Compact(slices.Clone(md.ResponseTypes)), []string{ResponseTypeCode}) {
		return nil, "", badMetadata(`response_types must be ["code"]`)
	}
	if md.Scope != "" {
		sc, err := parseScope(md.Scope)
		if err != nil {
			return nil, "", badMetadata("scope: %v", err)
		}
		c.Scopes = sc
	}
	if err := checkOptionalURI(md.ClientURI); err != nil {
		return nil, "", badMetadata("client_uri %v", err)
	}
	if err := checkOptionalURI(md.LogoURI); err != nil {
		return nil, "", badMetadata("logo_uri %v", err)
	}
	c.ClientURI, c.LogoURI = md.ClientURI, md.LogoURI
	return c, secret, nil
}

// storeClient stores c, drawing a new id if the first is taken (128
// random bits make that a formality).
func storeClient(ctx context.Context, store ClientStore, c *Client) error {
	for range 3 {
		err := store.CreateClient(ctx, c)
		if !errors.Is(err, errdefs.ErrConflict) {
			return err
		}
		c.ID = newID()
	}
	return fmt.Errorf("no free client id after 3 attempts: %w", errdefs.ErrConflict)
}

// registrationRequest is the RFC 7591 §2 metadata this server reads;
// other members are ignored, as §2 requires.
type registrationRequest struct {
	RedirectURIs            []string `json:"redirect_uris"`
	TokenEndpointAuthMethod string   `json:"token_endpoint_auth_method"`
	GrantTypes              []string `json:"grant_types"`
	ResponseTypes           []string `json:"response_types"`
	ClientName              string   `json:"client_name"`
	ClientURI               string   `json:"client_uri"`
	LogoURI                 string   `json:"logo_uri"`
	Scope                   string   `json:"scope"`
	ApplicationType         string   `json:"application_type"`
}

// registrationResponse is the RFC 7591 §3.2.1 answer.
type registrationResponse struct {
	ClientID                string   `json:"client_id"`
	ClientSecret            string   `json:"client_secret,omitempty"`
	ClientIDIssuedAt        int64    `json:"client_id_issued_at"`
	ClientSecretExpiresAt   *int64   `json:"client_secret_expires_at,omitempty"`
	RedirectURIs            []string `json:"redirect_uris"`
	TokenEndpointAuthMethod string   `json:"token_endpoint_auth_method"`
	GrantTypes              []string `json:"grant_types"`
	ResponseTypes           []string `json:"response_types"`
	ClientName              string   `json:"client_name,omitempty"`
	ClientURI               string   `json:"client_uri,omitempty"`
	LogoURI                 string   `json:"logo_uri,omitempty"`
	Scope                   string   `json:"scope,omitempty"`
}

func (s *Server) serveRegister(w http.ResponseWriter, r *http.Request) {
	if limited, _ := s.limited(w, r, "register"); limited {
		writeError(w, newError(http.StatusTooManyRequests, errTemporarilyUnavailable, "too many registrations from this address; retry later"))
		return
	}
	refuse := func(status int, code, msg string) {
		s.fail(r, slog.LevelInfo, "registration_refused", "error", code, "detail", msg)
		writeError(w, newError(status, code, msg))
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		refuse(http.StatusBadRequest, errInvalidClientMetadata, "the registration must be a JSON object sent as application/json")
		return
	}
	if r.ContentLength > MaxRegistrationBytes {
		w.Header().Set("Connection", "close")
		refuse(http.StatusRequestEntityTooLarge, errInvalidClientMetadata, "the registration is larger than 16 KiB")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxRegistrationBytes))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			refuse(http.StatusRequestEntityTooLarge, errInvalidClientMetadata, "the registration is larger than 16 KiB")
			return
		}
		refuse(http.StatusBadRequest, errInvalidClientMetadata, "the registration could not be read")
		return
	}
	var req registrationRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&req); err != nil || dec.More() || bytes.TrimSpace(body)[0] != '{' {
		refuse(http.StatusBadRequest, errInvalidClientMetadata, "the registration is not a single JSON object with the RFC 7591 members (redirect_uris must be an array of strings)")
		return
	}
	switch req.ApplicationType {
	case "", "native", "web":
	default:
		refuse(http.StatusBadRequest, errInvalidClientMetadata, "application_type must be native or web")
		return
	}
	c, secret, err := buildClient(&ClientMetadata{
		RedirectURIs:            req.RedirectURIs,
		TokenEndpointAuthMethod: req.TokenEndpointAuthMethod,
		GrantTypes:              req.GrantTypes,
		ResponseTypes:           req.ResponseTypes,
		ClientName:              req.ClientName,
		ClientURI:               req.ClientURI,
		LogoURI:                 req.LogoURI,
		Scope:                   req.Scope,
	}, KindDynamic, s.now())
	if me, ok := errors.AsType[*metadataError](err); ok {
		refuse(http.StatusBadRequest, me.code, me.msg)
		return
	}
	if err := storeClient(r.Context(), s.store, c); err != nil {
		s.log.ErrorContext(r.Context(), "storing a registered client failed", "err", err)
		writeError(w, newError(http.StatusInternalServerError, errServerError, "the client could not be stored; try again"))
		return
	}
	s.log.InfoContext(r.Context(), "client registered", "client_id", c.ID, "name", c.Name,
		"auth_method", c.AuthMethod, "remote", r.RemoteAddr)
	resp := registrationResponse{
		ClientID:                c.ID,
		ClientSecret:            secret,
		ClientIDIssuedAt:        c.CreatedAt.Unix(),
		RedirectURIs:            c.RedirectURIs,
		TokenEndpointAuthMethod: c.AuthMethod,
		GrantTypes:              c.GrantTypes,
		ResponseTypes:           c.ResponseTypes,
		ClientName:              c.Name,
		ClientURI:               c.ClientURI,
		LogoURI:                 c.LogoURI,
		Scope:                   scopeText(c.Scopes),
	}
	if secret != "" {
		never := int64(0) // RFC 7591: 0 means the secret does not expire
		resp.ClientSecretExpiresAt = &never
	}
	writeJSON(w, http.StatusCreated, resp)
}
