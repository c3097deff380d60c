package gateway

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	dto "github.com/prometheus/client_model/go"

	"unigate/accounts"
	"unigate/config"
)

func counterValue(t testing.TB, h *harness, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := h.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for k, v := range labels {
				if !hasLabel(m, k, v) {
					continue next
				}
			}
			if m.Counter != nil {
				return m.Counter.GetValue()
			}
			if m.Histogram != nil {
				return float64(m.Histogram.GetSampleCount())
			}
		}
	}
	return 0
}

func hasLabel(m *dto.Metric, k, v string) bool {
	for _, lp := range m.GetLabel() {
		if lp.GetName() == k && lp.GetValue() == v {
			return true
		}
	}
	return false
}

func TestConsoleWithoutSession(t *testing.T) {
	h := newHarness(t)
	b := h.browser()
	r := b.do("GET", scalewayURL+"/servers?page=2", nil, "Accept", "text/html,application/xhtml+xml")
	if r.StatusCode != http.StatusFound {
		t.Fatalf("browser: got %d, want 302", r.StatusCode)
	}
	want := accountURL + "/login?return_to=" + url.QueryEscape(scalewayURL+"/servers?page=2")
	if got := r.Header.Get("Location"); got != want {
		t.Errorf("Location: got %q, want %q", got, want)
	}
	r = b.do("GET", scalewayURL+"/servers", nil, "Accept", "application/json")
	m := r.json(t)
	if r.StatusCode != 401 || m["error"] != "unauthenticated" || m["login_url"] == "" {
		t.Fatalf("api: %d %s", r.StatusCode, r.body)
	}
	r = b.do("POST", scalewayURL+"/servers", `x=1`, "Accept", "text/html")
	if r.StatusCode != 401 {
		t.Fatalf("POST: got %d, want 401", r.StatusCode)
	}
	if h.scaleway.count() != 0 {
		t.Fatal("upstream reached without a session")
	}
	if got := counterValue(t, h, "unigate_unauthenticated_requests_total", map[string]string{"console": "scaleway"}); got != 3 {
		t.Errorf("unauthenticated metric: got %v, want 3", got)
	}
}

func TestPublicPathsPassUntouched(t *testing.T) {
	h := newHarness(t)
	b := h.browser()
	r := b.do("POST", dediboxURL+"/api/v1/servers?x=1", `{"a":1}`, "Content-Type", "application/json",
		"X-Auth-User-Id", "forged", "X_Auth_Email", "forged@example.com")
	if r.StatusCode != 200 {
		t.Fatalf("public path: %d %s", r.StatusCode, r.body)
	}
	got := h.dedibox.last(t)
	if got.URL.RequestURI() != "/api/v1/servers?x=1" {
		t.Errorf("upstream path: %q", got.URL.RequestURI())
	}
	for k := range got.Header {
		if strings.HasPrefix(strings.ToLower(strings.ReplaceAll(k, "_", "-")), "x-auth-") {
			t.Errorf("public path carried %s", k)
		}
	}
	if got.Host != "console.online.test:8080" {
		t.Errorf("Host: got %q", got.Host)
	}
	// The same spelling tricks never reach a private path as public (SECURITY family 3).
	for _, p := range []string{"/api/../admin", "/api/%2e%2e/admin", "/api/..;/admin", "/api%2fx", "/api/%00"} {
		r := b.do("GET", dediboxURL+p, nil, "Accept", "application/json")
		if r.StatusCode == 200 {
			t.Errorf("%s: reached the upstream", p)
		}
	}
}

