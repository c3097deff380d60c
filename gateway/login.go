package gateway

import (
	"errors"
	"net/http"
	"slices"
	"time"

	"unigate/accounts"
	"unigate/session"
)

// preLoginLifetime bounds a login in progress: identify, then the factors,
// must be done within it (the email code TTL fits inside).
const preLoginLifetime = 20 * time.Minute

// recentProof is how long a login or re-authentication counts as a fresh
// proof for sensitive settings (CONTRACT §5, ASVS V7.5.1).
const recentProof = 5 * time.Minute

// stepResult is the answer of every factor: {"next": STEP, …} (CONTRACT §5).
type stepResult struct {
	Next       string       `json:"next"`
	Methods    []string     `json:"methods,omitempty"`
	MFAMethods []string     `json:"mfa_methods,omitempty"`
	Consoles   []consoleRef `json:"consoles,omitempty"`
	Redirect   string       `json:"redirect,omitempty"`
}

type consoleRef struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

var (
	errInvalidEmail       = fail("invalid_email")
	errNoLogin            = fail("no_login")
	errWrongStep          = fail("wrong_step")
	errInvalidCredentials = fail("invalid_credentials")
	errWeakPassword       = fail("weak_password")
)

// startLogin is POST /login/identify: it opens a login (a pre-auth session)
// for an email and says which first factors it offers. An unknown email gets
// exactly the answer of a plain password account (ASVS V6.3.8).
func (s *Server) startLogin(w http.ResponseWriter, r *http.Request, rawEmail, rawReturnTo string) ([]string, error) {
	email, err := accounts.NormalizeEmail(rawEmail)
	if err != nil {
		return nil, errInvalidEmail
	}
	if err := (&limiter{s}).identify(r); err != nil {
		return nil, err
	}
	// A new login replaces whatever this browser had on this host: the old
	// session (complete or not) is ended, never reused (anti-fixation, V7.2.4).
	if err := s.replaceSession(r); err != nil {
		return nil, err
	}
	acct, err := s.accounts.AccountByEmail(r.Context(), email)
	if err != nil && !errors.Is(err, accounts.ErrNotFound) {
		return nil, internal(err)
	}
	methods, err := s.firstFactors(r, acct)
	if err != nil {
		return nil, err
	}
	if s.legacyConsole(r) != nil {
		methods = withoutPasskey(methods)
	}
	sess := s.preAuthSession(r, email, session.StepFirstFactor, s.now(), preLoginLifetime)
	if rt, ok := s.parseReturnTo(rawReturnTo); ok {
		sess.ReturnTo = rt.URL
	}
	token, err := s.sessions.Create(r.Context(), sess, s.cfg.Session.IdleTimeout)
	if err != nil {
		s.metrics.storeErrors.WithLabelValues("create").Inc()
		return nil, storeDown(err)
	}
	if err := s.setSessionCookie(w, r, token); err != nil {
		return nil, err
	}
	return methods, nil
}

// firstFactors lists the first factors an account offers; nil (unknown)
// looks like a password account (CONTRACT §5).
func (s *Server) firstFactors(r *http.Request, acct *accounts.Account) ([]string, error) {
	// A passkey is offered to every password account and to unknown emails
	// alike: its options are the same for all (a discoverable credential),
	// so the answer does not tell which accounts hold one (ASVS V6.3.8).
	methods := []string{"password", "passkey"}
	if acct != nil && emailCodeAllowed(acct) {
		// Accounts the unification flagged (password and MFA erased) sign in by email code.
		methods = []string{"email_code"}
	}
	if acct != nil {
		ids, err := s.accounts.SSOIdentities(r.Context(), acct.ID)
		if err != nil {
			return nil, internal(err)
		}
		for _, id := range ids {
			if s.ssoProviders[id.Provider] != nil {
				methods = append(methods, "sso:"+id.Provider)
			}
		}
	}
	return methods, nil
}

// loginInProgress returns the pre-auth session waiting for step.
func (s *Server) loginInProgress(r *http.Request, step string) (*current, error) {
	cur, err := s.loadSession(r)
	if err != nil {
		return nil, err
	}
	if cur == nil || cur.sess.Complete() || cur.sess.Email == "" {
		return nil, errNoLogin
	}
	if cur.sess.Next != step {
		return nil, errWrongStep
	}
	return cur, nil
}

