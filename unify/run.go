package unify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"unigate/accounts"
	"unigate/mail"
)

// Options configures Run.
type Options struct {
	DediboxPath, ScalewayPath string
	// DryRun computes the report of a real run against the store as it is,
	// and writes nothing.
	DryRun bool
	// Cutoff is login.legacy_login_cutoff at 00:00 UTC: a Dedibox account
	// linked before it is prelinked (rule 5). Zero: none is.
	Cutoff time.Time
	// SessionKey seals the TOTP secrets carried over (as the gateway opens
	// them) and the stored source lines. Required.
	SessionKey []byte
	// PreviousSessionKeys open the lines stored under a rotated-out session
	// key (secrets.previous_session_key_files, CONTRACT §12).
	PreviousSessionKeys [][]byte
	// SignInURL is the address notifications point to; "" leaves it out.
	SignInURL string
	// Progress receives a progress line every ProgressEvery (2s when zero,
	// at least 1s); nil for none.
	Progress      io.Writer
	ProgressEvery time.Duration
	// Workers is how many batches are looked up, prepared and written at
	// once; 4 when zero. BatchSize is how many accounts one transaction
	// writes; 250 when zero.
	Workers   int
	BatchSize int
}

// Loader is what a store may offer besides Store: a first unification
// into an empty store in one transaction (accounts.UnifyLoad), much faster
// than batches when the store would otherwise maintain its indexes row by
// row. UnifyBeginLoad returns nil when the store cannot take one now; Run
// then writes in batches.
type Loader interface {
	UnifyBeginLoad(ctx context.Context) (accounts.UnifyLoad, error)
}

// Store is what Run needs of the account store (package accounts).
type Store interface {
	UnifyLookup(ctx context.Context, q accounts.UnifyQuery) (*accounts.UnifyFound, error)
	UnifyWrite(ctx context.Context, batch []accounts.UnifiedAccount) (queued int, err error)
	// UnifyRefreshStats updates the statistics the database plans the
	// lookups with, and makes the writes before it durable; Run calls it as
	// the store grows, and last.
	UnifyRefreshStats(ctx context.Context) error
}

// Run unifies the two exports into store (CONTRACT §8) and reports what it
// did. A refused line is in the report, not an error: the rest is imported.
//
// Run is idempotent and restartable. Every id it writes derives from the
// records (rules.go), and each transaction writes whole accounts with their
// console accounts, second factors, memberships, source lines and
// notification. So a run that stopped at any point (killed, a database
// outage) leaves whole accounts only, and running again with the same files
// finds those, writes the others, and ends as one uninterrupted run would
// have; a finished run run again writes nothing and queues no notification.
// Into a store that can take it (an empty PostgreSQL store, see Loader)
// the whole run is one transaction instead: killed, it leaves nothing.
func Run(ctx context.Context, store Store, opts Options) (*Report, error) {
	if err := opts.check(); err != nil {
		return nil, err
	}
	seal, err := newSealers(opts.SessionKey, opts.PreviousSessionKeys...)
	if err != nil {
		return nil, err
	}
	prog := newProgress(opts.Progress, opts.ProgressEvery)
	defer prog.stop()

	ix, err := buildIndex(ctx, opts.DediboxPath, opts.ScalewayPath, prog)
	if err != nil {
		return nil, fmt.Errorf("unify: %w", err)
	}
	ix.compact()

	r := &runner{opts: opts, store: store, ix: ix, seal: seal, prog: prog, nextStats: firstStatsRefresh}
	if loader, ok := store.(Loader); ok && !opts.DryRun {
		// After the reading phase: the load locks the tables until it
		// commits.
		load, err := loader.UnifyBeginLoad(ctx)
		if errors.Is(err, accounts.ErrLoadUnavailable) {
			r.warn(fmt.Errorf("%w; writing in batches", err))
		} else if err != nil {
			return nil, fmt.Errorf("unify: %w", err)
		}
		if load != nil {
			r.load = load
			defer load.Abort()
		}
	}
	prog.phase("writing", "records", int64(len(ix.groups.members)))
	if err := r.run(ctx); err != nil {
		return nil, err
	}
	rep := r.report
	rep.Rejected = append(ix.rejected, rep.Rejected...)
	sortRejections(rep.Rejected, ix.files)
	return &rep, nil
}