func TestCanonicalRedirects(t *testing.T) {
	h := newHarness(t)
	b := h.browser()
	cases := []struct {
		method, path string
		status       int
		location     string
	}{
		{"GET", "/api//x", 308, "/api/x"},
		{"GET", "/a/./b/../c?q=1", 308, "/a/c?q=1"},
		{"GET", "/%61pi/x", 308, "/api/x"},
		{"POST", "/api//x", 400, ""},
		{"GET", "/api%2Fx", 400, ""},
		{"GET", "/api%5Cx", 400, ""},
	}
	for _, tc := range cases {
		r := b.do(tc.method, dediboxURL+tc.path, nil, "Accept", "application/json")
		if r.StatusCode != tc.status || r.Header.Get("Location") != tc.location {
			t.Errorf("%s %s: got %d %q, want %d %q", tc.method, tc.path, r.StatusCode, r.Header.Get("Location"), tc.status, tc.location)
		}
	}
	if h.dedibox.count() != 0 {
		t.Fatal("a non-canonical path reached the upstream")
	}
}

func TestUnknownHost(t *testing.T) {
	h := newHarness(t)
	for _, host := range []string{"evil.test", "console.online.test.evil.test", "account.test.", "xn--ccount-9ua.test"} {
		r := h.browser().do("GET", "http://"+host+"/", nil)
		if r.StatusCode != http.StatusMisdirectedRequest {
			t.Errorf("%s: got %d, want 421", host, r.StatusCode)
		}
	}
}

// The full path: login, enter a console through the handoff, and check what the upstream receives (CONTRACT §6).
func TestProxiedRequestCarriesIdentity(t *testing.T) {
	h := newHarness(t)
	a := h.createAccount("alice@example.com", "correct horse battery")
	b := h.browser()
	b.login("alice@example.com", "correct horse battery")
	b.enter("scaleway")
	if b.cookie("console.scaleway.test") == nil {
		t.Fatal("no cookie on the console host after the handoff")
	}
	r := b.do("GET", scalewayURL+"/instances?zone=fr-par-1", nil,
		"X-Auth-User-Id", "evil", "x-auth-email", "evil@example.com", "X_AUTH_CONSOLE", "dedibox",
		"X-Auth-Assertion", "forged", "Connection", "X-Auth-User-Id, X-Auth-Assertion",
		"Cookie", "theme=dark")
	if r.StatusCode != 200 {
		t.Fatalf("proxied: %d %s", r.StatusCode, r.body)
	}
	got := h.scaleway.last(t)
	want := map[string]string{
		"X-Auth-User-Id":            a.ID,
		"X-Auth-Email":              "alice@example.com",
		"X-Auth-Console":            "scaleway",
		"X-Auth-Console-Account-Id": "scw-alice@example.com",
		"X-Auth-Mfa":                "none",
		"X-Auth-Prelinked":          "false",
	}
	for k, v := range want {
		if vs := got.Header.Values(k); len(vs) != 1 || vs[0] != v {
			t.Errorf("%s: got %q, want %q", k, vs, v)
		}
	}
	for k := range got.Header {
		if strings.Contains(k, "_") {
			t.Errorf("underscore header forwarded: %s", k)
		}
	}
	if got.Header.Get("X-Auth-Session-Id") == "" || got.Header.Get("X-Auth-Organization-Id") != "" {
		t.Errorf("session id %q, organization %q", got.Header.Get("X-Auth-Session-Id"), got.Header.Get("X-Auth-Organization-Id"))
	}
	if c := got.Header.Get("Cookie"); strings.Contains(c, "unigate") || !strings.Contains(c, "theme=dark") {
		t.Errorf("Cookie upstream: %q", c)
	}
	if got.Header.Get("X-Forwarded-Proto") != "http" || got.Header.Get("X-Forwarded-Host") != "console.scaleway.test:8080" {
		t.Errorf("forwarded: proto %q host %q", got.Header.Get("X-Forwarded-Proto"), got.Header.Get("X-Forwarded-Host"))
	}
	if got.URL.RequestURI() != "/instances?zone=fr-par-1" {
		t.Errorf("path: %q", got.URL.RequestURI())
	}
	claims := verifyAssertion(t, h, got.Header.Get("X-Auth-Assertion"))
	if claims["sub"] != a.ID || claims["aud"] != "scaleway" || claims["email"] != "alice@example.com" ||
		claims["console_account_id"] != "scw-alice@example.com" || claims["iss"] != "http://account.test:8080" ||
		claims["sid"] != got.Header.Get("X-Auth-Session-Id") {
		t.Errorf("claims: %v", claims)
	}
	if exp, iat := claims["exp"].(float64), claims["iat"].(float64); exp-iat > 300 || exp <= iat {
		t.Errorf("assertion lifetime: %v s", exp-iat)
	}
	if got := counterValue(t, h, "unigate_proxy_requests_total", map[string]string{"console": "scaleway", "code": "200"}); got != 1 {
		t.Errorf("proxy metric: got %v, want 1", got)
	}
}

