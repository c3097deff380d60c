package unify

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"

	"unigate/accounts"
	"unigate/accounts/accountstest"
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

// TestDryRun: a dry run reports what the run then does, and writes
// nothing, not even the schema of a store that has none yet.
func TestDryRun(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		d, s, _ := generate(t, unifygen.Options{Dedibox: 150, Scaleway: 100, Malformed: 5, Seed: 3})
		dsn := accountstest.SQLitePath(t)
		if driver == accounts.DriverPostgres {
			dsn = accountstest.PostgresDSN(t)
		}
		dry := func() *Report {
			t.Helper()
			ro, err := accounts.OpenReadOnly(ctx, driver, dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer ro.Close()
			opts := testOptions(d, s)
			opts.DryRun = true
			return mustRun(t, ro.(Store), opts)
		}
		before := dry()
		if driver == accounts.DriverSQLite {
			if _, err := os.Stat(dsn); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("dry run created the database file: %v", err)
			}
		} else if n := countTables(t, dsn); n != 0 {
			t.Errorf("dry run created %d tables", n)
		}

		st := openTestStore(t, driver, dsn)
		real := mustRun(t, st.unify(), testOptions(d, s))
		if diff := sameReport(*before, *real, true); diff != "" {
			t.Errorf("dry run's report differs from the run's:\n%s", diff)
		}
		snapshot := dump(t, st)
		after := dry()
		want := *real
		want.NotificationsQueued = 0
		if diff := sameReport(*after, want, true); diff != "" {
			t.Errorf("dry run after the run:\n%s", diff)
		}
		if got := dump(t, st); got != snapshot {
			t.Errorf("dry run changed the store:\n%s", diffLines(snapshot, got))
		}
		// A read-only store refuses writes outright.
		ro, err := accounts.OpenReadOnly(ctx, driver, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer ro.Close()
		if _, err := ro.(Store).UnifyWrite(ctx, nil); err == nil {
			t.Errorf("UnifyWrite on a read-only store succeeded")
		}
	})
}

func countTables(t *testing.T, dsn string) int {
	t.Helper()
	n := 0
	err := openSQL(t, accounts.DriverPostgres, dsn)(context.Background(),
		`SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema()`,
		func(scan func(...any) error) error { return scan(&n) })
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestStoreConflicts: an account the unification did not make is never
// changed: the records that would join it are refused with the reason, and
// the rest is imported.
func TestStoreConflicts(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		st := newTestStore(t, driver)
		taken := &accounts.Account{Email: "taken@example.com"}
		if err := st.CreateAccount(ctx, taken, []accounts.ConsoleAccount{{Console: "dedibox", ExternalID: "d-owned"}}); err != nil {
			t.Fatal(err)
		}
		d, s := writeExports(t,
			[]string{ded("d1", "taken@example.com"), ded("d-owned", "other@example.com"), ded("d3", "fine@example.com")},
			[]string{scw("s1", "fine2@example.com")})
		rep := mustRun(t, st.unify(), testOptions(d, s))
		want := Report{DediboxRecords: 1, ScalewayRecords: 1, UnifiedAccounts: 2, NotificationsQueued: 2,
			Situations: Situations{NoScalewayAccount: 1},
			Rejected: []Rejection{
				{File: d, Line: 1, Reason: "the unified account's email is already used by account " + taken.ID},
				{File: d, Line: 2, Reason: "dedibox account d-owned already belongs to account " + taken.ID},
			}}
		if diff := sameReport(*rep, want, true); diff != "" {
			t.Errorf("report:\n%s", diff)
		}
		if cas, _ := st.ConsoleAccounts(ctx, taken.ID); len(cas) != 1 {
			t.Errorf("the existing account changed: %+v", cas)
		}
	})
}

// TestChangedInput: a run on other files never changes an account an
// earlier run made; what would change it is refused, the rest imported.
func TestChangedInput(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver string) {
		st := newTestStore(t, driver)
		d, s := writeExports(t, []string{ded("d1", "pam@example.com")}, []string{scw("s1", "quinn@example.com")})
		mustRun(t, st.unify(), testOptions(d, s))
		before := stateOf(t, st, "pam@example.com")

		// d2 has pam's address: with d1 it would make a rule-4 account.
		d, s = writeExports(t, []string{ded("d1", "pam@example.com"), ded("d2", "PAM@example.com"), ded("d3", "rey@example.com")},
			[]string{scw("s1", "quinn@example.com")})
		rep := mustRun(t, st.unify(), testOptions(d, s))
		if rep.NotificationsQueued != 1 || rep.UnifiedAccounts != 2 || len(rep.Rejected) != 2 ||
			!strings.Contains(rep.Rejected[0].Reason, "an earlier run made from other records") {
			t.Errorf("report %+v", rep)
		}
		after := stateOf(t, st, "pam@example.com")
		if after.acct.PasswordHash != before.acct.PasswordHash || len(after.consoles) != len(before.consoles) {
			t.Errorf("the account changed: %+v %+v", after.acct, after.consoles)
		}
	})
}

