package gateway

import (
	"net/http"

	"unigate/account"
)

// What a settings route needs, shown in routes.go: a finished login
// (needSession), and for a change of how the account is reached a recent
// proof too (needRecentProof, ASVS V7.5.1), or a session that may add a
// second factor (needEnrollment: a recent proof, or the login waiting at
// enroll_mfa). The handler gets the session; package account checks the
// same rules again from the Caller, so that a route missing its need still
// refuses.

// sessionHandler is an API handler of a signed-in session.
type sessionHandler func(w http.ResponseWriter, r *http.Request, cur *current) error

// needSession answers 401 unless the request carries a finished login.
func (s *Server) needSession(h sessionHandler) jsonHandler {
	return func(w http.ResponseWriter, r *http.Request) error {
		cur, err := s.requireComplete(r)
		if err != nil {
			return err
		}
		return h(w, r, cur)
	}
}

// needRecentProof is needSession and a recent proof: 403 reauth_required.
func (s *Server) needRecentProof(h sessionHandler) jsonHandler {
	return s.needSession(func(w http.ResponseWriter, r *http.Request, cur *current) error {
		if !s.recentlyProven(cur.sess) {
			return errReauthRequired
		}
		return h(w, r, cur)
	})
}

// needEnrollment is a session that may add a second factor (login.Enrollment).
func (s *Server) needEnrollment(h sessionHandler) jsonHandler {
	return func(w http.ResponseWriter, r *http.Request) error {
		cur, err := s.enrollmentSession(r)
		if err != nil {
			return err
		}
		return h(w, r, cur)
	}
}

// caller is the signed-in session of r as package account sees it.
func (s *Server) caller(r *http.Request, cur *current) account.Caller {
	return account.Caller{
		Actor:       s.actor(r, cur),
		Client:      s.clientIP(r),
		Handle:      cur.sess.Handle,
		RecentProof: s.recentlyProven(cur.sess),
	}
}

// enrolling is the caller of a session needEnrollment let through:
// login.Enrollment checked the recent proof of a finished login, or that
// the login waits at enroll_mfa, whose first factor was just proven.
func enrolling(c account.Caller) account.Caller {
	c.RecentProof = true
	return c
}

// formNeed is what a settings form needs before its action runs.
type formNeed int

const (
	needsSession formNeed = iota
	needsRecentProof
)

// formAction is a settings form's action: the notice to show once done.
type formAction func(w http.ResponseWriter, r *http.Request, cur *current) (notice string, err error)

// pageAgain renders a settings page again, with a refusal's status and message.
type pageAgain func(status int, msg string)

// formSession reads the form and the session a settings form needs. It
// answers itself (and returns nil) when they are not there: a bad form, no
// session (to /login), the store down, or no recent proof (the page again,
// 403, with what to do).
func (s *Server) formSession(w http.ResponseWriter, r *http.Request, need formNeed, again pageAgain) *current {
	if !s.parseForm(w, r) {
		return nil
	}
	cur, err := s.requireComplete(r)
	if err == nil && need == needsRecentProof && !s.recentlyProven(cur.sess) {
		err = errReauthRequired
	}
	if err != nil {
		s.formRefused(w, r, err, again)
		return nil
	}
	return cur
}

// formRefused answers a refused settings form: signed out, to /login; a
// failure of ours, the error page; otherwise the page again with the message.
func (s *Server) formRefused(w http.ResponseWriter, r *http.Request, err error, again pageAgain) {
	p := describe(err)
	switch {
	case p.Code == "unauthenticated":
		http.Redirect(w, r, "/login", http.StatusSeeOther)
	case p.Status >= 500:
		s.errorPage(w, r, err)
	default:
		again(p.Status, p.Message)
	}
}
