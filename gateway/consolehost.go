package gateway

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"unigate/access"
	"unigate/session"
	"unigate/upstreams"
)

// serveConsole serves one console request, on the console's host or under
// its path_prefix on the account host (CONTRACT §3, §4, §6): package access
// decides, and this renders the decision. site is the router's
// classification of the host; canonical the path it routed on.
func (s *Server) serveConsole(w http.ResponseWriter, r *http.Request, c *consoleSite, site requestSite, canonical string) {
	mounted := site.account // under the console's path_prefix on the account host
	d := s.access.Decide(access.Request{HTTP: r, Host: site.host, Method: r.Method, Path: canonical, Console: c.access, Mounted: mounted})
	proxy := c.proxy
	if mounted {
		proxy = c.mountProxy
	}
	switch d.Kind {
	case access.Public:
		s.forward(w, r, c, proxy, d.Path, nil)
	case access.Allow:
		s.forward(w, r, c, proxy, d.Path, d.Identity)
	case access.Login:
		s.unauthenticated(w, r, c, site.host, d.Path)
	case access.StepUp:
		s.stepUpRequired(w, r, c, site.host, d.Path)
	case access.Redirect:
		redirectCanonical(w, r, d.Path)
	case access.ChooseAccount:
		if wantsHTML(r) {
			http.Redirect(w, r, s.chooserURL(c.id, s.originalURL(site.host, r, d.Path)), http.StatusFound)
			return
		}
		s.consoleError(w, r, d.Err)
	default: // BadPath, Forbidden, Unavailable, Failed: the error says which status
		s.consoleError(w, r, d.Err)
	}
}

// forward sends the request upstream and records the proxy metrics. The
// proxy signs the assertion for id as it rewrites the request.
func (s *Server) forward(w http.ResponseWriter, r *http.Request, c *consoleSite, proxy *upstreams.Proxy, canonical string, id *upstreams.Identity) {
	start := s.now()
	rec, ok := w.(*statusRecorder)
	if !ok {
		rec = &statusRecorder{ResponseWriter: w}
	}
	proxy.Forward(rec, r, canonical, id)
	code := rec.code()
	if rec.status == 0 && r.Context().Err() != nil {
		code = statusClientClosed // nothing was written: the client went away
	}
	s.metrics.observeProxy(c.id, code, s.now().Sub(start).Seconds())
}

// statusClientClosed is recorded (never sent) when the client left before
// the upstream answered, after nginx's 499.
const statusClientClosed = 499

// unauthenticated answers a console request without a complete session
// (CONTRACT §4): a browser navigation goes to the login page with the
// original URL as return_to; anything else gets 401 JSON.
func (s *Server) unauthenticated(w http.ResponseWriter, r *http.Request, c *consoleSite, host, canonical string) {
	s.metrics.unauthenticated.WithLabelValues(c.id).Inc()
	login := s.loginURL(s.originalURL(host, r, canonical))
	if wantsHTML(r) {
		w.Header().Set("Cache-Control", "no-store")
		http.Redirect(w, r, login, http.StatusFound)
		return
	}
	s.securityHeaders(w.Header())
	s.writeAPIError(w, r, &failure{Code: "unauthenticated", Extra: map[string]any{"login_url": s.loginURL("")}})
}

// originalURL is the absolute URL of the request on host, with the
// scheme and port of public_url.
func (s *Server) originalURL(host string, r *http.Request, canonical string) string {
	u := s.siteURL(host) + canonical
	if r.URL.RawQuery != "" {
		u += "?" + r.URL.RawQuery
	}
	return u
}

// consoleError renders a gateway-made error on a console request: a page for
// a browser, JSON otherwise. Our security headers apply: it is our answer.
func (s *Server) consoleError(w http.ResponseWriter, r *http.Request, err error) {
	s.securityHeaders(w.Header())
	if wantsHTML(r) {
		s.errorPage(w, r, err)
		return
	}
	s.writeAPIError(w, r, err)
}

// upstreamErrorPage renders 502/504 for the proxy.
func (s *Server) upstreamErrorPage(w http.ResponseWriter, r *http.Request, status int) {
	code := "bad_gateway"
	if status == http.StatusGatewayTimeout {
		code = "gateway_timeout"
	}
	s.consoleError(w, r, fail(code))
}

