package extauth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/2coffee/mcp-2coffee/internal/authn"
	"github.com/2coffee/mcp-2coffee/internal/extauth/idptest"
)

const resource = "http://127.0.0.1:3000/mcp"

// verifier builds a verifier of p's tokens for resource, refetching keys
// as soon as a test rotates them unless cfg says otherwise.
func verifier(t *testing.T, p *idptest.Provider, cfg Config) authn.Verifier {
	t.Helper()
	cfg.Issuer = p.URL
	if cfg.MinRefetch == 0 {
		cfg.MinRefetch = time.Millisecond
	}
	v, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v.For(resource)
}

// b64 is v as JSON in base64url, a JWT part made by hand.
func b64(v any) string { b, _ := json.Marshal(v); return base64.RawURLEncoding.EncodeToString(b) }

// reason is the CredentialError reason of err, or "" for another error.
func reason(err error) string {
	if ce, ok := errors.AsType[*authn.CredentialError](err); ok {
		return ce.Reason
	}
	return ""
}
