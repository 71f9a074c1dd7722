// Package errdefs defines the kinds of failure every layer of mcp-2coffee
// shares: the sentinel errors stores return (ErrNotFound, ErrConflict), the
// input error the domain returns (ErrInvalid, through *ValidationError), and
// the errors of reaching a dependency or being refused by one.
//
// It is a leaf: it imports nothing of the project, so the domain packages
// (blog, apikey, oauth), the storage seam (store) and every backend can use
// the same values without an import cycle. Each edge (MCP tool results, HTTP
// statuses, the REST client) translates them once, with errors.Is.
package errdefs

import (
	"errors"
	"fmt"
)

// The sentinel errors. Check them with errors.Is.
var (
	// ErrNotFound means the article (or key, client, token, …) does not
	// exist, or is not visible to the caller.
	ErrNotFound = errors.New("not found")
	// ErrConflict means the write would break uniqueness, such as creating
	// an article whose slug is taken.
	ErrConflict = errors.New("conflict")
	// ErrInvalid means the caller's input breaks a rule. The concrete error
	// is usually a *ValidationError that names the field.
	ErrInvalid = errors.New("invalid input")
	// ErrUnavailable means a dependency (a remote blog API, the database)
	// could not be reached or refused to answer; retrying later may help.
	ErrUnavailable = errors.New("unavailable")
	// ErrForbidden means the caller is known but lacks the permission.
	ErrForbidden = errors.New("forbidden")
	// ErrUnauthenticated means a credential was refused, such as the key
	// the stdio server sends to a remote blog.
	ErrUnauthenticated = errors.New("unauthenticated")
)

// ValidationError says which field of the input broke which rule. It
// matches ErrInvalid under errors.Is.
type ValidationError struct {
	Field   string
	Message string
}

func (e *ValidationError) Error() string {
	if e.Field == "" {
		return e.Message
	}
	return e.Field + ": " + e.Message
}

// Is reports that a ValidationError is an ErrInvalid.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalid }

// Invalid builds a *ValidationError with a formatted message.
func Invalid(field, format string, args ...any) error {
	return &ValidationError{Field: field, Message: fmt.Sprintf(format, args...)}
}
