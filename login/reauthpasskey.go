package login

import (
	"bytes"
	"context"
	"encoding/base64"
)

// CeremonyReauth is the purpose of a passkey ceremony that re-authenticates
// a complete session (POST /me/reauth/passkey/options): its challenge serves
// nothing else, and no other ceremony's challenge serves it.
const CeremonyReauth = "reauth"

// ReauthPasskeyOptions is POST /me/reauth/passkey/options: the options for
// navigator.credentials.get over the account's own passkeys (user
// verification required), the challenge kept in the session.
func (m *Machine) ReauthPasskeyOptions(ctx context.Context, l *Login) ([]byte, error) {
	sess := l.Session
	if sess == nil || !sess.Complete() {
		return nil, ErrUnauthenticated
	}
	user, err := m.PasskeyUser(ctx, sess.AccountID)
	if err != nil {
		return nil, err
	}
	// An account without a passkey gets an error from the library:
	// passkey_unavailable, like a login at mfa.
	options, data, err := m.passkeys.BeginLogin(user)
	if err != nil {
		return nil, ErrPasskeyUnavailable
	}
	if err := m.BeginCeremony(ctx, sess, CeremonyReauth, data); err != nil {
		return nil, err
	}
	return options, nil
}

// ReauthPasskey is POST /me/reauth/passkey: the assertion (body) answering
// the challenge of ReauthPasskeyOptions. Like Reauth, it renews the
// session's proof under a new token (Result.Rotate) and failures count
// toward max_failures.
func (m *Machine) ReauthPasskey(ctx context.Context, l *Login, body []byte) (*Result, error) {
	sess := l.Session
	if sess == nil || !sess.Complete() {
		return nil, ErrUnauthenticated
	}
	att, err := m.lockout.Begin(ctx, sess.Email, l.Client, "passkey")
	if err != nil {
		return nil, err
	}
	data, _, err := m.TakeCeremony(ctx, sess, CeremonyReauth)
	if err != nil {
		return nil, err
	}
	user, err := m.PasskeyUser(ctx, sess.AccountID)
	if err != nil {
		return nil, err
	}
	now := m.now()
	credID, count, clone, err := m.passkeys.FinishLogin(user, data, bytes.NewReader(body), now)
	if err != nil {
		m.events.Attempt("passkey", "failure")
		m.events.Audit(ctx, l.Client, "reauth.failure", sess.AccountID, map[string]string{"method": "passkey"})
		return nil, ErrInvalidCredentials
	}
	if err := m.factors.UpdateWebAuthnCredentialUse(ctx, credID, count, clone, now); err != nil {
		return nil, internal(err)
	}
	if clone {
		m.events.Audit(ctx, l.Client, "passkey.clone_warning", sess.AccountID, map[string]string{"credential": base64.RawURLEncoding.EncodeToString(credID)[:12]})
	}
	att.Succeeded(ctx)
	m.events.Attempt("passkey", "success")
	return m.reauthenticated(ctx, l, "passkey")
}
