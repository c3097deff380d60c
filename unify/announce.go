package unify

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"unigate/accounts"
	"unigate/mail"
)

// `unify announce` (CONTRACT §8 rule 6): before the unification, every
// future unified account is sent one "upcoming change" email, worded for
// what the rules will do to it. Nothing but the outbox and the record of who
// was announced is written.
//
// Once per person. A person is whoever holds the records of a group, and
// the input may change between two announce runs (a Scaleway account
// exported late joins a Dedibox account, a link is corrected), so a group's
// unified account id is not a stable name for them. Every source record a
// mailed group held is therefore marked announced (accounts.AnnounceStore,
// table unify_announcements) in the transaction that queues the email, and
// a group is mailed only when none of its records is marked: a person
// re-grouped with records of their own is recognised by any record they
// held, and is not mailed again (their new records are marked in turn). The
// outbox key, "unify_announce:" + the future account id, keeps a message
// from being queued twice under the same id as well.

// KindAnnounce is the mail kind of the announcement: templates
// mail/templates/<locale>/unify_announce.*.
const KindAnnounce = mail.KindUnifyAnnounce

// AnnounceKey is the outbox key of the announcement to the future unified
// account accountID.
func AnnounceKey(accountID string) string { return KindAnnounce + ":" + accountID }

// AnnounceData fills the unify_announce templates.
type AnnounceData = mail.UnifyAnnounceData

// AnnounceStore is what Announce needs of the account store.
type AnnounceStore = accounts.AnnounceStore

// AnnounceOptions configures Announce.
type AnnounceOptions struct {
	DediboxPath, ScalewayPath string
	// DryRun reports what a real run would queue against the store as it
	// is, and writes nothing.
	DryRun bool
	// Cutoff is as in Options: it decides which accounts are prelinked.
	Cutoff time.Time
	// Date is the day of the unification, YYYY-MM-DD, told in the email;
	// "" leaves it out.
	Date string
	// Progress and ProgressEvery are as in Options.
	Progress      io.Writer
	ProgressEvery time.Duration
	// BatchSize is how many people one lookup and one transaction take;
	// 1000 when zero.
	BatchSize int
}

// Announce queues the announcement of every future unified account of the
// two exports that was not announced before, and reports as Run would,
// with AnnouncementsQueued set. A refused line is in the report, not an
// error.
func Announce(ctx context.Context, store AnnounceStore, opts AnnounceOptions) (*Report, error) {
	switch {
	case opts.DediboxPath == "" || opts.ScalewayPath == "":
		return nil, errors.New("unify announce: both export files are required")
	case opts.BatchSize < 0:
		return nil, errors.New("unify announce: negative BatchSize")
	case opts.Date != "":
		if _, err := time.Parse(time.DateOnly, opts.Date); err != nil {
			return nil, fmt.Errorf("unify announce: date %q: want YYYY-MM-DD", opts.Date)
		}
	}
	if opts.BatchSize == 0 {
		opts.BatchSize = 1000
	}
	prog := newProgress(opts.Progress, opts.ProgressEvery)
	defer prog.stop()
	ix, err := buildIndex(ctx, opts.DediboxPath, opts.ScalewayPath, prog)
	if err != nil {
		return nil, fmt.Errorf("unify announce: %w", err)
	}
	ix.compact()

	r := &runner{opts: Options{Cutoff: opts.Cutoff, DryRun: opts.DryRun}, ix: ix, prog: prog}
	var files [2]*os.File
	for i, path := range ix.files {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("unify announce: %w", err)
		}
		defer f.Close()
		files[i] = f
	}
	prog.phase("announcing", "records", int64(len(ix.groups.members)))
	count := ix.groups.count()
	for start := 0; start < count; start += opts.BatchSize {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		plans, err := r.plans(files, groupRange{start, min(start+opts.BatchSize, count)})
		if err != nil {
			return nil, err
		}
		batch, refused := addressable(plans)
		queued, err := announceBatch(ctx, store, batch, opts)
		if err != nil {
			return nil, fmt.Errorf("unify announce: %w", err)
		}
		r.tally(plans, refused, queued)
	}
	rep := r.report
	rep.Announce, rep.AnnouncementsQueued, rep.NotificationsQueued = true, rep.NotificationsQueued, 0
	rep.Rejected = append(ix.rejected, rep.Rejected...)
	sortRejections(rep.Rejected, ix.files)
	return &rep, nil
}

// announceBatch queues the announcements of the batch's people not
// announced before and marks the records they hold, and returns how many it
// queued (a dry run: would queue).
func announceBatch(ctx context.Context, store AnnounceStore, batch []*plan, opts AnnounceOptions) (int, error) {
	var refs []accounts.LegacyRef
	for _, p := range batch {
		for rec := range p.group.records() {
			refs = append(refs, rec.ref)
		}
	}
	found, err := store.AnnouncedRecords(ctx, refs)
	if err != nil {
		return 0, err
	}
	var out []accounts.Announcement
	queued := 0
	for _, p := range batch {
		a := accounts.Announcement{}
		for rec := range p.group.records() {
			if key, ok := found[rec.ref]; ok {
				a.Key = key // announced before: the person is known by this record
			} else {
				a.Records = append(a.Records, rec.ref)
			}
		}
		switch {
		case a.Key != "" && len(a.Records) == 0:
			continue // everything announced already
		case a.Key == "":
			m, err := mail.NewStoredMessage(AnnounceKey(p.account.ID), "", KindAnnounce, p.account.Locale, p.account.Email,
				p.announceData(opts.Date))
			if err != nil {
				return 0, fmt.Errorf("announcement: %w", err)
			}
			a.Key, a.Message = m.Key, m
			queued++
		}
		out = append(out, a)
	}
	if opts.DryRun || len(out) == 0 {
		return queued, nil
	}
	return store.Announce(ctx, out)
}

// announceData says what the unification will change for the account.
func (p *plan) announceData(date string) AnnounceData {
	n := p.notice
	d := AnnounceData{
		Email: n.Email, Date: date,
		NothingChanges: n.NothingChanges, JoinScaleway: n.JoinedScaleway, NewScaleway: n.NewScaleway, Merged: n.Merged,
		SMSRemoved: n.SMSRemoved, NoPassword: n.NoPassword, Prelinked: p.prelinked,
		DediboxAccounts: n.DediboxAccounts,
	}
	if !n.NewScaleway { // the new account's id means nothing to its owner yet
		d.ScalewayAccounts = n.ScalewayAccounts
	}
	return d
}
