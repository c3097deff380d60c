package login

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"testing"
	"time"

	"unigate/mfa"
	"unigate/session"
)

// fakePasskeys stands for the WebAuthn library: the assertion is accepted
// for owner (a passwordless login) or when ok (a second factor).
type fakePasskeys struct {
	mu    sync.Mutex
	n     int
	owner string
	ok    bool
}

func (p *fakePasskeys) data() []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.n++
	return fmt.Appendf(nil, "challenge-%d", p.n)
}

func (p *fakePasskeys) BeginDiscoverableLogin() ([]byte, []byte, error) {
	return []byte(`{"publicKey":{}}`), p.data(), nil
}

func (p *fakePasskeys) BeginLogin(user *mfa.User) ([]byte, []byte, error) {
	return []byte(`{"publicKey":{"allowCredentials":[]}}`), p.data(), nil
}

func (p *fakePasskeys) FinishLogin(user *mfa.User, data []byte, body io.Reader, now time.Time) ([]byte, uint32, bool, error) {
	if !p.ok {
		return nil, 0, false, errors.New("assertion refused")
	}
	return []byte("cred-1"), 1, false, nil
}

func (p *fakePasskeys) FinishDiscoverableLogin(data []byte, body io.Reader, lookup func(rawID, userHandle []byte) (*mfa.User, error), now time.Time) (string, []byte, uint32, bool, error) {
	if p.owner == "" {
		return "", nil, 0, false, errors.New("assertion refused")
	}
	// The library asks for the user the assertion names, as the real one does.
	if _, err := lookup([]byte("cred-1"), []byte(p.owner)); err != nil {
		return "", nil, 0, false, err
	}
	return p.owner, []byte("cred-1"), 1, false, nil
}

func TestPasskeyLogin(t *testing.T) {
	cases := []struct {
		name      string
		owner     func(f *fixture) string // the account the passkey belongs to
		options   bool                    // ask for options first
		want      error
		wantNext  string
		wantAudit string
	}{
		{name: "the passkey of the account signs it in", owner: func(f *fixture) string { return f.aliceID() }, options: true, wantNext: session.StepDone},
		{name: "a passkey of another account is refused", owner: func(f *fixture) string { return f.bobID() }, options: true, want: ErrInvalidCredentials, wantAudit: "login.failure"},
		{name: "a refused assertion", owner: func(*fixture) string { return "" }, options: true, want: ErrInvalidCredentials},
		{name: "without options first", owner: func(f *fixture) string { return f.aliceID() }, want: ErrNoCeremony},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.withPasskey(f.account("alice@example.com", "correct horse battery"))
			f.account("bob@example.com", "correct horse battery")
			f.passkeys.owner = tc.owner(f)
			l := f.identify("alice@example.com")
			if tc.options {
				if _, err := f.m.PasskeyOptions(f.ctx, l); err != nil {
					t.Fatal(err)
				}
			}
			res, err := f.m.Passkey(f.ctx, l, []byte(`{}`))
			wantErr(t, err, tc.want)
			if tc.want == nil && res.Next != tc.wantNext {
				t.Errorf("got next %q, want %q", res.Next, tc.wantNext)
			}
			if tc.wantAudit != "" && !f.events.audited(tc.wantAudit) {
				t.Errorf("no %s audited", tc.wantAudit)
			}
		})
	}
}

func TestPasskeyChallengeServesOnce(t *testing.T) {
	f := newFixture(t)
	f.withPasskey(f.account("alice@example.com", "correct horse battery"))
	f.passkeys.owner = f.aliceID()
	l := f.identify("alice@example.com")
	if _, err := f.m.PasskeyOptions(f.ctx, l); err != nil {
		t.Fatal(err)
	}
	stale := *l.Session // a second request that read the session before the first saved
	stale.Factors = slices.Clone(stale.Factors)
	if _, err := f.m.Passkey(f.ctx, l, nil); err != nil {
		t.Fatalf("first answer: %v", err)
	}
	_, err := f.m.Passkey(f.ctx, &Login{Session: &stale, Client: f.client}, nil)
	wantErr(t, err, ErrNoCeremony)
}

func TestPasskeyAsSecondFactor(t *testing.T) {
	f := newFixture(t)
	a := f.account("alice@example.com", "correct horse battery")
	f.withTOTP(a)
	f.withPasskey(a)
	l := f.identify("alice@example.com")
	res, err := f.m.Password(f.ctx, l, "correct horse battery")
	if err != nil || res.Next != session.StepMFA {
		t.Fatalf("password: %+v, %v", res, err)
	}
	if _, err := f.m.PasskeyOptions(f.ctx, l); err != nil {
		t.Fatal(err)
	}
	f.passkeys.ok = true
	res, err = f.m.Passkey(f.ctx, l, nil)
	if err != nil || !res.Complete {
		t.Fatalf("passkey: %+v, %v", res, err)
	}
	if got, want := l.Session.MFA, "passkey"; got != want {
		t.Errorf("got mfa %q, want %q", got, want)
	}
}

func TestPasskeyOptionsRefusals(t *testing.T) {
	f := newFixture(t)
	f.account("alice@example.com", "correct horse battery")
	_, err := f.m.PasskeyOptions(f.ctx, &Login{Client: f.client})
	wantErr(t, err, ErrNoLogin)
	l := f.at("alice@example.com", session.StepSetPassword)
	_, err = f.m.PasskeyOptions(f.ctx, l)
	wantErr(t, err, ErrWrongStep)
}

func (f *fixture) aliceID() string { return f.idOf("alice@example.com") }
func (f *fixture) bobID() string   { return f.idOf("bob@example.com") }

func (f *fixture) idOf(email string) string {
	f.t.Helper()
	a, err := f.accounts.AccountByEmail(f.ctx, email)
	if err != nil {
		f.t.Fatal(err)
	}
	return a.ID
}
