package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"unigate/accounts"
	"unigate/unify"
)

// unify runs "unify" and "unify verify" (CONTRACT §1, §8).
func (c *cli) unify(ctx context.Context, args []string) error {
	if len(args) > 0 && args[0] == "verify" {
		return c.unifyVerify(ctx, args[1:])
	}
	if len(args) > 0 && args[0] == "announce" {
		return c.unifyAnnounce(ctx, args[1:])
	}
	if len(args) > 0 && args[0] == "resend-notice" {
		return c.unifyResendNotice(ctx, args[1:])
	}
	fs := c.flagSet("unify", "--dedibox FILE --scaleway FILE [--dry-run] [--report FILE] [--config FILE]",
		"Unify the Dedibox and Scaleway exports (JSON Lines) into the account store: one unified account\n"+
			"per person, each notified once. Re-running with the same files changes nothing; a run stopped\n"+
			"at any point can be run again. Exit 1 when lines were rejected (the rest is imported).")
	dedibox := fs.String("dedibox", "", "the Dedibox export (`FILE`, JSON Lines)")
	scaleway := fs.String("scaleway", "", "the Scaleway export (`FILE`, JSON Lines)")
	dryRun := fs.Bool("dry-run", false, "report what a run would do, and write nothing")
	reportPath := fs.String("report", "", "write the report (JSON) to `FILE`")
	path := fs.String("config", defaultConfig, "configuration `FILE`")
	if err := c.parse(fs, args); err != nil {
		return err
	}
	if err := checkExports("unify", *dedibox, *scaleway); err != nil {
		return err
	}
	boundHeap(c.getenv)
	cfg, err := c.loadConfig(*path)
	if err != nil {
		return err
	}

	open := accounts.Open
	if *dryRun {
		open = accounts.OpenReadOnly // no migration, no write
	}
	acc, err := open(ctx, cfg.Accounts.Driver, cfg.Accounts.DSN)
	if err != nil {
		return fmt.Errorf("unify: account store: %w", err)
	}
	defer acc.Close()
	store, ok := acc.(unify.Store)
	if !ok {
		return errors.New("unify: the account store cannot import accounts")
	}
	// Two workers: while one prepares a batch the database writes the
	// other's; more only add contention on two cores (measured: three or
	// four were no faster). Large batches make fewer round trips and
	// commits; SQLite's single writer does best with somewhat smaller ones.
	workers, batch := 2, 2000
	if cfg.Accounts.Driver == accounts.DriverSQLite {
		batch = 1000
	}

	start := time.Now()
	rep, err := unify.Run(ctx, store, unify.Options{
		DediboxPath:  *dedibox,
		ScalewayPath: *scaleway,
		DryRun:       *dryRun,
		Cutoff:       cfg.LegacyCutoff(),
		SessionKey:   cfg.SessionKey(),
		SignInURL:    cfg.Public().String() + "/login",
		Progress:     c.stderr,
		Workers:      workers,
		BatchSize:    batch,

		PreviousSessionKeys: cfg.PreviousSessionKeys(), // key rotation
	})
	if err != nil {
		return err
	}
	elapsed := time.Since(start)
	if *reportPath != "" {
		if err := writeFileAtomic(*reportPath, rep.WriteJSON); err != nil {
			return fmt.Errorf("unify: --report: %w", err)
		}
	}
	rep.WriteSummary(c.stdout, *dryRun)
	rep.WriteRejected(c.stderr, maxRejectedListed)
	records := rep.DediboxRecords + rep.ScalewayRecords + len(rep.Rejected)
	fmt.Fprintf(c.stdout, "  %d lines in %s (%.0f lines/s), peak memory %s\n",
		records, elapsed.Round(time.Millisecond), float64(records)/max(elapsed.Seconds(), 1e-3), peakRSS())
	if n := len(rep.Rejected); n > 0 {
		return fmt.Errorf("unify: %d lines rejected, not imported (the rest is)", n)
	}
	return nil
}

// maxRejectedListed is how many rejected lines a run prints on stderr
// before it only counts the rest (CONTRACT §8).
const maxRejectedListed = 100

// unifyVerify runs "unify verify".
func (c *cli) unifyVerify(ctx context.Context, args []string) error {
	fs := c.flagSet("unify verify", "--dedibox FILE --scaleway FILE [--config FILE]",
		"Prove that every record of the exports is accounted for: each valid line imported once, as read,\n"+
			"into the unified account the rules give it. Lists the differences and the rejected lines; exit 1\n"+
			"if there is any.")
	dedibox := fs.String("dedibox", "", "the Dedibox export (`FILE`, JSON Lines)")
	scaleway := fs.String("scaleway", "", "the Scaleway export (`FILE`, JSON Lines)")
	path := fs.String("config", defaultConfig, "configuration `FILE`")
	if err := c.parse(fs, args); err != nil {
		return err
	}
	if err := checkExports("unify verify", *dedibox, *scaleway); err != nil {
		return err
	}
	boundHeap(c.getenv)
	cfg, err := c.loadConfig(*path)
	if err != nil {
		return err
	}
	acc, err := accounts.OpenReadOnly(ctx, cfg.Accounts.Driver, cfg.Accounts.DSN)
	if err != nil {
		return fmt.Errorf("unify verify: account store: %w", err)
	}
	defer acc.Close()
	store, ok := acc.(unify.RecordSource)
	if !ok {
		return errors.New("unify verify: the account store cannot list imported records")
	}
	res, err := unify.Verify(ctx, store, unify.VerifyOptions{
		DediboxPath:  *dedibox,
		ScalewayPath: *scaleway,
		SessionKey:   cfg.SessionKey(),
		Progress:     c.stderr,

		PreviousSessionKeys: cfg.PreviousSessionKeys(), // key rotation
	})
	if err != nil {
		return err
	}
	res.WriteText(c.stdout, 100)
	if !res.OK() {
		return fmt.Errorf("unify verify: %d differences, %d lines not imported", res.DifferenceCount, len(res.Rejected))
	}
	return nil
}

