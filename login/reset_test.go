package login

import (
	"errors"
	"slices"
	"testing"
	"time"

	"unigate/accounts"
	"unigate/mail"
	"unigate/session"
)

// resetCode asks for a reset code for l and returns the one mailed.
func (f *fixture) resetCode(l *Login) string {
	f.t.Helper()
	before := f.mail.mailsOf(mail.KindPasswordResetCode)
	if err := f.m.StartReset(f.ctx, l); err != nil {
		f.t.Fatalf("reset: %v", err)
	}
	if f.mail.mailsOf(mail.KindPasswordResetCode) != before+1 {
		f.t.Fatal("no password_reset_code mailed")
	}
	return f.mail.lastCode()
}

const newPassword = "a brand new passphrase"

// CONTRACT §10: reset code, then the second factor if any, then the new
// password; the login is then complete.
func TestReset(t *testing.T) {
	cases := []struct {
		name   string
		setup  func(f *fixture, a *accounts.Account) // before the reset
		legacy string
		// second proves the second factor at mfa ("" when there is none to prove).
		second func(f *fixture, l *Login) (*Result, error)
		want   error // of the last step
	}{
		{name: "without a second factor"},
		{name: "with TOTP: the second factor before the new password",
			setup:  func(f *fixture, a *accounts.Account) { f.secret = f.withTOTP(a) },
			second: func(f *fixture, l *Login) (*Result, error) { return f.m.TOTP(f.ctx, l, f.code(f.secret)) }},
		{name: "with a passkey",
			setup: func(f *fixture, a *accounts.Account) { f.withPasskey(a); f.passkeys.ok = true },
			second: func(f *fixture, l *Login) (*Result, error) {
				if _, err := f.m.PasskeyOptions(f.ctx, l); err != nil {
					return nil, err
				}
				return f.m.Passkey(f.ctx, l, []byte(`{}`))
			}},
		{name: "an account locked by its consecutive failures: the reset lifts it",
			setup: func(f *fixture, a *accounts.Account) {
				f.secret = f.withTOTP(a)
				for i := range 4 {
					f.m.Password(f.ctx, f.from(a.Email, network(i)), "wrong")
				}
				if st, _ := LockStateOf(f.ctx, f.sessions, a.Email, 4); !st.Locked {
					f.t.Fatal("not locked")
				}
			},
			second: func(f *fixture, l *Login) (*Result, error) { return f.m.TOTP(f.ctx, l, f.code(f.secret)) }},
		{name: "on a legacy login page, a prelinked account", legacy: "dedibox"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, func(c *Config) { c.MaxConsecutiveFailures = 4; c.MaxFailures = 3 })
			email := "alice@example.com"
			if tc.legacy != "" {
				email = "pre-alice@example.com"
			}
			a := f.account(email, "correct horse battery")
			other := f.complete(email, "correct horse battery") // a session elsewhere
			if tc.setup != nil {
				tc.setup(f, a)
			}
			l := f.identify(email)
			l.LegacyConsole = tc.legacy
			code := f.resetCode(l)
			res, err := f.m.VerifyReset(f.ctx, l, code)
			if err != nil {
				t.Fatalf("verify: %v", err)
			}
			if tc.second != nil {
				if res.Next != session.StepMFA {
					t.Fatalf("after the code: got %q, want mfa (a reset never skips it)", res.Next)
				}
				// The password cannot be set before the second factor.
				_, err := f.m.SetPassword(f.ctx, l, newPassword)
				wantErr(t, err, ErrWrongStep)
				if res, err = tc.second(f, l); err != nil {
					t.Fatalf("second factor: %v", err)
				}
			}
			if res.Next != session.StepSetPassword {
				t.Fatalf("got %q, want set_password", res.Next)
			}
			res, err = f.m.SetPassword(f.ctx, l, newPassword)
			if err != nil || !res.Complete {
				t.Fatalf("set password: %+v, %v", res, err)
			}
			if !slices.Contains(l.Session.Factors, factorResetCode) {
				t.Errorf("factors %v lack the reset", l.Session.Factors)
			}
			if _, err := f.sessions.Get(f.ctx, other.Session.Handle, time.Hour); !errors.Is(err, session.ErrNotFound) {
				t.Errorf("the other session: got %v, want it revoked", err)
			}
			if got := f.mail.mailsOf(mail.KindPasswordReset); got != 1 {
				t.Errorf("got %d password_reset notices, want 1", got)
			}
			if st, _ := LockStateOf(f.ctx, f.sessions, email, 4); st.ConsecutiveFailures != 0 {
				t.Errorf("lock state after the reset: %+v, want cleared", st)
			}
			_, err = f.m.Password(f.ctx, f.identify(email), "correct horse battery")
			wantErr(t, err, ErrInvalidCredentials)
			if tc.second == nil {
				if res, err := f.m.Password(f.ctx, f.identify(email), newPassword); err != nil || !res.Complete {
					t.Errorf("the new password: %+v, %v", res, err)
				}
			}
		})
	}
}

