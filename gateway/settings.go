package gateway

import (
	"net/http"
	"time"

	"unigate/account"
)

// The settings space: password change, language and active sessions
// (CONTRACT §5 /me/password, /me/sessions; ASVS V7.5.2, V7.4.3), as JSON and
// as a page: adapters over package account (account.Security), which holds
// every rule. What each route needs is in routes.go.

// apiChangePassword is POST /me/password (needRecentProof): every other
// session of the account ends.
func (s *Server) apiChangePassword(w http.ResponseWriter, r *http.Request, cur *current) error {
	var req struct {
		Current string `json:"current_password"`
		New     string `json:"new_password"`
	}
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	if err := s.security.ChangePassword(r.Context(), s.caller(r, cur), req.Current, req.New); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// sessionListItem is one entry of GET /me/sessions (ASVS V7.5.2).
type sessionListItem struct {
	ID         string    `json:"id"`
	CreatedAt  time.Time `json:"created_at"`
	LastSeenAt time.Time `json:"last_seen_at"`
	IP         string    `json:"ip"`
	UserAgent  string    `json:"user_agent"`
	Device     string    `json:"device"` // "Firefox on Windows" (CONTRACT §10)
	Current    bool      `json:"current"`
}

// sessionItems lists the account's signed-in sessions, oldest first.
func (s *Server) sessionItems(r *http.Request, cur *current) ([]sessionListItem, error) {
	list, err := s.security.Sessions(r.Context(), s.caller(r, cur))
	if err != nil {
		return nil, err
	}
	items := make([]sessionListItem, 0, len(list))
	for _, o := range list {
		items = append(items, sessionListItem(o))
	}
	return items, nil
}

func (s *Server) apiListSessions(w http.ResponseWriter, r *http.Request, cur *current) error {
	items, err := s.sessionItems(r, cur)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, items)
	return nil
}

// apiRevokeSession is DELETE /me/sessions/{id}: that session is refused
// from its next request; ending one's own also expires the cookie.
func (s *Server) apiRevokeSession(w http.ResponseWriter, r *http.Request, cur *current) error {
	if err := s.revokeSession(w, r, cur); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) revokeSession(w http.ResponseWriter, r *http.Request, cur *current) error {
	own, err := s.security.RevokeSession(r.Context(), s.caller(r, cur), r.PathValue("id"))
	if err != nil {
		return err
	}
	if own {
		s.clearSessionCookie(w, r)
	}
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
	p, err := s.profile.Get(r.Context(), s.actor(r, cur))
	if err != nil {
		s.errorPage(w, r, internal(err))
		return
	}
	s.render(w, r, status, "settings", settingsPage{Email: cur.sess.Email, Error: msg, Notice: notice,
		Recent: s.recentlyProven(cur.sess), MinLen: s.cfg.Login.PasswordMinLength, Locale: localeOf(p.Locale), Name: p.Name, Sessions: items})
}

// settingsForm runs one form of /settings: a redirect to the page with its
// notice once done, the page again with the refusal otherwise.
func (s *Server) settingsForm(need formNeed, action formAction) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		again := func(status int, msg string) { s.renderSettings(w, r, status, msg, "") }
		cur := s.formSession(w, r, need, again)
		if cur == nil {
			return
		}
		notice, err := action(w, r, cur)
		switch {
		case err != nil:
			s.formRefused(w, r, err, again)
		case notice == "signed_out":
			http.Redirect(w, r, "/login", http.StatusSeeOther)
		default:
			http.Redirect(w, r, "/settings?notice="+notice, http.StatusSeeOther)
		}
	}
}

func (s *Server) pagePasswordChange(w http.ResponseWriter, r *http.Request, cur *current) (string, error) {
	return "password", s.security.ChangePassword(r.Context(), s.caller(r, cur), r.PostForm.Get("current_password"), r.PostForm.Get("new_password"))
}

func (s *Server) pageSessionRevoke(w http.ResponseWriter, r *http.Request, cur *current) (string, error) {
	return "revoked", s.revokeSession(w, r, cur)
}

// pageSignOutEverywhere ends every session of the account, this one
// included, as a logout does (CONTRACT §5).
func (s *Server) pageSignOutEverywhere(w http.ResponseWriter, r *http.Request, cur *current) (string, error) {
	if err := s.security.SignOutEverywhere(r.Context(), s.caller(r, cur)); err != nil {
		return "", err
	}
	s.clearSessionCookie(w, r)
	w.Header().Set("Clear-Site-Data", logoutClearSiteData)
	return "signed_out", nil
}

// pageSetLocale is the language form of /settings: the account's locale (its
// pages and its mails) and this browser's cookie.
func (s *Server) pageSetLocale(w http.ResponseWriter, r *http.Request, cur *current) (string, error) {
	locale := r.PostForm.Get("locale")
	if err := s.security.SetLocale(r.Context(), s.caller(r, cur), locale); err != nil {
		return "", err
	}
	s.setLocaleCookie(w, locale)
	return "locale", nil
}

// pageSetName is the name form of /settings.
func (s *Server) pageSetName(w http.ResponseWriter, r *http.Request, cur *current) (string, error) {
	name := r.PostForm.Get("name")
	return "profile", s.profile.Update(r.Context(), s.actor(r, cur), account.ProfileChange{Name: &name})
}
