package login

import (
	"errors"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"unigate/accounts"
	"unigate/mail"
	"unigate/session"
)

// from is a login for email opened from client.
func (f *fixture) from(email string, client netip.Addr) *Login {
	f.t.Helper()
	l := &Login{Client: client}
	if _, err := f.m.Identify(f.ctx, l, email, Opening{Host: "account.test"}); err != nil {
		f.t.Fatalf("identify %s: %v", email, err)
	}
	return l
}

// network is the i-th client network of a test.
func network(i int) netip.Addr {
	return netip.AddrFrom4([4]byte{198, 51, byte(i / 250), byte(1 + i%250)})
}

func wantRateLimited(t *testing.T, err error) {
	t.Helper()
	var rl *RateLimited
	if !errors.As(err, &rl) || rl.RetryAfter <= 0 {
		t.Fatalf("got %v, want rate_limited with a Retry-After", err)
	}
}

// mailsOf counts the messages of kind.
func (m *mailbox) mailsOf(kind string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, q := range m.sent {
		if q.kind == kind {
			n++
		}
	}
	return n
}

// Issue 16 finding 7: the soft lock weighs (account, client network).
func TestSoftLockWeighsTheNetwork(t *testing.T) {
	stranger, owner := network(1), netip.MustParseAddr("2001:db8:1:2::7")
	cases := []struct {
		name   string
		client netip.Addr
		want   bool // the right password signs in
	}{
		{name: "the owner on another network signs in", client: owner, want: true},
		{name: "the owner from another address of the same IPv6 /64 too", client: netip.MustParseAddr("2001:db8:1:2::99"), want: true},
		{name: "the stranger's network is locked, right password or not", client: stranger},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, func(c *Config) { c.MaxFailures = 3 })
			f.account("alice@example.com", "correct horse battery")
			for range 3 {
				_, err := f.m.Password(f.ctx, f.from("alice@example.com", stranger), "wrong")
				wantErr(t, err, ErrInvalidCredentials)
			}
			res, err := f.m.Password(f.ctx, f.from("alice@example.com", tc.client), "correct horse battery")
			if got := err == nil && res.Complete; got != tc.want {
				t.Fatalf("got %+v, %v; want signed in: %v", res, err, tc.want)
			}
			if !tc.want {
				wantRateLimited(t, err)
			}
		})
	}
}

// The owner's completed login clears the owner's network, not the stranger's.
func TestCompletedLoginKeepsAStrangersSoftLock(t *testing.T) {
	stranger, owner := network(1), network(2)
	f := newFixture(t, func(c *Config) { c.MaxFailures = 2 })
	f.account("alice@example.com", "correct horse battery")
	for range 2 {
		_, err := f.m.Password(f.ctx, f.from("alice@example.com", stranger), "wrong")
		wantErr(t, err, ErrInvalidCredentials)
	}
	l := f.from("alice@example.com", owner)
	if res, err := f.m.Password(f.ctx, l, "correct horse battery"); err != nil || !res.Complete {
		t.Fatalf("owner: %+v, %v", res, err)
	}
	f.m.Finished(f.ctx, l)
	_, err := f.m.Password(f.ctx, f.from("alice@example.com", stranger), "wrong")
	wantRateLimited(t, err)
}

// Issue 16 finding 6: failures in a row, across factors and networks, lock
// the account until it is recovered; the owner is mailed once.
func TestConsecutiveFailuresLock(t *testing.T) {
	const limit = 6
	cases := []struct {
		name string
		// lift runs once the account is locked; unlocked says whether the
		// right password then signs in.
		lift     func(f *fixture, a *accounts.Account)
		unlocked bool
	}{
		{name: "time does not lift it", lift: func(f *fixture, a *accounts.Account) { f.clock.advance(30 * 24 * time.Hour) }},
		{name: "nor a new network", lift: func(f *fixture, a *accounts.Account) {}},
		{name: "an operator's unlock does", unlocked: true, lift: func(f *fixture, a *accounts.Account) {
			if err := Unlock(f.ctx, f.sessions, a.Email); err != nil {
				f.t.Fatal(err)
			}
		}},
		{name: "a completed passkey login does", unlocked: true, lift: func(f *fixture, a *accounts.Account) {
			f.withPasskey(a)
			f.passkeys.owner = a.ID
			l := f.from(a.Email, network(200))
			if _, err := f.m.PasskeyOptions(f.ctx, l); err != nil {
				f.t.Fatal(err)
			}
			res, err := f.m.Passkey(f.ctx, l, []byte(`{}`))
			if err != nil || !res.Complete {
				f.t.Fatalf("passkey login of a locked account: %+v, %v", res, err)
			}
			f.m.Finished(f.ctx, l)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, func(c *Config) { c.MaxFailures = 2; c.MaxConsecutiveFailures = limit })
			a := f.account("alice@example.com", "correct horse battery")
			f.withTOTP(a)
			// Wrong passwords and wrong TOTP codes from many networks, each
			// under its soft lock: together they reach the limit.
			for i := range limit {
				l := f.from(a.Email, network(i))
				if i%2 == 0 {
					_, err := f.m.Password(f.ctx, l, "wrong")
					wantErr(t, err, ErrInvalidCredentials)
					continue
				}
				if _, err := f.m.Password(f.ctx, l, "correct horse battery"); err != nil {
					t.Fatalf("failure %d: %v", i+1, err)
				}
				_, err := f.m.TOTP(f.ctx, l, "000000")
				wantErr(t, err, ErrInvalidCode)
			}
			if got := f.mail.mailsOf(mail.KindAccountLocked); got != 1 {
				t.Errorf("got %d account_locked notices, want 1", got)
			}
			if !f.events.audited("lockout") {
				t.Error("the lock is not audited")
			}
			st, err := LockStateOf(f.ctx, f.sessions, a.Email, limit)
			if err != nil || !st.Locked || st.ConsecutiveFailures != limit {
				t.Errorf("lock state: got %+v, %v", st, err)
			}
			// Locked: the right password from a new network is not even checked.
			f.hasher.reset()
			_, err = f.m.Password(f.ctx, f.from(a.Email, network(100)), "correct horse battery")
			wantRateLimited(t, err)
			if f.hasher.work != 0 {
				t.Errorf("a locked account's password was checked (%d hash operations)", f.hasher.work)
			}
			if got := f.mail.mailsOf(mail.KindAccountLocked); got != 1 {
				t.Errorf("after a refused guess: got %d account_locked notices, want still 1", got)
			}
			tc.lift(f, a)
			res, err := f.m.Password(f.ctx, f.from(a.Email, network(101)), "correct horse battery")
			if got := err == nil && res.Next == session.StepMFA; got != tc.unlocked {
				t.Fatalf("right password after: got %+v, %v; want accepted: %v", res, err, tc.unlocked)
			}
		})
	}
}

