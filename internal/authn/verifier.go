package authn

import (
	"context"
	"errors"
)

// Verifier turns one credential (the text after "Bearer ", or the value of
// X-API-KEY) into a principal. It returns an error matching
// ErrInvalidCredential when the credential is bad (the caller gets 401
// invalid_token); any other error means the credential could not be
// checked (the caller gets 503 and may retry).
//
// It is a func type rather than an interface because each kind of
// credential (API keys, our OAuth access tokens) is one function,
// and Chain composes them.
type Verifier func(ctx context.Context, credential string) (*Principal, error)

// ErrInvalidCredential means the credential was examined and rejected:
// malformed, unknown, revoked or expired. Every such error ends as 401
// invalid_token, whatever the concrete reason.
var ErrInvalidCredential = errors.New("invalid credential")

// ErrUnrecognized means a verifier does not handle credentials of this
// form (an OAuth token shown to the API-key verifier, say). Chain then asks
// the next verifier. It matches ErrInvalidCredential too.
var ErrUnrecognized error = &CredentialError{
	Reason:       "unrecognized",
	Description:  "the credential is not one this server issues",
	Unrecognized: true,
}

// CredentialError is a rejected credential with a short reason for logs
// and metrics and a description the client may see. It matches
// ErrInvalidCredential under errors.Is, and ErrUnrecognized when
// Unrecognized is set. Verifiers define their sentinels as
// *CredentialError values (see apikey.ErrRevoked).
type CredentialError struct {
	// Reason is one word from a fixed vocabulary ("malformed", "unknown",
	// "revoked", "expired", …): it becomes a metrics label, so it must
	// never hold caller-controlled text.
	Reason string
	// Description goes into error_description of the challenge and the
	// JSON body. It must not contain the credential.
	Description string
	// Unrecognized says the verifier does not handle this form of
	// credential at all, so another verifier may.
	Unrecognized bool
}

func (e *CredentialError) Error() string { return e.Description }

// Is makes every CredentialError an ErrInvalidCredential, and an
// unrecognized one an ErrUnrecognized.
func (e *CredentialError) Is(target error) bool {
	return target == ErrInvalidCredential || (e.Unrecognized && target == ErrUnrecognized)
}

// Chain returns a Verifier that asks each verifier in turn. The first
// answer that is not ErrUnrecognized wins, so an API key that is revoked
// is reported as revoked rather than as "not an OAuth token". When every
// verifier declines, the first one's error is returned.
func Chain(vs ...Verifier) Verifier {
	return func(ctx context.Context, credential string) (*Principal, error) {
		var first error = ErrUnrecognized
		for i, v := range vs {
			p, err := v(ctx, credential)
			if err == nil || !errors.Is(err, ErrUnrecognized) {
				return p, err
			}
			if i == 0 {
				first = err
			}
		}
		return nil, first
	}
}

// reasonOf returns the metrics/log reason and the client description for
// a credential error.
func reasonOf(err error) (reason, description string) {
	if ce, ok := errors.AsType[*CredentialError](err); ok {
		return ce.Reason, ce.Description
	}
	return "invalid", "the credential is invalid"
}

// isInvalid reports whether err rejects the credential (401) rather than
// failing to check it (503).
func isInvalid(err error) bool { return errors.Is(err, ErrInvalidCredential) }
