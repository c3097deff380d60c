package login

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	"unigate/accounts"
	"unigate/session"
)

func TestIdentify(t *testing.T) {
	cases := []struct {
		name        string
		email       string
		legacy      string
		want        error
		wantMethods []string
	}{
		{name: "a password account", email: "alice@example.com", wantMethods: []string{"password", "passkey"}},
		{name: "an unknown email gets the same answer", email: "nobody@example.com", wantMethods: []string{"password", "passkey"}},
		{name: "the address is normalised", email: "  Alice@Example.COM ", wantMethods: []string{"password", "passkey"}},
		{name: "an account the unification flagged", email: "flagged@example.com", wantMethods: []string{"email_code"}},
		{name: "a linked identity of a configured provider", email: "sso@example.com", wantMethods: []string{"password", "passkey", "sso:github"}},
		{name: "no passkey on a legacy login page", email: "alice@example.com", legacy: "dedibox", wantMethods: []string{"password"}},
		{name: "not an email", email: "not an email", want: ErrInvalidEmail},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.account("alice@example.com", "correct horse battery")
			f.account("flagged@example.com", "", func(a *accounts.Account) { a.PasswordSetRequired = true })
			sso := f.account("sso@example.com", "correct horse battery")
			for _, p := range []string{"github", "google"} { // google is not configured
				if err := f.accounts.LinkSSO(f.ctx, sso.ID, p, "sub-"+p, sso.Email, f.clock.now()); err != nil {
					t.Fatal(err)
				}
			}
			l := &Login{Client: f.client, LegacyConsole: tc.legacy}
			res, err := f.m.Identify(f.ctx, l, tc.email, Opening{Host: "account.test", ReturnTo: "https://dedibox.test/x"})
			wantErr(t, err, tc.want)
			if tc.want != nil {
				return
			}
			if !slices.Equal(res.Methods, tc.wantMethods) {
				t.Errorf("got methods %v, want %v", res.Methods, tc.wantMethods)
			}
			if res.Token == "" || res.Next != session.StepFirstFactor {
				t.Errorf("got %+v, want a new login at first_factor with a token", res)
			}
			got := f.stored(l)
			if got.Next != session.StepFirstFactor || got.ReturnTo != "https://dedibox.test/x" || got.Complete() {
				t.Errorf("stored login %+v", got)
			}
		})
	}
}

func TestIdentifyReplacesTheOldSession(t *testing.T) {
	f := newFixture(t)
	f.account("alice@example.com", "correct horse battery")
	old := f.complete("alice@example.com", "correct horse battery")
	oldHandle := old.Session.Handle
	l := &Login{Session: old.Session, Client: f.client}
	if _, err := f.m.Identify(f.ctx, l, "alice@example.com", Opening{Host: "account.test"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.sessions.Get(f.ctx, oldHandle, time.Hour); !errors.Is(err, session.ErrNotFound) {
		t.Errorf("old session: got %v, want it ended (ASVS V7.2.4)", err)
	}
	if l.Session.Handle == oldHandle {
		t.Error("the new login reuses the old handle")
	}
}

func TestIdentifyIsBoundedPerNetwork(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.IPMaxFailures = 1 })
	for i := range IdentifyPerFailure {
		if _, err := f.m.Identify(f.ctx, &Login{Client: f.client}, "a@example.com", Opening{}); err != nil {
			t.Fatalf("identify %d: %v", i+1, err)
		}
	}
	_, err := f.m.Identify(f.ctx, &Login{Client: f.client}, "a@example.com", Opening{})
	var rl *RateLimited
	if !errors.As(err, &rl) || rl.RetryAfter <= 0 {
		t.Fatalf("got %v, want rate_limited with a Retry-After", err)
	}
}

