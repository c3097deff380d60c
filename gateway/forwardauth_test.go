package gateway

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"unigate/config"
	"unigate/session"
	"unigate/upstreams"
)

func trustLoopback(c *config.Config) { c.TrustedProxies = []string{"127.0.0.1/32"} }

// forwardAuthAsk sends one forward-auth request from peer with headers kv.
func forwardAuthAsk(h *harness, peer, path string, kv ...string) *httptest.ResponseRecorder {
	h.t.Helper()
	req := httptest.NewRequest("GET", "http://127.0.0.1:9091"+path, nil)
	req.RemoteAddr = peer
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i] == "Host" {
			req.Host = kv[i+1] // Envoy's check request carries the original Host
			continue
		}
		req.Header.Set(kv[i], kv[i+1]) // a later pair replaces an earlier one
	}
	rec := httptest.NewRecorder()
	h.gw.ForwardAuth().ServeHTTP(rec, req)
	return rec
}

func forwarded(host, uri string, extra ...string) []string {
	return append([]string{"X-Forwarded-Method", "GET", "X-Forwarded-Proto", "http", "X-Forwarded-Host", host, "X-Forwarded-Uri", uri}, extra...)
}

func authHeaders(h http.Header) []string {
	var names []string
	for k := range h {
		if strings.HasPrefix(strings.ToLower(k), "x-auth-") && k != "X-Auth-Login-Url" {
			names = append(names, k)
		}
	}
	return names
}

