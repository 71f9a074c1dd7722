package blog

import (
	"errors"
	"fmt"
)

// Sentinel errors shared by every layer. Check them with errors.Is; each edge
// (MCP tool results, HTTP status codes) translates them once.
var (
	// ErrNotFound means the article (or other object) does not exist, or is
	// not visible to the caller.
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
