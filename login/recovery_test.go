package login

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"unigate/accounts"
	"unigate/mail"
	"unigate/session"
)

// withRecoveryCodes gives the account (which must hold a second factor) a
// set and returns its codes.
func (f *fixture) withRecoveryCodes(a *accounts.Account) []string {
	f.t.Helper()
	codes, err := f.m.newRecoveryCodes(f.ctx, &Login{Client: f.client}, a.ID)
	if err != nil {
		f.t.Fatal(err)
	}
	return codes
}

// atMFA is a login of a's that proved its password and waits for mfa.
func (f *fixture) atMFA(a *accounts.Account) *Login {
	f.t.Helper()
	l := f.identify(a.Email)
	res, err := f.m.Password(f.ctx, l, "correct horse battery")
	if err != nil || res.Next != session.StepMFA {
		f.t.Fatalf("password: %+v, %v", res, err)
	}
	return l
}

func TestRecoveryCode(t *testing.T) {
	cases := []struct {
		name string
		// spell gives what is typed for the set's first code.
		spell func(code string) string
		want  error
	}{
		{name: "as shown", spell: func(c string) string { return c }},
		{name: "in upper case", spell: strings.ToUpper},
		{name: "without the dash", spell: func(c string) string { return strings.ReplaceAll(c, "-", "") }},
		{name: "with spaces", spell: func(c string) string { return " " + c[:3] + " " + c[3:] + " " }},
		{name: "a code of no set", spell: func(string) string { return "22222-22222" }, want: ErrInvalidCode},
		{name: "not a code", spell: func(string) string { return "0o1il-0o1il" }, want: ErrInvalidCode},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			a := f.account("alice@example.com", "correct horse battery")
			f.withTOTP(a)
			codes := f.withRecoveryCodes(a)
			l := f.atMFA(a)
			if !slices.Contains(mustState(t, f, l).MFAMethods, "recovery_code") {
				t.Fatal("mfa_methods does not offer recovery_code")
			}
			res, err := f.m.RecoveryCode(f.ctx, l, tc.spell(codes[0]))
			wantErr(t, err, tc.want)
			if tc.want != nil {
				return
			}
			if !res.Complete || l.Session.MFA != "recovery_code" {
				t.Fatalf("got %+v, MFA %q; want complete with MFA recovery_code", res, l.Session.MFA)
			}
			if got := f.mail.mailsOf(mail.KindRecoveryCodeUsed); got != 1 {
				t.Errorf("got %d recovery_code_used notices, want 1", got)
			}
			if d, _ := f.mail.last().data.(mail.NoticeData); d.Remaining != 9 {
				t.Errorf("notice says %d left, want 9", d.Remaining)
			}
			// Once only.
			_, err = f.m.RecoveryCode(f.ctx, f.atMFA(a), codes[0])
			wantErr(t, err, ErrInvalidCode)
		})
	}
}

func mustState(t *testing.T, f *fixture, l *Login) *Result {
	t.Helper()
	res, err := f.m.State(f.ctx, l)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// last is the last message queued.
func (m *mailbox) last() queued {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.sent[len(m.sent)-1]
}

// Of parallel uses of one code, exactly one signs in.
func TestRecoveryCodeOnceUnderConcurrency(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.MaxFailures = 50 })
	a := f.account("alice@example.com", "correct horse battery")
	f.withTOTP(a)
	code := f.withRecoveryCodes(a)[0]
	logins := make([]*Login, 10)
	for i := range logins {
		logins[i] = f.atMFA(a)
	}
	var wins atomic.Int64
	var wg sync.WaitGroup
	for _, l := range logins {
		wg.Go(func() {
			if _, err := f.m.RecoveryCode(f.ctx, l, code); err == nil {
				wins.Add(1)
			}
		})
	}
	wg.Wait()
	if got := wins.Load(); got != 1 {
		t.Fatalf("%d of 10 parallel uses signed in, want exactly 1", got)
	}
}

// Wrong recovery codes count toward the failure counters.
func TestRecoveryCodesCountAsFailures(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.MaxFailures = 2 })
	a := f.account("alice@example.com", "correct horse battery")
	f.withTOTP(a)
	codes := f.withRecoveryCodes(a)
	l := f.atMFA(a)
	for range 2 {
		_, err := f.m.RecoveryCode(f.ctx, l, "22222-22222")
		wantErr(t, err, ErrInvalidCode)
	}
	_, err := f.m.RecoveryCode(f.ctx, l, codes[0])
	wantRateLimited(t, err)
}

