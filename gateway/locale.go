package gateway

import (
	"net/http"
	"slices"
	"strconv"
	"strings"

	"unigate/web"
)

// The language of the portal pages: English or French (web.Locales).

// langCookie remembers a language chosen with ?lang= or on the settings page.
const langCookie = "unigate_lang"

// langCookieMaxAge: a year, in seconds.
const langCookieMaxAge = 365 * 24 * 60 * 60

// locale is the language of the page answering r, from the first that says:
//
//  1. the lang query parameter ("en" or "fr": the language switch's links);
//  2. the unigate_lang cookie;
//  3. the signed-in account's locale (only once the login is complete: the
//     language of an account that is merely being signed in to is not
//     shown, so the page does not tell whether an address has an account);
//  4. Accept-Language;
//  5. English.
func (s *Server) locale(r *http.Request) string {
	if l := r.URL.Query().Get("lang"); web.Supported(l) {
		return l
	}
	if c, err := r.Cookie(langCookie); err == nil && web.Supported(c.Value) {
		return c.Value
	}
	if l := s.accountLocale(r); l != "" {
		return l
	}
	return acceptLanguage(r.Header.Get("Accept-Language"))
}

// accountLocale is the locale of the account signed in on r, or "". It costs
// a session read and an account read; a failure of either only loses the
// preference.
func (s *Server) accountLocale(r *http.Request) string {
	cur, err := s.loadSession(r)
	if err != nil || cur == nil || !cur.sess.Complete() || cur.sess.AccountID == "" {
		return ""
	}
	acct, err := s.accounts.AccountByID(r.Context(), cur.sess.AccountID)
	if err != nil {
		return ""
	}
	return localeOf(acct.Locale)
}

// localeOf maps a stored tag ("fr", "fr-CA", "en_GB") to a page locale, or "".
func localeOf(tag string) string {
	primary, _, _ := strings.Cut(strings.ToLower(strings.TrimSpace(tag)), "-")
	primary, _, _ = strings.Cut(primary, "_")
	if web.Supported(primary) {
		return primary
	}
	return ""
}

// acceptLanguage picks the preferred supported language of an
// Accept-Language header (RFC 9110 §12.5.4): the highest weight wins, the
// earlier on a tie; "fr-CA" counts as French; English when none is supported.
func acceptLanguage(header string) string {
	best, bestQ := web.DefaultLocale, 0.0
	for part := range strings.SplitSeq(header, ",") {
		tag, params, _ := strings.Cut(part, ";")
		loc := localeOf(tag)
		if loc == "" {
			continue
		}
		q := 1.0
		for p := range strings.SplitSeq(params, ";") {
			name, value, ok := strings.Cut(strings.TrimSpace(p), "=")
			if ok && strings.EqualFold(name, "q") {
				v, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
				if err != nil || v < 0 || v > 1 {
					v = 0
				}
				q = v
			}
		}
		if q > bestQ {
			best, bestQ = loc, q
		}
	}
	return best
}

// requestLocale is locale, and remembers a language asked with ?lang= in the
// cookie. It must run before the answer's header is written.
func (s *Server) requestLocale(w http.ResponseWriter, r *http.Request) string {
	if l := r.URL.Query().Get("lang"); web.Supported(l) {
		if c, err := r.Cookie(langCookie); err != nil || c.Value != l {
			s.setLocaleCookie(w, l)
		}
	}
	return s.locale(r)
}

// setLocaleCookie remembers locale for a year in this host's cookie.
func (s *Server) setLocaleCookie(w http.ResponseWriter, locale string) {
	http.SetCookie(w, &http.Cookie{
		Name: langCookie, Value: locale, Path: "/", MaxAge: langCookieMaxAge,
		HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode,
	})
}

// pageFrame is what page name needs besides its data.
func (s *Server) pageFrame(r *http.Request, name, locale string) web.Frame {
	return web.Frame{Locale: locale, Path: s.switchPath(r, name)}
}

// switchPath is where the language switch of page name, answering r, links
// to: the page itself. A form's answer shown at the form's address links to
// the page the form belongs to, since only GET shows it again; an error on
// a console's own host has no switch (its address belongs to the console).
func (s *Server) switchPath(r *http.Request, name string) string {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		if name == "error" && !s.siteOf(r).account && !strings.HasPrefix(r.URL.Path, "/.auth/") {
			return ""
		}
		return r.URL.RequestURI()
	}
	switch name {
	case "settings":
		return "/settings"
	case "security":
		return "/settings/security"
	case "consoles":
		return "/consoles"
	case "login", "signup":
		if slices.Contains([]string{"/login", "/.auth/login", "/signup"}, r.URL.Path) {
			return r.URL.Path
		}
	}
	return ""
}
