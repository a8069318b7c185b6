package mailchimp

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Sentinel errors. An *APIError or *MemberError matches one of them with
// errors.Is when Mailchimp's answer means that; the Is* helpers below are
// shorthands.
var (
	// ErrInvalidAPIKey is returned by New and DataCenter for a key that
	// does not end in a data centre suffix such as "-us6".
	ErrInvalidAPIKey = errors.New("mailchimp: API key must end with a data centre suffix such as -us6")

	// ErrAuth: the key is wrong, revoked, for another data centre, or the
	// account is disabled (401, or 403 with an account title).
	ErrAuth = errors.New("mailchimp: API key invalid or not allowed")

	// ErrNotFound: 404 Resource Not Found (unknown audience, member or
	// interest).
	ErrNotFound = errors.New("mailchimp: resource not found")

	// ErrComplianceState: "Member In Compliance State". The person
	// unsubscribed, bounced or was reported, so Mailchimp refuses to
	// subscribe them through the API; they must re-confirm through
	// Mailchimp (upsert them with status "pending", which makes Mailchimp
	// send its own confirmation mail).
	ErrComplianceState = errors.New("mailchimp: member in compliance state")

	// ErrForgotten: "Forgotten Email Not Subscribed". The address was
	// permanently deleted from the audience and cannot be re-imported; the
	// person must sign up again through Mailchimp.
	ErrForgotten = errors.New("mailchimp: forgotten email not subscribed")

	// ErrInvalidAddress: "Invalid Resource" about the email address itself
	// (syntax, or one Mailchimp considers fake).
	ErrInvalidAddress = errors.New("mailchimp: invalid email address")

	// ErrRateLimited: 429 Too Many Requests.
	ErrRateLimited = errors.New("mailchimp: too many requests")
)

// Mailchimp's error titles that the client recognises.
const (
	titleAPIKeyInvalid     = "API Key Invalid"
	titleAPIKeyMissing     = "API Key Missing"
	titleUserDisabled      = "User Disabled"
	titleWrongDatacenter   = "Wrong Datacenter"
	titleForbidden         = "Forbidden"
	titleComplianceState   = "Member In Compliance State"
	titleForgotten         = "Forgotten Email Not Subscribed"
	titleInvalidResource   = "Invalid Resource"
	titleResourceNotFound  = "Resource Not Found"
	titleTooManyRequests   = "Too Many Requests"
	complianceStatePhrase  = "is in a compliance state"
	forgottenPhrase        = "permanently deleted"
	fakeOrInvalidPhrase    = "looks fake or invalid"
	validEmailPhrase       = "valid email address"
	emailPortionPhrase     = "portion of the email address"
	emailAddressFieldName  = "email_address"
	maxErrorBodyBytes      = 64 << 10
	maxResponseBodyBytes   = 32 << 20
	defaultRetryAfterLimit = 24 * time.Hour
)

// APIError is an error answer from Mailchimp: an HTTP status and the
// problem-details document (RFC 7807) Mailchimp puts in the body.
type APIError struct {
	Method string // request method, e.g. "PUT"
	Path   string // request path below the API root, e.g. "/lists/abc"

	Status   int          // HTTP status code
	Type     string       // a link to Mailchimp's error glossary
	Title    string       // e.g. "Member In Compliance State"
	Detail   string       // a human explanation; may contain the email address
	Instance string       // Mailchimp's id of this error, for their support
	Errors   []FieldError // field-level details of "Invalid Resource"

	retryAfter time.Duration // from the Retry-After header; 0 when absent
}

// FieldError is one entry of the "errors" array of an "Invalid Resource"
// answer.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString("mailchimp: ")
	if e.Method != "" {
		b.WriteString(e.Method)
		b.WriteByte(' ')
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(strconv.Itoa(e.Status))
	if e.Title != "" {
		b.WriteByte(' ')
		b.WriteString(e.Title)
	}
	if e.Detail != "" {
		b.WriteString(": ")
		b.WriteString(e.Detail)
	}
	for _, fe := range e.Errors {
		fmt.Fprintf(&b, " [%s: %s]", fe.Field, fe.Message)
	}
	return b.String()
}

// Retryable reports whether the same request may succeed later: 429 and
// 5xx answers.
func (e *APIError) Retryable() bool {
	return e.Status == http.StatusTooManyRequests || e.Status >= 500
}

// RetryAfter is the delay Mailchimp asked for in a Retry-After header, or 0
// when it sent none.
func (e *APIError) RetryAfter() time.Duration { return e.retryAfter }

