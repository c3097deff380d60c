package gateway

import (
	"net/http"
	"net/netip"
	"net/url"
	"strings"

	"unigate/access"
	"unigate/upstreams"
)

// Forward-auth (CONTRACT §12): an operator's own edge proxy (nginx
// auth_request, Traefik ForwardAuth, Caddy forward_auth, Envoy ext_authz)
// holds a console request and asks the gateway whether it may pass. The
// answer is the decision of package access, the one the gateway's own proxy
// takes, so the two never disagree:
//
//   - 200 and the identity headers of CONTRACT §6 (assertion included), which
//     the proxy copies onto the request it forwards; 200 without them for a
//     public path;
//   - without a session: /forward-auth answers what the client should get
//     (302 to the login page for a navigation, else 401 JSON); nginx only
//     tells 2xx, 401 and 403 apart, so /auth-request answers 401 with the
//     login page in X-Auth-Login-URL for the proxy's error_page; a path that
//     needs a fresher proof (step-up) likewise, toward the step-up page;
//   - anything else: the error's own status and JSON.
//
// The original request is described by headers, so only the proxies of
// trusted_proxies are believed (ASVS V4.1.3): anyone else could name any
// host, path and method, and a client reaching this listener directly gets
// 403 untrusted_proxy whatever it sends.

// Forward-auth endpoints, the label of unigate_forward_auth_requests_total.
const (
	endpointForwardAuth = "forward_auth"
	endpointAuthRequest = "auth_request"
)

// ForwardAuth is the handler of the forward_auth.listen listener.
func (s *Server) ForwardAuth() http.Handler { return s.forwardAuthHandler }

func (s *Server) newForwardAuthHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /forward-auth", func(w http.ResponseWriter, r *http.Request) {
		s.forwardAuth(w, r, endpointForwardAuth)
	})
	// Envoy's ext_authz appends the original path to its path_prefix and
	// keeps the original method; the X-Forwarded-* headers describe the
	// request all the same.
	mux.HandleFunc("/forward-auth/", func(w http.ResponseWriter, r *http.Request) {
		s.forwardAuth(w, r, endpointForwardAuth)
	})
	mux.HandleFunc("GET /auth-request", func(w http.ResponseWriter, r *http.Request) {
		s.forwardAuth(w, r, endpointAuthRequest)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.writeAPIError(w, r, errNotFound)
	})
	return withRequestID(s.withAccessLog(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Nothing of the request is read before its sender is known.
		if !s.trustedPeer(r) {
			s.metrics.forwardAuth.WithLabelValues(endpointOf(r.URL.Path), "untrusted_proxy").Inc()
			s.log(r).Warn("forward-auth request from a peer outside trusted_proxies: refused", "peer", r.RemoteAddr)
			s.writeAPIError(w, r, fail("untrusted_proxy"))
			return
		}
		mux.ServeHTTP(w, r)
	})))
}

func endpointOf(path string) string {
	if path == "/auth-request" {
		return endpointAuthRequest
	}
	return endpointForwardAuth
}

// trustedPeer: the TCP peer (never a forwarded address) is in trusted_proxies.
func (s *Server) trustedPeer(r *http.Request) bool {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	peer := ap.Addr().Unmap().WithZone("")
	for _, p := range s.trusted {
		if p.Contains(peer) {
			return true
		}
	}
	return false
}

// forwardAuth answers one forward-auth request.
func (s *Server) forwardAuth(w http.ResponseWriter, r *http.Request, endpoint string) {
	w.Header().Set("Cache-Control", "no-store")
	result := "error"
	defer func() { s.metrics.forwardAuth.WithLabelValues(endpoint, result).Inc() }()

	orig, err := originalRequest(r, endpoint)
	if err != nil {
		result = "bad_request"
		s.writeAPIError(w, r, err)
		return
	}
	site := s.classify(orig.Host)
	c := site.console
	if c == nil || site.account {
		// Only a console host is guarded this way; the account host is the
		// gateway's own and never sits behind another proxy's auth.
		result = "unknown_host"
		s.writeAPIError(w, r, fail("forward_auth_unknown_host"))
		return
	}
	orig = withSite(orig, site)
	// The console host's /.auth/* paths are routed to the gateway itself
	// and never asked about; if a proxy asks anyway they get the same
	// decision as any path, never a pass of their own.
	d := s.access.Decide(access.Request{HTTP: orig, Host: site.host, Method: orig.Method, Path: upstreams.RequestPath(orig), Console: c.access})
	result = d.Kind.String()
	switch d.Kind {
	case access.Public:
		w.WriteHeader(http.StatusOK)
	case access.Allow:
		assertion, err := s.signer.Assertion(d.Identity)
		if err != nil {
			result = "failed"
			s.writeAPIError(w, r, internal(err))
			return
		}
		upstreams.SetIdentityHeaders(w.Header(), d.Identity, assertion)
		if w.Header().Get(upstreams.HeaderAssertion) == "" {
			// SetIdentityHeaders refused the identity: no partial answer.
			result = "failed"
			s.writeAPIError(w, r, internal(errIdentityRefused))
			return
		}
		w.WriteHeader(http.StatusOK)
	case access.Login:
		s.metrics.unauthenticated.WithLabelValues(c.id).Inc()
		login := s.loginURL(s.originalURL(site.host, orig, d.Path))
		switch {
		case endpoint == endpointAuthRequest:
			w.Header().Set("X-Auth-Login-URL", login)
			s.writeAPIError(w, r, &failure{Code: "unauthenticated", Extra: map[string]any{"login_url": login}})
		case wantsHTML(orig):
			http.Redirect(w, r, login, http.StatusFound)
		default:
			s.writeAPIError(w, r, &failure{Code: "unauthenticated", Extra: map[string]any{"login_url": s.loginURL("")}})
		}
	case access.StepUp:
		// As without a session, toward the step-up page (CONTRACT §11).
		s.metrics.stepUpRequired.WithLabelValues(c.id).Inc()
		page := s.stepUpURL(s.originalURL(site.host, orig, d.Path))
		switch {
		case endpoint == endpointAuthRequest:
			w.Header().Set("X-Auth-Login-URL", page)
			s.writeAPIError(w, r, &failure{Code: "step_up_required", Extra: map[string]any{"login_url": page}})
		case wantsHTML(orig):
			http.Redirect(w, r, page, http.StatusFound)
		default:
			s.writeAPIError(w, r, &failure{Code: "step_up_required", Extra: map[string]any{"login_url": page}})
		}
	case access.Redirect:
		if endpoint == endpointForwardAuth {
			// Traefik and Caddy hand this answer to the client as it is.
			target := s.siteURL(site.host) + d.Path
			if orig.URL.RawQuery != "" {
				target += "?" + orig.URL.RawQuery
			}
			w.Header().Set("Location", target)
			w.WriteHeader(http.StatusPermanentRedirect)
			return
		}
		s.writeAPIError(w, r, access.ErrInvalidPath)
	case access.ChooseAccount:
		if endpoint == endpointForwardAuth && wantsHTML(orig) {
			http.Redirect(w, r, s.chooserURL(c.id, s.originalURL(site.host, orig, d.Path)), http.StatusFound)
			return
		}
		s.forwardAuthError(w, r, orig, endpoint, d.Err)
	default: // BadPath, Forbidden, Unavailable, Failed: the error says which status
		s.forwardAuthError(w, r, orig, endpoint, d.Err)
	}
}

