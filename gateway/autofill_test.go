package gateway

import (
	"strings"
	"testing"
)

// TestPasskeyOptionsBeforeIdentify: POST /login/passkey/options answers
// without any identify, for passkey autofill, and opens a login of its own;
// a signed-in browser keeps its session; the login page's email field asks
// for passkeys (CONTRACT §11).
func TestPasskeyOptionsBeforeIdentify(t *testing.T) {
	h := newHarness(t)
	h.createAccount("alice@example.com", "correct horse battery")
	b := h.browser()
	r := b.do("POST", accountURL+"/api/v1/login/passkey/options", map[string]any{"autofill": true, "return_to": "/settings"})
	if r.StatusCode != 200 || !strings.Contains(string(r.body), `"challenge"`) || strings.Contains(string(r.body), "allowCredentials") {
		t.Fatalf("options: %d %s, want a discoverable challenge", r.StatusCode, r.body)
	}
	if b.cookie("account.test") == nil {
		t.Fatal("no login cookie")
	}
	// A forged answer is refused like any passkey.
	r = b.do("POST", accountURL+"/api/v1/login/passkey", map[string]any{"id": "x", "type": "public-key"})
	if r.StatusCode != 401 || r.json(t)["error"] != "invalid_credentials" {
		t.Errorf("forged answer: %d %s", r.StatusCode, r.body)
	}
	// Without a body, as before.
	if r := h.browser().do("POST", accountURL+"/api/v1/login/passkey/options", nil); r.StatusCode != 200 {
		t.Errorf("options without a body: %d %s", r.StatusCode, r.body)
	}

	// A signed-in browser: its session is not replaced by a page load.
	b = h.browser()
	b.login("alice@example.com", "correct horse battery")
	before := b.cookie("account.test").Value
	if r := b.do("POST", accountURL+"/api/v1/login/passkey/options", map[string]any{"autofill": true}); r.StatusCode < 400 {
		t.Errorf("options over a complete session: %d", r.StatusCode)
	}
	if b.cookie("account.test").Value != before || b.do("GET", accountURL+"/api/v1/session", nil).StatusCode != 200 {
		t.Error("the signed-in session was replaced")
	}

	page := string(h.browser().do("GET", accountURL+"/login", nil).body)
	if !strings.Contains(page, `autocomplete="username webauthn" data-passkey-autofill="/api/v1/login/passkey"`) {
		t.Errorf("login page email field:\n%s", page)
	}
}
