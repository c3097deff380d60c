package gateway

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"unigate/accounts"
	"unigate/mail"
)

// mailsOf counts the messages of kind queued to to.
func (m *recordingMailer) mailsOf(kind, to string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, q := range m.sent {
		if q.kind == kind && q.to == to {
			n++
		}
	}
	return n
}

// CONTRACT §10 forgot password over the JSON API, on the account host and
// on a legacy login host, with and without a second factor.
func TestResetOverHTTP(t *testing.T) {
	cases := []struct {
		name   string
		base   string // where the login API is
		totp   bool
		create func(h *harness)
	}{
		{name: "account host, no second factor", base: accountURL + "/api/v1"},
		{name: "account host, TOTP", base: accountURL + "/api/v1", totp: true},
		{name: "legacy login host", base: dediboxURL + "/.auth/api/v1", create: func(h *harness) {
			h.createAccount("alice@example.com", "correct horse battery",
				accounts.ConsoleAccount{Console: "dedibox", ExternalID: "d-old", Prelinked: true, LinkedAt: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)},
				accounts.ConsoleAccount{Console: "scaleway", ExternalID: "s-old"})
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := legacyHarness(t)
			if tc.create != nil {
				tc.create(h)
			} else {
				h.createAccount("alice@example.com", "correct horse battery")
			}
			mailer := h.gw.mailer.(*recordingMailer)
			old := h.browser()
			old.login("alice@example.com", "correct horse battery")
			var secret string
			if tc.totp {
				secret = old.enrollTOTP()
				h.clock.Advance(30 * time.Second) // the confirming code's step is burnt
			}

			b := h.browser()
			b.do("POST", tc.base+"/login/identify", map[string]string{"email": "alice@example.com"})
			r := b.do("POST", tc.base+"/login/reset", map[string]string{})
			if r.StatusCode != 202 || strings.TrimSpace(string(r.body)) != `{"sent":true}` {
				t.Fatalf("reset: %d %s", r.StatusCode, r.body)
			}
			if r := b.do("POST", tc.base+"/login/reset", map[string]string{}); r.StatusCode != 429 || r.Header.Get("Retry-After") == "" {
				t.Fatalf("again within 30 s: %d %s", r.StatusCode, r.body)
			}
			if r := b.do("POST", tc.base+"/login/reset/verify", map[string]string{"code": "00000000"}); r.StatusCode != 401 || r.json(t)["error"] != "invalid_code" {
				t.Fatalf("a wrong code: %d %s", r.StatusCode, r.body)
			}
			r = b.do("POST", tc.base+"/login/reset/verify", map[string]string{"code": mailer.lastCode(t, "alice@example.com")})
			want := "set_password"
			if tc.totp {
				want = "mfa"
			}
			if r.StatusCode != 200 || r.json(t)["next"] != want {
				t.Fatalf("verify: %d %s, want next %s", r.StatusCode, r.body, want)
			}
			if tc.totp {
				if r := b.do("POST", tc.base+"/login/password/set", map[string]string{"password": "a brand new passphrase"}); r.StatusCode == 200 {
					t.Fatalf("password set before the second factor: %s", r.body)
				}
				r = b.do("POST", tc.base+"/login/totp", map[string]string{"code": totpCode(t, secret, h.clock.Now())})
				if r.StatusCode != 200 || r.json(t)["next"] != "set_password" {
					t.Fatalf("totp: %d %s", r.StatusCode, r.body)
				}
			}
			r = b.do("POST", tc.base+"/login/password/set", map[string]string{"password": "a brand new passphrase"})
			if r.StatusCode != 200 || r.json(t)["next"] != "done" {
				t.Fatalf("set password: %d %s", r.StatusCode, r.body)
			}
			if r := old.do("GET", accountURL+"/api/v1/session", nil); r.StatusCode != 401 {
				t.Errorf("the other session after the reset: %d, want 401", r.StatusCode)
			}
			if got := mailer.mailsOf(mail.KindPasswordReset, "alice@example.com"); got != 1 {
				t.Errorf("got %d password_reset notices, want 1", got)
			}
			x := h.browser()
			x.do("POST", tc.base+"/login/identify", map[string]string{"email": "alice@example.com"})
			if r := x.do("POST", tc.base+"/login/password", map[string]string{"password": "correct horse battery"}); r.StatusCode != 401 {
				t.Errorf("the old password: %d %s", r.StatusCode, r.body)
			}
		})
	}
}

