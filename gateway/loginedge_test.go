package gateway

import (
	"errors"
	"testing"
	"time"

	"unigate/login"
)

// Every refusal of package login has its line in errorCodes: describe
// gives it its own code (not internal_error), with what it carries.
func TestLoginErrorsAreDescribed(t *testing.T) {
	cases := []struct {
		err        error
		wantStatus int
	}{
		{login.ErrInvalidEmail, 400},
		{login.ErrNoLogin, 404},
		{login.ErrWrongStep, 409},
		{login.ErrInvalidCredentials, 401},
		{login.ErrInvalidCode, 401},
		{login.ErrNoSignup, 400},
		{login.ErrUnauthenticated, 401},
		{login.ErrReauthRequired, 403},
		{login.ErrInvalidRequest, 400},
		{login.ErrNoPendingTOTP, 409},
		{login.ErrNoCeremony, 400},
		{login.ErrPasskeyUnavailable, 409},
		{&login.WeakPasswordError{MinLength: 14, Err: errors.New("short")}, 400},
		{&login.RateLimited{RetryAfter: 90 * time.Second}, 429},
		{&login.LegacyLoginRefused{LoginURL: "https://account.test/login"}, 403},
		{&login.Unavailable{Err: errors.New("redis down")}, 503},
		{&login.Internal{Err: errors.New("disk")}, 500},
	}
	for _, tc := range cases {
		code := tc.err.(interface{ ErrorCode() string }).ErrorCode()
		t.Run(code, func(t *testing.T) {
			p := describe(tc.err)
			if p.Code != code || p.Status != tc.wantStatus {
				t.Errorf("got %d %s, want %d %s", p.Status, p.Code, tc.wantStatus, code)
			}
		})
	}
	if p := describe(&login.WeakPasswordError{MinLength: 14}); p.Message != "Choose a password of at least 14 characters that is not among the most common ones (at most 256 bytes)." {
		t.Errorf("weak_password message: %q", p.Message)
	}
	if p := describe(&login.RateLimited{RetryAfter: 90 * time.Second}); p.RetryAfter != 90*time.Second {
		t.Errorf("rate_limited Retry-After: %v", p.RetryAfter)
	}
	if p := describe(&login.LegacyLoginRefused{LoginURL: "u"}); p.Extra["login_url"] != "u" {
		t.Errorf("legacy_login_not_allowed fields: %v", p.Extra)
	}
}
