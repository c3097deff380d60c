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
// renews the session's proof (AuthTime, Proof): a fresh proof for RecentProof
// and for the consoles' step-up rules (CONTRACT §11),
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
	return m.reauthenticated(ctx, l, method)
}

// reauthenticated records a re-authentication by method in the session: its
// time and method are the session's last proof (AuthTime, Proof: what
// step-up checks and the assertion's auth_time and amr name, CONTRACT §11),
// and whether the account holds a second factor now (HoldsMFA), read here
// once so that the console decision never reads the account store.
func (m *Machine) reauthenticated(ctx context.Context, l *Login, method string) (*Result, error) {
	sess := l.Session
	f, err := m.mfaOf(ctx, sess.AccountID)
	if err != nil {
		return nil, err
	}
	m.lockout.Clear(ctx, sess.Email)
	holds := f.any()
	sess.AuthTime = m.now()
	sess.Proof = []string{method}
	sess.HoldsMFA = &holds
	m.events.Audit(ctx, l.Client, "reauth", sess.AccountID, map[string]string{"method": method})
	return &Result{Next: session.StepDone, Rotate: true}, nil
}
