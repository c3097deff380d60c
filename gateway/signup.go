package gateway

import (
	"encoding/json"
	"errors"
	"net/http"
	"time"

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

// signupLifetime bounds a sign-up waiting for its code.
const signupLifetime = 30 * time.Minute

func (s *Server) startSignup(w http.ResponseWriter, r *http.Request, rawEmail, password string) error {
	email, err := accounts.NormalizeEmail(rawEmail)
	if err != nil {
		return errInvalidEmail
	}
	if err := s.checkPasswordPolicy(password); err != nil {
		return err
	}
	if err := (&limiter{s}).identify(r); err != nil {
		return err
	}
	n, _, err := s.sessions.Hit(r.Context(), addressKey(email), 30*time.Second)
	if err != nil {
		s.metrics.storeErrors.WithLabelValues("counter").Inc()
		return storeDown(err)
	}
	if n > 1 {
		return errResendTooSoon
	}
	hash, err := s.hasher.Hash(r.Context(), password)
	if err != nil {
		return internal(err)
	}
	existing, err := s.accounts.AccountByEmail(r.Context(), email)
	if err != nil && !errors.Is(err, accounts.ErrNotFound) {
		return internal(err)
	}
	if err := s.replaceSession(r); err != nil {
		return err
	}
	now := s.now()
	sess := s.preAuthSession(r, email, session.StepVerifyEmail, now, signupLifetime)
	sess.Signup, _ = json.Marshal(pendingSignup{PasswordHash: hash, Taken: existing != nil})
	token, err := s.sessions.Create(r.Context(), sess, s.cfg.Session.IdleTimeout)
	if err != nil {
		s.metrics.storeErrors.WithLabelValues("create").Inc()
		return storeDown(err)
	}
	// The code is bound to this attempt: its hash uses the session handle.
	code := mfa.NewEmailCode()
	var st mfa.EmailCodeState
	st.Issue(s.codeKey, emailCodeBinding(sess), code, now, s.cfg.Login.EmailCodeTTL)
	sess.EmailCode, _ = json.Marshal(st)
	if err := s.saveSession(r.Context(), sess); err != nil {
		return err
	}
	if err := s.setSessionCookie(w, r, token); err != nil {
		return err
	}
	key := "signup:" + sess.Handle[:16]
	if existing != nil {
		err = s.mailer.Queue(r.Context(), key, existing.ID, mail.KindAccountExists, existing.Locale, existing.Email,
			mail.AccountExistsData{SignInURL: s.loginURL("")})
	} else {
		err = s.mailer.Queue(r.Context(), key, "", mail.KindSignupCode, s.locale(r), email,
			mail.CodeData{Code: code, ExpiresMinutes: max(1, int(s.cfg.Login.EmailCodeTTL.Minutes()))})
	}
	if err != nil {
		return internal(err)
	}
	s.audit(r, "signup.start", "", nil)
	return nil
}

// verifySignup is POST /signup/verify: the code creates the unified account
// with an account in each console, and signs it in.
func (s *Server) verifySignup(w http.ResponseWriter, r *http.Request, rawCode string) (*stepResult, error) {
	cur, err := s.loadSession(r)
	if err != nil {
		return nil, err
	}
	if cur == nil || cur.sess.Next != session.StepVerifyEmail || len(cur.sess.Signup) == 0 {
		return nil, fail("no_signup")
	}
	att, err := (&limiter{s}).begin(r, cur.sess.Email, "signup_code")
	if err != nil {
		return nil, err
	}
	var st mfa.EmailCodeState
	var p pendingSignup
	if json.Unmarshal(cur.sess.EmailCode, &st) != nil || json.Unmarshal(cur.sess.Signup, &p) != nil {
		return nil, errInvalidCode
	}
	ok, dead := st.Check(s.codeKey, emailCodeBinding(cur.sess), rawCode, s.now()) // raw input: Check parses it
	if !ok || p.Taken {
		if dead {
			cur.sess.EmailCode = nil
		} else {
			cur.sess.EmailCode, _ = json.Marshal(st)
		}
		if err := s.saveSession(r.Context(), cur.sess); err != nil {
			return nil, err
		}
		s.metrics.loginAttempts.WithLabelValues("signup_code", "failure").Inc()
		return nil, errInvalidCode
	}
	att.success(r)
	now := s.now()
	acct := &accounts.Account{Email: cur.sess.Email, EmailVerified: true, PasswordHash: p.PasswordHash, CreatedAt: now, Locale: s.locale(r)}
	var consoles []accounts.ConsoleAccount
	var viaEndpoint []string
	for _, c := range s.consoleList {
		if s.provisioningURL(c.id) != "" {
			viaEndpoint = append(viaEndpoint, c.id) // the console names it, through the queue
			continue
		}
		// Without a provisioning endpoint the gateway names the console account.
		consoles = append(consoles, accounts.ConsoleAccount{Console: c.id, ExternalID: uuid.NewString(), LinkedAt: now})
	}
	if err := s.accounts.CreateAccount(r.Context(), acct, consoles); err != nil {
		if errors.Is(err, accounts.ErrEmailTaken) {
			return nil, errInvalidCode // taken meanwhile: the same answer as a wrong code
		}
		return nil, internal(err)
	}
	for _, c := range viaEndpoint {
		if err := s.accounts.EnqueueProvisioning(r.Context(), acct.ID, c, now); err != nil {
			return nil, internal(err)
		}
	}
	if len(viaEndpoint) > 0 {
		s.pokeProvisioning()
	}
	s.audit(r, "signup.done", acct.ID, nil)
	s.metrics.loginAttempts.WithLabelValues("signup_code", "success").Inc()
	cur.sess.EmailCode, cur.sess.Signup = nil, nil
	cur.sess.AccountID = acct.ID
	cur.sess.Factors = append(cur.sess.Factors, "password", "email_code")
	return s.advance(w, r, cur, acct)
}

func (s *Server) apiSignup(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Email    string `json:"email"`
		Password string `json:"password"`
	}
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	if err := s.startSignup(w, r, req.Email, req.Password); err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, map[string]string{"next": session.StepVerifyEmail})
	return nil
}