func TestForwardAuthAnswers(t *testing.T) {
	h := newHarness(t, trustLoopback)
	h.createAccount("fa@example.com", "correct horse battery staple")
	b := h.browser()
	b.login("fa@example.com", "correct horse battery staple")
	b.enter("dedibox")
	c := b.cookie("console.online.test")
	if c == nil {
		t.Fatal("no session cookie on the console host after the handoff")
	}
	cookie := c.Name + "=" + c.Value
	accountCookie := b.cookie("account.test")
	const trusted, untrusted = "127.0.0.1:40000", "192.0.2.7:40000"
	const html = "text/html,application/xhtml+xml"
	const dedibox = "console.online.test:8080"

	tests := []struct {
		name       string
		peer, path string
		headers    []string
		wantStatus int
		wantCode   string // JSON error
		wantIdent  bool
		wantLoc    string // Location or X-Auth-Login-URL, prefix
	}{
		{name: "untrusted peer with a session and spoofed headers", peer: untrusted, path: "/forward-auth",
			headers:    forwarded(dedibox, "/servers", "Cookie", cookie, "X-Forwarded-For", "127.0.0.1", "X-Auth-User-Id", "admin"),
			wantStatus: 403, wantCode: "untrusted_proxy"},
		{name: "untrusted peer on auth-request", peer: untrusted, path: "/auth-request",
			headers:    []string{"X-Original-URL", "http://" + dedibox + "/servers", "Cookie", cookie},
			wantStatus: 403, wantCode: "untrusted_proxy"},
		{name: "session: identity", peer: trusted, path: "/forward-auth",
			headers: forwarded(dedibox, "/servers?x=1", "Cookie", cookie), wantStatus: 200, wantIdent: true},
		{name: "session on auth-request with X-Original-URL", peer: trusted, path: "/auth-request",
			headers:    []string{"X-Original-URL", "http://" + dedibox + "/servers?x=1", "Cookie", cookie},
			wantStatus: 200, wantIdent: true},
		{name: "session on auth-request with the forwarded set", peer: trusted, path: "/auth-request",
			headers: forwarded(dedibox, "/servers", "Cookie", cookie), wantStatus: 200, wantIdent: true},
		{name: "public path: no identity", peer: trusted, path: "/forward-auth",
			headers: forwarded(dedibox, "/api/v1/ping", "Cookie", cookie), wantStatus: 200},
		{name: "the gateway's own paths get no pass of their own", peer: trusted, path: "/auth-request",
			headers: forwarded(dedibox, "/.auth/handoff?code=x"), wantStatus: 401, wantCode: "unauthenticated"},
		{name: "a dot segment out of /.auth/ is no pass either", peer: trusted, path: "/auth-request",
			headers: forwarded(dedibox, "/.auth/../servers"), wantStatus: 400, wantCode: "invalid_path"},
		{name: "no session, navigation: login redirect", peer: trusted, path: "/forward-auth",
			headers: forwarded(dedibox, "/servers?x=1", "Accept", html), wantStatus: 302,
			wantLoc: accountURL + "/login?return_to=" + url.QueryEscape(dediboxURL+"/servers?x=1")},
		{name: "no session, API call: 401 JSON", peer: trusted, path: "/forward-auth",
			headers: forwarded(dedibox, "/servers"), wantStatus: 401, wantCode: "unauthenticated"},
		{name: "no session, POST navigation: 401", peer: trusted, path: "/forward-auth",
			headers: append(forwarded(dedibox, "/servers", "Accept", html), "X-Forwarded-Method", "POST"), wantStatus: 401, wantCode: "unauthenticated"},
		{name: "no session on auth-request: 401 and the login URL", peer: trusted, path: "/auth-request",
			headers: []string{"X-Original-URL", "http://" + dedibox + "/servers", "Accept", html}, wantStatus: 401, wantCode: "unauthenticated",
			wantLoc: accountURL + "/login?return_to=" + url.QueryEscape(dediboxURL+"/servers")},
		{name: "another host's cookie is no session here", peer: trusted, path: "/forward-auth",
			headers: forwarded("console.scaleway.test", "/", "Cookie", cookie), wantStatus: 401, wantCode: "unauthenticated"},
		{name: "the account host's cookie is no session on a console", peer: trusted, path: "/forward-auth",
			headers: forwarded(dedibox, "/", "Cookie", accountCookie.Name+"="+accountCookie.Value), wantStatus: 401, wantCode: "unauthenticated"},
		{name: "unknown host", peer: trusted, path: "/forward-auth",
			headers: forwarded("evil.test", "/", "Cookie", cookie), wantStatus: 403, wantCode: "forward_auth_unknown_host"},
		{name: "the account host is not guarded this way", peer: trusted, path: "/forward-auth",
			headers: forwarded("account.test", "/settings", "Cookie", cookie), wantStatus: 403, wantCode: "forward_auth_unknown_host"},
		{name: "non-canonical path: redirect to the canonical one", peer: trusted, path: "/forward-auth",
			headers: forwarded(dedibox, "/api/../servers", "Cookie", cookie), wantStatus: 308, wantLoc: dediboxURL + "/servers"},
		{name: "non-canonical public-looking path on auth-request: refused", peer: trusted, path: "/auth-request",
			headers: forwarded(dedibox, "/api/..%2fservers", "Cookie", cookie), wantStatus: 400, wantCode: "invalid_path"},
		{name: "no forwarded host", peer: trusted, path: "/forward-auth",
			headers: []string{"X-Forwarded-Uri", "/", "Cookie", cookie}, wantStatus: 400, wantCode: "invalid_forwarded_request"},
		{name: "relative X-Original-URL", peer: trusted, path: "/auth-request",
			headers: []string{"X-Original-URL", "/servers", "Cookie", cookie}, wantStatus: 400, wantCode: "invalid_forwarded_request"},
		{name: "a method that is no token", peer: trusted, path: "/forward-auth",
			headers: append(forwarded(dedibox, "/"), "X-Forwarded-Method", "GET /x"), wantStatus: 400, wantCode: "invalid_forwarded_request"},
		{name: "another path of the listener", peer: trusted, path: "/servers", wantStatus: 404, wantCode: "not_found"},
		// A forwarded set without its path describes no request: it is not
		// judged as "/" (a public "/", or one without step-up, would stand
		// for every path).
		{name: "no forwarded path", peer: trusted, path: "/forward-auth",
			headers:    []string{"X-Forwarded-Host", dedibox, "Cookie", cookie},
			wantStatus: 400, wantCode: "invalid_forwarded_request"},
		// Envoy: the original path is the one after /forward-auth/, the host
		// the request's own; a client's X-Forwarded-Uri naming a public path
		// changes nothing.
		{name: "envoy: session on the path after the prefix", peer: trusted, path: "/forward-auth/servers",
			headers: []string{"Host", dedibox, "Cookie", cookie}, wantStatus: 200, wantIdent: true},
		{name: "envoy: a spoofed public X-Forwarded-Uri is not read", peer: trusted, path: "/forward-auth/servers",
			headers:    []string{"Host", dedibox, "X-Forwarded-Host", dedibox, "X-Forwarded-Uri", "/api/v1/ping"},
			wantStatus: 401, wantCode: "unauthenticated"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := forwardAuthAsk(h, tt.peer, tt.path, tt.headers...)
			if rec.Code != tt.wantStatus {
				t.Fatalf("got status %d, want %d (%s)", rec.Code, tt.wantStatus, rec.Body)
			}
			if tt.wantCode != "" {
				var body map[string]any
				if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body["error"] != tt.wantCode {
					t.Errorf("got body %s, want error %q", rec.Body, tt.wantCode)
				}
			}
			names := authHeaders(rec.Header())
			if tt.wantIdent {
				checkForwardAuthIdentity(t, h, rec.Header())
			} else if len(names) > 0 {
				t.Errorf("got identity headers %v, want none", names)
			}
			if tt.wantLoc != "" {
				loc := rec.Header().Get("Location")
				if tt.path == "/auth-request" {
					loc = rec.Header().Get("X-Auth-Login-URL")
				}
				if loc != tt.wantLoc {
					t.Errorf("got location %q, want %q", loc, tt.wantLoc)
				}
			}
		})
	}
	if got := counterValue(t, h, "unigate_forward_auth_requests_total", map[string]string{"endpoint": "forward_auth", "result": "untrusted_proxy"}); got != 1 {
		t.Errorf("got %v untrusted_proxy answers counted, want 1", got)
	}
	if got := counterValue(t, h, "unigate_forward_auth_requests_total", map[string]string{"endpoint": "auth_request", "result": "allow"}); got != 2 {
		t.Errorf("got %v auth_request allows counted, want 2", got)
	}
}

