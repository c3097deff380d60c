package gateway

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"unigate/login"
	"unigate/session"
)

// The portal pages are plain forms posted to the server, so that every step
// works without JavaScript; they share the login state machine with the JSON API.

type loginPage struct {
	Base       string // "" on the account host, "/.auth" on a legacy console host
	Legacy     string // the console's name on its legacy login page
	PortalURL  string
	Step       string // "identify", "password", "email_code", "reset", "mfa", "set_password", "enroll_mfa"
	Email      string
	ReturnTo   string
	Error      string
	Notice     string
	MinLen     int
	Methods    []string // first factors offered (password step)
	MFAMethods []string // second factors offered (mfa step)
	Providers  []string // identity providers configured, for the buttons
	CodeSent   bool     // an email code was sent in this login
	TOTP       *totpEnrollView
	// RecoveryCodes: the set the first second factor handed out, shown once
	// (step "recovery_codes"), then Continue goes on.
	RecoveryCodes []string
	Continue      string
}

// Has reports whether list holds v (for the templates).
func (p loginPage) Has(list []string, v string) bool { return slices.Contains(list, v) }

type consolesPage struct {
	Orgs      []orgView // organizations the account belongs to, to pick one on entry
	Email     string
	Consoles  []consoleView
	Active    string
	ChooseFor string // console id whose account must be chosen
	ReturnTo  string
	Error     string
}

type errorPageData struct {
	Status  int
	Message string
	Home    string
}

// render writes page name in the language of the request (locale.go).
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name string, data any) {
	locale := s.requestLocale(w, r)
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Language", locale)
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if err := s.pages.Render(w, s.pageFrame(r, name, locale), name, data); err != nil {
		s.log(r).Error("page render failed", "page", name, "err", err)
	}
}

// errorPage renders err as the error page, with the status and message its
// code has for the JSON API too.
func (s *Server) errorPage(w http.ResponseWriter, r *http.Request, err error) {
	p := describe(err)
	s.logProblem(r, p)
	writeRetryAfter(w, p.RetryAfter)
	s.render(w, r, p.Status, "error", errorPageData{Status: p.Status, Message: p.Message, Home: s.public.Scheme + "://" + s.public.Host + "/consoles"})
}

func (s *Server) pageHome(w http.ResponseWriter, r *http.Request) {
	cur, err := s.loadSession(r)
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	if cur != nil && cur.sess.Complete() {
		http.Redirect(w, r, "/consoles", http.StatusFound)
		return
	}
	http.Redirect(w, r, "/login", http.StatusFound)
}

// pageLogin shows the step the login in progress is waiting for.
func (s *Server) pageLogin(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	returnTo := ""
	if rt, ok := s.parseReturnTo(q.Get("return_to")); ok {
		returnTo = rt.URL
	}
	cur, err := s.loadSession(r)
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	page := s.newLoginPage(r)
	page.ReturnTo = returnTo
	if msg := loginErrorMessage(q.Get("error")); msg != "" {
		page.Error = msg
	}
	if q.Get("sent") != "" {
		page.Notice = "If this address has an account, a code is on its way. It is valid for a few minutes."
	}
	switch {
	case cur != nil && cur.sess.Complete() && q.Get("restart") == "":
		target := "/consoles"
		if page.Base != "" {
			target = "/" // already signed in on this console's own host
		} else if rt, ok := s.parseReturnTo(returnTo); ok {
			target = s.redirectAfterLogin(r, cur, rt, false)
		}
		http.Redirect(w, r, target, http.StatusFound)
		return
	case cur != nil && !cur.sess.Complete() && cur.sess.Email != "" && q.Get("restart") == "":
		if err := s.fillLoginPage(r, cur, &page); err != nil {
			s.errorPage(w, r, err)
			return
		}
		if q.Get("reset") != "" && page.Step == "password" {
			page.Step, page.Notice = "reset", resetSentNotice
		}
	}
	s.render(w, r, http.StatusOK, "login", page)
}

// newLoginPage is the page's frame: on a legacy console host, its forms post
// to /.auth/login there.
func (s *Server) newLoginPage(r *http.Request) loginPage {
	page := loginPage{Step: "identify", MinLen: s.cfg.Login.PasswordMinLength, PortalURL: s.loginURL("")}
	if c := s.legacyConsole(r); c != nil {
		page.Base, page.Legacy = "/.auth", c.name
	} else {
		page.Providers = s.configuredProviders()
	}
	return page
}