func TestResetRefusals(t *testing.T) {
	cases := []struct {
		name string
		// before runs between the code's sending and the right answer; it
		// returns the login the code is then tried on.
		before func(f *fixture, l *Login) *Login
		want   error
	}{
		{name: "expired", want: ErrInvalidCode, before: func(f *fixture, l *Login) *Login {
			f.clock.advance(10 * time.Minute)
			return l
		}},
		{name: "after five wrong tries", want: ErrInvalidCode, before: func(f *fixture, l *Login) *Login {
			for range 5 {
				_, err := f.m.VerifyReset(f.ctx, l, "00000000")
				wantErr(f.t, err, ErrInvalidCode)
			}
			return l
		}},
		{name: "used once already", want: ErrInvalidCode, before: func(f *fixture, l *Login) *Login {
			if _, err := f.m.VerifyReset(f.ctx, l, f.mail.lastCode()); err != nil {
				f.t.Fatal(err)
			}
			l.Session.Next, l.Session.Factors = session.StepFirstFactor, nil
			return l
		}},
		{name: "bound to its attempt", want: ErrInvalidCode, before: func(f *fixture, l *Login) *Login {
			return f.identify("alice@example.com")
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, func(c *Config) { c.MaxFailures = 50 })
			f.account("alice@example.com", "correct horse battery")
			l := f.identify("alice@example.com")
			code := f.resetCode(l)
			target := tc.before(f, l)
			_, err := f.m.VerifyReset(f.ctx, target, code)
			wantErr(t, err, tc.want)
		})
	}
}

// 202 and no mail for an unknown address or a flagged account, with the
// same limits; no code verifies.
func TestResetOfOtherAddresses(t *testing.T) {
	for _, email := range []string{"nobody@example.com", "flagged@example.com"} {
		t.Run(email, func(t *testing.T) {
			f := newFixture(t)
			f.account("flagged@example.com", "", func(a *accounts.Account) { a.PasswordSetRequired = true })
			l := f.identify(email)
			wantErr(t, f.m.StartReset(f.ctx, l), nil)
			if n := f.mail.count(); n != 0 {
				t.Errorf("got %d mails, want none", n)
			}
			if len(f.stored(l).EmailCode) == 0 {
				t.Error("no code state kept: the work differs from a known address")
			}
			wantRateLimited(t, f.m.StartReset(f.ctx, l))
			_, err := f.m.VerifyReset(f.ctx, l, "12345678")
			wantErr(t, err, ErrInvalidCode)
		})
	}
}

// 30 s per attempt and per address; 10 an hour per address.
func TestResetResendLimits(t *testing.T) {
	f := newFixture(t)
	f.account("alice@example.com", "correct horse battery")
	l := f.identify("alice@example.com")
	f.resetCode(l)
	f.clock.advance(10 * time.Second)
	wantRateLimited(t, f.m.StartReset(f.ctx, l))
	wantRateLimited(t, f.m.StartReset(f.ctx, f.from("alice@example.com", network(1))))
	for i := 2; i <= resetCodesPerAddressHour; i++ {
		f.clock.advance(resendInterval)
		f.resetCode(f.from("alice@example.com", network(i)))
	}
	f.clock.advance(resendInterval)
	wantRateLimited(t, f.m.StartReset(f.ctx, f.from("alice@example.com", network(50))))
	f.clock.advance(time.Hour)
	f.resetCode(f.from("alice@example.com", network(51)))
}

// Reset codes count toward the failure counters like every code.
func TestResetCodesCountAsFailures(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.MaxFailures = 2 })
	f.account("alice@example.com", "correct horse battery")
	l := f.identify("alice@example.com")
	f.resetCode(l)
	for range 2 {
		_, err := f.m.VerifyReset(f.ctx, l, "00000000")
		wantErr(t, err, ErrInvalidCode)
	}
	_, err := f.m.Password(f.ctx, f.identify("alice@example.com"), "correct horse battery")
	wantRateLimited(t, err)
}

// A reset code is spent in the store before the steps after it can refuse:
// refused for a disabled account, it does not work again on the next
// request (the edge loads the login from the store) once the account is
// enabled.
func TestResetCodeSpentWhenTheNextStepRefuses(t *testing.T) {
	f := newFixture(t)
	a := f.account("alice@example.com", "correct horse battery")
	l := f.identify("alice@example.com")
	code := f.resetCode(l)
	if err := f.accounts.SetDisabled(f.ctx, a.ID, f.clock.now()); err != nil {
		t.Fatal(err)
	}
	_, err := f.m.VerifyReset(f.ctx, l, code)
	wantErr(t, err, ErrAccountDisabled)
	if err := f.accounts.SetDisabled(f.ctx, a.ID, time.Time{}); err != nil {
		t.Fatal(err)
	}
	stored, err := f.sessions.Get(f.ctx, l.Session.Handle, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	stored.Next, stored.Factors = session.StepFirstFactor, nil
	_, err = f.m.VerifyReset(f.ctx, &Login{Session: stored, Client: f.client}, code)
	wantErr(t, err, ErrInvalidCode)
}
