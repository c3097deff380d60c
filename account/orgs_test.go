package account

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"unigate/accounts"
)

// Table tests of the organization rules, without HTTP: a real SQLite store,
// small fakes for the mailer, the counters, the audit and the watcher.

type fakeMailer struct{ to []string }

func (m *fakeMailer) Queue(_ context.Context, _, _, _, _, to string, _ any) error {
	m.to = append(m.to, to)
	return nil
}

type fakeCounters struct {
	mu sync.Mutex
	n  map[string]int64
}

func (c *fakeCounters) Hit(_ context.Context, key string, window time.Duration) (int64, time.Duration, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]int64{}
	}
	c.n[key]++
	return c.n[key], window, nil
}

type fakeAudit struct{ kinds []string }

func (a *fakeAudit) Audit(_ context.Context, e AuditEvent) { a.kinds = append(a.kinds, e.Kind) }

type fakeWatcher struct {
	changed []string
	err     error
}

func (w *fakeWatcher) MembershipChanged(_ context.Context, accountID string) error {
	w.changed = append(w.changed, accountID)
	return w.err
}

type orgsFixture struct {
	orgs    *Orgs
	store   accounts.Store
	mailer  *fakeMailer
	watcher *fakeWatcher
	actors  map[string]Actor // by role in "Acme": owner, admin, member, outsider
	orgID   string
}

