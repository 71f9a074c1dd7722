package cimd

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseDocumentRefuses(t *testing.T) {
	const prefix = "the client metadata document "
	tests := []struct {
		name   string
		edit   func(d map[string]any) // applied to validDoc(testURL)
		raw    string                 // used instead when set
		reason error
		msg    string
	}{
		{name: "array", raw: `[]`, reason: ErrMalformed, msg: prefix + "is not a valid JSON object"},
		{name: "null", raw: `null`, reason: ErrMalformed, msg: prefix + "is not a valid JSON object"},
		{name: "string", raw: `"https://client.example.test/oauth/metadata.json"`, reason: ErrMalformed, msg: prefix + "is not a valid JSON object"},
		{name: "truncated", raw: `{"client_id":`, reason: ErrMalformed, msg: prefix + "is not a valid JSON object"},
		{name: "two objects", raw: `{}{}`, reason: ErrMalformed, msg: prefix + "is not a valid JSON object"},
		{name: "empty", raw: ``, reason: ErrMalformed, msg: prefix + "is not a valid JSON object"},

		{name: "no client_id", edit: func(d map[string]any) { delete(d, "client_id") },
			reason: ErrClientIDMismatch, msg: prefix + "has no client_id"},
		{name: "client_id with trailing slash", edit: func(d map[string]any) { d["client_id"] = testURL + "/" },
			reason: ErrClientIDMismatch, msg: "the client metadata document's client_id does not match the URL"},
		{name: "client_id differing in host case", edit: func(d map[string]any) { d["client_id"] = "https://Client.example.test/oauth/metadata.json" },
			reason: ErrClientIDMismatch, msg: "the client metadata document's client_id does not match the URL"},
		{name: "client_id with default port", edit: func(d map[string]any) { d["client_id"] = "https://client.example.test:443/oauth/metadata.json" },
			reason: ErrClientIDMismatch, msg: "the client metadata document's client_id does not match the URL"},
		{name: "client_id escaped differently", edit: func(d map[string]any) { d["client_id"] = "https://client.example.test/oauth/metadata%2Ejson" },
			reason: ErrClientIDMismatch, msg: "the client metadata document's client_id does not match the URL"},
		{name: "client_id of another client", edit: func(d map[string]any) { d["client_id"] = "https://claude.ai/oauth/metadata.json" },
			reason: ErrClientIDMismatch, msg: "the client metadata document's client_id does not match the URL"},
		{name: "client_id in the wrong case of key", raw: `{"CLIENT_ID":"` + testURL + `","client_name":"x","redirect_uris":["https://a.example/cb"]}`,
			reason: ErrClientIDMismatch, msg: prefix + "has no client_id"},
		{name: "client_id not a string", edit: func(d map[string]any) { d["client_id"] = 7 },
			reason: ErrInvalidMetadata, msg: prefix + "has a client_id of the wrong type"},

		{name: "no client_name", edit: func(d map[string]any) { delete(d, "client_name") },
			reason: ErrInvalidMetadata, msg: prefix + "has no client_name"},
		{name: "blank client_name", edit: func(d map[string]any) { d["client_name"] = " \t" },
			reason: ErrInvalidMetadata, msg: prefix + "has no client_name"},
		{name: "no redirect_uris", edit: func(d map[string]any) { delete(d, "redirect_uris") },
			reason: ErrInvalidMetadata, msg: prefix + "has no redirect_uris"},
		{name: "empty redirect_uris", edit: func(d map[string]any) { d["redirect_uris"] = []string{} },
			reason: ErrInvalidMetadata, msg: prefix + "has no redirect_uris"},
		{name: "null redirect_uris", edit: func(d map[string]any) { d["redirect_uris"] = nil },
			reason: ErrInvalidMetadata, msg: prefix + "has no redirect_uris"},
		{name: "redirect_uris a string", edit: func(d map[string]any) { d["redirect_uris"] = "https://a.example/cb" },
			reason: ErrInvalidMetadata, msg: prefix + "has a redirect_uris of the wrong type"},
		{name: "redirect_uris with a number", edit: func(d map[string]any) { d["redirect_uris"] = []any{"https://a.example/cb", 1} },
			reason: ErrInvalidMetadata, msg: prefix + "has a redirect_uris of the wrong type"},
		{name: "relative redirect URI", edit: func(d map[string]any) { d["redirect_uris"] = []string{"/cb"} },
			reason: ErrInvalidMetadata, msg: prefix + "has a redirect URI that is not an absolute URI"},
		{name: "redirect URI with fragment", edit: func(d map[string]any) { d["redirect_uris"] = []string{"https://a.example/cb#x"} },
			reason: ErrInvalidMetadata, msg: prefix + "has a redirect URI that has a fragment"},
		{name: "javascript redirect URI", edit: func(d map[string]any) { d["redirect_uris"] = []string{"JavaScript:alert(1)"} },
			reason: ErrInvalidMetadata, msg: prefix + "has a redirect URI that uses a forbidden scheme"},
		{name: "data redirect URI", edit: func(d map[string]any) { d["redirect_uris"] = []string{"data:text/html,hi"} },
			reason: ErrInvalidMetadata, msg: prefix + "has a redirect URI that uses a forbidden scheme"},

		{name: "client_secret", edit: func(d map[string]any) { d["client_secret"] = "hunter2" },
			reason: ErrInvalidMetadata, msg: prefix + "must not contain client_secret"},
		{name: "client_secret_expires_at", edit: func(d map[string]any) { d["client_secret_expires_at"] = 0 },
			reason: ErrInvalidMetadata, msg: prefix + "must not contain client_secret_expires_at"},
		{name: "client_secret_basic", edit: func(d map[string]any) { d["token_endpoint_auth_method"] = "client_secret_basic" },
			reason: ErrInvalidMetadata, msg: prefix + "uses a shared-secret token_endpoint_auth_method; only none and private_key_jwt are possible"},
		{name: "client_secret_post", edit: func(d map[string]any) { d["token_endpoint_auth_method"] = "client_secret_post" },
			reason: ErrInvalidMetadata, msg: prefix + "uses a shared-secret token_endpoint_auth_method; only none and private_key_jwt are possible"},
		{name: "client_secret_jwt", edit: func(d map[string]any) { d["token_endpoint_auth_method"] = "client_secret_jwt" },
			reason: ErrInvalidMetadata, msg: prefix + "uses a shared-secret token_endpoint_auth_method; only none and private_key_jwt are possible"},
		{name: "unknown auth method", edit: func(d map[string]any) { d["token_endpoint_auth_method"] = "tls_client_auth" },
			reason: ErrInvalidMetadata, msg: prefix + "uses an unsupported token_endpoint_auth_method; only none and private_key_jwt are supported"},
		{name: "private_key_jwt without keys", edit: func(d map[string]any) { d["token_endpoint_auth_method"] = "private_key_jwt" },
			reason: ErrInvalidMetadata, msg: prefix + "uses private_key_jwt without jwks or jwks_uri"},
		{name: "jwks and jwks_uri", edit: func(d map[string]any) {
			d["jwks"] = map[string]any{"keys": []any{}}
			d["jwks_uri"] = "https://client.example.test/jwks.json"
		}, reason: ErrInvalidMetadata, msg: prefix + "has both jwks and jwks_uri"},
		{name: "jwks an array", edit: func(d map[string]any) { d["jwks"] = []any{} },
			reason: ErrInvalidMetadata, msg: prefix + "has a jwks that is not a JSON object"},

		{name: "javascript client_uri", edit: func(d map[string]any) { d["client_uri"] = "javascript:alert(1)" },
			reason: ErrInvalidMetadata, msg: prefix + "has a client_uri that is not an https URL"},
		{name: "http logo_uri", edit: func(d map[string]any) { d["logo_uri"] = "http://client.example.test/logo.png" },
			reason: ErrInvalidMetadata, msg: prefix + "has a logo_uri that is not an https URL"},
		{name: "data logo_uri", edit: func(d map[string]any) { d["logo_uri"] = "data:image/png;base64,AAAA" },
			reason: ErrInvalidMetadata, msg: prefix + "has a logo_uri that is not an https URL"},
		{name: "relative tos_uri", edit: func(d map[string]any) { d["tos_uri"] = "/tos" },
			reason: ErrInvalidMetadata, msg: prefix + "has a tos_uri that is not an https URL"},
		{name: "policy_uri with credentials", edit: func(d map[string]any) { d["policy_uri"] = "https://u:p@client.example.test/p" },
			reason: ErrInvalidMetadata, msg: prefix + "has a policy_uri that is not an https URL"},
		{name: "http jwks_uri", edit: func(d map[string]any) {
			d["token_endpoint_auth_method"] = "private_key_jwt"
			d["jwks_uri"] = "http://client.example.test/jwks.json"
		}, reason: ErrInvalidMetadata, msg: prefix + "has a jwks_uri that is not an https URL"},
		{name: "grant_types an object", edit: func(d map[string]any) { d["grant_types"] = map[string]any{} },
			reason: ErrInvalidMetadata, msg: prefix + "has a grant_types of the wrong type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := []byte(tt.raw)
			if tt.edit != nil {
				d := validDoc(testURL)
				tt.edit(d)
				body = mustJSON(t, d)
			}
			doc, err := parseDocument(body, testURL)
			if doc != nil {
				t.Errorf("returned a document along with the error")
			}
			wantRefusal(t, err, tt.reason, tt.msg)
		})
	}
}

