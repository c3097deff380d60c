package gateway

import (
	"errors"
	"fmt"
	"net/http"

	"unigate/access"
	"unigate/session"
)

// consoleAccess gives package access what it asks of the edge: the session
// of a request, and the first entry of a console. It is the only place that
// speaks both the edge's errors and the decision's.
type consoleAccess struct{ s *Server }

// newAccess builds the decision every console request goes through.
func (s *Server) newAccess() error {
	d, err := access.New(access.Config{
		Sessions: consoleAccess{s},
		Entries:  consoleAccess{s},
		// Its own key: the id a console sees cannot be turned back into the
		// session's store key (issue 16, finding 14).
		SessionIDKey: deriveKey(s.cfg.SessionKey(), "unigate upstream session id v1"),
		Clock:        s.now,
	})
	if err != nil {
		return fmt.Errorf("gateway: %w", err)
	}
	s.access = d
	for _, c := range s.consoleList {
		c.access = &access.Console{ID: c.id, Public: c.public, Prefix: c.prefix}
		for _, con := range s.cfg.Consoles {
			if con.ID == c.id {
				c.access.StepUp = stepUpRules(con.StepUp)
			}
		}
	}
	return nil
}

// RequestSession is loadSession: nil when there is none; an error only when
// the store did not answer.
func (a consoleAccess) RequestSession(r *http.Request, host string) (*session.Session, error) {
	cur, err := a.s.loadSessionAt(r, host)
	switch {
	case errors.Is(err, errUnauthenticated):
		return nil, nil // revoked while its last_seen_at was written
	case err != nil:
		return nil, err
	case cur == nil:
		return nil, nil
	}
	return cur.sess, nil
}

// FirstEntry picks the session's only account in a console it has not
// entered yet, and keeps it in the session. Several accounts, or none yet,
// need the chooser: it never creates one here (that is for the chooser's
// POST, which has a CSRF check).
func (a consoleAccess) FirstEntry(r *http.Request, sess *session.Session, console string) (session.ConsoleSelection, error) {
	s := a.s
	c := s.consoles[console]
	if c == nil {
		return session.ConsoleSelection{}, fail("unknown_console")
	}
	picked, err := s.selectConsoleAccount(r, &current{sess: sess}, c, "", false)
	if err != nil {
		if needsChooser(err) {
			return session.ConsoleSelection{}, fmt.Errorf("%w: %w", access.ErrChooseAccount, err)
		}
		return session.ConsoleSelection{}, err
	}
	if sess.Consoles == nil {
		sess.Consoles = map[string]session.ConsoleSelection{}
	}
	sess.Consoles[console] = picked
	if err := s.saveSession(r.Context(), sess); err != nil {
		if errors.Is(err, errUnauthenticated) {
			return session.ConsoleSelection{}, access.ErrSessionEnded
		}
		return session.ConsoleSelection{}, err
	}
	return picked, nil
}
