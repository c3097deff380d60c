package gateway

import (
	"net/http"
	"slices"

	"unigate/session"
)

// The legacy login (CONTRACT §4): on a console with legacy_login, its own host
// serves a login page at /.auth/login (and at its old bookmarks,
// legacy_login_paths) with the JSON API under /.auth/api/v1/login/*. Only
// accounts linked to the other console before legacy_login_cutoff may
// finish there; the session it opens is a normal one. Passkeys are not
// offered: they belong to the account host's RP ID (see README).

// legacyConsole is the console whose legacy login this request is on, or nil.
func (s *Server) legacyConsole(r *http.Request) *consoleSite {
	return s.legacySite(s.siteOf(r).host)
}

// onLegacyHost reports a login started on a console host rather than the account host.
func (s *Server) onLegacyHost(sess *session.Session) *consoleSite {
	if sess.LoginHost == s.accountHost {
		return nil
	}
	return s.legacySite(sess.LoginHost)
}

// legacySite is the console with a legacy login served on host, or nil.
func (s *Server) legacySite(host string) *consoleSite {
	c := s.consoleHosts[host]
	if c == nil || !c.legacyLogin {
		return nil
	}
	return c
}

// legacyOnly wraps a handler that exists only on a legacy login host.
func (s *Server) legacyOnly(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.legacyConsole(r) == nil {
			s.consoleError(w, r, errNotFound)
			return
		}
		h(w, r)
	}
}

// isLegacyLoginPath: an old bookmark of the console's login page.
func (c *consoleSite) isLegacyLoginPath(canonical string) bool {
	return c.legacyLogin && slices.Contains(c.legacyPaths, canonical)
}
