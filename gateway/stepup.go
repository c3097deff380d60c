package gateway

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"unigate/access"
	"unigate/config"
	"unigate/login"
)

// Step-up per console path (CONTRACT §11). Package access turns away a
// request under a step_up rule whose session's last proof is too old or of
// another method; the browser comes here, to GET /login/step-up on the
// account host, proves itself again (a password or TOTP form, or a passkey
// through /me/reauth/passkey/*) and is sent back to return_to: through a
// handoff when the console is on its own host, since the re-authentication
// moved the session to a new token and the console host's cookie holds the
// old one.

// stepUpRules is a console's step-up rules as package access reads them.
func stepUpRules(rules []config.StepUp) []access.StepUpRule {
	out := make([]access.StepUpRule, 0, len(rules))
	for _, r := range rules {
		out = append(out, access.StepUpRule{PathPrefix: r.PathPrefix, MaxAge: r.MaxAge, Methods: slices.Clone(r.Methods)})
	}
	return out
}

// stepUpRequired answers a console request that needs a fresher proof: a
// browser navigation goes to the step-up page, anything else gets 401
// step_up_required with the page's address. Nothing reaches the upstream.
func (s *Server) stepUpRequired(w http.ResponseWriter, r *http.Request, c *consoleSite, host, canonical string) {
	s.metrics.stepUpRequired.WithLabelValues(c.id).Inc()
	page := s.stepUpURL(s.originalURL(host, r, canonical))
	w.Header().Set("Cache-Control", "no-store")
	if wantsHTML(r) {
		http.Redirect(w, r, page, http.StatusFound)
		return
	}
	s.securityHeaders(w.Header())
	s.writeAPIError(w, r, &failure{Code: "step_up_required", Extra: map[string]any{"login_url": page}})
}

// stepUpURL is the step-up page, coming back to target.
func (s *Server) stepUpURL(target string) string {
	return s.public.Scheme + "://" + s.public.Host + "/login/step-up?return_to=" + url.QueryEscape(target)
}

// stepUpPage is the data of web/templates/stepup.html.
type stepUpPage struct {
	Email    string
	Console  string // the console's name
	ReturnTo string
	Error    string
	// The proofs offered: those the rule accepts that the account holds.
	Password, TOTP, Passkey bool
}

// stepUpTarget is what a return_to asks for: the console it belongs to
// (nil: a page of the portal), the path to land on there, and the rule that
// covers it (nil: none).
type stepUpTarget struct {
	rt      returnTarget
	console *consoleSite
	path    string
	rule    *access.StepUpRule
}

func (s *Server) stepUpTargetOf(raw string) (stepUpTarget, bool) {
	rt, ok := s.parseReturnTo(raw)
	if !ok {
		return stepUpTarget{}, false
	}
	t := stepUpTarget{rt: rt}
	t.console, t.path = s.consoleOf(rt)
	if t.console != nil {
		local := t.path
		if i := strings.IndexAny(local, "?#"); i >= 0 {
			local = local[:i]
		}
		if local == "" {
			local = "/"
		}
		// The rule of the path as the decision will see it: canonical.
		d, ok := access.CanonicalPath(http.MethodGet, local)
		if ok || d.Kind == access.Redirect {
			t.rule = t.console.access.StepUpFor(d.Path)
		}
	}
	return t, true
}

// pageStepUp is GET /login/step-up: the proofs the path's rule accepts, or
// straight back to return_to when the session's last proof already does
// (the passkey button reloads this page once its proof is recorded).
func (s *Server) pageStepUp(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	s.stepUp(w, r, r.URL.Query().Get("return_to"), nil)
}

// pageStepUpSubmit is POST /login/step-up: a password or a TOTP code, then
// back to return_to.
func (s *Server) pageStepUpSubmit(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if !s.parseForm(w, r) {
		return
	}
	password, code := r.PostForm.Get("password"), r.PostForm.Get("totp")
	s.stepUp(w, r, r.PostForm.Get("return_to"), func(cur *current) (*current, error) {
		var in login.ReauthInput
		switch {
		case password != "":
			in.Password = &password
		case code != "":
			in.TOTP = &code
		}
		if _, err := s.login.Reauth(r.Context(), s.loginOf(r, cur.sess), in); err != nil {
			return nil, err
		}
		return s.rotate(w, r, cur.sess, errUnauthenticated)
	})
}

