package login

import (
	"context"

	"unigate/session"
)

// ReauthInput is POST /me/reauth: a password or a TOTP code (nil: not sent).
type ReauthInput struct {
	Password *string
	TOTP     *string
}

// Reauth checks a password or a TOTP code of the signed-in account and
// renews the session's proof (AuthTime): a fresh proof for RecentProof,
// under a new session token (Result.Rotate, ASVS V7.2.4, V7.5.1). Failures
// count toward max_failures.
func (m *Machine) Reauth(ctx context.Context, l *Login, in ReauthInput) (*Result, error) {
	sess := l.Session
	if sess == nil || !sess.Complete() {
		return nil, ErrUnauthenticated
	}
	if in.Password == nil && in.TOTP == nil {
		return nil, ErrInvalidRequest
	}
	method := "password"
	if in.Password == nil {
		method = "totp"
	}
	att, err := m.lockout.Begin(ctx, sess.Email, l.Client, method)
	if err != nil {
		return nil, err
	}
	var ok bool
	if in.Password != nil {
		acct, err := m.accounts.AccountByID(ctx, sess.AccountID)
		if err != nil {
			return nil, internal(err)
		}
		if ok, _, err = m.VerifyPassword(ctx, acct, *in.Password); err != nil {
			return nil, err
		}
	} else if ok, err = m.checkTOTP(ctx, sess.AccountID, *in.TOTP); err != nil {
		return nil, err
	}
	if !ok {
		att.Failed(ctx)
		m.events.Attempt(method, "failure")
		m.events.Audit(ctx, l.Client, "reauth.failure", sess.AccountID, map[string]string{"method": method})
		return nil, ErrInvalidCredentials
	}
	att.Succeeded(ctx)
	m.lockout.Clear(ctx, sess.Email)
	sess.AuthTime = m.now()
	m.events.Audit(ctx, l.Client, "reauth", sess.AccountID, map[string]string{"method": method})
	return &Result{Next: session.StepDone, Rotate: true}, nil
}
