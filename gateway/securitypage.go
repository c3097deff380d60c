package gateway

import (
	"encoding/base64"
	"errors"
	"net/http"
	"slices"
)

// The security settings page: second factors added and removed with plain
// forms (the passkey button uses passkey.js). Removing needs a recent proof.

type securityPage struct {
	Email    string
	Error    string
	Notice   string
	Recent   bool
	TOTPOn   bool
	TOTP     *totpEnrollView // a set-up in progress
	Passkeys []passkeyView
	SSO      []ssoView
	Unlinked []string // configured providers not linked yet
}

func (s *Server) pageSecurity(w http.ResponseWriter, r *http.Request) {
	s.renderSecurity(w, r, http.StatusOK, ssoMessage(r.URL.Query().Get("error")), r.URL.Query().Get("notice"), nil)
}

func (s *Server) renderSecurity(w http.ResponseWriter, r *http.Request, status int, msg, notice string, totp *totpEnrollView) {
	cur, err := s.loadSession(r)
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	if cur == nil || !cur.sess.Complete() {
		http.Redirect(w, r, "/login?return_to=%2Fsettings%2Fsecurity", http.StatusFound)
		return
	}
	v, err := s.mfaSummary(r, cur.sess.AccountID)
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	links, err := s.ssoList(r, cur.sess.AccountID)
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	unlinked := slices.DeleteFunc(s.configuredProviders(), func(name string) bool {
		return slices.ContainsFunc(links, func(l ssoView) bool { return l.Provider == name })
	})
	s.render(w, r, status, "security", securityPage{
		Email: cur.sess.Email, Error: msg, Notice: securityNotice(notice), Recent: s.recentlyProven(cur.sess),
		TOTPOn: v.TOTP, TOTP: totp, Passkeys: v.Passkeys, SSO: links, Unlinked: unlinked,
	})
}

func securityNotice(code string) string {
	switch code {
	case "totp_on":
		return "Your authenticator app is set up."
	case "removed":
		return "The method was removed."
	case "sso_linked":
		return "The provider is linked: you can now sign in with it."
	case "sso_unlinked":
		return "The provider is unlinked."
	case "confirmed":
		return "Thank you. You can change your security settings for the next few minutes."
	}
	return ""
}

// securityForm runs one form action and answers with the page again or a redirect.
func (s *Server) securityForm(w http.ResponseWriter, r *http.Request, action func() (notice string, totp *totpEnrollView, err error)) {
	if !s.parseForm(w, r) {
		return
	}
	notice, totp, err := action()
	if err != nil {
		ae := describe(err)
		if errors.Is(err, errUnauthenticated) {
			http.Redirect(w, r, "/login", http.StatusSeeOther)
			return
		}
		if ae.Status >= 500 {
			s.errorPage(w, r, err)
			return
		}
		s.renderSecurity(w, r, ae.Status, ae.Message, "", nil)
		return
	}
	if totp != nil {
		s.renderSecurity(w, r, http.StatusOK, "", "", totp)
		return
	}
	http.Redirect(w, r, "/settings/security?notice="+notice, http.StatusSeeOther)
}

func (s *Server) pageTOTPStart(w http.ResponseWriter, r *http.Request) {
	s.securityForm(w, r, func() (string, *totpEnrollView, error) {
		cur, err := s.requireComplete(r)
		if err != nil {
			return "", nil, err
		}
		v, err := s.newPendingTOTP(r, cur.sess)
		return "", v, err
	})
}

func (s *Server) pageTOTPConfirm(w http.ResponseWriter, r *http.Request) {
	s.securityForm(w, r, func() (string, *totpEnrollView, error) {
		if _, err := s.requireComplete(r); err != nil {
			return "", nil, err
		}
		_, err := s.confirmTOTP(w, r, r.PostForm.Get("code"))
		return "totp_on", nil, err
	})
}

func (s *Server) pageTOTPDelete(w http.ResponseWriter, r *http.Request) {
	s.securityForm(w, r, func() (string, *totpEnrollView, error) {
		return "removed", nil, s.removeTOTP(r)
	})
}

func (s *Server) pagePasskeyDelete(w http.ResponseWriter, r *http.Request) {
	s.securityForm(w, r, func() (string, *totpEnrollView, error) {
		credID, err := base64.RawURLEncoding.DecodeString(r.PathValue("id"))
		if err != nil {
			return "", nil, fail("not_found")
		}
		err = s.removeMFA(r, "passkey", func(id string) error {
			return s.accounts.DeleteWebAuthnCredential(r.Context(), id, credID)
		})
		return "removed", nil, err
	})
}

// pageReauth is the form version of POST /me/reauth.
func (s *Server) pageReauth(w http.ResponseWriter, r *http.Request) {
	s.securityForm(w, r, func() (string, *totpEnrollView, error) {
		// A password, when given, wins over a TOTP code.
		password, totp := r.PostForm.Get("password"), ""
		if password == "" {
			totp = r.PostForm.Get("totp")
		}
		err := s.reauth(w, r, password, totp, password != "", totp != "")
		return "confirmed", nil, err
	})
}