// The handoff carries a session from the account host to a console host
// (DESIGN.md "handoff"; SECURITY family 4). A code alone would sign in
// whichever browser opens the link, so a code minted by an attacker could
// plant the attacker's session in a victim's browser (login CSRF). The code
// is therefore bound to the browser that asked for it, like OAuth's state:
//
//  1. /.auth/handoff?code=C1 on the console host sets a short-lived nonce
//     cookie on that host and sends the browser to the account host;
//  2. /.auth/bind there (or on the console host it was minted on) takes C1 (single use) and only if this browser's
//     account-host session is the one C1 was minted for, mints C2 bound to
//     the nonce's hash and sends the browser back;
//  3. /.auth/handoff?code=C2&bound=1 takes C2 and sets the session cookie
//     only if the browser shows the nonce cookie C2 is bound to.
//
// Every code is single use, at most handoff_ttl old and valid on its host only.

// handoffNonceCookie is the nonce cookie's name on a console host.
func (s *Server) handoffNonceCookie() string {
	if s.secure {
		return "__Host-unigate_handoff"
	}
	return "unigate_handoff"
}

// handoff is GET /.auth/handoff on a console host: steps 1 and 3 above.
func (s *Server) handoff(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Referrer-Policy", "no-referrer") // the code never leaves in a Referer
	w.Header().Set("Cache-Control", "no-store")
	q := r.URL.Query()
	code := q.Get("code")
	if code == "" || len(code) > 128 {
		s.consoleError(w, r, errInvalidHandoff)
		return
	}
	if q.Get("bound") == "" {
		s.handoffStart(w, r, code)
		return
	}
	s.handoffFinish(w, r, code)
}

var errInvalidHandoff = fail("invalid_handoff")

// handoffStart sets the nonce cookie and sends the browser to the account host to bind the code.
func (s *Server) handoffStart(w http.ResponseWriter, r *http.Request, code string) {
	nonce := session.NewToken()
	http.SetCookie(w, &http.Cookie{
		Name: s.handoffNonceCookie(), Value: nonce, Path: "/", MaxAge: int(s.cfg.Session.HandoffTTL.Seconds()) + 5,
		HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode,
	})
	q := url.Values{"code": {code}, "state": {nonce}}
	// Step 2 runs where the code was minted: the account host, or the console
	// host of a legacy login. Any host is safe to name here: the binding
	// checks that the browser's session there is the code's session.
	bindAt := s.public.Scheme + "://" + s.public.Host
	if from := r.URL.Query().Get("from"); from != "" && s.consoleHosts[from] != nil {
		bindAt = s.siteURL(from)
	}
	http.Redirect(w, r, bindAt+"/.auth/bind?"+q.Encode(), http.StatusFound)
}

// handoffBind is GET /.auth/bind on the account host: step 2.
func (s *Server) handoffBind(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.Header().Set("Cache-Control", "no-store")
	q := r.URL.Query()
	code, nonce := q.Get("code"), q.Get("state")
	if code == "" || len(code) > 128 || len(nonce) != 43 {
		s.errorPage(w, r, errInvalidHandoff)
		return
	}
	h, err := s.sessions.TakeHandoff(r.Context(), code)
	if errors.Is(err, session.ErrNotFound) {
		s.errorPage(w, r, errInvalidHandoff)
		return
	}
	if err != nil {
		s.metrics.storeErrors.WithLabelValues("handoff").Inc()
		s.errorPage(w, r, storeDown(err))
		return
	}
	cur, err := s.loadSession(r)
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	if h.Nonce != "" || cur == nil || !cur.sess.Complete() ||
		subtle.ConstantTimeCompare([]byte(session.HandleOf(h.Token)), []byte(cur.sess.Handle)) != 1 {
		s.log(r).Warn("handoff code opened by another browser or session: refused")
		s.errorPage(w, r, errInvalidHandoff)
		return
	}
	h.Nonce = nonceHash(nonce)
	bound, err := s.sessions.CreateHandoff(r.Context(), h, s.cfg.Session.HandoffTTL)
	if err != nil {
		s.metrics.storeErrors.WithLabelValues("handoff").Inc()
		s.errorPage(w, r, storeDown(err))
		return
	}
	q = url.Values{"code": {bound}, "bound": {"1"}}
	http.Redirect(w, r, s.siteURL(h.Host)+"/.auth/handoff?"+q.Encode(), http.StatusFound)
}

