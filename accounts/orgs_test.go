package accounts

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

// The organization store, on both drivers (the conformance suite's rule):
// real PostgreSQL and SQLite, each test in a database of its own.

var orgSuite = []suiteTest{
	{"CreateOrganization", testOrgCreate},
	{"CreateOrganizationRefusesBadInput", testOrgCreateRefuses},
	{"RenameOrganization", testOrgRename},
	{"MembershipsOrder", testOrgMembershipsOrder},
	{"MembersAndRoles", testOrgMembers},
	{"AddMembershipIdempotent", testOrgAddMembership},
	{"SetMemberRole", testOrgSetMemberRole},
	{"RemoveMember", testOrgRemoveMember},
	{"LastOwnerConcurrentDemote", testOrgLastOwnerConcurrent},
	{"LastOwnerConcurrentManyOwners", testOrgLastOwnerMany},
	{"ConcurrentRoleChurn", testOrgChurn},
	{"InvitationCreateAndRead", testInvitationCreateAndRead},
	{"InvitationRefusesBadInput", testInvitationRefuses},
	{"InvitationReplace", testInvitationReplace},
	{"InvitationReplaceConcurrent", testInvitationReplaceConcurrent},
	{"PendingInvitations", testInvitationPending},
	{"InvitationAccept", testInvitationAccept},
	{"InvitationAcceptKeepsHigherRole", testInvitationAcceptHigherRole},
	{"InvitationAcceptExpired", testInvitationAcceptExpired},
	{"InvitationAcceptConcurrent", testInvitationAcceptConcurrent},
	{"CascadeOnDelete", testOrgCascade},
}

func TestOrgStore(t *testing.T) {
	runSuite(t, orgSuite)
}

var orgCreatedAt = time.Date(2025, 12, 1, 10, 0, 0, 123456789, time.FixedZone("CET", 3600))

