package gateway

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"unigate/accounts"
	"unigate/config"
)

func legacyHarness(t *testing.T) *harness {
	return newHarness(t, func(c *config.Config) {
		c.Consoles[0].LegacyLogin = true
		c.Consoles[0].LegacyLoginPaths = []string{"/login"}
	})
}

// A Dedibox account linked before the cutoff signs in on the Dedibox host
// itself, and the session works on the other console too (CONTRACT §4).
func TestLegacyLoginPrelinked(t *testing.T) {
	h := legacyHarness(t)
	h.createAccount("old@example.com", "correct horse battery",
		accounts.ConsoleAccount{Console: "dedibox", ExternalID: "d-old", Prelinked: true, LinkedAt: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)},
		accounts.ConsoleAccount{Console: "scaleway", ExternalID: "s-old"})
	b := h.browser()
	r := b.do("POST", dediboxURL+"/.auth/api/v1/login/identify", map[string]string{"email": "old@example.com"})
	if r.StatusCode != 200 || strings.Contains(string(r.body), "passkey") {
		t.Fatalf("legacy identify: %d %s", r.StatusCode, r.body)
	}
	r = b.do("POST", dediboxURL+"/.auth/api/v1/login/password", map[string]string{"password": "correct horse battery"})
	if r.StatusCode != 200 || r.json(t)["next"] != "done" {
		t.Fatalf("legacy password: %d %s", r.StatusCode, r.body)
	}
	if b.cookie("console.online.test") == nil {
		t.Fatal("no session cookie on the Dedibox host")
	}
	if r := b.do("GET", dediboxURL+"/servers", nil); r.StatusCode != 200 {
		t.Fatalf("console after legacy login: %d", r.StatusCode)
	}
	got := h.dedibox.last(t).Header
	if got.Get("X-Auth-Prelinked") != "true" || got.Get("X-Auth-Console-Account-Id") != "d-old" {
		t.Errorf("headers: prelinked %q account %q", got.Get("X-Auth-Prelinked"), got.Get("X-Auth-Console-Account-Id"))
	}
	// Switching to the other console works with the same session.
	r = b.do("GET", dediboxURL+"/.auth/switch/scaleway", nil)
	b.handoff(r.Header.Get("Location"))
	if r := b.do("GET", scalewayURL+"/", nil); r.StatusCode != 200 {
		t.Fatalf("switch after legacy login: %d", r.StatusCode)
	}
}

// Any other account authenticates fully, then gets 403 and no session.
func TestLegacyLoginRefusedForOthers(t *testing.T) {
	h := legacyHarness(t)
	h.createAccount("new@example.com", "correct horse battery")
	b := h.browser()
	b.do("POST", dediboxURL+"/.auth/api/v1/login/identify", map[string]string{"email": "new@example.com"})
	r := b.do("POST", dediboxURL+"/.auth/api/v1/login/password", map[string]string{"password": "correct horse battery"})
	m := r.json(t)
	if r.StatusCode != 403 || m["error"] != "legacy_login_not_allowed" || !strings.HasPrefix(m["login_url"].(string), accountURL+"/login") {
		t.Fatalf("refused legacy login: %d %s", r.StatusCode, r.body)
	}
	if r := b.do("GET", dediboxURL+"/servers", nil, "Accept", "application/json"); r.StatusCode != 401 {
		t.Fatalf("a session was left: %d", r.StatusCode)
	}
	if h.dedibox.count() != 0 {
		t.Fatal("the console was reached")
	}
}

func TestLegacyLoginPages(t *testing.T) {
	h := legacyHarness(t)
	h.createAccount("old@example.com", "correct horse battery",
		accounts.ConsoleAccount{Console: "dedibox", ExternalID: "d-old", Prelinked: true})
	b := h.browser()
	// The old bookmark serves the login page instead of reaching the console.
	r := b.do("GET", dediboxURL+"/login", nil, "Accept", "text/html")
	if r.StatusCode != 200 || !strings.Contains(string(r.body), `action="/.auth/login"`) || !strings.Contains(string(r.body), "Sign in to Dedibox") {
		t.Fatalf("legacy page: %d %.300s", r.StatusCode, r.body)
	}
	if h.dedibox.count() != 0 {
		t.Fatal("the old bookmark was proxied")
	}
	r = b.do("POST", dediboxURL+"/.auth/login", url.Values{"step": {"identify"}, "email": {"old@example.com"}}, "Accept", "text/html")
	if r.StatusCode != 303 || r.Header.Get("Location") != "/.auth/login" {
		t.Fatalf("legacy identify form: %d %q", r.StatusCode, r.Header.Get("Location"))
	}
	r = b.do("POST", dediboxURL+"/.auth/login", url.Values{"step": {"password"}, "password": {"correct horse battery"}}, "Accept", "text/html")
	if r.StatusCode != 303 || r.Header.Get("Location") != dediboxURL+"/" {
		t.Fatalf("legacy password form: %d %q", r.StatusCode, r.Header.Get("Location"))
	}
	// No legacy login on the other console.
	if r := b.do("GET", scalewayURL+"/.auth/login", nil, "Accept", "text/html"); r.StatusCode != 404 {
		t.Fatalf("legacy login on scaleway: %d", r.StatusCode)
	}
}