// forwardAuthError answers a refusal. Traefik, Caddy and Envoy hand the
// answer of /forward-auth to the client: a browser navigation gets the page
// the gateway's own proxy would show, anything else JSON. nginx shows its
// own page for /auth-request, which answers JSON.
func (s *Server) forwardAuthError(w http.ResponseWriter, r, orig *http.Request, endpoint string, err error) {
	if endpoint == endpointForwardAuth {
		s.consoleError(w, orig, err)
		return
	}
	s.writeAPIError(w, r, err)
}

var errIdentityRefused = fail("internal_error")

// originalRequest rebuilds the request the proxy holds from the headers
// that describe it: X-Original-URL (nginx, /auth-request only) or the
// X-Forwarded-Method, -Proto, -Host and -Uri set. It keeps r's other
// headers (Cookie, Accept), which the proxies pass on from the client.
func originalRequest(r *http.Request, endpoint string) (*http.Request, error) {
	h := r.Header
	method := h.Get("X-Forwarded-Method")
	if m := h.Get("X-Original-Method"); endpoint == endpointAuthRequest && m != "" {
		method = m
	}
	if method == "" {
		method = http.MethodGet
	}
	if !validMethod(method) {
		return nil, errForwardedRequest
	}
	var host, uri string
	if rest, ok := strings.CutPrefix(r.URL.EscapedPath(), "/forward-auth/"); ok && endpoint == endpointForwardAuth {
		// Envoy's ext_authz: the original request is this request, its path
		// after the prefix, its Host and its method. Headers a client could
		// have sent (X-Forwarded-Uri, -Host) are not read here: a request to
		// /billing/ that named "/" in them would be judged as "/".
		host, uri, method = r.Host, "/"+rest, r.Method
		if r.URL.RawQuery != "" {
			uri += "?" + r.URL.RawQuery
		}
		if !validMethod(method) {
			return nil, errForwardedRequest
		}
	} else if raw := h.Get("X-Original-URL"); endpoint == endpointAuthRequest && raw != "" {
		// An absolute URL: RequestPath reads its path as it was written.
		uri, _, _ = strings.Cut(raw, "#")
		u, err := url.ParseRequestURI(uri)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.User != nil {
			return nil, errForwardedRequest
		}
		host = u.Host
	} else {
		host, uri = h.Get("X-Forwarded-Host"), h.Get("X-Forwarded-Uri")
		if i := strings.IndexByte(host, ','); i >= 0 {
			host = strings.TrimSpace(host[:i]) // the first proxy's view
		}
		// No path named is no request described: judging it as "/" would
		// let a public "/" (or a path without step-up) stand for every path.
		if uri == "" || !strings.HasPrefix(uri, "/") {
			return nil, errForwardedRequest
		}
	}
	if host == "" || !validHostPort(host) {
		return nil, errForwardedRequest
	}
	u, err := url.ParseRequestURI(uri)
	if err != nil {
		return nil, errForwardedRequest
	}
	orig := r.Clone(r.Context())
	orig.Method = method
	orig.Host = host
	orig.URL = u
	orig.RequestURI = uri
	return orig, nil
}

var errForwardedRequest = fail("invalid_forwarded_request")

// validMethod: a method token (RFC 9110 §9.1), nothing a header could smuggle.
func validMethod(m string) bool {
	if len(m) > 32 {
		return false
	}
	for i := 0; i < len(m); i++ {
		c := m[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return m != ""
}
