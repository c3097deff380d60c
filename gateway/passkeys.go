package gateway

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"

	"unigate/accounts"
	"unigate/mfa"
	"unigate/session"
)

// ceremony is a WebAuthn ceremony in progress, kept in the session: the
// challenge is single use (it is cleared before the answer is checked).
type ceremony struct {
	Purpose string `json:"purpose"` // ceremonyPasswordless, ceremonySecondFactor, ceremonyRegister
	Data    []byte `json:"data"`    // mfa's opaque session blob
}

const (
	ceremonyPasswordless = "login_passwordless"
	ceremonySecondFactor = "login_mfa"
	ceremonyRegister     = "register"
)

// maxWebAuthnBody bounds a WebAuthn answer (attestation objects are a few KiB).
const maxWebAuthnBody = 64 << 10

var errPasskeyFailed = fail("invalid_credentials")

func (s *Server) startCeremony(r *http.Request, sess *session.Session, purpose string, data []byte) error {
	raw, err := json.Marshal(ceremony{Purpose: purpose, Data: data})
	if err != nil {
		return internal(err)
	}
	sess.Ceremony = raw
	return s.saveSession(r.Context(), sess)
}

// takeCeremony returns the session's ceremony of purpose and clears it (saved), so a challenge serves once.
func (s *Server) takeCeremony(r *http.Request, sess *session.Session, purposes ...string) ([]byte, string, error) {
	var c ceremony
	if len(sess.Ceremony) == 0 || json.Unmarshal(sess.Ceremony, &c) != nil {
		return nil, "", fail("no_ceremony")
	}
	sess.Ceremony = nil
	if err := s.saveSession(r.Context(), sess); err != nil {
		return nil, "", err
	}
	// Two requests racing with the same challenge both read it before either
	// saved: an atomic counter lets only the first through.
	sum := sha256.Sum256(c.Data)
	n, _, err := s.sessions.Hit(r.Context(), "webauthn:"+hex.EncodeToString(sum[:16]), 10*time.Minute)
	if err != nil {
		s.metrics.storeErrors.WithLabelValues("counter").Inc()
		return nil, "", storeDown(err)
	}
	if n != 1 {
		return nil, "", fail("no_ceremony")
	}
	for _, p := range purposes {
		if c.Purpose == p {
			return c.Data, c.Purpose, nil
		}
	}
	return nil, "", fail("no_ceremony")
}

// webauthnUser builds the WebAuthn view of an account.
func (s *Server) webauthnUser(r *http.Request, acct *accounts.Account) (*mfa.User, error) {
	creds, err := s.accounts.WebAuthnCredentials(r.Context(), acct.ID)
	if err != nil {
		return nil, internal(err)
	}
	return mfa.NewUser(acct.ID, acct.Email, creds), nil
}

// webauthnUserByID is webauthnUser for an account known by its id.
func (s *Server) webauthnUserByID(r *http.Request, accountID string) (*mfa.User, error) {
	acct, err := s.accounts.AccountByID(r.Context(), accountID)
	if err != nil {
		return nil, internal(err)
	}
	return s.webauthnUser(r, acct)
}

// loginPasskeyOptions is POST /login/passkey/options: passwordless at the
// first factor (a discoverable credential, user verification required), or
// the second factor with the account's own credentials.
func (s *Server) loginPasskeyOptions(w http.ResponseWriter, r *http.Request) error {
	cur, err := s.loadSession(r)
	if err != nil {
		return err
	}
	if cur == nil || cur.sess.Complete() || cur.sess.Email == "" {
		return errNoLogin
	}
	var options, data []byte
	var purpose string
	switch cur.sess.Next {
	case session.StepFirstFactor:
		// No allow list: the answer is the same whether or not the email has passkeys.
		options, data, err = s.webauthn.BeginDiscoverableLogin()
		purpose = ceremonyPasswordless
	case session.StepMFA:
		user, uerr := s.webauthnUserByID(r, cur.sess.AccountID)
		if uerr != nil {
			return uerr
		}
		options, data, err = s.webauthn.BeginLogin(user)
		purpose = ceremonySecondFactor
	default:
		return errWrongStep
	}
	if err != nil {
		return fail("passkey_unavailable")
	}
	if err := s.startCeremony(r, cur.sess, purpose, data); err != nil {
		return err
	}
	writeRawJSON(w, http.StatusOK, options)
	return nil
}

