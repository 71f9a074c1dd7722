package authserver

import (
	"net/http"
	"slices"

	"github.com/2coffee/mcp-2coffee/internal/authn"
	"github.com/2coffee/mcp-2coffee/internal/oauth"
)

// Metadata is the RFC 8414 authorization server metadata.
type Metadata struct {
	Issuer                                     string   `json:"issuer"`
	AuthorizationEndpoint                      string   `json:"authorization_endpoint"`
	TokenEndpoint                              string   `json:"token_endpoint"`
	RegistrationEndpoint                       string   `json:"registration_endpoint,omitempty"`
	RevocationEndpoint                         string   `json:"revocation_endpoint"`
	IntrospectionEndpoint                      string   `json:"introspection_endpoint"`
	ScopesSupported                            []string `json:"scopes_supported"`
	ResponseTypesSupported                     []string `json:"response_types_supported"`
	ResponseModesSupported                     []string `json:"response_modes_supported"`
	GrantTypesSupported                        []string `json:"grant_types_supported"`
	TokenEndpointAuthMethodsSupported          []string `json:"token_endpoint_auth_methods_supported"`
	RevocationEndpointAuthMethodsSupported     []string `json:"revocation_endpoint_auth_methods_supported"`
	IntrospectionEndpointAuthMethodsSupported  []string `json:"introspection_endpoint_auth_methods_supported"`
	CodeChallengeMethodsSupported              []string `json:"code_challenge_methods_supported"`
	ClientIDMetadataDocumentSupported          bool     `json:"client_id_metadata_document_supported,omitempty"`
	AuthorizationResponseIssParameterSupported bool     `json:"authorization_response_iss_parameter_supported"`
	// AuthorizationGrantProfilesSupported says which JWT authorization
	// grants the token endpoint takes (the ID-JAG draft's §7.2).
	AuthorizationGrantProfilesSupported []string `json:"authorization_grant_profiles_supported,omitempty"`
}

// Metadata returns the server's metadata. Every endpoint is the issuer
// followed by its path, so they are right under a path issuer too.
func (s *Server) Metadata() *Metadata { return s.site.metadata() }

func (s *site) metadata() *Metadata {
	m := &Metadata{
		Issuer:                                 s.issuer,
		AuthorizationEndpoint:                  s.issuer + PathAuthorize,
		TokenEndpoint:                          s.issuer + PathToken,
		RevocationEndpoint:                     s.issuer + PathRevoke,
		IntrospectionEndpoint:                  s.issuer + PathIntrospect,
		ScopesSupported:                        slices.Clone(authn.AllScopes),
		ResponseTypesSupported:                 []string{oauth.ResponseTypeCode},
		ResponseModesSupported:                 []string{"query"},
		GrantTypesSupported:                    []string{oauth.GrantAuthorizationCode, oauth.GrantRefreshToken, oauth.GrantClientCredentials},
		TokenEndpointAuthMethodsSupported:      []string{oauth.AuthNone, oauth.AuthSecretBasic, oauth.AuthSecretPost},
		RevocationEndpointAuthMethodsSupported: []string{oauth.AuthNone, oauth.AuthSecretBasic, oauth.AuthSecretPost},
		// Introspection reveals who a token belongs to, so public
		// clients may not call it; API keys are accepted too but have
		// no registered method name.
		IntrospectionEndpointAuthMethodsSupported:  []string{oauth.AuthSecretBasic, oauth.AuthSecretPost},
		CodeChallengeMethodsSupported:              []string{"S256"},
		ClientIDMetadataDocumentSupported:          s.cfg.MetadataFetcher != nil,
		AuthorizationResponseIssParameterSupported: true,
	}
	if !s.cfg.DisableRegistration {
		m.RegistrationEndpoint = s.issuer + PathRegister
	}
	if s.cfg.Enterprise != nil {
		m.GrantTypesSupported = append(m.GrantTypesSupported, oauth.GrantJWTBearer)
		m.AuthorizationGrantProfilesSupported = []string{GrantProfileIDJAG}
	}
	return m
}

// MetadataPath is where RFC 8414 §3 puts the metadata on the issuer's host:
// /.well-known/oauth-authorization-server with the issuer's path appended
// ("path insertion"). For an issuer without a path it equals PathMetadata,
// which Handler serves already; for https://blog.example.com/blog it is
// /.well-known/oauth-authorization-server/blog, outside the issuer's path,
// so the caller routes it to MetadataHandler at the host root.
func (s *Server) MetadataPath() string { return PathMetadata + s.site.base }

// MetadataHandler serves the metadata document, for mounting at
// MetadataPath.
func (s *Server) MetadataHandler() http.Handler {
	return cors(http.HandlerFunc(s.site.serveMetadata))
}

func (s *site) serveMetadata(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.metadata())
	// writeJSON forbids caching, which suits tokens; metadata may be
	// cached briefly, but clients fetch it once per flow, so no-store
	// costs little and keeps one writer for every JSON answer.
}
