package login

import (
	"slices"
	"testing"
	"time"
)

// TestReauthRecordsTheProof: every re-authentication records its time, its
// method and whether the account holds a second factor now: what step-up
// and the assertion read (CONTRACT §11).
func TestReauthRecordsTheProof(t *testing.T) {
	str := func(s string) *string { return &s }
	cases := []struct {
		name      string
		withTOTP  bool
		reauth    func(f *fixture, l *Login, secret string) error
		wantProof string
	}{
		{"password, no second factor", false, func(f *fixture, l *Login, _ string) error {
			_, err := f.m.Reauth(f.ctx, l, ReauthInput{Password: str("correct horse battery")})
			return err
		}, "password"},
		{"password, totp held", true, func(f *fixture, l *Login, _ string) error {
			_, err := f.m.Reauth(f.ctx, l, ReauthInput{Password: str("correct horse battery")})
			return err
		}, "password"},
		{"totp", true, func(f *fixture, l *Login, secret string) error {
			_, err := f.m.Reauth(f.ctx, l, ReauthInput{TOTP: str(f.code(secret))})
			return err
		}, "totp"},
		{"passkey", false, func(f *fixture, l *Login, _ string) error {
			if _, err := f.m.ReauthPasskeyOptions(f.ctx, l); err != nil {
				return err
			}
			f.passkeys.ok = true
			_, err := f.m.ReauthPasskey(f.ctx, l, []byte(`{}`))
			return err
		}, "passkey"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			a := f.account("alice@example.com", "correct horse battery")
			l := f.complete("alice@example.com", "correct horse battery")
			secret := ""
			if tc.withTOTP {
				secret = f.withTOTP(a)
			}
			if tc.wantProof == "passkey" {
				f.withPasskey(a)
			}
			f.clock.advance(30 * time.Minute) // within the store's idle TTL
			if err := tc.reauth(f, l, secret); err != nil {
				t.Fatal(err)
			}
			if got := l.Session.Proof; !slices.Equal(got, []string{tc.wantProof}) {
				t.Errorf("proof: got %q, want [%s]", got, tc.wantProof)
			}
			wantHolds := tc.withTOTP || tc.wantProof == "passkey"
			if l.Session.HoldsMFA == nil || *l.Session.HoldsMFA != wantHolds {
				t.Errorf("holds mfa: got %v, want %v", l.Session.HoldsMFA, wantHolds)
			}
			if !l.Session.AuthTime.Equal(f.clock.now()) {
				t.Errorf("auth time: got %v, want %v", l.Session.AuthTime, f.clock.now())
			}
		})
	}
}

func TestReauthPasskeyRefusals(t *testing.T) {
	f := newFixture(t)
	a := f.account("alice@example.com", "correct horse battery")
	l := f.complete("alice@example.com", "correct horse battery")
	f.withPasskey(a)

	_, err := f.m.ReauthPasskey(f.ctx, l, []byte(`{}`))
	wantErr(t, err, ErrNoCeremony) // no options first

	if _, err := f.m.ReauthPasskeyOptions(f.ctx, l); err != nil {
		t.Fatal(err)
	}
	f.passkeys.ok = false
	_, err = f.m.ReauthPasskey(f.ctx, l, []byte(`{}`))
	wantErr(t, err, ErrInvalidCredentials)
	if !f.events.audited("reauth.failure") {
		t.Error("no reauth.failure audited")
	}
	if l.Session.Proof != nil {
		t.Errorf("a refused assertion recorded the proof %q", l.Session.Proof)
	}

	// A login's ceremony does not serve a re-authentication.
	pre := f.identify("alice@example.com")
	if _, err := f.m.PasskeyOptions(f.ctx, pre); err != nil {
		t.Fatal(err)
	}
	l.Session.Ceremony = pre.Session.Ceremony
	f.passkeys.ok = true
	_, err = f.m.ReauthPasskey(f.ctx, l, []byte(`{}`))
	wantErr(t, err, ErrNoCeremony)

	_, err = f.m.ReauthPasskeyOptions(f.ctx, pre)
	wantErr(t, err, ErrUnauthenticated)
	_, err = f.m.ReauthPasskey(f.ctx, pre, nil)
	wantErr(t, err, ErrUnauthenticated)
}
