package gateway

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

// TestSignupSessionIsNotMultiFactor: password + the sign-up's email check
// is one factor and an address check: amr ["pwd"], never "mfa", and
// X-Auth-MFA none (issue 16, finding 2).
func TestSignupSessionIsNotMultiFactor(t *testing.T) {
	h := newHarness(t)
	mailer := h.gw.mailer.(*recordingMailer)
	b := h.browser()
	r := b.do("POST", accountURL+"/api/v1/signup", map[string]string{"email": "new@example.com", "password": "a fine new passphrase"})
	if r.StatusCode != 202 {
		t.Fatalf("signup: %d %s", r.StatusCode, r.body)
	}
	r = b.do("POST", accountURL+"/api/v1/signup/verify", map[string]string{"code": mailer.lastCode(t, "new@example.com")})
	if r.StatusCode != 200 || r.json(t)["next"] != "done" {
		t.Fatalf("verify: %d %s", r.StatusCode, r.body)
	}
	b.enter("scaleway")
	if r := b.do("GET", scalewayURL+"/", nil); r.StatusCode != 200 {
		t.Fatalf("console: %d %s", r.StatusCode, r.body)
	}
	got := h.scaleway.last(t).Header
	claims := verifyAssertion(t, h, got.Get("X-Auth-Assertion"))
	if amr := fmt.Sprint(claims["amr"]); amr != "[pwd]" || got.Get("X-Auth-MFA") != "none" {
		t.Errorf("after sign-up: amr %s, X-Auth-MFA %q; want [pwd] and none", amr, got.Get("X-Auth-MFA"))
	}
}

// TestUpstreamSessionIdIsNotTheStoreKey: X-Auth-Session-Id and sid are a
// keyed hash of the session's store key, not the key itself: stable across
// the session's requests and its hosts, different for another session
// (issue 16, finding 14).
func TestUpstreamSessionIdIsNotTheStoreKey(t *testing.T) {
	h := newHarness(t)
	a := h.createAccount("alice@example.com", "correct horse battery")
	b := h.browser()
	b.login("alice@example.com", "correct horse battery")
	b.enter("scaleway")
	b.enter("dedibox")
	sessions, err := h.sessions.ListAccount(context.Background(), a.ID)
	if err != nil || len(sessions) != 1 {
		t.Fatalf("sessions: %v %v", sessions, err)
	}
	handle := sessions[0].Handle
	sent := func(b *browser, up *upstream, url string) (string, any) {
		t.Helper()
		if r := b.do("GET", url, nil); r.StatusCode != 200 {
			t.Fatalf("console: %d %s", r.StatusCode, r.body)
		}
		got := up.last(t).Header
		return got.Get("X-Auth-Session-Id"), verifyAssertion(t, h, got.Get("X-Auth-Assertion"))["sid"]
	}
	id, sid := sent(b, h.scaleway, scalewayURL+"/")
	if id == "" || id == handle || strings.Contains(handle, id) || strings.Contains(id, handle) {
		t.Errorf("X-Auth-Session-Id %q for store key %q: want a keyed hash of it", id, handle)
	}
	if sid != id {
		t.Errorf("sid %v, X-Auth-Session-Id %q: want the same", sid, id)
	}
	if again, _ := sent(b, h.scaleway, scalewayURL+"/x"); again != id {
		t.Errorf("second request: %q, want %q", again, id)
	}
	if other, _ := sent(b, h.dedibox, dediboxURL+"/"); other != id {
		t.Errorf("other console host: %q, want the same session's %q", other, id)
	}
	b2 := h.browser()
	b2.login("alice@example.com", "correct horse battery")
	b2.enter("scaleway")
	if other, _ := sent(b2, h.scaleway, scalewayURL+"/"); other == id {
		t.Errorf("another session sends the same id %q", id)
	}
}
