package login

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"time"

	"unigate/mail"
	"unigate/mfa"
	"unigate/session"
)

// The email one-time code, as a first factor (CONTRACT §5). It goes through
// the lockout like every guessable factor.

const (
	// maxEmailCodeTries: a code dies after five wrong tries (CONTRACT §5).
	maxEmailCodeTries = mfa.MaxEmailCodeTries
	// maxCodesPerHour bounds the codes mailed to one address per hour.
	maxCodesPerHour = 10
	// resendInterval: one code per 30 s per login attempt and per address.
	resendInterval = 30 * time.Second
)

// emailCodeBinding ties a code to the login attempt that asked for it.
func emailCodeBinding(sess *session.Session) string { return sess.Handle }

func addressKey(email string) string {
	sum := sha256.Sum256([]byte(email))
	return "emailcode:addr:" + hex.EncodeToString(sum[:16])
}

// SendEmailCode is POST /login/email-code: the same answer whatever the
// address, a code mailed only to an account that may use one (CONTRACT §5).
func (m *Machine) SendEmailCode(ctx context.Context, l *Login) error {
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
	// At most a few codes an hour to one address: no mailbox flooding.
	n, ttl, err := m.lockout.hit(ctx, addressKey(sess.Email)+":hour", time.Hour)
	if err != nil {
		return err
	}
	if n > maxCodesPerHour {
		return rateLimited(ttl)
	}
	acct, err := m.accountByEmail(ctx, sess.Email)
	if err != nil {
		return err
	}
	code := mfa.NewEmailCode()
	// A resend keeps the failure count (800-63B §3.1.3.2): only the code changes.
	st.Issue(m.codeKey, emailCodeBinding(sess), code, now, m.cfg.EmailCodeTTL)
	if sess.EmailCode, err = json.Marshal(st); err != nil {
		return internal(err)
	}
	if err := m.sessions.Save(ctx, sess); err != nil {
		return err
	}
	if !emailCodeAllowed(acct) {
		return nil
	}
	key := "email_code:" + sess.Handle[:16] + ":" + now.UTC().Format(time.RFC3339Nano)
	if err := m.mailer.Queue(ctx, key, acct.ID, mail.KindEmailCode, acct.Locale, acct.Email,
		mail.CodeData{Code: code, ExpiresMinutes: m.codeMinutes(), Name: acct.Name}); err != nil {
		return internal(err)
	}
	m.events.Audit(ctx, l.Client, "email_code.sent", acct.ID, nil)
	return nil
}

// resendGuard: one code per resendInterval to one address, whatever the
// login attempt (a new attempt must not be a way around it).
func (m *Machine) resendGuard(ctx context.Context, email string) error {
	n, _, err := m.lockout.hit(ctx, addressKey(email), resendInterval)
	if err != nil {
		return err
	}
	if n > 1 {
		return rateLimited(resendInterval)
	}
	return nil
}

func (m *Machine) codeMinutes() int { return max(1, int(m.cfg.EmailCodeTTL.Minutes())) }

// VerifyEmailCode is POST /login/email-code/verify.
func (m *Machine) VerifyEmailCode(ctx context.Context, l *Login, rawCode string) (*Result, error) {
	if err := inProgress(l, session.StepFirstFactor); err != nil {
		return nil, err
	}
	sess := l.Session
	att, err := m.lockout.Begin(ctx, sess.Email, l.Client, "email_code")
	if err != nil {
		return nil, err
	}
	acct, err := m.accountByEmail(ctx, sess.Email)
	if err != nil {
		return nil, err
	}
	refuse := func() (*Result, error) {
		m.events.Attempt("email_code", "failure")
		m.events.Audit(ctx, l.Client, "login.failure", accountID(acct), map[string]string{"method": "email_code"})
		return nil, ErrInvalidCode
	}
	var st mfa.EmailCodeState
	if len(sess.EmailCode) == 0 || json.Unmarshal(sess.EmailCode, &st) != nil {
		return refuse()
	}
	// The try count also lives in an atomic counter: parallel wrong codes
	// would otherwise each read the same count from the session.
	tries, _, err := m.lockout.hit(ctx, "emailcode:tries:"+sess.Handle, m.cfg.EmailCodeTTL+time.Minute)
	if err != nil {
		return nil, err
	}
	ok, dead := st.Check(m.codeKey, emailCodeBinding(sess), rawCode, m.now()) // raw input: Check parses it
	if tries > maxEmailCodeTries {
		ok, dead = false, true
	}
	if !ok || !emailCodeAllowed(acct) {
		if dead {
			sess.EmailCode = nil // five wrong tries or expired: the code is gone
		} else if raw, err := json.Marshal(st); err == nil {
			sess.EmailCode = raw
		}
		if err := m.sessions.Save(ctx, sess); err != nil {
			return nil, err
		}
		return refuse()
	}
	sess.EmailCode = nil // single use
	att.Succeeded(ctx)
	m.events.Attempt("email_code", "success")
	sess.AccountID = acct.ID
	sess.Factors = append(sess.Factors, "email_code")
	return m.advance(ctx, l, acct)
}