// TestVerifyFindsDifferences: verify notices a missing record, a stored
// line that is not the file's, and records split across accounts.
func TestVerifyFindsDifferences(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		st := newTestStore(t, driver)
		d, s := writeExports(t,
			[]string{ded("d1", "sam@example.com"), ded("d2", "tess@example.com"), ded("d3", "tess@example.com")},
			[]string{scw("s1", "sam@example.com"), `{"broken`})
		mustRun(t, st.unify(), testOptions(d, s))
		verify := func() *VerifyResult {
			t.Helper()
			res, err := Verify(ctx, st.Store.(RecordSource), VerifyOptions{DediboxPath: d, ScalewayPath: s, SessionKey: testKey})
			if err != nil {
				t.Fatal(err)
			}
			return res
		}
		if res := verify(); res.DifferenceCount != 0 || len(res.Rejected) != 1 || res.OK() {
			t.Fatalf("clean store: %+v, want only the rejected line", res)
		}
		exec := execSQL(t, st)
		exec(`DELETE FROM legacy_records WHERE record_id = 'd1'`)
		exec(`UPDATE legacy_records SET raw_sealed = (SELECT raw_sealed FROM legacy_records WHERE record_id = 'd3') WHERE record_id = 'd2'`)
		res := verify()
		for _, want := range []string{d + ":1: not imported", d + ":2: the stored line cannot be opened",
			"the store holds 2 Dedibox and 1 Scaleway records; the files have 3 and 1 valid ones"} {
			if !slices.ContainsFunc(res.Differences, func(s string) bool { return strings.HasPrefix(s, want) }) {
				t.Errorf("differences %q lack %q", res.Differences, want)
			}
		}
		// A record moved to another account.
		sam := stateOf(t, st, "sam@example.com").acct.ID
		exec(`UPDATE legacy_records SET account_id = '` + sam + `' WHERE record_id = 'd3'`)
		res = verify()
		if !slices.ContainsFunc(res.Differences, func(s string) bool { return strings.Contains(s, "belong to one unified account but are held by") }) ||
			!slices.ContainsFunc(res.Differences, func(s string) bool { return strings.Contains(s, "which belong to different unified accounts") }) {
			t.Errorf("differences %q: want the split and the mix", res.Differences)
		}
		// A file changed since.
		os.WriteFile(s, []byte(scw("s1", "sam@example.com", "extra", 1)+"\n"), 0o600)
		if res := verify(); !slices.ContainsFunc(res.Differences, func(x string) bool { return strings.HasPrefix(x, s+":1: the stored line differs") }) {
			t.Errorf("differences %q: want the changed line", res.Differences)
		}
	})
}