func verifyAssertion(t testing.TB, h *harness, token string) map[string]any {
	t.Helper()
	r := h.browser().do("GET", accountURL+"/.well-known/jwks.json", nil)
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(r.body, &set); err != nil || len(set.Keys) != 1 {
		t.Fatalf("jwks: %v %s", err, r.body)
	}
	tok, err := jwt.ParseSigned(token, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatalf("assertion: %v", err)
	}
	if tok.Headers[0].KeyID != set.Keys[0].KeyID {
		t.Errorf("kid %q not in JWKS", tok.Headers[0].KeyID)
	}
	claims := map[string]any{}
	if err := tok.Claims(set.Keys[0].Key, &claims); err != nil {
		t.Fatalf("assertion signature: %v", err)
	}
	return claims
}

func TestHandoffIsSingleUseAndHostBound(t *testing.T) {
	h := newHarness(t)
	h.createAccount("alice@example.com", "correct horse battery")
	b := h.browser()
	b.login("alice@example.com", "correct horse battery")
	r := b.do("POST", accountURL+"/api/v1/consoles/scaleway/enter", map[string]string{"return_to": scalewayURL + "/billing?x=1"})
	next := r.json(t)["redirect"].(string)
	if !strings.HasPrefix(next, scalewayURL+"/.auth/handoff?code=") {
		t.Fatalf("redirect: %q", next)
	}
	u, _ := url.Parse(next)
	// Presented on the other console's host, by the same browser: refused (and burnt).
	r = b.handoff(dediboxURL + u.RequestURI())
	if r.StatusCode != 400 || b.cookies["console.online.test"]["unigate_session"] != nil {
		t.Fatalf("foreign host: got %d %q", r.StatusCode, r.Header.Get("Location"))
	}
	if r := b.handoff(next); r.StatusCode != 400 {
		t.Fatalf("code burnt on the wrong host still works: %d", r.StatusCode)
	}
	// A fresh code works once, and lands on the path asked for.
	r = b.do("POST", accountURL+"/api/v1/consoles/scaleway/enter", map[string]string{"return_to": "/billing?x=1"})
	next = r.json(t)["redirect"].(string)
	first := b.do("GET", next, nil)
	if first.StatusCode != 302 || first.Header.Get("Referrer-Policy") != "no-referrer" {
		t.Fatalf("step 1: %d", first.StatusCode)
	}
	r = b.handoff(next)
	if r.StatusCode != 302 || r.Header.Get("Location") != "/billing?x=1" || r.Header.Get("Referrer-Policy") != "no-referrer" {
		t.Fatalf("handoff: %d Location=%q", r.StatusCode, r.Header.Get("Location"))
	}
	if r := b.handoff(next); r.StatusCode != 400 {
		t.Fatalf("second use: got %d, want 400", r.StatusCode)
	}
	// Expired after handoff_ttl.
	r = b.do("POST", accountURL+"/api/v1/consoles/scaleway/enter", map[string]string{})
	next = r.json(t)["redirect"].(string)
	h.clock.Advance(61 * time.Second)
	if r := b.handoff(next); r.StatusCode != 400 {
		t.Fatalf("expired code: got %d, want 400", r.StatusCode)
	}
}

