package account

import (
	"context"
	"errors"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"unigate/accounts"
	"unigate/mfa"
	"unigate/session"
	"unigate/sso"
)

// hasher hashes the fixtures' passwords (argon2id, as in production).
var hasher = accounts.NewHasher(2)

// fakePasswords checks passwords with the hasher; broken stands for a
// hasher that fails (a corrupt stored hash).
type fakePasswords struct{ broken *bool }

func (p fakePasswords) VerifyPassword(ctx context.Context, acct *accounts.Account, password string) (bool, bool, error) {
	if *p.broken {
		return false, false, &Error{code: "internal_error", err: errors.New("corrupt hash")}
	}
	return hasher.Verify(ctx, acct.PasswordHash, password)
}

func (fakePasswords) CheckPasswordPolicy(pw string) error {
	if len(pw) < 8 {
		return &Error{code: "weak_password"}
	}
	return nil
}

// fakeGuesses refuses once refuse is set, and counts what it was given back.
type fakeGuesses struct {
	begun, succeeded int
	refuse           bool
}

func (g *fakeGuesses) Begin(context.Context, string, netip.Addr, string) (func(), error) {
	if g.refuse {
		return nil, &RateLimited{RetryAfter: time.Minute}
	}
	g.begun++
	return func() { g.succeeded++ }, nil
}

type fakeEvents struct {
	attempts []string
	revoked  int
}

func (e *fakeEvents) Attempt(method, outcome string) {
	e.attempts = append(e.attempts, method+":"+outcome)
}
func (e *fakeEvents) SessionsRevoked(n int) { e.revoked += n }
func (e *fakeEvents) StoreFailed(string)    {}

type securityFixture struct {
	sec      *Security
	broken   bool // the password hasher fails
	store    accounts.Store
	sessions *session.MemoryStore
	guesses  *fakeGuesses
	events   *fakeEvents
	audit    *fakeAudit
	now      time.Time
	caller   Caller // alice, signed in with a recent proof
	ctx      context.Context
}