func (o *Options) check() error {
	switch {
	case o.DediboxPath == "" || o.ScalewayPath == "":
		return errors.New("unify: both export files are required")
	case len(o.SessionKey) == 0:
		return errors.New("unify: a session key is required")
	case o.Workers < 0 || o.BatchSize < 0:
		return errors.New("unify: negative Workers or BatchSize")
	}
	if o.Workers == 0 {
		o.Workers = 4
	}
	if o.BatchSize == 0 {
		o.BatchSize = 250
	}
	return nil
}

// runner is the second pass: it reads each group's lines back, applies the
// rules, and has workers write the accounts in batches.
type runner struct {
	opts  Options
	store Store
	ix    *index
	seal  *sealers
	prog  *progress

	mu     sync.Mutex
	report Report
	// nextStats is the number of accounts written at which the store's
	// statistics are refreshed next (see refreshStats).
	nextStats int
	written   int // accounts written by this run
	// load, when set, takes every batch (see Loader): the store was empty,
	// and nothing is looked up.
	load accounts.UnifyLoad
	// sawStored is set while the batches find rows already stored (a
	// re-run, the part a resumed run had done): they are looked up before
	// they are written (see process).
	sawStored atomic.Bool
}

// firstStatsRefresh is when the statistics are first refreshed; each next
// refresh comes when the written accounts have quadrupled: a handful of
// refreshes for any size of run.
const firstStatsRefresh = 2000

func (r *runner) run(ctx context.Context) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var files [2]*os.File
	for i, path := range r.ix.files {
		f, err := os.Open(path)
		if err != nil {
			return fmt.Errorf("unify: %w", err)
		}
		defer f.Close()
		files[i] = f
	}
	batches := make(chan groupRange, r.opts.Workers)
	var wg sync.WaitGroup
	for range r.opts.Workers {
		wg.Go(func() {
			for b := range batches {
				if ctx.Err() != nil {
					continue // drain
				}
				plans, err := r.plans(files, b)
				if err == nil {
					err = r.process(ctx, plans)
				}
				if err != nil {
					cancel(err)
				}
			}
		})
	}
	err := r.produce(ctx, batches)
	close(batches)
	wg.Wait()
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
		return cause
	}
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if r.opts.DryRun {
		return nil
	}
	if r.load != nil {
		r.prog.phase("building indexes and checking keys", "", 0)
		err = r.load.Finish(ctx)
	} else {
		// Last, fresh statistics for the gateway's queries on the grown
		// tables, and a synchronous commit: every batch written is durable
		// once Run returns (see accounts.UnifyWrite).
		err = r.store.UnifyRefreshStats(ctx)
	}
	if errors.Is(err, accounts.ErrStatsNotRefreshed) {
		r.warn(err)
		err = nil
	}
	if err != nil {
		return fmt.Errorf("unify: %w", err)
	}
	return nil
}

// warn shows a problem that slows the run but changes nothing of its
// result on the progress output, when there is one.
func (r *runner) warn(err error) {
	if r.opts.Progress != nil {
		fmt.Fprintf(r.opts.Progress, "unify: %v (the run goes on)\n", err)
	}
}

// groupRange is a batch: the groups numbered start to end-1.
type groupRange struct{ start, end int }

