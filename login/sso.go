package login

import (
	"context"
	"errors"

	"unigate/accounts"
)

// SSOSignIn finishes a sign-in with an identity provider whose answer the
// edge verified (state, nonce, PKCE): the account is the one linked to
// (provider, subject), never one found by email (ASVS V6.8.1). An unlinked
// identity signs nobody in: ErrSSONotLinked.
func (m *Machine) SSOSignIn(ctx context.Context, l *Login, provider, subject string) (*Result, error) {
	link, err := m.accounts.SSOIdentityBySubject(ctx, provider, subject)
	if errors.Is(err, accounts.ErrNotFound) {
		return nil, ErrSSONotLinked
	}
	if err != nil {
		return nil, internal(err)
	}
	acct, err := m.accounts.AccountByID(ctx, link.AccountID)
	if err != nil {
		return nil, internal(err)
	}
	att, err := m.lockout.Begin(ctx, acct.Email, l.Client, "sso")
	if err != nil {
		return nil, err
	}
	att.Succeeded(ctx)
	m.events.Attempt("sso", "success")
	sess := l.Session
	sess.Email = acct.Email
	sess.AccountID = acct.ID
	sess.Factors = append(sess.Factors, "sso:"+provider)
	return m.advance(ctx, l, acct)
}