func TestPassword(t *testing.T) {
	cases := []struct {
		name      string
		email     string
		password  string
		configure func(*Config)
		setup     func(f *fixture, a *accounts.Account)
		want      error
		wantNext  string
		wantMFA   []string
	}{
		{name: "right password completes", email: "alice@example.com", password: "correct horse battery", wantNext: session.StepDone},
		{name: "wrong password", email: "alice@example.com", password: "wrong", want: ErrInvalidCredentials},
		{name: "unknown email", email: "nobody@example.com", password: "correct horse battery", want: ErrInvalidCredentials},
		{name: "with TOTP: the second factor", email: "alice@example.com", password: "correct horse battery",
			setup: func(f *fixture, a *accounts.Account) { f.withTOTP(a) }, wantNext: session.StepMFA, wantMFA: []string{"totp"}},
		{name: "MFA required and none: enrollment", email: "alice@example.com", password: "correct horse battery",
			configure: func(c *Config) { c.RequireMFA = true }, wantNext: session.StepEnrollMFA},
		{name: "an account flagged for enrollment", email: "alice@example.com", password: "correct horse battery",
			setup: func(f *fixture, a *accounts.Account) {
				if err := f.accounts.SetMFAEnrollRequired(f.ctx, a.ID, true); err != nil {
					t.Fatal(err)
				}
			}, wantNext: session.StepEnrollMFA},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var configure []func(*Config)
			if tc.configure != nil {
				configure = append(configure, tc.configure)
			}
			f := newFixture(t, configure...)
			a := f.account("alice@example.com", "correct horse battery")
			if tc.setup != nil {
				tc.setup(f, a)
			}
			l := f.identify(tc.email)
			res, err := f.m.Password(f.ctx, l, tc.password)
			wantErr(t, err, tc.want)
			if tc.want != nil {
				if got := f.stored(l); got.Next != session.StepFirstFactor || got.AccountID != "" {
					t.Errorf("a refused password changed the login: %+v", got)
				}
				return
			}
			if res.Next != tc.wantNext || !slices.Equal(res.MFAMethods, tc.wantMFA) {
				t.Errorf("got next %q mfa %v, want %q %v", res.Next, res.MFAMethods, tc.wantNext, tc.wantMFA)
			}
			if got, want := res.Complete, tc.wantNext == session.StepDone; got != want || res.Rotate != want {
				t.Errorf("got complete %v rotate %v, want %v", got, res.Rotate, want)
			}
			if tc.wantNext == session.StepDone {
				s := l.Session
				if !s.Complete() || s.MFA != "none" || !s.AuthTime.Equal(f.clock.now()) || !s.ExpiresAt.Equal(f.clock.now().Add(12*time.Hour)) {
					t.Errorf("complete session %+v", s)
				}
				// Not stored complete under the pre-login handle: the edge rotates it.
				if got := f.stored(l); got.Complete() {
					t.Error("the machine stored the complete session under the pre-login token")
				}
			} else if got := f.stored(l); got.Next != tc.wantNext {
				t.Errorf("stored next %q, want %q", got.Next, tc.wantNext)
			}
		})
	}
}

func TestPasswordRehash(t *testing.T) {
	f := newFixture(t)
	f.account("alice@example.com", "correct horse battery")
	f.hasher.needsRehash = true
	l := f.identify("alice@example.com")
	if _, err := f.m.Password(f.ctx, l, "correct horse battery"); err != nil {
		t.Fatal(err)
	}
	if f.hasher.work != 2 {
		t.Errorf("got %d hasher calls, want 2 (verify, then the new hash)", f.hasher.work)
	}
}

// A hasher failure (a corrupt stored hash) is an error, never a wrong password.
func TestPasswordHasherFailureIsNotAWrongPassword(t *testing.T) {
	f := newFixture(t)
	f.account("alice@example.com", "correct horse battery")
	f.hasher.fail = accounts.ErrInvalidHash
	_, err := f.m.Password(f.ctx, f.identify("alice@example.com"), "correct horse battery")
	var ie *Internal
	if !errors.As(err, &ie) || ie.ErrorCode() != "internal_error" {
		t.Fatalf("got %v, want internal_error", err)
	}
}

// Every step refuses a request without a login in progress, and one that
// comes at another step than the login waits for.
func TestStepRefusals(t *testing.T) {
	f := newFixture(t)
	f.account("alice@example.com", "correct horse battery")
	steps := map[string]func(*Login) error{
		"password":     func(l *Login) error { _, err := f.m.Password(f.ctx, l, "correct horse battery"); return err },
		"set_password": func(l *Login) error { _, err := f.m.SetPassword(f.ctx, l, "a brand new passphrase"); return err },
		"email_code":   func(l *Login) error { return f.m.SendEmailCode(f.ctx, l) },
		"verify_code":  func(l *Login) error { _, err := f.m.VerifyEmailCode(f.ctx, l, "12345678"); return err },
		"totp":         func(l *Login) error { _, err := f.m.TOTP(f.ctx, l, "123456"); return err },
		"passkey":      func(l *Login) error { _, err := f.m.Passkey(f.ctx, l, nil); return err },
		"state":        func(l *Login) error { _, err := f.m.State(f.ctx, l); return err },
	}
	// The step each one is run at, to be the wrong one.
	wrongStep := map[string]string{
		"password": session.StepMFA, "set_password": session.StepFirstFactor, "email_code": session.StepMFA,
		"verify_code": session.StepSetPassword, "totp": session.StepFirstFactor,
	}
	complete := f.complete("alice@example.com", "correct horse battery")
	for name, step := range steps {
		t.Run(name+"/no login", func(t *testing.T) {
			wantErr(t, step(&Login{Client: f.client}), ErrNoLogin)
		})
		t.Run(name+"/a complete session", func(t *testing.T) {
			wantErr(t, step(&Login{Session: complete.Session, Client: f.client}), ErrNoLogin)
		})
		if at, ok := wrongStep[name]; ok {
			t.Run(name+"/wrong step", func(t *testing.T) {
				wantErr(t, step(f.at("alice@example.com", at)), ErrWrongStep)
			})
		}
	}
}