// The last code: the notice says none is left, and mfa no longer offers them.
func TestLastRecoveryCode(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.MaxFailures = 50 })
	a := f.account("alice@example.com", "correct horse battery")
	f.withTOTP(a)
	codes := f.withRecoveryCodes(a)
	for i, c := range codes {
		res, err := f.m.RecoveryCode(f.ctx, f.atMFA(a), c)
		if err != nil || !res.Complete {
			t.Fatalf("code %d: %+v, %v", i+1, res, err)
		}
	}
	if d, _ := f.mail.last().data.(mail.NoticeData); f.mail.last().kind != mail.KindRecoveryCodeUsed || d.Remaining != 0 {
		t.Errorf("last notice: %+v, want recovery_code_used with 0 left", f.mail.last())
	}
	if got := mustState(t, f, f.atMFA(a)).MFAMethods; slices.Contains(got, "recovery_code") {
		t.Errorf("mfa_methods %v still offers recovery_code", got)
	}
}

// CONTRACT §10: the first second factor hands out a set, inside a login
// and from settings; a second factor does not; the last one's removal
// revokes the set.
func TestFirstSecondFactorHandsOutRecoveryCodes(t *testing.T) {
	cases := []struct {
		name   string
		setup  func(f *fixture, a *accounts.Account) // before the enrollment
		inside bool                                  // enrolled inside a login (enroll_mfa)
		want   bool
	}{
		{name: "TOTP inside a login", inside: true, want: true},
		{name: "TOTP from settings", want: true},
		{name: "a second factor after a passkey", setup: func(f *fixture, a *accounts.Account) { f.withPasskey(a) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, func(c *Config) { c.RequireMFA = tc.inside })
			a := f.account("alice@example.com", "correct horse battery")
			if tc.setup != nil {
				tc.setup(f, a)
			}
			var l *Login
			if tc.inside {
				l = f.identify(a.Email)
				if res, err := f.m.Password(f.ctx, l, "correct horse battery"); err != nil || res.Next != session.StepEnrollMFA {
					t.Fatalf("password: %+v, %v", res, err)
				}
			} else {
				l = &Login{Client: f.client, Session: &session.Session{AccountID: a.ID, Email: a.Email, Next: session.StepDone, AuthTime: f.clock.now()}}
			}
			if _, err := f.m.ConfirmTOTP(f.ctx, l, f.code(f.pendingTOTP(a))); err != nil {
				t.Fatalf("confirm: %v", err)
			}
			if got := len(l.RecoveryCodes) == 10; got != tc.want {
				t.Fatalf("got codes %v; want a set of 10: %v", l.RecoveryCodes, tc.want)
			}
			if !tc.want {
				return
			}
			if got := f.mail.mailsOf(mail.KindRecoveryCodesCreated); got != 1 {
				t.Errorf("got %d recovery_codes_created notices, want 1", got)
			}
			for _, c := range l.RecoveryCodes {
				for _, q := range f.mail.sent {
					if strings.Contains(strings.ToLower(fmtData(q.data)), strings.ReplaceAll(c, "-", "")) || strings.Contains(fmtData(q.data), c) {
						t.Errorf("a mail carries a recovery code: %+v", q)
					}
				}
			}
			// The last second factor goes: the set goes with it.
			if err := f.accounts.DeleteTOTP(f.ctx, a.ID); err != nil {
				t.Fatal(err)
			}
			if err := f.m.SecondFactorRemoved(f.ctx, a.ID); err != nil {
				t.Fatal(err)
			}
			if _, _, err := f.accounts.RecoveryCodes(f.ctx, a.ID); !errors.Is(err, accounts.ErrNotFound) {
				t.Errorf("the set after the last factor's removal: %v, want revoked", err)
			}
		})
	}
}

