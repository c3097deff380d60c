package gateway

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"unigate/mail"
	"unigate/mail/mailtest"
)

// mailpitOutbox makes the harness send its mail for real, through the
// outbox and SMTP, to a Mailpit the test reads back.
func mailpitOutbox(t *testing.T, smtp *mailtest.Mailpit) func(*Deps) {
	return func(d *Deps) {
		renderer, err := mail.NewRenderer("Accounts <no-reply@account.localhost>")
		if err != nil {
			t.Fatal(err)
		}
		transport, err := mail.NewSMTP(mail.SMTPConfig{Host: smtp.SMTPHost, Port: smtp.SMTPPort, TLS: "none", From: "no-reply@account.localhost"})
		if err != nil {
			t.Fatal(err)
		}
		sender, err := mail.NewSender(d.Accounts, transport, mail.SenderOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); sender.Run(ctx) }()
		t.Cleanup(func() { cancel(); <-done })
		d.Mailer = &mail.Outbox{Store: d.Accounts, Renderer: renderer, Sender: sender}
	}
}

// latestLink returns the first http(s) line of the newest mail to `to`.
func latestLink(t *testing.T, smtp *mailtest.Mailpit, to string) string {
	t.Helper()
	msg := smtp.WaitMessages(t, to, 1)[0]
	for _, line := range strings.Split(smtp.Text(t, msg.ID), "\n") {
		if line = strings.TrimSpace(line); strings.HasPrefix(line, "http") {
			return line
		}
	}
	t.Fatalf("no link in the mail to %s", to)
	return ""
}

// TestBrowserPortal walks the portal as its users do: sign up with the code
// from a real SMTP server, enter a console, switch to the other, create an
// organization and invite a member who signs in and joins it, and revoke a
// session from the settings.
func TestBrowserPortal(t *testing.T) {
	if testing.Short() {
		t.Skip("drives a browser")
	}
	smtp := mailtest.StartMailpit(t)
	h := newBrowserHarnessWithDeps(t, mailpitOutbox(t, smtp))
	h.createAccount("member@example.com", "correct horse battery")
	dir := artifactDir(t)
	owner := newChrome(t)

	run(t, owner, "sign up",
		chromedp.Navigate(h.base+"/signup"),
		chromedp.WaitVisible(chromedp.CSS(`#email`)),
		shot(t, dir, "portal-1-signup"),
		chromedp.SendKeys(chromedp.CSS(`#email`), "owner@example.com"),
		chromedp.SendKeys(chromedp.CSS(`#password`), "a fine new passphrase"),
		chromedp.Submit(chromedp.CSS(`#password`)),
		chromedp.WaitVisible(chromedp.CSS(`#code`)),
		shot(t, dir, "portal-2-verify"),
	)
	code := smtp.LatestCode(t, "owner@example.com")
	run(t, owner, "verify and enter Dedibox",
		chromedp.SendKeys(chromedp.CSS(`#code`), code),
		chromedp.Submit(chromedp.CSS(`#code`)),
		waitPath("/consoles"),
		chromedp.WaitVisible(chromedp.CSS(`.consoles`)),
		shot(t, dir, "portal-3-consoles"),
		chromedp.Click(chromedp.CSS(`form[action="/consoles/dedibox/enter"] button`)),
		waitPath("/"),
		shot(t, dir, "portal-4-dedibox"),
	)
	if got := h.dedibox.last(t).Header.Get("X-Auth-Email"); got != "owner@example.com" {
		t.Fatalf("Dedibox received %q", got)
	}
	run(t, owner, "switch to Scaleway",
		chromedp.Navigate("http://dedibox.localhost:"+h.port+"/.auth/switch/scaleway"),
		waitPath("/"),
		shot(t, dir, "portal-5-switched-to-scaleway"),
	)
	if got := h.scaleway.last(t).Header.Get("X-Auth-Email"); got != "owner@example.com" {
		t.Fatalf("Scaleway received %q", got)
	}
	run(t, owner, "create an organization and invite",
		chromedp.Navigate(h.base+"/orgs"),
		chromedp.WaitVisible(chromedp.CSS(`#name`)),
		chromedp.SendKeys(chromedp.CSS(`#name`), "Acme"),
		chromedp.Submit(chromedp.CSS(`#name`)),
		chromedp.WaitVisible(chromedp.Search(`//a[text()="Acme"]`)),
		chromedp.Click(chromedp.Search(`//a[text()="Acme"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#invite-email`)),
		chromedp.SendKeys(chromedp.CSS(`#invite-email`), "member@example.com"),
		chromedp.Submit(chromedp.CSS(`#invite-email`)),
		chromedp.WaitVisible(chromedp.Search(`//p[contains(., "Invitation sent")]`)),
		shot(t, dir, "portal-6-organization"),
	)

	link := latestLink(t, smtp, "member@example.com")
	member := newChrome(t)
	run(t, member, "the member signs in and joins",
		chromedp.Navigate(link),
		chromedp.WaitVisible(chromedp.CSS(`#email`)),
		chromedp.SendKeys(chromedp.CSS(`#email`), "member@example.com"),
		chromedp.Submit(chromedp.CSS(`#email`)),
		chromedp.WaitVisible(chromedp.CSS(`#password`)),
		chromedp.SendKeys(chromedp.CSS(`#password`), "correct horse battery"),
		chromedp.Submit(chromedp.CSS(`#password`)),
		chromedp.WaitVisible(chromedp.Search(`//h1[text()="Join the organization"]`)),
		shot(t, dir, "portal-7-invitation"),
		chromedp.Click(chromedp.CSS(`form[action$="/accept"] button`)),
		waitPath("/consoles"),
		chromedp.Navigate(h.base+"/orgs"),
		chromedp.WaitVisible(chromedp.Search(`//a[text()="Acme"]`)),
		shot(t, dir, "portal-8-member-sees-organization"),
	)

	// Another session of the owner, revoked from the settings page.
	other := h.browser()
	other.do("POST", h.base+"/api/v1/login/identify", map[string]string{"email": "owner@example.com"})
	if r := other.do("POST", h.base+"/api/v1/login/password", map[string]string{"password": "a fine new passphrase"}); r.StatusCode != 200 {
		t.Fatalf("second session: %d %s", r.StatusCode, r.body)
	}
	run(t, owner, "revoke a session",
		chromedp.Navigate(h.base+"/settings"),
		chromedp.WaitVisible(chromedp.CSS(`form[action$="/revoke"] button`)),
		shot(t, dir, "portal-9-settings-sessions"),
		chromedp.Click(chromedp.CSS(`form[action$="/revoke"] button`)),
		chromedp.WaitVisible(chromedp.Search(`//p[contains(., "was signed out")]`)),
		shot(t, dir, "portal-10-session-revoked"),
	)
	if r := other.do("GET", h.base+"/api/v1/session", nil); r.StatusCode != 401 {
		t.Fatalf("revoked session still answers: %d", r.StatusCode)
	}
}
