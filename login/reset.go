package login

import (
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"time"

	"unigate/accounts"
	"unigate/mail"
	"unigate/mfa"
	"unigate/session"
)

// Forgot password (CONTRACT §10): a reset step of the login in progress.
// The reset code only proves the mailbox, so it replaces the password,
// never the second factor: after it the login goes to mfa when the account
// has one (ASVS V6.4.3: recovery must not bypass MFA), then to
// set_password. The new password ends every other session and lifts the
// account's locks.

// The markers a reset leaves in Session.Factors.
const (
	// factorResetCode: the reset code was verified; the login is a reset.
	factorResetCode = "reset_code"
	// factorNewPassword: the reset's new password is set.
	factorNewPassword = "new_password"
)

// resetCodesPerAddressHour: CONTRACT §10, 10 reset codes per hour per
// address (on top of the budgets every mailed code spends).
const resetCodesPerAddressHour = 10

// resetBinding ties a reset code to its attempt, apart from a sign-in code
// of the same attempt: neither can stand for the other.
func resetBinding(sess *session.Session) string { return sess.Handle + ":reset" }

// resetting: the login's mailbox was proven by a reset code.
func resetting(sess *session.Session) bool { return slices.Contains(sess.Factors, factorResetCode) }

// ownerRecovering: the login is the owner's way back in, through the mailbox (a
// reset, or the email code of an account the unification flagged, its only
// way in): its guesses are counted but not refused by the consecutive lock,
// which only this way (or an operator) lifts (issue 16 findings 6, 7).
func ownerRecovering(sess *session.Session) bool { return resetting(sess) || emailCodeFirst(sess) }

// StartReset is POST /login/reset: a reset code mailed to the login's
// address if it has an account; the same answer, the same work and the
// same limits for an unknown address (ASVS V6.3.8).
func (m *Machine) StartReset(ctx context.Context, l *Login) error {
	if err := inProgress(l, session.StepFirstFactor); err != nil {
		return err
	}
	sess := l.Session
	now := m.now()
	var st mfa.EmailCodeState
	if len(sess.EmailCode) > 0 {
		if err := json.Unmarshal(sess.EmailCode, &st); err != nil {
			return internal(err)
		}
		if !st.CanResend(now) {
			return rateLimited(resendInterval)
		}
	}
	if err := m.resendGuard(ctx, sess.Email); err != nil {
		return err
	}
	n, ttl, err := m.lockout.hit(ctx, "reset:addr:"+emailHash(sess.Email)+":hour", time.Hour)
	if err != nil {
		return err
	}
	if n > resetCodesPerAddressHour {
		return rateLimited(ttl)
	}
	if err := m.codeBudget(ctx, sess, l.Client); err != nil {
		return err
	}
	acct, err := m.accountByEmail(ctx, sess.Email)
	if err != nil {
		return err
	}
	code := mfa.NewEmailCode()
	// One code at a time per attempt: a reset code replaces a sign-in code
	// (and keeps its failure count, 800-63B §3.1.3.2).
	st.Issue(m.codeKey, resetBinding(sess), code, now, m.cfg.EmailCodeTTL)
	if sess.EmailCode, err = json.Marshal(st); err != nil {
		return internal(err)
	}
	if err := m.sessions.Save(ctx, sess); err != nil {
		return err
	}
	if !resetAllowed(acct) {
		return nil
	}
	key := "password_reset_code:" + sess.Handle[:16] + ":" + now.UTC().Format(time.RFC3339Nano)
	if err := m.mailer.Queue(ctx, key, acct.ID, mail.KindPasswordResetCode, acct.Locale, acct.Email,
		mail.CodeData{Code: code, ExpiresMinutes: m.codeMinutes()}); err != nil {
		return internal(err)
	}
	m.events.Audit(ctx, l.Client, "password_reset.sent", acct.ID, nil)
	return nil
}

// VerifyReset is POST /login/reset/verify: the reset code proves the
// mailbox; the login goes on to mfa (when the account has a second factor),
// then set_password. It is a recovery: the consecutive-failure lock does not
// refuse it (the reset is how the owner lifts it); every other counter does.
func (m *Machine) VerifyReset(ctx context.Context, l *Login, rawCode string) (*Result, error) {
	acct, err := m.checkMailedCode(ctx, l, "reset_code", resetBinding, resetAllowed, rawCode)
	if err != nil {
		return nil, err
	}
	m.events.Audit(ctx, l.Client, "password_reset.verified", acct.ID, nil)
	l.Session.Factors = append(l.Session.Factors, factorResetCode)
	return m.advance(ctx, l, acct)
}

// resetAllowed: an account the unification flagged (password and MFA
// erased) has no password to forget; it signs in by email code, whose
// session must enroll a second factor (SECURITY.md, issue 16 finding 3), and
// a reset must not be a way around that.
func resetAllowed(acct *accounts.Account) bool { return acct != nil && !acct.PasswordSetRequired }

// resetDone is the end of a reset's set_password: every other session of
// the account ends (ASVS V7.4.3), its locks are lifted, its owner is told.
func (m *Machine) resetDone(ctx context.Context, l *Login) error {
	sess := l.Session
	n, err := m.sessions.RevokeAccount(ctx, sess.AccountID, sess.Handle)
	if err != nil {
		return err
	}
	m.lockout.clearLogin(ctx, sess.Email, l.Client)
	m.events.Audit(ctx, l.Client, "password.reset", sess.AccountID, map[string]string{"sessions_revoked": strconv.Itoa(n)})
	acct, err := m.accounts.AccountByID(ctx, sess.AccountID)
	if err != nil {
		return internal(err)
	}
	m.notify(ctx, acct, mail.KindPasswordReset, m.noticeData(l.Client, sess.UserAgent))
	return nil
}