// fillLoginPage prepares the page of the step the login waits for.
func (s *Server) fillLoginPage(r *http.Request, cur *current, page *loginPage) error {
	page.Email = cur.sess.Email
	page.Step = pageStep(cur.sess.Next)
	if page.ReturnTo == "" {
		page.ReturnTo = cur.sess.ReturnTo
	}
	page.CodeSent = len(cur.sess.EmailCode) > 0
	state, err := s.login.State(r.Context(), s.loginOf(r, cur.sess))
	if err != nil {
		return err
	}
	page.Methods, page.MFAMethods = state.Methods, state.MFAMethods
	if page.Step == "password" && !slices.Contains(page.Methods, "password") && slices.Contains(page.Methods, "email_code") {
		page.Step = "email_code"
	}
	if page.Step == "enroll_mfa" {
		v, err := s.pendingTOTPView(r, cur.sess)
		if err != nil {
			return err
		}
		page.TOTP = v
	}
	return nil
}

func pageStep(next string) string {
	switch next {
	case session.StepFirstFactor:
		return "password"
	case session.StepSetPassword:
		return "set_password"
	case session.StepEnrollMFA:
		return "enroll_mfa"
	case session.StepMFA:
		return "mfa"
	}
	return "identify"
}

func loginErrorMessage(code string) string {
	switch code {
	case "":
		return ""
	case "session_expired":
		return "Your session has ended. Please sign in again."
	}
	if msg := ssoMessage(code); msg != "" {
		return msg
	}
	return "Sign-in could not be completed. Please try again."
}

var errInvalidForm = fail("invalid_form")

// readForm parses a page's form, bounded like a JSON body.
func readForm(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, maxJSONBody)
	if err := r.ParseForm(); err != nil {
		return errInvalidForm
	}
	return nil
}

// parseForm is readForm for a page handler: false once the error page is written.
func (s *Server) parseForm(w http.ResponseWriter, r *http.Request) bool {
	if err := readForm(w, r); err != nil {
		s.errorPage(w, r, errInvalidForm)
		return false
	}
	return true
}

