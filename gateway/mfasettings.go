package gateway

import (
	"bytes"
	"encoding/base64"
	"errors"
	"html/template"
	"net/http"
	"strings"
	"time"

	"unigate/accounts"
	"unigate/login"
	"unigate/mfa"
	"unigate/session"
)

// The second-factor settings (/me/mfa/*, /me/reauth). Enrollment answers a
// complete session, and also a login that stopped at enroll_mfa: that
// session can do nothing else (CONTRACT §5, SECURITY.md "A known tension").

var (
	errReauthRequired  = fail("reauth_required")
	errAlreadyEnrolled = fail("already_enrolled")
)

// enrollmentSession returns a session that may add a second factor
// (login.Enrollment): a login waiting at enroll_mfa while the account has
// none, or a complete session with a recent proof (ASVS V7.5.1).
func (s *Server) enrollmentSession(r *http.Request) (*current, error) {
	cur, err := s.loadSession(r)
	if err != nil {
		return nil, err
	}
	if cur == nil {
		return nil, errUnauthenticated
	}
	if err := s.login.Enrollment(r.Context(), s.loginOf(r, cur.sess)); err != nil {
		return nil, err
	}
	return cur, nil
}

// recentlyProven: a login or re-authentication within the last 5 minutes (ASVS V7.5.1).
func (s *Server) recentlyProven(sess *session.Session) bool {
	return s.login.RecentlyProven(sess)
}

// totpEnrollView answers POST /me/mfa/totp.
type totpEnrollView struct {
	Secret     string `json:"secret"`
	OTPAuthURI string `json:"otpauth_uri"`
	QRCode     string `json:"qr_code"` // data:image/png;base64,…
}

// QRCodeURL is the QR code for a page's <img src>: html/template refuses
// data: URLs unless told this one is ours.
func (v *totpEnrollView) QRCodeURL() template.URL {
	if !strings.HasPrefix(v.QRCode, "data:image/png;base64,") {
		return ""
	}
	return template.URL(v.QRCode)
}

