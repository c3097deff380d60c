package gateway

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"unigate/accounts"
	"unigate/config"
	"unigate/mail"
)

// recordingMailer keeps what the gateway queued, as the outbox would.
type recordingMailer struct {
	mu   sync.Mutex
	sent []queuedMail
}

type queuedMail struct {
	key, accountID, kind, locale, to string
	data                             any
}

func (m *recordingMailer) Queue(ctx context.Context, key, accountID, kind, locale, to string, data any) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sent = append(m.sent, queuedMail{key, accountID, kind, locale, to, data})
	return nil
}

func (m *recordingMailer) lastCode(t testing.TB, to string) string {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := len(m.sent) - 1; i >= 0; i-- {
		if d, ok := m.sent[i].data.(mail.CodeData); ok && m.sent[i].to == to {
			return d.Code
		}
	}
	t.Fatalf("no mail to %s", to)
	return ""
}

func (m *recordingMailer) count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.sent)
}

func totpCode(t testing.TB, secret string, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCode(secret, at)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// enrollTOTP sets up TOTP from settings (or an enroll_mfa login) and returns the secret.
func (b *browser) enrollTOTP() string {
	t := b.h.t
	t.Helper()
	r := b.do("POST", accountURL+"/api/v1/me/mfa/totp", map[string]string{})
	if r.StatusCode != 200 {
		t.Fatalf("totp enroll: %d %s", r.StatusCode, r.body)
	}
	m := r.json(t)
	secret := m["secret"].(string)
	if !strings.HasPrefix(m["otpauth_uri"].(string), "otpauth://totp/") || !strings.HasPrefix(m["qr_code"].(string), "data:image/png;base64,") {
		t.Fatalf("enroll answer: %s", r.body)
	}
	r = b.do("POST", accountURL+"/api/v1/me/mfa/totp/confirm", map[string]string{"code": totpCode(t, secret, b.h.clock.Now())})
	if r.StatusCode != 200 {
		t.Fatalf("totp confirm: %d %s", r.StatusCode, r.body)
	}
	return secret
}

func TestTOTPEnrollThenRequiredAtLogin(t *testing.T) {
	h := newHarness(t)
	h.createAccount("alice@example.com", "correct horse battery")
	b := h.browser()
	b.login("alice@example.com", "correct horse battery")
	secret := b.enrollTOTP()
	if r := b.do("GET", accountURL+"/api/v1/me/mfa", nil); !strings.Contains(string(r.body), `"totp":true`) {
		t.Fatalf("mfa summary: %s", r.body)
	}
	b.do("POST", accountURL+"/api/v1/logout", nil)

	b2 := h.browser()
	b2.do("POST", accountURL+"/api/v1/login/identify", map[string]string{"email": "alice@example.com"})
	r := b2.do("POST", accountURL+"/api/v1/login/password", map[string]string{"password": "correct horse battery"})
	m := r.json(t)
	// The set of recovery codes the first factor handed out is offered too (CONTRACT §10).
	if m["next"] != "mfa" || fmt.Sprint(m["mfa_methods"]) != "[totp recovery_code]" {
		t.Fatalf("after password: %s", r.body)
	}
	if r := b2.do("GET", accountURL+"/api/v1/login/state", nil); !strings.Contains(string(r.body), `"next":"mfa"`) {
		t.Fatalf("state: %s", r.body)
	}
	// Not through to a console yet.
	if r := b2.do("GET", accountURL+"/api/v1/session", nil); r.StatusCode != 401 {
		t.Fatalf("session before the second factor: %d", r.StatusCode)
	}
	// The code used to confirm the set-up is burnt: its step is refused.
	r = b2.do("POST", accountURL+"/api/v1/login/totp", map[string]string{"code": totpCode(t, secret, h.clock.Now())})
	if r.StatusCode != 401 || r.json(t)["error"] != "invalid_code" {
		t.Fatalf("replayed step: %d %s", r.StatusCode, r.body)
	}
	h.clock.Advance(30 * time.Second)
	r = b2.do("POST", accountURL+"/api/v1/login/totp", map[string]string{"code": totpCode(t, secret, h.clock.Now())})
	if r.StatusCode != 200 || r.json(t)["next"] != "done" {
		t.Fatalf("totp: %d %s", r.StatusCode, r.body)
	}
	b2.enter("scaleway")
	b2.do("GET", scalewayURL+"/", nil)
	if got := h.scaleway.last(t).Header.Get("X-Auth-MFA"); got != "totp" {
		t.Errorf("X-Auth-MFA: got %q, want totp", got)
	}
	claims := verifyAssertion(t, h, h.scaleway.last(t).Header.Get("X-Auth-Assertion"))
	if fmt.Sprint(claims["amr"]) != "[pwd otp mfa]" {
		t.Errorf("amr: %v", claims["amr"])
	}
}

func TestTOTPWindowAndReplayAcrossLogins(t *testing.T) {
	h := newHarness(t, func(c *config.Config) { c.Login.MaxFailures = 20; c.Login.IPMaxFailures = 100 })
	h.createAccount("alice@example.com", "correct horse battery")
	b := h.browser()
	b.login("alice@example.com", "correct horse battery")
	secret := b.enrollTOTP()
	start := h.clock.Now()
	toMFA := func() *browser {
		x := h.browser()
		x.do("POST", accountURL+"/api/v1/login/identify", map[string]string{"email": "alice@example.com"})
		x.do("POST", accountURL+"/api/v1/login/password", map[string]string{"password": "correct horse battery"})
		return x
	}
	cases := []struct {
		name   string
		offset time.Duration
		status int
	}{
		{"two steps old", -60 * time.Second, 401},
		{"two steps ahead", 60 * time.Second, 401},
		{"one step ahead", 30 * time.Second, 200},
		{"same step again", 30 * time.Second, 401},
		{"older step after a newer one", 0, 401},
	}
	h.clock.Advance(5 * time.Minute)
	now := h.clock.Now()
	_ = start
	for _, tc := range cases {
		x := toMFA()
		r := x.do("POST", accountURL+"/api/v1/login/totp", map[string]string{"code": totpCode(t, secret, now.Add(tc.offset))})
		if r.StatusCode != tc.status {
			t.Errorf("%s: got %d, want %d (%s)", tc.name, r.StatusCode, tc.status, r.body)
		}
	}
	// Two logins racing with the same fresh code: exactly one wins.
	h.clock.Advance(2 * time.Minute)
	code := totpCode(t, secret, h.clock.Now())
	var wg sync.WaitGroup
	results := make(chan int, 8)
	for range 8 {
		x := toMFA()
		wg.Add(1)
		go func() {
			defer wg.Done()
			results <- x.do("POST", accountURL+"/api/v1/login/totp", map[string]string{"code": code}).StatusCode
		}()
	}
	wg.Wait()
	close(results)
	ok := 0
	for c := range results {
		if c == 200 {
			ok++
		}
	}
	if ok != 1 {
		t.Fatalf("one code accepted %d times in parallel, want once", ok)
	}
}

func TestRequireMFAForcesEnrollment(t *testing.T) {
	h := newHarness(t, func(c *config.Config) { c.Login.RequireMFA = true })
	h.createAccount("alice@example.com", "correct horse battery")
	b := h.browser()
	b.do("POST", accountURL+"/api/v1/login/identify", map[string]string{"email": "alice@example.com"})
	r := b.do("POST", accountURL+"/api/v1/login/password", map[string]string{"password": "correct horse battery"})
	if r.json(t)["next"] != "enroll_mfa" {
		t.Fatalf("after password: %s", r.body)
	}
	// Until enrolled: no console, no other API than enrollment.
	for _, p := range []string{"/api/v1/session", "/api/v1/consoles", "/api/v1/me/sessions", "/api/v1/me/mfa"} {
		if r := b.do("GET", accountURL+p, nil); r.StatusCode != 401 {
			t.Errorf("%s during enrollment: got %d, want 401", p, r.StatusCode)
		}
	}
	if r := b.do("POST", accountURL+"/api/v1/consoles/scaleway/enter", map[string]string{}); r.StatusCode != 401 {
		t.Errorf("enter during enrollment: got %d", r.StatusCode)
	}
	r = b.do("POST", accountURL+"/api/v1/me/mfa/totp", map[string]string{})
	secret := r.json(t)["secret"].(string)
	r = b.do("POST", accountURL+"/api/v1/me/mfa/totp/confirm", map[string]string{"code": totpCode(t, secret, h.clock.Now())})
	if r.StatusCode != 200 || r.json(t)["next"] != "done" {
		t.Fatalf("confirm inside the login: %d %s", r.StatusCode, r.body)
	}
	if r := b.do("GET", accountURL+"/api/v1/session", nil); r.StatusCode != 200 || !strings.Contains(string(r.body), `"mfa":"totp"`) {
		t.Fatalf("session after enrollment: %d %s", r.StatusCode, r.body)
	}
}

// flaggedAccount is an account whose password and MFA the unification erased.
func (h *harness) flaggedAccount(email string) *accounts.Account {
	h.t.Helper()
	a := &accounts.Account{Email: email, EmailVerified: true, PasswordSetRequired: true, MFAEnrollRequired: true}
	if err := h.accounts.CreateAccount(context.Background(), a, []accounts.ConsoleAccount{{Console: "dedibox", ExternalID: "d-" + email}}); err != nil {
		h.t.Fatal(err)
	}
	return a
}

func TestEmailCodeFlow(t *testing.T) {
	h := newHarness(t)
	h.flaggedAccount("erased@example.com")
	mailer := h.gw.mailer.(*recordingMailer)
	b := h.browser()
	r := b.do("POST", accountURL+"/api/v1/login/identify", map[string]string{"email": "erased@example.com"})
	if got := fmt.Sprint(r.json(t)["methods"]); got != "[email_code]" {
		t.Fatalf("methods: %s", got)
	}
	if r := b.do("POST", accountURL+"/api/v1/login/password", map[string]string{"password": "anything at all"}); r.StatusCode != 401 {
		t.Fatalf("password on an erased account: %d", r.StatusCode)
	}
	r = b.do("POST", accountURL+"/api/v1/login/email-code", map[string]string{})
	if r.StatusCode != 202 || strings.TrimSpace(string(r.body)) != `{"sent":true}` {
		t.Fatalf("send: %d %s", r.StatusCode, r.body)
	}
	code := mailer.lastCode(t, "erased@example.com")
	if len(code) != 8 {
		t.Fatalf("code %q is not 8 digits", code)
	}
	// Resend limit: 30 s per login attempt.
	if r := b.do("POST", accountURL+"/api/v1/login/email-code", map[string]string{}); r.StatusCode != 429 {
		t.Fatalf("resend within 30 s: %d", r.StatusCode)
	}
	r = b.do("POST", accountURL+"/api/v1/login/email-code/verify", map[string]string{"code": code[:4] + " " + code[4:]})
	if r.StatusCode != 200 || r.json(t)["next"] != "set_password" {
		t.Fatalf("verify: %d %s", r.StatusCode, r.body)
	}
	// Single use: the same code again is refused.
	r = b.do("POST", accountURL+"/api/v1/login/password/set", map[string]string{"password": "short"})
	if r.StatusCode != 400 || r.json(t)["error"] != "weak_password" {
		t.Fatalf("weak password: %d %s", r.StatusCode, r.body)
	}
	r = b.do("POST", accountURL+"/api/v1/login/password/set", map[string]string{"password": "a brand new passphrase"})
	if r.json(t)["next"] != "enroll_mfa" {
		t.Fatalf("after set_password: %s", r.body)
	}
	secret := b.enrollTOTP()
	_ = secret
	if r := b.do("GET", accountURL+"/api/v1/session", nil); r.StatusCode != 200 {
		t.Fatalf("session after the whole path: %d %s", r.StatusCode, r.body)
	}
	// Next time: password, then TOTP.
	b2 := h.browser()
	r = b2.do("POST", accountURL+"/api/v1/login/identify", map[string]string{"email": "erased@example.com"})
	r = b2.do("POST", accountURL+"/api/v1/login/password", map[string]string{"password": "a brand new passphrase"})
	if r.json(t)["next"] != "mfa" {
		t.Fatalf("second login: %s", r.body)
	}
}

func TestEmailCodeTriesExpiryAndResend(t *testing.T) {
	h := newHarness(t, func(c *config.Config) { c.Login.MaxFailures = 50; c.Login.IPMaxFailures = 100 })
	h.flaggedAccount("erased@example.com")
	mailer := h.gw.mailer.(*recordingMailer)
	start := func() *browser {
		b := h.browser()
		b.do("POST", accountURL+"/api/v1/login/identify", map[string]string{"email": "erased@example.com"})
		h.clock.Advance(31 * time.Second) // the per-address resend limit
		if r := b.do("POST", accountURL+"/api/v1/login/email-code", map[string]string{}); r.StatusCode != 202 {
			t.Fatalf("send: %d %s", r.StatusCode, r.body)
		}
		return b
	}
	verify := func(b *browser, code string) int {
		return b.do("POST", accountURL+"/api/v1/login/email-code/verify", map[string]string{"code": code}).StatusCode
	}
	// Five wrong tries kill the code, even the right one after.
	b := start()
	code := mailer.lastCode(t, "erased@example.com")
	for range 5 {
		if got := verify(b, "00000000"); got != 401 {
			t.Fatalf("wrong code: %d", got)
		}
	}
	if got := verify(b, code); got != 401 {
		t.Fatalf("right code after five wrong tries: %d, want 401", got)
	}
	// A resend does not reset the count: 3 wrong, resend, 2 wrong, dead.
	b = start()
	for range 3 {
		verify(b, "00000000")
	}
	h.clock.Advance(31 * time.Second)
	b.do("POST", accountURL+"/api/v1/login/email-code", map[string]string{})
	code = mailer.lastCode(t, "erased@example.com")
	verify(b, "00000000")
	verify(b, "00000000")
	if got := verify(b, code); got != 401 {
		t.Fatalf("fifth failure across a resend did not kill the code: %d", got)
	}
	// Expired after email_code_ttl.
	b = start()
	code = mailer.lastCode(t, "erased@example.com")
	h.clock.Advance(h.cfg.Login.EmailCodeTTL + time.Second)
	if got := verify(b, code); got != 401 {
		t.Fatalf("expired code: %d", got)
	}
	// Bound to its login attempt: another browser's attempt cannot use it.
	b = start()
	code = mailer.lastCode(t, "erased@example.com")
	other := h.browser()
	other.do("POST", accountURL+"/api/v1/login/identify", map[string]string{"email": "erased@example.com"})
	if got := verify(other, code); got != 401 {
		t.Fatalf("code used by another attempt: %d", got)
	}
	if got := verify(b, code); got != 200 {
		t.Fatalf("right code in its own attempt: %d", got)
	}
}

func TestEmailCodeUnknownAddressSendsNothing(t *testing.T) {
	h := newHarness(t)
	h.createAccount("alice@example.com", "correct horse battery")
	mailer := h.gw.mailer.(*recordingMailer)
	for _, email := range []string{"nobody@example.com", "alice@example.com"} {
		b := h.browser()
		b.do("POST", accountURL+"/api/v1/login/identify", map[string]string{"email": email})
		h.clock.Advance(31 * time.Second)
		r := b.do("POST", accountURL+"/api/v1/login/email-code", map[string]string{})
		if r.StatusCode != 202 || strings.TrimSpace(string(r.body)) != `{"sent":true}` {
			t.Errorf("%s: %d %s", email, r.StatusCode, r.body)
		}
	}
	if n := mailer.count(); n != 0 {
		t.Fatalf("%d mails sent to addresses that may not use a code", n)
	}
}

func TestRemovingMFANeedsRecentProof(t *testing.T) {
	h := newHarness(t)
	h.createAccount("alice@example.com", "correct horse battery")
	b := h.browser()
	b.login("alice@example.com", "correct horse battery")
	b.enrollTOTP()
	h.clock.Advance(6 * time.Minute)
	if r := b.do("DELETE", accountURL+"/api/v1/me/mfa/totp", nil); r.StatusCode != 403 || r.json(t)["error"] != "reauth_required" {
		t.Fatalf("delete without recent proof: %d %s", r.StatusCode, r.body)
	}
	if r := b.do("POST", accountURL+"/api/v1/me/reauth", map[string]string{"password": "wrong"}); r.StatusCode != 401 {
		t.Fatalf("reauth with a wrong password: %d", r.StatusCode)
	}
	before := b.cookie("account.test").Value
	if r := b.do("POST", accountURL+"/api/v1/me/reauth", map[string]string{"password": "correct horse battery"}); r.StatusCode != 204 {
		t.Fatalf("reauth: %d %s", r.StatusCode, r.body)
	}
	if b.cookie("account.test").Value == before {
		t.Error("re-authentication kept the session token (V7.2.4)")
	}
	if r := b.do("DELETE", accountURL+"/api/v1/me/mfa/totp", nil); r.StatusCode != 204 {
		t.Fatalf("delete after reauth: %d %s", r.StatusCode, r.body)
	}
	if r := b.do("GET", accountURL+"/api/v1/me/mfa", nil); !strings.Contains(string(r.body), `"totp":false`) {
		t.Fatalf("after delete: %s", r.body)
	}
	if got := counterValue(t, h, "unigate_login_attempts_total", map[string]string{"method": "password", "result": "failure"}); got != 1 {
		t.Errorf("reauth failure not counted: %v", got)
	}
}

var _ = http.StatusOK

// A right password must not wipe out failed TOTP codes: guesses of the
// second factor stay bounded by max_failures (review finding, SECURITY family 5).
func TestTOTPGuessesStayLockedAcrossPasswords(t *testing.T) {
	h := newHarness(t, func(c *config.Config) { c.Login.MaxFailures = 5; c.Login.IPMaxFailures = 500 })
	h.createAccount("alice@example.com", "correct horse battery")
	b := h.browser()
	b.login("alice@example.com", "correct horse battery")
	b.enrollTOTP()
	evaluated := 0
	for round := 0; round < 10; round++ {
		x := h.browser()
		x.do("POST", accountURL+"/api/v1/login/identify", map[string]string{"email": "alice@example.com"})
		if r := x.do("POST", accountURL+"/api/v1/login/password", map[string]string{"password": "correct horse battery"}); r.StatusCode != 200 {
			break
		}
		for range 4 {
			if r := x.do("POST", accountURL+"/api/v1/login/totp", map[string]string{"code": "000000"}); r.StatusCode == 401 {
				evaluated++
			}
		}
	}
	if evaluated > 5 {
		t.Fatalf("%d wrong TOTP codes evaluated in one lockout window, want at most max_failures (5)", evaluated)
	}
}

// A login parked at enroll_mfa cannot enroll once the account has a factor:
// it would skip that factor (review finding).
func TestParkedEnrollmentCannotSkipNewMFA(t *testing.T) {
	h := newHarness(t, func(c *config.Config) { c.Login.RequireMFA = true })
	h.createAccount("alice@example.com", "correct horse battery")
	parked := h.browser()
	parked.do("POST", accountURL+"/api/v1/login/identify", map[string]string{"email": "alice@example.com"})
	if r := parked.do("POST", accountURL+"/api/v1/login/password", map[string]string{"password": "correct horse battery"}); r.json(t)["next"] != "enroll_mfa" {
		t.Fatalf("parked login: %s", r.body)
	}
	owner := h.browser()
	owner.do("POST", accountURL+"/api/v1/login/identify", map[string]string{"email": "alice@example.com"})
	owner.do("POST", accountURL+"/api/v1/login/password", map[string]string{"password": "correct horse battery"})
	owner.enrollTOTP()
	h.clock.Advance(time.Minute)
	if r := parked.do("POST", accountURL+"/api/v1/me/mfa/totp", map[string]string{}); r.StatusCode != 409 {
		t.Fatalf("parked login enrolling after the owner did: %d %s", r.StatusCode, r.body)
	}
	if r := parked.do("GET", accountURL+"/api/v1/login/state", nil); !strings.Contains(string(r.body), `"next":"mfa"`) {
		t.Fatalf("parked login now: %s", r.body)
	}
}

// Adding a factor from settings needs a recent proof, like removing one.
func TestAddingMFANeedsRecentProof(t *testing.T) {
	h := newHarness(t)
	h.createAccount("alice@example.com", "correct horse battery")
	b := h.browser()
	b.login("alice@example.com", "correct horse battery")
	h.clock.Advance(6 * time.Minute)
	for _, p := range []string{"/api/v1/me/mfa/totp", "/api/v1/me/mfa/passkeys/options"} {
		if r := b.do("POST", accountURL+p, map[string]string{}); r.StatusCode != 403 || r.json(t)["error"] != "reauth_required" {
			t.Errorf("%s without a recent proof: %d %s", p, r.StatusCode, r.body)
		}
	}
	b.do("POST", accountURL+"/api/v1/me/reauth", map[string]string{"password": "correct horse battery"})
	if r := b.do("POST", accountURL+"/api/v1/me/mfa/totp", map[string]string{}); r.StatusCode != 200 {
		t.Errorf("after reauth: %d %s", r.StatusCode, r.body)
	}
}
