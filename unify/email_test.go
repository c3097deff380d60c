package unify

import (
	"strings"
	"testing"

	"unigate/accounts"
)

// TestUnaddressableEmailIsARejectedLine (issue 16, finding 4): one Dedibox
// line whose email the mailer cannot use ("john,doe@…" is a list of two
// recipients to it) is a rejected line with its file, line and reason; the
// other lines are imported and notified, and a re-run finds them done
// (CONTRACT §8 rule 7). It used to fail the whole run, and every re-run.
func TestUnaddressableEmailIsARejectedLine(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver string) {
		st := newTestStore(t, driver)
		d, s := writeExports(t,
			[]string{ded("d1", "ann@example.com"), ded("d2", "john,doe@example.com"), ded("d3", "bob@example.com"),
				ded("d4", "victim<attacker@evil.test>")},
			[]string{scw("s1", "cid@example.com")})
		rep := mustRun(t, st.unify(), testOptions(d, s))
		want := Report{DediboxRecords: 2, ScalewayRecords: 1, UnifiedAccounts: 3, NotificationsQueued: 3,
			Situations: Situations{NoScalewayAccount: 2},
			Rejected:   []Rejection{{File: d, Line: 2}, {File: d, Line: 4}}}
		if diff := sameReport(*rep, want, false); diff != "" {
			t.Fatalf("report:\n%s", diff)
		}
		for _, rj := range rep.Rejected {
			if !strings.Contains(rj.Reason, "invalid email") {
				t.Errorf("line %d: reason %q, want it to say the email is invalid", rj.Line, rj.Reason)
			}
		}
		for _, email := range []string{"ann@example.com", "bob@example.com", "cid@example.com"} {
			if s := stateOf(t, st, email); s.acct == nil {
				t.Errorf("%s: not imported", email)
			}
		}

		again := mustRun(t, st.unify(), testOptions(d, s))
		want.NotificationsQueued = 0
		if diff := sameReport(*again, want, false); diff != "" {
			t.Errorf("re-run's report:\n%s", diff)
		}
	})
}

// TestUnaddressableNoticeIsRefused: should a plan's email ever be one the
// mailer refuses, its records are refused with the reason and the rest of
// the batch goes on, rather than its notice failing the run.
func TestUnaddressableNoticeIsRefused(t *testing.T) {
	good := &plan{account: accounts.Account{Email: "ann@example.com"}}
	bad := &plan{account: accounts.Account{Email: "victim<attacker@evil.test>"}}
	kept, refused := addressable([]*plan{good, bad})
	if len(kept) != 1 || kept[0] != good {
		t.Errorf("kept %d plans, want only the addressable one", len(kept))
	}
	if reason := refused[bad]; !strings.Contains(reason, "invalid email") || len(refused) != 1 {
		t.Errorf("refused = %v, want the unaddressable plan with a reason", refused)
	}
	if kept, refused := addressable([]*plan{good}); len(kept) != 1 || refused != nil {
		t.Errorf("an addressable batch: kept %d, refused %v", len(kept), refused)
	}
}
