package gateway

import (
	"strings"
	"testing"
	"time"

	"unigate/mail"
)

func TestSignup(t *testing.T) {
	h := newHarness(t)
	mailer := h.gw.mailer.(*recordingMailer)
	b := h.browser()
	r := b.do("POST", accountURL+"/api/v1/signup", map[string]string{"email": "New@Example.com", "password": "password1234"})
	if r.StatusCode != 400 || r.json(t)["error"] != "weak_password" {
		t.Fatalf("common password: %d %s", r.StatusCode, r.body)
	}
	r = b.do("POST", accountURL+"/api/v1/signup", map[string]string{"email": "New@Example.com", "password": "a fine new passphrase"})
	if r.StatusCode != 202 || strings.TrimSpace(string(r.body)) != `{"next":"verify_email"}` {
		t.Fatalf("signup: %d %s", r.StatusCode, r.body)
	}
	code := mailer.lastCode(t, "new@example.com")
	if r := b.do("GET", accountURL+"/api/v1/session", nil); r.StatusCode != 401 {
		t.Fatalf("session before verification: %d", r.StatusCode)
	}
	if r := b.do("POST", accountURL+"/api/v1/signup/verify", map[string]string{"code": "00000000"}); r.StatusCode != 401 || r.json(t)["error"] != "invalid_code" {
		t.Fatalf("wrong code: %d %s", r.StatusCode, r.body)
	}
	r = b.do("POST", accountURL+"/api/v1/signup/verify", map[string]string{"code": code})
	if r.StatusCode != 200 || r.json(t)["next"] != "done" {
		t.Fatalf("verify: %d %s", r.StatusCode, r.body)
	}
	r = b.do("GET", accountURL+"/api/v1/consoles", nil)
	for _, id := range []string{`"id":"dedibox"`, `"id":"scaleway"`} {
		if !strings.Contains(string(r.body), id) || strings.Count(string(r.body), `"accounts":[{"id"`) != 2 {
			t.Fatalf("consoles after sign-up: %s", r.body)
		}
	}
	// The new account signs in with its password.
	h.browser().login("new@example.com", "a fine new passphrase")
}

// Signing up with a taken address answers exactly as a new one and mails the owner.
func TestSignupTakenAddress(t *testing.T) {
	h := newHarness(t)
	h.createAccount("alice@example.com", "correct horse battery")
	mailer := h.gw.mailer.(*recordingMailer)
	b := h.browser()
	r := b.do("POST", accountURL+"/api/v1/signup", map[string]string{"email": "alice@example.com", "password": "another passphrase here"})
	if r.StatusCode != 202 || strings.TrimSpace(string(r.body)) != `{"next":"verify_email"}` {
		t.Fatalf("signup: %d %s", r.StatusCode, r.body)
	}
	mailer.mu.Lock()
	last := mailer.sent[len(mailer.sent)-1]
	mailer.mu.Unlock()
	if last.kind != mail.KindAccountExists || last.to != "alice@example.com" {
		t.Fatalf("mail to the owner: %+v", last)
	}
	h.clock.Advance(time.Second)
	if r := b.do("POST", accountURL+"/api/v1/signup/verify", map[string]string{"code": "12345678"}); r.StatusCode != 401 {
		t.Fatalf("verify on a taken address: %d", r.StatusCode)
	}
	// The owner's password still works.
	h.browser().login("alice@example.com", "correct horse battery")
}
