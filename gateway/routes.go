package gateway

import (
	"net/http"
	"net/netip"
	"strings"

	"unigate/access"
	"unigate/upstreams"
	"unigate/web"
)

// routes builds the whole public surface. Every route of the gateway is
// listed here (STYLE.md: find any behaviour from its route in three jumps).
func (s *Server) routes() http.Handler {
	account := http.NewServeMux()

	// Portal pages (server-rendered, work without JavaScript).
	account.HandleFunc("GET /{$}", s.pageHome)
	account.HandleFunc("GET /login", s.pageLogin)
	// Every login step's form (the same login steps as the API below): a
	// completed login may enter its return_to console (completeLogin).
	account.HandleFunc("POST /login", s.pageLoginSubmit)
	account.HandleFunc("GET /login/sso/{provider}", s.ssoLoginStart)
	// Step-up (CONTRACT §11): a fresh proof for a console path, then back.
	account.HandleFunc("GET /login/step-up", s.pageStepUp)
	account.HandleFunc("POST /login/step-up", s.pageStepUpSubmit)
	account.HandleFunc("GET /sso/{provider}/callback", s.ssoCallback)
	account.HandleFunc("POST /settings/security/sso/{provider}", s.securityRedirect(needsRecentProof, s.pageSSOLink))
	account.HandleFunc("POST /settings/security/sso/{provider}/delete", s.securityForm(needsRecentProof, s.pageSSOUnlink))
	account.HandleFunc("GET /orgs", s.pageOrgs)
	account.HandleFunc("POST /orgs", s.pageCreateOrg)
	account.HandleFunc("GET /orgs/{id}", s.pageOrg)
	account.HandleFunc("POST /orgs/{id}/invitations", s.pageInvite)
	account.HandleFunc("POST /orgs/{id}/members/{account_id}/role", s.pageMemberRole)
	account.HandleFunc("POST /orgs/{id}/members/{account_id}/remove", s.pageMemberRemove)
	account.HandleFunc("POST /orgs/{id}/name", s.pageRenameOrg)
	account.HandleFunc("POST /orgs/{id}/mfa", s.pageOrgMFA)
	account.HandleFunc("GET /invitations/{token}", s.pageInvitation)
	account.HandleFunc("POST /invitations/{token}/accept", s.pageAcceptInvitation)
	account.HandleFunc("GET /signup", s.pageSignup)
	account.HandleFunc("POST /signup", s.pageSignupSubmit)
	account.HandleFunc("GET /consoles", s.pageConsoles)
	account.HandleFunc("POST /consoles/{id}/enter", s.pageEnter)
	account.HandleFunc("POST /logout", s.pageLogout)
	account.HandleFunc("GET /settings", s.pageSettings)
	account.HandleFunc("POST /settings/password", s.settingsForm(needsRecentProof, s.pagePasswordChange))
	account.HandleFunc("POST /settings/locale", s.settingsForm(needsSession, s.pageSetLocale))
	account.HandleFunc("POST /settings/profile", s.settingsForm(needsSession, s.pageSetName))
	account.HandleFunc("POST /settings/sessions/{id}/revoke", s.settingsForm(needsSession, s.pageSessionRevoke))
	account.HandleFunc("POST /settings/sessions/revoke-all", s.settingsForm(needsSession, s.pageSignOutEverywhere))
	account.HandleFunc("GET /settings/security", s.pageSecurity)
	account.HandleFunc("POST /settings/security/reauth", s.securityForm(needsSession, s.pageReauth))
	account.HandleFunc("POST /settings/security/totp", s.securityForm(needsRecentProof, s.pageTOTPStart))
	account.HandleFunc("POST /settings/security/totp/confirm", s.securityForm(needsRecentProof, s.pageTOTPConfirm))
	account.HandleFunc("POST /settings/security/totp/delete", s.securityForm(needsRecentProof, s.pageTOTPDelete))
	account.HandleFunc("POST /settings/security/passkeys/{id}/delete", s.securityForm(needsRecentProof, s.pagePasskeyDelete))
	account.Handle("GET /static/", http.StripPrefix("/static/", web.Static()))

	// JSON API (CONTRACT §5).
	api := http.NewServeMux()
	// The login steps (package login). A step that completes the login
	// rotates the session and, when the login's return_to is a console,
	// ENTERS THAT CONSOLE (completeLogin -> enterConsoleAfterLogin: it may
	// create the console account or queue its provisioning).
	api.Handle("GET /api/v1/login/state", s.api(s.apiLoginState))
	api.Handle("POST /api/v1/login/identify", s.api(s.apiIdentify))
	api.Handle("POST /api/v1/login/password", s.api(s.needLoginInProgress("password", s.login.Password)))
	api.Handle("POST /api/v1/login/password/set", s.api(s.needLoginInProgress("password", s.login.SetPassword)))
	api.Handle("POST /api/v1/login/email-code", s.api(s.apiEmailCode))
	api.Handle("POST /api/v1/login/email-code/verify", s.api(s.needLoginInProgress("code", s.login.VerifyEmailCode)))
	api.Handle("POST /api/v1/login/reset", s.api(s.apiReset))
	api.Handle("POST /api/v1/login/reset/verify", s.api(s.needLoginInProgress("code", s.login.VerifyReset)))
	api.Handle("POST /api/v1/login/recovery-code", s.api(s.needLoginInProgress("code", s.login.RecoveryCode)))
	api.Handle("POST /api/v1/login/totp", s.api(s.needLoginInProgress("code", s.login.TOTP)))
	// Before any identify too, for passkey autofill (autofill.go).
	api.Handle("POST /api/v1/login/passkey/options", s.api(s.apiLoginPasskeyOptions))
	api.Handle("POST /api/v1/login/passkey", s.api(s.apiLoginPasskey))
	api.Handle("POST /api/v1/signup", s.api(s.apiSignup))
	api.Handle("POST /api/v1/signup/verify", s.api(s.needLoginInProgress("code", s.login.VerifySignup)))
	api.Handle("GET /api/v1/session", s.api(s.apiSession))
	api.Handle("GET /api/v1/consoles", s.api(s.apiConsoles))
	api.Handle("POST /api/v1/consoles/{id}/enter", s.api(s.apiEnter))
	api.Handle("POST /api/v1/logout", s.api(s.apiLogout))
	api.Handle("GET /api/v1/me/profile", s.api(s.apiProfile))
	api.Handle("PATCH /api/v1/me/profile", s.api(s.apiPatchProfile))
	api.Handle("GET /api/v1/me/sessions", s.api(s.needSession(s.apiListSessions)))
	api.Handle("DELETE /api/v1/me/sessions/{id}", s.api(s.needSession(s.apiRevokeSession)))
	api.Handle("GET /api/v1/login/sso/{provider}", http.HandlerFunc(s.ssoLoginStart))
	api.Handle("GET /api/v1/me/sso", s.api(s.needSession(s.apiSSOList)))
	api.Handle("POST /api/v1/me/sso/{provider}", s.api(s.needRecentProof(s.apiSSOLink)))
	api.Handle("DELETE /api/v1/me/sso/{provider}", s.api(s.needRecentProof(s.apiSSOUnlink)))
	api.Handle("GET /api/v1/orgs", s.api(s.apiOrgs))
	api.Handle("POST /api/v1/orgs", s.api(s.apiCreateOrg))
	api.Handle("PATCH /api/v1/orgs/{id}", s.api(s.apiPatchOrg))
	api.Handle("GET /api/v1/orgs/{id}/members", s.api(s.apiMembers))
	api.Handle("POST /api/v1/orgs/{id}/invitations", s.api(s.apiInvite))
	api.Handle("PATCH /api/v1/orgs/{id}/members/{account_id}", s.api(s.apiPatchMember))
	api.Handle("DELETE /api/v1/orgs/{id}/members/{account_id}", s.api(s.apiDeleteMember))
	api.Handle("POST /api/v1/invitations/{token}/accept", s.api(s.apiAcceptInvitation))
	api.Handle("POST /api/v1/me/reauth", s.api(s.needSession(s.apiReauth)))
	api.Handle("POST /api/v1/me/reauth/passkey/options", s.api(s.needSession(s.apiReauthPasskeyOptions)))
	api.Handle("POST /api/v1/me/reauth/passkey", s.api(s.needSession(s.apiReauthPasskey)))
	api.Handle("POST /api/v1/me/password", s.api(s.needRecentProof(s.apiChangePassword)))
	api.Handle("GET /api/v1/me/mfa", s.api(s.needSession(s.apiMFA)))
	api.Handle("POST /api/v1/me/mfa/totp", s.api(s.needEnrollment(s.apiTOTPEnroll)))
	api.Handle("POST /api/v1/me/mfa/totp/confirm", s.api(s.needEnrollment(s.apiTOTPConfirm)))
	api.Handle("DELETE /api/v1/me/mfa/totp", s.api(s.needRecentProof(s.apiTOTPDelete)))
	api.Handle("POST /api/v1/me/mfa/passkeys/options", s.api(s.needEnrollment(s.apiPasskeyRegisterOptions)))
	api.Handle("POST /api/v1/me/mfa/passkeys", s.api(s.needEnrollment(s.apiPasskeyRegister)))
	api.Handle("DELETE /api/v1/me/mfa/passkeys/{id}", s.api(s.needRecentProof(s.apiPasskeyDelete)))
	api.Handle("POST /api/v1/me/mfa/recovery-codes", s.api(s.needRecentProof(s.apiRecoveryCodesCreate)))
	api.Handle("GET /api/v1/me/mfa/recovery-codes", s.api(s.needSession(s.apiRecoveryCodes)))
	api.Handle("/api/", s.api(func(w http.ResponseWriter, r *http.Request) error { return errNotFound }))
	account.Handle("/api/", s.jsonMethodNotAllowed(api))

	// Keys to verify X-Auth-Assertion (CONTRACT §6), and probes.
	account.HandleFunc("GET /.well-known/jwks.json", s.jwks)
	account.HandleFunc("GET /healthz", s.healthz)
	account.HandleFunc("GET /readyz", s.readyz)

	// The console-host endpoints also answer on the account host, for
	// consoles mounted there by path_prefix.
	account.HandleFunc("GET /.auth/switch/{console}", s.switchConsole)
	account.HandleFunc("POST /.auth/logout", s.consoleLogout)
	// Step 2 of the cross-host handoff: bind a code to the browser that asked for it.
	account.HandleFunc("GET /.auth/bind", s.handoffBind)

	// Console hosts: /.auth/* is the gateway's; everything else is proxied.
	auth := http.NewServeMux()
	auth.HandleFunc("GET /.auth/handoff", s.handoff)
	auth.HandleFunc("GET /.auth/bind", s.handoffBind)
	auth.HandleFunc("GET /.auth/switch/{console}", s.switchConsole)
	auth.HandleFunc("POST /.auth/logout", s.consoleLogout)
	// The legacy login on a console's own host (CONTRACT §4).
	auth.HandleFunc("GET /.auth/login", s.legacyOnly(s.pageLogin))
	auth.HandleFunc("POST /.auth/login", s.legacyOnly(s.pageLoginSubmit))
	auth.Handle("GET /.auth/api/v1/login/state", s.legacyOnly(s.api(s.apiLoginState).ServeHTTP))
	auth.Handle("POST /.auth/api/v1/login/identify", s.legacyOnly(s.api(s.apiIdentify).ServeHTTP))
	auth.Handle("POST /.auth/api/v1/login/password", s.legacyOnly(s.api(s.needLoginInProgress("password", s.login.Password)).ServeHTTP))
	auth.Handle("POST /.auth/api/v1/login/password/set", s.legacyOnly(s.api(s.needLoginInProgress("password", s.login.SetPassword)).ServeHTTP))
	auth.Handle("POST /.auth/api/v1/login/email-code", s.legacyOnly(s.api(s.apiEmailCode).ServeHTTP))
	auth.Handle("POST /.auth/api/v1/login/email-code/verify", s.legacyOnly(s.api(s.needLoginInProgress("code", s.login.VerifyEmailCode)).ServeHTTP))
	auth.Handle("POST /.auth/api/v1/login/reset", s.legacyOnly(s.api(s.apiReset).ServeHTTP))
	auth.Handle("POST /.auth/api/v1/login/reset/verify", s.legacyOnly(s.api(s.needLoginInProgress("code", s.login.VerifyReset)).ServeHTTP))
	auth.Handle("POST /.auth/api/v1/login/recovery-code", s.legacyOnly(s.api(s.needLoginInProgress("code", s.login.RecoveryCode)).ServeHTTP))
	auth.Handle("POST /.auth/api/v1/login/totp", s.legacyOnly(s.api(s.needLoginInProgress("code", s.login.TOTP)).ServeHTTP))
	auth.HandleFunc("/.auth/", func(w http.ResponseWriter, r *http.Request) { s.consoleError(w, r, errNotFound) })

	// Cross-origin browser writes are refused everywhere the gateway answers
	// itself (CONTRACT §5, SECURITY family 4); proxied console traffic keeps
	// the consoles' own rules.
	csrf := http.NewCrossOriginProtection()
	accountSite := withBodyReadDeadline(ownBodyReadTimeout, csrf.Handler(s.withSecurityHeaders(account)))
	authSite := withBodyReadDeadline(ownBodyReadTimeout, csrf.Handler(s.withSecurityHeaders(auth)))

	// The host is classified here, once, and handed down: as an argument to
	// serveConsole, through the request's context (siteOf) to the sites.
	top := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !validHostPort(r.Host) {
			// A Host whose "port" is not a number would be forwarded as is
			// (Host header poisoning of the consoles' absolute URLs and caches).
			s.securityHeaders(w.Header())
			s.writeAPIError(w, r, fail("invalid_host"))
			return
		}
		site := s.classify(r.Host)
		if site.account {
			// One canonical path before any decision, here too (ASVS V1.1.1).
			canonical, ok := s.canonicalOrAnswer(w, r)
			if !ok {
				return
			}
			if c := s.mountFor(canonical); c != nil {
				if canonical == strings.TrimSuffix(c.prefix, "/") {
					http.Redirect(w, r, c.prefix, http.StatusPermanentRedirect)
					return
				}
				s.serveConsole(w, r, c, site, canonical)
				return
			}
			accountSite.ServeHTTP(w, withSite(r, site))
			return
		}
		c := site.console
		if c == nil {
			// Unknown host: 421 Misdirected Request (CONTRACT §3).
			s.securityHeaders(w.Header())
			s.writeAPIError(w, r, fail("unknown_host"))
			return
		}
		if p := r.URL.Path; p == "/.auth" || strings.HasPrefix(p, "/.auth/") {
			authSite.ServeHTTP(w, withSite(r, site))
			return
		}
		canonical, ok := s.canonicalOrAnswer(w, r)
		if !ok {
			return
		}
		if r.Method == http.MethodGet && c.isLegacyLoginPath(canonical) {
			// An old bookmark of the console's login page: the legacy login.
			s.withSecurityHeaders(http.HandlerFunc(s.pageLogin)).ServeHTTP(w, withSite(r, site))
			return
		}
		s.serveConsole(w, r, c, site, canonical)
	})
	return withRequestID(s.withAccessLog(top))
}