func newOrgsFixture(t *testing.T) *orgsFixture {
	t.Helper()
	ctx := context.Background()
	store, err := accounts.OpenSQLite(ctx, filepath.Join(t.TempDir(), "accounts.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	f := &orgsFixture{store: store, mailer: &fakeMailer{}, watcher: &fakeWatcher{}, actors: map[string]Actor{}}
	f.orgs, err = NewOrgs(OrgsConfig{Store: store, Mailer: f.mailer, Counters: &fakeCounters{}, Audit: &fakeAudit{},
		Watcher: f.watcher, PublicURL: "https://account.test"})
	if err != nil {
		t.Fatal(err)
	}
	for _, who := range []string{"owner", "admin", "member", "outsider"} {
		a := &accounts.Account{Email: who + "@example.com", EmailVerified: true}
		if err := store.CreateAccount(ctx, a, nil); err != nil {
			t.Fatal(err)
		}
		f.actors[who] = Actor{AccountID: a.ID, Email: a.Email}
	}
	org, err := f.orgs.Create(ctx, f.actors["owner"], "  Acme  ")
	if err != nil || org.Name != "Acme" || org.Role != accounts.RoleOwner {
		t.Fatalf("create: %+v %v", org, err)
	}
	f.orgID = org.ID
	for _, who := range []string{"admin", "member"} {
		if err := store.AddMembership(ctx, org.ID, f.actors[who].AccountID, who, time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	f.watcher.changed = nil
	return f
}

func TestCreateNames(t *testing.T) {
	f := newOrgsFixture(t)
	for _, tc := range []struct {
		name string
		err  error
	}{
		{"Globex", nil},
		{"  Initech ", nil},
		{"", ErrInvalidName},
		{"   ", ErrInvalidName},
		{string(make([]rune, 101)), ErrInvalidName},
		{"tab\there", ErrInvalidName},
		{"bad\xffutf8", ErrInvalidName},
	} {
		_, err := f.orgs.Create(context.Background(), f.actors["member"], tc.name)
		if !errors.Is(err, tc.err) && !(tc.err == nil && err == nil) {
			t.Errorf("Create(%q) = %v, want %v", tc.name, err, tc.err)
		}
	}
}

func TestMemberChanges(t *testing.T) {
	for _, tc := range []struct {
		name, actor, target, role string // role "" removes
		want                      error
	}{
		{"owner promotes member", "owner", "member", "admin", nil},
		{"owner demotes admin", "owner", "admin", "member", nil},
		{"owner removes admin", "owner", "admin", "", nil},
		{"admin removes member", "admin", "member", "", nil},
		{"admin sets member to member", "admin", "member", "member", nil},
		{"admin may not promote", "admin", "member", "admin", ErrForbidden},
		{"admin may not touch admin", "admin", "admin", "member", ErrForbidden},
		{"admin may not remove owner", "admin", "owner", "", ErrForbidden},
		{"member may not remove", "member", "admin", "", ErrForbidden},
		{"member may leave", "member", "member", "", nil},
		{"admin may leave", "admin", "admin", "", nil},
		{"last owner may not leave", "owner", "owner", "", ErrLastOwner},
		{"last owner may not step down", "owner", "owner", "admin", ErrLastOwner},
		{"invalid role", "owner", "member", "root", ErrInvalidRole},
		{"outsider sees nothing", "outsider", "member", "", ErrNotFound},
		{"unknown target", "owner", "outsider", "", ErrNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newOrgsFixture(t)
			ctx := context.Background()
			target := f.actors[tc.target].AccountID
			var err error
			if tc.role == "" {
				err = f.orgs.Remove(ctx, f.actors[tc.actor], f.orgID, target)
			} else {
				err = f.orgs.SetRole(ctx, f.actors[tc.actor], f.orgID, target, tc.role)
			}
			if !errors.Is(err, tc.want) && !(tc.want == nil && err == nil) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			// The watcher hears of every change, and of nothing else.
			if wantChanged := tc.want == nil; wantChanged != (len(f.watcher.changed) == 1 && f.watcher.changed[0] == target) {
				t.Fatalf("watcher heard %v (change made: %v)", f.watcher.changed, wantChanged)
			}
		})
	}
}

func TestWatcherFailureIsAnError(t *testing.T) {
	f := newOrgsFixture(t)
	f.watcher.err = errors.New("redis down")
	err := f.orgs.Remove(context.Background(), f.actors["owner"], f.orgID, f.actors["member"].AccountID)
	if err == nil {
		t.Fatal("a change whose propagation failed answered success")
	}
}

func TestInviteAndAccept(t *testing.T) {
	f := newOrgsFixture(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name, actor, email, role string
		want                     error
	}{
		{"owner invites an owner", "owner", "new1@example.com", "owner", nil},
		{"admin invites a member", "admin", "new2@example.com", "", nil},
		{"admin may not invite an admin", "admin", "new3@example.com", "admin", ErrForbidden},
		{"member may not invite", "member", "new4@example.com", "member", ErrForbidden},
		{"outsider", "outsider", "new5@example.com", "member", ErrNotFound},
		{"display name refused", "owner", "Eve <eve@example.com>", "member", ErrInvalidEmail},
		{"not an address", "owner", "nobody", "member", ErrInvalidEmail},
		{"bad role", "owner", "new6@example.com", "boss", ErrInvalidRole},
	} {
		_, err := f.orgs.Invite(ctx, f.actors[tc.actor], f.orgID, tc.email, tc.role)
		if !errors.Is(err, tc.want) && !(tc.want == nil && err == nil) {
			t.Errorf("%s: got %v, want %v", tc.name, err, tc.want)
		}
	}
	if len(f.mailer.to) != 2 {
		t.Fatalf("mails: %v", f.mailer.to)
	}

	// Accepting: only the invited email, once, and not after expiry.
	if _, err := f.orgs.Accept(ctx, f.actors["outsider"], "short"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("malformed token: %v", err)
	}
	if _, err := f.orgs.Accept(ctx, f.actors["outsider"], string(make([]byte, invitationTokenLen))); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown token: %v", err)
	}
}

func TestInvitationLimits(t *testing.T) {
	f := newOrgsFixture(t)
	ctx := context.Background()
	var rl *RateLimited
	for i := range 6 {
		_, err := f.orgs.Invite(ctx, f.actors["owner"], f.orgID, "victim@example.com", "")
		if i < 5 && err != nil {
			t.Fatalf("invitation %d: %v", i, err)
		}
		if i == 5 && (!errors.As(err, &rl) || rl.RetryAfter <= 0 || rl.ErrorCode() != "rate_limited") {
			t.Fatalf("sixth invitation to one address: %v", err)
		}
	}
}