func testOrgCreate(t *testing.T, d driverUnderTest) {
	ctx := context.Background()
	s := newStore(t, d)
	a := mustCreate(t, s, "alice@example.com")
	org, err := s.CreateOrganization(ctx, "Acme", a.ID, orgCreatedAt)
	if err != nil {
		t.Fatalf("CreateOrganization: %v", err)
	}
	if _, err := uuid.Parse(org.ID); err != nil {
		t.Errorf("organization id %q is not a uuid: %v", org.ID, err)
	}
	if org.Name != "Acme" || !org.CreatedAt.Equal(orgCreatedAt) || org.CreatedAt.Location() != time.UTC {
		t.Errorf("CreateOrganization = %+v, want Acme created at %v in UTC", org, orgCreatedAt)
	}
	if role := mustMemberRole(t, s, org.ID, a.ID); role != RoleOwner {
		t.Errorf("creator's role = %q, want owner", role)
	}
	members := mustMembers(t, s, org.ID)
	want := Member{AccountID: a.ID, Email: "alice@example.com", Role: RoleOwner, Since: orgCreatedAt.UTC()}
	if len(members) != 1 || members[0] != want {
		t.Errorf("Members = %+v, want [%+v]", members, want)
	}
	var stored string
	if err := s.db.queryRow(ctx, "SELECT created_at FROM organizations WHERE id = $1", []any{org.ID}, &stored); err != nil {
		t.Fatal(err)
	}
	if got, _ := decodeTime(stored); !got.Equal(orgCreatedAt) {
		t.Errorf("stored created_at = %q, want %v", stored, orgCreatedAt)
	}

	// Two organizations may share a name; ids differ.
	org2, err := s.CreateOrganization(ctx, "Acme", a.ID, time.Time{})
	if err != nil {
		t.Fatalf("second Acme: %v", err)
	}
	if org2.ID == org.ID {
		t.Errorf("two organizations share id %s", org.ID)
	}
	// A zero time is now.
	clock := withFakeClock(s)
	org3, err := s.CreateOrganization(ctx, "Later", a.ID, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if !org3.CreatedAt.Equal(clock.now()) {
		t.Errorf("CreatedAt = %v, want now %v", org3.CreatedAt, clock.now())
	}
}

func testOrgRename(t *testing.T, d driverUnderTest) {
	ctx := context.Background()
	s := newStore(t, d)
	a := mustCreate(t, s, "alice@example.com")
	org := mustCreateOrg(t, s, "Acme", a.ID)
	other := mustCreateOrg(t, s, "Globex", a.ID)
	if err := s.RenameOrganization(ctx, org.ID, "Acme Corporation"); err != nil {
		t.Fatalf("RenameOrganization: %v", err)
	}
	for _, name := range []string{"", " ", "a\nb", "\xff", strings.Repeat("n", MaxOrganizationNameBytes+1)} {
		if err := s.RenameOrganization(ctx, org.ID, name); !errors.Is(err, ErrInvalidOrganizationName) {
			t.Errorf("RenameOrganization(%q) = %v, want ErrInvalidOrganizationName", name, err)
		}
	}
	if err := s.RenameOrganization(ctx, uuid.NewString(), "Ghost"); !errors.Is(err, ErrNotFound) {
		t.Errorf("RenameOrganization(unknown) = %v, want ErrNotFound", err)
	}
	names := map[string]string{}
	for _, m := range mustMemberships(t, s, a.ID) {
		names[m.OrganizationID] = m.Name
	}
	if names[org.ID] != "Acme Corporation" || names[other.ID] != "Globex" {
		t.Errorf("names after the rename: %v", names)
	}
}

func testOrgCreateRefuses(t *testing.T, d driverUnderTest) {
	ctx := context.Background()
	s := newStore(t, d)
	a := mustCreate(t, s, "alice@example.com")
	for _, name := range []string{"", "   ", "\t", "a\nb", "bell\a", "\xff\xfe", strings.Repeat("n", MaxOrganizationNameBytes+1)} {
		if _, err := s.CreateOrganization(ctx, name, a.ID, orgCreatedAt); !errors.Is(err, ErrInvalidOrganizationName) {
			t.Errorf("CreateOrganization(%q) = %v, want ErrInvalidOrganizationName", name, err)
		}
	}
	if _, err := s.CreateOrganization(ctx, "Acme", "", orgCreatedAt); err == nil {
		t.Error("CreateOrganization without owner succeeded")
	}
	// An unknown owner: nothing is written (one transaction).
	if _, err := s.CreateOrganization(ctx, "Ghost", uuid.NewString(), orgCreatedAt); !errors.Is(err, ErrNotFound) {
		t.Errorf("CreateOrganization(unknown owner) = %v, want ErrNotFound", err)
	}
	if n := countRows(t, s, "organizations"); n != 0 {
		t.Errorf("%d organizations after refused creations, want 0", n)
	}
	// The longest name fits, and names are kept as given.
	long := strings.Repeat("é", MaxOrganizationNameBytes/2)
	org := mustCreateOrg(t, s, long, a.ID)
	if ms := mustMemberships(t, s, a.ID); len(ms) != 1 || ms[0].Name != long || ms[0].OrganizationID != org.ID {
		t.Errorf("Memberships = %+v, want the long name", ms)
	}
}

// testOrgMembershipsOrder: by name compared as bytes (upper case first, the
// same on both drivers whatever the collation), then id.
func testOrgMembershipsOrder(t *testing.T, d driverUnderTest) {
	ctx := context.Background()
	s := newStore(t, d)
	a := mustCreate(t, s, "alice@example.com")
	b := mustCreate(t, s, "bob@example.com")
	beta := mustCreateOrg(t, s, "beta", a.ID)
	omega := mustCreateOrg(t, s, "Ωmega", b.ID)
	alphaLower := mustCreateOrg(t, s, "alpha", b.ID)
	alphaUpper := mustCreateOrg(t, s, "Alpha", a.ID)
	twin1 := mustCreateOrg(t, s, "twin", a.ID)
	twin2 := mustCreateOrg(t, s, "twin", a.ID)
	mustAddMembership(t, s, omega.ID, a.ID, RoleAdmin)
	mustAddMembership(t, s, alphaLower.ID, a.ID, RoleMember)

	twins := []string{twin1.ID, twin2.ID}
	if twins[0] > twins[1] {
		twins[0], twins[1] = twins[1], twins[0]
	}
	want := []Membership{
		{OrganizationID: alphaUpper.ID, Name: "Alpha", Role: RoleOwner},
		{OrganizationID: alphaLower.ID, Name: "alpha", Role: RoleMember},
		{OrganizationID: beta.ID, Name: "beta", Role: RoleOwner},
		{OrganizationID: twins[0], Name: "twin", Role: RoleOwner},
		{OrganizationID: twins[1], Name: "twin", Role: RoleOwner},
		{OrganizationID: omega.ID, Name: "Ωmega", Role: RoleAdmin},
	}
	got := mustMemberships(t, s, a.ID)
	for i, m := range got { // the order and the names; the MFA rule is tested apart
		got[i] = Membership{OrganizationID: m.OrganizationID, Name: m.Name, Role: m.Role}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Memberships =\n %v\nwant\n %v", got, want)
	}
	if got := mustMemberships(t, s, b.ID); len(got) != 2 || got[0].Name != "alpha" || got[1].Name != "Ωmega" {
		t.Errorf("bob's Memberships = %v, want alpha, Ωmega", got)
	}
	if got, err := s.Memberships(ctx, uuid.NewString()); err != nil || len(got) != 0 {
		t.Errorf("Memberships(unknown) = %v, %v; want none", got, err)
	}
}

func testOrgMembers(t *testing.T, d driverUnderTest) {
	ctx := context.Background()
	s := newStore(t, d)
	// By email as bytes: '-' < '.' < '@' < letters, whatever the collation
	// (a linguistic one would skip the punctuation).
	carol := mustCreate(t, s, "alicea@example.com")
	alice := mustCreate(t, s, "alice@example.com")
	bob := mustCreate(t, s, "alice.b@example.com")
	dave := mustCreate(t, s, "dave@example.com")
	org := mustCreateOrg(t, s, "Acme", carol.ID)
	other := mustCreateOrg(t, s, "Other", dave.ID)
	later := orgCreatedAt.Add(time.Hour)
	if err := s.AddMembership(ctx, org.ID, alice.ID, RoleAdmin, later); err != nil {
		t.Fatal(err)
	}
	if err := s.AddMembership(ctx, org.ID, bob.ID, RoleMember, later); err != nil {
		t.Fatal(err)
	}
	got := mustMembers(t, s, org.ID)
	want := []Member{
		{bob.ID, "alice.b@example.com", RoleMember, later.UTC()},
		{alice.ID, "alice@example.com", RoleAdmin, later.UTC()},
		{carol.ID, "alicea@example.com", RoleOwner, orgCreatedAt.UTC()},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Members =\n %v\nwant\n %v", got, want)
	}
	for id, role := range map[string]string{carol.ID: RoleOwner, alice.ID: RoleAdmin, bob.ID: RoleMember} {
		if got := mustMemberRole(t, s, org.ID, id); got != role {
			t.Errorf("MemberRole(%s) = %q, want %q", id, got, role)
		}
	}
	for _, tc := range []struct{ org, account string }{
		{org.ID, dave.ID},           // member elsewhere only
		{other.ID, alice.ID},        // not a member of that one
		{uuid.NewString(), dave.ID}, // no such organization
		{org.ID, uuid.NewString()},  // no such account
	} {
		if _, err := s.MemberRole(ctx, tc.org, tc.account); !errors.Is(err, ErrNotFound) {
			t.Errorf("MemberRole(%s, %s) = %v, want ErrNotFound", tc.org, tc.account, err)
		}
	}
	if got, err := s.Members(ctx, uuid.NewString()); err != nil || len(got) != 0 {
		t.Errorf("Members(unknown) = %v, %v; want none", got, err)
	}
}

func testOrgAddMembership(t *testing.T, d driverUnderTest) {
	ctx := context.Background()
	s := newStore(t, d)
	a := mustCreate(t, s, "alice@example.com")
	b := mustCreate(t, s, "bob@example.com")
	org := mustCreateOrg(t, s, "Acme", a.ID)
	mustAddMembership(t, s, org.ID, b.ID, RoleAdmin)
	// Again, with another role and time: nothing changes.
	if err := s.AddMembership(ctx, org.ID, b.ID, RoleOwner, orgCreatedAt.Add(time.Hour)); err != nil {
		t.Fatalf("second AddMembership: %v", err)
	}
	if err := s.AddMembership(ctx, org.ID, a.ID, RoleMember, orgCreatedAt); err != nil {
		t.Fatalf("AddMembership of the owner: %v", err)
	}
	members := mustMembers(t, s, org.ID)
	if len(members) != 2 || members[0].Role != RoleOwner || members[1].Role != RoleAdmin || !members[1].Since.Equal(orgCreatedAt) {
		t.Errorf("Members = %+v, want alice owner and bob admin since the first add", members)
	}
	for _, role := range []string{"", "Owner", "root", "member "} {
		if err := s.AddMembership(ctx, org.ID, b.ID, role, orgCreatedAt); !errors.Is(err, ErrInvalidRole) {
			t.Errorf("AddMembership(role %q) = %v, want ErrInvalidRole", role, err)
		}
	}
	if err := s.AddMembership(ctx, uuid.NewString(), b.ID, RoleMember, orgCreatedAt); !errors.Is(err, ErrNotFound) {
		t.Errorf("AddMembership(unknown org) = %v, want ErrNotFound", err)
	}
	if err := s.AddMembership(ctx, org.ID, uuid.NewString(), RoleMember, orgCreatedAt); !errors.Is(err, ErrNotFound) {
		t.Errorf("AddMembership(unknown account) = %v, want ErrNotFound", err)
	}
	// An organization the unification brought (its own id, no owner yet).
	if _, err := s.db.exec(ctx, "INSERT INTO organizations (id, name, created_at) VALUES ('sw-org-1', 'Legacy', $1)",
		mustEncodeTime(t, orgCreatedAt)); err != nil {
		t.Fatal(err)
	}
	mustAddMembership(t, s, "sw-org-1", b.ID, RoleOwner)
	if role := mustMemberRole(t, s, "sw-org-1", b.ID); role != RoleOwner {
		t.Errorf("role in the legacy organization = %q", role)
	}
	if n := countRows(t, s, "memberships"); n != 3 {
		t.Errorf("%d memberships, want 3", n)
	}
}

func testOrgSetMemberRole(t *testing.T, d driverUnderTest) {
	ctx := context.Background()
	s := newStore(t, d)
	a := mustCreate(t, s, "alice@example.com")
	b := mustCreate(t, s, "bob@example.com")
	c := mustCreate(t, s, "carol@example.com")
	org := mustCreateOrg(t, s, "Acme", a.ID)
	other := mustCreateOrg(t, s, "Other", c.ID)
	mustAddMembership(t, s, org.ID, b.ID, RoleMember)

	// The only owner cannot step down, and keeping the role is no change.
	for _, role := range []string{RoleAdmin, RoleMember} {
		if err := s.SetMemberRole(ctx, org.ID, a.ID, role); !errors.Is(err, ErrLastOwner) {
			t.Errorf("last owner to %s: %v, want ErrLastOwner", role, err)
		}
	}
	if err := s.SetMemberRole(ctx, org.ID, a.ID, RoleOwner); err != nil {
		t.Errorf("owner to owner: %v, want nil", err)
	}
	// Members go up and down.
	mustSetRole(t, s, org.ID, b.ID, RoleAdmin)
	mustSetRole(t, s, org.ID, b.ID, RoleOwner)
	// Two owners: either may now step down, but not both.
	mustSetRole(t, s, org.ID, a.ID, RoleMember)
	if err := s.SetMemberRole(ctx, org.ID, b.ID, RoleAdmin); !errors.Is(err, ErrLastOwner) {
		t.Errorf("demoting the new last owner: %v, want ErrLastOwner", err)
	}
	if got := mustMemberRole(t, s, org.ID, a.ID) + "," + mustMemberRole(t, s, org.ID, b.ID); got != "member,owner" {
		t.Errorf("roles = %s, want member,owner", got)
	}
	// The owner of another organization does not count.
	if err := s.SetMemberRole(ctx, other.ID, c.ID, RoleMember); !errors.Is(err, ErrLastOwner) {
		t.Errorf("other organization's last owner: %v, want ErrLastOwner", err)
	}

	for _, role := range []string{"", "OWNER", "superuser"} {
		if err := s.SetMemberRole(ctx, org.ID, a.ID, role); !errors.Is(err, ErrInvalidRole) {
			t.Errorf("SetMemberRole(%q) = %v, want ErrInvalidRole", role, err)
		}
	}
	for _, tc := range []struct{ org, account string }{
		{org.ID, c.ID}, {other.ID, a.ID}, {uuid.NewString(), a.ID}, {org.ID, uuid.NewString()},
	} {
		if err := s.SetMemberRole(ctx, tc.org, tc.account, RoleAdmin); !errors.Is(err, ErrNotFound) {
			t.Errorf("SetMemberRole(%s, %s) = %v, want ErrNotFound", tc.org, tc.account, err)
		}
	}
	if n := countRows(t, s, "memberships"); n != 3 {
		t.Errorf("%d memberships, want 3", n)
	}
}

func testOrgRemoveMember(t *testing.T, d driverUnderTest) {
	ctx := context.Background()
	s := newStore(t, d)
	a := mustCreate(t, s, "alice@example.com")
	b := mustCreate(t, s, "bob@example.com")
	c := mustCreate(t, s, "carol@example.com")
	org := mustCreateOrg(t, s, "Acme", a.ID)
	mustAddMembership(t, s, org.ID, b.ID, RoleAdmin)
	mustAddMembership(t, s, org.ID, c.ID, RoleMember)

	if err := s.RemoveMember(ctx, org.ID, a.ID); !errors.Is(err, ErrLastOwner) {
		t.Errorf("removing the last owner: %v, want ErrLastOwner", err)
	}
	if err := s.RemoveMember(ctx, org.ID, c.ID); err != nil {
		t.Fatalf("RemoveMember(member): %v", err)
	}
	if err := s.RemoveMember(ctx, org.ID, c.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("removing again: %v, want ErrNotFound", err)
	}
	if _, err := s.MemberRole(ctx, org.ID, c.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("removed member's role: %v, want ErrNotFound", err)
	}
	if ms := mustMemberships(t, s, c.ID); len(ms) != 0 {
		t.Errorf("removed member's memberships = %v", ms)
	}
	// With a second owner, the first may leave.
	mustSetRole(t, s, org.ID, b.ID, RoleOwner)
	if err := s.RemoveMember(ctx, org.ID, a.ID); err != nil {
		t.Fatalf("removing one of two owners: %v", err)
	}
	if err := s.RemoveMember(ctx, org.ID, b.ID); !errors.Is(err, ErrLastOwner) {
		t.Errorf("removing the remaining owner: %v, want ErrLastOwner", err)
	}
	if err := s.RemoveMember(ctx, uuid.NewString(), b.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("RemoveMember(unknown org) = %v, want ErrNotFound", err)
	}
	if got := mustMembers(t, s, org.ID); len(got) != 1 || got[0].AccountID != b.ID || got[0].Role != RoleOwner {
		t.Errorf("Members = %+v, want bob alone, owner", got)
	}
}

// testOrgLastOwnerConcurrent: two owners demote (or remove) each other at
// the same instant, through two stores (replicas): exactly one succeeds, the
// other hears ErrLastOwner, and one owner remains. Many rounds, so that the
// interleavings vary.
func testOrgLastOwnerConcurrent(t *testing.T, d driverUnderTest) {
	const rounds = 12
	stores := replicas(t, d, 2)
	a := mustCreate(t, stores[0], "alice@example.com")
	b := mustCreate(t, stores[0], "bob@example.com")
	for round := range rounds {
		org := mustCreateOrg(t, stores[0], fmt.Sprint("org", round), a.ID)
		mustAddMembership(t, stores[0], org.ID, b.ID, RoleOwner)
		ops := []func(ctx context.Context) error{
			func(ctx context.Context) error { return stores[0].SetMemberRole(ctx, org.ID, b.ID, RoleMember) },
			func(ctx context.Context) error { return stores[1].SetMemberRole(ctx, org.ID, a.ID, RoleAdmin) },
		}
		switch round % 3 {
		case 1:
			ops[1] = func(ctx context.Context) error { return stores[1].RemoveMember(ctx, org.ID, a.ID) }
		case 2:
			ops[0] = func(ctx context.Context) error { return stores[0].RemoveMember(ctx, org.ID, b.ID) }
			ops[1] = func(ctx context.Context) error { return stores[1].RemoveMember(ctx, org.ID, a.ID) }
		}
		errs := race(ops...)
		ok, lastOwner := 0, 0
		for i, err := range errs {
			switch {
			case err == nil:
				ok++
			case errors.Is(err, ErrLastOwner):
				lastOwner++
			default:
				t.Errorf("round %d op %d: %v, want nil or ErrLastOwner", round, i, err)
			}
		}
		if ok != 1 || lastOwner != 1 {
			t.Errorf("round %d: %d succeeded and %d refused, want 1 and 1 (%v)", round, ok, lastOwner, errs)
		}
		if n := countOwners(t, stores[1], org.ID); n != 1 {
			t.Errorf("round %d: %d owners left, want 1", round, n)
		}
	}
}

// testOrgLastOwnerMany: n owners all stepping down at once: n-1 succeed.
func testOrgLastOwnerMany(t *testing.T, d driverUnderTest) {
	const n = 6
	stores := replicas(t, d, 2)
	ids := make([]string, n)
	for i := range ids {
		ids[i] = mustCreate(t, stores[0], fmt.Sprintf("owner%d@example.com", i)).ID
	}
	org := mustCreateOrg(t, stores[0], "Acme", ids[0])
	for _, id := range ids[1:] {
		mustAddMembership(t, stores[0], org.ID, id, RoleOwner)
	}
	ops := make([]func(context.Context) error, n)
	for i := range ops {
		ops[i] = func(ctx context.Context) error {
			if i%2 == 0 {
				return stores[i%2].RemoveMember(ctx, org.ID, ids[i])
			}
			return stores[i%2].SetMemberRole(ctx, org.ID, ids[i], RoleMember)
		}
	}
	ok := 0
	for i, err := range race(ops...) {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, ErrLastOwner):
			t.Errorf("op %d: %v, want nil or ErrLastOwner", i, err)
		}
	}
	if ok != n-1 {
		t.Errorf("%d of %d owners stepped down, want %d", ok, n, n-1)
	}
	if c := countOwners(t, stores[1], org.ID); c != 1 {
		t.Errorf("%d owners left, want 1", c)
	}
}

