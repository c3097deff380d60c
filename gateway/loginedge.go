package gateway

import (
	"context"
	"errors"
	"net/http"
	"net/netip"

	"unigate/account"
	"unigate/login"
	"unigate/session"
)

// The edge of the login state machine (package login): it builds the
// machine over the gateway's stores, hands each step the login in progress
// of the request, and turns the step's result into cookies, a rotated
// session and the way on. The steps themselves decide nothing here.

// newLogin builds the login machine (after the consoles are known).
func (s *Server) newLogin() *login.Machine {
	cfg := s.cfg.Login
	lc := login.Config{
		MaxFailures:       cfg.MaxFailures,
		IPMaxFailures:     cfg.IPMaxFailures,
		Lockout:           cfg.Lockout,
		EmailCodeTTL:      cfg.EmailCodeTTL,
		PasswordMinLength: cfg.PasswordMinLength,
		RequireMFA:        cfg.RequireMFA,
		BcryptCost:        cfg.ImportedBcryptCost,
		SessionLifetime:   s.cfg.Session.AbsoluteTimeout,
		PortalLoginURL:    s.loginURL(""),
		SSOProviders:      map[string]bool{},
	}
	lc.MaxConsecutiveFailures = cfg.MaxConsecutiveFailures
	for _, c := range s.consoleList {
		lc.Consoles = append(lc.Consoles, login.Console{ID: c.id, ViaEndpoint: c.provisioning.URL != ""})
	}
	for name, p := range s.ssoProviders {
		lc.SSOProviders[name] = p != nil
	}
	return login.New(login.Deps{
		Config:   lc,
		Accounts: s.accounts,
		Factors:  s.accounts,
		Signups:  s.accounts,
		Hasher:   s.hasher,
		Sealer:   s.sealer,
		Passkeys: s.webauthn,
		Sessions: loginSessions{s},
		Counters: s.sessions,
		Mailer:   s.mailer,
		Events:   loginEvents{s},
		Clock:    s.now,
		CodeKey:  s.codeKey,
		Recovery: s.accounts,
		// Derived from the session key like the email codes' key; the sets
		// made under a rotated-out one keep working through its key.
		RecoveryKey:          deriveKey(s.cfg.SessionKey(), recoveryKeyInfo),
		PreviousRecoveryKeys: previousRecoveryKeys(s.cfg.PreviousSessionKeys()),
	})
}

// loginSessions stores the logins in progress, with the edge's errors
// (a revoked session, the store down: 503, ASVS V16.5.2).
type loginSessions struct{ s *Server }

func (a loginSessions) Create(ctx context.Context, sess *session.Session) (string, error) {
	token, err := a.s.sessions.Create(ctx, sess, a.s.cfg.Session.IdleTimeout)
	if err != nil {
		a.s.metrics.storeErrors.WithLabelValues("create").Inc()
		return "", storeDown(err)
	}
	return token, nil
}

func (a loginSessions) Save(ctx context.Context, sess *session.Session) error {
	return a.s.saveSession(ctx, sess)
}

func (a loginSessions) Delete(ctx context.Context, handle string) error {
	if err := a.s.sessions.Delete(ctx, handle); err != nil {
		a.s.metrics.storeErrors.WithLabelValues("delete").Inc()
		return storeDown(err)
	}
	return nil
}

func (a loginSessions) RevokeAccount(ctx context.Context, accountID, keepHandle string) (int, error) {
	n, err := a.s.sessions.DeleteAccount(ctx, accountID, keepHandle)
	if err != nil {
		a.s.metrics.storeErrors.WithLabelValues("delete").Inc()
		return 0, storeDown(err)
	}
	return n, nil
}

// loginEvents writes what the machine reports to the audit trail and the metrics.
type loginEvents struct{ s *Server }

func (e loginEvents) Audit(ctx context.Context, ip netip.Addr, kind, accountID string, details map[string]string) {
	e.s.Audit(ctx, account.AuditEvent{Kind: kind, AccountID: accountID, IP: ip.String(), Details: details})
}

func (e loginEvents) Attempt(method, outcome string) {
	e.s.metrics.loginAttempts.WithLabelValues(method, outcome).Inc()
}

func (e loginEvents) StoreFailed(op string) { e.s.metrics.storeErrors.WithLabelValues(op).Inc() }

