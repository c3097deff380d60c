package gateway

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"unigate/config"
	"unigate/upstreams"
)

// withStepUp adds step-up rules to the dedibox console.
func withStepUp(rules ...config.StepUp) harnessOption {
	return func(c *config.Config) { c.Consoles[0].StepUp = rules }
}

// TestAuthTimeNamesTheLastProof: X-Auth-Auth-Time and the assertion's
// auth_time are the time of the login, then of the last re-authentication,
// whose method amr then names (CONTRACT §6, §11).
func TestAuthTimeNamesTheLastProof(t *testing.T) {
	h := newHarness(t)
	h.createAccount("alice@example.com", "correct horse battery")
	b := h.browser()
	loginAt := h.clock.Now()
	b.login("alice@example.com", "correct horse battery")
	b.enter("dedibox")
	sent := func() (string, map[string]any) {
		t.Helper()
		if r := b.do("GET", dediboxURL+"/servers", nil); r.StatusCode != 200 {
			t.Fatalf("console: %d %s", r.StatusCode, r.body)
		}
		got := h.dedibox.last(t).Header
		return got.Get("X-Auth-Auth-Time"), verifyAssertion(t, h, got.Get("X-Auth-Assertion"))
	}
	header, claims := sent()
	if want := strconv.FormatInt(loginAt.Unix(), 10); header != want || claims["auth_time"] != float64(loginAt.Unix()) {
		t.Errorf("after login: X-Auth-Auth-Time %q, auth_time %v; want %s", header, claims["auth_time"], want)
	}
	if fmt.Sprint(claims["amr"]) != "[pwd]" {
		t.Errorf("after login: amr %v, want [pwd]", claims["amr"])
	}

	h.clock.Advance(3 * time.Minute)
	reauthAt := h.clock.Now()
	if r := b.do("POST", accountURL+"/api/v1/me/reauth", map[string]string{"password": "correct horse battery"}); r.StatusCode != 204 {
		t.Fatalf("reauth: %d %s", r.StatusCode, r.body)
	}
	b.enter("dedibox") // the session moved to a new token: a new handoff
	header, claims = sent()
	if want := strconv.FormatInt(reauthAt.Unix(), 10); header != want || claims["auth_time"] != float64(reauthAt.Unix()) {
		t.Errorf("after reauth: X-Auth-Auth-Time %q, auth_time %v; want %s", header, claims["auth_time"], want)
	}
}

// TestStepUpTurnsAwayAnOldProof: under a step_up rule, an old or weaker
// last proof never reaches the upstream: 302 to the step-up page for a
// browser, 401 step_up_required otherwise; other paths and public paths
// go through (CONTRACT §11).
func TestStepUpTurnsAwayAnOldProof(t *testing.T) {
	h := newHarness(t, withStepUp(config.StepUp{PathPrefix: "/billing/", MaxAge: 10 * time.Minute, Methods: []string{"totp", "passkey"}}))
	h.createAccount("alice@example.com", "correct horse battery")
	b := h.browser()
	b.login("alice@example.com", "correct horse battery")
	b.enter("dedibox")
	html := []string{"Accept", "text/html", "Sec-Fetch-Mode", "navigate"}

	// A password login is not a proof this rule accepts, even fresh.
	before := h.dedibox.count()
	r := b.do("GET", dediboxURL+"/billing/invoices?year=2026", nil, html...)
	want := accountURL + "/login/step-up?return_to=" + url.QueryEscape(dediboxURL+"/billing/invoices?year=2026")
	if r.StatusCode != 302 || r.Header.Get("Location") != want {
		t.Fatalf("browser: %d %q, want 302 to %s", r.StatusCode, r.Header.Get("Location"), want)
	}
	r = b.do("POST", dediboxURL+"/billing/pay", map[string]string{}, "Accept", "application/json")
	if r.StatusCode != 401 {
		t.Fatalf("api: %d %s, want 401", r.StatusCode, r.body)
	}
	if m := r.json(t); m["error"] != "step_up_required" || m["login_url"] != accountURL+"/login/step-up?return_to="+url.QueryEscape(dediboxURL+"/billing/pay") {
		t.Errorf("api body: %v", m)
	}
	for _, p := range []string{"/BILLING/invoices", "/billing", "/billing;x=1/invoices"} {
		if r := b.do("GET", dediboxURL+p, nil, "Accept", "application/json"); r.StatusCode != 401 {
			t.Errorf("%s: %d, want 401 step_up_required", p, r.StatusCode)
		}
	}
	if got := h.dedibox.count(); got != before {
		t.Errorf("%d requests reached the upstream under the rule", got-before)
	}
	// Outside the rule, and public paths, go through.
	if r := b.do("GET", dediboxURL+"/servers", nil); r.StatusCode != 200 {
		t.Errorf("/servers: %d", r.StatusCode)
	}
	if r := h.browser().do("GET", dediboxURL+"/api/billing/", nil); r.StatusCode != 200 {
		t.Errorf("public path: %d", r.StatusCode)
	}
	if got := counterValue(t, h, "unigate_step_up_required_total", map[string]string{"console": "dedibox"}); got != 5 {
		t.Errorf("step-up metric: got %v, want 5", got)
	}
}

