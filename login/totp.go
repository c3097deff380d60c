package login

import (
	"context"
	"errors"

	"unigate/accounts"
	"unigate/mfa"
	"unigate/session"
)

// TOTP is POST /login/totp: the second factor. A time step accepted once
// for an account is refused afterwards, on every replica (the store's
// conditional update is the guard).
func (m *Machine) TOTP(ctx context.Context, l *Login, rawCode string) (*Result, error) {
	if err := inProgress(l, session.StepMFA); err != nil {
		return nil, err
	}
	sess := l.Session
	begin := m.lockout.Begin
	if ownerRecovering(sess) {
		begin = m.lockout.beginRecovery // the owner lifting the consecutive lock
	}
	att, err := begin(ctx, sess.Email, l.Client, "totp")
	if err != nil {
		return nil, err
	}
	ok, err := m.checkTOTP(ctx, sess.AccountID, rawCode)
	if err != nil {
		return nil, err
	}
	if !ok {
		att.Failed(ctx)
		m.events.Attempt("totp", "failure")
		m.events.Audit(ctx, l.Client, "login.failure", sess.AccountID, map[string]string{"method": "totp"})
		return nil, ErrInvalidCode
	}
	att.Succeeded(ctx)
	m.events.Attempt("totp", "success")
	acct, err := m.accounts.AccountByID(ctx, sess.AccountID)
	if err != nil {
		return nil, internal(err)
	}
	sess.MFA = "totp"
	sess.Factors = append(sess.Factors, "totp")
	return m.advance(ctx, l, acct)
}

// checkTOTP verifies a code against the account's confirmed TOTP and burns
// its time step. false without an error: a wrong code, or no confirmed app.
func (m *Machine) checkTOTP(ctx context.Context, accountID, rawCode string) (bool, error) {
	code, err := mfa.ParseCode(rawCode)
	if err != nil {
		return false, nil
	}
	cred, err := m.factors.TOTPCredential(ctx, accountID)
	if errors.Is(err, accounts.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, internal(err)
	}
	if !cred.Confirmed {
		return false, nil
	}
	secret, err := m.sealer.Open(cred.SecretSealed, []byte(accountID))
	if err != nil {
		return false, internal(err)
	}
	step, ok := mfa.VerifyTOTP(string(secret), code, m.now())
	if !ok {
		return false, nil
	}
	used, err := m.factors.UseTOTPStep(ctx, accountID, step)
	if err != nil {
		return false, internal(err)
	}
	if used {
		m.resealTOTP(ctx, accountID, cred.SecretSealed)
	}
	return used, nil
}

// resealTOTP seals again under the current session key a secret that
// opened under a previous one (CONTRACT §12 "Key rotation"), when both the
// sealer and the store can. Best effort: a failure leaves the secret
// readable under the previous key, and the next use tries again.
func (m *Machine) resealTOTP(ctx context.Context, accountID string, sealed []byte) {
	sealer, ok := m.sealer.(interface {
		Reopen(sealed, aad []byte) ([]byte, bool, error)
		Seal(plain, aad []byte) []byte
	})
	store, ok2 := m.factors.(interface {
		ResealTOTP(ctx context.Context, accountID string, old, sealed []byte) (bool, error)
	})
	if !ok || !ok2 {
		return
	}
	plain, stale, err := sealer.Reopen(sealed, []byte(accountID))
	if err != nil || !stale {
		return
	}
	_, _ = store.ResealTOTP(ctx, accountID, sealed, sealer.Seal(plain, []byte(accountID)))
}

// Enrollment checks that l may add a second factor: a login waiting at
// enroll_mfa (while the account still has none: a login parked there must
// not outlive a factor enrolled meanwhile, which it would then skip), or a
// complete session with a recent proof (ASVS V7.5.1: a stolen session must
// not plant a passkey that then signs in alone).
func (m *Machine) Enrollment(ctx context.Context, l *Login) error {
	sess := l.Session
	switch {
	case sess == nil || sess.AccountID == "":
		return ErrUnauthenticated
	case sess.Complete():
		if !m.RecentlyProven(sess) {
			return ErrReauthRequired
		}
		return nil
	case sess.Next != session.StepEnrollMFA:
		return ErrUnauthenticated
	}
	f, err := m.mfaOf(ctx, sess.AccountID)
	if err != nil {
		return err
	}
	if f.any() {
		sess.Next = session.StepMFA
		if err := m.sessions.Save(ctx, sess); err != nil {
			return err
		}
		return ErrWrongStep
	}
	return nil
}

// ConfirmTOTP is POST /me/mfa/totp/confirm: the first code proves the app
// has the pending secret. Inside a login (enroll_mfa) the new factor is also
// this login's second factor and the login goes on: the Result says where;
// for a complete session the Result is nil.
func (m *Machine) ConfirmTOTP(ctx context.Context, l *Login, rawCode string) (*Result, error) {
	if err := m.Enrollment(ctx, l); err != nil {
		return nil, err
	}
	sess := l.Session
	att, err := m.lockout.Begin(ctx, sess.Email, l.Client, "totp")
	if err != nil {
		return nil, err
	}
	cred, err := m.factors.TOTPCredential(ctx, sess.AccountID)
	if errors.Is(err, accounts.ErrNotFound) || (err == nil && cred.Confirmed) {
		return nil, ErrNoPendingTOTP
	}
	if err != nil {
		return nil, internal(err)
	}
	secret, err := m.sealer.Open(cred.SecretSealed, []byte(sess.AccountID))
	if err != nil {
		return nil, internal(err)
	}
	code, perr := mfa.ParseCode(rawCode)
	step, ok := int64(0), false
	if perr == nil {
		step, ok = mfa.VerifyTOTP(string(secret), code, m.now())
	}
	if !ok {
		att.Failed(ctx)
		m.events.Attempt("totp", "failure")
		m.events.Audit(ctx, l.Client, "mfa.enroll_failure", sess.AccountID, map[string]string{"method": "totp"})
		return nil, ErrInvalidCode
	}
	att.Succeeded(ctx)
	// Confirm the secret the code was checked against, and only it: a set-up
	// started meanwhile in another tab replaced it, and confirming that one
	// would bind the account to a secret no app holds (issue 16 finding 10).
	switch err := m.factors.ConfirmPendingTOTP(ctx, sess.AccountID, cred.SecretSealed, step, m.now()); {
	case errors.Is(err, accounts.ErrTOTPReplaced), errors.Is(err, accounts.ErrMFAExists):
		return nil, ErrNoPendingTOTP
	case err != nil:
		return nil, internal(err)
	}
	return m.Enrolled(ctx, l, "totp")
}

// Enrolled records a new second factor of l's account; inside a login it
// also counts as the second factor of this login and the login goes on (a
// nil Result for a complete session).
func (m *Machine) Enrolled(ctx context.Context, l *Login, method string) (*Result, error) {
	sess := l.Session
	if err := m.accounts.SetMFAEnrollRequired(ctx, sess.AccountID, false); err != nil {
		return nil, internal(err)
	}
	m.events.Audit(ctx, l.Client, "mfa.enroll", sess.AccountID, map[string]string{"method": method})
	codes, err := m.FirstRecoveryCodes(ctx, l)
	if err != nil {
		return nil, err
	}
	l.RecoveryCodes = codes
	if sess.Complete() {
		return nil, nil
	}
	acct, err := m.accounts.AccountByID(ctx, sess.AccountID)
	if err != nil {
		return nil, internal(err)
	}
	sess.MFA = method
	sess.Factors = append(sess.Factors, method)
	return m.advance(ctx, l, acct)
}