// testOrgChurn: role changes and removals in one organization from many
// goroutines and two stores: no deadlock or other error surfaces, and an
// owner always remains.
func testOrgChurn(t *testing.T, d driverUnderTest) {
	const members, workers, steps = 6, 8, 12
	stores := replicas(t, d, 2)
	ids := make([]string, members)
	for i := range ids {
		ids[i] = mustCreate(t, stores[0], fmt.Sprintf("m%d@example.com", i)).ID
	}
	org := mustCreateOrg(t, stores[0], "Acme", ids[0])
	roles := []string{RoleOwner, RoleAdmin, RoleMember}
	for i, id := range ids[1:] {
		mustAddMembership(t, stores[0], org.ID, id, roles[i%3])
	}
	ops := make([]func(context.Context) error, workers)
	for w := range ops {
		ops[w] = func(ctx context.Context) error {
			s := stores[w%2]
			for step := range steps {
				id := ids[(w*7+step*5)%members]
				var err error
				switch (w + step) % 5 {
				case 0:
					err = s.RemoveMember(ctx, org.ID, id)
				case 1:
					err = s.AddMembership(ctx, org.ID, id, RoleMember, time.Time{})
				default:
					err = s.SetMemberRole(ctx, org.ID, id, roles[(w+step)%3])
				}
				if err != nil && !errors.Is(err, ErrLastOwner) && !errors.Is(err, ErrNotFound) {
					return fmt.Errorf("step %d: %w", step, err)
				}
				if c := countOwners(t, s, org.ID); c < 1 {
					return fmt.Errorf("step %d: %d owners", step, c)
				}
			}
			return nil
		}
	}
	for w, err := range race(ops...) {
		if err != nil {
			t.Errorf("worker %d: %v", w, err)
		}
	}
	if c := countOwners(t, stores[0], org.ID); c < 1 {
		t.Errorf("%d owners at the end", c)
	}
}

