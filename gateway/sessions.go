package gateway

import (
	"context"
	"errors"
	"net/http"

	"unigate/session"
)

// lastSeenResolution: last_seen_at is rewritten at most this often, so that a
// proxied request costs one Redis round trip (GETEX) and not a read and a write.
const lastSeenResolution = 60

// current is the session found for a request, with the token its cookie holds.
type current struct {
	sess  *session.Session
	token string
}

// loadSession returns the session named by this host's cookie, or a nil
// current when there is none (no cookie, a bad or foreign cookie, an
// expired or revoked session). A store failure is returned as a 503 error:
// nothing is let through while the store is down (ASVS V16.5.2).
func (s *Server) loadSession(r *http.Request) (*current, error) {
	return s.loadSessionAt(r, s.siteOf(r).host)
}

// loadSessionAt is loadSession for the cookie of host, as the router (or a
// forward-auth request) classified it.
func (s *Server) loadSessionAt(r *http.Request, host string) (*current, error) {
	token, err := s.cookies.Decode(host, r)
	if err != nil {
		return nil, nil
	}
	sess, err := s.sessions.Get(r.Context(), session.HandleOf(token), s.cfg.Session.IdleTimeout)
	switch {
	case errors.Is(err, session.ErrNotFound):
		return nil, nil
	case err != nil:
		s.metrics.storeErrors.WithLabelValues("get").Inc()
		return nil, storeDown(err)
	}
	if now := s.now(); now.Sub(sess.LastSeenAt).Seconds() > lastSeenResolution {
		sess.LastSeenAt = now
		if err := s.saveSession(r.Context(), sess); err != nil {
			return nil, err
		}
	}
	return &current{sess: sess, token: token}, nil
}

// requireComplete is loadSession for handlers that need a finished login: 401 otherwise.
func (s *Server) requireComplete(r *http.Request) (*current, error) {
	cur, err := s.loadSession(r)
	if err != nil {
		return nil, err
	}
	if cur == nil || !cur.sess.Complete() {
		return nil, errUnauthenticated
	}
	return cur, nil
}

func (s *Server) saveSession(ctx context.Context, sess *session.Session) error {
	err := s.sessions.Save(ctx, sess, s.cfg.Session.IdleTimeout)
	switch {
	case errors.Is(err, session.ErrNotFound):
		// Revoked while we were working: revocation wins.
		return errUnauthenticated
	case err != nil:
		s.metrics.storeErrors.WithLabelValues("save").Inc()
		return storeDown(err)
	}
	// No organization role written back stale (memberships.go).
	return s.reconcileOrganizations(ctx, sess)
}

// setSessionCookie gives this host a cookie for token.
func (s *Server) setSessionCookie(w http.ResponseWriter, r *http.Request, token string) error {
	c, err := s.cookies.Encode(s.siteOf(r).host, token)
	if err != nil {
		return internal(err)
	}
	http.SetCookie(w, c)
	return nil
}

func (s *Server) clearSessionCookie(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, s.cookies.Clear(s.siteOf(r).host))
}

// logoutClearSiteData is what a logout asks the browser to drop (ASVS
// V14.3.1). Not "cookies": that would also delete the remembered-device
// cookie (CONTRACT §5, §10); the session cookie is expired by name instead.
const logoutClearSiteData = `"cache", "storage"`

// endSession deletes the session server-side (every host's cookie dies with
// it), expires this host's cookie and asks the browser to drop this
// origin's cache and storage (ASVS V7.4.1, V14.3.1).
func (s *Server) endSession(w http.ResponseWriter, r *http.Request, cur *current) error {
	if cur != nil {
		if err := s.sessions.Delete(r.Context(), cur.sess.Handle); err != nil {
			s.metrics.storeErrors.WithLabelValues("delete").Inc()
			return storeDown(err)
		}
		s.metrics.sessionsRevoked.Inc()
		s.audit(r, "logout", cur.sess.AccountID, nil)
	}
	s.clearSessionCookie(w, r)
	w.Header().Set("Clear-Site-Data", logoutClearSiteData)
	return nil
}
