package cimd

import (
	"errors"
	"fmt"
)

// Reasons a client metadata URL or document is refused. Fetch and
// ValidateClientID return an *Error whose Reason is one of these, so callers
// can branch with errors.Is. Every one of them means the client is unusable:
// the authorization server answers invalid_client (draft §4.3: a failed
// fetch aborts the authorization request).
var (
	// ErrInvalidURL: the client_id breaks the URL rules of draft §3.
	ErrInvalidURL = errors.New("the client_id is not a valid client metadata URL")
	// ErrBlockedAddress: the host is, or resolves to, an address the
	// Fetcher's Allow policy refuses (draft §6.5).
	ErrBlockedAddress = errors.New("the client metadata URL resolves to a disallowed address")
	// ErrUnresolvable: the host name has no addresses.
	ErrUnresolvable = errors.New("the client metadata URL's host name does not resolve")
	// ErrUnreachable: no connection or TLS session could be made.
	ErrUnreachable = errors.New("the client metadata URL could not be fetched")
	// ErrBusy: too many fetches are running (Fetcher.MaxInFlight).
	ErrBusy = errors.New("too many client metadata fetches at once")
	// ErrTimeout: the whole fetch took longer than Fetcher.Timeout.
	ErrTimeout = errors.New("fetching the client metadata document timed out")
	// ErrRedirect: the server answered 3xx; redirects are never followed
	// (draft-01 §4).
	ErrRedirect = errors.New("the client metadata URL redirects")
	// ErrStatus: the server answered something other than 200 (draft-01 §4).
	ErrStatus = errors.New("the client metadata URL did not answer 200 OK")
	// ErrContentType: the response is not application/json or a +json type
	// (draft §4.1).
	ErrContentType = errors.New("the client metadata document is not served as JSON")
	// ErrTooLarge: the document is bigger than Fetcher.MaxBytes (draft §6.6).
	ErrTooLarge = errors.New("the client metadata document is too large")
	// ErrMalformed: the body is not one JSON object.
	ErrMalformed = errors.New("the client metadata document is not a JSON object")
	// ErrClientIDMismatch: the document's client_id is not byte-for-byte
	// the URL it was fetched from (draft §4.1).
	ErrClientIDMismatch = errors.New("the client metadata document's client_id does not match the URL")
	// ErrInvalidMetadata: a metadata value is missing, mistyped or
	// forbidden (draft §4.1, RFC 7591 §2, MCP client registration).
	ErrInvalidMetadata = errors.New("the client metadata document is invalid")
)

// Error is what Fetch and ValidateClientID return when they refuse a client.
//
// Error() is a human sentence meant for the client's developer: the
// authorization server may put it in error_description. It never contains
// response bodies or header values from the client's server, nor the
// addresses a host name resolved to (those could map the server's internal
// network for an attacker). Cause, when set, carries such details for logs.
type Error struct {
	// Reason is one of the Err* values of this package.
	Reason error
	// Cause is the underlying error, if any. It may name addresses and is
	// meant for logs, not for clients.
	Cause error

	msg string
}

func (e *Error) Error() string { return e.msg }

// Unwrap lets errors.Is and errors.As see both the reason and the cause.
func (e *Error) Unwrap() []error {
	if e.Cause == nil {
		return []error{e.Reason}
	}
	return []error{e.Reason, e.Cause}
}

// refuse builds an *Error with a formatted human message.
func refuse(reason, cause error, format string, args ...any) *Error {
	return &Error{Reason: reason, Cause: cause, msg: fmt.Sprintf(format, args...)}
}