func (s *Server) apiTOTPEnroll(w http.ResponseWriter, r *http.Request) error {
	cur, err := s.enrollmentSession(r)
	if err != nil {
		return err
	}
	if err := decodeJSON(w, r, &struct{}{}); err != nil {
		return err
	}
	v, err := s.newPendingTOTP(r, cur.sess)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

// pendingTOTPView shows the set-up in progress again (same secret), or starts one.
func (s *Server) pendingTOTPView(r *http.Request, sess *session.Session) (*totpEnrollView, error) {
	cred, err := s.accounts.TOTPCredential(r.Context(), sess.AccountID)
	if err == nil && !cred.Confirmed {
		if secret, err := s.sealer.Open(cred.SecretSealed, []byte(sess.AccountID)); err == nil {
			uri, qr, err := mfa.TOTPKey(s.totpIssuer(), sess.Email, string(secret))
			if err == nil {
				return &totpEnrollView{Secret: string(secret), OTPAuthURI: uri, QRCode: qr}, nil
			}
		}
	}
	return s.newPendingTOTP(r, sess)
}

// newPendingTOTP draws a new secret and keeps it, sealed, until confirmed.
func (s *Server) newPendingTOTP(r *http.Request, sess *session.Session) (*totpEnrollView, error) {
	secret, uri, qr, err := mfa.GenerateTOTP(s.totpIssuer(), sess.Email)
	if err != nil {
		return nil, internal(err)
	}
	err = s.accounts.PutPendingTOTP(r.Context(), sess.AccountID, s.sealer.Seal([]byte(secret), []byte(sess.AccountID)))
	if errors.Is(err, accounts.ErrMFAExists) {
		return nil, errAlreadyEnrolled
	}
	if err != nil {
		return nil, internal(err)
	}
	return &totpEnrollView{Secret: secret, OTPAuthURI: uri, QRCode: qr}, nil
}

func (s *Server) totpIssuer() string { return "Scaleway / Dedibox" }

// apiTOTPConfirm is POST /me/mfa/totp/confirm: the first code proves the app has the secret.
func (s *Server) apiTOTPConfirm(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Code string `json:"code"`
	}
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	res, err := s.confirmTOTP(w, r, req.Code)
	if err != nil {
		return err
	}
	if res == nil {
		writeJSON(w, http.StatusOK, map[string]any{})
		return nil
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

// confirmTOTP confirms the pending authenticator app (login.ConfirmTOTP);
// inside a login it returns the login's next step, nil otherwise.
func (s *Server) confirmTOTP(w http.ResponseWriter, r *http.Request, rawCode string) (*stepResult, error) {
	cur, err := s.loadSession(r)
	if err != nil {
		return nil, err
	}
	if cur == nil {
		return nil, errUnauthenticated
	}
	l := s.loginOf(r, cur.sess)
	res, err := s.login.ConfirmTOTP(r.Context(), l, rawCode)
	if err == nil && res == nil {
		return recoveryCodesResult(l), nil // a complete session: nothing more to do
	}
	return s.afterStep(w, r, l, res, err)
}

// enrolled records a new second factor (login.Enrolled); inside a login it
// also counts as the second factor of this login and the login goes on.
func (s *Server) enrolled(w http.ResponseWriter, r *http.Request, cur *current, method string) (*stepResult, error) {
	l := s.loginOf(r, cur.sess)
	res, err := s.login.Enrolled(r.Context(), l, method)
	if err == nil && res == nil {
		return recoveryCodesResult(l), nil
	}
	return s.afterStep(w, r, l, res, err)
}

// apiPasskeyRegisterOptions is POST /me/mfa/passkeys/options.
func (s *Server) apiPasskeyRegisterOptions(w http.ResponseWriter, r *http.Request) error {
	cur, err := s.enrollmentSession(r)
	if err != nil {
		return err
	}
	user, err := s.webauthnUserByID(r, cur.sess.AccountID)
	if err != nil {
		return err
	}
	options, data, err := s.webauthn.BeginRegistration(user)
	if err != nil {
		return internal(err)
	}
	if err := s.startCeremony(r, cur.sess, ceremonyRegister, data); err != nil {
		return err
	}
	writeRawJSON(w, http.StatusOK, options)
	return nil
}

// apiPasskeyRegister is POST /me/mfa/passkeys[?name=…]: 201 with the new passkey.
func (s *Server) apiPasskeyRegister(w http.ResponseWriter, r *http.Request) error {
	cur, err := s.enrollmentSession(r)
	if err != nil {
		return err
	}
	body, err := readBody(w, r, maxWebAuthnBody)
	if err != nil {
		return err
	}
	data, _, err := s.takeCeremony(r, cur.sess, ceremonyRegister)
	if err != nil {
		return err
	}
	user, err := s.webauthnUserByID(r, cur.sess.AccountID)
	if err != nil {
		return err
	}
	name := passkeyName(r.URL.Query().Get("name"))
	cred, err := s.webauthn.FinishRegistration(user, data, bytes.NewReader(body), name, s.now())
	if err != nil {
		s.audit(r, "mfa.enroll_failure", cur.sess.AccountID, map[string]string{"method": "passkey"})
		return fail("invalid_credential")
	}
	if err := s.accounts.AddWebAuthnCredential(r.Context(), cred); err != nil {
		if errors.Is(err, accounts.ErrCredentialExists) {
			return fail("credential_exists")
		}
		return internal(err)
	}
	res, err := s.enrolled(w, r, cur, "passkey")
	if err != nil {
		return err
	}
	out := map[string]any{"id": base64.RawURLEncoding.EncodeToString(cred.ID), "name": cred.Name}
	if res != nil && len(res.RecoveryCodes) > 0 {
		out["recovery_codes"] = res.RecoveryCodes
	}
	if res != nil && res.Next != "" {
		out["next"] = res.Next
		if res.Redirect != "" {
			out["redirect"] = res.Redirect
		}
		if len(res.MFAMethods) > 0 {
			out["mfa_methods"] = res.MFAMethods
		}
	}
	writeJSON(w, http.StatusCreated, out)
	return nil
}

// passkeyName keeps a user-given label printable and short.
func passkeyName(n string) string {
	n = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, strings.TrimSpace(n))
	if len([]rune(n)) > 64 {
		n = string([]rune(n)[:64])
	}
	if n == "" {
		n = "Passkey"
	}
	return n
}

// mfaView is GET /me/mfa.
type mfaView struct {
	TOTP     bool          `json:"totp"`
	Passkeys []passkeyView `json:"passkeys"`
}

type passkeyView struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
}