func newSecurityFixture(t *testing.T, requireMFA bool) *securityFixture {
	t.Helper()
	ctx := context.Background()
	store, err := accounts.OpenSQLite(ctx, filepath.Join(t.TempDir(), "accounts.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	sealer, err := mfa.NewSealer([]byte(strings.Repeat("k", 32)))
	if err != nil {
		t.Fatal(err)
	}
	f := &securityFixture{store: store, guesses: &fakeGuesses{}, events: &fakeEvents{}, audit: &fakeAudit{},
		now: time.Now().Truncate(time.Second), ctx: ctx}
	f.sessions = session.NewMemoryStore(func() time.Time { return f.now })
	f.sec, err = NewSecurity(SecurityConfig{Store: store, Sessions: f.sessions, Passwords: fakePasswords{&f.broken}, Hasher: hasher,
		Guesses: f.guesses, Sealer: sealer, Audit: f.audit, Events: f.events, RequireMFA: requireMFA,
		TOTPIssuer: "Test", Providers: []string{"google", "github"}, Now: func() time.Time { return f.now }})
	if err != nil {
		t.Fatal(err)
	}
	a := &accounts.Account{Email: "alice@example.com", EmailVerified: true, PasswordHash: oldHash(t)}
	if err := store.CreateAccount(ctx, a, nil); err != nil {
		t.Fatal(err)
	}
	f.caller = Caller{Actor: Actor{AccountID: a.ID, Email: a.Email, IP: "192.0.2.1"},
		Client: netip.MustParseAddr("192.0.2.1"), RecentProof: true}
	f.caller.Handle = f.session(t, a.ID, session.StepDone)
	return f
}

// session stores a session of accountID at step next and returns its handle.
func (f *securityFixture) session(t *testing.T, accountID, next string) string {
	t.Helper()
	token, err := f.sessions.Create(f.ctx, &session.Session{AccountID: accountID, Email: "x@example.com", Next: next,
		CreatedAt: f.now, LastSeenAt: f.now, ExpiresAt: f.now.Add(time.Hour)}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return session.HandleOf(token)
}

var oldPasswordHash string

func oldHash(t *testing.T) string {
	if oldPasswordHash == "" {
		h, err := hasher.Hash(context.Background(), "old password")
		if err != nil {
			t.Fatal(err)
		}
		oldPasswordHash = h
	}
	return oldPasswordHash
}

func stale(c Caller) Caller { c.RecentProof = false; return c }

func wantErr(t *testing.T, name string, got, want error) {
	t.Helper()
	if !errors.Is(got, want) && !(want == nil && got == nil) {
		t.Errorf("%s: got %v, want %v", name, got, want)
	}
}

func TestChangePassword(t *testing.T) {
	for _, tc := range []struct {
		name              string
		stale, locked     bool
		broken            bool
		current, next     string
		want              error
		wantCode          string
		wantChanged       bool
		wantOtherSessions int
	}{
		{name: "no recent proof", stale: true, current: "old password", next: "new password", want: ErrReauthRequired, wantOtherSessions: 2},
		{name: "locked out", locked: true, current: "old password", next: "new password", wantCode: "rate_limited", wantOtherSessions: 2},
		{name: "wrong current password", current: "guess", next: "new password", want: ErrInvalidCredentials, wantOtherSessions: 2},
		{name: "a corrupt stored hash is not a wrong password", broken: true, current: "old password", next: "new password", wantCode: "internal_error", wantOtherSessions: 2},
		{name: "weak new password", current: "old password", next: "short", wantCode: "weak_password", wantOtherSessions: 2},
		{name: "changed, every other session ends", current: "old password", next: "new password", wantChanged: true, wantOtherSessions: 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newSecurityFixture(t, false)
			c := f.caller
			if tc.stale {
				c = stale(c)
			}
			f.guesses.refuse = tc.locked
			f.broken = tc.broken
			f.session(t, c.AccountID, session.StepDone)
			f.session(t, c.AccountID, session.StepMFA)
			err := f.sec.ChangePassword(f.ctx, c, tc.current, tc.next)
			if tc.wantCode != "" {
				var coded interface{ ErrorCode() string }
				if !errors.As(err, &coded) || coded.ErrorCode() != tc.wantCode {
					t.Fatalf("got %v, want code %s", err, tc.wantCode)
				}
			} else {
				wantErr(t, tc.name, err, tc.want)
			}
			a, _ := f.store.AccountByID(f.ctx, c.AccountID)
			if changed := a.PasswordHash != oldHash(t); changed != tc.wantChanged {
				t.Errorf("password changed: got %v, want %v", changed, tc.wantChanged)
			}
			list, _ := f.sessions.ListAccount(f.ctx, c.AccountID)
			others := 0
			for _, s := range list {
				if s.Handle != c.Handle {
					others++
				}
			}
			if others != tc.wantOtherSessions || len(list) != others+1 {
				t.Errorf("sessions: got %d others of %d, want %d others and this one", others, len(list), tc.wantOtherSessions)
			}
			if tc.want == ErrInvalidCredentials && (!slices.Contains(f.events.attempts, "password:failure") || f.guesses.succeeded != 0) {
				t.Errorf("a wrong password: attempts %v, given back %d", f.events.attempts, f.guesses.succeeded)
			}
			if err == nil && (f.guesses.succeeded != 1 || !slices.Contains(f.audit.kinds, "password.change")) {
				t.Errorf("a right password: given back %d, audit %v", f.guesses.succeeded, f.audit.kinds)
			}
		})
	}
}

func TestSessions(t *testing.T) {
	f := newSecurityFixture(t, false)
	other := f.session(t, f.caller.AccountID, session.StepDone)
	f.session(t, f.caller.AccountID, session.StepMFA) // a login in progress: not listed
	strangers := f.session(t, "someone-else", session.StepDone)

	list, err := f.sec.Sessions(f.ctx, f.caller)
	if err != nil || len(list) != 2 {
		t.Fatalf("list: got %v %v, want the two signed-in sessions", list, err)
	}
	for _, it := range list {
		if it.Current != (it.ID == f.caller.Handle) {
			t.Errorf("%s: current %v", it.ID[:8], it.Current)
		}
	}
	for _, tc := range []struct {
		name        string
		id          string
		want        error
		wantCurrent bool
	}{
		{"someone else's session", strangers, ErrNotFound, false},
		{"unknown id", "nope", ErrNotFound, false},
		{"another of mine", other, nil, false},
		{"again", other, ErrNotFound, false},
		{"this one", f.caller.Handle, nil, true},
	} {
		current, err := f.sec.RevokeSession(f.ctx, f.caller, tc.id)
		wantErr(t, tc.name, err, tc.want)
		if current != tc.wantCurrent {
			t.Errorf("%s: current got %v, want %v", tc.name, current, tc.wantCurrent)
		}
	}
	if _, err := f.sessions.Get(f.ctx, strangers, time.Hour); err != nil {
		t.Errorf("someone else's session was touched: %v", err)
	}

	f.session(t, f.caller.AccountID, session.StepDone)
	if err := f.sec.SignOutEverywhere(f.ctx, f.caller); err != nil {
		t.Fatal(err)
	}
	if list, _ := f.sessions.ListAccount(f.ctx, f.caller.AccountID); len(list) != 0 {
		t.Errorf("after signing out everywhere: %d sessions left", len(list))
	}
}

func code(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCode(secret, at)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestTOTPSetUp: a set-up needs a recent proof, and the confirmation
// confirms the secret the caller was shown and no other (issue 16 finding
// 10: two tabs, the second set-up replaces the first).
func TestTOTPSetUp(t *testing.T) {
	f := newSecurityFixture(t, false)
	if _, err := f.sec.StartTOTP(f.ctx, stale(f.caller)); !errors.Is(err, ErrReauthRequired) {
		t.Fatalf("set-up without a recent proof: got %v, want reauth_required", err)
	}
	wantErr(t, "confirm with nothing pending", f.sec.ConfirmTOTP(f.ctx, f.caller, "123456", ""), ErrNoPendingTOTP)
	tab1, err := f.sec.StartTOTP(f.ctx, f.caller)
	if err != nil {
		t.Fatal(err)
	}
	tab2, err := f.sec.StartTOTP(f.ctx, f.caller)
	if err != nil || tab2.SecretID == tab1.SecretID {
		t.Fatalf("second set-up: %+v %v", tab2, err)
	}
	for _, tc := range []struct {
		name, code, secretID string
		want                 error
	}{
		{"no recent proof", code(t, tab2.Secret, f.now), tab2.SecretID, ErrReauthRequired},
		{"tab 1's code and id: replaced", code(t, tab1.Secret, f.now), tab1.SecretID, ErrNoPendingTOTP},
		{"tab 2's code under tab 1's id", code(t, tab2.Secret, f.now), tab1.SecretID, ErrNoPendingTOTP},
		{"tab 1's code without an id", code(t, tab1.Secret, f.now), "", ErrInvalidCode},
		{"not a code", "abc", tab2.SecretID, ErrInvalidCode},
		{"tab 2's code and id", code(t, tab2.Secret, f.now), tab2.SecretID, nil},
		{"again", code(t, tab2.Secret, f.now), tab2.SecretID, ErrNoPendingTOTP},
	} {
		c := f.caller
		if tc.name == "no recent proof" {
			c = stale(c)
		}
		wantErr(t, tc.name, f.sec.ConfirmTOTP(f.ctx, c, tc.code, tc.secretID), tc.want)
	}
	cred, err := f.store.TOTPCredential(f.ctx, f.caller.AccountID)
	if err != nil || !cred.Confirmed {
		t.Fatalf("after confirming: %+v %v", cred, err)
	}
	if _, err := f.sec.StartTOTP(f.ctx, f.caller); !errors.Is(err, ErrAlreadyEnrolled) {
		t.Errorf("a set-up over a confirmed app: got %v, want already_enrolled", err)
	}
	if m, err := f.sec.MFA(f.ctx, f.caller); err != nil || !m.TOTP || len(m.Passkeys) != 0 {
		t.Errorf("summary: %+v %v", m, err)
	}
}

// TestConfirmPendingTOTPRace: the store confirms only the sealed secret the
// code was checked against, not one drawn between the check and the write.
func TestConfirmPendingTOTPRace(t *testing.T) {
	f := newSecurityFixture(t, false)
	id := f.caller.AccountID
	if err := f.store.PutPendingTOTP(f.ctx, id, []byte("sealed A")); err != nil {
		t.Fatal(err)
	}
	if err := f.store.PutPendingTOTP(f.ctx, id, []byte("sealed B")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		sealed string
		want   error
	}{
		{"the replaced secret", "sealed A", accounts.ErrTOTPReplaced},
		{"the pending secret", "sealed B", nil},
		{"once confirmed", "sealed B", accounts.ErrMFAExists},
	} {
		wantErr(t, tc.name, f.store.ConfirmPendingTOTP(f.ctx, id, []byte(tc.sealed), 1000, f.now), tc.want)
	}
}

func (f *securityFixture) addPasskey(t *testing.T, id string) {
	t.Helper()
	cred := &accounts.WebAuthnCredential{ID: []byte(id), AccountID: f.caller.AccountID, Name: " My\x00 key ",
		PublicKey: []byte{1, 2, 3}, AttestationType: "none", AttestationFormat: "none"}
	if err := f.sec.AddPasskey(f.ctx, f.caller, cred); err != nil {
		t.Fatal(err)
	}
}

func TestRemoveFactor(t *testing.T) {
	for _, requireMFA := range []bool{false, true} {
		f := newSecurityFixture(t, requireMFA)
		f.addPasskey(t, "key-1")
		f.addPasskey(t, "key-2")
		m, _ := f.sec.MFA(f.ctx, f.caller)
		if len(m.Passkeys) != 2 || m.Passkeys[0].Name != "My key" {
			t.Fatalf("passkeys: %+v", m.Passkeys)
		}
		err := f.sec.AddPasskey(f.ctx, f.caller, &accounts.WebAuthnCredential{ID: []byte("key-1"), AccountID: f.caller.AccountID,
			PublicKey: []byte{1}, AttestationType: "none", AttestationFormat: "none"})
		wantErr(t, "the same passkey twice", err, ErrCredentialExists)
		key1, key2 := m.Passkeys[0].ID, m.Passkeys[1].ID
		lastWant := error(nil)
		if requireMFA {
			lastWant = ErrLastMFAMethod
		}
		for _, tc := range []struct {
			name  string
			stale bool
			id    string
			want  error
		}{
			{"no recent proof", true, key1, ErrReauthRequired},
			{"not base64url", false, "***", ErrNotFound},
			{"no such passkey", false, "bm9wZQ", ErrNotFound},
			{"one of two", false, key1, nil},
			{"the last one", false, key2, lastWant},
		} {
			c := f.caller
			if tc.stale {
				c = stale(c)
			}
			wantErr(t, tc.name, f.sec.RemovePasskey(f.ctx, c, tc.id), tc.want)
		}
		wantTOTP := ErrNotFound
		if requireMFA {
			wantTOTP = ErrLastMFAMethod // counted before looking: one passkey left, no app
		}
		wantErr(t, "no authenticator app", f.sec.RemoveTOTP(f.ctx, f.caller), wantTOTP)
	}
}

func TestLinks(t *testing.T) {
	f := newSecurityFixture(t, false)
	mallory := &accounts.Account{Email: "mallory@example.com", EmailVerified: true}
	if err := f.store.CreateAccount(f.ctx, mallory, nil); err != nil {
		t.Fatal(err)
	}
	if err := f.store.LinkSSO(f.ctx, mallory.ID, "github", "gh-mallory", mallory.Email, f.now); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "start without a recent proof", f.sec.StartLink(stale(f.caller), "google"), ErrReauthRequired)
	wantErr(t, "start an unknown provider", f.sec.StartLink(f.caller, "myspace"), ErrUnknownProvider)
	wantErr(t, "start", f.sec.StartLink(f.caller, "google"), nil)
	for _, tc := range []struct {
		name  string
		stale bool
		id    ssoIdentity
		want  error
	}{
		{"no recent proof", true, ssoIdentity{"google", "g-alice", "alice@example.com", true}, ErrReauthRequired},
		{"unverified email", false, ssoIdentity{"google", "g-alice", "alice@example.com", false}, ErrSSOEmailMismatch},
		{"someone else's email", false, ssoIdentity{"google", "g-alice", "bob@example.com", true}, ErrSSOEmailMismatch},
		{"linked to another account", false, ssoIdentity{"github", "gh-mallory", "alice@example.com", true}, ErrSSOTaken},
		{"linked", false, ssoIdentity{"google", "g-alice", "alice@example.com", true}, nil},
		{"a second of the same provider", false, ssoIdentity{"google", "g-alice-2", "alice@example.com", true}, ErrSSOExists},
	} {
		c := f.caller
		if tc.stale {
			c = stale(c)
		}
		wantErr(t, tc.name, f.sec.FinishLink(f.ctx, c, tc.id.identity()), tc.want)
	}
	links, err := f.sec.Links(f.ctx, f.caller)
	if err != nil || len(links) != 1 || links[0].Provider != "google" {
		t.Fatalf("links: %+v %v", links, err)
	}
	if got := f.sec.Unlinked(links); !slices.Equal(got, []string{"github"}) {
		t.Errorf("unlinked: got %v, want [github]", got)
	}

	// Without a password nor a passkey, the one link is the only way in.
	if err := f.store.SetPasswordHash(f.ctx, f.caller.AccountID, ""); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		stale    bool
		provider string
		passkey  bool
		want     error
	}{
		{"no recent proof", true, "google", false, ErrReauthRequired},
		{"the only way to sign in", false, "google", false, ErrLastSignInMethod},
		{"not linked", false, "github", true, ErrNotFound},
		{"with a passkey", false, "google", false, nil},
	} {
		if tc.passkey {
			f.addPasskey(t, "key")
		}
		c := f.caller
		if tc.stale {
			c = stale(c)
		}
		wantErr(t, tc.name, f.sec.Unlink(f.ctx, c, tc.provider), tc.want)
	}
}

func TestSetLocale(t *testing.T) {
	f := newSecurityFixture(t, false)
	for _, tc := range []struct {
		locale, want string
		err          error
	}{
		{"fr", "fr", nil},
		{"de", "fr", ErrInvalidLocale},
		{"", "fr", ErrInvalidLocale},
		{"en", "en", nil},
	} {
		wantErr(t, tc.locale, f.sec.SetLocale(f.ctx, stale(f.caller), tc.locale), tc.err)
		if a, _ := f.store.AccountByID(f.ctx, f.caller.AccountID); a.Locale != tc.want {
			t.Errorf("%q: locale got %q, want %q", tc.locale, a.Locale, tc.want)
		}
	}
	gone := f.caller
	gone.AccountID = "00000000-0000-0000-0000-000000000000"
	wantErr(t, "a deleted account", f.sec.SetLocale(f.ctx, gone, "fr"), ErrUnauthenticated)
}

// ssoIdentity is a provider's answer, short to write in a table.
type ssoIdentity struct {
	provider, subject, email string
	verified                 bool
}

func (i ssoIdentity) identity() *sso.Identity {
	return &sso.Identity{Provider: i.provider, Subject: i.subject, Email: i.email, EmailVerified: i.verified}
}