func TestLockout(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.MaxFailures = 3 })
	f.account("alice@example.com", "correct horse battery")
	for i := range 3 {
		_, err := f.m.Password(f.ctx, f.identify("alice@example.com"), "wrong")
		wantErr(t, err, ErrInvalidCredentials)
		if t.Failed() {
			t.Fatalf("attempt %d", i+1)
		}
	}
	f.clock.advance(time.Minute)
	// Locked from this network: even the right password is not looked at.
	// (Another network is not locked: TestSoftLockWeighsTheNetwork.)
	_, err := f.m.Password(f.ctx, f.identify("alice@example.com"), "correct horse battery")
	var rl *RateLimited
	if !errors.As(err, &rl) {
		t.Fatalf("got %v, want rate_limited", err)
	}
	if got, want := rl.RetryAfter, 14*time.Minute; got != want {
		t.Errorf("got Retry-After %v, want %v", got, want)
	}
	if !f.events.audited("lockout") {
		t.Error("the lockout is not audited")
	}
	f.clock.advance(14 * time.Minute)
	if res, err := f.m.Password(f.ctx, f.identify("alice@example.com"), "correct horse battery"); err != nil || !res.Complete {
		t.Fatalf("after the lockout window: %+v, %v", res, err)
	}
}

// A right factor gives back only its own attempt: the failed guesses before
// it still count, until the whole login is complete (Finished).
func TestLockoutCountsFailuresUntilTheLoginIsComplete(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.MaxFailures = 2 })
	a := f.account("alice@example.com", "correct horse battery")
	f.withTOTP(a)
	for range 2 {
		l := f.identify("alice@example.com")
		if _, err := f.m.Password(f.ctx, l, "correct horse battery"); err != nil {
			t.Fatal(err)
		}
		_, err := f.m.TOTP(f.ctx, l, "000000")
		wantErr(t, err, ErrInvalidCode)
	}
	_, err := f.m.Password(f.ctx, f.identify("alice@example.com"), "correct horse battery")
	var rl *RateLimited
	if !errors.As(err, &rl) {
		t.Fatalf("got %v, want rate_limited after two wrong TOTP codes", err)
	}
}

func TestIPLockout(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.IPMaxFailures = 2 })
	for _, email := range []string{"a@example.com", "b@example.com"} {
		_, err := f.m.Password(f.ctx, f.identify(email), "wrong")
		wantErr(t, err, ErrInvalidCredentials)
	}
	// Another address of the same IPv4 client: the network's counter is full.
	_, err := f.m.Password(f.ctx, f.identify("c@example.com"), "wrong")
	var rl *RateLimited
	if !errors.As(err, &rl) {
		t.Fatalf("got %v, want rate_limited", err)
	}
}

func TestClientNetwork(t *testing.T) {
	cases := map[string]string{
		"192.0.2.7":                 "192.0.2.7",
		"::ffff:192.0.2.7":          "192.0.2.7",
		"2001:db8:1:2:3:4:5:6":      "2001:db8:1:2::/64",
		"2001:db8:1:2:ffff:ffff::1": "2001:db8:1:2::/64",
	}
	for in, want := range cases {
		if got := ClientNetwork(netip.MustParseAddr(in)); got != want {
			t.Errorf("ClientNetwork(%s) = %s, want %s", in, got, want)
		}
	}
}

func TestState(t *testing.T) {
	f := newFixture(t)
	a := f.account("alice@example.com", "correct horse battery")
	f.withTOTP(a)
	l := f.identify("alice@example.com")
	res, err := f.m.State(f.ctx, l)
	if err != nil || res.Next != session.StepFirstFactor || !slices.Equal(res.Methods, []string{"password", "passkey"}) {
		t.Fatalf("at first_factor: %+v, %v", res, err)
	}
	if _, err := f.m.Password(f.ctx, l, "correct horse battery"); err != nil {
		t.Fatal(err)
	}
	res, err = f.m.State(f.ctx, l)
	if err != nil || res.Next != session.StepMFA || !slices.Equal(res.MFAMethods, []string{"totp"}) || res.Methods != nil {
		t.Fatalf("at mfa: %+v, %v", res, err)
	}
}

