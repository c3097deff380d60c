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
	rep, err := Run(ctx, &announcingStore{st.(Store)}, opts)
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
		child := func() *exec.Cmd {
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), crashChildEnv+"=1", "UNIFY_DRIVER="+driver, "UNIFY_DSN="+st.dsn,
				"UNIFY_DEDIBOX="+d, "UNIFY_SCALEWAY="+s)
			return cmd
		}
		killed := 0
		for i := range 4 {
			cmd := child()
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			// Kill after a few batches were written, at a random moment
			// after the last one (other batches are in flight then), or,
			// once in a while, before any (while the files are read).
			after := rng.IntN(6)
			lines := bufio.NewScanner(stdout)
			for n := 0; n < after && lines.Scan(); n++ {
			}
			time.Sleep(time.Duration(rng.IntN(30)) * time.Millisecond)
			if err := cmd.Process.Signal(syscall.SIGKILL); err == nil {
				killed++
			}
			go io.Copy(io.Discard, stdout)
			err = cmd.Wait()
			t.Logf("run %d killed after %d batches: %v", i+1, after, err)
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