func nonceHash(nonce string) string {
	sum := sha256.Sum256([]byte(nonce))
	return hex.EncodeToString(sum[:])
}

// handoffFinish takes a bound code and, for the browser holding its nonce, sets this host's cookie.
func (s *Server) handoffFinish(w http.ResponseWriter, r *http.Request, code string) {
	h, err := s.sessions.TakeHandoff(r.Context(), code)
	if errors.Is(err, session.ErrNotFound) {
		s.consoleError(w, r, errInvalidHandoff)
		return
	}
	if err != nil {
		s.metrics.storeErrors.WithLabelValues("handoff").Inc()
		s.consoleError(w, r, storeDown(err))
		return
	}
	host := s.siteOf(r).host
	nc, _ := r.Cookie(s.handoffNonceCookie())
	if h.Host != host || h.Nonce == "" || nc == nil ||
		subtle.ConstantTimeCompare([]byte(nonceHash(nc.Value)), []byte(h.Nonce)) != 1 {
		s.log(r).Warn("handoff code refused: wrong host or browser", "host", host)
		s.consoleError(w, r, errInvalidHandoff)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: s.handoffNonceCookie(), Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode})
	sess, err := s.sessions.Get(r.Context(), session.HandleOf(h.Token), s.cfg.Session.IdleTimeout)
	if err != nil && !errors.Is(err, session.ErrNotFound) {
		s.metrics.storeErrors.WithLabelValues("get").Inc()
		s.consoleError(w, r, storeDown(err))
		return
	}
	if err != nil || !sess.Complete() {
		http.Redirect(w, r, s.loginURL(s.siteURL(host)+h.Path), http.StatusFound)
		return
	}
	if err := s.setSessionCookie(w, r, h.Token); err != nil {
		s.consoleError(w, r, err)
		return
	}
	path := h.Path
	if !safeLocalPath(path) || path == "/.auth" || strings.HasPrefix(path, "/.auth/") {
		path = "/"
	}
	http.Redirect(w, r, path, http.StatusFound)
}

// switchConsole is GET /.auth/switch/{console} on any host: enter the other
// console with the same session. A session that must choose among several
// accounts goes to the chooser; no session goes to the login page.
func (s *Server) switchConsole(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	c := s.consoles[r.PathValue("console")]
	if c == nil {
		s.consoleError(w, r, fail("unknown_console"))
		return
	}
	cur, err := s.loadSession(r)
	if err != nil {
		s.consoleError(w, r, err)
		return
	}
	target := s.consoleHome(c)
	if cur == nil || !cur.sess.Complete() {
		http.Redirect(w, r, s.loginURL(target), http.StatusFound)
		return
	}
	req := enterRequest{}
	if sel, ok := cur.sess.Consoles[c.id]; ok {
		req.AccountID = sel.AccountID
	}
	next, err := s.enterConsole(r, cur, c, req, "/", false)
	if err != nil {
		if needsChooser(err) {
			http.Redirect(w, r, s.chooserURL(c.id, ""), http.StatusFound)
			return
		}
		s.consoleError(w, r, err)
		return
	}
	http.Redirect(w, r, next, http.StatusFound)
}

// consoleHome is the absolute URL of a console's front page.
func (s *Server) consoleHome(c *consoleSite) string {
	if len(c.hosts) > 0 {
		return s.siteURL(c.hosts[0]) + "/"
	}
	return s.public.Scheme + "://" + s.public.Host + c.prefix
}

// consoleLogout is POST /.auth/logout on a console host: the one session
// ends, on every host at once.
func (s *Server) consoleLogout(w http.ResponseWriter, r *http.Request) {
	cur, err := s.loadSession(r)
	if err == nil {
		err = s.endSession(w, r, cur)
	}
	if err != nil {
		s.consoleError(w, r, err)
		return
	}
	if acceptsHTML(r) {
		http.Redirect(w, r, s.loginURL(""), http.StatusSeeOther)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// acceptsHTML: Accept names text/html, whatever the method (form posts).
// Media types are case-insensitive (RFC 9110 §8.3.1), as in wantsHTML.
func acceptsHTML(r *http.Request) bool {
	for _, v := range r.Header.Values("Accept") {
		for part := range splitComma(v) {
			if mt, _, err := mime.ParseMediaType(part); err == nil && mt == "text/html" {
				return true
			}
		}
	}
	return false
}
