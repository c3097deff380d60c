package unify

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"unigate/accounts"
	"unigate/accounts/accountstest"
	"unigate/unify/unifygen"
)

// The crash test runs the unification in a child process (this test
// binary again, told so by the environment) and kills it with SIGKILL.
const crashChildEnv = "UNIFY_CRASH_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(crashChildEnv) == "1" {
		os.Exit(crashChild())
	}
	os.Exit(m.Run())
}

// crashChild is the child's whole program: one run, exit 0 (or 1 with lines
// rejected, 3 on failure).
func crashChild() int {
	ctx := context.Background()
	st, err := accounts.Open(ctx, os.Getenv("UNIFY_DRIVER"), os.Getenv("UNIFY_DSN"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	defer st.Close()
	opts := testOptions(os.Getenv("UNIFY_DEDIBOX"), os.Getenv("UNIFY_SCALEWAY"))
	opts.Workers, opts.BatchSize = 3, 8
	var store Store = &announcingStore{st.(Store)}
	if os.Getenv(crashLoadEnv) == "1" {
		store = &announcingLoader{st.(Store)}
	}
	rep, err := Run(ctx, store, opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	if len(rep.Rejected) > 0 {
		return 1
	}
	return 0
}

// announcingStore prints a line on stdout after each batch written, so that
// the parent can kill the child while it writes.
type announcingStore struct{ Store }

func (a *announcingStore) UnifyWrite(ctx context.Context, b []accounts.UnifiedAccount) (int, error) {
	n, err := a.Store.UnifyWrite(ctx, b)
	if err == nil {
		fmt.Println("written")
	}
	return n, err
}

// TestCrashAnywhere: a run killed with SIGKILL at random moments, several
// times, then run to its end, leaves exactly the store of an uninterrupted
// run (CONTRACT §8 rule 7), each notice queued once, and verify passes.
func TestCrashAnywhere(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	forEachDriver(t, func(t *testing.T, driver string) {
		d, s, exp := generate(t, unifygen.Options{Dedibox: 500, Scaleway: 300, Malformed: 4, Seed: 99})
		clean := newTestStore(t, driver)
		mustRun(t, clean.unify(), testOptions(d, s))

		st := newTestStore(t, driver) // migrated: the children share it
		rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
		child := func() *exec.Cmd { return childCommand(driver, st.dsn, d, s, false) }
		killed := 0
		for i := range 4 {
			// Kill after a few batches were written, at a random moment
			// after the last one (other batches are in flight then), or,
			// once in a while, before any (while the files are read).
			after := rng.IntN(6)
			_, ok := killAfter(t, child(), after, time.Duration(rng.IntN(30))*time.Millisecond)
			if ok {
				killed++
			}
			t.Logf("run %d killed after %d batches: %v", i+1, after, ok)
		}
		cmd := child()
		out, err := cmd.CombinedOutput()
		if code := cmd.ProcessState.ExitCode(); code != 1 { // 1: the malformed lines
			t.Fatalf("final run: exit %d (%v), want 1:\n%s", code, err, out)
		}
		if killed == 0 {
			t.Errorf("no run was killed")
		}

		if got, want := dump(t, st), dump(t, clean); got != want {
			t.Errorf("store after crashes differs from an uninterrupted run's:\n%s", diffLines(want, got))
		}
		res, err := Verify(context.Background(), st.Store.(RecordSource), VerifyOptions{DediboxPath: d, ScalewayPath: s, SessionKey: testKey})
		if err != nil {
			t.Fatal(err)
		}
		if res.DifferenceCount != 0 || res.StoredAccounts != exp.UnifiedAccounts || len(res.Rejected) != len(exp.Rejected) {
			t.Errorf("verify: %d differences %q, %d accounts (want %d), %d rejected (want %d)",
				res.DifferenceCount, res.Differences, res.StoredAccounts, exp.UnifiedAccounts, len(res.Rejected), len(exp.Rejected))
		}
		// One notice per account, whatever the kills: the outbox keys are
		// the accounts'.
		if n := countRows(t, st, "outbox"); n != exp.UnifiedAccounts {
			t.Errorf("%d notices queued, want %d", n, exp.UnifiedAccounts)
		}
	})
}

func countRows(t *testing.T, st *testStore, table string) int {
	t.Helper()
	n := 0
	err := openSQL(t, st.driver, st.dsn)(context.Background(), "SELECT COUNT(*) FROM "+table,
		func(scan func(...any) error) error { return scan(&n) })
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// batchesOnly hides the store's Loader: Run writes in batches.
type batchesOnly struct{ Store }

// loadCounter counts the loads a store starts.
type loadCounter struct {
	Store
	loads int
}

func (c *loadCounter) UnifyBeginLoad(ctx context.Context) (accounts.UnifyLoad, error) {
	l, err := c.Store.(Loader).UnifyBeginLoad(ctx)
	if l != nil {
		c.loads++
	}
	return l, err
}

// announcingLoader is announcingStore for a run that loads.
type announcingLoader struct{ Store }

func (a *announcingLoader) UnifyBeginLoad(ctx context.Context) (accounts.UnifyLoad, error) {
	l, err := a.Store.(Loader).UnifyBeginLoad(ctx)
	if l == nil || err != nil {
		return l, err
	}
	return announcingLoad{l}, nil
}

type announcingLoad struct{ accounts.UnifyLoad }

func (a announcingLoad) Write(ctx context.Context, b []accounts.UnifiedAccount) (int, error) {
	n, err := a.UnifyLoad.Write(ctx, b)
	if err == nil {
		fmt.Println("written")
	}
	return n, err
}

// TestLoadAndBatchesAgree: a first run into an empty PostgreSQL store
// loads in one transaction; the store and the report it ends with are
// those of a run writing in batches.
func TestLoadAndBatchesAgree(t *testing.T) {
	d, s, exp := generate(t, unifygen.Options{Dedibox: 600, Scaleway: 400, Malformed: 3, Seed: 7})
	loaded, batched := newTestStore(t, accounts.DriverPostgres), newTestStore(t, accounts.DriverPostgres)
	counter := &loadCounter{Store: loaded.unify()}
	repLoaded := mustRun(t, counter, testOptions(d, s))
	repBatched := mustRun(t, batchesOnly{batched.unify()}, testOptions(d, s))
	if counter.loads != 1 {
		t.Fatalf("%d loads, want 1", counter.loads)
	}
	if diff := sameReport(*repLoaded, *repBatched, true); diff != "" {
		t.Errorf("the load's report differs from the batches':\n%s", diff)
	}
	if diff := sameReport(*repLoaded, expectedReport(exp, d, s), false); diff != "" {
		t.Errorf("the load's report differs from the generator's:\n%s", diff)
	}
	if got, want := dump(t, loaded), dump(t, batched); got != want {
		t.Errorf("store after a load differs from the batches':\n%s", diffLines(want, got))
	}
	// A re-run finds everything, loads nothing and changes nothing.
	rep := mustRun(t, counter, testOptions(d, s))
	if counter.loads != 1 || rep.NotificationsQueued != 0 || rep.UnifiedAccounts != exp.UnifiedAccounts {
		t.Errorf("re-run: %d loads, %d queued, %d accounts", counter.loads, rep.NotificationsQueued, rep.UnifiedAccounts)
	}
	if got, want := dump(t, loaded), dump(t, batched); got != want {
		t.Errorf("store after a re-run differs:\n%s", diffLines(want, got))
	}
}

// TestCrashDuringLoad: a load killed with SIGKILL leaves nothing behind
// (not even its dropped keys: the next run finds an empty store with the
// schema the migrations made, and loads again), and the run that finishes
// ends as an uninterrupted one.
func TestCrashDuringLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	d, s, _ := generate(t, unifygen.Options{Dedibox: 500, Scaleway: 300, Malformed: 4, Seed: 98})
	clean := newTestStore(t, accounts.DriverPostgres)
	mustRun(t, batchesOnly{clean.unify()}, testOptions(d, s))

	st := newTestStore(t, accounts.DriverPostgres)
	fresh := newTestStore(t, accounts.DriverPostgres)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 2))
	child := func() *exec.Cmd { return childCommand(accounts.DriverPostgres, st.dsn, d, s, true) }
	for i := range 3 {
		after := 1 + rng.IntN(20)
		n, killed := killAfter(t, child(), after, time.Duration(rng.IntN(10))*time.Millisecond)
		if n < after || !killed {
			t.Fatalf("run %d ended after %d batches, before the kill", i+1, n)
		}
		// Counted once the server has seen the connection close and
		// rolled back (until then the load's locks hold), within 30 s.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		left := 0
		err := openSQL(t, st.driver, st.dsn)(ctx, "SELECT count(*) FROM accounts",
			func(scan func(...any) error) error { return scan(&left) })
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		if left != 0 {
			t.Fatalf("run %d killed after %d batches left %d accounts", i+1, after, left)
		}
		if got, want := accountstest.PostgresSchema(t, st.dsn), accountstest.PostgresSchema(t, fresh.dsn); got != want {
			t.Fatalf("schema after run %d was killed differs:\n%s", i+1, diffLines(want, got))
		}
	}
	cmd := child()
	out, err := cmd.CombinedOutput()
	if code := cmd.ProcessState.ExitCode(); code != 1 { // 1: the malformed lines
		t.Fatalf("final run: exit %d (%v), want 1:\n%s", code, err, out)
	}
	if got, want := dump(t, st), dump(t, clean); got != want {
		t.Errorf("store after killed loads differs from an uninterrupted run's:\n%s", diffLines(want, got))
	}
	if got, want := accountstest.PostgresSchema(t, st.dsn), accountstest.PostgresSchema(t, fresh.dsn); got != want {
		t.Errorf("schema after the load differs:\n%s", diffLines(want, got))
	}
}

// childCommand runs crashChild on the store at dsn, with the exports at
// dedibox and scaleway; with load, the run may load (see Loader) and
// announces the batches of the load.
func childCommand(driver, dsn, dedibox, scaleway string, load bool) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashChildEnv+"=1", "UNIFY_DRIVER="+driver, "UNIFY_DSN="+dsn,
		"UNIFY_DEDIBOX="+dedibox, "UNIFY_SCALEWAY="+scaleway)
	if load {
		cmd.Env = append(cmd.Env, crashLoadEnv+"=1")
	}
	return cmd
}

// killAfter starts cmd, reads the batches it announces until after of them
// (fewer if it ends first), waits pause, kills it with SIGKILL and waits for
// it. It returns the batches read and whether the kill found it running.
func killAfter(t *testing.T, cmd *exec.Cmd, after int, pause time.Duration) (batches int, killed bool) {
	t.Helper()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(stdout)
	for batches < after && lines.Scan() {
		batches++
	}
	time.Sleep(pause)
	killed = cmd.Process.Signal(syscall.SIGKILL) == nil
	go io.Copy(io.Discard, stdout)
	cmd.Wait()
	return batches, killed
}

// crashLoadEnv has the crash child announce the batches of a load.
const crashLoadEnv = "UNIFY_CRASH_LOAD"
