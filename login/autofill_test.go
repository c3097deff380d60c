package login

import (
	"errors"
	"testing"

	"unigate/session"
)

// TestPasskeyAutofill: options before any identify open a login with no
// email; the passkey then names the account and the login completes as a
// passwordless one (CONTRACT §11).
func TestPasskeyAutofill(t *testing.T) {
	cases := []struct {
		name  string
		owner func(f *fixture) string // the account the passkey names
		want  error
	}{
		{"the passkey signs its account in", func(f *fixture) string { return f.aliceID() }, nil},
		{"a refused assertion", func(*fixture) string { return "" }, ErrInvalidCredentials},
		{"a passkey naming no account", func(*fixture) string { return "no-such-account" }, ErrInvalidCredentials},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.withPasskey(f.account("alice@example.com", "correct horse battery"))
			l := &Login{Client: f.client}
			options, res, err := f.m.PasskeyAutofillOptions(f.ctx, l, Opening{Host: "account.test", ReturnTo: "/settings"})
			if err != nil || len(options) == 0 || res.Token == "" || !AutofillInProgress(l) {
				t.Fatalf("options: %s, %+v, %v", options, res, err)
			}
			if l.Session.ReturnTo != "/settings" {
				t.Errorf("return_to: got %q", l.Session.ReturnTo)
			}
			f.passkeys.owner = tc.owner(f)
			res, err = f.m.PasskeyAutofill(f.ctx, l, []byte(`{}`))
			wantErr(t, err, tc.want)
			if tc.want != nil {
				return
			}
			if !res.Complete || l.Session.Email != "alice@example.com" || l.Session.MFA != "passkey" {
				t.Errorf("got %+v, session %+v; want a complete passwordless login of alice", res, l.Session)
			}
		})
	}
}

func TestPasskeyAutofillRefusals(t *testing.T) {
	f := newFixture(t)
	f.withPasskey(f.account("alice@example.com", "correct horse battery"))
	f.passkeys.owner = f.aliceID()

	// Never on a legacy console host, never over a complete session.
	_, _, err := f.m.PasskeyAutofillOptions(f.ctx, &Login{Client: f.client, LegacyConsole: "dedibox"}, Opening{})
	wantErr(t, err, ErrPasskeyUnavailable)
	f.account("bob@example.com", "correct horse battery")
	done := f.complete("bob@example.com", "correct horse battery")
	_, _, err = f.m.PasskeyAutofillOptions(f.ctx, done, Opening{})
	wantErr(t, err, ErrWrongStep)

	// An identified login's challenge does not answer autofill, nor the reverse.
	identified := f.identify("alice@example.com")
	if _, err := f.m.PasskeyOptions(f.ctx, identified); err != nil {
		t.Fatal(err)
	}
	_, err = f.m.PasskeyAutofill(f.ctx, identified, nil)
	wantErr(t, err, ErrNoLogin)
	l := &Login{Client: f.client}
	if _, _, err := f.m.PasskeyAutofillOptions(f.ctx, l, Opening{}); err != nil {
		t.Fatal(err)
	}
	_, err = f.m.Passkey(f.ctx, l, nil)
	if err == nil {
		t.Error("an autofill login answered through the identified login's step")
	}
	// Its challenge serves once.
	if _, err := f.m.PasskeyAutofill(f.ctx, l, nil); err != nil {
		t.Fatalf("first answer: %v", err)
	}
	stale := &Login{Client: f.client, Session: &session.Session{Next: session.StepFirstFactor, Ceremony: nil}}
	_, err = f.m.PasskeyAutofill(f.ctx, stale, nil)
	if !errors.Is(err, ErrNoCeremony) {
		t.Errorf("no challenge: got %v, want no_ceremony", err)
	}
}
