package account

import (
	"context"
	"net/netip"
	"time"
)

// Caller is the signed-in session acting on its own account's security
// settings: who (Actor), from which client network (for the lockout), which
// session (so that "every other session" can spare it), and whether it
// holds a recent proof as the login machine judged it (ASVS V7.5.1).
type Caller struct {
	Actor
	Client netip.Addr
	// Handle is the acting session's store handle.
	Handle string
	// RecentProof: a login or re-authentication within the last minutes
	// (login.RecentProof), or the login itself while it waits at
	// enroll_mfa (login.Enrollment allowed it to add its first factor).
	RecentProof bool
}

// The refusals of the security settings. The sso_* codes answer an SSO
// callback as the security page's ?error= (the edge's ssoMessage), never
// an API status.
var (
	ErrReauthRequired     = &Error{code: "reauth_required"}
	ErrInvalidCredentials = &Error{code: "invalid_credentials"}
	ErrInvalidCode        = &Error{code: "invalid_code"}
	ErrAlreadyEnrolled    = &Error{code: "already_enrolled"}
	ErrNoPendingTOTP      = &Error{code: "no_pending_totp"}
	ErrLastMFAMethod      = &Error{code: "last_mfa_method"}
	ErrLastSignInMethod   = &Error{code: "last_sign_in_method"}
	ErrCredentialExists   = &Error{code: "credential_exists"}
	ErrUnknownProvider    = &Error{code: "unknown_provider"}
	ErrUnauthenticated    = &Error{code: "unauthenticated"}
	ErrSSOEmailMismatch   = &Error{code: "sso_email_mismatch"}
	ErrSSOTaken           = &Error{code: "sso_taken"}
	ErrSSOExists          = &Error{code: "sso_exists"}
)

// unavailable is a store failure: the caller fails closed (ASVS V16.5.2).
func unavailable(err error) error { return &Error{code: "unavailable", err: err} }

// needRecentProof refuses a change of a security setting without a recent
// proof: a stolen session must not change how the account is reached.
func needRecentProof(c Caller) error {
	if !c.RecentProof {
		return ErrReauthRequired
	}
	return nil
}

// Events receives what the metrics count: attempts of a guessable check,
// sessions ended, store failures.
type Events interface {
	Attempt(method, outcome string)
	SessionsRevoked(n int)
	StoreFailed(op string)
}

// Guesses is the login's lockout (login.Lockout), shared with every login
// factor: one failure counter per account and one per client network (ASVS
// V6.3.1). Begin counts one guess before it is checked and refuses with a
// rate-limit error over the limit; the returned func gives the guess back
// when it was right.
type Guesses interface {
	Begin(ctx context.Context, email string, client netip.Addr, method string) (succeeded func(), err error)
}

// clock is the time source of the services; nil: time.Now.
func clock(now func() time.Time) func() time.Time {
	if now == nil {
		return time.Now
	}
	return now
}
