package gateway

import (
	"errors"
	"net/http"

	"unigate/accounts"
	"unigate/web"
)

// The settings space: password change, language and active sessions
// (CONTRACT §5 /me/password, /me/sessions; ASVS V7.5.2, V7.4.3), as JSON and
// as a page.

// changePassword is POST /me/password: the current password, a recent
// proof, and every other session of the account ends.
func (s *Server) changePassword(w http.ResponseWriter, r *http.Request, current, next string) error {
	cur, err := s.requireComplete(r)
	if err != nil {
		return err
	}
	if !s.recentlyProven(cur.sess) {
		return errReauthRequired
	}
	att, err := (&limiter{s}).begin(r, cur.sess.Email, "password")
	if err != nil {
		return err
	}
	acct, err := s.accounts.AccountByID(r.Context(), cur.sess.AccountID)
	if err != nil {
		return internal(err)
	}
	ok, _, _ := s.verifyPassword(r, acct, current)
	if !ok {
		s.metrics.loginAttempts.WithLabelValues("password", "failure").Inc()
		s.audit(r, "password.change_failure", acct.ID, nil)
		return errInvalidCredentials
	}
	att.success(r)
	if err := s.checkPasswordPolicy(next); err != nil {
		return err
	}
	hash, err := s.hasher.Hash(r.Context(), next)
	if err != nil {
		return internal(err)
	}
	if err := s.accounts.SetPasswordHash(r.Context(), acct.ID, hash); err != nil {
		return internal(err)
	}
	n, err := s.sessions.DeleteAccount(r.Context(), acct.ID, cur.sess.Handle)
	if err != nil {
		s.metrics.storeErrors.WithLabelValues("delete").Inc()
		return storeDown(err)
	}
	s.metrics.sessionsRevoked.Add(float64(n))
	s.audit(r, "password.change", acct.ID, map[string]string{"sessions_revoked": itoa(n)})
	return nil
}

func (s *Server) apiChangePassword(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Current string `json:"current_password"`
		New     string `json:"new_password"`
	}
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	if err := s.changePassword(w, r, req.Current, req.New); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// settingsPage is /settings.
type settingsPage struct {
	Email    string
	Error    string
	Notice   string
	Recent   bool
	MinLen   int
	Locale   string // the account's language, for its pages and mails
	Name     string // the profile's name
	Sessions []sessionListItem
}

func (s *Server) pageSettings(w http.ResponseWriter, r *http.Request) {
	s.renderSettings(w, r, http.StatusOK, "", settingsNotice(r.URL.Query().Get("notice")))
}

func settingsNotice(code string) string {
	switch code {
	case "password":
		return "Your password was changed. Your other sessions were signed out."
	case "revoked":
		return "The session was signed out."
	case "locale":
		return "Your language was saved. It is also used for the emails we send you."
	case "profile":
		return "Your name was saved."
	}
	return ""
}

func (s *Server) renderSettings(w http.ResponseWriter, r *http.Request, status int, msg, notice string) {
	cur, err := s.loadSession(r)
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	if cur == nil || !cur.sess.Complete() {
		http.Redirect(w, r, "/login?return_to=%2Fsettings", http.StatusFound)
		return
	}
	items, err := s.sessionItems(r, cur)
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	acct, err := s.accounts.AccountByID(r.Context(), cur.sess.AccountID)
	if err != nil {
		s.errorPage(w, r, internal(err))
		return
	}
	s.render(w, r, status, "settings", settingsPage{Email: cur.sess.Email, Error: msg, Notice: notice,
		Recent: s.recentlyProven(cur.sess), MinLen: s.cfg.Login.PasswordMinLength, Locale: localeOf(acct.Locale), Name: acct.Name, Sessions: items})
}

func (s *Server) settingsForm(w http.ResponseWriter, r *http.Request, action func() (string, error)) {
	if !s.parseForm(w, r) {
		return
	}
	notice, err := action()
	if err != nil {
		ae := describe(err)
		if ae.Code == "unauthenticated" {
			http.Redirect(w, r, "/login", http.StatusSeeOther)
			return
		}
		if ae.Status >= 500 {
			s.errorPage(w, r, err)
			return
		}
		s.renderSettings(w, r, ae.Status, ae.Message, "")
		return
	}
	if notice == "signed_out" {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/settings?notice="+notice, http.StatusSeeOther)
}

func (s *Server) pagePasswordChange(w http.ResponseWriter, r *http.Request) {
	s.settingsForm(w, r, func() (string, error) {
		return "password", s.changePassword(w, r, r.PostForm.Get("current_password"), r.PostForm.Get("new_password"))
	})
}

func (s *Server) pageSessionRevoke(w http.ResponseWriter, r *http.Request) {
	s.settingsForm(w, r, func() (string, error) {
		return "revoked", s.revokeSession(w, r, r.PathValue("id"))
	})
}

// pageSignOutEverywhere ends every session of the account, this one included.
func (s *Server) pageSignOutEverywhere(w http.ResponseWriter, r *http.Request) {
	s.settingsForm(w, r, func() (string, error) {
		cur, err := s.requireComplete(r)
		if err != nil {
			return "", err
		}
		n, err := s.sessions.DeleteAccount(r.Context(), cur.sess.AccountID, "")
		if err != nil {
			s.metrics.storeErrors.WithLabelValues("delete").Inc()
			return "", storeDown(err)
		}
		s.metrics.sessionsRevoked.Add(float64(n))
		s.audit(r, "session.revoke_all", cur.sess.AccountID, map[string]string{"sessions": itoa(n)})
		s.clearSessionCookie(w, r)
		w.Header().Set("Clear-Site-Data", logoutClearSiteData)
		return "signed_out", nil
	})
}

// pageSetLocale is the language form of /settings: the account's locale (its
// pages and its mails) and this browser's cookie. No recent proof is asked:
// the language is a preference, not a security setting.
func (s *Server) pageSetLocale(w http.ResponseWriter, r *http.Request) {
	s.settingsForm(w, r, func() (string, error) {
		cur, err := s.requireComplete(r)
		if err != nil {
			return "", err
		}
		locale := r.PostForm.Get("locale")
		if !web.Supported(locale) {
			return "", fail("invalid_locale")
		}
		if err := s.accounts.SetLocale(r.Context(), cur.sess.AccountID, locale); err != nil {
			if errors.Is(err, accounts.ErrNotFound) {
				return "", errUnauthenticated // deleted meanwhile
			}
			return "", internal(err)
		}
		s.setLocaleCookie(w, locale)
		s.audit(r, "account.locale", cur.sess.AccountID, map[string]string{"locale": locale})
		return "locale", nil
	})
}