// A parallel burst does not get past the consecutive limit.
func TestConsecutiveLimitHoldsUnderABurst(t *testing.T) {
	const limit = 5
	f := newFixture(t, func(c *Config) { c.MaxFailures = 100; c.IPMaxFailures = 1000; c.MaxConsecutiveFailures = limit })
	f.account("alice@example.com", "correct horse battery")
	logins := make([]*Login, 40)
	for i := range logins {
		logins[i] = f.from("alice@example.com", network(i))
	}
	f.hasher.reset()
	errs := make(chan error, len(logins))
	for _, l := range logins {
		go func() { _, err := f.m.Password(f.ctx, l, "wrong"); errs <- err }()
	}
	checked := 0
	for range logins {
		if errors.Is(<-errs, ErrInvalidCredentials) {
			checked++
		}
	}
	if checked != limit {
		t.Errorf("got %d guesses checked, want %d", checked, limit)
	}
}

// Issue 16 finding 7: a passkey login and an SSO sign-in are never refused
// by the account's counters, whoever filled them.
func TestPhishingResistantCompletionsAreNotLockedOut(t *testing.T) {
	owner := network(9)
	locks := []struct {
		name string
		lock func(f *fixture, email string)
	}{
		{name: "soft lock on the owner's own network", lock: func(f *fixture, email string) {
			for range 3 {
				f.m.Password(f.ctx, f.from(email, owner), "wrong")
			}
		}},
		{name: "consecutive lock", lock: func(f *fixture, email string) {
			for i := range 4 {
				f.m.Password(f.ctx, f.from(email, network(i)), "wrong")
			}
		}},
	}
	methods := []struct {
		name   string
		signIn func(f *fixture, a *accounts.Account) (*Result, error)
	}{
		{name: "passkey", signIn: func(f *fixture, a *accounts.Account) (*Result, error) {
			f.withPasskey(a)
			f.passkeys.owner = a.ID
			l := f.from(a.Email, owner)
			if _, err := f.m.PasskeyOptions(f.ctx, l); err != nil {
				return nil, err
			}
			return f.m.Passkey(f.ctx, l, []byte(`{}`))
		}},
		{name: "sso", signIn: func(f *fixture, a *accounts.Account) (*Result, error) {
			if err := f.accounts.LinkSSO(f.ctx, a.ID, "github", "sub-1", a.Email, f.clock.now()); err != nil {
				f.t.Fatal(err)
			}
			l := &Login{Client: owner}
			if _, err := f.m.OpenSSO(f.ctx, l, Opening{Host: "account.test"}); err != nil {
				return nil, err
			}
			return f.m.SSOSignIn(f.ctx, l, "github", "sub-1")
		}},
	}
	for _, lk := range locks {
		for _, m := range methods {
			t.Run(lk.name+"/"+m.name, func(t *testing.T) {
				f := newFixture(t, func(c *Config) { c.MaxFailures = 3; c.MaxConsecutiveFailures = 4 })
				a := f.account("alice@example.com", "correct horse battery")
				lk.lock(f, a.Email)
				_, err := f.m.Password(f.ctx, f.from(a.Email, owner), "correct horse battery")
				wantRateLimited(t, err) // the lock is real
				res, err := m.signIn(f, a)
				if err != nil || !res.Complete {
					t.Fatalf("got %+v, %v; want the sign-in complete", res, err)
				}
			})
		}
	}
}

