package gateway

import (
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

var (
	pageSecret   = regexp.MustCompile(`<code>([A-Z2-7]{16,}=*)</code>`)
	pageSecretID = regexp.MustCompile(`name="secret_id" value="([A-Za-z0-9_-]+)"`)
)

// setUpOnPage posts the security page's set-up form and returns the secret
// and the secret id it shows.
func (b *browser) setUpOnPage(t *testing.T) (secret, secretID string) {
	t.Helper()
	r := b.do("POST", accountURL+"/settings/security/totp", url.Values{})
	s, id := pageSecret.FindSubmatch(r.body), pageSecretID.FindSubmatch(r.body)
	if r.StatusCode != 200 || s == nil || id == nil {
		t.Fatalf("set-up form: %d, secret %q, secret id %q", r.StatusCode, s, id)
	}
	return string(s[1]), string(id[1])
}

// TestSecurityPageTOTPSetUp is issue 16 finding 10 over HTTP: the set-up
// form needs the recent proof the API asks for, and a confirmation confirms
// the secret its page showed, not one another tab drew since.
func TestSecurityPageTOTPSetUp(t *testing.T) {
	h := newHarness(t)
	a := h.createAccount("alice@example.com", "correct horse battery")
	b := h.browser()
	b.login("alice@example.com", "correct horse battery")

	// Past the recent proof: the form refuses like the API.
	h.clock.Advance(6 * time.Minute)
	r := b.do("POST", accountURL+"/settings/security/totp", url.Values{})
	if r.StatusCode != 403 || !strings.Contains(string(r.body), "Confirm it is you first") || pageSecret.Match(r.body) {
		t.Fatalf("set-up form without a recent proof: %d, want 403 and no secret", r.StatusCode)
	}
	if r := b.do("POST", accountURL+"/api/v1/me/mfa/totp", map[string]string{}); r.StatusCode != 403 {
		t.Fatalf("API set-up without a recent proof: %d, want 403", r.StatusCode)
	}
	if r := b.do("POST", accountURL+"/settings/security/reauth", url.Values{"password": {"correct horse battery"}}); r.StatusCode != 303 {
		t.Fatalf("reauth: %d", r.StatusCode)
	}

	// Two tabs: the second set-up replaces the first.
	secret1, id1 := b.setUpOnPage(t)
	secret2, id2 := b.setUpOnPage(t)
	now := h.clock.Now()
	for _, tc := range []struct {
		name, code, secretID string
		status               int
		location             string
	}{
		{"tab 1 with its own code", totpCode(t, secret1, now), id1, 409, ""},
		{"tab 1 with tab 2's code", totpCode(t, secret2, now), id1, 409, ""},
		{"tab 2", totpCode(t, secret2, now), id2, 303, "/settings/security?notice=totp_on"},
	} {
		r := b.do("POST", accountURL+"/settings/security/totp/confirm", url.Values{"code": {tc.code}, "secret_id": {tc.secretID}})
		if r.StatusCode != tc.status || r.Header.Get("Location") != tc.location {
			t.Errorf("%s: got %d %q, want %d %q", tc.name, r.StatusCode, r.Header.Get("Location"), tc.status, tc.location)
		}
	}
	cred, err := h.accounts.TOTPCredential(t.Context(), a.ID)
	if err != nil || !cred.Confirmed {
		t.Fatalf("after tab 2: %+v %v", cred, err)
	}

	// The API names the secret too, and is held to it.
	h2 := newHarness(t)
	h2.createAccount("bob@example.com", "correct horse battery")
	api := h2.browser()
	api.login("bob@example.com", "correct horse battery")
	first := api.do("POST", accountURL+"/api/v1/me/mfa/totp", map[string]string{}).json(t)
	api.do("POST", accountURL+"/api/v1/me/mfa/totp", map[string]string{})
	r = api.do("POST", accountURL+"/api/v1/me/mfa/totp/confirm", map[string]string{
		"code": totpCode(t, first["secret"].(string), h2.clock.Now()), "secret_id": first["secret_id"].(string)})
	if r.StatusCode != 409 || r.json(t)["error"] != "no_pending_totp" {
		t.Fatalf("API confirm of a replaced set-up: %d %s, want 409 no_pending_totp", r.StatusCode, r.body)
	}
}