func TestSetPassword(t *testing.T) {
	cases := []struct {
		name     string
		password string
		want     error
		wantArgs []any
	}{
		{name: "too short", password: "short", wantArgs: []any{12}},
		{name: "a common password", password: "password1234", wantArgs: []any{12}},
		{name: "a good passphrase", password: "a brand new passphrase"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.account("flagged@example.com", "", func(a *accounts.Account) { a.PasswordSetRequired = true })
			l := f.at("flagged@example.com", session.StepSetPassword)
			res, err := f.m.SetPassword(f.ctx, l, tc.password)
			if tc.wantArgs != nil {
				var weak *WeakPasswordError
				if !errors.As(err, &weak) || weak.ErrorCode() != "weak_password" || !slices.Equal(weak.MessageArgs(), tc.wantArgs) {
					t.Fatalf("got %v, want weak_password with %v", err, tc.wantArgs)
				}
				return
			}
			if err != nil || !res.Complete {
				t.Fatalf("got %+v, %v, want the login complete", res, err)
			}
			acct, err := f.accounts.AccountByEmail(f.ctx, "flagged@example.com")
			if err != nil || acct.PasswordHash != fakeHash(tc.password) || acct.PasswordSetRequired {
				t.Errorf("account after set_password: %+v, %v", acct, err)
			}
		})
	}
}

func TestEmailCode(t *testing.T) {
	f := newFixture(t)
	f.account("flagged@example.com", "", func(a *accounts.Account) { a.PasswordSetRequired = true })
	l := f.identify("flagged@example.com")
	wantErr(t, f.m.SendEmailCode(f.ctx, l), nil)
	code := f.mail.lastCode()
	if len(code) != 8 {
		t.Fatalf("got code %q mailed, want 8 digits", code)
	}

	t.Run("resend within 30 s is refused", func(t *testing.T) {
		f.clock.advance(10 * time.Second)
		err := f.m.SendEmailCode(f.ctx, l)
		var rl *RateLimited
		if !errors.As(err, &rl) || rl.RetryAfter != 30*time.Second {
			t.Fatalf("got %v, want rate_limited with Retry-After 30s", err)
		}
		// Not a way around it: a new login for the same address.
		err = f.m.SendEmailCode(f.ctx, f.identify("flagged@example.com"))
		if !errors.As(err, &rl) {
			t.Fatalf("another login: got %v, want rate_limited", err)
		}
	})
	t.Run("a wrong code", func(t *testing.T) {
		_, err := f.m.VerifyEmailCode(f.ctx, l, "00000000")
		wantErr(t, err, ErrInvalidCode)
	})
	t.Run("the right code, spaced", func(t *testing.T) {
		res, err := f.m.VerifyEmailCode(f.ctx, l, code[:4]+" "+code[4:])
		if err != nil || res.Next != session.StepSetPassword {
			t.Fatalf("got %+v, %v, want set_password", res, err)
		}
		if len(f.stored(l).EmailCode) != 0 {
			t.Error("the code is kept after use")
		}
	})
}

func TestEmailCodeRefusals(t *testing.T) {
	cases := []struct {
		name string
		// before runs between the code's sending and the right answer.
		before func(f *fixture, l *Login)
	}{
		{name: "expired", before: func(f *fixture, l *Login) { f.clock.advance(10 * time.Minute) }},
		{name: "after five wrong tries", before: func(f *fixture, l *Login) {
			for range 5 {
				if _, err := f.m.VerifyEmailCode(f.ctx, l, "00000000"); !errors.Is(err, ErrInvalidCode) {
					f.t.Fatalf("wrong code: %v", err)
				}
			}
		}},
		{name: "used once already", before: func(f *fixture, l *Login) {
			code := f.mail.lastCode()
			if _, err := f.m.VerifyEmailCode(f.ctx, l, code); err != nil {
				f.t.Fatal(err)
			}
			// The first use moved the login on; back at first_factor it still fails.
			l.Session.Next = session.StepFirstFactor
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, func(c *Config) { c.MaxFailures = 50 })
			f.account("flagged@example.com", "", func(a *accounts.Account) { a.PasswordSetRequired = true })
			l := f.identify("flagged@example.com")
			if err := f.m.SendEmailCode(f.ctx, l); err != nil {
				t.Fatal(err)
			}
			code := f.mail.lastCode()
			tc.before(f, l)
			_, err := f.m.VerifyEmailCode(f.ctx, l, code)
			wantErr(t, err, ErrInvalidCode)
		})
	}
}

// An address that may not use a code gets the same answer and no mail.
func TestEmailCodeForOtherAccounts(t *testing.T) {
	for _, email := range []string{"alice@example.com", "nobody@example.com"} {
		t.Run(email, func(t *testing.T) {
			f := newFixture(t)
			f.account("alice@example.com", "correct horse battery")
			l := f.identify(email)
			wantErr(t, f.m.SendEmailCode(f.ctx, l), nil)
			if n := f.mail.count(); n != 0 {
				t.Errorf("got %d mails, want none", n)
			}
			_, err := f.m.VerifyEmailCode(f.ctx, l, "12345678")
			wantErr(t, err, ErrInvalidCode)
		})
	}
}