// checkForwardAuthIdentity: every identity header of CONTRACT §6 and an
// assertion for the console that verifies with the JWKS.
func checkForwardAuthIdentity(t *testing.T, h *harness, hdr http.Header) {
	t.Helper()
	for name, want := range map[string]string{
		upstreams.HeaderEmail: "fa@example.com", upstreams.HeaderConsole: "dedibox",
		upstreams.HeaderConsoleAccountID: "ded-fa@example.com", upstreams.HeaderMFA: "none", upstreams.HeaderPrelinked: "false",
	} {
		if got := hdr.Get(name); got != want {
			t.Errorf("got %s %q, want %q", name, got, want)
		}
	}
	for _, name := range []string{upstreams.HeaderUserID, upstreams.HeaderSessionID, upstreams.HeaderAssertion} {
		if hdr.Get(name) == "" {
			t.Errorf("got no %s", name)
		}
	}
	checkForwardAuthAssertion(t, h, hdr)
}

// checkForwardAuthAssertion: the assertion verifies with the JWKS and names
// the user of X-Auth-User-Id and the console of X-Auth-Console.
func checkForwardAuthAssertion(t *testing.T, h *harness, hdr http.Header) {
	t.Helper()
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(h.signer.JWKS(), &set); err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.ParseSigned(hdr.Get(upstreams.HeaderAssertion), []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatal(err)
	}
	var claims jwt.Claims
	if err := tok.Claims(set, &claims); err != nil {
		t.Fatalf("assertion does not verify with the JWKS: %v", err)
	}
	if claims.Subject != hdr.Get(upstreams.HeaderUserID) || !claims.Audience.Contains(hdr.Get(upstreams.HeaderConsole)) {
		t.Errorf("got sub %q aud %v, want the user and dedibox", claims.Subject, claims.Audience)
	}
}

