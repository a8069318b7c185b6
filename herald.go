// Package herald holds Herald's domain: the types that every other package
// speaks (lists, subscribers, subscriptions, consent events, disclosures,
// outbox messages), their validation rules, and the error codes that the
// HTTP layer maps to status codes.
//
// Implementations live in internal packages: internal/sqlstore stores these
// types in SQLite or PostgreSQL, internal/web serves them, internal/mail turns
// them into messages, and internal/queue carries side effects durably.
package herald

import (
	"errors"
	"fmt"
)

// Version is set at build time with -ldflags "-X github.com/heraldhq/herald.Version=…".
var Version = "dev"

// Error codes. The HTTP layer maps each to one status code.
const (
	ECONFLICT     = "conflict"      // 409
	EINTERNAL     = "internal"      // 500
	EINVALID      = "invalid"       // 422 (400 for malformed requests)
	ENOTFOUND     = "not_found"     // 404
	EUNAUTHORIZED = "unauthorized"  // 401
	EFORBIDDEN    = "forbidden"     // 403
	ERATELIMIT    = "rate_limited"  // 429
	ETOOLARGE     = "too_large"     // 413
	EGONE         = "gone"          // 410: expired or used tokens
	EBADREQUEST   = "bad_request"   // 400
	EUNSUPPORTED  = "not_supported" // 415
)

// Error is an error with a code a client can act on, a message a person can
// read, and optionally the input field it concerns.
type Error struct {
	Code    string
	Message string
	Field   string
}

func (e *Error) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("herald error: code=%s field=%s message=%s", e.Code, e.Field, e.Message)
	}
	return fmt.Sprintf("herald error: code=%s message=%s", e.Code, e.Message)
}

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code string, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// FieldError returns an EINVALID error about one input field.
func FieldError(field, format string, args ...any) *Error {
	return &Error{Code: EINVALID, Field: field, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL
// for any other error, and "" for nil.
func ErrorCode(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the human message of an *Error, or a generic message
// for internal errors, which must not leak details to clients.
func ErrorMessage(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Message
	}
	return "Internal error."
}

// ErrorField returns the field of an *Error, if any.
func ErrorField(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Field
	}
	return ""
}