// signupPage is the /signup page: the form, then the code.
type signupPage struct {
	Step   string // "form" or "verify"
	Email  string
	Error  string
	MinLen int
}

func (s *Server) pageSignup(w http.ResponseWriter, r *http.Request) {
	page := signupPage{Step: "form", MinLen: s.cfg.Login.PasswordMinLength}
	if cur, err := s.loadSession(r); err == nil && cur != nil && cur.sess.Next == session.StepVerifyEmail {
		page.Step, page.Email = "verify", cur.sess.Email
	}
	s.render(w, r, http.StatusOK, "signup", page)
}

func (s *Server) pageSignupSubmit(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	f := r.PostForm
	page := signupPage{Step: "form", Email: f.Get("email"), MinLen: s.cfg.Login.PasswordMinLength}
	var err error
	switch f.Get("step") {
	case "verify":
		page.Step = "verify"
		var res *stepResult
		if res, err = s.verifySignup(w, r, f.Get("code")); err == nil {
			target := "/consoles"
			if res.Next != session.StepDone {
				target = "/login"
			}
			http.Redirect(w, r, target, http.StatusSeeOther)
			return
		}
		if cur, _ := s.loadSession(r); cur != nil {
			page.Email = cur.sess.Email
		}
	default:
		if err = s.startSignup(w, r, f.Get("email"), f.Get("password")); err == nil {
			http.Redirect(w, r, "/signup", http.StatusSeeOther)
			return
		}
	}
	ae := describe(err)
	if ae.Status >= 500 {
		s.errorPage(w, r, err)
		return
	}
	page.Error = ae.Message
	s.render(w, r, ae.Status, "signup", page)
}