// TestStepUpByTOTPReturnsThroughAHandoff: the step-up page takes a TOTP
// code and sends the browser back to the console page through a handoff
// (the re-authentication moved the session to a new token); the page then
// goes through, and a proof older than max_age is turned away again.
func TestStepUpByTOTPReturnsThroughAHandoff(t *testing.T) {
	h := newHarness(t, withStepUp(config.StepUp{PathPrefix: "/billing/", MaxAge: 10 * time.Minute, Methods: []string{"totp", "passkey"}}))
	h.createAccount("alice@example.com", "correct horse battery")
	b := h.browser()
	b.login("alice@example.com", "correct horse battery")
	secret := b.enrollTOTP()
	b.enter("dedibox")
	html := []string{"Accept", "text/html"}
	target := dediboxURL + "/billing/invoices?year=2026"

	r := b.do("GET", target, nil, html...)
	stepUp := r.Header.Get("Location")
	if r.StatusCode != 302 || !strings.HasPrefix(stepUp, accountURL+"/login/step-up?") {
		t.Fatalf("before: %d %q", r.StatusCode, stepUp)
	}
	r = b.do("GET", stepUp, nil, html...)
	if r.StatusCode != 200 || !strings.Contains(string(r.body), `name="totp"`) || strings.Contains(string(r.body), `name="password"`) {
		t.Fatalf("step-up page: %d, want a TOTP form and no password form:\n%s", r.StatusCode, r.body)
	}
	if strings.Contains(string(r.body), `data-passkey="reauth"`) {
		t.Error("the page offers a passkey the account does not hold")
	}

	// The password is right, but not a proof this rule accepts.
	form := url.Values{"return_to": {target}, "password": {"correct horse battery"}}
	if r := b.do("POST", accountURL+"/login/step-up", form, html...); r.StatusCode != 403 || !strings.Contains(string(r.body), "another way of confirming") {
		t.Fatalf("password: %d %s", r.StatusCode, r.body)
	}
	// A wrong code.
	form = url.Values{"return_to": {target}, "totp": {"000000"}}
	if r := b.do("POST", accountURL+"/login/step-up", form, html...); r.StatusCode != 401 {
		t.Fatalf("wrong code: %d", r.StatusCode)
	}
	h.clock.Advance(30 * time.Second) // the enrollment's time step is burnt
	provedAt := h.clock.Now()
	form = url.Values{"return_to": {target}, "totp": {totpCode(t, secret, provedAt)}}
	r = b.do("POST", accountURL+"/login/step-up", form, html...)
	link := r.Header.Get("Location")
	if r.StatusCode != 303 || !strings.HasPrefix(link, dediboxURL+"/.auth/handoff?code=") {
		t.Fatalf("totp: %d %q, want 303 to the console's handoff", r.StatusCode, link)
	}
	r = b.handoff(link)
	if r.StatusCode != 302 || r.Header.Get("Location") != "/billing/invoices?year=2026" {
		t.Fatalf("handoff: %d %q", r.StatusCode, r.Header.Get("Location"))
	}
	if r := b.do("GET", target, nil, html...); r.StatusCode != 200 {
		t.Fatalf("after step-up: %d %s", r.StatusCode, r.body)
	}
	got := h.dedibox.last(t).Header
	claims := verifyAssertion(t, h, got.Get("X-Auth-Assertion"))
	if got.Get("X-Auth-Auth-Time") != strconv.FormatInt(provedAt.Unix(), 10) || fmt.Sprint(claims["amr"]) != "[otp]" {
		t.Errorf("after step-up: X-Auth-Auth-Time %q, amr %v; want %d and [otp]", got.Get("X-Auth-Auth-Time"), claims["amr"], provedAt.Unix())
	}
	if got.Get("X-Auth-Console-Account-Id") != "ded-alice@example.com" {
		t.Errorf("console account: %q", got.Get("X-Auth-Console-Account-Id"))
	}

	// The proof ages: 10 minutes later it is asked for again.
	h.clock.Advance(10*time.Minute + time.Second)
	if r := b.do("GET", target, nil, html...); r.StatusCode != 302 {
		t.Errorf("after max_age: %d, want 302 to the step-up page", r.StatusCode)
	}
	// The page itself goes straight back when the proof is still good.
	h.clock.Advance(-5 * time.Minute)
	r = b.do("GET", stepUp, nil, html...)
	if r.StatusCode != 303 || !strings.HasPrefix(r.Header.Get("Location"), dediboxURL+"/.auth/handoff?code=") {
		t.Errorf("step-up page with a good proof: %d %q, want straight back", r.StatusCode, r.Header.Get("Location"))
	}
}