func (s *Server) mfaSummary(r *http.Request, accountID string) (*mfaView, error) {
	v := &mfaView{Passkeys: []passkeyView{}}
	cred, err := s.accounts.TOTPCredential(r.Context(), accountID)
	switch {
	case err == nil:
		v.TOTP = cred.Confirmed
	case !errors.Is(err, accounts.ErrNotFound):
		return nil, internal(err)
	}
	creds, err := s.accounts.WebAuthnCredentials(r.Context(), accountID)
	if err != nil {
		return nil, internal(err)
	}
	for _, c := range creds {
		pv := passkeyView{ID: base64.RawURLEncoding.EncodeToString(c.ID), Name: c.Name, CreatedAt: c.CreatedAt.UTC()}
		if !c.LastUsedAt.IsZero() {
			t := c.LastUsedAt.UTC()
			pv.LastUsedAt = &t
		}
		v.Passkeys = append(v.Passkeys, pv)
	}
	return v, nil
}

func (s *Server) apiMFA(w http.ResponseWriter, r *http.Request) error {
	cur, err := s.requireComplete(r)
	if err != nil {
		return err
	}
	v, err := s.mfaSummary(r, cur.sess.AccountID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

// removeMFA is shared by DELETE /me/mfa/totp and /me/mfa/passkeys/{id}: it
// needs a recent proof, and keeps at least one method when MFA is required.
func (s *Server) removeMFA(r *http.Request, method string, remove func(accountID string) error) error {
	cur, err := s.requireComplete(r)
	if err != nil {
		return err
	}
	if !s.recentlyProven(cur.sess) {
		return errReauthRequired
	}
	m, err := s.mfaOf(r, cur.sess.AccountID)
	if err != nil {
		return err
	}
	remaining := m.passkeys
	if m.totp {
		remaining++
	}
	if s.cfg.Login.RequireMFA && remaining <= 1 {
		return fail("last_mfa_method")
	}
	if err := remove(cur.sess.AccountID); err != nil {
		if errors.Is(err, accounts.ErrNotFound) {
			return fail("not_found")
		}
		return internal(err)
	}
	s.audit(r, "mfa.remove", cur.sess.AccountID, map[string]string{"method": method})
	return s.login.SecondFactorRemoved(r.Context(), cur.sess.AccountID)
}

// removeTOTP removes the account's authenticator app; 404 when it has none.
func (s *Server) removeTOTP(r *http.Request) error {
	return s.removeMFA(r, "totp", func(id string) error {
		if _, err := s.accounts.TOTPCredential(r.Context(), id); err != nil {
			return err
		}
		return s.accounts.DeleteTOTP(r.Context(), id)
	})
}

func (s *Server) apiTOTPDelete(w http.ResponseWriter, r *http.Request) error {
	if err := s.removeTOTP(r); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) apiPasskeyDelete(w http.ResponseWriter, r *http.Request) error {
	credID, err := base64.RawURLEncoding.DecodeString(r.PathValue("id"))
	if err != nil {
		return fail("not_found")
	}
	if err := s.removeMFA(r, "passkey", func(id string) error {
		return s.accounts.DeleteWebAuthnCredential(r.Context(), id, credID)
	}); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// apiReauth is POST /me/reauth {"password"} or {"totp"}: a fresh proof for
// 5 minutes, under a new session token (ASVS V7.2.4, V7.5.1). Failures count
// toward max_failures.
func (s *Server) apiReauth(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		Password *string `json:"password"`
		TOTP     *string `json:"totp"`
	}
	if err := decodeJSON(w, r, &body); err != nil {
		return err
	}
	if err := s.reauthWith(w, r, login.ReauthInput{Password: body.Password, TOTP: body.TOTP}); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// reauth is the security page's re-authentication: a password or a TOTP code.
func (s *Server) reauth(w http.ResponseWriter, r *http.Request, password, totp string, hasPassword, hasTOTP bool) error {
	var in login.ReauthInput
	if hasPassword {
		in.Password = &password
	}
	if hasTOTP {
		in.TOTP = &totp
	}
	return s.reauthWith(w, r, in)
}

// reauthWith runs login.Reauth and moves the session to a new token.
func (s *Server) reauthWith(w http.ResponseWriter, r *http.Request, in login.ReauthInput) error {
	cur, err := s.requireComplete(r)
	if err != nil {
		return err
	}
	if _, err := s.login.Reauth(r.Context(), s.loginOf(r, cur.sess), in); err != nil {
		return err
	}
	_, err = s.rotate(w, r, cur.sess, errUnauthenticated)
	return err
}
