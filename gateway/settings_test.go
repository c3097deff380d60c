package gateway

import (
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestChangePasswordRevokesOtherSessions(t *testing.T) {
	h := newHarness(t)
	h.createAccount("alice@example.com", "correct horse battery")
	laptop, phone := h.browser(), h.browser()
	laptop.login("alice@example.com", "correct horse battery")
	phone.login("alice@example.com", "correct horse battery")
	body := map[string]string{"current_password": "wrong one", "new_password": "a new long passphrase"}
	if r := laptop.do("POST", accountURL+"/api/v1/me/password", body); r.StatusCode != 401 {
		t.Fatalf("wrong current password: %d %s", r.StatusCode, r.body)
	}
	body["current_password"] = "correct horse battery"
	if r := laptop.do("POST", accountURL+"/api/v1/me/password", body); r.StatusCode != 204 {
		t.Fatalf("change: %d %s", r.StatusCode, r.body)
	}
	if r := phone.do("GET", accountURL+"/api/v1/session", nil); r.StatusCode != 401 {
		t.Fatalf("other session after a password change: %d", r.StatusCode)
	}
	if r := laptop.do("GET", accountURL+"/api/v1/session", nil); r.StatusCode != 200 {
		t.Fatalf("this session after a password change: %d", r.StatusCode)
	}
	h.browser().login("alice@example.com", "a new long passphrase")
	// Without a recent proof: 403 reauth_required.
	h.clock.Advance(6 * time.Minute)
	body = map[string]string{"current_password": "a new long passphrase", "new_password": "yet another passphrase"}
	if r := laptop.do("POST", accountURL+"/api/v1/me/password", body); r.StatusCode != 403 || r.json(t)["error"] != "reauth_required" {
		t.Fatalf("change without a recent proof: %d %s", r.StatusCode, r.body)
	}
}

func TestSettingsPageSignOutEverywhere(t *testing.T) {
	h := newHarness(t)
	h.createAccount("alice@example.com", "correct horse battery")
	a, b := h.browser(), h.browser()
	a.login("alice@example.com", "correct horse battery")
	b.login("alice@example.com", "correct horse battery")
	r := a.do("GET", accountURL+"/settings", nil, "Accept", "text/html")
	if r.StatusCode != 200 || strings.Count(string(r.body), "<tr><td title=") != 2 || !strings.Contains(string(r.body), "this one") {
		t.Fatalf("settings page: %d %s", r.StatusCode, r.body)
	}
	r = a.do("POST", accountURL+"/settings/sessions/revoke-all", url.Values{}, "Accept", "text/html")
	if r.StatusCode != 303 {
		t.Fatalf("sign out everywhere: %d", r.StatusCode)
	}
	for _, x := range []*browser{a, b} {
		if r := x.do("GET", accountURL+"/api/v1/session", nil); r.StatusCode != 401 {
			t.Fatalf("session after sign out everywhere: %d", r.StatusCode)
		}
	}
}

// GET /me/sessions names each session's device as people read it
// (CONTRACT §10: "Firefox on Windows"), beside the raw User-Agent.
func TestSessionListNamesDevices(t *testing.T) {
	h := newHarness(t)
	h.createAccount("alice@example.com", "correct horse battery")
	b := h.browser()
	const firefox = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"
	b.do("POST", accountURL+"/api/v1/login/identify", map[string]string{"email": "alice@example.com"}, "User-Agent", firefox)
	if r := b.do("POST", accountURL+"/api/v1/login/password", map[string]string{"password": "correct horse battery"}, "User-Agent", firefox); r.StatusCode != 200 {
		t.Fatalf("login: %d %s", r.StatusCode, r.body)
	}
	r := b.do("GET", accountURL+"/api/v1/me/sessions", nil)
	if r.StatusCode != 200 || !strings.Contains(string(r.body), `"device":"Firefox on Windows"`) || !strings.Contains(string(r.body), `"user_agent":"Mozilla/5.0`) {
		t.Fatalf("sessions: %d %s", r.StatusCode, r.body)
	}
}