// loginPassword is POST /login/password.
func (s *Server) loginPassword(w http.ResponseWriter, r *http.Request, password string) (*stepResult, error) {
	cur, err := s.loginInProgress(r, session.StepFirstFactor)
	if err != nil {
		return nil, err
	}
	att, err := (&limiter{s}).begin(r, cur.sess.Email, "password")
	if err != nil {
		return nil, err
	}
	acct, err := s.accounts.AccountByEmail(r.Context(), cur.sess.Email)
	if err != nil && !errors.Is(err, accounts.ErrNotFound) {
		return nil, internal(err)
	}
	ok, rehash, err := s.verifyPassword(r, acct, password)
	if err != nil && r.Context().Err() != nil {
		return nil, internal(err)
	}
	if !ok {
		s.metrics.loginAttempts.WithLabelValues("password", "failure").Inc()
		id := ""
		if acct != nil {
			id = acct.ID
		}
		s.audit(r, "login.failure", id, map[string]string{"method": "password"})
		return nil, errInvalidCredentials
	}
	att.success(r)
	s.metrics.loginAttempts.WithLabelValues("password", "success").Inc()
	if rehash {
		// Imported bcrypt or older parameters: move to our argon2id now that we know the password.
		if h, err := s.hasher.Hash(r.Context(), password); err == nil {
			if err := s.accounts.SetPasswordHash(r.Context(), acct.ID, h); err != nil {
				s.log(r).Warn("password rehash not stored", "account_id", acct.ID, "err", err)
			}
		}
	}
	cur.sess.AccountID = acct.ID
	cur.sess.Factors = append(cur.sess.Factors, "password")
	return s.advance(w, r, cur, acct)
}

// verifyPassword checks password against the account's hash, or does the
// same work against a dummy hash when there is no account or no password,
// so that the answer's timing says nothing about the account (ASVS V6.3.8).
func (s *Server) verifyPassword(r *http.Request, acct *accounts.Account, password string) (ok, rehash bool, err error) {
	if acct != nil && acct.PasswordHash != "" {
		return s.hasher.Verify(r.Context(), acct.PasswordHash, password)
	}
	return false, false, s.hasher.VerifyDummy(r.Context(), password)
}

// loginSetPassword is POST /login/password/set, when the login says set_password.
func (s *Server) loginSetPassword(w http.ResponseWriter, r *http.Request, password string) (*stepResult, error) {
	cur, err := s.loginInProgress(r, session.StepSetPassword)
	if err != nil {
		return nil, err
	}
	if err := s.checkPasswordPolicy(password); err != nil {
		return nil, err
	}
	h, err := s.hasher.Hash(r.Context(), password)
	if err != nil {
		return nil, internal(err)
	}
	if err := s.accounts.SetPasswordHash(r.Context(), cur.sess.AccountID, h); err != nil {
		return nil, internal(err)
	}
	s.audit(r, "password.set", cur.sess.AccountID, nil)
	acct, err := s.accounts.AccountByID(r.Context(), cur.sess.AccountID)
	if err != nil {
		return nil, internal(err)
	}
	return s.advance(w, r, cur, acct)
}

// checkPasswordPolicy: at least password_min_length characters, at most 256
// bytes, never truncated, not a common password, no composition rules
// (800-63B §3.1.1.2, ASVS V6.2).
func (s *Server) checkPasswordPolicy(pw string) error {
	if err := accounts.CheckPassword(pw, s.cfg.Login.PasswordMinLength); err != nil {
		return &failure{Code: "weak_password", Err: err, Args: []any{s.cfg.Login.PasswordMinLength}}
	}
	return nil
}

// advance decides the step after a factor and, when nothing is left, completes the login.
func (s *Server) advance(w http.ResponseWriter, r *http.Request, cur *current, acct *accounts.Account) (*stepResult, error) {
	m, err := s.mfaOf(r, acct.ID)
	if err != nil {
		return nil, err
	}
	next := s.nextStep(cur.sess, acct, m)
	if next != session.StepDone {
		cur.sess.Next = next
		cur.sess.AccountID = acct.ID
		if err := s.saveSession(r.Context(), cur.sess); err != nil {
			return nil, err
		}
		res := &stepResult{Next: next}
		if next == session.StepMFA {
			res.MFAMethods = m.methods()
			if s.onLegacyHost(cur.sess) != nil {
				res.MFAMethods = withoutPasskey(res.MFAMethods)
			}
		}
		return res, nil
	}
	return s.completeLogin(w, r, cur, acct)
}

// nextStep is the login state machine: what the account still owes after
// the factors proven so far. The second factor comes first, then a password
// to set (accounts whose password the unification erased), then enrollment
// (accounts that must have MFA and have none).
func (s *Server) nextStep(sess *session.Session, acct *accounts.Account, m mfaState) string {
	mfaDone := sess.MFA == "totp" || sess.MFA == "passkey"
	switch {
	case m.any() && !mfaDone:
		return session.StepMFA
	case acct.PasswordSetRequired:
		return session.StepSetPassword
	case !m.any() && (acct.MFAEnrollRequired || s.cfg.Login.RequireMFA):
		return session.StepEnrollMFA
	}
	return session.StepDone
}