var invitationExpiry = orgCreatedAt.Add(7 * 24 * time.Hour)

func testInvitationCreateAndRead(t *testing.T, d driverUnderTest) {
	ctx := context.Background()
	s := newStore(t, d)
	a := mustCreate(t, s, "alice@example.com")
	org := mustCreateOrg(t, s, "Acme", a.ID)
	inv := &Invitation{OrganizationID: org.ID, Email: "bob@example.com", Role: RoleAdmin, InvitedBy: a.ID,
		CreatedAt: orgCreatedAt, ExpiresAt: invitationExpiry}
	if err := s.CreateInvitation(ctx, inv, tokenHash("t1")); err != nil {
		t.Fatalf("CreateInvitation: %v", err)
	}
	if _, err := uuid.Parse(inv.ID); err != nil {
		t.Errorf("generated id %q: %v", inv.ID, err)
	}
	if inv.CreatedAt.Location() != time.UTC || inv.ExpiresAt.Location() != time.UTC {
		t.Errorf("times not in UTC: %+v", inv)
	}
	got := mustInvitationByToken(t, s, "t1")
	if *got != *inv {
		t.Errorf("InvitationByToken = %+v, want %+v", *got, *inv)
	}
	if !got.AcceptedAt.IsZero() {
		t.Errorf("AcceptedAt = %v, want zero", got.AcceptedAt)
	}
	for _, h := range [][]byte{tokenHash("t2"), nil, tokenHash("t1")[:16], append(tokenHash("t1"), 0)} {
		if _, err := s.InvitationByToken(ctx, h); !errors.Is(err, ErrNotFound) {
			t.Errorf("InvitationByToken(%x) = %v, want ErrNotFound", h, err)
		}
	}
	// Only the hash is stored.
	var stored []byte
	if err := s.db.queryRow(ctx, "SELECT token_hash FROM invitations WHERE id = $1", []any{inv.ID}, &stored); err != nil {
		t.Fatal(err)
	}
	if string(stored) != string(tokenHash("t1")) {
		t.Errorf("stored token_hash = %x", stored)
	}

	// A given id is kept; a zero CreatedAt is now; no inviter is fine.
	clock := withFakeClock(s)
	inv2 := &Invitation{ID: "inv-2", OrganizationID: org.ID, Email: "carol@example.com", Role: RoleMember,
		ExpiresAt: clock.now().Add(time.Hour)}
	if err := s.CreateInvitation(ctx, inv2, tokenHash("t2")); err != nil {
		t.Fatal(err)
	}
	got = mustInvitationByToken(t, s, "t2")
	if got.ID != "inv-2" || got.InvitedBy != "" || !got.CreatedAt.Equal(clock.now()) {
		t.Errorf("InvitationByToken = %+v, want id inv-2, no inviter, created now", got)
	}
	// The inviter's account deleted: the invitation stays, without inviter.
	b := mustCreate(t, s, "bob@example.com")
	mustInvite(t, s, org.ID, "dave@example.com", RoleMember, "t3", func(i *Invitation) { i.InvitedBy = b.ID })
	if _, err := s.db.exec(ctx, "DELETE FROM accounts WHERE id = $1", b.ID); err != nil {
		t.Fatal(err)
	}
	if got := mustInvitationByToken(t, s, "t3"); got.InvitedBy != "" {
		t.Errorf("InvitedBy = %q after the inviter's deletion, want \"\"", got.InvitedBy)
	}
}

