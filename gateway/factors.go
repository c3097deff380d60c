package gateway

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"unigate/accounts"
	"unigate/mail"
	"unigate/mfa"
	"unigate/session"
)

// The second factors and the email code (CONTRACT §5, issue "second
// factors"). Every guessable factor goes through the limiter: failed
// passwords, TOTP codes and email codes share one counter per account and
// one per client network (ASVS V6.3.1).

const (
	// maxEmailCodeTries: a code dies after five wrong tries (CONTRACT §5).
	maxEmailCodeTries = 5
	// maxCodesPerHour bounds the codes mailed to one address per hour.
	maxCodesPerHour = 10
)

var (
	errInvalidCode   = fail("invalid_code")
	errResendTooSoon = &failure{Code: "rate_limited", RetryAfter: 30 * time.Second}
)

// emailCodeAllowed: the email code signs in only accounts the unification
// flagged (password and MFA erased), the limitation SECURITY.md decides.
func emailCodeAllowed(acct *accounts.Account) bool {
	return acct != nil && acct.PasswordSetRequired
}

// mfaState is what second factors an account holds.
type mfaState struct {
	totp     bool
	passkeys int
}

func (m mfaState) any() bool { return m.totp || m.passkeys > 0 }

func (m mfaState) methods() []string {
	var out []string
	if m.totp {
		out = append(out, "totp")
	}
	if m.passkeys > 0 {
		out = append(out, "passkey")
	}
	return out
}

func (s *Server) mfaOf(r *http.Request, accountID string) (mfaState, error) {
	totp, n, err := s.accounts.MFAMethods(r.Context(), accountID)
	if err != nil {
		return mfaState{}, internal(err)
	}
	return mfaState{totp: totp, passkeys: n}, nil
}

// emailCodeBinding ties a code to the login attempt that asked for it.
func emailCodeBinding(sess *session.Session) string { return sess.Handle }

func addressKey(email string) string {
	sum := sha256.Sum256([]byte(email))
	return "emailcode:addr:" + hex.EncodeToString(sum[:16])
}

// loginEmailCodeSend is POST /login/email-code: 202 whatever the address,
// a code mailed only to an account that may use one (CONTRACT §5). One code
// per 30 s per login attempt and per address.
func (s *Server) loginEmailCodeSend(w http.ResponseWriter, r *http.Request) error {
	cur, err := s.loginInProgress(r, session.StepFirstFactor)
	if err != nil {
		return err
	}
	now := s.now()
	var st mfa.EmailCodeState
	if len(cur.sess.EmailCode) > 0 {
		if err := json.Unmarshal(cur.sess.EmailCode, &st); err != nil {
			return internal(err)
		}
		if !st.CanResend(now) {
			return errResendTooSoon
		}
	}
	n, _, err := s.sessions.Hit(r.Context(), addressKey(cur.sess.Email), 30*time.Second)
	if err != nil {
		s.metrics.storeErrors.WithLabelValues("counter").Inc()
		return storeDown(err)
	}
	if n > 1 {
		return errResendTooSoon
	}
	// At most a few codes an hour to one address: no mailbox flooding.
	n, ttl, err := s.sessions.Hit(r.Context(), addressKey(cur.sess.Email)+":hour", time.Hour)
	if err != nil {
		s.metrics.storeErrors.WithLabelValues("counter").Inc()
		return storeDown(err)
	}
	if n > maxCodesPerHour {
		return &failure{Code: "rate_limited", RetryAfter: max(ttl, time.Second)}
	}
	acct, err := s.accounts.AccountByEmail(r.Context(), cur.sess.Email)
	if err != nil && !errors.Is(err, accounts.ErrNotFound) {
		return internal(err)
	}
	code := mfa.NewEmailCode()
	// A resend keeps the failure count (800-63B §3.1.3.2): only the code changes.
	st.Issue(s.codeKey, emailCodeBinding(cur.sess), code, now, s.cfg.Login.EmailCodeTTL)
	raw, err := json.Marshal(st)
	if err != nil {
		return internal(err)
	}
	cur.sess.EmailCode = raw
	if err := s.saveSession(r.Context(), cur.sess); err != nil {
		return err
	}
	if emailCodeAllowed(acct) {
		key := "email_code:" + cur.sess.Handle[:16] + ":" + now.UTC().Format(time.RFC3339Nano)
		err := s.mailer.Queue(r.Context(), key, acct.ID, mail.KindEmailCode, acct.Locale, acct.Email,
			mail.CodeData{Code: code, ExpiresMinutes: max(1, int(s.cfg.Login.EmailCodeTTL.Minutes()))})
		if err != nil {
			return internal(err)
		}
		s.audit(r, "email_code.sent", acct.ID, nil)
	}
	writeJSON(w, http.StatusAccepted, map[string]bool{"sent": true})
	return nil
}

