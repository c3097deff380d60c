package gateway

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"unigate/config"
)

// CONTRACT §10 recovery codes over HTTP: handed out by the first second
// factor, offered at mfa, single use, X-Auth-MFA recovery_code, a new set
// from settings with a recent proof, revoked with the last factor.
func TestRecoveryCodesOverHTTP(t *testing.T) {
	h := newHarness(t)
	h.createAccount("alice@example.com", "correct horse battery")
	b := h.browser()
	b.login("alice@example.com", "correct horse battery")
	r := b.do("POST", accountURL+"/api/v1/me/mfa/totp", map[string]string{})
	secret := r.json(t)["secret"].(string)
	r = b.do("POST", accountURL+"/api/v1/me/mfa/totp/confirm", map[string]string{"code": totpCode(t, secret, h.clock.Now())})
	codes, _ := r.json(t)["recovery_codes"].([]any)
	if r.StatusCode != 200 || len(codes) != 10 {
		t.Fatalf("confirm of the first factor: %d %s, want 10 recovery codes", r.StatusCode, r.body)
	}
	if _, ok := r.json(t)["next"]; ok {
		t.Errorf("a settings enrollment answers a next step: %s", r.body)
	}
	r = b.do("GET", accountURL+"/api/v1/me/mfa/recovery-codes", nil)
	if r.StatusCode != 200 || r.json(t)["remaining"] != float64(10) {
		t.Fatalf("status: %d %s", r.StatusCode, r.body)
	}

	toMFA := func() *browser {
		x := h.browser()
		x.do("POST", accountURL+"/api/v1/login/identify", map[string]string{"email": "alice@example.com"})
		r := x.do("POST", accountURL+"/api/v1/login/password", map[string]string{"password": "correct horse battery"})
		if m := r.json(t); m["next"] != "mfa" || !strings.Contains(fmt.Sprint(m["mfa_methods"]), "recovery_code") {
			t.Fatalf("after password: %s", r.body)
		}
		return x
	}
	x := toMFA()
	code := strings.ToUpper(strings.ReplaceAll(codes[0].(string), "-", ""))
	r = x.do("POST", accountURL+"/api/v1/login/recovery-code", map[string]string{"code": code})
	if r.StatusCode != 200 || r.json(t)["next"] != "done" {
		t.Fatalf("recovery code: %d %s", r.StatusCode, r.body)
	}
	x.enter("scaleway")
	x.do("GET", scalewayURL+"/", nil)
	if got := h.scaleway.last(t).Header.Get("X-Auth-MFA"); got != "recovery_code" {
		t.Errorf("X-Auth-MFA: got %q, want recovery_code", got)
	}
	if r := toMFA().do("POST", accountURL+"/api/v1/login/recovery-code", map[string]string{"code": codes[0].(string)}); r.StatusCode != 401 || r.json(t)["error"] != "invalid_code" {
		t.Errorf("the code again: %d %s", r.StatusCode, r.body)
	}

	// A new set needs a recent proof; the old set dies.
	r = b.do("POST", accountURL+"/api/v1/me/mfa/recovery-codes", map[string]string{})
	fresh, _ := r.json(t)["codes"].([]any)
	if r.StatusCode != 201 || len(fresh) != 10 {
		t.Fatalf("new set: %d %s", r.StatusCode, r.body)
	}
	if r := toMFA().do("POST", accountURL+"/api/v1/login/recovery-code", map[string]string{"code": codes[1].(string)}); r.StatusCode != 401 {
		t.Errorf("a code of the old set: %d %s", r.StatusCode, r.body)
	}
	h.clock.Advance(6 * time.Minute)
	if r := b.do("POST", accountURL+"/api/v1/me/mfa/recovery-codes", map[string]string{}); r.StatusCode != 403 || r.json(t)["error"] != "reauth_required" {
		t.Errorf("without a recent proof: %d %s", r.StatusCode, r.body)
	}

	// The last second factor goes, and the set with it.
	if r := b.do("POST", accountURL+"/api/v1/me/reauth", map[string]string{"password": "correct horse battery"}); r.StatusCode != 204 {
		t.Fatalf("reauth: %d %s", r.StatusCode, r.body)
	}
	if r := b.do("DELETE", accountURL+"/api/v1/me/mfa/totp", nil); r.StatusCode != 204 {
		t.Fatalf("remove totp: %d %s", r.StatusCode, r.body)
	}
	if r := b.do("GET", accountURL+"/api/v1/me/mfa/recovery-codes", nil); r.StatusCode != 404 || r.json(t)["error"] != "not_found" {
		t.Errorf("after the last factor: %d %s, want 404 not_found", r.StatusCode, r.body)
	}
}