// Removing one of two factors keeps the set.
func TestRecoveryCodesOutliveAFactorThatIsNotTheLast(t *testing.T) {
	f := newFixture(t)
	a := f.account("alice@example.com", "correct horse battery")
	f.withTOTP(a)
	f.withPasskey(a)
	f.withRecoveryCodes(a)
	if err := f.accounts.DeleteTOTP(f.ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	if err := f.m.SecondFactorRemoved(f.ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	if n, _, err := f.accounts.RecoveryCodes(f.ctx, a.ID); err != nil || n != 10 {
		t.Errorf("got %d, %v; want the set kept", n, err)
	}
}

func TestRegenerateRecoveryCodes(t *testing.T) {
	f := newFixture(t)
	a := f.account("alice@example.com", "correct horse battery")
	f.withTOTP(a)
	old := f.withRecoveryCodes(a)
	l := &Login{Client: f.client, Session: &session.Session{AccountID: a.ID, Email: a.Email, Next: session.StepDone, AuthTime: f.clock.now()}}

	if _, _, err := f.m.RecoveryCodeStatus(f.ctx, l); err != nil {
		t.Fatal(err)
	}
	codes, err := f.m.RegenerateRecoveryCodes(f.ctx, l)
	if err != nil || len(codes) != 10 {
		t.Fatalf("got %v, %v", codes, err)
	}
	if _, err := f.m.RecoveryCode(f.ctx, f.atMFA(a), old[0]); !errors.Is(err, ErrInvalidCode) {
		t.Errorf("a code of the old set: %v, want invalid_code", err)
	}
	n, at, err := f.m.RecoveryCodeStatus(f.ctx, l)
	if err != nil || n != 10 || !at.Equal(f.clock.now()) {
		t.Errorf("status: %d, %v, %v", n, at, err)
	}
	f.clock.advance(RecentProof + time.Second)
	_, err = f.m.RegenerateRecoveryCodes(f.ctx, l)
	wantErr(t, err, ErrReauthRequired)

	b := f.account("bob@example.com", "correct horse battery")
	_, _, err = f.m.RecoveryCodeStatus(f.ctx, &Login{Session: &session.Session{AccountID: b.ID, Email: b.Email, Next: session.StepDone}})
	wantErr(t, err, ErrNotFound)
}

// A reset of an account with TOTP may finish with a recovery code instead,
// also while its consecutive failures lock it.
func TestResetWithARecoveryCode(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.MaxFailures = 3; c.MaxConsecutiveFailures = 4 })
	a := f.account("alice@example.com", "correct horse battery")
	f.withTOTP(a)
	codes := f.withRecoveryCodes(a)
	for i := range 4 {
		f.m.Password(f.ctx, f.from(a.Email, network(i)), "wrong")
	}
	l := f.identify(a.Email)
	res, err := f.m.VerifyReset(f.ctx, l, f.resetCode(l))
	if err != nil || res.Next != session.StepMFA || !slices.Contains(res.MFAMethods, "recovery_code") {
		t.Fatalf("verify: %+v, %v", res, err)
	}
	if res, err = f.m.RecoveryCode(f.ctx, l, codes[4]); err != nil || res.Next != session.StepSetPassword {
		t.Fatalf("recovery code: %+v, %v", res, err)
	}
	if res, err = f.m.SetPassword(f.ctx, l, newPassword); err != nil || !res.Complete {
		t.Fatalf("set password: %+v, %v", res, err)
	}
}

// fmtData is a mail's data as text, to look for secrets in it.
func fmtData(d any) string { return strings.ToLower(fmt.Sprintf("%+v", d)) }

// A session-key rotation leaves the sets handed out before it working: a
// code is checked under the keys of the rotated-out session keys too, and a
// new set is made under the current key (CONTRACT §12 "Key rotation").
func TestRecoveryCodeAfterKeyRotation(t *testing.T) {
	for _, tc := range []struct {
		name     string
		previous [][]byte
		want     error
	}{
		{"the old key kept as a previous one", [][]byte{[]byte(strings.Repeat("r", 32))}, nil},
		{"the old key dropped", nil, ErrInvalidCode},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			a := f.account("alice@example.com", "correct horse battery")
			f.withTOTP(a)
			codes := f.withRecoveryCodes(a) // under the fixture's key, "rrr…"
			f.m.recoveryKey = []byte(strings.Repeat("n", 32))
			f.m.previousRecoveryKeys = tc.previous
			l := f.atMFA(a)
			_, err := f.m.RecoveryCode(f.ctx, l, codes[0])
			if !errors.Is(err, tc.want) && !(tc.want == nil && err == nil) {
				t.Fatalf("a code of the set made before the rotation: %v, want %v", err, tc.want)
			}
		})
	}
}
