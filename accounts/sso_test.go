package accounts

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// The SSO identity store, on both drivers (the conformance suite's rule):
// real PostgreSQL and SQLite, each test in a database of its own.

var ssoSuite = []suiteTest{
	{"LinkAndRead", testSSOLinkAndRead},
	{"TakenByAnotherAccount", testSSOTaken},
	{"OneIdentityPerProvider", testSSOExists},
	{"RelinkSameIdentity", testSSORelink},
	{"Unlink", testSSOUnlink},
	{"NeedsAccount", testSSONeedsAccount},
	{"RefusesBadInput", testSSORefusesBadInput},
	{"ProvidersAreSeparate", testSSOProvidersSeparate},
	{"ConcurrentLinkSameIdentity", testSSOConcurrentSameIdentity},
	{"ConcurrentLinkSameProvider", testSSOConcurrentSameProvider},
	{"CascadeOnAccountDelete", testSSOCascade},
}

func TestSSOStore(t *testing.T) {
	runSuite(t, ssoSuite)
}

var ssoLinkedAt = time.Date(2025, 11, 2, 9, 15, 30, 987654321, time.FixedZone("CET", 3600))

func testSSOLinkAndRead(t *testing.T, d driverUnderTest) {
	ctx := context.Background()
	s := newStore(t, d)
	a := mustCreate(t, s, "alice@example.com")
	mustLinkSSO(t, s, a.ID, "microsoft", "tid/sub-a", "alice@example.com")
	mustLinkSSO(t, s, a.ID, "github", "583231", "")
	mustLinkSSO(t, s, a.ID, "google", "10769150350006150715113082367", "alice@gmail.com")

	got, err := s.SSOIdentityBySubject(ctx, "github", "583231")
	if err != nil {
		t.Fatalf("SSOIdentityBySubject: %v", err)
	}
	want := SSOIdentity{AccountID: a.ID, Provider: "github", Subject: "583231", LinkedAt: ssoLinkedAt.UTC()}
	if *got != want {
		t.Errorf("SSOIdentityBySubject = %+v, want %+v", *got, want)
	}
	if got.LinkedAt.Location() != time.UTC {
		t.Errorf("LinkedAt in %v, want UTC", got.LinkedAt.Location())
	}

	list, err := s.SSOIdentities(ctx, a.ID)
	if err != nil {
		t.Fatalf("SSOIdentities: %v", err)
	}
	var providers []string
	for _, id := range list {
		providers = append(providers, id.Provider+"="+id.Subject+"/"+id.Email)
	}
	wantList := "github=583231/,google=10769150350006150715113082367/alice@gmail.com,microsoft=tid/sub-a/alice@example.com"
	if strings.Join(providers, ",") != wantList {
		t.Errorf("SSOIdentities = %v, want %s (by provider)", providers, wantList)
	}

	// A zero time is "now".
	b := mustCreate(t, s, "bob@example.com")
	clock := withFakeClock(s)
	if err := s.LinkSSO(ctx, b.ID, "google", "b", "", time.Time{}); err != nil {
		t.Fatalf("LinkSSO at zero time: %v", err)
	}
	if got := mustSSOBySubject(t, s, "google", "b"); !got.LinkedAt.Equal(clock.now()) {
		t.Errorf("LinkedAt = %v, want now %v", got.LinkedAt, clock.now())
	}

	if list, err := s.SSOIdentities(ctx, "no-such-account"); err != nil || len(list) != 0 {
		t.Errorf("SSOIdentities(unknown) = %v, %v; want none", list, err)
	}
	if _, err := s.SSOIdentityBySubject(ctx, "github", "unknown"); !errors.Is(err, ErrNotFound) {
		t.Errorf("SSOIdentityBySubject(unknown) = %v, want ErrNotFound", err)
	}
	// The lookup is exact: no case folding, no prefix match.
	for _, subject := range []string{"TID/SUB-A", "tid/sub-", "tid/sub-a ", "tid"} {
		if _, err := s.SSOIdentityBySubject(ctx, "microsoft", subject); !errors.Is(err, ErrNotFound) {
			t.Errorf("SSOIdentityBySubject(%q) = %v, want ErrNotFound", subject, err)
		}
	}
	if _, err := s.SSOIdentityBySubject(ctx, "Microsoft", "tid/sub-a"); !errors.Is(err, ErrNotFound) {
		t.Errorf("provider lookup is case sensitive: got %v, want ErrNotFound", err)
	}
}