// Inside a login (enroll_mfa), the confirm answers the next step and the set.
func TestRecoveryCodesAtEnrollmentInsideALogin(t *testing.T) {
	h := newHarness(t, func(c *config.Config) { c.Login.RequireMFA = true })
	h.createAccount("alice@example.com", "correct horse battery")
	b := h.browser()
	b.do("POST", accountURL+"/api/v1/login/identify", map[string]string{"email": "alice@example.com"})
	if r := b.do("POST", accountURL+"/api/v1/login/password", map[string]string{"password": "correct horse battery"}); r.json(t)["next"] != "enroll_mfa" {
		t.Fatalf("password: %s", r.body)
	}
	r := b.do("POST", accountURL+"/api/v1/me/mfa/totp", map[string]string{})
	secret := r.json(t)["secret"].(string)
	r = b.do("POST", accountURL+"/api/v1/me/mfa/totp/confirm", map[string]string{"code": totpCode(t, secret, h.clock.Now())})
	m := r.json(t)
	if codes, _ := m["recovery_codes"].([]any); r.StatusCode != 200 || m["next"] != "done" || len(codes) != 10 {
		t.Fatalf("confirm inside a login: %d %s", r.StatusCode, r.body)
	}
}

// The pages alone: the set is shown once after the first factor is
// confirmed inside a login, and a code signs in from the mfa page.
func TestRecoveryCodesOnThePages(t *testing.T) {
	h := newHarness(t, func(c *config.Config) { c.Login.RequireMFA = true })
	h.createAccount("alice@example.com", "correct horse battery")
	formLogin := func(b *browser) {
		t.Helper()
		b.do("POST", accountURL+"/login", url.Values{"step": {"identify"}, "email": {"alice@example.com"}})
		if r := b.do("POST", accountURL+"/login", url.Values{"step": {"password"}, "password": {"correct horse battery"}}); r.StatusCode != 303 {
			t.Fatalf("password: %d", r.StatusCode)
		}
	}
	b := h.browser()
	formLogin(b)
	page := b.do("GET", accountURL+"/login", nil)
	m := regexp.MustCompile(`<code>([A-Z2-7]+)</code>`).FindSubmatch(page.body)
	if m == nil {
		t.Fatalf("no TOTP key on the enrollment page:\n%s", page.body)
	}
	r := b.do("POST", accountURL+"/login", url.Values{"step": {"totp_confirm"}, "code": {totpCode(t, string(m[1]), h.clock.Now())}})
	codes := regexp.MustCompile(`<li><code>([2-9a-z]{5}-[2-9a-z]{5})</code></li>`).FindAllSubmatch(r.body, -1)
	if r.StatusCode != 200 || len(codes) != 10 || !strings.Contains(string(r.body), `href="/consoles"`) {
		t.Fatalf("after the confirm: %d, %d codes shown:\n%s", r.StatusCode, len(codes), r.body)
	}

	x := h.browser()
	formLogin(x)
	if page := x.do("GET", accountURL+"/login", nil); !strings.Contains(string(page.body), `value="recovery_code"`) {
		t.Fatalf("the mfa page offers no recovery code:\n%s", page.body)
	}
	r = x.do("POST", accountURL+"/login", url.Values{"step": {"recovery_code"}, "code": {string(codes[3][1])}})
	if r.StatusCode != 303 || r.Header.Get("Location") != "/consoles" {
		t.Fatalf("recovery code: %d %q", r.StatusCode, r.Header.Get("Location"))
	}
}

// The settings page's forms: removing the last second factor there revokes
// the set too.
func TestRecoveryCodesRevokedFromTheSettingsPage(t *testing.T) {
	h := newHarness(t)
	a := h.createAccount("alice@example.com", "correct horse battery")
	b := h.browser()
	b.login("alice@example.com", "correct horse battery")
	b.enrollTOTP() // from settings: hands out the first set
	if n, _, err := h.accounts.RecoveryCodes(t.Context(), a.ID); err != nil || n != 10 {
		t.Fatalf("the set after the first factor: %d, %v", n, err)
	}
	r := b.do("POST", accountURL+"/settings/security/totp/delete", url.Values{})
	if r.StatusCode != 303 {
		t.Fatalf("remove from the page: %d %s", r.StatusCode, r.body)
	}
	if _, _, err := h.accounts.RecoveryCodes(t.Context(), a.ID); err == nil {
		t.Error("the set outlives the last second factor removed from the page")
	}
}
