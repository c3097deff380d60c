package unify

import (
	"context"
	"testing"

	"unigate/unify/unifygen"
)

// TestReportMatchesGenerator: on generated exports with every situation in
// known proportions and refused lines of every kind, the report says what
// the generator made; a second run writes nothing and queues nothing; the
// store is then what verify expects.
func TestReportMatchesGenerator(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver string) {
		d, s, exp := generate(t, unifygen.Options{Dedibox: 600, Scaleway: 400, Malformed: 26, Seed: 7})
		st := newTestStore(t, driver)
		rep := mustRun(t, st.unify(), testOptions(d, s))
		want := expectedReport(exp, d, s)
		if diff := sameReport(*rep, want, false); diff != "" {
			t.Errorf("report:\n%s", diff)
		}
		first := dump(t, st)

		again := mustRun(t, st.unify(), testOptions(d, s))
		wantAgain := *rep
		wantAgain.NotificationsQueued = 0
		if diff := sameReport(*again, wantAgain, true); diff != "" {
			t.Errorf("second run's report (want the first's, without notifications):\n%s", diff)
		}
		if second := dump(t, st); second != first {
			t.Errorf("a second run changed the store:\n%s", diffLines(first, second))
		}

		res, err := Verify(context.Background(), st.Store.(RecordSource), VerifyOptions{DediboxPath: d, ScalewayPath: s, SessionKey: testKey})
		if err != nil {
			t.Fatal(err)
		}
		if res.DifferenceCount != 0 || len(res.Rejected) != len(exp.Rejected) {
			t.Errorf("verify: %d differences %q, %d rejected (want %d)", res.DifferenceCount, res.Differences, len(res.Rejected), len(exp.Rejected))
		}
		if res.UnifiedAccounts != exp.UnifiedAccounts || res.StoredAccounts != exp.UnifiedAccounts {
			t.Errorf("verify: %d unified accounts, %d stored; want %d", res.UnifiedAccounts, res.StoredAccounts, exp.UnifiedAccounts)
		}
	})
}