// testSSOTaken: an identity signs in to one account only (SECURITY.md
// family 7: another account asserting an identity already linked).
func testSSOTaken(t *testing.T, d driverUnderTest) {
	ctx := context.Background()
	s := newStore(t, d)
	a := mustCreate(t, s, "alice@example.com")
	b := mustCreate(t, s, "bob@example.com")
	mustLinkSSO(t, s, a.ID, "google", "shared-sub", "alice@example.com")

	err := s.LinkSSO(ctx, b.ID, "google", "shared-sub", "bob@example.com", ssoLinkedAt)
	if !errors.Is(err, ErrSSOTaken) {
		t.Fatalf("linking a taken identity: %v, want ErrSSOTaken", err)
	}
	if got := mustSSOBySubject(t, s, "google", "shared-sub"); got.AccountID != a.ID || got.Email != "alice@example.com" {
		t.Errorf("after the refused link: %+v, want alice's link untouched", got)
	}
	if list := mustSSOIdentities(t, s, b.ID); len(list) != 0 {
		t.Errorf("bob's identities = %+v, want none", list)
	}
	// Taken even when bob already holds another google identity: the
	// identity's holder is what the caller must hear about.
	mustLinkSSO(t, s, b.ID, "google", "bob-sub", "")
	if err := s.LinkSSO(ctx, b.ID, "google", "shared-sub", "", ssoLinkedAt); !errors.Is(err, ErrSSOTaken) {
		t.Errorf("linking a taken identity to an account holding that provider: %v, want ErrSSOTaken", err)
	}
}

func testSSOExists(t *testing.T, d driverUnderTest) {
	ctx := context.Background()
	s := newStore(t, d)
	a := mustCreate(t, s, "alice@example.com")
	mustLinkSSO(t, s, a.ID, "github", "1", "alice@example.com")
	if err := s.LinkSSO(ctx, a.ID, "github", "2", "", ssoLinkedAt); !errors.Is(err, ErrSSOExists) {
		t.Fatalf("second github identity: %v, want ErrSSOExists", err)
	}
	if _, err := s.SSOIdentityBySubject(ctx, "github", "2"); !errors.Is(err, ErrNotFound) {
		t.Errorf("refused identity stored: %v", err)
	}
	// After an unlink, another identity of that provider may be linked.
	if err := s.UnlinkSSO(ctx, a.ID, "github"); err != nil {
		t.Fatalf("UnlinkSSO: %v", err)
	}
	mustLinkSSO(t, s, a.ID, "github", "2", "")
}

// testSSORelink: linking the identity the account holds is not an error
// (a callback delivered twice) and refreshes the email, not the time.
func testSSORelink(t *testing.T, d driverUnderTest) {
	ctx := context.Background()
	s := newStore(t, d)
	a := mustCreate(t, s, "alice@example.com")
	mustLinkSSO(t, s, a.ID, "google", "g1", "alice@example.com")
	if err := s.LinkSSO(ctx, a.ID, "google", "g1", "alice@new.example", ssoLinkedAt.Add(time.Hour)); err != nil {
		t.Fatalf("relinking the same identity: %v", err)
	}
	got := mustSSOBySubject(t, s, "google", "g1")
	if got.Email != "alice@new.example" || !got.LinkedAt.Equal(ssoLinkedAt) {
		t.Errorf("after relink: %+v, want the new email and the first link time", got)
	}
	if n := len(mustSSOIdentities(t, s, a.ID)); n != 1 {
		t.Errorf("%d identities after relink, want 1", n)
	}
}