// An unknown address gets the same 202 and nothing is mailed.
func TestResetUnknownAddressOverHTTP(t *testing.T) {
	h := newHarness(t)
	mailer := h.gw.mailer.(*recordingMailer)
	b := h.browser()
	b.do("POST", accountURL+"/api/v1/login/identify", map[string]string{"email": "nobody@example.com"})
	r := b.do("POST", accountURL+"/api/v1/login/reset", map[string]string{})
	if r.StatusCode != 202 || strings.TrimSpace(string(r.body)) != `{"sent":true}` {
		t.Fatalf("reset: %d %s", r.StatusCode, r.body)
	}
	if n := mailer.count(); n != 0 {
		t.Errorf("got %d mails, want none", n)
	}
	if r := b.do("POST", accountURL+"/api/v1/login/reset", map[string]string{}); r.StatusCode != 429 {
		t.Errorf("the 30 s limit holds for an unknown address too: %d", r.StatusCode)
	}
}

// The "Forgot password?" link of the password page, through the forms alone.
func TestResetFromTheLoginPage(t *testing.T) {
	h := newHarness(t)
	h.createAccount("alice@example.com", "correct horse battery")
	mailer := h.gw.mailer.(*recordingMailer)
	b := h.browser()
	r := b.do("POST", accountURL+"/login", url.Values{"step": {"identify"}, "email": {"alice@example.com"}})
	if r.StatusCode != 303 {
		t.Fatalf("identify: %d", r.StatusCode)
	}
	page := b.do("GET", accountURL+"/login", nil)
	if !strings.Contains(string(page.body), `value="reset_send"`) || !strings.Contains(string(page.body), "Forgot password?") {
		t.Fatalf("the password page has no Forgot password? link:\n%s", page.body)
	}
	r = b.do("POST", accountURL+"/login", url.Values{"step": {"reset_send"}})
	if r.StatusCode != 303 || r.Header.Get("Location") != "/login?reset=1" {
		t.Fatalf("reset_send: %d %q", r.StatusCode, r.Header.Get("Location"))
	}
	page = b.do("GET", accountURL+"/login?reset=1", nil)
	if !strings.Contains(string(page.body), `value="reset"`) {
		t.Fatalf("no reset code form:\n%s", page.body)
	}
	r = b.do("POST", accountURL+"/login", url.Values{"step": {"reset"}, "code": {"00000000"}})
	if r.StatusCode != 401 || !strings.Contains(string(r.body), `value="reset"`) {
		t.Fatalf("a wrong code: %d, want the reset form again", r.StatusCode)
	}
	r = b.do("POST", accountURL+"/login", url.Values{"step": {"reset"}, "code": {mailer.lastCode(t, "alice@example.com")}})
	if r.StatusCode != 303 {
		t.Fatalf("reset: %d %s", r.StatusCode, r.body)
	}
	if page := b.do("GET", accountURL+"/login", nil); !strings.Contains(string(page.body), `value="set_password"`) {
		t.Fatalf("no new password form:\n%s", page.body)
	}
	r = b.do("POST", accountURL+"/login", url.Values{"step": {"set_password"}, "password": {"a brand new passphrase"}})
	if r.StatusCode != 303 || r.Header.Get("Location") != "/consoles" {
		t.Fatalf("set password: %d %q", r.StatusCode, r.Header.Get("Location"))
	}
}
