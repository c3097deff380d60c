package login

import (
	"testing"
	"time"

	"unigate/accounts"
	"unigate/mail"
)

// TestMailsCarryTheProfileName: the sign-in code and the "you already have
// an account" mail greet the owner by the name of their profile.
func TestMailsCarryTheProfileName(t *testing.T) {
	f := newFixture(t)
	a := f.account("anna@example.com", "", func(a *accounts.Account) { a.PasswordSetRequired = true })
	if err := f.accounts.(accounts.ProfileStore).SetName(f.ctx, a.ID, "Anna"); err != nil {
		t.Fatal(err)
	}
	wantErr(t, f.m.SendEmailCode(f.ctx, f.identify("anna@example.com")), nil)
	if d, ok := f.mail.sent[len(f.mail.sent)-1].data.(mail.CodeData); !ok || d.Name != "Anna" {
		t.Errorf("email code data %+v, want Name Anna", f.mail.sent[len(f.mail.sent)-1].data)
	}
	f.clock.advance(time.Minute) // one code per address per 30 s
	l := &Login{Client: f.client, Locale: "en"}
	if _, err := f.m.StartSignup(f.ctx, l, "anna@example.com", "a brand new passphrase", Opening{Host: "account.test"}); err != nil {
		t.Fatal(err)
	}
	if d, ok := f.mail.sent[len(f.mail.sent)-1].data.(mail.AccountExistsData); !ok || d.Name != "Anna" {
		t.Errorf("account exists data %+v, want Name Anna", f.mail.sent[len(f.mail.sent)-1].data)
	}
}
