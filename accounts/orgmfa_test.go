package accounts

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
)

// The organization MFA rule (CONTRACT §11) on both drivers.
func TestOrgMFARule(t *testing.T) {
	runSuite(t, []suiteTest{{"SetOrganizationMFA", testOrgMFARule}})
}

func testOrgMFARule(t *testing.T, d driverUnderTest) {
	ctx := context.Background()
	s := newStore(t, d)
	a := mustCreate(t, s, "alice@example.com")
	org := mustCreateOrg(t, s, "Acme", a.ID)
	membership := func() Membership {
		t.Helper()
		for _, m := range mustMemberships(t, s, a.ID) {
			if m.OrganizationID == org.ID {
				return m
			}
		}
		t.Fatal("no membership")
		return Membership{}
	}
	m := membership()
	if m.RequireMFA || !m.MFARequiredAt.IsZero() || !m.MFADeadline().IsZero() || m.JoinedAt.IsZero() {
		t.Fatalf("a new organization: %+v, want no rule and a joining time", m)
	}
	on := m.JoinedAt.Add(48 * time.Hour).Truncate(time.Second)
	if err := s.SetOrganizationMFA(ctx, org.ID, true, 7, on); err != nil {
		t.Fatal(err)
	}
	m = membership()
	if !m.RequireMFA || m.MFAGraceDays != 7 || !m.MFARequiredAt.Equal(on) || !m.MFADeadline().Equal(on.AddDate(0, 0, 7)) {
		t.Fatalf("rule on: %+v, deadline %v; want from %v for 7 days", m, m.MFADeadline(), on)
	}
	// A new grace keeps the rule's start: an owner cannot restart it.
	if err := s.SetOrganizationMFA(ctx, org.ID, true, 3, on.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if m = membership(); m.MFAGraceDays != 3 || !m.MFARequiredAt.Equal(on) {
		t.Errorf("grace changed: %+v, want 3 days from %v", m, on)
	}
	// Off, then on again: the grace starts again.
	if err := s.SetOrganizationMFA(ctx, org.ID, false, 0, on.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if m = membership(); m.RequireMFA || !m.MFARequiredAt.IsZero() {
		t.Errorf("rule off: %+v", m)
	}
	again := on.Add(3 * time.Hour)
	if err := s.SetOrganizationMFA(ctx, org.ID, true, 0, again); err != nil {
		t.Fatal(err)
	}
	if m = membership(); !m.MFARequiredAt.Equal(again) || !m.MFADeadline().Equal(again) {
		t.Errorf("rule on again: %+v", m)
	}
	if err := s.SetOrganizationMFA(ctx, uuid.NewString(), true, 1, on); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown organization: %v, want ErrNotFound", err)
	}
	for _, days := range []int{-1, MaxMFAGraceDays + 1} {
		if err := s.SetOrganizationMFA(ctx, org.ID, true, days, on); err == nil {
			t.Errorf("grace of %d days accepted", days)
		}
	}
}

func TestMFADeadlineIsTheLaterStart(t *testing.T) {
	rule := time.Date(2026, 1, 10, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name   string
		joined time.Time
		want   time.Time
	}{
		{"joined before the rule", rule.AddDate(0, -1, 0), rule.AddDate(0, 0, 14)},
		{"joined after the rule", rule.AddDate(0, 0, 5), rule.AddDate(0, 0, 19)},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := Membership{RequireMFA: true, MFAGraceDays: 14, MFARequiredAt: rule, JoinedAt: c.joined}
			if got := m.MFADeadline(); !got.Equal(c.want) {
				t.Errorf("got %v, want %v", got, c.want)
			}
		})
	}
}
