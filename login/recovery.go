package login

import (
	"context"
	"errors"
	"strconv"
	"time"

	"unigate/accounts"
	"unigate/mail"
	"unigate/mfa"
	"unigate/session"
)

// Recovery codes (CONTRACT §10): a set of single-use codes for the day the
// second factor is lost. They stand for the second factor at mfa (never for
// the first: ASVS V6.5.x), are kept only as keyed hashes (mfa.HashRecoveryCode)
// and go through the failure counters like every code.

// RecoveryCodes is what the machine reads and writes of the recovery codes
// (accounts.RecoveryCodeStore).
type RecoveryCodes interface {
	ReplaceRecoveryCodes(ctx context.Context, accountID string, hashes [][]byte, at time.Time) error
	UseRecoveryCode(ctx context.Context, accountID string, hash []byte, at time.Time) (bool, error)
	RecoveryCodes(ctx context.Context, accountID string) (remaining int, createdAt time.Time, err error)
	DeleteRecoveryCodes(ctx context.Context, accountID string) error
}

// mfaRecoveryCode is the session's MFA after a recovery code (X-Auth-MFA).
const mfaRecoveryCode = "recovery_code"

// unusedRecoveryCodes is how many codes of the account's set are left (0 for none).
func (m *Machine) unusedRecoveryCodes(ctx context.Context, accountID string) (int, error) {
	n, _, err := m.recovery.RecoveryCodes(ctx, accountID)
	if errors.Is(err, accounts.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, internal(err)
	}
	return n, nil
}

// RecoveryCode is POST /login/recovery-code: an unused code of the account's
// set stands for its second factor, once (the store's conditional UPDATE is
// the guard, on every replica). The owner is told, with how many are left.
func (m *Machine) RecoveryCode(ctx context.Context, l *Login, rawCode string) (*Result, error) {
	if err := inProgress(l, session.StepMFA); err != nil {
		return nil, err
	}
	sess := l.Session
	begin := m.lockout.Begin
	if ownerRecovering(sess) {
		begin = m.lockout.beginRecovery
	}
	att, err := begin(ctx, sess.Email, l.Client, "recovery_code")
	if err != nil {
		return nil, err
	}
	used := false
	if code, perr := mfa.ParseRecoveryCode(rawCode); perr == nil {
		// The current key first, then those of rotated-out session keys: a
		// set stays under the key it was made with until it is replaced.
		for _, key := range append([][]byte{m.recoveryKey}, m.previousRecoveryKeys...) {
			hash := mfa.HashRecoveryCode(key, sess.AccountID, code)
			if used, err = m.recovery.UseRecoveryCode(ctx, sess.AccountID, hash, m.now()); err != nil {
				return nil, internal(err)
			}
			if used {
				break
			}
		}
	}
	if !used {
		att.Failed(ctx)
		m.events.Attempt("recovery_code", "failure")
		m.events.Audit(ctx, l.Client, "login.failure", sess.AccountID, map[string]string{"method": "recovery_code"})
		return nil, ErrInvalidCode
	}
	att.Succeeded(ctx)
	m.events.Attempt("recovery_code", "success")
	acct, err := m.accounts.AccountByID(ctx, sess.AccountID)
	if err != nil {
		return nil, internal(err)
	}
	left, err := m.unusedRecoveryCodes(ctx, acct.ID)
	if err != nil {
		return nil, err
	}
	m.events.Audit(ctx, l.Client, "recovery_code.use", acct.ID, map[string]string{"remaining": strconv.Itoa(left)})
	data := m.noticeData(l.Client, sess.UserAgent)
	data.Remaining = left
	m.notify(ctx, acct, mail.KindRecoveryCodeUsed, data)
	sess.MFA = mfaRecoveryCode
	sess.Factors = append(sess.Factors, mfaRecoveryCode)
	return m.advance(ctx, l, acct)
}