func testInvitationRefuses(t *testing.T, d driverUnderTest) {
	ctx := context.Background()
	s := newStore(t, d)
	a := mustCreate(t, s, "alice@example.com")
	org := mustCreateOrg(t, s, "Acme", a.ID)
	valid := func() *Invitation {
		return &Invitation{OrganizationID: org.ID, Email: "bob@example.com", Role: RoleMember,
			CreatedAt: orgCreatedAt, ExpiresAt: invitationExpiry}
	}
	cases := []struct {
		name   string
		change func(*Invitation)
		hash   []byte
		want   error // nil: any error
	}{
		{"bad role", func(i *Invitation) { i.Role = "boss" }, nil, ErrInvalidRole},
		{"no role", func(i *Invitation) { i.Role = "" }, nil, ErrInvalidRole},
		{"email not normalised", func(i *Invitation) { i.Email = "Bob@Example.COM" }, nil, ErrInvalidEmail},
		{"email invalid", func(i *Invitation) { i.Email = "bob" }, nil, ErrInvalidEmail},
		{"no organization", func(i *Invitation) { i.OrganizationID = "" }, nil, nil},
		{"unknown organization", func(i *Invitation) { i.OrganizationID = uuid.NewString() }, nil, ErrNotFound},
		{"unknown inviter", func(i *Invitation) { i.InvitedBy = uuid.NewString() }, nil, ErrNotFound},
		{"no expiry", func(i *Invitation) { i.ExpiresAt = time.Time{} }, nil, nil},
		{"expiry before creation", func(i *Invitation) { i.ExpiresAt = orgCreatedAt.Add(-time.Second) }, nil, nil},
		{"already accepted", func(i *Invitation) { i.AcceptedAt = orgCreatedAt }, nil, nil},
		{"empty hash", func(*Invitation) {}, []byte{}, nil},
		{"short hash", func(*Invitation) {}, make([]byte, 8), nil},
		{"long hash", func(*Invitation) {}, make([]byte, 65), nil},
	}
	for _, tc := range cases {
		inv := valid()
		tc.change(inv)
		before := *inv
		h := tc.hash
		if h == nil {
			h = tokenHash(tc.name)
		}
		err := s.CreateInvitation(ctx, inv, h)
		if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) {
			t.Errorf("%s: CreateInvitation = %v, want an error (%v)", tc.name, err, tc.want)
		}
		if *inv != before {
			t.Errorf("%s: refused invitation changed to %+v", tc.name, *inv)
		}
	}
	if n := countRows(t, s, "invitations"); n != 0 {
		t.Errorf("%d invitations after refusals, want 0", n)
	}
	if err := s.CreateInvitation(ctx, nil, tokenHash("x")); err == nil {
		t.Error("CreateInvitation(nil) succeeded")
	}
	// A token hash belongs to one invitation.
	mustInvite(t, s, org.ID, "bob@example.com", RoleMember, "same", nil)
	inv := valid()
	inv.Email = "carol@example.com"
	if err := s.CreateInvitation(ctx, inv, tokenHash("same")); err == nil {
		t.Error("a second invitation with the same token hash was stored")
	}
}