// execSQL runs statements on the store's database directly.
func execSQL(t *testing.T, st *testStore) func(string) {
	return func(q string) {
		t.Helper()
		ctx := context.Background()
		if st.driver == accounts.DriverPostgres {
			conn, err := pgx.Connect(ctx, st.dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close(ctx)
			if _, err := conn.Exec(ctx, q); err != nil {
				t.Fatal(err)
			}
			return
		}
		db, err := sql.Open("sqlite", st.dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
}

// failingStore fails every write after the first n batches.
type failingStore struct {
	Store
	n atomic.Int32
}

func (f *failingStore) UnifyWrite(ctx context.Context, b []accounts.UnifiedAccount) (int, error) {
	if f.n.Add(-1) < 0 {
		return 0, errors.New("database went away")
	}
	return f.Store.UnifyWrite(ctx, b)
}

// TestResume: a run that fails part way, run again, ends as a clean run.
func TestResume(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver string) {
		d, s, exp := generate(t, unifygen.Options{Dedibox: 300, Scaleway: 200, Seed: 11})
		clean := newTestStore(t, driver)
		mustRun(t, clean.unify(), testOptions(d, s))

		st := newTestStore(t, driver)
		queued := 0
		for _, n := range []int32{3, 9} {
			f := &failingStore{Store: st.unify()}
			f.n.Store(n)
			if _, err := Run(context.Background(), f, testOptions(d, s)); err == nil || !strings.Contains(err.Error(), "database went away") {
				t.Fatalf("Run with a failing store: %v", err)
			}
		}
		rep := mustRun(t, st.unify(), testOptions(d, s))
		queued += rep.NotificationsQueued
		if rep.UnifiedAccounts != exp.UnifiedAccounts || queued >= exp.UnifiedAccounts {
			t.Errorf("resumed run: %d accounts, %d notices; want %d accounts, fewer notices (the failed runs queued some)",
				rep.UnifiedAccounts, queued, exp.UnifiedAccounts)
		}
		if got, want := dump(t, st), dump(t, clean); got != want {
			t.Errorf("resumed store differs from a clean run's:\n%s", diffLines(want, got))
		}
	})
}

// lookupCounter counts the lookups and the statistics refreshes.
type lookupCounter struct {
	Store
	lookups, refreshes atomic.Int32
}

func (c *lookupCounter) UnifyLookup(ctx context.Context, q accounts.UnifyQuery) (*accounts.UnifyFound, error) {
	c.lookups.Add(1)
	return c.Store.UnifyLookup(ctx, q)
}

func (c *lookupCounter) UnifyRefreshStats(ctx context.Context) error {
	c.refreshes.Add(1)
	return c.Store.UnifyRefreshStats(ctx)
}

// TestWritesWithoutLookupsUntilARowExists: a first run writes its batches
// without looking up first; a re-run looks every batch up (and writes
// nothing); a run that meets a stored account part way looks that batch up
// and goes back to writing straight away after it. The reports say the
// same as they would otherwise, and every run ends with one statistics
// refresh (the synchronous commit that makes it durable).
func TestWritesWithoutLookupsUntilARowExists(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver string) {
		d, s, exp := generate(t, unifygen.Options{Dedibox: 300, Scaleway: 200, Seed: 5})
		st := newTestStore(t, driver)
		opts := testOptions(d, s)
		opts.Workers = 1 // batches in order: the counts below are exact

		first := &lookupCounter{Store: st.unify()}
		rep := mustRun(t, first, opts)
		if rep.UnifiedAccounts != exp.UnifiedAccounts || first.lookups.Load() != 0 || first.refreshes.Load() != 1 {
			t.Errorf("first run: %d accounts (want %d), %d lookups (want 0), %d refreshes (want 1)",
				rep.UnifiedAccounts, exp.UnifiedAccounts, first.lookups.Load(), first.refreshes.Load())
		}
		batches := (exp.UnifiedAccounts + opts.BatchSize - 1) / opts.BatchSize

		again := &lookupCounter{Store: st.unify()}
		rep = mustRun(t, again, opts)
		if rep.UnifiedAccounts != exp.UnifiedAccounts || rep.NotificationsQueued != 0 || int(again.lookups.Load()) != batches {
			t.Errorf("re-run: %d accounts, %d notices, %d lookups; want %d, 0, one per batch (%d)",
				rep.UnifiedAccounts, rep.NotificationsQueued, again.lookups.Load(), exp.UnifiedAccounts, batches)
		}

		// A store holding one account's email already: its batch is looked
		// up, refuses that account, and the batches after it are written
		// straight away again.
		other := newTestStore(t, driver)
		taken := &accounts.Account{Email: firstEmail(t, d)}
		if err := other.CreateAccount(context.Background(), taken, nil); err != nil {
			t.Fatal(err)
		}
		mixed := &lookupCounter{Store: other.unify()}
		rep = mustRun(t, mixed, opts)
		refused := 0
		for _, r := range rep.Rejected {
			if strings.Contains(r.Reason, "already used by account "+taken.ID) {
				refused++
			}
		}
		if refused == 0 || rep.UnifiedAccounts != exp.UnifiedAccounts-1 || mixed.lookups.Load() < 1 || mixed.lookups.Load() > 2 {
			t.Errorf("one taken email: %d lines refused for it, %d accounts (want %d), %d lookups (want 1 or 2 of %d batches)",
				refused, rep.UnifiedAccounts, exp.UnifiedAccounts-1, mixed.lookups.Load(), batches)
		}
	})
}

// firstEmail is the email of the first valid Dedibox line of path.
func firstEmail(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(data)) {
		if rec, err := ParseDediboxLine([]byte(strings.TrimSuffix(line, "\n"))); err == nil {
			return rec.Email
		}
	}
	t.Fatal("no valid Dedibox line")
	return ""
}
