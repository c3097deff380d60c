package gateway

import (
	"bytes"
	"encoding/base64"
	"html/template"
	"net/http"
	"strings"
	"time"

	"unigate/account"
	"unigate/login"
	"unigate/mfa"
	"unigate/session"
)

// The second-factor settings (/me/mfa/*, /me/reauth): adapters over
// package account (account.Security). Enrollment answers a complete session,
// and also a login that stopped at enroll_mfa: that session can do nothing
// else (CONTRACT §5, SECURITY.md "A known tension"); the login's part of it
// (the factor counting as this login's second) is package login's.

var (
	errReauthRequired = fail("reauth_required")
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

// totpEnrollView answers POST /me/mfa/totp. SecretID names the secret: the
// confirmation sends it back so that it confirms this one (issue 16
// finding 10).
type totpEnrollView struct {
	Secret     string `json:"secret"`
	OTPAuthURI string `json:"otpauth_uri"`
	QRCode     string `json:"qr_code"` // data:image/png;base64,…
	SecretID   string `json:"secret_id"`
}

// QRCodeURL is the QR code for a page's <img src>: html/template refuses
// data: URLs unless told this one is ours.
func (v *totpEnrollView) QRCodeURL() template.URL {
	if !strings.HasPrefix(v.QRCode, "data:image/png;base64,") {
		return ""
	}
	return template.URL(v.QRCode)
}

func (s *Server) apiTOTPEnroll(w http.ResponseWriter, r *http.Request, cur *current) error {
	if err := decodeJSON(w, r, &struct{}{}); err != nil {
		return err
	}
	v, err := s.newPendingTOTP(r, cur)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

// pendingTOTPView shows the set-up in progress of a login at enroll_mfa
// again (same secret), or starts one.
func (s *Server) pendingTOTPView(r *http.Request, sess *session.Session) (*totpEnrollView, error) {
	cred, err := s.accounts.TOTPCredential(r.Context(), sess.AccountID)
	if err == nil && !cred.Confirmed {
		if secret, err := s.sealer.Open(cred.SecretSealed, []byte(sess.AccountID)); err == nil {
			uri, qr, err := mfa.TOTPKey(totpIssuer, sess.Email, string(secret))
			if err == nil {
				return &totpEnrollView{Secret: string(secret), OTPAuthURI: uri, QRCode: qr}, nil
			}
		}
	}
	return s.newPendingTOTP(r, &current{sess: sess})
}

// newPendingTOTP draws a new secret (account.Security.StartTOTP) for a
// session needEnrollment let through.
func (s *Server) newPendingTOTP(r *http.Request, cur *current) (*totpEnrollView, error) {
	v, err := s.security.StartTOTP(r.Context(), enrolling(s.caller(r, cur)))
	if err != nil {
		return nil, err
	}
	return &totpEnrollView{Secret: v.Secret, OTPAuthURI: v.OTPAuthURI, QRCode: v.QRCode, SecretID: v.SecretID}, nil
}

// totpIssuer names the service in authenticator apps.
const totpIssuer = "Scaleway / Dedibox"

// apiTOTPConfirm is POST /me/mfa/totp/confirm {"code"[, "secret_id"]}
// (needEnrollment): the first code proves the app has the secret. From
// settings it is account.Security.ConfirmTOTP; inside a login (enroll_mfa)
// the login's step, which answers where the login goes next.
func (s *Server) apiTOTPConfirm(w http.ResponseWriter, r *http.Request, cur *current) error {
	var req struct {
		Code     string `json:"code"`
		SecretID string `json:"secret_id"`
	}
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	if cur.sess.Complete() {
		if err := s.security.ConfirmTOTP(r.Context(), s.caller(r, cur), req.Code, req.SecretID); err != nil {
			return err
		}
		out, err := s.firstRecoveryCodes(r, cur)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, out)
		return nil
	}
	l := s.loginOf(r, cur.sess)
	res, err := s.login.ConfirmTOTP(r.Context(), l, req.Code)
	out, err := s.afterStep(w, r, l, res, err)
	if err != nil {
		return err
	}
	if out == nil {
		writeJSON(w, http.StatusOK, map[string]any{})
		return nil
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// confirmTOTP confirms the pending authenticator app of a login waiting at
// enroll_mfa (login.ConfirmTOTP) for the login page, and returns the
// login's next step.
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
func (s *Server) apiPasskeyRegisterOptions(w http.ResponseWriter, r *http.Request, cur *current) error {
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
func (s *Server) apiPasskeyRegister(w http.ResponseWriter, r *http.Request, cur *current) error {
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
	cred, err := s.webauthn.FinishRegistration(user, data, bytes.NewReader(body), account.PasskeyName(r.URL.Query().Get("name")), s.now())
	if err != nil {
		s.audit(r, "mfa.enroll_failure", cur.sess.AccountID, map[string]string{"method": "passkey"})
		return fail("invalid_credential")
	}
	if err := s.security.AddPasskey(r.Context(), enrolling(s.caller(r, cur)), cred); err != nil {
		return err
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

// mfaViewOf is account's summary as JSON.
func mfaViewOf(m *account.MFASummary) *mfaView {
	v := &mfaView{TOTP: m.TOTP, Passkeys: make([]passkeyView, 0, len(m.Passkeys))}
	for _, p := range m.Passkeys {
		pv := passkeyView{ID: p.ID, Name: p.Name, CreatedAt: p.CreatedAt}
		if !p.LastUsedAt.IsZero() {
			t := p.LastUsedAt
			pv.LastUsedAt = &t
		}
		v.Passkeys = append(v.Passkeys, pv)
	}
	return v
}

func (s *Server) apiMFA(w http.ResponseWriter, r *http.Request, cur *current) error {
	m, err := s.security.MFA(r.Context(), s.caller(r, cur))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, mfaViewOf(m))
	return nil
}

func (s *Server) apiTOTPDelete(w http.ResponseWriter, r *http.Request, cur *current) error {
	if err := s.security.RemoveTOTP(r.Context(), s.caller(r, cur)); err != nil {
		return err
	}
	if err := s.login.SecondFactorRemoved(r.Context(), cur.sess.AccountID); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) apiPasskeyDelete(w http.ResponseWriter, r *http.Request, cur *current) error {
	if err := s.security.RemovePasskey(r.Context(), s.caller(r, cur), r.PathValue("id")); err != nil {
		return err
	}
	if err := s.login.SecondFactorRemoved(r.Context(), cur.sess.AccountID); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// apiReauth is POST /me/reauth {"password"} or {"totp"}: a fresh proof for
// 5 minutes, under a new session token (ASVS V7.2.4, V7.5.1). Failures count
// toward max_failures.
func (s *Server) apiReauth(w http.ResponseWriter, r *http.Request, cur *current) error {
	var body struct {
		Password *string `json:"password"`
		TOTP     *string `json:"totp"`
	}
	if err := decodeJSON(w, r, &body); err != nil {
		return err
	}
	if err := s.reauth(w, r, cur, login.ReauthInput{Password: body.Password, TOTP: body.TOTP}); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// reauth runs login.Reauth and moves the session to a new token.
func (s *Server) reauth(w http.ResponseWriter, r *http.Request, cur *current, in login.ReauthInput) error {
	if _, err := s.login.Reauth(r.Context(), s.loginOf(r, cur.sess), in); err != nil {
		return err
	}
	_, err := s.rotate(w, r, cur.sess, errUnauthenticated)
	return err
}