// loginEmailCodeVerify is POST /login/email-code/verify.
func (s *Server) loginEmailCodeVerify(w http.ResponseWriter, r *http.Request, rawCode string) (*stepResult, error) {
	cur, err := s.loginInProgress(r, session.StepFirstFactor)
	if err != nil {
		return nil, err
	}
	att, err := (&limiter{s}).begin(r, cur.sess.Email, "email_code")
	if err != nil {
		return nil, err
	}
	fail := func(accountID string) (*stepResult, error) {
		s.metrics.loginAttempts.WithLabelValues("email_code", "failure").Inc()
		s.audit(r, "login.failure", accountID, map[string]string{"method": "email_code"})
		return nil, errInvalidCode
	}
	acct, err := s.accounts.AccountByEmail(r.Context(), cur.sess.Email)
	if err != nil && !errors.Is(err, accounts.ErrNotFound) {
		return nil, internal(err)
	}
	accountID := ""
	if acct != nil {
		accountID = acct.ID
	}
	var st mfa.EmailCodeState
	if len(cur.sess.EmailCode) == 0 || json.Unmarshal(cur.sess.EmailCode, &st) != nil {
		return fail(accountID)
	}
	// The try count also lives in an atomic counter: parallel wrong codes
	// would otherwise each read the same count from the session.
	tries, _, err := s.sessions.Hit(r.Context(), "emailcode:tries:"+cur.sess.Handle, s.cfg.Login.EmailCodeTTL+time.Minute)
	if err != nil {
		s.metrics.storeErrors.WithLabelValues("counter").Inc()
		return nil, storeDown(err)
	}
	ok, dead := st.Check(s.codeKey, emailCodeBinding(cur.sess), rawCode, s.now()) // raw input: Check parses it
	if tries > maxEmailCodeTries {
		ok, dead = false, true
	}
	if !ok || !emailCodeAllowed(acct) {
		if dead {
			cur.sess.EmailCode = nil // five wrong tries or expired: the code is gone
		} else if raw, err := json.Marshal(st); err == nil {
			cur.sess.EmailCode = raw
		}
		if err := s.saveSession(r.Context(), cur.sess); err != nil {
			return nil, err
		}
		return fail(accountID)
	}
	cur.sess.EmailCode = nil // single use
	att.success(r)
	s.metrics.loginAttempts.WithLabelValues("email_code", "success").Inc()
	cur.sess.AccountID = acct.ID
	cur.sess.Factors = append(cur.sess.Factors, "email_code")
	return s.advance(w, r, cur, acct)
}

// loginTOTP is POST /login/totp: the second factor. A time step accepted
// once for an account is refused afterwards, on every replica (the store's
// conditional update is the guard).
func (s *Server) loginTOTP(w http.ResponseWriter, r *http.Request, rawCode string) (*stepResult, error) {
	cur, err := s.loginInProgress(r, session.StepMFA)
	if err != nil {
		return nil, err
	}
	att, err := (&limiter{s}).begin(r, cur.sess.Email, "totp")
	if err != nil {
		return nil, err
	}
	if !s.checkTOTP(r, cur.sess.AccountID, rawCode) {
		s.metrics.loginAttempts.WithLabelValues("totp", "failure").Inc()
		s.audit(r, "login.failure", cur.sess.AccountID, map[string]string{"method": "totp"})
		return nil, errInvalidCode
	}
	att.success(r)
	s.metrics.loginAttempts.WithLabelValues("totp", "success").Inc()
	acct, err := s.accounts.AccountByID(r.Context(), cur.sess.AccountID)
	if err != nil {
		return nil, internal(err)
	}
	cur.sess.MFA = "totp"
	cur.sess.Factors = append(cur.sess.Factors, "totp")
	return s.advance(w, r, cur, acct)
}

// checkTOTP verifies a code against the account's confirmed TOTP and burns its time step.
func (s *Server) checkTOTP(r *http.Request, accountID, rawCode string) bool {
	code, err := mfa.ParseCode(rawCode)
	if err != nil {
		return false
	}
	cred, err := s.accounts.TOTPCredential(r.Context(), accountID)
	if err != nil || !cred.Confirmed {
		return false
	}
	secret, err := s.sealer.Open(cred.SecretSealed, []byte(accountID))
	if err != nil {
		s.log(r).Error("TOTP secret does not open", "account_id", accountID, "err", err)
		return false
	}
	step, ok := mfa.VerifyTOTP(string(secret), code, s.now())
	if !ok {
		return false
	}
	used, err := s.accounts.UseTOTPStep(r.Context(), accountID, step)
	if err != nil {
		s.log(r).Error("TOTP replay guard failed", "account_id", accountID, "err", err)
		return false
	}
	return used
}