func TestTOTP(t *testing.T) {
	f := newFixture(t)
	a := f.account("alice@example.com", "correct horse battery")
	secret := f.withTOTP(a)
	login := func() *Login {
		l := f.identify("alice@example.com")
		if res, err := f.m.Password(f.ctx, l, "correct horse battery"); err != nil || res.Next != session.StepMFA {
			t.Fatalf("password: %+v, %v", res, err)
		}
		return l
	}
	l := login()
	cases := []struct {
		name string
		code string
		want error
	}{
		{name: "not digits", code: "abcdef", want: ErrInvalidCode},
		{name: "a wrong code", code: "000000", want: ErrInvalidCode},
		{name: "the right code", code: f.code(secret)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, err := f.m.TOTP(f.ctx, l, tc.code)
			wantErr(t, err, tc.want)
			if tc.want == nil && (!res.Complete || l.Session.MFA != "totp") {
				t.Errorf("got %+v mfa %q, want complete with totp", res, l.Session.MFA)
			}
		})
	}
	t.Run("the same code again is a replay", func(t *testing.T) {
		_, err := f.m.TOTP(f.ctx, login(), f.code(secret))
		wantErr(t, err, ErrInvalidCode)
	})
	t.Run("the next time step is accepted", func(t *testing.T) {
		f.clock.advance(30 * time.Second)
		res, err := f.m.TOTP(f.ctx, login(), f.code(secret))
		if err != nil || !res.Complete {
			t.Fatalf("got %+v, %v", res, err)
		}
	})
}

func TestEnrollMFA(t *testing.T) {
	cases := []struct {
		name   string
		setup  func(f *fixture, a *accounts.Account) string // returns the code to send
		want   error
		wantAt string // the step the stored login waits for afterwards
	}{
		{name: "no set-up started", setup: func(*fixture, *accounts.Account) string { return "123456" },
			want: ErrNoPendingTOTP, wantAt: session.StepEnrollMFA},
		{name: "a wrong code", setup: func(f *fixture, a *accounts.Account) string { f.pendingTOTP(a); return "000000" },
			want: ErrInvalidCode, wantAt: session.StepEnrollMFA},
		{name: "the right code completes the login", setup: func(f *fixture, a *accounts.Account) string {
			return f.code(f.pendingTOTP(a))
		}},
		{name: "a factor enrolled meanwhile sends the login to mfa", setup: func(f *fixture, a *accounts.Account) string {
			f.withTOTP(a)
			return "123456"
		}, want: ErrWrongStep, wantAt: session.StepMFA},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, func(c *Config) { c.RequireMFA = true })
			a := f.account("alice@example.com", "correct horse battery")
			l := f.identify("alice@example.com")
			if res, err := f.m.Password(f.ctx, l, "correct horse battery"); err != nil || res.Next != session.StepEnrollMFA {
				t.Fatalf("password: %+v, %v", res, err)
			}
			code := tc.setup(f, a)
			res, err := f.m.ConfirmTOTP(f.ctx, l, code)
			wantErr(t, err, tc.want)
			if tc.want != nil {
				if got := f.stored(l).Next; got != tc.wantAt {
					t.Errorf("stored next %q, want %q", got, tc.wantAt)
				}
				return
			}
			if !res.Complete || l.Session.MFA != "totp" || !slices.Equal(l.Session.Factors, []string{"password", "totp"}) {
				t.Errorf("got %+v, session %+v", res, l.Session)
			}
		})
	}
}

func TestEnrollmentOfACompleteSession(t *testing.T) {
	f := newFixture(t)
	a := f.account("alice@example.com", "correct horse battery")
	l := f.complete("alice@example.com", "correct horse battery")
	code := f.code(f.pendingTOTP(a))
	res, err := f.m.ConfirmTOTP(f.ctx, l, code)
	if err != nil || res != nil {
		t.Fatalf("got %+v, %v, want no step (not a login)", res, err)
	}
	f.clock.advance(RecentProof + time.Second)
	wantErr(t, f.m.Enrollment(f.ctx, l), ErrReauthRequired)
	wantErr(t, f.m.Enrollment(f.ctx, f.identify("alice@example.com")), ErrUnauthenticated)
}