// A handoff link opened by another browser signs nobody in (login CSRF,
// SECURITY family 4): neither a victim signed in as themselves, nor one
// signed out, nor a victim given a link the attacker already bound.
func TestHandoffBoundToBrowser(t *testing.T) {
	h := newHarness(t)
	h.createAccount("attacker@example.com", "correct horse battery")
	h.createAccount("victim@example.com", "correct horse battery")
	attacker := h.browser()
	attacker.login("attacker@example.com", "correct horse battery")
	mint := func() string {
		r := attacker.do("POST", accountURL+"/api/v1/consoles/dedibox/enter", map[string]string{})
		return r.json(t)["redirect"].(string)
	}

	victim := h.browser()
	victim.login("victim@example.com", "correct horse battery")
	victim.enter("dedibox")
	if r := victim.handoff(mint()); r.StatusCode != 400 {
		t.Fatalf("signed-in victim: got %d %q", r.StatusCode, r.Header.Get("Location"))
	}
	victim.do("GET", dediboxURL+"/who", nil)
	if got := h.dedibox.last(t).Header.Get("X-Auth-Email"); got != "victim@example.com" {
		t.Fatalf("victim's console session replaced by %q", got)
	}

	stranger := h.browser()
	if r := stranger.handoff(mint()); r.StatusCode != 400 {
		t.Fatalf("signed-out stranger: got %d", r.StatusCode)
	}
	if r := stranger.do("GET", dediboxURL+"/who", nil, "Accept", "application/json"); r.StatusCode != 401 {
		t.Fatalf("stranger reached the console: %d", r.StatusCode)
	}

	// The attacker binds a code in their own browser and hands over step 3's link.
	link := mint()
	r := attacker.do("GET", link, nil)
	r = attacker.do("GET", r.Header.Get("Location"), nil)
	step3 := r.Header.Get("Location")
	if !strings.Contains(step3, "bound=1") {
		t.Fatalf("step 3 link: %q", step3)
	}
	if r := stranger.do("GET", step3, nil); r.StatusCode != 400 {
		t.Fatalf("bound link in another browser: got %d", r.StatusCode)
	}
	// And a code not yet bound is refused at step 3.
	if r := attacker.do("GET", mint()+"&bound=1", nil); r.StatusCode != 400 {
		t.Fatalf("unbound code at step 3: got %d", r.StatusCode)
	}
}

// Each host's cookie is its own token: one taken from a host is refused on every other.
func TestCookieBoundToHost(t *testing.T) {
	h := newHarness(t)
	h.createAccount("alice@example.com", "correct horse battery")
	b := h.browser()
	b.login("alice@example.com", "correct horse battery")
	b.enter("scaleway")
	stolen := b.cookie("account.test")
	thief := h.browser()
	thief.cookies["console.scaleway.test"] = map[string]*http.Cookie{stolen.Name: stolen}
	if r := thief.do("GET", scalewayURL+"/", nil, "Accept", "application/json"); r.StatusCode != 401 {
		t.Fatalf("account-host cookie on a console host: got %d, want 401", r.StatusCode)
	}
	console := b.cookie("console.scaleway.test")
	thief.cookies = map[string]map[string]*http.Cookie{"console.online.test": {console.Name: console}}
	if r := thief.do("GET", dediboxURL+"/", nil, "Accept", "application/json"); r.StatusCode != 401 {
		t.Fatalf("scaleway cookie on dedibox: got %d, want 401", r.StatusCode)
	}
}

