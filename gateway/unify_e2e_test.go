package gateway

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"unigate/config"
	"unigate/unify"
)

func bcryptOf(t *testing.T, pw string) string {
	h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}

// TestUnifiedAccountsLogIn runs the unification on exports with one user
// per situation of CONTRACT §8, then logs each in over HTTP and checks the
// next steps and what the consoles receive.
func TestUnifiedAccountsLogIn(t *testing.T) {
	h := newHarness(t, func(c *config.Config) {
		c.Consoles[0].LegacyLogin = true
	})
	const totpSecret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
	dir := t.TempDir()
	dedibox := strings.Join([]string{
		// 1. linked to Scaleway before the cutoff; the Scaleway password and TOTP win.
		fmt.Sprintf(`{"id":"d1","email":"Linked@Example.com","password_hash":%q,"linked_scaleway_account_id":"s1","linked_at":"2024-03-01T10:00:00Z","created_at":"2015-01-01T00:00:00Z","plan":"kimsufi"}`, bcryptOf(t, "dedibox password 1")),
		// 2. no Scaleway account: a new one is created; the Dedibox password stays.
		fmt.Sprintf(`{"id":"d2","email":"alone@example.com","password_hash":%q,"created_at":"2016-01-01T00:00:00Z"}`, bcryptOf(t, "alone password 22")),
		// 3. SMS was the only MFA: enrollment forced.
		fmt.Sprintf(`{"id":"d3","email":"sms@example.com","password_hash":%q,"sms_mfa_phone":"+33600000000","created_at":"2017-01-01T00:00:00Z"}`, bcryptOf(t, "sms password 333")),
		// 4. two Dedibox accounts, one email: password and MFA erased, email code.
		fmt.Sprintf(`{"id":"d4","email":"twins@example.com","password_hash":%q,"totp_secret":%q,"created_at":"2018-01-01T00:00:00Z"}`, bcryptOf(t, "twin password 444"), totpSecret),
		fmt.Sprintf(`{"id":"d5","email":"TWINS@example.com","password_hash":%q,"created_at":"2018-02-01T00:00:00Z"}`, bcryptOf(t, "twin password 555")),
		// 6. Dedibox TOTP carried over.
		fmt.Sprintf(`{"id":"d6","email":"totp@example.com","password_hash":%q,"totp_secret":%q,"created_at":"2019-01-01T00:00:00Z"}`, bcryptOf(t, "totp password 666"), totpSecret),
	}, "\n") + "\n"
	scaleway := strings.Join([]string{
		fmt.Sprintf(`{"id":"s1","email":"linked@example.com","password_hash":%q,"totp_secret":%q,"created_at":"2020-01-01T00:00:00Z"}`, bcryptOf(t, "scaleway password 1"), totpSecret),
		// 5. Scaleway only: nothing changes.
		fmt.Sprintf(`{"id":"s5","email":"cloud@example.com","password_hash":%q,"created_at":"2021-01-01T00:00:00Z"}`, bcryptOf(t, "cloud password 55")),
	}, "\n") + "\n"
	dPath, sPath := filepath.Join(dir, "dedibox.jsonl"), filepath.Join(dir, "scaleway.jsonl")
	os.WriteFile(dPath, []byte(dedibox), 0o600)
	os.WriteFile(sPath, []byte(scaleway), 0o600)
	report, err := unify.Run(context.Background(), h.accounts.(unify.Store), unify.Options{DediboxPath: dPath, ScalewayPath: sPath,
		Cutoff: h.cfg.LegacyCutoff(), SessionKey: h.cfg.SessionKey(), SignInURL: accountURL + "/login"})
	if err != nil {
		t.Fatal(err)
	}
	if report.DediboxRecords != 6 || report.ScalewayRecords != 2 || report.UnifiedAccounts != 6 || report.Prelinked != 1 ||
		report.Situations.MultipleDediboxAccounts != 1 || report.Situations.SMSMFADisabled != 1 || len(report.Rejected) != 0 {
		t.Fatalf("report: %+v", report)
	}

	identify := func(b *browser, email string) string {
		r := b.do("POST", accountURL+"/api/v1/login/identify", map[string]string{"email": email})
		return fmt.Sprint(r.json(t)["methods"])
	}
	password := func(b *browser, pw string) map[string]any {
		r := b.do("POST", accountURL+"/api/v1/login/password", map[string]string{"password": pw})
		if r.StatusCode != 200 {
			t.Fatalf("password: %d %s", r.StatusCode, r.body)
		}
		return r.json(t)
	}
	consoleHeaders := func(b *browser, console string) map[string]string {
		b.enter(console)
		u, up := dediboxURL, h.dedibox
		if console == "scaleway" {
			u, up = scalewayURL, h.scaleway
		}
		b.do("GET", u+"/", nil)
		got := up.last(t).Header
		return map[string]string{"account": got.Get("X-Auth-Console-Account-Id"), "prelinked": got.Get("X-Auth-Prelinked"), "mfa": got.Get("X-Auth-MFA")}
	}

	t.Run("linked before the cutoff: Scaleway password and TOTP, prelinked", func(t *testing.T) {
		b := h.browser()
		identify(b, "linked@example.com")
		if m := password(b, "scaleway password 1"); m["next"] != "mfa" {
			t.Fatalf("next: %v", m)
		}
		r := b.do("POST", accountURL+"/api/v1/login/totp", map[string]string{"code": totpCode(t, totpSecret, h.clock.Now())})
		if r.json(t)["next"] != "done" {
			t.Fatalf("totp: %s", r.body)
		}
		if got := consoleHeaders(b, "dedibox"); got["account"] != "d1" || got["prelinked"] != "true" || got["mfa"] != "totp" {
			t.Fatalf("dedibox headers: %v", got)
		}
		if got := consoleHeaders(b, "scaleway"); got["account"] != "s1" {
			t.Fatalf("scaleway headers: %v", got)
		}
		// Legacy login on the Dedibox host is allowed (rule 5).
		l := h.browser()
		l.do("POST", dediboxURL+"/.auth/api/v1/login/identify", map[string]string{"email": "linked@example.com"})
		l.do("POST", dediboxURL+"/.auth/api/v1/login/password", map[string]string{"password": "scaleway password 1"})
		h.clock.Advance(30e9)
		if r := l.do("POST", dediboxURL+"/.auth/api/v1/login/totp", map[string]string{"code": totpCode(t, totpSecret, h.clock.Now())}); r.json(t)["next"] != "done" {
			t.Fatalf("legacy login: %s", r.body)
		}
	})
	t.Run("no Scaleway account: Dedibox password, new Scaleway account", func(t *testing.T) {
		b := h.browser()
		identify(b, "alone@example.com")
		if m := password(b, "alone password 22"); m["next"] != "done" {
			t.Fatalf("next: %v", m)
		}
		if got := consoleHeaders(b, "dedibox"); got["account"] != "d2" || got["prelinked"] != "false" {
			t.Fatalf("dedibox headers: %v", got)
		}
		if got := consoleHeaders(b, "scaleway"); got["account"] == "" {
			t.Fatal("no Scaleway account")
		}
		// Not pre-linked: the legacy login refuses it.
		l := h.browser()
		l.do("POST", dediboxURL+"/.auth/api/v1/login/identify", map[string]string{"email": "alone@example.com"})
		if r := l.do("POST", dediboxURL+"/.auth/api/v1/login/password", map[string]string{"password": "alone password 22"}); r.StatusCode != 403 {
			t.Fatalf("legacy login of a non-prelinked account: %d", r.StatusCode)
		}
	})
	t.Run("SMS only: enrollment forced", func(t *testing.T) {
		b := h.browser()
		identify(b, "sms@example.com")
		if m := password(b, "sms password 333"); m["next"] != "enroll_mfa" {
			t.Fatalf("next: %v", m)
		}
	})
	t.Run("several Dedibox accounts: email code, set password, enroll, choose the account", func(t *testing.T) {
		b := h.browser()
		if got := identify(b, "twins@example.com"); got != "[email_code]" {
			t.Fatalf("methods: %s", got)
		}
		h.clock.Advance(31e9)
		b.do("POST", accountURL+"/api/v1/login/email-code", map[string]string{})
		code := h.gw.mailer.(*recordingMailer).lastCode(t, "twins@example.com")
		if r := b.do("POST", accountURL+"/api/v1/login/email-code/verify", map[string]string{"code": code}); r.json(t)["next"] != "set_password" {
			t.Fatalf("after code: %s", r.body)
		}
		if r := b.do("POST", accountURL+"/api/v1/login/password/set", map[string]string{"password": "a new twin passphrase"}); r.json(t)["next"] != "enroll_mfa" {
			t.Fatalf("after set_password: %s", r.body)
		}
		b.enrollTOTP()
		r := b.do("POST", accountURL+"/api/v1/consoles/dedibox/enter", map[string]string{})
		if r.StatusCode != 409 || !strings.Contains(string(r.body), `"d4"`) || !strings.Contains(string(r.body), `"d5"`) {
			t.Fatalf("entering Dedibox: %d %s", r.StatusCode, r.body)
		}
	})
	t.Run("Scaleway only: nothing changes", func(t *testing.T) {
		b := h.browser()
		identify(b, "cloud@example.com")
		if m := password(b, "cloud password 55"); m["next"] != "done" {
			t.Fatalf("next: %v", m)
		}
		if got := consoleHeaders(b, "scaleway"); got["account"] != "s5" {
			t.Fatalf("scaleway headers: %v", got)
		}
	})
	t.Run("Dedibox TOTP carried over", func(t *testing.T) {
		b := h.browser()
		identify(b, "totp@example.com")
		if m := password(b, "totp password 666"); m["next"] != "mfa" {
			t.Fatalf("next: %v", m)
		}
		h.clock.Advance(30e9)
		if r := b.do("POST", accountURL+"/api/v1/login/totp", map[string]string{"code": totpCode(t, totpSecret, h.clock.Now())}); r.json(t)["next"] != "done" {
			t.Fatalf("totp: %s", r.body)
		}
	})
	// Every unified account got its one notification in the outbox.
	if n, err := h.accounts.PendingMail(context.Background()); err != nil || n != 6 {
		t.Fatalf("notifications queued: %d %v", n, err)
	}
}
