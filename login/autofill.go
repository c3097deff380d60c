package login

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"

	"unigate/accounts"
	"unigate/mfa"
	"unigate/session"
)

// Passkey autofill (CONTRACT §11): the login page asks for a passkey
// before any email is given, and the browser offers the passkeys it holds
// for this site among the email field's suggestions (WebAuthn conditional
// mediation). The challenge lives in a login opened without an email, like
// an SSO one; the passkey chosen names its account (its user handle).

// CeremonyAutofill is the purpose of the challenge of a login opened for
// passkey autofill: only an answer to it signs in an account it names.
const CeremonyAutofill = "login_autofill"

// PasskeyAutofillOptions is POST /login/passkey/options before any
// identify: it opens a login with no email holding a discoverable
// challenge (no allow list: the answer is the same for everyone) and returns
// the options for navigator.credentials.get, with Result.Token, the new
// login's cookie value. A login in progress is ended, as Identify ends it;
// a complete session is never replaced by a page that merely loaded
// (ErrWrongStep). Openings count toward the per-network identify limit.
func (m *Machine) PasskeyAutofillOptions(ctx context.Context, l *Login, o Opening) ([]byte, *Result, error) {
	if l.LegacyConsole != "" {
		return nil, nil, ErrPasskeyUnavailable // passkeys belong to the account host
	}
	if l.Session != nil && l.Session.Complete() {
		return nil, nil, ErrWrongStep
	}
	if err := m.lockout.Identify(ctx, l.Client); err != nil {
		return nil, nil, err
	}
	if err := m.replace(ctx, l); err != nil {
		return nil, nil, err
	}
	options, data, err := m.passkeys.BeginDiscoverableLogin()
	if err != nil {
		return nil, nil, ErrPasskeyUnavailable
	}
	raw, err := json.Marshal(ceremony{Purpose: CeremonyAutofill, Data: data})
	if err != nil {
		return nil, nil, internal(err)
	}
	l.Session = m.open(l, o, "", session.StepFirstFactor, PreLoginLifetime)
	l.Session.ReturnTo = o.ReturnTo
	l.Session.Ceremony = raw
	token, err := m.sessions.Create(ctx, l.Session)
	if err != nil {
		return nil, nil, err
	}
	return options, &Result{Next: session.StepFirstFactor, Token: token}, nil
}

// AutofillInProgress: l is a login opened for passkey autofill (no email
// yet), the login POST /login/passkey answers with PasskeyAutofill.
func AutofillInProgress(l *Login) bool {
	s := l.Session
	return s != nil && !s.Complete() && s.Email == "" && s.Next == session.StepFirstFactor
}

// PasskeyAutofill is POST /login/passkey answering an autofill challenge:
// the passkey names its account; the attempt is counted against that
// account and the client's network like every passkey attempt, and the
// login goes on as a passwordless one (a passkey with user verification is
// both factors).
func (m *Machine) PasskeyAutofill(ctx context.Context, l *Login, body []byte) (*Result, error) {
	if !AutofillInProgress(l) {
		return nil, ErrNoLogin
	}
	sess := l.Session
	data, _, err := m.TakeCeremony(ctx, sess, CeremonyAutofill)
	if err != nil {
		return nil, err
	}
	var user *mfa.User
	var att *Attempt
	var stop error // a lockout or a store failure met in lookup: the library may not keep it
	owner, credID, count, clone, err := m.passkeys.FinishDiscoverableLogin(data, bytes.NewReader(body), func(rawID, userHandle []byte) (*mfa.User, error) {
		u, err := m.PasskeyUser(ctx, string(userHandle))
		if err != nil {
			if !errors.Is(err, accounts.ErrNotFound) { // no such account: a refused passkey
				stop = err
			}
			return nil, err
		}
		// The account is known only now: its lockout is checked before the
		// signature is.
		if att, err = m.lockout.Begin(ctx, u.WebAuthnName(), l.Client, "passkey"); err != nil {
			stop = err
			return nil, err
		}
		user = u
		return u, nil
	}, m.now())
	switch {
	case stop != nil:
		return nil, stop
	case err != nil || user == nil || owner != user.AccountID():
		m.events.Attempt("passkey", "failure")
		accountID := ""
		if user != nil {
			accountID = user.AccountID()
		}
		m.events.Audit(ctx, l.Client, "login.failure", accountID, map[string]string{"method": "passkey", "reason": "autofill assertion refused"})
		return nil, ErrInvalidCredentials
	}
	acct, err := m.accounts.AccountByID(ctx, owner)
	if err != nil {
		return nil, internal(err)
	}
	if err := m.factors.UpdateWebAuthnCredentialUse(ctx, credID, count, clone, m.now()); err != nil {
		return nil, internal(err)
	}
	if clone {
		m.events.Audit(ctx, l.Client, "passkey.clone_warning", acct.ID, map[string]string{"credential": base64.RawURLEncoding.EncodeToString(credID)[:12]})
	}
	att.Succeeded(ctx)
	m.events.Attempt("passkey", "success")
	sess.Email = acct.Email
	sess.AccountID = acct.ID
	sess.MFA = "passkey"
	sess.Factors = append(sess.Factors, "passkey")
	return m.advance(ctx, l, acct)
}