// testInvitationReplace: one pending invitation per (organization, email);
// a new one replaces it and the old token dies. Other organizations and
// other addresses are untouched.
func testInvitationReplace(t *testing.T, d driverUnderTest) {
	ctx := context.Background()
	s := newStore(t, d)
	a := mustCreate(t, s, "alice@example.com")
	org := mustCreateOrg(t, s, "Acme", a.ID)
	other := mustCreateOrg(t, s, "Other", a.ID)
	first := mustInvite(t, s, org.ID, "bob@example.com", RoleMember, "old", nil)
	elsewhere := mustInvite(t, s, other.ID, "bob@example.com", RoleMember, "elsewhere", nil)
	carol := mustInvite(t, s, org.ID, "carol@example.com", RoleMember, "carol", nil)

	second := mustInvite(t, s, org.ID, "bob@example.com", RoleAdmin, "new", func(i *Invitation) {
		i.CreatedAt = orgCreatedAt.Add(time.Hour)
		i.ExpiresAt = invitationExpiry.Add(time.Hour)
		i.InvitedBy = a.ID
	})
	if second.ID == first.ID {
		t.Fatalf("replacement kept id %s", first.ID)
	}
	if _, err := s.InvitationByToken(ctx, tokenHash("old")); !errors.Is(err, ErrNotFound) {
		t.Errorf("replaced token: %v, want ErrNotFound", err)
	}
	if got := mustInvitationByToken(t, s, "new"); *got != *second {
		t.Errorf("new invitation = %+v, want %+v", *got, *second)
	}
	if err := s.AcceptInvitation(ctx, first.ID, a.ID, orgCreatedAt); !errors.Is(err, ErrNotFound) {
		t.Errorf("accepting the replaced invitation by id: %v, want ErrNotFound", err)
	}
	pending := mustPending(t, s, org.ID, orgCreatedAt.Add(2*time.Hour))
	if len(pending) != 2 || pending[0] != *second || pending[1] != *carol {
		t.Errorf("PendingInvitations = %+v, want bob's new one and carol's", pending)
	}
	if got := mustInvitationByToken(t, s, "elsewhere"); *got != *elsewhere {
		t.Errorf("the other organization's invitation = %+v, want untouched", got)
	}
	if n := countRows(t, s, "invitations"); n != 3 {
		t.Errorf("%d invitation rows, want 3", n)
	}
	// An expired pending invitation is replaced the same way.
	expired := mustInvite(t, s, org.ID, "dave@example.com", RoleMember, "d1", func(i *Invitation) {
		i.ExpiresAt = orgCreatedAt.Add(time.Minute)
	})
	renewed := mustInvite(t, s, org.ID, "dave@example.com", RoleMember, "d2", nil)
	if _, err := s.InvitationByToken(ctx, tokenHash("d1")); !errors.Is(err, ErrNotFound) || renewed.ID == expired.ID {
		t.Errorf("expired invitation not replaced: %v", err)
	}
}

// testInvitationReplaceConcurrent: invitations of one address racing from
// two stores all succeed and leave exactly one pending, whose token works.
func testInvitationReplaceConcurrent(t *testing.T, d driverUnderTest) {
	const n = 8
	ctx := context.Background()
	stores := replicas(t, d, 2)
	a := mustCreate(t, stores[0], "alice@example.com")
	org := mustCreateOrg(t, stores[0], "Acme", a.ID)
	mustInvite(t, stores[0], org.ID, "bob@example.com", RoleMember, "initial", nil)
	ops := make([]func(context.Context) error, n)
	for i := range ops {
		ops[i] = func(ctx context.Context) error {
			return stores[i%2].CreateInvitation(ctx, &Invitation{OrganizationID: org.ID, Email: "bob@example.com",
				Role: RoleMember, CreatedAt: orgCreatedAt, ExpiresAt: invitationExpiry}, tokenHash(fmt.Sprint("tok", i)))
		}
	}
	for i, err := range race(ops...) {
		if err != nil {
			t.Errorf("invitation %d: %v", i, err)
		}
	}
	pending := mustPending(t, stores[1], org.ID, orgCreatedAt)
	if len(pending) != 1 {
		t.Fatalf("%d pending invitations, want 1: %+v", len(pending), pending)
	}
	found := 0
	for i := range n {
		if inv, err := stores[0].InvitationByToken(ctx, tokenHash(fmt.Sprint("tok", i))); err == nil {
			found++
			if inv.ID != pending[0].ID {
				t.Errorf("token %d finds %s, want the pending %s", i, inv.ID, pending[0].ID)
			}
		}
	}
	if found != 1 {
		t.Errorf("%d tokens still work, want 1", found)
	}
}

func testInvitationPending(t *testing.T, d driverUnderTest) {
	ctx := context.Background()
	s := newStore(t, d)
	a := mustCreate(t, s, "alice@example.com")
	org := mustCreateOrg(t, s, "Acme", a.ID)
	other := mustCreateOrg(t, s, "Other", a.ID)
	now := orgCreatedAt.Add(24 * time.Hour)
	zed := mustInvite(t, s, org.ID, "zed@example.com", RoleMember, "z", nil)
	bob := mustInvite(t, s, org.ID, "amy.b@example.com", RoleAdmin, "b", nil)
	amy := mustInvite(t, s, org.ID, "amy@example.com", RoleOwner, "amy", nil)
	mustInvite(t, s, org.ID, "old@example.com", RoleMember, "old", func(i *Invitation) { i.ExpiresAt = now })
	mustInvite(t, s, other.ID, "else@example.com", RoleMember, "else", nil)
	accepted := mustInvite(t, s, org.ID, "acc@example.com", RoleMember, "acc", nil)
	if err := s.AcceptInvitation(ctx, accepted.ID, a.ID, now); err != nil {
		t.Fatal(err)
	}

	got := mustPending(t, s, org.ID, now)
	want := []Invitation{*bob, *amy, *zed} // by email, as bytes; expired at now and accepted left out
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("PendingInvitations =\n %+v\nwant\n %+v", got, want)
	}
	// A nanosecond earlier, the expiring one is still pending.
	if got := mustPending(t, s, org.ID, now.Add(-time.Nanosecond)); len(got) != 4 {
		t.Errorf("%d pending just before the expiry, want 4", len(got))
	}
	if got := mustPending(t, s, org.ID, invitationExpiry); len(got) != 0 {
		t.Errorf("PendingInvitations at the expiry = %+v, want none", got)
	}
	if got := mustPending(t, s, uuid.NewString(), now); len(got) != 0 {
		t.Errorf("PendingInvitations(unknown org) = %+v, want none", got)
	}
}

