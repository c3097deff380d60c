package login

import (
	"fmt"
	"time"
)

// Error is a refusal of the login machine, named by its contract code. The
// edge turns the code into a status and a message (one table); nothing here
// knows of statuses.
type Error struct {
	code string
}

func (e *Error) Error() string     { return "login: " + e.code }
func (e *Error) ErrorCode() string { return e.code }

// The refusals of the machine; compare with errors.Is.
var (
	ErrInvalidEmail       = &Error{"invalid_email"}
	ErrNoLogin            = &Error{"no_login"}
	ErrWrongStep          = &Error{"wrong_step"}
	ErrInvalidCredentials = &Error{"invalid_credentials"}
	ErrInvalidCode        = &Error{"invalid_code"}
	ErrNoSignup           = &Error{"no_signup"}
	ErrUnauthenticated    = &Error{"unauthenticated"}
	ErrReauthRequired     = &Error{"reauth_required"}
	ErrInvalidRequest     = &Error{"invalid_request"}
	ErrNoPendingTOTP      = &Error{"no_pending_totp"}
	ErrNoCeremony         = &Error{"no_ceremony"}
	ErrPasskeyUnavailable = &Error{"passkey_unavailable"}
	ErrSSONotLinked       = &Error{"sso_not_linked"}
	ErrNotFound           = &Error{"not_found"}
)

// WeakPasswordError: the password is refused by the policy; the message
// names the minimum length (MessageArgs).
type WeakPasswordError struct {
	MinLength int
	Err       error
}

func (e *WeakPasswordError) Error() string     { return fmt.Sprintf("login: weak_password: %v", e.Err) }
func (e *WeakPasswordError) Unwrap() error     { return e.Err }
func (e *WeakPasswordError) ErrorCode() string { return "weak_password" }
func (e *WeakPasswordError) MessageArgs() []any {
	return []any{e.MinLength}
}

// RateLimited: too many attempts; try again after RetryAfter.
type RateLimited struct {
	RetryAfter time.Duration
}

func (e *RateLimited) Error() string                     { return "login: rate_limited" }
func (e *RateLimited) ErrorCode() string                 { return "rate_limited" }
func (e *RateLimited) RetryAfterDuration() time.Duration { return e.RetryAfter }

// rateLimited never asks to wait less than a second (Retry-After is in seconds).
func rateLimited(d time.Duration) *RateLimited { return &RateLimited{RetryAfter: max(d, time.Second)} }

// LegacyLoginRefused: every factor was proven on a console's legacy login
// page, but the account is not one that may finish there (CONTRACT §4). The
// edge ends the session; the answer names the account portal.
type LegacyLoginRefused struct {
	LoginURL string
}

func (e *LegacyLoginRefused) Error() string     { return "login: legacy_login_not_allowed" }
func (e *LegacyLoginRefused) ErrorCode() string { return "legacy_login_not_allowed" }
func (e *LegacyLoginRefused) ErrorFields() map[string]any {
	return map[string]any{"login_url": e.LoginURL}
}

// Unavailable: a store failed; nothing is let through (fail closed, ASVS V16.5.2).
type Unavailable struct {
	Err error
}

func (e *Unavailable) Error() string     { return "login: unavailable: " + e.Err.Error() }
func (e *Unavailable) Unwrap() error     { return e.Err }
func (e *Unavailable) ErrorCode() string { return "unavailable" }

// Internal: an unexpected failure (the account store, the hasher); the
// client is told "internal error", the log sees Err.
type Internal struct {
	Err error
}

func (e *Internal) Error() string     { return "login: internal: " + e.Err.Error() }
func (e *Internal) Unwrap() error     { return e.Err }
func (e *Internal) ErrorCode() string { return "internal_error" }

func internal(err error) error { return &Internal{Err: err} }