func TestSeveralConsoleAccountsNeedAChoice(t *testing.T) {
	h := newHarness(t)
	h.createAccount("multi@example.com", "correct horse battery",
		accounts.ConsoleAccount{Console: "dedibox", ExternalID: "d1"},
		accounts.ConsoleAccount{Console: "dedibox", ExternalID: "d2"})
	b := h.browser()
	b.login("multi@example.com", "correct horse battery")
	r := b.do("POST", accountURL+"/api/v1/consoles/dedibox/enter", map[string]string{})
	m := r.json(t)
	if r.StatusCode != 409 || m["error"] != "account_required" || len(m["accounts"].([]any)) != 2 {
		t.Fatalf("got %d %s", r.StatusCode, r.body)
	}
	r = b.do("POST", accountURL+"/api/v1/consoles/dedibox/enter", map[string]string{"account_id": "d2"})
	if r.StatusCode != 200 {
		t.Fatalf("with account_id: %d %s", r.StatusCode, r.body)
	}
	b.handoff(r.json(t)["redirect"].(string))
	b.do("GET", dediboxURL+"/x", nil)
	if got := h.dedibox.last(t).Header.Get("X-Auth-Console-Account-Id"); got != "d2" {
		t.Errorf("console account: got %q, want d2", got)
	}
	// Scaleway: none yet, one is created on first entry.
	b.enter("scaleway")
	b.do("GET", scalewayURL+"/x", nil)
	if got := h.scaleway.last(t).Header.Get("X-Auth-Console-Account-Id"); got == "" {
		t.Error("no scaleway account was provisioned on entry")
	}
	if r := b.do("POST", accountURL+"/api/v1/consoles/dedibox/enter", map[string]string{"account_id": "someone-else"}); r.StatusCode != 404 {
		t.Errorf("foreign account id: got %d, want 404", r.StatusCode)
	}
}

func TestSwitchConsole(t *testing.T) {
	h := newHarness(t)
	h.createAccount("alice@example.com", "correct horse battery")
	b := h.browser()
	b.login("alice@example.com", "correct horse battery")
	b.enter("dedibox")
	r := b.do("GET", dediboxURL+"/.auth/switch/scaleway", nil)
	if r.StatusCode != 302 || !strings.HasPrefix(r.Header.Get("Location"), scalewayURL+"/.auth/handoff?code=") {
		t.Fatalf("switch: %d %q", r.StatusCode, r.Header.Get("Location"))
	}
	b.handoff(r.Header.Get("Location"))
	if r := b.do("GET", scalewayURL+"/", nil); r.StatusCode != 200 {
		t.Fatalf("after switch: %d", r.StatusCode)
	}
	if r := b.do("GET", accountURL+"/api/v1/consoles", nil); r.json(t)["active"] != "scaleway" {
		t.Errorf("active console: %s", r.body)
	}
	// Without a session the switch goes to the login page.
	r = h.browser().do("GET", dediboxURL+"/.auth/switch/scaleway", nil)
	if r.StatusCode != 302 || !strings.HasPrefix(r.Header.Get("Location"), accountURL+"/login?return_to=") {
		t.Fatalf("switch without session: %d %q", r.StatusCode, r.Header.Get("Location"))
	}
}

func TestRevokedSessionIsRefusedOnNextRequest(t *testing.T) {
	h := newHarness(t)
	h.createAccount("alice@example.com", "correct horse battery")
	laptop, phone := h.browser(), h.browser()
	laptop.login("alice@example.com", "correct horse battery")
	phone.login("alice@example.com", "correct horse battery")
	phone.enter("scaleway")
	r := laptop.do("GET", accountURL+"/api/v1/me/sessions", nil)
	var list []map[string]any
	json.Unmarshal(r.body, &list)
	if len(list) != 2 {
		t.Fatalf("sessions: %s", r.body)
	}
	var phoneID string
	for _, s := range list {
		if s["current"] == false {
			phoneID = s["id"].(string)
		}
	}
	if r := laptop.do("DELETE", accountURL+"/api/v1/me/sessions/"+phoneID, nil); r.StatusCode != 204 {
		t.Fatalf("revoke: %d %s", r.StatusCode, r.body)
	}
	if r := phone.do("GET", scalewayURL+"/", nil, "Accept", "application/json"); r.StatusCode != 401 {
		t.Fatalf("revoked session on console: got %d, want 401", r.StatusCode)
	}
	if r := laptop.do("GET", accountURL+"/api/v1/session", nil); r.StatusCode != 200 {
		t.Fatalf("laptop session: %d", r.StatusCode)
	}
	// Someone else's session id is "not found".
	other := h.browser()
	h.createAccount("bob@example.com", "correct horse battery")
	other.login("bob@example.com", "correct horse battery")
	if r := other.do("DELETE", accountURL+"/api/v1/me/sessions/"+list[0]["id"].(string), nil); r.StatusCode != 404 {
		t.Fatalf("foreign session: got %d, want 404", r.StatusCode)
	}
}

