package gateway

import (
	"testing"
)

// unaddressableEmails are addresses the mailer would read otherwise than
// the account store (issue 16, finding 4): a list, a display name that
// sends the mail elsewhere, a comment, a quoted local part.
var unaddressableEmails = []string{
	"john,doe@example.com",
	"victim<attacker@evil.test>",
	"a@example.com(evil)",
	`"a b"@example.com`,
	"a;b@example.com",
	"a@[192.0.2.1]",
}

// TestUnaddressableEmailsRefused: identify, sign-up and invitations answer
// 400 invalid_email for each (sign-up answered 500, or made an account
// whose codes went to another address), and no mail is queued.
func TestUnaddressableEmailsRefused(t *testing.T) {
	h := newHarness(t)
	mailer := h.gw.mailer.(*recordingMailer)
	h.createAccount("owner@example.com", "correct horse battery")
	owner := h.browser()
	owner.login("owner@example.com", "correct horse battery")
	r := owner.do("POST", accountURL+"/api/v1/orgs", map[string]string{"name": "Acme"})
	if r.StatusCode != 201 {
		t.Fatalf("create organization: %d %s", r.StatusCode, r.body)
	}
	orgID := r.json(t)["id"].(string)
	mailer.mu.Lock()
	before := len(mailer.sent)
	mailer.mu.Unlock()

	for _, email := range unaddressableEmails {
		t.Run(email, func(t *testing.T) {
			b := h.browser()
			for _, call := range []struct {
				who  *browser
				path string
				body map[string]string
			}{
				{b, "/api/v1/login/identify", map[string]string{"email": email}},
				{b, "/api/v1/signup", map[string]string{"email": email, "password": "a fine new passphrase"}},
				{owner, "/api/v1/orgs/" + orgID + "/invitations", map[string]string{"email": email, "role": "member"}},
			} {
				r := call.who.do("POST", accountURL+call.path, call.body)
				if r.StatusCode != 400 || r.json(t)["error"] != "invalid_email" {
					t.Errorf("%s: %d %s, want 400 invalid_email", call.path, r.StatusCode, r.body)
				}
			}
		})
	}
	mailer.mu.Lock()
	defer mailer.mu.Unlock()
	if n := len(mailer.sent) - before; n != 0 {
		t.Errorf("%d mails queued to unaddressable addresses: %+v", n, mailer.sent[before:])
	}
}