// pageLoginSubmit handles every step's form.
func (s *Server) pageLoginSubmit(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	f := r.PostForm
	page := s.newLoginPage(r)
	page.Email, page.ReturnTo = f.Get("email"), f.Get("return_to")
	loginPath := page.Base + "/login"
	var (
		res *stepResult
		err error
	)
	// Each form calls the login step the JSON API calls (runStep).
	switch f.Get("step") {
	case "identify":
		page.Step = "identify"
		if _, err = s.identify(w, r, identifyRequest{Email: f.Get("email"), ReturnTo: f.Get("return_to")}); err == nil {
			http.Redirect(w, r, loginPath, http.StatusSeeOther)
			return
		}
	case "password":
		page.Step = "password"
		res, err = s.runStep(w, r, f.Get("password"), s.login.Password)
	case "set_password":
		page.Step = "set_password"
		res, err = s.runStep(w, r, f.Get("password"), s.login.SetPassword)
	case "email_code_send":
		page.Step = "email_code"
		if err = s.sendEmailCode(r); err == nil {
			http.Redirect(w, r, loginPath+"?sent=1", http.StatusSeeOther)
			return
		}
	case "email_code":
		page.Step = "email_code"
		res, err = s.runStep(w, r, f.Get("code"), s.login.VerifyEmailCode)
	case "reset_send":
		page.Step = "reset"
		if err = s.startReset(r); err == nil {
			http.Redirect(w, r, loginPath+"?reset=1", http.StatusSeeOther)
			return
		}
	case "reset":
		page.Step = "reset"
		res, err = s.runStep(w, r, f.Get("code"), s.login.VerifyReset)
	case "totp":
		page.Step = "mfa"
		res, err = s.runStep(w, r, f.Get("code"), s.login.TOTP)
	case "recovery_code":
		page.Step = "mfa"
		res, err = s.runStep(w, r, f.Get("code"), s.login.RecoveryCode)
	case "totp_confirm":
		page.Step = "enroll_mfa"
		res, err = s.confirmTOTP(w, r, f.Get("code"))
	default:
		err = login.ErrWrongStep
	}
	if err != nil {
		ae := describe(err)
		if ae.Status >= 500 {
			s.errorPage(w, r, err)
			return
		}
		if errors.Is(err, login.ErrNoLogin) || errors.Is(err, login.ErrWrongStep) {
			http.Redirect(w, r, loginPath, http.StatusSeeOther)
			return
		}
		if ae.Code == "legacy_login_not_allowed" {
			page.Step = "identify"
		}
		if cur, _ := s.loadSession(r); cur != nil && cur.sess.Email != "" && !cur.sess.Complete() {
			step := page.Step
			if err := s.fillLoginPage(r, cur, &page); err != nil {
				s.errorPage(w, r, err)
				return
			}
			if step == "email_code" || step == "reset" {
				page.Step = step
			}
		}
		page.Error = ae.Message
		if ae.RetryAfter > 0 {
			writeRetryAfter(w, ae.RetryAfter)
		}
		s.render(w, r, ae.Status, "login", page)
		return
	}
	target := loginPath
	if res != nil && res.Next == session.StepDone {
		target = res.Redirect
		if target == "" {
			target = "/consoles"
			if page.Base != "" {
				target = "/"
			}
		}
	}
	if res != nil && len(res.RecoveryCodes) > 0 {
		// Shown once, before going on (CONTRACT §10). A console's handoff
		// link would die while the codes are copied: the chooser instead.
		if !strings.HasPrefix(target, "/") || strings.HasPrefix(target, "//") {
			target = "/consoles"
		}
		page.Step, page.RecoveryCodes, page.Continue = "recovery_codes", res.RecoveryCodes, target
		s.render(w, r, http.StatusOK, "login", page)
		return
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

func (s *Server) pageConsoles(w http.ResponseWriter, r *http.Request) {
	cur, err := s.loadSession(r)
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	if cur == nil || !cur.sess.Complete() {
		http.Redirect(w, r, "/login?return_to="+url.QueryEscape(r.URL.RequestURI()), http.StatusFound)
		return
	}
	s.renderConsoles(w, r, cur, http.StatusOK, r.URL.Query().Get("console"), r.URL.Query().Get("return_to"), "")
}

func (s *Server) renderConsoles(w http.ResponseWriter, r *http.Request, cur *current, status int, chooseFor, returnTo, msg string) {
	v, err := s.listConsoles(r, cur)
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	if s.consoles[chooseFor] == nil {
		chooseFor = ""
	}
	if rt, ok := s.parseReturnTo(returnTo); ok {
		returnTo = rt.URL
	} else {
		returnTo = ""
	}
	orgs, err := s.orgViews(r, cur.sess.AccountID)
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	s.render(w, r, status, "consoles", consolesPage{Email: cur.sess.Email, Consoles: v.Consoles, Active: v.Active,
		ChooseFor: chooseFor, ReturnTo: returnTo, Error: msg, Orgs: orgs})
}

// pageEnter is the chooser's form: enter a console with the chosen account.
func (s *Server) pageEnter(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	cur, err := s.requireComplete(r)
	if err != nil {
		if errors.Is(err, errUnauthenticated) {
			http.Redirect(w, r, "/login", http.StatusSeeOther)
			return
		}
		s.errorPage(w, r, err)
		return
	}
	c := s.consoles[r.PathValue("id")]
	if c == nil {
		s.errorPage(w, r, fail("unknown_console"))
		return
	}
	returnTo := r.PostForm.Get("return_to")
	path := "/"
	if rt, ok := s.parseReturnTo(returnTo); ok {
		if rc, p := s.consoleOf(rt); rc == c {
			path = p
		}
	}
	next, err := s.enterConsole(r, cur, c, enterRequest{AccountID: r.PostForm.Get("account_id"),
		OrganizationID: r.PostForm.Get("organization_id")}, path, true)
	if err != nil {
		ae := describe(err)
		if ae.Code == "account_required" {
			s.renderConsoles(w, r, cur, http.StatusConflict, c.id, returnTo, ae.Message)
			return
		}
		s.errorPage(w, r, err)
		return
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (s *Server) pageLogout(w http.ResponseWriter, r *http.Request) {
	cur, err := s.loadSession(r)
	if err == nil {
		err = s.endSession(w, r, cur)
	}
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}