func testInvitationAccept(t *testing.T, d driverUnderTest) {
	ctx := context.Background()
	s := newStore(t, d)
	a := mustCreate(t, s, "alice@example.com")
	b := mustCreate(t, s, "bob@example.com")
	org := mustCreateOrg(t, s, "Acme", a.ID)
	inv := mustInvite(t, s, org.ID, "bob@example.com", RoleAdmin, "tok", nil)
	at := orgCreatedAt.Add(time.Hour)

	// An unknown account: nothing happens, the invitation stays pending.
	if err := s.AcceptInvitation(ctx, inv.ID, uuid.NewString(), at); !errors.Is(err, ErrNotFound) {
		t.Errorf("accept by an unknown account: %v, want ErrNotFound", err)
	}
	mustInvitationByToken(t, s, "tok")

	if err := s.AcceptInvitation(ctx, inv.ID, b.ID, at); err != nil {
		t.Fatalf("AcceptInvitation: %v", err)
	}
	if role := mustMemberRole(t, s, org.ID, b.ID); role != RoleAdmin {
		t.Errorf("role after accept = %q, want admin", role)
	}
	members := mustMembers(t, s, org.ID)
	if len(members) != 2 || members[1].AccountID != b.ID || !members[1].Since.Equal(at) {
		t.Errorf("Members = %+v, want bob since %v", members, at)
	}
	if _, err := s.InvitationByToken(ctx, tokenHash("tok")); !errors.Is(err, ErrNotFound) {
		t.Errorf("accepted invitation by token: %v, want ErrNotFound", err)
	}
	var accepted string
	if err := s.db.queryRow(ctx, "SELECT accepted_at FROM invitations WHERE id = $1", []any{inv.ID}, &accepted); err != nil {
		t.Fatal(err)
	}
	if got, _ := decodeTime(accepted); !got.Equal(at) {
		t.Errorf("accepted_at = %q, want %v", accepted, at)
	}
	// Twice: refused, and nothing changes.
	if err := s.AcceptInvitation(ctx, inv.ID, b.ID, at); !errors.Is(err, ErrNotFound) {
		t.Errorf("second accept: %v, want ErrNotFound", err)
	}
	c := mustCreate(t, s, "carol@example.com")
	if err := s.AcceptInvitation(ctx, inv.ID, c.ID, at); !errors.Is(err, ErrNotFound) {
		t.Errorf("accept by another after acceptance: %v, want ErrNotFound", err)
	}
	if _, err := s.MemberRole(ctx, org.ID, c.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("carol joined through a used invitation: %v", err)
	}
	for _, id := range []string{"", uuid.NewString()} {
		if err := s.AcceptInvitation(ctx, id, b.ID, at); !errors.Is(err, ErrNotFound) {
			t.Errorf("AcceptInvitation(%q) = %v, want ErrNotFound", id, err)
		}
	}
	// Once accepted, the address may be invited again (to another role).
	again := mustInvite(t, s, org.ID, "bob@example.com", RoleOwner, "tok2", nil)
	if err := s.AcceptInvitation(ctx, again.ID, b.ID, at.Add(time.Hour)); err != nil {
		t.Fatalf("accepting the second invitation: %v", err)
	}
	if role := mustMemberRole(t, s, org.ID, b.ID); role != RoleOwner {
		t.Errorf("role after the owner invitation = %q, want owner", role)
	}
}

// testInvitationAcceptHigherRole: a member accepting an invitation keeps
// the higher of its role and the invitation's.
func testInvitationAcceptHigherRole(t *testing.T, d driverUnderTest) {
	ctx := context.Background()
	s := newStore(t, d)
	a := mustCreate(t, s, "alice@example.com")
	org := mustCreateOrg(t, s, "Acme", a.ID)
	for i, tc := range []struct{ had, invited, want string }{
		{RoleOwner, RoleMember, RoleOwner},
		{RoleAdmin, RoleMember, RoleAdmin},
		{RoleAdmin, RoleOwner, RoleOwner},
		{RoleMember, RoleAdmin, RoleAdmin},
		{RoleMember, RoleMember, RoleMember},
	} {
		email := fmt.Sprintf("m%d@example.com", i)
		m := mustCreate(t, s, email)
		mustAddMembership(t, s, org.ID, m.ID, tc.had)
		inv := mustInvite(t, s, org.ID, email, tc.invited, email, nil)
		if err := s.AcceptInvitation(ctx, inv.ID, m.ID, orgCreatedAt.Add(time.Hour)); err != nil {
			t.Fatalf("%s accepting %s: %v", tc.had, tc.invited, err)
		}
		if got := mustMemberRole(t, s, org.ID, m.ID); got != tc.want {
			t.Errorf("%s accepting %s: role %q, want %q", tc.had, tc.invited, got, tc.want)
		}
		// The membership's date is the first one.
		for _, mem := range mustMembers(t, s, org.ID) {
			if mem.AccountID == m.ID && !mem.Since.Equal(orgCreatedAt) {
				t.Errorf("%s: Since = %v, want the first membership's %v", email, mem.Since, orgCreatedAt)
			}
		}
	}
}

func testInvitationAcceptExpired(t *testing.T, d driverUnderTest) {
	ctx := context.Background()
	s := newStore(t, d)
	a := mustCreate(t, s, "alice@example.com")
	b := mustCreate(t, s, "bob@example.com")
	org := mustCreateOrg(t, s, "Acme", a.ID)
	inv := mustInvite(t, s, org.ID, "bob@example.com", RoleMember, "tok", nil)
	for _, at := range []time.Time{invitationExpiry, invitationExpiry.Add(time.Nanosecond), invitationExpiry.Add(30 * 24 * time.Hour)} {
		if err := s.AcceptInvitation(ctx, inv.ID, b.ID, at); !errors.Is(err, ErrInvitationExpired) {
			t.Errorf("accept at %v: %v, want ErrInvitationExpired", at, err)
		}
	}
	if _, err := s.MemberRole(ctx, org.ID, b.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("expired invitation made a member: %v", err)
	}
	// Still there (the caller answers 404 from ExpiresAt), and good a
	// nanosecond before its expiry.
	if got := mustInvitationByToken(t, s, "tok"); !got.ExpiresAt.Equal(invitationExpiry) {
		t.Errorf("InvitationByToken = %+v", got)
	}
	if err := s.AcceptInvitation(ctx, inv.ID, b.ID, invitationExpiry.Add(-time.Nanosecond)); err != nil {
		t.Errorf("accept just before the expiry: %v", err)
	}
	// The store's clock decides when no time is given.
	inv2 := mustInvite(t, s, org.ID, "carol@example.com", RoleMember, "tok2", nil)
	c := mustCreate(t, s, "carol@example.com")
	clock := withFakeClock(s)
	clock.advance(invitationExpiry.Sub(clock.now()))
	if err := s.AcceptInvitation(ctx, inv2.ID, c.ID, time.Time{}); !errors.Is(err, ErrInvitationExpired) {
		t.Errorf("accept at the store's now past expiry: %v, want ErrInvitationExpired", err)
	}
}

