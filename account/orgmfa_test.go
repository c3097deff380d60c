package account

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestSetMFARule: owners only; a grace of 0 to 30 days; the members see the
// rule and their deadline, and every member's sessions are told (CONTRACT §11).
func TestSetMFARule(t *testing.T) {
	for _, tc := range []struct {
		name, actor string
		days        int
		want        error
	}{
		{"owner", "owner", 7, nil},
		{"owner, no grace", "owner", 0, nil},
		{"owner, 30 days", "owner", 30, nil},
		{"owner, 31 days", "owner", 31, ErrInvalidGraceDays},
		{"owner, negative", "owner", -1, ErrInvalidGraceDays},
		{"admin", "admin", 7, ErrForbidden},
		{"member", "member", 7, ErrForbidden},
		{"outsider", "outsider", 7, ErrNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newOrgsFixture(t)
			ctx := context.Background()
			now := time.Now()
			err := f.orgs.SetMFARule(ctx, f.actors[tc.actor], f.orgID, true, tc.days)
			if !errors.Is(err, tc.want) && !(tc.want == nil && err == nil) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			orgs, lerr := f.orgs.List(ctx, f.actors["member"])
			if lerr != nil || len(orgs) != 1 {
				t.Fatalf("list: %+v %v", orgs, lerr)
			}
			got := orgs[0]
			if tc.want != nil {
				if got.RequireMFA || len(f.watcher.changed) != 0 {
					t.Errorf("a refused rule changed something: %+v, sessions told %v", got, f.watcher.changed)
				}
				return
			}
			if !got.RequireMFA || got.MFAGraceDays != tc.days {
				t.Errorf("member sees %+v, want the rule with %d days", got, tc.days)
			}
			if d := got.MFADeadline.Sub(now.AddDate(0, 0, tc.days)); d < -time.Minute || d > time.Minute {
				t.Errorf("deadline %v, want about %v", got.MFADeadline, now.AddDate(0, 0, tc.days))
			}
			if len(f.watcher.changed) != 3 {
				t.Errorf("sessions told for %v, want the 3 members", f.watcher.changed)
			}
		})
	}
}