func testSSOUnlink(t *testing.T, d driverUnderTest) {
	ctx := context.Background()
	s := newStore(t, d)
	a := mustCreate(t, s, "alice@example.com")
	b := mustCreate(t, s, "bob@example.com")
	mustLinkSSO(t, s, a.ID, "google", "ga", "")
	mustLinkSSO(t, s, a.ID, "github", "1", "")
	mustLinkSSO(t, s, b.ID, "google", "gb", "")

	if err := s.UnlinkSSO(ctx, b.ID, "github"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unlinking a provider bob does not hold: %v, want ErrNotFound", err)
	}
	if err := s.UnlinkSSO(ctx, a.ID, "google"); err != nil {
		t.Fatalf("UnlinkSSO: %v", err)
	}
	if err := s.UnlinkSSO(ctx, a.ID, "google"); !errors.Is(err, ErrNotFound) {
		t.Errorf("second unlink: %v, want ErrNotFound", err)
	}
	if _, err := s.SSOIdentityBySubject(ctx, "google", "ga"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unlinked identity still found: %v", err)
	}
	if list := mustSSOIdentities(t, s, a.ID); len(list) != 1 || list[0].Provider != "github" {
		t.Errorf("alice's identities = %+v, want github only", list)
	}
	if got := mustSSOBySubject(t, s, "google", "gb"); got.AccountID != b.ID {
		t.Errorf("bob's identity = %+v, want untouched", got)
	}
	// The freed identity may now go to another account.
	if err := s.LinkSSO(ctx, b.ID, "github", "1", "", ssoLinkedAt); !errors.Is(err, ErrSSOTaken) {
		t.Errorf("identity still linked to alice: %v, want ErrSSOTaken", err)
	}
	if err := s.UnlinkSSO(ctx, a.ID, "github"); err != nil {
		t.Fatalf("UnlinkSSO: %v", err)
	}
	mustLinkSSO(t, s, b.ID, "github", "1", "")
}

func testSSONeedsAccount(t *testing.T, d driverUnderTest) {
	s := newStore(t, d)
	err := s.LinkSSO(context.Background(), "00000000-0000-4000-8000-000000000000", "google", "g", "", ssoLinkedAt)
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("linking to a missing account: %v, want ErrNotFound", err)
	}
	if n := countRows(t, s, "sso_identities"); n != 0 {
		t.Errorf("%d rows after refused link, want 0", n)
	}
}

func testSSORefusesBadInput(t *testing.T, d driverUnderTest) {
	ctx := context.Background()
	s := newStore(t, d)
	a := mustCreate(t, s, "alice@example.com")
	cases := []struct {
		name                              string
		account, provider, subject, email string
		want                              error // nil: any error
	}{
		{"no account", "", "google", "g", "", nil},
		{"no provider", a.ID, "", "g", "", nil},
		{"no subject", a.ID, "google", "", "", nil},
		{"long provider", a.ID, strings.Repeat("p", MaxSSOProviderBytes+1), "g", "", nil},
		{"long subject", a.ID, "google", strings.Repeat("s", MaxSSOSubjectBytes+1), "", nil},
		{"subject not UTF-8", a.ID, "google", "\xff\xfe", "", nil},
		{"email not normalised", a.ID, "google", "g", "Alice@Example.com", ErrInvalidEmail},
		{"email with spaces", a.ID, "google", "g", " alice@example.com", ErrInvalidEmail},
		{"email invalid", a.ID, "google", "g", "alice@@example.com", ErrInvalidEmail},
		{"email with zero-width space", a.ID, "google", "g", "ali\u200bce@example.com", ErrInvalidEmail},
	}
	for _, tc := range cases {
		err := s.LinkSSO(ctx, tc.account, tc.provider, tc.subject, tc.email, ssoLinkedAt)
		if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) {
			t.Errorf("%s: LinkSSO = %v, want an error (%v)", tc.name, err, tc.want)
		}
	}
	if n := countRows(t, s, "sso_identities"); n != 0 {
		t.Errorf("%d rows after refused links, want 0", n)
	}
	// The longest accepted values fit on both drivers.
	long := strings.Repeat("s", MaxSSOSubjectBytes)
	mustLinkSSO(t, s, a.ID, strings.Repeat("p", MaxSSOProviderBytes), long, "")
	if got := mustSSOBySubject(t, s, strings.Repeat("p", MaxSSOProviderBytes), long); got.Subject != long {
		t.Errorf("long subject read back as %d bytes", len(got.Subject))
	}
}

// testSSOProvidersSeparate: one subject string at two providers is two
// identities (GitHub's numeric ids could equal another provider's sub).
func testSSOProvidersSeparate(t *testing.T, d driverUnderTest) {
	s := newStore(t, d)
	a := mustCreate(t, s, "alice@example.com")
	b := mustCreate(t, s, "bob@example.com")
	mustLinkSSO(t, s, a.ID, "github", "12345", "")
	mustLinkSSO(t, s, b.ID, "google", "12345", "")
	if got := mustSSOBySubject(t, s, "github", "12345"); got.AccountID != a.ID {
		t.Errorf("github 12345 -> %s, want alice", got.AccountID)
	}
	if got := mustSSOBySubject(t, s, "google", "12345"); got.AccountID != b.ID {
		t.Errorf("google 12345 -> %s, want bob", got.AccountID)
	}
}