// TestStepUpWithoutMethodsTakesThePassword: a rule without methods, on an
// account without a second factor, takes the password; the way back to a
// console mounted on the account host needs no handoff.
func TestStepUpWithoutMethodsTakesThePassword(t *testing.T) {
	h := newHarness(t, func(c *config.Config) {
		c.Consoles[0].Hosts, c.Consoles[0].PathPrefix = nil, "/dedibox/"
		c.Consoles[0].StepUp = []config.StepUp{{PathPrefix: "/keys/", MaxAge: 5 * time.Minute}}
	})
	h.createAccount("alice@example.com", "correct horse battery")
	b := h.browser()
	b.login("alice@example.com", "correct horse battery")
	target := accountURL + "/dedibox/keys/new"
	if r := b.do("GET", target, nil); r.StatusCode != 200 {
		t.Fatalf("fresh login: %d %s", r.StatusCode, r.body)
	}
	h.clock.Advance(5*time.Minute + time.Second)
	r := b.do("GET", target, nil, "Accept", "text/html")
	if r.StatusCode != 302 || r.Header.Get("Location") != accountURL+"/login/step-up?return_to="+url.QueryEscape(target) {
		t.Fatalf("old proof: %d %q", r.StatusCode, r.Header.Get("Location"))
	}
	if r := b.do("GET", accountURL+"/dedibox/servers", nil); r.StatusCode != 200 {
		t.Errorf("outside the rule: %d", r.StatusCode)
	}
	page := b.do("GET", accountURL+"/login/step-up?return_to="+url.QueryEscape(target), nil)
	if page.StatusCode != 200 || !strings.Contains(string(page.body), `name="password"`) || strings.Contains(string(page.body), `name="totp"`) {
		t.Fatalf("step-up page: %d, want a password form only:\n%s", page.StatusCode, page.body)
	}
	form := url.Values{"return_to": {target}, "password": {"correct horse battery"}}
	r = b.do("POST", accountURL+"/login/step-up", form)
	if r.StatusCode != 303 || r.Header.Get("Location") != target {
		t.Fatalf("password: %d %q, want 303 to %s", r.StatusCode, r.Header.Get("Location"), target)
	}
	if r := b.do("GET", target, nil); r.StatusCode != 200 {
		t.Fatalf("after step-up: %d %s", r.StatusCode, r.body)
	}
}