func TestReauth(t *testing.T) {
	str := func(s string) *string { return &s }
	cases := []struct {
		name  string
		in    func(f *fixture, secret string) ReauthInput
		login func(f *fixture) *Login
		want  error
	}{
		{name: "the password", in: func(*fixture, string) ReauthInput { return ReauthInput{Password: str("correct horse battery")} }},
		{name: "a TOTP code", in: func(f *fixture, secret string) ReauthInput { return ReauthInput{TOTP: str(f.code(secret))} }},
		{name: "a wrong password", in: func(*fixture, string) ReauthInput { return ReauthInput{Password: str("wrong")} }, want: ErrInvalidCredentials},
		{name: "a wrong code", in: func(*fixture, string) ReauthInput { return ReauthInput{TOTP: str("000000")} }, want: ErrInvalidCredentials},
		{name: "nothing", in: func(*fixture, string) ReauthInput { return ReauthInput{} }, want: ErrInvalidRequest},
		{name: "a login in progress", in: func(*fixture, string) ReauthInput { return ReauthInput{Password: str("correct horse battery")} },
			login: func(f *fixture) *Login { return f.identify("alice@example.com") }, want: ErrUnauthenticated},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			a := f.account("alice@example.com", "correct horse battery")
			l := f.complete("alice@example.com", "correct horse battery")
			secret := f.withTOTP(a)
			if tc.login != nil {
				l = tc.login(f)
			}
			f.clock.advance(time.Hour)
			res, err := f.m.Reauth(f.ctx, l, tc.in(f, secret))
			wantErr(t, err, tc.want)
			if tc.want != nil {
				return
			}
			if !res.Rotate || !l.Session.AuthTime.Equal(f.clock.now()) || !f.m.RecentlyProven(l.Session) {
				t.Errorf("got %+v, auth time %v, want a fresh proof to rotate", res, l.Session.AuthTime)
			}
		})
	}
}

func TestSignup(t *testing.T) {
	f := newFixture(t)
	l := &Login{Client: f.client, Locale: "fr"}
	res, err := f.m.StartSignup(f.ctx, l, "new@example.com", "a brand new passphrase", Opening{Host: "account.test"})
	if err != nil || res.Token == "" || res.Next != session.StepVerifyEmail {
		t.Fatalf("start: %+v, %v", res, err)
	}
	code := f.mail.lastCode()
	_, err = f.m.VerifySignup(f.ctx, l, "00000000")
	wantErr(t, err, ErrInvalidCode)
	res, err = f.m.VerifySignup(f.ctx, l, code)
	if err != nil || !res.Complete || !res.Provisioning {
		t.Fatalf("verify: %+v, %v, want complete with provisioning queued", res, err)
	}
	acct, err := f.accounts.AccountByEmail(f.ctx, "new@example.com")
	if err != nil || acct.Locale != "fr" || acct.PasswordHash != fakeHash("a brand new passphrase") {
		t.Fatalf("account: %+v, %v", acct, err)
	}
	cas, err := f.accounts.ConsoleAccounts(f.ctx, acct.ID)
	if err != nil || len(cas) != 1 || cas[0].Console != "dedibox" {
		t.Errorf("console accounts: %+v, %v, want dedibox only (scaleway through its endpoint)", cas, err)
	}
}

func TestSignupRefusals(t *testing.T) {
	f := newFixture(t)
	f.account("alice@example.com", "correct horse battery")
	cases := []struct {
		name, email, password string
		want                  error
	}{
		{name: "not an email", email: "nope", password: "a brand new passphrase", want: ErrInvalidEmail},
		{name: "a weak password", email: "new@example.com", password: "short"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.m.StartSignup(f.ctx, &Login{Client: f.client}, tc.email, tc.password, Opening{})
			if tc.want == nil {
				var weak *WeakPasswordError
				if !errors.As(err, &weak) {
					t.Fatalf("got %v, want weak_password", err)
				}
				return
			}
			wantErr(t, err, tc.want)
		})
	}
	t.Run("a taken address: mailed, and no code works", func(t *testing.T) {
		l := &Login{Client: f.client}
		if _, err := f.m.StartSignup(f.ctx, l, "alice@example.com", "a brand new passphrase", Opening{}); err != nil {
			t.Fatal(err)
		}
		if got := f.mail.sent[len(f.mail.sent)-1].kind; got != "account_exists" {
			t.Errorf("got a %q mail, want account_exists", got)
		}
		_, err := f.m.VerifySignup(f.ctx, l, "12345678")
		wantErr(t, err, ErrInvalidCode)
	})
	t.Run("no sign-up", func(t *testing.T) {
		_, err := f.m.VerifySignup(f.ctx, f.identify("alice@example.com"), "12345678")
		wantErr(t, err, ErrNoSignup)
	})
}