func (e loginEvents) Warn(ctx context.Context, msg, accountID string, err error) {
	e.s.logger.With("request_id", requestID(ctx)).Warn(msg, "account_id", accountID, "err", err)
}

// loginOf is the login in progress of r: its session (nil for none), the
// client, and the console whose legacy login page it is on.
func (s *Server) loginOf(r *http.Request, sess *session.Session) *login.Login {
	l := &login.Login{Session: sess, Client: s.clientIP(r)}
	legacy := s.legacyConsole(r)
	if sess != nil {
		legacy = s.onLegacyHost(sess)
	}
	if legacy != nil {
		l.LegacyConsole = legacy.id
	}
	return l
}

// currentLogin loads r's session as a login for a step (no session: a
// login with none, which the step refuses as it must).
func (s *Server) currentLogin(r *http.Request) (*login.Login, error) {
	cur, err := s.loadSession(r)
	if err != nil {
		return nil, err
	}
	var sess *session.Session
	if cur != nil {
		sess = cur.sess
	}
	return s.loginOf(r, sess), nil
}

// openingLogin is the login of a request that opens a new one (identify,
// sign-up, SSO): Session is the session it replaces, and the legacy page is
// the one of the request's host, whatever host the old session began on.
func (s *Server) openingLogin(r *http.Request) (*login.Login, error) {
	l, err := s.currentLogin(r)
	if err != nil {
		return nil, err
	}
	l.LegacyConsole = ""
	if c := s.legacyConsole(r); c != nil {
		l.LegacyConsole = c.id
	}
	return l, nil
}

// opening is what r says of a login or sign-up it opens.
func (s *Server) opening(r *http.Request, rawReturnTo string) login.Opening {
	o := login.Opening{Host: hostOnly(r.Host), UserAgent: r.UserAgent()}
	if rt, ok := s.parseReturnTo(rawReturnTo); ok {
		o.ReturnTo = rt.URL
	}
	return o
}

// stepResult is the answer of every factor: {"next": STEP, …} (CONTRACT §5).
type stepResult struct {
	Next       string       `json:"next,omitempty"` // "" only for an enrollment outside a login
	Methods    []string     `json:"methods,omitempty"`
	MFAMethods []string     `json:"mfa_methods,omitempty"`
	Consoles   []consoleRef `json:"consoles,omitempty"`
	Redirect   string       `json:"redirect,omitempty"`

	// RecoveryCodes: the set the first second factor handed out (CONTRACT §10), shown once.
	RecoveryCodes []string `json:"recovery_codes,omitempty"`
}

type consoleRef struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

func (s *Server) consoleRefs() []consoleRef {
	refs := make([]consoleRef, 0, len(s.consoleList))
	for _, c := range s.consoleList {
		refs = append(refs, consoleRef{ID: c.id, Name: c.name})
	}
	return refs
}

// afterStep does what a step's result asks of the edge: the cookie of a
// session it opened, the provisioning it queued, and, once the login is
// complete, completeLogin. A refused legacy login ends the session.
func (s *Server) afterStep(w http.ResponseWriter, r *http.Request, l *login.Login, res *login.Result, err error) (*stepResult, error) {
	if err != nil {
		var refused *login.LegacyLoginRefused
		if errors.As(err, &refused) {
			if err := s.endSession(w, r, &current{sess: l.Session}); err != nil {
				return nil, err
			}
		}
		return nil, err
	}
	if res.Token != "" {
		if err := s.setSessionCookie(w, r, res.Token); err != nil {
			return nil, err
		}
	}
	if res.Provisioning {
		s.pokeProvisioning()
	}
	out := &stepResult{Next: res.Next, Methods: res.Methods, MFAMethods: res.MFAMethods, RecoveryCodes: l.RecoveryCodes}
	if !res.Complete {
		return out, nil
	}
	return s.completeLogin(w, r, l, out)
}