// testSSOConcurrentSameIdentity: accounts racing for one identity, through
// stores of their own (replicas): exactly one wins, the others hear
// ErrSSOTaken.
func testSSOConcurrentSameIdentity(t *testing.T, d driverUnderTest) {
	const n = 8
	stores := replicas(t, d, 2)
	ids := make([]string, n)
	for i := range ids {
		ids[i] = mustCreate(t, stores[0], fmt.Sprintf("user%d@example.com", i)).ID
	}
	ops := make([]func(context.Context) error, n)
	for i := range ops {
		ops[i] = func(ctx context.Context) error {
			return stores[i%2].LinkSSO(ctx, ids[i], "microsoft", "tid/contested", "", ssoLinkedAt)
		}
	}
	winners := 0
	for i, err := range race(ops...) {
		switch {
		case err == nil:
			winners++
		case !errors.Is(err, ErrSSOTaken):
			t.Errorf("link %d: %v, want nil or ErrSSOTaken", i, err)
		}
	}
	if winners != 1 {
		t.Errorf("%d accounts got the identity, want exactly 1", winners)
	}
	if c := countRows(t, stores[0], "sso_identities"); c != 1 {
		t.Errorf("%d rows, want 1", c)
	}
}

// testSSOConcurrentSameProvider: one account linking several identities of
// one provider at once ends with exactly one.
func testSSOConcurrentSameProvider(t *testing.T, d driverUnderTest) {
	const n = 8
	stores := replicas(t, d, 2)
	a := mustCreate(t, stores[0], "alice@example.com")
	ops := make([]func(context.Context) error, n)
	for i := range ops {
		ops[i] = func(ctx context.Context) error {
			return stores[i%2].LinkSSO(ctx, a.ID, "github", fmt.Sprint(1000+i), "", ssoLinkedAt)
		}
	}
	winners := 0
	for i, err := range race(ops...) {
		switch {
		case err == nil:
			winners++
		case !errors.Is(err, ErrSSOExists):
			t.Errorf("link %d: %v, want nil or ErrSSOExists", i, err)
		}
	}
	if winners != 1 || len(mustSSOIdentities(t, stores[1], a.ID)) != 1 {
		t.Errorf("%d links succeeded, want exactly 1", winners)
	}
}

func testSSOCascade(t *testing.T, d driverUnderTest) {
	ctx := context.Background()
	s := newStore(t, d)
	a := mustCreate(t, s, "alice@example.com")
	b := mustCreate(t, s, "bob@example.com")
	mustLinkSSO(t, s, a.ID, "google", "ga", "")
	mustLinkSSO(t, s, b.ID, "google", "gb", "")
	if _, err := s.db.exec(ctx, "DELETE FROM accounts WHERE id = $1", a.ID); err != nil {
		t.Fatalf("deleting the account: %v", err)
	}
	if _, err := s.SSOIdentityBySubject(ctx, "google", "ga"); !errors.Is(err, ErrNotFound) {
		t.Errorf("identity of a deleted account: %v, want ErrNotFound", err)
	}
	if got := mustSSOBySubject(t, s, "google", "gb"); got.AccountID != b.ID {
		t.Errorf("the other account's identity: %+v", got)
	}
}

func mustLinkSSO(tb testing.TB, s *sqlStore, accountID, provider, subject, email string) {
	tb.Helper()
	if err := s.LinkSSO(context.Background(), accountID, provider, subject, email, ssoLinkedAt); err != nil {
		tb.Fatalf("LinkSSO(%s, %s): %v", provider, subject, err)
	}
}

func mustSSOBySubject(tb testing.TB, s *sqlStore, provider, subject string) *SSOIdentity {
	tb.Helper()
	id, err := s.SSOIdentityBySubject(context.Background(), provider, subject)
	if err != nil {
		tb.Fatalf("SSOIdentityBySubject(%s, %s): %v", provider, subject, err)
	}
	return id
}

func mustSSOIdentities(tb testing.TB, s *sqlStore, accountID string) []SSOIdentity {
	tb.Helper()
	list, err := s.SSOIdentities(context.Background(), accountID)
	if err != nil {
		tb.Fatalf("SSOIdentities: %v", err)
	}
	return list
}