func TestLegacyLogin(t *testing.T) {
	cases := []struct {
		name, email string
		want        bool // may finish on the legacy page
	}{
		{name: "an account linked before the cutoff", email: "pre@example.com", want: true},
		{name: "any other account", email: "alice@example.com"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.account(tc.email, "correct horse battery")
			l := &Login{Client: f.client, LegacyConsole: "dedibox"}
			if _, err := f.m.Identify(f.ctx, l, tc.email, Opening{Host: "dedibox.test"}); err != nil {
				t.Fatal(err)
			}
			res, err := f.m.Password(f.ctx, l, "correct horse battery")
			if !tc.want {
				var refused *LegacyLoginRefused
				if !errors.As(err, &refused) || refused.ErrorFields()["login_url"] != "https://account.test/login" {
					t.Fatalf("got %v, want legacy_login_not_allowed naming the portal", err)
				}
				return
			}
			if err != nil || !res.Complete {
				t.Fatalf("got %+v, %v", res, err)
			}
			if sel := l.Session.Consoles["dedibox"]; sel.AccountID != "ded-"+tc.email || !sel.Prelinked || l.Session.ActiveConsole != "dedibox" {
				t.Errorf("console selection %+v", l.Session.Consoles)
			}
		})
	}
}

func TestSSOSignIn(t *testing.T) {
	f := newFixture(t)
	a := f.account("alice@example.com", "correct horse battery")
	if err := f.accounts.LinkSSO(f.ctx, a.ID, "github", "sub-1", a.Email, f.clock.now()); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		subject string
		want    error
	}{
		{subject: "sub-1"},
		{subject: "sub-2", want: ErrSSONotLinked},
	}
	for _, tc := range cases {
		t.Run(tc.subject, func(t *testing.T) {
			l := &Login{Client: f.client}
			if res, err := f.m.OpenSSO(f.ctx, l, Opening{Host: "account.test"}); err != nil || res.Token == "" {
				t.Fatalf("open: %+v, %v", res, err)
			}
			res, err := f.m.SSOSignIn(f.ctx, l, "github", tc.subject)
			wantErr(t, err, tc.want)
			if tc.want == nil && (!res.Complete || l.Session.Email != a.Email) {
				t.Errorf("got %+v, session %+v", res, l.Session)
			}
		})
	}
}

func TestFinishedClearsFailuresAndAudits(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.MaxFailures = 2 })
	f.account("alice@example.com", "correct horse battery")
	_, err := f.m.Password(f.ctx, f.identify("alice@example.com"), "wrong")
	wantErr(t, err, ErrInvalidCredentials)
	f.complete("alice@example.com", "correct horse battery")
	if !f.events.audited("login.success") {
		t.Error("login.success not audited")
	}
	// The failure before is forgotten: two more wrong ones before a lockout.
	for range 2 {
		_, err := f.m.Password(f.ctx, f.identify("alice@example.com"), "wrong")
		wantErr(t, err, ErrInvalidCredentials)
	}
}

// Issue 16 finding 3: an email code as the first factor never completes a
// login alone, even for an account the unification flagged only for a new
// password (an SSO-only user of the old system: no MFAEnrollRequired, and
// require_mfa off). The session can only set a password, then enroll (or
// use) a second factor.
func TestEmailCodeFirstFactorNeedsASecondFactor(t *testing.T) {
	cases := []struct {
		name     string
		withTOTP bool
		want     []string // the steps after the code, in order
	}{
		{name: "no second factor: set a password, then enroll", want: []string{session.StepSetPassword, session.StepEnrollMFA, session.StepDone}},
		{name: "a second factor: use it, then set a password", withTOTP: true, want: []string{session.StepMFA, session.StepSetPassword, session.StepDone}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			a := f.account("sso-only@example.com", "", func(a *accounts.Account) { a.PasswordSetRequired = true })
			var secret string
			if tc.withTOTP {
				secret = f.withTOTP(a)
			}
			l := f.identify("sso-only@example.com")
			if err := f.m.SendEmailCode(f.ctx, l); err != nil {
				t.Fatal(err)
			}
			res, err := f.m.VerifyEmailCode(f.ctx, l, f.mail.lastCode())
			var got []string
			for err == nil {
				got = append(got, res.Next)
				switch res.Next {
				case session.StepSetPassword:
					res, err = f.m.SetPassword(f.ctx, l, "a brand new passphrase")
				case session.StepEnrollMFA:
					res, err = f.m.ConfirmTOTP(f.ctx, l, f.code(f.pendingTOTP(a)))
				case session.StepMFA:
					res, err = f.m.TOTP(f.ctx, l, f.code(secret))
				default:
					err = errors.New("end")
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("got steps %v, want %v", got, tc.want)
			}
			if l.Session.MFA != "totp" {
				t.Errorf("got mfa %q, want totp", l.Session.MFA)
			}
		})
	}
}

// A sign-up's email check proves the address, not a first factor: the
// password is the first factor there, and the sign-up completes.
func TestSignupIsNotAnEmailCodeFirstFactor(t *testing.T) {
	f := newFixture(t)
	l := &Login{Client: f.client}
	if _, err := f.m.StartSignup(f.ctx, l, "new@example.com", "a brand new passphrase", Opening{}); err != nil {
		t.Fatal(err)
	}
	res, err := f.m.VerifySignup(f.ctx, l, f.mail.lastCode())
	if err != nil || res.Next != session.StepDone {
		t.Fatalf("got %+v, %v, want done", res, err)
	}
}