// loginPasskey is POST /login/passkey: the assertion.
func (s *Server) loginPasskey(w http.ResponseWriter, r *http.Request) (*stepResult, error) {
	cur, err := s.loadSession(r)
	if err != nil {
		return nil, err
	}
	if cur == nil || cur.sess.Complete() || cur.sess.Email == "" {
		return nil, errNoLogin
	}
	body, err := readBody(w, r, maxWebAuthnBody)
	if err != nil {
		return nil, err
	}
	att, err := (&limiter{s}).begin(r, cur.sess.Email, "passkey")
	if err != nil {
		return nil, err
	}
	data, purpose, err := s.takeCeremony(r, cur.sess, ceremonyPasswordless, ceremonySecondFactor)
	if err != nil {
		return nil, err
	}
	acct, err := s.accounts.AccountByEmail(r.Context(), cur.sess.Email)
	if err != nil && !errors.Is(err, accounts.ErrNotFound) {
		return nil, internal(err)
	}
	fail := func(reason string) (*stepResult, error) {
		id := ""
		if acct != nil {
			id = acct.ID
		}
		s.metrics.loginAttempts.WithLabelValues("passkey", "failure").Inc()
		s.audit(r, "login.failure", id, map[string]string{"method": "passkey", "reason": reason})
		return nil, errPasskeyFailed
	}
	if acct == nil {
		return fail("unknown account")
	}
	now := s.now()
	var credID []byte
	var count uint32
	var clone bool
	switch purpose {
	case ceremonyPasswordless:
		if cur.sess.Next != session.StepFirstFactor {
			return nil, errWrongStep
		}
		var owner string
		owner, credID, count, clone, err = s.webauthn.FinishDiscoverableLogin(data, bytes.NewReader(body), func(rawID, userHandle []byte) (*mfa.User, error) {
			return s.webauthnUserByID(r, string(userHandle))
		}, now)
		// The passkey must belong to the account whose email was given.
		if err == nil && owner != acct.ID {
			return fail("passkey of another account")
		}
	case ceremonySecondFactor:
		if cur.sess.Next != session.StepMFA || cur.sess.AccountID != acct.ID {
			return nil, errWrongStep
		}
		user, uerr := s.webauthnUser(r, acct)
		if uerr != nil {
			return nil, uerr
		}
		credID, count, clone, err = s.webauthn.FinishLogin(user, data, bytes.NewReader(body), now)
	}
	if err != nil {
		return fail("assertion refused")
	}
	if err := s.accounts.UpdateWebAuthnCredentialUse(r.Context(), credID, count, clone, now); err != nil {
		return nil, internal(err)
	}
	if clone {
		// The signature counter went backwards: possibly a cloned authenticator. Recorded, not refused.
		s.audit(r, "passkey.clone_warning", acct.ID, map[string]string{"credential": base64.RawURLEncoding.EncodeToString(credID)[:12]})
	}
	att.success(r)
	s.metrics.loginAttempts.WithLabelValues("passkey", "success").Inc()
	cur.sess.AccountID = acct.ID
	cur.sess.MFA = "passkey"
	cur.sess.Factors = append(cur.sess.Factors, "passkey")
	return s.advance(w, r, cur, acct)
}

// readBody reads a JSON body of at most limit bytes (Content-Type checked like decodeJSON).
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	if err := requireJSON(r); err != nil {
		return nil, err
	}
	if r.ContentLength > limit {
		return nil, fail("body_too_large")
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		return nil, fail("body_too_large")
	}
	return b, nil
}

func writeRawJSON(w http.ResponseWriter, status int, raw []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(raw)
}