func TestIdleAndAbsoluteTimeouts(t *testing.T) {
	h := newHarness(t, func(c *config.Config) {
		c.Session.IdleTimeout = 10 * time.Minute
		c.Session.AbsoluteTimeout = time.Hour
	})
	h.createAccount("alice@example.com", "correct horse battery")
	b := h.browser()
	b.login("alice@example.com", "correct horse battery")
	// Activity every 9 minutes keeps it alive until the absolute timeout.
	for range 6 {
		h.clock.Advance(9 * time.Minute)
		if r := b.do("GET", accountURL+"/api/v1/session", nil); r.StatusCode != 200 {
			t.Fatalf("active session refused at %v", h.clock.Now())
		}
	}
	h.clock.Advance(7 * time.Minute) // 61 minutes after login
	if r := b.do("GET", accountURL+"/api/v1/session", nil); r.StatusCode != 401 {
		t.Fatalf("after absolute timeout: got %d, want 401", r.StatusCode)
	}
	b.login("alice@example.com", "correct horse battery")
	h.clock.Advance(11 * time.Minute)
	if r := b.do("GET", accountURL+"/api/v1/session", nil); r.StatusCode != 401 {
		t.Fatalf("after idle timeout: got %d, want 401", r.StatusCode)
	}
}

func TestCrossOriginWritesRefused(t *testing.T) {
	h := newHarness(t)
	h.createAccount("alice@example.com", "correct horse battery")
	b := h.browser()
	b.login("alice@example.com", "correct horse battery")
	cases := []struct{ name, header, value string }{
		{"foreign origin", "Origin", "http://evil.test"},
		{"cross-site fetch", "Sec-Fetch-Site", "cross-site"},
	}
	for _, tc := range cases {
		r := b.do("POST", accountURL+"/api/v1/logout", nil, tc.header, tc.value)
		if r.StatusCode != http.StatusForbidden {
			t.Errorf("%s: got %d, want 403", tc.name, r.StatusCode)
		}
		r = b.do("POST", scalewayURL+"/.auth/logout", nil, tc.header, tc.value)
		if r.StatusCode != http.StatusForbidden {
			t.Errorf("%s on console host: got %d, want 403", tc.name, r.StatusCode)
		}
	}
	if r := b.do("GET", accountURL+"/api/v1/session", nil); r.StatusCode != 200 {
		t.Fatal("a refused cross-origin logout ended the session")
	}
	// Same origin (and non-browser clients with neither header) are allowed.
	if r := b.do("POST", accountURL+"/api/v1/logout", nil, "Origin", accountURL, "Sec-Fetch-Site", "same-origin"); r.StatusCode != 204 {
		t.Errorf("same-origin logout: got %d", r.StatusCode)
	}
}

func TestSecurityHeadersOnOwnPages(t *testing.T) {
	h := newHarness(t)
	r := h.browser().do("GET", accountURL+"/login", nil)
	if r.StatusCode != 200 {
		t.Fatalf("login page: %d", r.StatusCode)
	}
	csp := r.Header.Get("Content-Security-Policy")
	for _, d := range []string{"object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, d) {
			t.Errorf("CSP lacks %q: %q", d, csp)
		}
	}
	if r.Header.Get("X-Content-Type-Options") != "nosniff" || r.Header.Get("Referrer-Policy") != "no-referrer" {
		t.Errorf("headers: %v", r.Header)
	}
	if r.Header.Get("Strict-Transport-Security") != "" {
		t.Error("HSTS on http")
	}
}