func TestForwardAuthTrustsNoOneByDefault(t *testing.T) {
	h := newHarness(t) // trusted_proxies: []
	rec := forwardAuthAsk(h, "127.0.0.1:40000", "/forward-auth", forwarded("console.online.test", "/api/x")...)
	if rec.Code != http.StatusForbidden {
		t.Fatalf("got %d, want 403: no proxy is trusted", rec.Code)
	}
}

// TestForwardAuthStoreDownFailsClosed: a session store that does not
// answer is never a pass: 503 and no identity (CONTRACT §7).
func TestForwardAuthStoreDownFailsClosed(t *testing.T) {
	store := &failingStore{Store: session.NewMemoryStore(nil)}
	h := newHarnessWithStore(t, store, trustLoopback)
	h.createAccount("down@example.com", "correct horse battery")
	b := h.browser()
	b.login("down@example.com", "correct horse battery")
	b.enter("dedibox")
	c := b.cookie("console.online.test")
	store.down.Store(true)
	for _, path := range []string{"/forward-auth", "/auth-request"} {
		rec := forwardAuthAsk(h, "127.0.0.1:40000", path, forwarded("console.online.test", "/servers", "Cookie", c.Name+"="+c.Value)...)
		if rec.Code != http.StatusServiceUnavailable || len(authHeaders(rec.Header())) > 0 {
			t.Errorf("%s while the store is down: got %d with %v, want 503 and no identity", path, rec.Code, authHeaders(rec.Header()))
		}
	}
	// A navigation through Traefik or Caddy gets the gateway's page.
	rec := forwardAuthAsk(h, "127.0.0.1:40000", "/forward-auth", forwarded("console.online.test", "/servers", "Cookie", c.Name+"="+c.Value, "Accept", "text/html")...)
	if rec.Code != http.StatusServiceUnavailable || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") {
		t.Errorf("a navigation while the store is down: got %d %q, want 503 and a page", rec.Code, rec.Header().Get("Content-Type"))
	}
	// Public paths need no session: they still pass.
	if rec := forwardAuthAsk(h, "127.0.0.1:40000", "/forward-auth", forwarded("console.online.test", "/api/x")...); rec.Code != http.StatusOK {
		t.Errorf("a public path while the store is down: got %d, want 200", rec.Code)
	}
}

// FuzzOriginalRequest: whatever the headers say, originalRequest never
// panics, and what it accepts names a valid host and an origin-form path
// or an absolute URL of http(s).
func FuzzOriginalRequest(f *testing.F) {
	for _, seed := range [][4]string{
		{"GET", "console.online.test:8080", "/servers?x=1", ""},
		{"POST", "console.online.test", "/api/../x", ""},
		{"", "", "", "http://console.online.test/servers"},
		{"GET /x", "evil", "relative", "/servers"},
		{"GET", "a,b", "//x", "https://u:p@h/"},
		{"GET", "[::1]:80", "/%2e%2e/", "http://[::1/"},
	} {
		f.Add(seed[0], seed[1], seed[2], seed[3])
	}
	f.Fuzz(func(t *testing.T, method, host, uri, original string) {
		for _, endpoint := range []string{endpointForwardAuth, endpointAuthRequest} {
			r := httptest.NewRequest("GET", "http://127.0.0.1:9091/x", nil)
			for k, v := range map[string]string{"X-Forwarded-Method": method, "X-Forwarded-Host": host, "X-Forwarded-Uri": uri, "X-Original-URL": original} {
				if v != "" {
					r.Header[k] = []string{v}
				}
			}
			orig, err := originalRequest(r, endpoint)
			if err != nil {
				continue
			}
			if !validHostPort(orig.Host) || !validMethod(orig.Method) {
				t.Fatalf("accepted host %q method %q", orig.Host, orig.Method)
			}
			if !strings.HasPrefix(orig.RequestURI, "/") && !strings.HasPrefix(orig.RequestURI, "http://") && !strings.HasPrefix(orig.RequestURI, "https://") {
				t.Fatalf("accepted request target %q", orig.RequestURI)
			}
		}
	})
}