// newRecoveryCodes makes a new set for the account, the old one revoked,
// and returns the codes to show once.
func (m *Machine) newRecoveryCodes(ctx context.Context, l *Login, accountID string) ([]string, error) {
	codes := mfa.NewRecoveryCodes()
	hashes := make([][]byte, len(codes))
	for i, c := range codes {
		canonical, err := mfa.ParseRecoveryCode(c)
		if err != nil {
			return nil, internal(err)
		}
		hashes[i] = mfa.HashRecoveryCode(m.recoveryKey, accountID, canonical)
	}
	if err := m.recovery.ReplaceRecoveryCodes(ctx, accountID, hashes, m.now()); err != nil {
		return nil, internal(err)
	}
	m.events.Audit(ctx, l.Client, "recovery_codes.create", accountID, nil)
	acct, err := m.accounts.AccountByID(ctx, accountID)
	if err != nil {
		return nil, internal(err)
	}
	userAgent := ""
	if l.Session != nil {
		userAgent = l.Session.UserAgent
	}
	m.notify(ctx, acct, mail.KindRecoveryCodesCreated, m.noticeData(l.Client, userAgent))
	return codes, nil
}

// FirstRecoveryCodes hands out a set when the account's first second factor
// was just enrolled and it has none (CONTRACT §10); nil otherwise. Enrolled
// calls it; so does the edge after a factor confirmed from settings.
func (m *Machine) FirstRecoveryCodes(ctx context.Context, l *Login) ([]string, error) {
	accountID := l.Session.AccountID
	f, err := m.mfaOf(ctx, accountID)
	if err != nil {
		return nil, err
	}
	factors := f.passkeys
	if f.totp {
		factors++
	}
	if factors != 1 {
		return nil, nil // not the first
	}
	if _, _, err := m.recovery.RecoveryCodes(ctx, accountID); !errors.Is(err, accounts.ErrNotFound) {
		if err != nil {
			return nil, internal(err)
		}
		return nil, nil // a set exists
	}
	return m.newRecoveryCodes(ctx, l, accountID)
}

// RegenerateRecoveryCodes is POST /me/mfa/recovery-codes: a new set, shown
// once, the previous set revoked. It needs a recent proof (ASVS V7.5.1): a
// stolen session must not mint itself a second factor.
func (m *Machine) RegenerateRecoveryCodes(ctx context.Context, l *Login) ([]string, error) {
	sess := l.Session
	if sess == nil || !sess.Complete() {
		return nil, ErrUnauthenticated
	}
	if !m.RecentlyProven(sess) {
		return nil, ErrReauthRequired
	}
	return m.newRecoveryCodes(ctx, l, sess.AccountID)
}

// RecoveryCodeStatus is GET /me/mfa/recovery-codes: how many codes are left
// and when the set was made; ErrNotFound when the account has none.
func (m *Machine) RecoveryCodeStatus(ctx context.Context, l *Login) (remaining int, createdAt time.Time, err error) {
	sess := l.Session
	if sess == nil || !sess.Complete() {
		return 0, time.Time{}, ErrUnauthenticated
	}
	n, at, err := m.recovery.RecoveryCodes(ctx, sess.AccountID)
	if errors.Is(err, accounts.ErrNotFound) {
		return 0, time.Time{}, ErrNotFound
	}
	if err != nil {
		return 0, time.Time{}, internal(err)
	}
	return n, at, nil
}

// SecondFactorRemoved is told that a second factor of the account was
// removed: with the last one goes the recovery-code set (CONTRACT §10), so
// that no code outlives the factor it backs up.
func (m *Machine) SecondFactorRemoved(ctx context.Context, accountID string) error {
	f, err := m.mfaOf(ctx, accountID)
	if err != nil {
		return err
	}
	if f.any() {
		return nil
	}
	if err := m.recovery.DeleteRecoveryCodes(ctx, accountID); err != nil {
		return internal(err)
	}
	return nil
}