// stepUp runs the page: prove (when the form sent a proof), then return or
// show the page again.
func (s *Server) stepUp(w http.ResponseWriter, r *http.Request, returnTo string, prove func(*current) (*current, error)) {
	t, ok := s.stepUpTargetOf(returnTo)
	if !ok {
		http.Redirect(w, r, "/consoles", http.StatusSeeOther)
		return
	}
	cur, err := s.loadSession(r)
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	if cur == nil || !cur.sess.Complete() {
		http.Redirect(w, r, s.loginURL(t.rt.URL), http.StatusSeeOther)
		return
	}
	msg, status := "", http.StatusOK
	if prove != nil {
		next, err := prove(cur)
		switch {
		case errors.Is(err, errUnauthenticated):
			http.Redirect(w, r, s.loginURL(t.rt.URL), http.StatusSeeOther)
			return
		case err != nil:
			p := describe(err)
			if p.Status >= 500 {
				s.errorPage(w, r, err)
				return
			}
			msg, status = p.Message, p.Status
		default:
			cur = next
			if t.rule != nil && !t.rule.SatisfiedBy(cur.sess, s.now()) {
				msg, status = stepUpNotEnough, http.StatusForbidden
			}
		}
	}
	if msg == "" && (t.rule == nil || t.rule.SatisfiedBy(cur.sess, s.now())) {
		s.returnFromStepUp(w, r, cur, t)
		return
	}
	page, err := s.stepUpOffers(r, cur, t)
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	page.Error = msg
	s.render(w, r, status, "stepup", page)
}

// stepUpNotEnough: the proof was right but is not one this page accepts
// (a password where only a second factor will do).
const stepUpNotEnough = "This page needs another way of confirming it is you."

// stepUpOffers lists the proofs the rule accepts that the account holds.
// With no methods listed: its second factors, or its password when it holds
// none (CONTRACT §11). A remembered device is never one.
func (s *Server) stepUpOffers(r *http.Request, cur *current, t stepUpTarget) (stepUpPage, error) {
	page := stepUpPage{Email: cur.sess.Email, ReturnTo: t.rt.URL}
	if t.console != nil {
		page.Console = t.console.name
	}
	acct, err := s.accounts.AccountByID(r.Context(), cur.sess.AccountID)
	if err != nil {
		return page, internal(err)
	}
	totp, passkeys, err := s.secondFactors(r, cur.sess.AccountID)
	if err != nil {
		return page, err
	}
	var methods []string
	if t.rule != nil {
		methods = t.rule.Methods
	}
	if len(methods) == 0 {
		methods = []string{"password"}
		if totp || passkeys > 0 {
			methods = []string{"totp", "passkey"}
		}
	}
	page.Password = slices.Contains(methods, "password") && acct.PasswordHash != ""
	page.TOTP = slices.Contains(methods, "totp") && totp
	page.Passkey = slices.Contains(methods, "passkey") && passkeys > 0
	return page, nil
}

// returnFromStepUp sends the browser back to its page: through the
// console's entry (a handoff to a console on its own host, whose cookie
// names the session's old token), keeping the account and organization
// the session had chosen there.
func (s *Server) returnFromStepUp(w http.ResponseWriter, r *http.Request, cur *current, t stepUpTarget) {
	if t.console == nil {
		http.Redirect(w, r, t.rt.URL, http.StatusSeeOther)
		return
	}
	if _, entered := cur.sess.Consoles[t.console.id]; !entered {
		http.Redirect(w, r, s.redirectAfterLogin(r, cur, t.rt, false), http.StatusSeeOther)
		return
	}
	next, err := s.consoleEntryURL(r, cur, t.console, t.path)
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// apiReauthPasskeyOptions is POST /me/reauth/passkey/options: the options
// for navigator.credentials.get over the account's own passkeys.
func (s *Server) apiReauthPasskeyOptions(w http.ResponseWriter, r *http.Request, cur *current) error {
	options, err := s.login.ReauthPasskeyOptions(r.Context(), s.loginOf(r, cur.sess))
	if err != nil {
		return err
	}
	writeRawJSON(w, http.StatusOK, options)
	return nil
}

// apiReauthPasskey is POST /me/reauth/passkey: the assertion; 204 and a
// fresh proof under a new session token, like POST /me/reauth.
func (s *Server) apiReauthPasskey(w http.ResponseWriter, r *http.Request, cur *current) error {
	body, err := readBody(w, r, maxWebAuthnBody)
	if err != nil {
		return err
	}
	if _, err := s.login.ReauthPasskey(r.Context(), s.loginOf(r, cur.sess), body); err != nil {
		return err
	}
	if _, err := s.rotate(w, r, cur.sess, errUnauthenticated); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