// The network counter still holds sprayers of passkeys and SSO too.
func TestPhishingResistantMethodsCountPerNetwork(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.IPMaxFailures = 2; c.MaxFailures = 2 })
	f.account("alice@example.com", "correct horse battery")
	for range 2 {
		_, err := f.m.Password(f.ctx, f.identify("bob@example.com"), "wrong")
		wantErr(t, err, ErrInvalidCredentials)
	}
	_, err := f.m.Passkey(f.ctx, f.identify("alice@example.com"), []byte(`{}`))
	wantRateLimited(t, err)
}

// Issue 16 findings 7 and 8: mailed codes have budgets per login attempt,
// per client network and (much higher) per address, which sign-ups share.
func TestEmailCodeBudgets(t *testing.T) {
	flagged := func(a *accounts.Account) { a.PasswordSetRequired = true }
	cases := []struct {
		name string
		// send asks for code i (counting from 0) and returns the answer.
		send  func(f *fixture, i int) error
		limit int
	}{
		{name: "per login attempt", limit: codesPerAttemptHour, send: func() func(f *fixture, i int) error {
			var l *Login
			return func(f *fixture, i int) error {
				if l == nil {
					l = f.identify("flagged0@example.com")
				}
				f.clock.advance(resendInterval)
				return f.m.SendEmailCode(f.ctx, l)
			}
		}()},
		{name: "per client network, whatever the address", limit: codesPerNetworkHour, send: func(f *fixture, i int) error {
			return f.m.SendEmailCode(f.ctx, f.identify(fmt.Sprintf("flagged%d@example.com", i)))
		}},
		{name: "per address, from every network", limit: codesPerAddressHour, send: func(f *fixture, i int) error {
			f.clock.advance(resendInterval)
			return f.m.SendEmailCode(f.ctx, f.from("flagged0@example.com", network(i)))
		}},
		{name: "per address, sign-ups included", limit: codesPerAddressHour, send: func(f *fixture, i int) error {
			f.clock.advance(resendInterval)
			if i < codesPerAddressHour {
				_, err := f.m.StartSignup(f.ctx, &Login{Client: network(i)}, "flagged0@example.com", "a long enough password", Opening{})
				return err
			}
			return f.m.SendEmailCode(f.ctx, f.from("flagged0@example.com", network(i)))
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			for i := range codesPerNetworkHour + 1 {
				f.account(fmt.Sprintf("flagged%d@example.com", i), "", flagged)
			}
			for i := range tc.limit {
				if err := tc.send(f, i); err != nil {
					t.Fatalf("code %d of %d: %v", i+1, tc.limit, err)
				}
			}
			wantRateLimited(t, tc.send(f, tc.limit))
		})
	}
}

// A stranger who spends a network's budget on a flagged account leaves its
// owner, on another network, a way in.
func TestAStrangerCannotSpendTheOwnersCodes(t *testing.T) {
	f := newFixture(t)
	f.account("flagged@example.com", "", func(a *accounts.Account) { a.PasswordSetRequired = true })
	stranger := network(1)
	var err error
	for range codesPerNetworkHour + 5 {
		f.clock.advance(resendInterval)
		err = f.m.SendEmailCode(f.ctx, f.from("flagged@example.com", stranger))
	}
	wantRateLimited(t, err)
	f.clock.advance(resendInterval)
	l := f.from("flagged@example.com", network(2))
	if err := f.m.SendEmailCode(f.ctx, l); err != nil {
		t.Fatalf("the owner's code: %v", err)
	}
	if res, err := f.m.VerifyEmailCode(f.ctx, l, f.mail.lastCode()); err != nil || res.Next != session.StepSetPassword {
		t.Fatalf("the owner's sign-in: %+v, %v", res, err)
	}
}

// A flagged account's only way in, the email code, is not closed by the
// consecutive lock a stranger's guesses put on it (issue 16 finding 7); the
// owner's login lifts the lock.
func TestConsecutiveLockLeavesAFlaggedAccountItsEmailCode(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.MaxFailures = 2; c.MaxConsecutiveFailures = 4 })
	a := f.account("flagged@example.com", "", func(a *accounts.Account) { a.PasswordSetRequired = true })
	for i := range 4 {
		_, err := f.m.VerifyEmailCode(f.ctx, f.from(a.Email, network(i)), "12345678")
		wantErr(t, err, ErrInvalidCode)
	}
	if st, _ := LockStateOf(f.ctx, f.sessions, a.Email, 4); !st.Locked {
		t.Fatalf("lock state %+v, want locked", st)
	}
	l := f.from(a.Email, network(50))
	if err := f.m.SendEmailCode(f.ctx, l); err != nil {
		t.Fatal(err)
	}
	res, err := f.m.VerifyEmailCode(f.ctx, l, f.mail.lastCode())
	if err != nil || res.Next != session.StepSetPassword {
		t.Fatalf("the owner's code: %+v, %v", res, err)
	}
}