// TestStepUpPageRefusals: without a session the page sends to the login
// (keeping return_to); a return_to outside the gateway's hosts is ignored;
// the passkey re-authentication needs a complete session and a ceremony.
func TestStepUpPageRefusals(t *testing.T) {
	h := newHarness(t, withStepUp(config.StepUp{PathPrefix: "/billing/", MaxAge: time.Minute}))
	h.createAccount("alice@example.com", "correct horse battery")
	target := dediboxURL + "/billing/"
	anon := h.browser()
	r := anon.do("GET", accountURL+"/login/step-up?return_to="+url.QueryEscape(target), nil)
	if r.StatusCode != 303 || r.Header.Get("Location") != accountURL+"/login?return_to="+url.QueryEscape(target) {
		t.Errorf("no session: %d %q", r.StatusCode, r.Header.Get("Location"))
	}
	if r := anon.do("POST", accountURL+"/api/v1/me/reauth/passkey/options", map[string]string{}); r.StatusCode != 401 {
		t.Errorf("passkey options without a session: %d", r.StatusCode)
	}
	b := h.browser()
	b.login("alice@example.com", "correct horse battery")
	r = b.do("GET", accountURL+"/login/step-up?return_to="+url.QueryEscape("https://evil.test/billing/"), nil)
	if r.StatusCode != 303 || r.Header.Get("Location") != "/consoles" {
		t.Errorf("foreign return_to: %d %q, want /consoles", r.StatusCode, r.Header.Get("Location"))
	}
	// Another spelling of a protected path is read as the decision reads it:
	// with a proof older than max_age, the page, never straight back.
	h.clock.Advance(2 * time.Minute)
	for _, p := range []string{"/x/../billing/", "/BILLING/", "/billing;a=b/"} {
		if r := b.do("GET", accountURL+"/login/step-up?return_to="+url.QueryEscape(dediboxURL+p), nil); r.StatusCode != 200 {
			t.Errorf("step-up page for %s: %d %q, want the page", p, r.StatusCode, r.Header.Get("Location"))
		}
	}
	if r := b.do("POST", accountURL+"/api/v1/me/reauth/passkey/options", map[string]string{}); r.StatusCode != 409 || r.json(t)["error"] != "passkey_unavailable" {
		t.Errorf("passkey options without a passkey: %d %s", r.StatusCode, r.body)
	}
	if r := b.do("POST", accountURL+"/api/v1/me/reauth/passkey", map[string]string{}); r.StatusCode != 400 || r.json(t)["error"] != "no_ceremony" {
		t.Errorf("passkey without options: %d %s", r.StatusCode, r.body)
	}
}

// TestForwardAuthStepUp: forward-auth takes the same step-up decision: a
// navigation is sent to the step-up page, an API call gets 401
// step_up_required, nginx's /auth-request 401 with X-Auth-Login-URL
// (CONTRACT §11, §12).
func TestForwardAuthStepUp(t *testing.T) {
	h := newHarness(t, trustLoopback, withStepUp(config.StepUp{PathPrefix: "/billing/", MaxAge: 10 * time.Minute, Methods: []string{"totp"}}))
	h.createAccount("fa@example.com", "correct horse battery staple")
	b := h.browser()
	b.login("fa@example.com", "correct horse battery staple")
	b.enter("dedibox")
	c := b.cookie("console.online.test")
	cookie := c.Name + "=" + c.Value
	const dedibox = "console.online.test:8080"
	page := accountURL + "/login/step-up?return_to=" + url.QueryEscape(dediboxURL+"/billing/x")
	for _, tc := range []struct {
		name, path string
		headers    []string
		status     int
		location   string
	}{
		{"navigation", "/forward-auth", forwarded(dedibox, "/billing/x", "Cookie", cookie, "Accept", "text/html"), 302, page},
		{"API call", "/forward-auth", forwarded(dedibox, "/billing/x", "Cookie", cookie), 401, ""},
		{"nginx", "/auth-request", []string{"X-Original-URL", dediboxURL + "/billing/x", "Cookie", cookie, "Accept", "text/html"}, 401, page},
		{"outside the rule", "/forward-auth", forwarded(dedibox, "/servers", "Cookie", cookie), 200, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := forwardAuthAsk(h, "127.0.0.1:40000", tc.path, tc.headers...)
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.status, rec.Body)
			}
			loc := rec.Header().Get("Location") + rec.Header().Get("X-Auth-Login-URL")
			if loc != tc.location {
				t.Errorf("location %q, want %q", loc, tc.location)
			}
			if tc.status == 401 && !strings.Contains(rec.Body.String(), `"error":"step_up_required"`) {
				t.Errorf("body %s, want step_up_required", rec.Body)
			}
			if tc.status != 200 && rec.Header().Get(upstreams.HeaderUserID) != "" {
				t.Error("identity headers on a refusal")
			}
		})
	}
}