// unifyAnnounce runs "unify announce".
func (c *cli) unifyAnnounce(ctx context.Context, args []string) error {
	fs := c.flagSet("unify announce", "--dedibox FILE --scaleway FILE [--date YYYY-MM-DD] [--dry-run] [--report FILE] [--config FILE]",
		"Before the unification: queue the \"upcoming change\" email for every future unified account,\n"+
			"worded for what the unification will do to it; no account is written. Each person is mailed\n"+
			"once, even across re-runs and changed exports (a person already announced is recognised by any\n"+
			"record they held). The running gateway sends the emails at mail.rate_per_second.")
	dedibox := fs.String("dedibox", "", "the Dedibox export (`FILE`, JSON Lines)")
	scaleway := fs.String("scaleway", "", "the Scaleway export (`FILE`, JSON Lines)")
	date := fs.String("date", "", "the day of the unification, told in the email (`YYYY-MM-DD`)")
	dryRun := fs.Bool("dry-run", false, "report what a run would queue, and queue nothing")
	reportPath := fs.String("report", "", "write the report (JSON) to `FILE`")
	path := fs.String("config", defaultConfig, "configuration `FILE`")
	if err := c.parse(fs, args); err != nil {
		return err
	}
	if err := checkExports("unify announce", *dedibox, *scaleway); err != nil {
		return err
	}
	if *date != "" {
		if _, err := time.Parse(time.DateOnly, *date); err != nil {
			return usageErrorf("unify announce: --date %q: want YYYY-MM-DD", *date)
		}
	}
	boundHeap(c.getenv)
	cfg, err := c.loadConfig(*path)
	if err != nil {
		return err
	}
	open := accounts.Open
	if *dryRun {
		open = accounts.OpenReadOnly // no migration, no write
	}
	acc, err := open(ctx, cfg.Accounts.Driver, cfg.Accounts.DSN)
	if err != nil {
		return fmt.Errorf("unify announce: account store: %w", err)
	}
	defer acc.Close()
	store, ok := acc.(unify.AnnounceStore)
	if !ok {
		return errors.New("unify announce: the account store cannot queue announcements")
	}
	rep, err := unify.Announce(ctx, store, unify.AnnounceOptions{
		DediboxPath:  *dedibox,
		ScalewayPath: *scaleway,
		DryRun:       *dryRun,
		Cutoff:       cfg.LegacyCutoff(),
		Date:         *date,
		Progress:     c.stderr,
	})
	if err != nil {
		return err
	}
	if *reportPath != "" {
		if err := writeFileAtomic(*reportPath, rep.WriteJSON); err != nil {
			return fmt.Errorf("unify announce: --report: %w", err)
		}
	}
	rep.WriteSummary(c.stdout, *dryRun)
	rep.WriteRejected(c.stderr, maxRejectedListed)
	if n := len(rep.Rejected); n > 0 {
		return fmt.Errorf("unify announce: %d lines rejected, not announced (the rest is)", n)
	}
	return nil
}

// unifyHeapLimit is the heap the unification aims to stay under. Its live
// memory is about 100 bytes per record at most (150 MB for 1.6 million);
// without a limit the collector lets the heap grow to twice that before it
// runs.
const unifyHeapLimit = 200 << 20

// boundHeap sets the soft memory limit (runtime/debug.SetMemoryLimit)
// unless the operator set GOMEMLIMIT.
func boundHeap(getenv func(string) string) {
	if getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(unifyHeapLimit)
	}
}

// checkExports refuses missing flags and files that cannot be read: usage
// errors (exit 2), before anything is opened.
func checkExports(cmd, dedibox, scaleway string) error {
	if dedibox == "" || scaleway == "" {
		return usageErrorf("%s: --dedibox and --scaleway are required (run \"unigate %s -h\")", cmd, cmd)
	}
	for _, p := range []string{dedibox, scaleway} {
		f, err := os.Open(p)
		if err != nil {
			return usageErrorf("%s: %v", cmd, err)
		}
		fi, err := f.Stat()
		f.Close()
		if err != nil || !fi.Mode().IsRegular() {
			return usageErrorf("%s: %s: not a regular file", cmd, p)
		}
	}
	return nil
}

// writeFileAtomic writes a file through a temporary one renamed into
// place: a reader never sees half a report.
func writeFileAtomic(path string, write func(w io.Writer) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	w := bufio.NewWriter(tmp)
	if err := errors.Join(write(w), w.Flush(), tmp.Chmod(0o644), tmp.Close()); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// peakRSS is the process's peak resident memory (VmHWM, Linux), or "?".
func peakRSS() string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "?"
	}
	for line := range bytes.Lines(b) {
		if rest, ok := bytes.CutPrefix(line, []byte("VmHWM:")); ok {
			kb, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(string(rest)), " kB"))
			if err != nil {
				return "?"
			}
			return fmt.Sprintf("%d MiB", kb>>10)
		}
	}
	return "?"
}