// jsonMethodNotAllowed answers a known API path asked with the wrong method
// with a JSON 405 and Allow, rather than net/http's plain text.
func (s *Server) jsonMethodNotAllowed(api *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := api.Handler(r); pattern != "/api/" {
			api.ServeHTTP(w, r)
			return
		}
		var allow []string
		for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPatch, http.MethodDelete} {
			probe := r.Clone(r.Context())
			probe.Method = m
			if _, p := api.Handler(probe); p != "/api/" && p != "" {
				allow = append(allow, m)
			}
		}
		if len(allow) == 0 {
			api.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Allow", strings.Join(allow, ", "))
		s.writeAPIError(w, r, fail("method_not_allowed"))
	})
}

// validHostPort accepts host, host:port and [v6]:port with a numeric port.
func validHostPort(hostport string) bool {
	host, port := hostport, ""
	if strings.HasPrefix(hostport, "[") {
		i := strings.IndexByte(hostport, ']')
		if i < 0 {
			return false
		}
		host, port = hostport[:i+1], strings.TrimPrefix(hostport[i+1:], ":")
		if rest := hostport[i+1:]; rest != "" && !strings.HasPrefix(rest, ":") {
			return false
		}
	} else if i := strings.LastIndexByte(hostport, ':'); i >= 0 {
		host, port = hostport[:i], hostport[i+1:]
	}
	if strings.HasPrefix(host, "[") {
		// Brackets hold an IPv6 address and nothing else (RFC 3986 §3.2.2).
		if a, err := netip.ParseAddr(host[1 : len(host)-1]); err != nil || !a.Is6() || a.Zone() != "" {
			return false
		}
	} else if host == "" || strings.ContainsAny(host, ":/\\@ ,%?#") {
		return false
	}
	if len(port) > 5 {
		return false
	}
	for _, c := range port {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// mountFor finds the path_prefix console a canonical path on the account host belongs to.
func (s *Server) mountFor(canonical string) *consoleSite {
	for _, m := range s.mounts {
		if canonical == strings.TrimSuffix(m.prefix, "/") || strings.HasPrefix(canonical, m.prefix) {
			return m
		}
	}
	return nil
}

// canonicalOrAnswer returns the request's canonical path, or answers: a
// redirect to the canonical form for GET/HEAD, 400 otherwise or when the
// path cannot be canonicalised (CONTRACT §3, ASVS V1.1.1). It is the first
// step of the access decision, taken before the route is known.
func (s *Server) canonicalOrAnswer(w http.ResponseWriter, r *http.Request) (string, bool) {
	// The path as it came on the wire: EscapedPath would re-encode it.
	d, ok := access.CanonicalPath(r.Method, upstreams.RequestPath(r))
	switch {
	case ok:
		return d.Path, true
	case d.Kind == access.Redirect:
		redirectCanonical(w, r, d.Path)
	default:
		s.consoleError(w, r, d.Err)
	}
	return "", false
}

// redirectCanonical sends a GET or HEAD to the canonical spelling of its
// path, the query kept as it came.
func redirectCanonical(w http.ResponseWriter, r *http.Request, canonical string) {
	target := canonical
	if r.URL.RawQuery != "" {
		target += "?" + r.URL.RawQuery
	}
	w.Header().Set("Location", target)
	w.WriteHeader(http.StatusPermanentRedirect)
}

func (s *Server) jwks(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	w.Write(s.signer.JWKS())
}
