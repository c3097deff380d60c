package login

import (
	"context"

	"unigate/accounts"
	"unigate/session"
)

// Password is POST /login/password: the password as the first factor.
func (m *Machine) Password(ctx context.Context, l *Login, password string) (*Result, error) {
	if err := inProgress(l, session.StepFirstFactor); err != nil {
		return nil, err
	}
	att, err := m.lockout.Begin(ctx, l.Session.Email, l.Client, "password")
	if err != nil {
		return nil, err
	}
	acct, err := m.accountByEmail(ctx, l.Session.Email)
	if err != nil {
		return nil, err
	}
	ok, rehash, err := m.VerifyPassword(ctx, acct, password)
	if err != nil {
		return nil, err
	}
	if !ok {
		m.events.Attempt("password", "failure")
		m.events.Audit(ctx, l.Client, "login.failure", accountID(acct), map[string]string{"method": "password"})
		return nil, ErrInvalidCredentials
	}
	att.Succeeded(ctx)
	m.events.Attempt("password", "success")
	if rehash {
		// Imported bcrypt or older parameters: move to our argon2id now that
		// we know the password. A failure leaves the old hash, which still works.
		h, err := m.hasher.Hash(ctx, password)
		if err == nil {
			err = m.accounts.SetPasswordHash(ctx, acct.ID, h)
		}
		if err != nil {
			m.events.Warn(ctx, "password rehash not stored", acct.ID, err)
		}
	}
	l.Session.AccountID = acct.ID
	l.Session.Factors = append(l.Session.Factors, "password")
	return m.advance(ctx, l, acct)
}

// VerifyPassword checks password against the account's hash, or does the
// same work against a dummy hash when there is no account or no password,
// so that the answer's timing says nothing about the account (ASVS V6.3.8).
// A hasher failure (a corrupt stored hash, a cancelled request) is an
// error, not a wrong password: a corrupt hash must not lock the account out
// silently forever.
func (m *Machine) VerifyPassword(ctx context.Context, acct *accounts.Account, password string) (ok, rehash bool, err error) {
	if acct != nil && acct.PasswordHash != "" {
		ok, rehash, err = m.hasher.Verify(ctx, acct.PasswordHash, password)
	} else {
		err = m.hasher.VerifyDummy(ctx, password)
	}
	if err != nil {
		return false, false, internal(err)
	}
	return ok, rehash, nil
}

// CheckPasswordPolicy: at least password_min_length characters, at most 256
// bytes, never truncated, not a common password, no composition rules
// (800-63B §3.1.1.2, ASVS V6.2).
func (m *Machine) CheckPasswordPolicy(pw string) error {
	if err := accounts.CheckPassword(pw, m.cfg.PasswordMinLength); err != nil {
		return &WeakPasswordError{MinLength: m.cfg.PasswordMinLength, Err: err}
	}
	return nil
}

// SetPassword is POST /login/password/set, when the login says set_password.
func (m *Machine) SetPassword(ctx context.Context, l *Login, password string) (*Result, error) {
	if err := inProgress(l, session.StepSetPassword); err != nil {
		return nil, err
	}
	if err := m.CheckPasswordPolicy(password); err != nil {
		return nil, err
	}
	h, err := m.hasher.Hash(ctx, password)
	if err != nil {
		return nil, internal(err)
	}
	if err := m.accounts.SetPasswordHash(ctx, l.Session.AccountID, h); err != nil {
		return nil, internal(err)
	}
	m.events.Audit(ctx, l.Client, "password.set", l.Session.AccountID, nil)
	acct, err := m.accounts.AccountByID(ctx, l.Session.AccountID)
	if err != nil {
		return nil, internal(err)
	}
	return m.advance(ctx, l, acct)
}

func accountID(acct *accounts.Account) string {
	if acct == nil {
		return ""
	}
	return acct.ID
}