// Is matches the sentinel errors of this package.
func (e *APIError) Is(target error) bool {
	switch target {
	case ErrAuth:
		return e.isAuth()
	case ErrNotFound:
		return e.Status == http.StatusNotFound
	case ErrRateLimited:
		return e.Status == http.StatusTooManyRequests
	case ErrComplianceState:
		return e.Status == http.StatusBadRequest &&
			(strings.EqualFold(e.Title, titleComplianceState) || containsFold(e.Detail, complianceStatePhrase))
	case ErrForgotten:
		return e.Status == http.StatusBadRequest && strings.EqualFold(e.Title, titleForgotten)
	case ErrInvalidAddress:
		return e.isInvalidAddress()
	}
	return false
}

func (e *APIError) isAuth() bool {
	if e.Status == http.StatusUnauthorized {
		return true
	}
	if e.Status != http.StatusForbidden {
		return false
	}
	switch e.Title {
	case titleAPIKeyInvalid, titleAPIKeyMissing, titleUserDisabled, titleWrongDatacenter, titleForbidden:
		return true
	}
	return false
}

func (e *APIError) isInvalidAddress() bool {
	if e.Status != http.StatusBadRequest || !strings.EqualFold(e.Title, titleInvalidResource) {
		return false
	}
	if invalidAddressMessage(e.Detail) {
		return true
	}
	for _, fe := range e.Errors {
		if fe.Field == emailAddressFieldName || invalidAddressMessage(fe.Message) {
			return true
		}
	}
	return false
}

// invalidAddressMessage recognises the wordings Mailchimp uses when it
// refuses an address: "… looks fake or invalid, please enter a real email
// address.", "Please provide a valid email address.", "The username portion
// of the email address is invalid …".
func invalidAddressMessage(s string) bool {
	return containsFold(s, fakeOrInvalidPhrase) || containsFold(s, validEmailPhrase) || containsFold(s, emailPortionPhrase)
}

func containsFold(s, substr string) bool {
	return strings.Contains(strings.ToLower(s), substr)
}

// NetworkError is a request that got no HTTP answer (connection refused or
// reset, timeout, unreadable response). It is retryable unless the caller's
// context was cancelled.
type NetworkError struct {
	Method string
	Path   string
	Err    error
}

func (e *NetworkError) Error() string {
	return fmt.Sprintf("mailchimp: %s %s: %v", e.Method, e.Path, e.Err)
}

func (e *NetworkError) Unwrap() error { return e.Err }

// Retryable is false only when the caller cancelled the request.
func (e *NetworkError) Retryable() bool { return !errors.Is(e.Err, context.Canceled) }

// IsRetryable reports whether err is worth retrying later: 429, 5xx, network
// errors and timeouts. Anything else (4xx refusals, invalid input) will fail
// the same way again.
func IsRetryable(err error) bool {
	var r interface{ Retryable() bool }
	return errors.As(err, &r) && r.Retryable()
}

// RetryAfter returns the delay Mailchimp asked for with Retry-After, or 0.
func RetryAfter(err error) time.Duration {
	var e *APIError
	if errors.As(err, &e) {
		return e.retryAfter
	}
	return 0
}

// IsComplianceState reports whether Mailchimp refused to subscribe a member
// who unsubscribed, bounced or was reported ("Member In Compliance State").
func IsComplianceState(err error) bool { return errors.Is(err, ErrComplianceState) }

// IsForgotten reports whether the address was permanently deleted from the
// audience and cannot be re-added through the API.
func IsForgotten(err error) bool { return errors.Is(err, ErrForgotten) }

// IsInvalidAddress reports whether Mailchimp refused the email address.
func IsInvalidAddress(err error) bool { return errors.Is(err, ErrInvalidAddress) }

// IsAuth reports whether the API key is invalid or not allowed.
func IsAuth(err error) bool { return errors.Is(err, ErrAuth) }

// IsNotFound reports whether the audience, member or interest does not exist.
func IsNotFound(err error) bool { return errors.Is(err, ErrNotFound) }

// parseRetryAfter reads a Retry-After header: delay-seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var d time.Duration
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n <= 0 {
			return 0
		}
		if n > int64(defaultRetryAfterLimit/time.Second) {
			return defaultRetryAfterLimit
		}
		d = time.Duration(n) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
		if d <= 0 {
			return 0
		}
	}
	return min(d, defaultRetryAfterLimit)
}
