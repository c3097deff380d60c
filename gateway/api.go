package gateway

import (
	"net/http"
	"time"
)

// sessionView is GET /session.
type sessionView struct {
	User          userView     `json:"user"`
	MFA           string       `json:"mfa"`
	Consoles      []consoleRef `json:"consoles"`
	ActiveConsole string       `json:"active_console"`
	ExpiresAt     time.Time    `json:"expires_at"`
}

type userView struct {
	ID    string `json:"id"`
	Email string `json:"email"`
}

func (s *Server) apiSession(w http.ResponseWriter, r *http.Request) error {
	cur, err := s.requireComplete(r)
	if err != nil {
		return err
	}
	sess := cur.sess
	// The session ends at whichever comes first: idle or absolute timeout.
	expires := s.now().Add(s.cfg.Session.IdleTimeout)
	if sess.ExpiresAt.Before(expires) {
		expires = sess.ExpiresAt
	}
	writeJSON(w, http.StatusOK, sessionView{
		User:          userView{ID: sess.AccountID, Email: sess.Email},
		MFA:           sess.MFA,
		Consoles:      s.consoleRefs(),
		ActiveConsole: sess.ActiveConsole,
		ExpiresAt:     expires.UTC(),
	})
	return nil
}

func (s *Server) apiConsoles(w http.ResponseWriter, r *http.Request) error {
	cur, err := s.requireComplete(r)
	if err != nil {
		return err
	}
	v, err := s.listConsoles(r, cur)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (s *Server) apiEnter(w http.ResponseWriter, r *http.Request) error {
	cur, err := s.requireComplete(r)
	if err != nil {
		return err
	}
	var req enterRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	c := s.consoles[r.PathValue("id")]
	if c == nil {
		return fail("unknown_console")
	}
	path := "/"
	if rt, ok := s.parseReturnTo(req.ReturnTo); ok {
		if rc, p := s.consoleOf(rt); rc == c {
			path = p
		} else if rt.Host == "" && rc == nil {
			path = rt.Path // a relative return_to is a path in the console
		}
	}
	next, err := s.enterConsole(r, cur, c, req, path, true)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]string{"redirect": next})
	return nil
}

func (s *Server) apiLogout(w http.ResponseWriter, r *http.Request) error {
	cur, err := s.loadSession(r)
	if err != nil {
		return err
	}
	if err := s.endSession(w, r, cur); err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
	return nil
}
