package gateway

import (
	"net/http"
)

// Key rotation (CONTRACT §12): with secrets.previous_session_key_files set,
// a session cookie signed under a previous key is still accepted
// (session.CookieCodec), and re-issued here under the current key on the
// first request that shows it, so that the previous key can be removed
// once every live session has come back (at most absolute_timeout later).
// The TOTP secrets sealed under a previous key open the same way
// (mfa.Sealer) and are sealed again when next used (login's TOTP step).

// withCookieRotation re-issues a stale session cookie before serving. The
// handler's own Set-Cookie (a login's new session, a logout's clearing)
// comes after this one, so the browser keeps the handler's.
func (s *Server) withCookieRotation(next http.Handler) http.Handler {
	if len(s.cfg.PreviousSessionKeys()) == 0 {
		return next // nothing to rotate: not a single extra check per request
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := hostOnly(r.Host)
		if token, stale, err := s.cookies.DecodeRotated(host, r); err == nil && stale {
			if c, err := s.cookies.Encode(host, token); err == nil {
				http.SetCookie(w, c)
			}
		}
		next.ServeHTTP(w, r)
	})
}
