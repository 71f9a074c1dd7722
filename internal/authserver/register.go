package authserver

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/2coffee/mcp-2coffee/internal/errdefs"
	"github.com/2coffee/mcp-2coffee/internal/oauth"
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

// Is makes a refused registration an errdefs.ErrInvalid for oauth.Admin
// callers, whose ClientBuilder BuildClient is.
func (e *metadataError) Is(target error) bool { return target == errdefs.ErrInvalid }

func badMetadata(format string, args ...any) error {
	return &metadataError{code: errInvalidClientMetadata, msg: fmt.Sprintf(format, args...)}
}

// BuildClient checks client metadata and makes a client of kind with a
// new id and, for a confidential client, a new secret (returned once):
// the rules of dynamic registration (RFC 7591), which pre-registration
// shares as the oauth.ClientBuilder of an oauth.Admin. Defaults: a public
// client ("none": MCP clients are mostly native apps that cannot keep a
// secret, and a secret handed to an anonymous registrant proves nothing),
// the authorization_code and refresh_token grants, the code response
// type, every scope. A refusal matches errdefs.ErrInvalid.
func BuildClient(md *oauth.ClientMetadata, kind string, now time.Time) (*oauth.Client, string, error) {
	// A machine client has the client credentials or the jwt-bearer
	// grant alone: it never sends anyone to a browser, so it has no
	// redirect URIs, and it must prove itself with a secret. Only an
	// operator makes one.
	machine := ""
	for _, g := range []string{oauth.GrantClientCredentials, oauth.GrantJWTBearer} {
		if slices.Contains(md.GrantTypes, g) {
			machine = g
		}
	}
	short := strings.TrimPrefix(machine, "urn:ietf:params:oauth:grant-type:")
	switch {
	case machine != "" && kind != oauth.KindPreregistered:
		return nil, "", badMetadata("grant_types may hold only authorization_code and refresh_token")
	case machine != "" && len(md.GrantTypes) != 1:
		return nil, "", badMetadata("a %s client has that grant alone", short)
	case machine != "" && len(md.RedirectURIs) > 0:
		return nil, "", badMetadata("a %s client has no redirect URIs: it never signs anyone in", short)
	case machine != "" && md.TokenEndpointAuthMethod != oauth.AuthSecretBasic && md.TokenEndpointAuthMethod != oauth.AuthSecretPost:
		return nil, "", badMetadata("a %s client authenticates with a secret: client_secret_basic or client_secret_post", short)
	case machine == "":
		if err := checkRedirectURIs(md.RedirectURIs); err != nil {
			return nil, "", &metadataError{code: errInvalidRedirectURI, msg: err.Error()}
		}
	}
	name, err := checkClientName(md.ClientName)
	if err != nil {
		return nil, "", badMetadata("%v", err)
	}
	c := &oauth.Client{
		ID:            oauth.NewID(),
		Name:          name,
		Kind:          kind,
		AuthMethod:    md.TokenEndpointAuthMethod,
		RedirectURIs:  slices.Clone(md.RedirectURIs),
		GrantTypes:    []string{oauth.GrantAuthorizationCode, oauth.GrantRefreshToken},
		ResponseTypes: []string{oauth.ResponseTypeCode},
		CreatedAt:     now.UTC().Truncate(time.Second),
	}
	var secret string
	switch c.AuthMethod {
	case "":
		c.AuthMethod = oauth.AuthNone
	case oauth.AuthNone:
	case oauth.AuthSecretBasic, oauth.AuthSecretPost:
		secret = oauth.NewSecret(oauth.PrefixClientSecret)
		c.SecretHash = oauth.HashSecret(secret)
	default:
		return nil, "", badMetadata("token_endpoint_auth_method must be none, client_secret_basic or client_secret_post")
	}
	if machine != "" {
		c.GrantTypes, c.ResponseTypes = []string{machine}, nil
	} else if md.GrantTypes != nil {
		c.GrantTypes = nil
		for _, g := range md.GrantTypes {
			if g != oauth.GrantAuthorizationCode && g != oauth.GrantRefreshToken {
				return nil, "", badMetadata("grant_types may hold only authorization_code and refresh_token")
			}
			if !slices.Contains(c.GrantTypes, g) {
				c.GrantTypes = append(c.GrantTypes, g)
			}
		}
		if !slices.Contains(c.GrantTypes, oauth.GrantAuthorizationCode) {
			return nil, "", badMetadata("grant_types must include authorization_code, the only way to obtain tokens here")
		}
		slices.Sort(c.GrantTypes) // authorization_code, refresh_token
	}
	if machine == "" && md.ResponseTypes != nil && !slices.Equal(slices.Compact(slices.Clone(md.ResponseTypes)), []string{oauth.ResponseTypeCode}) {
		return nil, "", badMetadata(`response_types must be ["code"]`)
	}
	if md.Scope != "" {
		sc, err := parseScope(md.Scope)
		if err != nil {
			return nil, "", badMetadata("scope: %v", err)
		}
		c.Scopes = sc
	}
	if machine != "" && len(c.Scopes) == 0 {
		// Nobody here approves what a machine client asks for (for a
		// jwt-bearer one, the enterprise's policy does), so it gets the
		// least scope unless the operator gave it more.
		c.Scopes = []string{firstScope}
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

// registrationMembers are the members registrationRequest reads, by their
// exact names.
var registrationMembers = []string{"redirect_uris", "token_endpoint_auth_method", "grant_types",
	"response_types", "client_name", "client_uri", "logo_uri", "scope", "application_type"}

// ambiguousMembers describes why the top-level members of the JSON object
// body could be read two ways, or returns "". encoding/json matches member
// names ignoring case and lets the last of equal names win, so
// {"redirect_uris": [good], "Redirect_URIs": [evil]} would register evil
// here while a client, a proxy or a log reader sees good. A member that is
// a known name in another letter case, and a member given twice, are
// refused. Unknown members stay allowed (RFC 7591 §2: ignore them).
func ambiguousMembers(body []byte) string {
	dec := json.NewDecoder(bytes.NewReader(body))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return "" // not an object: the decoder after this says so
	}
	seen := map[string]bool{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return ""
		}
		name, _ := t.(string)
		if seen[name] {
			return "the registration gives the member " + strconv.Quote(name) + " twice"
		}
		seen[name] = true
		for _, m := range registrationMembers {
			if name != m && strings.EqualFold(name, m) {
				return "the registration has a member " + strconv.Quote(name) + "; member names are case-sensitive: write " + strconv.Quote(m)
			}
		}
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return ""
		}
	}
	return ""
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