// Issue 16 finding 5: the answer time does not tell an unknown email, one of
// our accounts and an imported one apart. Measured by the hash work done
// (the time is that work): every check costs one argon2id and 2^12 bcrypt
// rounds, whatever the account's scheme and whether the password is right.
func TestPasswordCheckWorkIsTheSameForEveryAccount(t *testing.T) {
	cases := []struct {
		name, email, password string
	}{
		{name: "unknown email", email: "nobody@example.com", password: "correct horse battery"},
		{name: "argon2id, wrong", email: "ours@example.com", password: "wrong"},
		{name: "argon2id, right", email: "ours@example.com", password: "correct horse battery"},
		{name: "imported bcrypt 12, wrong", email: "bcrypt12@example.com", password: "wrong"},
		{name: "imported bcrypt 10, wrong", email: "bcrypt10@example.com", password: "wrong"},
		{name: "imported bcrypt 4, wrong", email: "bcrypt4@example.com", password: "wrong"},
		{name: "no password (SSO only)", email: "nopassword@example.com", password: "wrong"},
	}
	f := newFixture(t, func(c *Config) { c.BcryptCost = 12; c.MaxFailures = 100 })
	f.account("ours@example.com", "correct horse battery")
	for _, cost := range []int{12, 10, 4} {
		f.account(fmt.Sprintf("bcrypt%d@example.com", cost), "", func(a *accounts.Account) {
			a.PasswordHash = fakeBcrypt("correct horse battery", cost)
		})
	}
	f.account("nopassword@example.com", "")
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			acct, err := f.m.accountByEmail(f.ctx, tc.email)
			if err != nil {
				t.Fatal(err)
			}
			f.hasher.reset()
			if _, _, err := f.m.VerifyPassword(f.ctx, acct, tc.password); err != nil {
				t.Fatal(err)
			}
			if got, want := [2]int{f.hasher.argon2, f.hasher.bcryptRounds}, [2]int{1, 1 << 12}; got != want {
				t.Errorf("got (argon2id, bcrypt rounds) %v, want %v", got, want)
			}
		})
	}
	t.Run("a right bcrypt password signs in", func(t *testing.T) {
		res, err := f.m.Password(f.ctx, f.identify("bcrypt10@example.com"), "correct horse battery")
		if err != nil || !res.Complete {
			t.Fatalf("got %+v, %v", res, err)
		}
	})
}

// The dummy bcrypt hashes are ones the real hasher verifies (all the
// rounds) and that no password matches.
func TestDummyBcryptWithTheRealHasher(t *testing.T) {
	h := accounts.NewHasher(1)
	for _, pw := range []string{"", "correct horse battery"} {
		ok, _, err := h.Verify(context.Background(), dummyBcrypt(4), pw)
		if ok || err != nil {
			t.Errorf("Verify(dummy, %q) = %v, %v; want false, nil", pw, ok, err)
		}
	}
	for hash, want := range map[string]int{dummyBcrypt(12): 12, fakeBcrypt("x", 10): 10, fakeHash("x"): -1, "": -1, "$2x$10$": -1} {
		c, ok := bcryptCost(hash)
		if !ok {
			c = -1
		}
		if c != want {
			t.Errorf("bcryptCost(%q) = %d, want %d", hash, c, want)
		}
	}
}

// An SSO sign-in ends whatever session it replaces: a login in progress, and
// a complete session too, which would otherwise live on in the store with
// no cookie of its owner pointing at it (issue 16 finding 13).
func TestOpenSSOReplacesALoginInProgress(t *testing.T) {
	f := newFixture(t)
	f.account("alice@example.com", "correct horse battery")
	cases := []struct {
		name     string
		old      func() *Login
		wantKept bool
	}{
		{name: "a login in progress", old: func() *Login { return f.identify("alice@example.com") }},
		{name: "a complete session", old: func() *Login { return f.complete("alice@example.com", "correct horse battery") }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			old := tc.old().Session
			l := &Login{Session: old, Client: f.client}
			if _, err := f.m.OpenSSO(f.ctx, l, Opening{}); err != nil {
				t.Fatal(err)
			}
			_, err := f.sessions.Get(f.ctx, old.Handle, time.Hour)
			if kept := err == nil; kept != tc.wantKept {
				t.Errorf("old session kept: got %v, want %v (%v)", kept, tc.wantKept, err)
			}
			if l.Session.Handle == old.Handle || l.Session.Email != "" {
				t.Errorf("new login %+v", l.Session)
			}
		})
	}
}
