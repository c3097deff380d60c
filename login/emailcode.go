package login

import (
	"context"
	"encoding/json"
	"net/netip"
	"time"

	"unigate/accounts"
	"unigate/mail"
	"unigate/mfa"
	"unigate/session"
)

// The email one-time code, as a first factor (CONTRACT §5). It goes through
// the lockout like every guessable factor.

const (
	// maxEmailCodeTries: a code dies after five wrong tries (CONTRACT §5).
	maxEmailCodeTries = mfa.MaxEmailCodeTries
	// resendInterval: one code per 30 s per login attempt and per address.
	resendInterval = 30 * time.Second
)

// Hourly budgets of mailed codes (issue 16 finding 7). A single per-address
// budget let a stranger spend a flagged account's only way in (its email
// code) by asking for codes all hour. The tight budgets are per login
// attempt and per client network, what a stranger controls; the
// per-address ceiling is far above them, so that it takes many networks to
// reach it, and it still bounds the mail one mailbox receives.
const (
	// codesPerAttemptHour: one login attempt; a person who did not get the
	// mail asks again two or three times, not five.
	codesPerAttemptHour = 5
	// codesPerNetworkHour: one client network; two attempts' worth, enough
	// for a household or an office whose people sign in by code.
	codesPerNetworkHour = 10
	// codesPerAddressHour: one address from every network, sign-up codes
	// included (finding 8): five networks' worth of strangers before the
	// owner is refused, and still under one mail a minute.
	codesPerAddressHour = 50
)

// emailCodeBinding ties a code to the login attempt that asked for it.
func emailCodeBinding(sess *session.Session) string { return sess.Handle }

func addressKey(email string) string { return "emailcode:addr:" + emailHash(email) }

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
	if err := m.codeBudget(ctx, sess, l.Client); err != nil {
		return err
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

// codeBudget spends one mailed code of the hourly budgets of the attempt,
// the client network and the address.
func (m *Machine) codeBudget(ctx context.Context, sess *session.Session, client netip.Addr) error {
	budgets := []struct {
		key   string
		limit int64
	}{
		{"emailcode:attempt:" + sess.Handle, codesPerAttemptHour},
		{"emailcode:net:" + ClientNetwork(client), codesPerNetworkHour},
		{addressKey(sess.Email) + ":hour", codesPerAddressHour},
	}
	for _, b := range budgets {
		n, ttl, err := m.lockout.hit(ctx, b.key, time.Hour)
		if err != nil {
			return err
		}
		if n > b.limit {
			return rateLimited(ttl)
		}
	}
	return nil
}

// addressBudget spends one mail of the address's hourly ceiling, which
// sign-up mails share with the login codes (issue 16 finding 8).
func (m *Machine) addressBudget(ctx context.Context, email string) error {
	n, ttl, err := m.lockout.hit(ctx, addressKey(email)+":hour", time.Hour)
	if err != nil {
		return err
	}
	if n > codesPerAddressHour {
		return rateLimited(ttl)
	}
	return nil
}

func (m *Machine) codeMinutes() int { return max(1, int(m.cfg.EmailCodeTTL.Minutes())) }

// VerifyEmailCode is POST /login/email-code/verify.
func (m *Machine) VerifyEmailCode(ctx context.Context, l *Login, rawCode string) (*Result, error) {
	// The mailbox is a flagged account's only way in: a stranger's guesses
	// must not close it (issue 16 finding 7). The code itself bounds them:
	// five tries, and the hourly budgets of mailed codes.
	acct, err := m.checkMailedCode(ctx, l, "email_code", emailCodeBinding, emailCodeAllowed, rawCode)
	if err != nil {
		return nil, err
	}
	l.Session.Factors = append(l.Session.Factors, "email_code")
	return m.advance(ctx, l, acct)
}

// checkMailedCode checks a code mailed to the login's address (a sign-in
// code or a reset code, told apart by binding) and spends it. It is a
// recovery for the lockout: the consecutive-failure lock does not refuse
// it, every other counter does; five wrong tries kill the code, counted
// atomically across parallel guesses. allowed says whether the account may
// use this code at all. On success the code is gone from the store (before
// a later step can refuse: a disabled account, a store error) and the
// login names the account.
func (m *Machine) checkMailedCode(ctx context.Context, l *Login, method string, binding func(*session.Session) string,
	allowed func(*accounts.Account) bool, rawCode string) (*accounts.Account, error) {
	if err := inProgress(l, session.StepFirstFactor); err != nil {
		return nil, err
	}
	sess := l.Session
	att, err := m.lockout.beginRecovery(ctx, sess.Email, l.Client, method)
	if err != nil {
		return nil, err
	}
	acct, err := m.accountByEmail(ctx, sess.Email)
	if err != nil {
		return nil, err
	}
	refuse := func() (*accounts.Account, error) {
		att.Failed(ctx)
		m.events.Attempt(method, "failure")
		m.events.Audit(ctx, l.Client, "login.failure", accountID(acct), map[string]string{"method": method})
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
	ok, dead := st.Check(m.codeKey, binding(sess), rawCode, m.now()) // raw input: Check parses it
	if tries > maxEmailCodeTries {
		ok, dead = false, true
	}
	if !ok || !allowed(acct) {
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
	sess.EmailCode = nil
	if err := m.sessions.Save(ctx, sess); err != nil {
		return nil, err
	}
	att.Succeeded(ctx)
	m.events.Attempt(method, "success")
	sess.AccountID = acct.ID
	return acct, nil
}
