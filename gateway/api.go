package gateway

import (
	"net/http"
	"time"

	"unigate/session"
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

// sessionListItem is one entry of GET /me/sessions (ASVS V7.5.2).
type sessionListItem struct {
	ID         string    `json:"id"`
	CreatedAt  time.Time `json:"created_at"`
	LastSeenAt time.Time `json:"last_seen_at"`
	IP         string    `json:"ip"`
	UserAgent  string    `json:"user_agent"`
	Current    bool      `json:"current"`
}

func (s *Server) apiListSessions(w http.ResponseWriter, r *http.Request) error {
	cur, err := s.requireComplete(r)
	if err != nil {
		return err
	}
	items, err := s.sessionItems(r, cur)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, items)
	return nil
}

// sessionItems lists the account's signed-in sessions, oldest first (the
// store's order).
func (s *Server) sessionItems(r *http.Request, cur *current) ([]sessionListItem, error) {
	list, err := s.sessions.ListAccount(r.Context(), cur.sess.AccountID)
	if err != nil {
		s.metrics.storeErrors.WithLabelValues("list").Inc()
		return nil, storeDown(err)
	}
	items := make([]sessionListItem, 0, len(list))
	for _, o := range list {
		if !o.Complete() {
			continue
		}
		items = append(items, sessionListItem{ID: o.Handle, CreatedAt: o.CreatedAt.UTC(), LastSeenAt: o.LastSeenAt.UTC(),
			IP: o.IP, UserAgent: o.UserAgent, Current: o.Handle == cur.sess.Handle})
	}
	return items, nil
}

func (s *Server) apiRevokeSession(w http.ResponseWriter, r *http.Request) error {
	if err := s.revokeSession(w, r, r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// revokeSession ends one of the account's own sessions; that session is
// refused from its next request (ASVS V7.5.2).
func (s *Server) revokeSession(w http.ResponseWriter, r *http.Request, id string) error {
	cur, err := s.requireComplete(r)
	if err != nil {
		return err
	}
	list, err := s.sessions.ListAccount(r.Context(), cur.sess.AccountID)
	if err != nil {
		s.metrics.storeErrors.WithLabelValues("list").Inc()
		return storeDown(err)
	}
	// Only the account's own sessions can be named: an id of someone else's is "not found".
	var target *session.Session
	for _, o := range list {
		if o.Handle == id {
			target = o
		}
	}
	if target == nil {
		return fail("not_found")
	}
	if err := s.sessions.Delete(r.Context(), target.Handle); err != nil {
		s.metrics.storeErrors.WithLabelValues("delete").Inc()
		return storeDown(err)
	}
	s.metrics.sessionsRevoked.Inc()
	s.audit(r, "session.revoke", cur.sess.AccountID, map[string]string{"session_id": target.Handle[:12]})
	if target.Handle == cur.sess.Handle {
		s.clearSessionCookie(w, r)
	}
	return nil
}