// completeLogin turns the pre-auth session into a complete one under a new
// token (ASVS V7.2.4: a pre-login id can never be fixed on a victim).
func (s *Server) completeLogin(w http.ResponseWriter, r *http.Request, cur *current, acct *accounts.Account) (*stepResult, error) {
	now := s.now()
	sess := cur.sess
	legacy := s.onLegacyHost(sess)
	if legacy != nil {
		cas, err := s.accounts.ConsoleAccounts(r.Context(), acct.ID)
		if err != nil {
			return nil, internal(err)
		}
		ca, ok := legacyAllowed(cas, legacy)
		if !ok {
			// Fully authenticated, but not one of the accounts that may use this
			// page: no session, and the way to the account portal (CONTRACT §4).
			if err := s.endSession(w, r, cur); err != nil {
				return nil, err
			}
			s.audit(r, "legacy_login.refused", acct.ID, map[string]string{"console": legacy.id})
			return nil, &failure{Code: "legacy_login_not_allowed", Extra: map[string]any{"login_url": s.loginURL("")}}
		}
		sess.Consoles = map[string]session.ConsoleSelection{legacy.id: {AccountID: ca.ExternalID, Prelinked: true}}
		sess.ActiveConsole = legacy.id
	}
	sess.Next = session.StepDone
	sess.AccountID = acct.ID
	sess.Email = acct.Email
	if sess.MFA == "" {
		sess.MFA = "none"
	}
	sess.AuthTime = now
	sess.CreatedAt = now
	sess.LastSeenAt = now
	sess.ExpiresAt = now.Add(s.cfg.Session.AbsoluteTimeout)
	token, err := s.sessions.Rotate(r.Context(), sess, s.cfg.Session.IdleTimeout)
	if err != nil {
		if errors.Is(err, session.ErrNotFound) {
			return nil, errNoLogin
		}
		s.metrics.storeErrors.WithLabelValues("rotate").Inc()
		return nil, storeDown(err)
	}
	cur.token = token
	if err := s.setSessionCookie(w, r, token); err != nil {
		return nil, err
	}
	s.clearFailures(r, sess.Email)
	s.metrics.sessionsCreated.Inc()
	s.audit(r, "login.success", acct.ID, map[string]string{"factors": joinFactors(sess.Factors)})

	res := &stepResult{Next: session.StepDone, Consoles: s.consoleRefs()}
	if legacy != nil {
		res.Redirect = s.siteURL(sess.LoginHost) + "/"
		return res, nil
	}
	if sess.ReturnTo != "" {
		if rt, ok := s.parseReturnTo(sess.ReturnTo); ok {
			res.Redirect = s.redirectAfterLogin(r, cur, rt, true)
		}
	}
	return res, nil
}

func joinFactors(f []string) string {
	out := ""
	for i, v := range slices.Compact(slices.Clone(f)) {
		if i > 0 {
			out += ","
		}
		out += v
	}
	return out
}

func (s *Server) consoleRefs() []consoleRef {
	refs := make([]consoleRef, 0, len(s.consoleList))
	for _, c := range s.consoleList {
		refs = append(refs, consoleRef{ID: c.id, Name: c.name})
	}
	return refs
}

// loginState is GET /login/state.
func (s *Server) loginState(r *http.Request) (*stepResult, error) {
	cur, err := s.loadSession(r)
	if err != nil {
		return nil, err
	}
	if cur == nil || cur.sess.Complete() || cur.sess.Email == "" {
		return nil, fail("no_login")
	}
	return s.loginStateOf(r, cur)
}

// loginStateOf is loginState for a login in progress already loaded.
func (s *Server) loginStateOf(r *http.Request, cur *current) (*stepResult, error) {
	res := &stepResult{Next: cur.sess.Next}
	if cur.sess.Next == session.StepFirstFactor {
		acct, err := s.accounts.AccountByEmail(r.Context(), cur.sess.Email)
		if err != nil && !errors.Is(err, accounts.ErrNotFound) {
			return nil, internal(err)
		}
		if res.Methods, err = s.firstFactors(r, acct); err != nil {
			return nil, err
		}
	}
	if cur.sess.Next == session.StepMFA {
		m, err := s.mfaOf(r, cur.sess.AccountID)
		if err != nil {
			return nil, err
		}
		res.MFAMethods = m.methods()
	}
	if s.onLegacyHost(cur.sess) != nil {
		// Passkeys belong to the account host's RP ID: not offered here.
		res.Methods, res.MFAMethods = withoutPasskey(res.Methods), withoutPasskey(res.MFAMethods)
	}
	return res, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
