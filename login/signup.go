package login

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/google/uuid"

	"unigate/accounts"
	"unigate/mail"
	"unigate/mfa"
	"unigate/session"
)

// One sign-up (CONTRACT §5 /signup): the address is proven by a code before
// the account exists; the answer never says whether the address is taken
// (the owner of a taken address is mailed instead, ASVS V6.3.8).

// pendingSignup is kept in the session until the address is verified.
type pendingSignup struct {
	PasswordHash string `json:"password_hash"`
	Taken        bool   `json:"taken"` // the address has an account: no code was sent
}

// StartSignup is POST /signup: it opens a sign-up waiting for the code
// mailed to the address (l.Session, as for Identify, is the session it
// replaces; Result.Token the new one's cookie value).
func (m *Machine) StartSignup(ctx context.Context, l *Login, rawEmail, password string, o Opening) (*Result, error) {
	email, err := accounts.NormalizeEmail(rawEmail)
	if err != nil {
		return nil, ErrInvalidEmail
	}
	if err := m.CheckPasswordPolicy(password); err != nil {
		return nil, err
	}
	if err := m.lockout.Identify(ctx, l.Client); err != nil {
		return nil, err
	}
	if err := m.resendGuard(ctx, email); err != nil {
		return nil, err
	}
	if err := m.addressBudget(ctx, email); err != nil {
		return nil, err
	}
	hash, err := m.hasher.Hash(ctx, password)
	if err != nil {
		return nil, internal(err)
	}
	existing, err := m.accountByEmail(ctx, email)
	if err != nil {
		return nil, err
	}
	if err := m.replace(ctx, l); err != nil {
		return nil, err
	}
	sess := m.open(l, o, email, session.StepVerifyEmail, SignupLifetime)
	if sess.Signup, err = json.Marshal(pendingSignup{PasswordHash: hash, Taken: existing != nil}); err != nil {
		return nil, internal(err)
	}
	l.Session = sess
	token, err := m.sessions.Create(ctx, sess)
	if err != nil {
		return nil, err
	}
	// The code is bound to this attempt: its hash uses the session handle.
	code := mfa.NewEmailCode()
	var st mfa.EmailCodeState
	st.Issue(m.codeKey, emailCodeBinding(sess), code, m.now(), m.cfg.EmailCodeTTL)
	if sess.EmailCode, err = json.Marshal(st); err != nil {
		return nil, internal(err)
	}
	if err := m.sessions.Save(ctx, sess); err != nil {
		return nil, err
	}
	key := "signup:" + sess.Handle[:16]
	if existing != nil {
		err = m.mailer.Queue(ctx, key, existing.ID, mail.KindAccountExists, existing.Locale, existing.Email,
			mail.AccountExistsData{SignInURL: m.cfg.PortalLoginURL, Name: existing.Name})
	} else {
		err = m.mailer.Queue(ctx, key, "", mail.KindSignupCode, l.Locale, email,
			mail.CodeData{Code: code, ExpiresMinutes: m.codeMinutes()})
	}
	if err != nil {
		return nil, internal(err)
	}
	m.events.Audit(ctx, l.Client, "signup.start", "", nil)
	return &Result{Next: session.StepVerifyEmail, Token: token}, nil
}

// VerifySignup is POST /signup/verify: the code creates the unified account
// with an account in each console, and signs it in (Result.Provisioning:
// console accounts wait in the queue for their endpoints).
func (m *Machine) VerifySignup(ctx context.Context, l *Login, rawCode string) (*Result, error) {
	sess := l.Session
	if sess == nil || sess.Next != session.StepVerifyEmail || len(sess.Signup) == 0 {
		return nil, ErrNoSignup
	}
	att, err := m.lockout.Begin(ctx, sess.Email, l.Client, "signup_code")
	if err != nil {
		return nil, err
	}
	var st mfa.EmailCodeState
	var p pendingSignup
	if json.Unmarshal(sess.EmailCode, &st) != nil || json.Unmarshal(sess.Signup, &p) != nil {
		return nil, ErrInvalidCode
	}
	ok, dead := st.Check(m.codeKey, emailCodeBinding(sess), rawCode, m.now()) // raw input: Check parses it
	if !ok || p.Taken {
		if dead {
			sess.EmailCode = nil
		} else if sess.EmailCode, err = json.Marshal(st); err != nil {
			return nil, internal(err)
		}
		if err := m.sessions.Save(ctx, sess); err != nil {
			return nil, err
		}
		att.Failed(ctx)
		m.events.Attempt("signup_code", "failure")
		return nil, ErrInvalidCode
	}
	att.Succeeded(ctx)
	now := m.now()
	acct := &accounts.Account{Email: sess.Email, EmailVerified: true, PasswordHash: p.PasswordHash, CreatedAt: now, Locale: l.Locale}
	var consoles []accounts.ConsoleAccount
	var viaEndpoint []string
	for _, c := range m.cfg.Consoles {
		if c.ViaEndpoint {
			viaEndpoint = append(viaEndpoint, c.ID) // the console names it, through the queue
			continue
		}
		// Without a provisioning endpoint the gateway names the console account.
		consoles = append(consoles, accounts.ConsoleAccount{Console: c.ID, ExternalID: uuid.NewString(), LinkedAt: now})
	}
	if err := m.signups.CreateAccount(ctx, acct, consoles); err != nil {
		if errors.Is(err, accounts.ErrEmailTaken) {
			return nil, ErrInvalidCode // taken meanwhile: the same answer as a wrong code
		}
		return nil, internal(err)
	}
	for _, c := range viaEndpoint {
		if err := m.signups.EnqueueProvisioning(ctx, acct.ID, c, now); err != nil {
			return nil, internal(err)
		}
	}
	m.events.Audit(ctx, l.Client, "signup.done", acct.ID, nil)
	m.events.Attempt("signup_code", "success")
	sess.EmailCode, sess.Signup = nil, nil
	sess.AccountID = acct.ID
	sess.Factors = append(sess.Factors, "password", "email_code")
	res, err := m.advance(ctx, l, acct)
	if err != nil {
		return nil, err
	}
	res.Provisioning = len(viaEndpoint) > 0
	return res, nil
}