// registerEndpoint serves dynamic client registration (RFC 7591): it
// only creates clients.
type registerEndpoint struct {
	*site
	clients oauth.Clients
}

func (s *registerEndpoint) serveRegister(w http.ResponseWriter, r *http.Request) {
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
	if msg := ambiguousMembers(body); msg != "" {
		refuse(http.StatusBadRequest, errInvalidClientMetadata, msg)
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
	c, secret, err := BuildClient(&oauth.ClientMetadata{
		RedirectURIs:            req.RedirectURIs,
		TokenEndpointAuthMethod: req.TokenEndpointAuthMethod,
		GrantTypes:              req.GrantTypes,
		ResponseTypes:           req.ResponseTypes,
		ClientName:              req.ClientName,
		ClientURI:               req.ClientURI,
		LogoURI:                 req.LogoURI,
		Scope:                   req.Scope,
	}, oauth.KindDynamic, s.now())
	if me, ok := errors.AsType[*metadataError](err); ok {
		refuse(http.StatusBadRequest, me.code, me.msg)
		return
	}
	if err := oauth.StoreClient(r.Context(), s.clients, c); err != nil {
		s.log.ErrorContext(r.Context(), "storing a registered client failed", "err", err)
		writeError(w, newError(http.StatusInternalServerError, errServerError, "the client could not be stored; try again"))
		return
	}
	s.log.InfoContext(r.Context(), "client registered", "client_id", c.ID, "name", c.Name,
		"auth_method", c.AuthMethod, "remote", s.clientAddr(r))
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
