// Package account is self-service after login: what a signed-in person does
// with their own account — organizations and invitations today, and the
// password, second factors, SSO links and sessions as they move here from
// the HTTP edge. It has no net/http: the edge decodes requests, calls these
// functions and renders their results or errors.
package account

import (
	"errors"
	"time"
)

// Error is a refusal the person can act on. Its code is one of the
// contract's error codes (CONTRACT §5); the edge maps each code to its one
// status and message.
type Error struct {
	code string
	err  error // what is logged, never shown
}

func (e *Error) Error() string {
	if e.err != nil {
		return "account: " + e.code + ": " + e.err.Error()
	}
	return "account: " + e.code
}

// ErrorCode is the contract error code.
func (e *Error) ErrorCode() string { return e.code }

func (e *Error) Unwrap() error { return e.err }

// Is matches errors of the same code, so that callers can test
// errors.Is(err, account.ErrForbidden) whatever the wrapped cause.
func (e *Error) Is(target error) bool {
	var t *Error
	return errors.As(target, &t) && t.code == e.code && t.err == nil
}

// The refusals of this package.
var (
	ErrNotFound     = &Error{code: "not_found"}
	ErrForbidden    = &Error{code: "forbidden"}
	ErrInvalidRole  = &Error{code: "invalid_role"}
	ErrInvalidName  = &Error{code: "invalid_name"}
	ErrInvalidEmail = &Error{code: "invalid_email"}
	ErrLastOwner    = &Error{code: "last_owner"}
)

// RateLimited refuses a request made too often; RetryAfter says when it may
// be made again.
type RateLimited struct {
	RetryAfter time.Duration
}

func (e *RateLimited) Error() string { return "account: rate limited" }

// ErrorCode is the contract error code.
func (e *RateLimited) ErrorCode() string { return "rate_limited" }

// RetryAfterDuration is sent as Retry-After.
func (e *RateLimited) RetryAfterDuration() time.Duration { return e.RetryAfter }