// completeLogin stores the complete login under a new token (ASVS V7.2.4:
// a pre-login id can never be fixed on a victim) and says where to go:
// the legacy console's own host, or the return_to, where a console target
// ENTERS THE CONSOLE (enterConsoleAfterLogin: it may create the console
// account or queue its provisioning).
func (s *Server) completeLogin(w http.ResponseWriter, r *http.Request, l *login.Login, out *stepResult) (*stepResult, error) {
	cur, err := s.rotate(w, r, l.Session, errNoLogin)
	if err != nil {
		return nil, err
	}
	s.login.Finished(r.Context(), l)
	s.metrics.sessionsCreated.Inc()
	out.Consoles = s.consoleRefs()
	if l.LegacyConsole != "" {
		out.Redirect = s.siteURL(l.Session.LoginHost) + "/"
		return out, nil
	}
	out.Redirect = s.enterConsoleAfterLogin(r, cur)
	return out, nil
}

// enterConsoleAfterLogin follows the return_to of a login just completed:
// a console's URL enters that console with this session (creating its
// account there, or queueing its provisioning, when it has none yet).
func (s *Server) enterConsoleAfterLogin(r *http.Request, cur *current) string {
	if rt, ok := s.parseReturnTo(cur.sess.ReturnTo); ok && cur.sess.ReturnTo != "" {
		return s.redirectAfterLogin(r, cur, rt, true)
	}
	return ""
}

// rotate moves sess to a new token and gives this host its cookie;
// notFound is the answer when the session is gone meanwhile.
func (s *Server) rotate(w http.ResponseWriter, r *http.Request, sess *session.Session, notFound error) (*current, error) {
	token, err := s.sessions.Rotate(r.Context(), sess, s.cfg.Session.IdleTimeout)
	if err != nil {
		if errors.Is(err, session.ErrNotFound) {
			return nil, notFound
		}
		s.metrics.storeErrors.WithLabelValues("rotate").Inc()
		return nil, storeDown(err)
	}
	if err := s.setSessionCookie(w, r, token); err != nil {
		return nil, err
	}
	return &current{sess: sess, token: token}, nil
}

// loginStep is a login step that takes one string of the request.
type loginStep func(ctx context.Context, l *login.Login, value string) (*login.Result, error)

// needLoginInProgress is the route of a login step that takes one string
// field of the JSON body ({"password"} or {"code"}): the body is read, the
// login in progress loaded, the step run, and {"next", …} answered. The
// step refuses a request without a login in progress (no_login) or at
// another step (wrong_step).
func (s *Server) needLoginInProgress(field string, step loginStep) jsonHandler {
	return func(w http.ResponseWriter, r *http.Request) error {
		var req map[string]any
		if err := decodeJSON(w, r, &req); err != nil {
			return err
		}
		value, _ := req[field].(string)
		out, err := s.runStep(w, r, value, step)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, out)
		return nil
	}
}

// runStep loads the login in progress of r, runs step with value and does
// what its result asks (afterStep). The API and the pages both call it.
func (s *Server) runStep(w http.ResponseWriter, r *http.Request, value string, step loginStep) (*stepResult, error) {
	l, err := s.currentLogin(r)
	if err != nil {
		return nil, err
	}
	res, err := step(r.Context(), l, value)
	return s.afterStep(w, r, l, res, err)
}

// apiReset is POST /login/reset (CONTRACT §10): 202 whatever the address.
func (s *Server) apiReset(w http.ResponseWriter, r *http.Request) error {
	if err := decodeJSON(w, r, &struct{}{}); err != nil {
		return err
	}
	if err := s.startReset(r); err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, map[string]bool{"sent": true})
	return nil
}

// startReset mails a reset code to the login's address if it has an
// account (login.StartReset); the API and the page both call it.
func (s *Server) startReset(r *http.Request) error {
	l, err := s.currentLogin(r)
	if err != nil {
		return err
	}
	return s.login.StartReset(r.Context(), l)
}

// resetSentNotice is what the page says once a reset was asked for.
const resetSentNotice = "If this address has an account, a reset code is on its way. Your second factor will still be asked for."

// recoveryKeyInfo names the key of the recovery codes' hashes (HKDF info).
const recoveryKeyInfo = "unigate recovery code v1"

// previousRecoveryKeys are the recovery-code keys of rotated-out session keys.
func previousRecoveryKeys(sessionKeys [][]byte) [][]byte {
	out := make([][]byte, 0, len(sessionKeys))
	for _, k := range sessionKeys {
		out = append(out, deriveKey(k, recoveryKeyInfo))
	}
	return out
}
