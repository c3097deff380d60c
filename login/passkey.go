package login

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"time"

	"unigate/mfa"
	"unigate/session"
)

// Passkeys runs the WebAuthn ceremonies of a login (mfa.WebAuthn).
type Passkeys interface {
	BeginDiscoverableLogin() (options, data []byte, err error)
	BeginLogin(user *mfa.User) (options, data []byte, err error)
	FinishLogin(user *mfa.User, data []byte, body io.Reader, now time.Time) (credID []byte, signCount uint32, cloneWarning bool, err error)
	FinishDiscoverableLogin(data []byte, body io.Reader, lookup func(rawID, userHandle []byte) (*mfa.User, error), now time.Time) (accountID string, credID []byte, signCount uint32, cloneWarning bool, err error)
}

// ceremony is a WebAuthn ceremony in progress, kept in the session: the
// challenge is single use (it is cleared before the answer is checked).
type ceremony struct {
	Purpose string `json:"purpose"` // one of the Ceremony* purposes
	Data    []byte `json:"data"`    // mfa's opaque session blob
}

// The purposes of a ceremony.
const (
	CeremonyPasswordless = "login_passwordless"
	CeremonySecondFactor = "login_mfa"
	CeremonyRegister     = "register"
)

// BeginCeremony keeps a new ceremony of purpose in sess (saved).
func (m *Machine) BeginCeremony(ctx context.Context, sess *session.Session, purpose string, data []byte) error {
	raw, err := json.Marshal(ceremony{Purpose: purpose, Data: data})
	if err != nil {
		return internal(err)
	}
	sess.Ceremony = raw
	return m.sessions.Save(ctx, sess)
}

// TakeCeremony returns the session's ceremony if its purpose is one of
// purposes, and clears it (saved), so that a challenge serves once.
func (m *Machine) TakeCeremony(ctx context.Context, sess *session.Session, purposes ...string) (data []byte, purpose string, err error) {
	var c ceremony
	if len(sess.Ceremony) == 0 || json.Unmarshal(sess.Ceremony, &c) != nil {
		return nil, "", ErrNoCeremony
	}
	sess.Ceremony = nil
	if err := m.sessions.Save(ctx, sess); err != nil {
		return nil, "", err
	}
	// Two requests racing with the same challenge both read it before either
	// saved: an atomic counter lets only the first through.
	sum := sha256.Sum256(c.Data)
	n, _, err := m.lockout.hit(ctx, "webauthn:"+hex.EncodeToString(sum[:16]), 10*time.Minute)
	if err != nil {
		return nil, "", err
	}
	if n != 1 {
		return nil, "", ErrNoCeremony
	}
	for _, p := range purposes {
		if c.Purpose == p {
			return c.Data, c.Purpose, nil
		}
	}
	return nil, "", ErrNoCeremony
}

// PasskeyUser is the WebAuthn view of an account.
func (m *Machine) PasskeyUser(ctx context.Context, accountID string) (*mfa.User, error) {
	acct, err := m.accounts.AccountByID(ctx, accountID)
	if err != nil {
		return nil, internal(err)
	}
	creds, err := m.factors.WebAuthnCredentials(ctx, acct.ID)
	if err != nil {
		return nil, internal(err)
	}
	return mfa.NewUser(acct.ID, acct.Email, creds), nil
}

// PasskeyOptions is POST /login/passkey/options: passwordless at the first
// factor (a discoverable credential, user verification required), or the
// second factor with the account's own credentials. It returns the options
// for navigator.credentials.get, as JSON.
func (m *Machine) PasskeyOptions(ctx context.Context, l *Login) ([]byte, error) {
	if err := started(l); err != nil {
		return nil, err
	}
	sess := l.Session
	var options, data []byte
	var purpose string
	var err error
	switch sess.Next {
	case session.StepFirstFactor:
		// No allow list: the answer is the same whether or not the email has passkeys.
		options, data, err = m.passkeys.BeginDiscoverableLogin()
		purpose = CeremonyPasswordless
	case session.StepMFA:
		user, uerr := m.PasskeyUser(ctx, sess.AccountID)
		if uerr != nil {
			return nil, uerr
		}
		options, data, err = m.passkeys.BeginLogin(user)
		purpose = CeremonySecondFactor
	default:
		return nil, ErrWrongStep
	}
	if err != nil {
		return nil, ErrPasskeyUnavailable
	}
	if err := m.BeginCeremony(ctx, sess, purpose, data); err != nil {
		return nil, err
	}
	return options, nil
}

// Passkey is POST /login/passkey: the assertion (body), as a first factor
// or as the second.
func (m *Machine) Passkey(ctx context.Context, l *Login, body []byte) (*Result, error) {
	if err := started(l); err != nil {
		return nil, err
	}
	sess := l.Session
	att, err := m.lockout.Begin(ctx, sess.Email, l.Client, "passkey")
	if err != nil {
		return nil, err
	}
	data, purpose, err := m.TakeCeremony(ctx, sess, CeremonyPasswordless, CeremonySecondFactor)
	if err != nil {
		return nil, err
	}
	acct, err := m.accountByEmail(ctx, sess.Email)
	if err != nil {
		return nil, err
	}
	refuse := func(reason string) (*Result, error) {
		m.events.Attempt("passkey", "failure")
		m.events.Audit(ctx, l.Client, "login.failure", accountID(acct), map[string]string{"method": "passkey", "reason": reason})
		return nil, ErrInvalidCredentials
	}
	if acct == nil {
		return refuse("unknown account")
	}
	now := m.now()
	var credID []byte
	var count uint32
	var clone bool
	switch purpose {
	case CeremonyPasswordless:
		if sess.Next != session.StepFirstFactor {
			return nil, ErrWrongStep
		}
		var owner string
		owner, credID, count, clone, err = m.passkeys.FinishDiscoverableLogin(data, bytes.NewReader(body), func(rawID, userHandle []byte) (*mfa.User, error) {
			return m.PasskeyUser(ctx, string(userHandle))
		}, now)
		// The passkey must belong to the account whose email was given.
		if err == nil && owner != acct.ID {
			return refuse("passkey of another account")
		}
	case CeremonySecondFactor:
		if sess.Next != session.StepMFA || sess.AccountID != acct.ID {
			return nil, ErrWrongStep
		}
		user, uerr := m.PasskeyUser(ctx, acct.ID)
		if uerr != nil {
			return nil, uerr
		}
		credID, count, clone, err = m.passkeys.FinishLogin(user, data, bytes.NewReader(body), now)
	}
	if err != nil {
		return refuse("assertion refused")
	}
	if err := m.factors.UpdateWebAuthnCredentialUse(ctx, credID, count, clone, now); err != nil {
		return nil, internal(err)
	}
	if clone {
		// The signature counter went backwards: possibly a cloned authenticator. Recorded, not refused.
		m.events.Audit(ctx, l.Client, "passkey.clone_warning", acct.ID, map[string]string{"credential": base64.RawURLEncoding.EncodeToString(credID)[:12]})
	}
	att.Succeeded(ctx)
	m.events.Attempt("passkey", "success")
	sess.AccountID = acct.ID
	sess.MFA = "passkey"
	sess.Factors = append(sess.Factors, "passkey")
	return m.advance(ctx, l, acct)
}
