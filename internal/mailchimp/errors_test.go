package mailchimp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"
)

func TestAPIErrorClassification(t *testing.T) {
	const (
		auth = 1 << iota
		notFound
		compliance
		forgotten
		invalidAddr
		rateLimited
		retryable
	)
	for _, tc := range []struct {
		name string
		err  *APIError
		want int
	}{
		{"API Key Invalid", &APIError{Status: 401, Title: "API Key Invalid"}, auth},
		{"API Key Missing", &APIError{Status: 401, Title: "API Key Missing"}, auth},
		{"User Disabled", &APIError{Status: 403, Title: "User Disabled"}, auth},
		{"Wrong Datacenter", &APIError{Status: 403, Title: "Wrong Datacenter"}, auth},
		{"other 403", &APIError{Status: 403, Title: "Something Else"}, 0},
		{"Resource Not Found", &APIError{Status: 404, Title: "Resource Not Found"}, notFound},
		{"compliance", &APIError{Status: 400, Title: "Member In Compliance State", Detail: "x@y.z is in a compliance state due to unsubscribe, bounce, or compliance review and cannot be subscribed."}, compliance},
		{"compliance by detail only", &APIError{Status: 400, Title: "Invalid Resource", Detail: "x@y.z is in a compliance state due to unsubscribe, bounce, or compliance review and cannot be subscribed."}, compliance},
		{"forgotten", &APIError{Status: 400, Title: "Forgotten Email Not Subscribed", Detail: "x@y.z was permanently deleted and cannot be re-imported."}, forgotten},
		{"fake address", &APIError{Status: 400, Title: "Invalid Resource", Detail: "x@y.z looks fake or invalid, please enter a real email address."}, invalidAddr},
		{"invalid address", &APIError{Status: 400, Title: "Invalid Resource", Detail: "Please provide a valid email address."}, invalidAddr},
		{"username portion", &APIError{Status: 400, Title: "Invalid Resource", Detail: "The username portion of the email address is invalid (the portion before the @: x..y)"}, invalidAddr},
		{"email field error", &APIError{Status: 400, Title: "Invalid Resource", Errors: []FieldError{{Field: "email_address", Message: "This value should not be blank."}}}, invalidAddr},
		{"other invalid resource", &APIError{Status: 400, Title: "Invalid Resource", Detail: "Invalid interest ID: 'x'."}, 0},
		{"merge field invalid", &APIError{Status: 400, Title: "Invalid Resource", Errors: []FieldError{{Field: "FNAME", Message: "too long"}}}, 0},
		{"429", &APIError{Status: 429, Title: "Too Many Requests"}, rateLimited | retryable},
		{"500", &APIError{Status: 500, Title: "Internal Server Error"}, retryable},
		{"502", &APIError{Status: 502}, retryable},
		{"503", &APIError{Status: 503}, retryable},
		{"405", &APIError{Status: 405, Title: "Method Not Allowed"}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Wrapping must not hide the kind.
			err := fmt.Errorf("job 17: %w", tc.err)
			got := 0
			for bit, f := range map[int]func(error) bool{
				auth: IsAuth, notFound: IsNotFound, compliance: IsComplianceState, forgotten: IsForgotten,
				invalidAddr: IsInvalidAddress, rateLimited: func(e error) bool { return errors.Is(e, ErrRateLimited) }, retryable: IsRetryable,
			} {
				if f(err) {
					got |= bit
				}
			}
			if got != tc.want {
				t.Errorf("classified %b, want %b", got, tc.want)
			}
		})
	}
}

func TestMemberErrorClassification(t *testing.T) {
	for _, tc := range []struct {
		e                         MemberError
		compliance, forgot, inval bool
	}{
		{MemberError{Message: "a@b.c is in a compliance state due to unsubscribe, bounce, or compliance review and cannot be subscribed."}, true, false, false},
		{MemberError{Message: "a@b.c was permanently deleted and cannot be re-imported. The contact must re-subscribe to get back on the list."}, false, true, false},
		{MemberError{Message: "a@b.c looks fake or invalid, please enter a real email address."}, false, false, true},
		{MemberError{Message: "Invalid email", Field: "email_address"}, false, false, true},
		{MemberError{Message: "a@b.c is already a list member.", Code: "ERROR_CONTACT_EXISTS"}, false, false, false},
	} {
		err := error(&tc.e)
		if IsComplianceState(err) != tc.compliance || IsForgotten(err) != tc.forgot || IsInvalidAddress(err) != tc.inval || IsRetryable(err) {
			t.Errorf("%q classified wrongly", tc.e.Message)
		}
	}
}

func TestNetworkErrorRetryable(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{&NetworkError{Err: io.ErrUnexpectedEOF}, true},
		{&NetworkError{Err: context.DeadlineExceeded}, true},
		{&NetworkError{Err: context.Canceled}, false},
		{fmt.Errorf("wrapped: %w", &NetworkError{Err: io.EOF}), true},
		{errors.New("plain"), false},
		{nil, false},
	} {
		if got := IsRetryable(tc.err); got != tc.want {
			t.Errorf("IsRetryable(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"0", 0},
		{"7", 7 * time.Second},
		{" 60 ", time.Minute},
		{"-5", 0},
		{"soon", 0},
		{"99999999999", 24 * time.Hour},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0},
	} {
		if got := parseRetryAfter(tc.in, now); got != tc.want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestAPIErrorMessage(t *testing.T) {
	e := &APIError{Method: "PUT", Path: "/lists/x/members/h", Status: 400, Title: "Invalid Resource", Detail: "bad",
		Errors: []FieldError{{Field: "ip_opt", Message: "not an IP"}}}
	want := "mailchimp: PUT /lists/x/members/h: 400 Invalid Resource: bad [ip_opt: not an IP]"
	if e.Error() != want {
		t.Errorf("Error() = %q, want %q", e.Error(), want)
	}
}