// testInvitationAcceptConcurrent: one invitation accepted at once by
// several accounts through two stores: exactly one joins.
func testInvitationAcceptConcurrent(t *testing.T, d driverUnderTest) {
	const n = 6
	stores := replicas(t, d, 2)
	a := mustCreate(t, stores[0], "alice@example.com")
	org := mustCreateOrg(t, stores[0], "Acme", a.ID)
	inv := mustInvite(t, stores[0], org.ID, "bob@example.com", RoleAdmin, "tok", nil)
	ids := make([]string, n)
	for i := range ids {
		ids[i] = mustCreate(t, stores[0], fmt.Sprintf("u%d@example.com", i)).ID
	}
	ops := make([]func(context.Context) error, n)
	for i := range ops {
		ops[i] = func(ctx context.Context) error {
			return stores[i%2].AcceptInvitation(ctx, inv.ID, ids[i], orgCreatedAt.Add(time.Hour))
		}
	}
	ok := 0
	for i, err := range race(ops...) {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, ErrNotFound):
			t.Errorf("accept %d: %v, want nil or ErrNotFound", i, err)
		}
	}
	if ok != 1 {
		t.Errorf("%d accepts succeeded, want 1", ok)
	}
	if m := mustMembers(t, stores[1], org.ID); len(m) != 2 {
		t.Errorf("%d members, want alice and one more", len(m))
	}
}

func testOrgCascade(t *testing.T, d driverUnderTest) {
	ctx := context.Background()
	s := newStore(t, d)
	a := mustCreate(t, s, "alice@example.com")
	b := mustCreate(t, s, "bob@example.com")
	org := mustCreateOrg(t, s, "Acme", a.ID)
	keep := mustCreateOrg(t, s, "Keep", a.ID)
	mustAddMembership(t, s, org.ID, b.ID, RoleMember)
	mustAddMembership(t, s, keep.ID, b.ID, RoleMember)
	mustInvite(t, s, org.ID, "carol@example.com", RoleMember, "c", nil)
	mustInvite(t, s, keep.ID, "carol@example.com", RoleMember, "k", nil)
	if _, err := s.db.exec(ctx, "DELETE FROM organizations WHERE id = $1", org.ID); err != nil {
		t.Fatalf("deleting the organization: %v", err)
	}
	if _, err := s.InvitationByToken(ctx, tokenHash("c")); !errors.Is(err, ErrNotFound) {
		t.Errorf("invitation of a deleted organization: %v", err)
	}
	if ms := mustMemberships(t, s, b.ID); len(ms) != 1 || ms[0].OrganizationID != keep.ID {
		t.Errorf("bob's memberships = %+v, want Keep only", ms)
	}
	mustInvitationByToken(t, s, "k")
	// An account's deletion takes its memberships.
	if _, err := s.db.exec(ctx, "DELETE FROM accounts WHERE id = $1", b.ID); err != nil {
		t.Fatal(err)
	}
	if m := mustMembers(t, s, keep.ID); len(m) != 1 || m[0].AccountID != a.ID {
		t.Errorf("Members after bob's deletion = %+v", m)
	}
}

func tokenHash(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

func countOwners(tb testing.TB, s *sqlStore, orgID string) int64 {
	tb.Helper()
	var n int64
	if err := s.db.queryRow(context.Background(), "SELECT COUNT(*) FROM memberships WHERE organization_id = $1 AND role = 'owner'",
		[]any{orgID}, &n); err != nil {
		tb.Errorf("counting owners: %v", err)
		return -1
	}
	return n
}

func mustEncodeTime(tb testing.TB, t time.Time) string {
	tb.Helper()
	s, err := encodeTime(t)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func mustCreateOrg(tb testing.TB, s *sqlStore, name, ownerID string) *Organization {
	tb.Helper()
	org, err := s.CreateOrganization(context.Background(), name, ownerID, orgCreatedAt)
	if err != nil {
		tb.Fatalf("CreateOrganization(%s): %v", name, err)
	}
	return org
}

func mustAddMembership(tb testing.TB, s *sqlStore, orgID, accountID, role string) {
	tb.Helper()
	if err := s.AddMembership(context.Background(), orgID, accountID, role, orgCreatedAt); err != nil {
		tb.Fatalf("AddMembership(%s, %s, %s): %v", orgID, accountID, role, err)
	}
}

func mustSetRole(tb testing.TB, s *sqlStore, orgID, accountID, role string) {
	tb.Helper()
	if err := s.SetMemberRole(context.Background(), orgID, accountID, role); err != nil {
		tb.Fatalf("SetMemberRole(%s, %s): %v", accountID, role, err)
	}
	if got := mustMemberRole(tb, s, orgID, accountID); got != role {
		tb.Fatalf("role after SetMemberRole = %q, want %q", got, role)
	}
}

func mustMemberRole(tb testing.TB, s *sqlStore, orgID, accountID string) string {
	tb.Helper()
	role, err := s.MemberRole(context.Background(), orgID, accountID)
	if err != nil {
		tb.Fatalf("MemberRole(%s, %s): %v", orgID, accountID, err)
	}
	return role
}

func mustMembers(tb testing.TB, s *sqlStore, orgID string) []Member {
	tb.Helper()
	m, err := s.Members(context.Background(), orgID)
	if err != nil {
		tb.Fatalf("Members: %v", err)
	}
	return m
}

func mustMemberships(tb testing.TB, s *sqlStore, accountID string) []Membership {
	tb.Helper()
	m, err := s.Memberships(context.Background(), accountID)
	if err != nil {
		tb.Fatalf("Memberships: %v", err)
	}
	return m
}

// mustInvite invites email with the token's hash, created at orgCreatedAt
// and expiring at invitationExpiry unless change says otherwise.
func mustInvite(tb testing.TB, s *sqlStore, orgID, email, role, token string, change func(*Invitation)) *Invitation {
	tb.Helper()
	inv := &Invitation{OrganizationID: orgID, Email: email, Role: role, CreatedAt: orgCreatedAt, ExpiresAt: invitationExpiry}
	if change != nil {
		change(inv)
	}
	if err := s.CreateInvitation(context.Background(), inv, tokenHash(token)); err != nil {
		tb.Fatalf("CreateInvitation(%s): %v", email, err)
	}
	return inv
}

func mustInvitationByToken(tb testing.TB, s *sqlStore, token string) *Invitation {
	tb.Helper()
	inv, err := s.InvitationByToken(context.Background(), tokenHash(token))
	if err != nil {
		tb.Fatalf("InvitationByToken(%s): %v", token, err)
	}
	return inv
}

func mustPending(tb testing.TB, s *sqlStore, orgID string, now time.Time) []Invitation {
	tb.Helper()
	list, err := s.PendingInvitations(context.Background(), orgID, now)
	if err != nil {
		tb.Fatalf("PendingInvitations: %v", err)
	}
	return list
}