func TestUpstreamDown(t *testing.T) {
	h := newHarness(t)
	h.createAccount("alice@example.com", "correct horse battery")
	b := h.browser()
	b.login("alice@example.com", "correct horse battery")
	b.enter("dedibox")
	b.enter("scaleway")
	h.dedibox.srv.Close()
	r := b.do("GET", dediboxURL+"/", nil, "Accept", "application/json")
	if r.StatusCode != 502 || r.json(t)["error"] != "bad_gateway" {
		t.Fatalf("down upstream (json): %d %s", r.StatusCode, r.body)
	}
	r = b.do("GET", dediboxURL+"/", nil, "Accept", "text/html")
	if r.StatusCode != 502 || !strings.Contains(r.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("down upstream (html): %d %s", r.StatusCode, r.Header.Get("Content-Type"))
	}
	if r := b.do("GET", scalewayURL+"/", nil); r.StatusCode != 200 {
		t.Fatalf("the other console: got %d, want 200", r.StatusCode)
	}
	if got := counterValue(t, h, "unigate_proxy_requests_total", map[string]string{"console": "dedibox", "code": "502"}); got != 2 {
		t.Errorf("502 metric: got %v, want 2", got)
	}
}

func TestPathPrefixMount(t *testing.T) {
	h := newHarness(t, func(c *config.Config) {
		c.Consoles[1].Hosts = nil
		c.Consoles[1].PathPrefix = "/scaleway/"
	})
	h.createAccount("alice@example.com", "correct horse battery")
	b := h.browser()
	if r := b.do("GET", accountURL+"/scaleway/x", nil, "Accept", "text/html"); r.StatusCode != 302 {
		t.Fatalf("mount without session: %d", r.StatusCode)
	}
	b.login("alice@example.com", "correct horse battery")
	r := b.do("POST", accountURL+"/api/v1/consoles/scaleway/enter", map[string]string{})
	if next := r.json(t)["redirect"]; next != accountURL+"/scaleway/" {
		t.Fatalf("enter mount: %v", next)
	}
	if r := b.do("GET", accountURL+"/scaleway/servers?x=1", nil); r.StatusCode != 200 {
		t.Fatalf("mounted console: %d %s", r.StatusCode, r.body)
	}
	if got := h.scaleway.last(t); got.URL.RequestURI() != "/servers?x=1" || got.Header.Get("X-Auth-Console") != "scaleway" {
		t.Errorf("upstream saw %q console %q", got.URL.RequestURI(), got.Header.Get("X-Auth-Console"))
	}
	if r := b.do("GET", accountURL+"/scaleway", nil); r.StatusCode != 308 || r.Header.Get("Location") != "/scaleway/" {
		t.Errorf("bare prefix: %d %q", r.StatusCode, r.Header.Get("Location"))
	}
	if r := b.do("GET", accountURL+"/scaleway/../api/v1/session", nil); r.StatusCode != 308 {
		t.Errorf("dot segments under a mount: got %d", r.StatusCode)
	}
}

func TestLoginRedirectsToConsoleReturnTo(t *testing.T) {
	h := newHarness(t)
	h.createAccount("alice@example.com", "correct horse battery")
	b := h.browser()
	b.do("POST", accountURL+"/api/v1/login/identify", map[string]string{"email": "alice@example.com", "return_to": dediboxURL + "/servers/42"})
	r := b.do("POST", accountURL+"/api/v1/login/password", map[string]string{"password": "correct horse battery"})
	next, _ := r.json(t)["redirect"].(string)
	if !strings.HasPrefix(next, dediboxURL+"/.auth/handoff?code=") {
		t.Fatalf("redirect: %q", next)
	}
	r = b.handoff(next)
	if r.Header.Get("Location") != "/servers/42" {
		t.Fatalf("handoff landed on %q", r.Header.Get("Location"))
	}
	// An invalid return_to is ignored.
	b2 := h.browser()
	b2.do("POST", accountURL+"/api/v1/login/identify", map[string]string{"email": "alice@example.com", "return_to": "//evil.test/"})
	r = b2.do("POST", accountURL+"/api/v1/login/password", map[string]string{"password": "correct horse battery"})
	if _, ok := r.json(t)["redirect"]; ok {
		t.Fatalf("invalid return_to honoured: %s", r.body)
	}
}