// produce sends the groups in order, in batches. The workers read and
// parse them: the second reading of the files is most of the Go side's
// work, and done here it would keep one goroutine busy while the others
// wait.
func (r *runner) produce(ctx context.Context, batches chan<- groupRange) error {
	count := r.ix.groups.count()
	for start := 0; start < count; start += r.opts.BatchSize {
		select {
		case batches <- groupRange{start, min(start+r.opts.BatchSize, count)}:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// plans reads the batch's groups and applies the rules to each.
func (r *runner) plans(files [2]*os.File, b groupRange) ([]*plan, error) {
	plans := make([]*plan, 0, b.end-b.start)
	for n := b.start; n < b.end; n++ {
		grp, err := r.readGroup(files, r.ix.groups.nodesOf(n))
		if err != nil {
			return nil, err
		}
		plans = append(plans, planAccount(grp, r.opts.Cutoff))
	}
	return plans, nil
}

// readGroup reads and parses the lines of one group's records.
func (r *runner) readGroup(files [2]*os.File, nodes []uint32) (*accountGroup, error) {
	grp := &accountGroup{}
	for _, node := range nodes {
		file, i := r.ix.groups.record(node)
		loc := r.ix.locs[file].at(i)
		raw := make([]byte, loc.size)
		if _, err := files[file].ReadAt(raw, loc.off); err != nil {
			return nil, fmt.Errorf("unify: %s: line %d: %w", r.ix.files[file], loc.line, err)
		}
		changed := func() error {
			return fmt.Errorf("unify: %s changed during the run (line %d is no longer what was read)", r.ix.files[file], loc.line)
		}
		if lineSum(raw) != loc.sum {
			return nil, changed()
		}
		if file == fileDedibox {
			rec, err := parseDedibox(raw, true)
			if err != nil {
				return nil, changed()
			}
			grp.dedibox = append(grp.dedibox, dediboxLine{rec: rec, line: int(loc.line), raw: raw})
		} else {
			rec, err := parseScaleway(raw, true)
			if err != nil {
				return nil, changed()
			}
			grp.scaleway = append(grp.scaleway, scalewayLine{rec: rec, line: int(loc.line), raw: raw})
		}
	}
	return grp, nil
}

// maxWriteAttempts bounds the retries of a batch whose rows another process
// wrote between its lookup and its write.
const maxWriteAttempts = 3

// process decides, prepares and writes one batch.
//
// While the batches find nothing stored (a first run, or past the point a
// resumed run had reached), the batch is written straight away, without
// looking up first: the store's unique keys refuse it whole if any of its
// rows exists (ErrUnifyConflict), and only then is it looked up and decided
// account by account, as every batch of a re-run is. The lookups were about
// a tenth of the database's time in a first run, and the Go side's work to
// build and read them is saved too.
func (r *runner) process(ctx context.Context, all []*plan) error {
	batch, unaddressable := addressable(all)
	if r.load != nil || !r.opts.DryRun && !r.sawStored.Load() {
		queued, err := r.write(ctx, batch, nil)
		if err == nil {
			r.tally(all, unaddressable, queued)
			r.count(len(batch))
			return nil
		}
		// A load has nothing to look up (the store was empty), and its
		// locks would hold a lookup on another connection.
		if r.load != nil || !errors.Is(err, accounts.ErrUnifyConflict) {
			return fmt.Errorf("unify: %w", err)
		}
	}
	r.refreshStats(ctx)
	for attempt := 1; ; attempt++ {
		found, err := r.store.UnifyLookup(ctx, lookupQuery(batch))
		if err != nil {
			return fmt.Errorf("unify: %w", err)
		}
		var news []*plan
		conflicts := map[*plan]string{}
		maps.Copy(conflicts, unaddressable)
		for _, p := range batch {
			switch reason, isNew := r.decide(p, found); {
			case reason != "":
				conflicts[p] = reason
			case isNew:
				news = append(news, p)
			}
		}
		// Write the next batches straight away again once one finds
		// nothing stored.
		r.sawStored.Store(len(news) < len(batch))
		queued, err := r.write(ctx, news, found)
		if errors.Is(err, accounts.ErrUnifyConflict) && attempt < maxWriteAttempts {
			continue
		}
		if err != nil {
			return fmt.Errorf("unify: %w", err)
		}
		r.tally(all, conflicts, queued)
		r.count(len(news))
		return nil
	}
}

// addressable splits off the plans whose notification the mailer could not
// address: their lines are refused with the reason, and the rest of the
// batch is imported (CONTRACT §8 rule 7), where an unsendable notice would
// otherwise fail the account's transaction and with it the run. The
// records' emails passed accounts.NormalizeEmail, which accepts only what
// the mailer does: this holds should the two ever disagree.
func addressable(batch []*plan) ([]*plan, map[*plan]string) {
	var refused map[*plan]string
	for _, p := range batch {
		if err := mail.CheckRecipient(p.account.Email); err != nil {
			if refused == nil {
				refused = map[*plan]string{}
			}
			refused[p] = "invalid email: the notification cannot be addressed to it"
		}
	}
	if refused == nil {
		return batch, nil
	}
	kept := make([]*plan, 0, len(batch)-len(refused))
	for _, p := range batch {
		if _, ok := refused[p]; !ok {
			kept = append(kept, p)
		}
	}
	return kept, refused
}

// lookupQuery asks for every row the batch would write that could exist.
func lookupQuery(batch []*plan) accounts.UnifyQuery {
	var q accounts.UnifyQuery
	for _, p := range batch {
		q.AccountIDs = append(q.AccountIDs, p.account.ID)
		q.Emails = append(q.Emails, p.account.Email)
		q.NoticeKeys = append(q.NoticeKeys, NoticeKey(p.account.ID))
		for _, c := range p.consoles {
			q.Consoles = append(q.Consoles, accounts.ConsoleRef{Console: c.Console, ExternalID: c.ExternalID})
		}
		for rec := range p.group.records() {
			q.Records = append(q.Records, rec.ref)
		}
		for _, c := range p.webauthn {
			q.Credentials = append(q.Credentials, c.ID)
		}
	}
	return q
}

// decide says what becomes of p given what the store holds: nothing to do
// (an earlier run wrote it: isNew false, reason ""), write it (isNew), or
// refuse its records (reason), when a row it needs belongs to another
// account: the store is never changed under an account it did not make.
func (r *runner) decide(p *plan, found *accounts.UnifyFound) (reason string, isNew bool) {
	id := p.account.ID
	if stored, ok := found.Accounts[id]; ok {
		if r.sameRecords(p, stored) {
			return "", false
		}
		return fmt.Sprintf("belongs to unified account %s, which an earlier run made from other records; unify does not change an existing account", id), false
	}
	if owner, ok := found.EmailOwners[p.account.Email]; ok {
		return fmt.Sprintf("the unified account's email is already used by account %s", owner), false
	}
	for _, c := range p.consoles {
		if owner, ok := found.ConsoleOwners[accounts.ConsoleRef{Console: c.Console, ExternalID: c.ExternalID}]; ok {
			return fmt.Sprintf("%s account %s already belongs to account %s", c.Console, c.ExternalID, owner), false
		}
	}
	for rec := range p.group.records() {
		if owner, ok := found.RecordOwners[rec.ref]; ok {
			return fmt.Sprintf("%s record %s already imported into account %s", rec.ref.Source, rec.ref.RecordID, owner), false
		}
	}
	for _, c := range p.webauthn {
		if owner, ok := found.CredentialOwners[string(c.ID)]; ok {
			return fmt.Sprintf("a webauthn credential is already registered to account %s", owner), false
		}
	}
	return "", true
}

// sameRecords reports whether the account stored holds exactly p's records,
// line for line. A group holds a few records, and each of a re-run's
// accounts comes here: a scan, not a map per account.
func (r *runner) sameRecords(p *plan, stored []accounts.LegacyRecord) bool {
	if len(stored) != len(p.group.dedibox)+len(p.group.scaleway) {
		return false
	}
	for rec := range p.group.records() {
		i := slices.IndexFunc(stored, func(s accounts.LegacyRecord) bool {
			return s.Source == rec.ref.Source && s.RecordID == rec.ref.RecordID
		})
		if i < 0 {
			return false
		}
		got, err := r.seal.openRecord(rec.ref.Source, rec.ref.RecordID, stored[i].RawSealed)
		if err != nil || !bytes.Equal(got, rec.raw) {
			return false
		}
	}
	return true
}

// write seals and writes the new accounts in one transaction, and
// returns the notifications queued. A dry run writes nothing and counts the
// notifications a real run would queue.
func (r *runner) write(ctx context.Context, news []*plan, found *accounts.UnifyFound) (int, error) {
	if r.opts.DryRun {
		n := 0
		for _, p := range news {
			if !found.Notices[NoticeKey(p.account.ID)] {
				n++
			}
		}
		return n, nil
	}
	if len(news) == 0 {
		return 0, nil
	}
	batch, err := r.unifiedBatch(news)
	if err != nil {
		return 0, err
	}
	if r.load != nil {
		return r.load.Write(ctx, batch)
	}
	return r.store.UnifyWrite(ctx, batch)
}

// unifiedBatch is unified for each plan.
func (r *runner) unifiedBatch(plans []*plan) ([]accounts.UnifiedAccount, error) {
	batch := make([]accounts.UnifiedAccount, len(plans))
	for i, p := range plans {
		u, err := r.unified(p)
		if err != nil {
			return nil, err
		}
		batch[i] = *u
	}
	return batch, nil
}

// unified is p with its secrets sealed and its notification made.
func (r *runner) unified(p *plan) (*accounts.UnifiedAccount, error) {
	u := &accounts.UnifiedAccount{
		Account:     p.account,
		Consoles:    p.consoles,
		WebAuthn:    p.webauthn,
		Memberships: p.memberships,
	}
	if p.totp != "" {
		u.TOTPSealed = r.seal.totp.Seal([]byte(p.totp), []byte(p.account.ID))
	}
	for rec := range p.group.records() {
		u.Records = append(u.Records, accounts.LegacyRecord{Source: rec.ref.Source, RecordID: rec.ref.RecordID,
			Line: int64(rec.line), RawSealed: r.seal.sealRecord(rec.ref.Source, rec.ref.RecordID, rec.raw)})
	}
	p.notice.SignInURL = r.opts.SignInURL
	notice, err := newNotice(p)
	if err != nil {
		return nil, fmt.Errorf("unify: notification: %w", err)
	}
	u.Notice = notice
	return u, nil
}

// count adds accounts written by this run.
func (r *runner) count(written int) {
	r.mu.Lock()
	r.written += written
	r.mu.Unlock()
}

// refreshStats has the store refresh its statistics before a lookup when
// the accounts written by this run have crossed the next threshold since
// the last refresh: the lookups are planned with them (batches written
// without looking up need none). A failure costs speed, not correctness (a
// lost database fails the lookup anyway): it is shown on the progress
// output and the run goes on.
func (r *runner) refreshStats(ctx context.Context) {
	if r.opts.DryRun {
		return
	}
	r.mu.Lock()
	due := r.written >= r.nextStats
	if due {
		r.nextStats = max(r.nextStats, r.written) * 4
	}
	r.mu.Unlock()
	if !due {
		return
	}
	if err := r.store.UnifyRefreshStats(ctx); err != nil && ctx.Err() == nil {
		r.warn(err)
	}
}

// tally adds a processed batch to the report.
func (r *runner) tally(batch []*plan, conflicts map[*plan]string, queued int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	rep := &r.report
	records := 0
	for _, p := range batch {
		records += len(p.group.dedibox) + len(p.group.scaleway)
		if reason, ok := conflicts[p]; ok {
			for rec := range p.group.records() {
				rep.Rejected = append(rep.Rejected, Rejection{File: r.ix.files[rec.file], Line: rec.line, Reason: reason})
			}
			continue
		}
		rep.DediboxRecords += len(p.group.dedibox)
		rep.ScalewayRecords += len(p.group.scaleway)
		rep.UnifiedAccounts++
		rep.Situations.add(p.situation)
		if p.prelinked {
			rep.Prelinked++
		}
	}
	rep.NotificationsQueued += queued
	r.prog.add(int64(records))
}