func TestParseDocumentDefaults(t *testing.T) {
	body := `{
		"client_id": "` + testURL + `",
		"client_name": "Minimal",
		"redirect_uris": ["cursor://anysphere.cursor-retrieval/oauth/callback"],
		"Redirect_URIs": ["https://attacker.example.test/cb"],
		"client_uri": null,
		"unknown_extension": {"x": 1}
	}`
	doc, err := parseDocument([]byte(body), testURL)
	if err != nil {
		t.Fatal(err)
	}
	want := &Document{
		ClientID:   testURL,
		ClientName: "Minimal",
		// Only the exact member name counts; "Redirect_URIs" is an unknown
		// extension, not a second list.
		RedirectURIs:            []string{"cursor://anysphere.cursor-retrieval/oauth/callback"},
		GrantTypes:              []string{"authorization_code"},
		ResponseTypes:           []string{"code"},
		TokenEndpointAuthMethod: AuthNone,
	}
	if diff := cmp.Diff(want, doc); diff != "" {
		t.Errorf("document (-want +got):\n%s", diff)
	}
}

func TestParseDocumentPrivateKeyJWT(t *testing.T) {
	d := validDoc(testURL)
	d["token_endpoint_auth_method"] = "private_key_jwt"
	d["jwks"] = map[string]any{"keys": []any{map[string]any{"kty": "EC", "crv": "P-256", "x": "x", "y": "y"}}}
	d["contacts"] = []string{"ops@client.example.test"}
	doc, err := parseDocument(mustJSON(t, d), testURL)
	if err != nil {
		t.Fatal(err)
	}
	if doc.TokenEndpointAuthMethod != AuthPrivateKeyJWT {
		t.Errorf("auth method = %q", doc.TokenEndpointAuthMethod)
	}
	if got, want := string(doc.JWKS), `{"keys":[{"crv":"P-256","kty":"EC","x":"x","y":"y"}]}`; got != want {
		t.Errorf("jwks = %s, want %s", got, want)
	}

	// The clone shares nothing with the original.
	c := doc.clone()
	c.JWKS[0] = '['
	c.Contacts[0] = "changed"
	if !json.Valid(doc.JWKS) || doc.Contacts[0] != "ops@client.example.test" {
		t.Error("clone shares memory with the original")
	}
}
