package unify

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
)

// Report is what a run did (or, dry, would do): the JSON of `--report`,
// field for field as CONTRACT §8 defines it.
type Report struct {
	// DediboxRecords and ScalewayRecords count the valid lines read and
	// imported (or found imported); refused lines are only in Rejected.
	DediboxRecords  int `json:"dedibox_records"`
	ScalewayRecords int `json:"scaleway_records"`
	// UnifiedAccounts counts the accounts holding at least one record.
	UnifiedAccounts int        `json:"unified_accounts"`
	Situations      Situations `json:"situations"`
	// Prelinked counts the accounts holding a Dedibox record linked before
	// the cutoff.
	Prelinked int `json:"prelinked"`
	// NotificationsQueued counts the notices this run queued (0 on a re-run).
	NotificationsQueued int `json:"notifications_queued"`
	// AnnouncementsQueued counts, for a report of Announce, the
	// announcements this run queued (0 on a re-run); its JSON has
	// "announcements_queued" in place of "notifications_queued".
	AnnouncementsQueued int `json:"-"`
	// Announce marks a report of Announce.
	Announce bool `json:"-"`
	// Rejected lists the refused lines, by file (Dedibox first) then line.
	Rejected []Rejection `json:"rejected"`
}

// Situations counts, for every unified account holding a Dedibox record,
// the first that applies of: several Dedibox accounts, SMS was its only
// second factor, it holds a Scaleway account, it does not. They add up to
// the accounts holding Dedibox records.
type Situations struct {
	ScalewayAccount         int `json:"scaleway_account"`
	NoScalewayAccount       int `json:"no_scaleway_account"`
	SMSMFADisabled          int `json:"sms_mfa_disabled"`
	MultipleDediboxAccounts int `json:"multiple_dedibox_accounts"`
}

// Situation names, as in the report.
const (
	SituationMultipleDedibox   = "multiple_dedibox_accounts"
	SituationSMSMFADisabled    = "sms_mfa_disabled"
	SituationScalewayAccount   = "scaleway_account"
	SituationNoScalewayAccount = "no_scaleway_account"
)

func (s *Situations) add(situation string) {
	switch situation {
	case SituationMultipleDedibox:
		s.MultipleDediboxAccounts++
	case SituationSMSMFADisabled:
		s.SMSMFADisabled++
	case SituationScalewayAccount:
		s.ScalewayAccount++
	case SituationNoScalewayAccount:
		s.NoScalewayAccount++
	}
}

// Total is the number of accounts holding Dedibox records.
func (s Situations) Total() int {
	return s.ScalewayAccount + s.NoScalewayAccount + s.SMSMFADisabled + s.MultipleDediboxAccounts
}

// Rejection is a line that was not imported, and why.
type Rejection struct {
	File   string `json:"file"`
	Line   int    `json:"line"`
	Reason string `json:"reason"`
}

// sortRejections orders by file as given (Dedibox first), then line.
func sortRejections(r []Rejection, files [2]string) {
	rank := func(f string) int {
		if f == files[fileDedibox] {
			return 0
		}
		return 1
	}
	slices.SortStableFunc(r, func(a, b Rejection) int {
		return cmp.Or(cmp.Compare(rank(a.File), rank(b.File)), cmp.Compare(a.Line, b.Line))
	})
}

// WriteJSON writes the report as indented JSON; Rejected is [] when empty.
func (r *Report) WriteJSON(w io.Writer) error {
	out := *r
	if out.Rejected == nil {
		out.Rejected = []Rejection{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if r.Announce {
		return enc.Encode(announceReport{out.DediboxRecords, out.ScalewayRecords, out.UnifiedAccounts,
			out.Situations, out.Prelinked, out.AnnouncementsQueued, out.Rejected})
	}
	return enc.Encode(out)
}

// announceReport is the JSON of Announce's report: Report's, with
// announcements_queued in place of notifications_queued (CONTRACT §8).
type announceReport struct {
	DediboxRecords      int         `json:"dedibox_records"`
	ScalewayRecords     int         `json:"scaleway_records"`
	UnifiedAccounts     int         `json:"unified_accounts"`
	Situations          Situations  `json:"situations"`
	Prelinked           int         `json:"prelinked"`
	AnnouncementsQueued int         `json:"announcements_queued"`
	Rejected            []Rejection `json:"rejected"`
}

// maxListed bounds the refused lines a human summary lists.
const maxListed = 20

// WriteRejected writes the first limit rejected lines as "FILE:LINE:
// REASON", then one line with how many more (CONTRACT §8): a run without
// --report still says which lines to fix, in the form editors and grep read.
func (r *Report) WriteRejected(w io.Writer, limit int) {
	var b strings.Builder
	for _, rj := range r.Rejected[:min(len(r.Rejected), limit)] {
		// One line each, whatever a reason quotes of the input.
		reason := strings.NewReplacer("\r", " ", "\n", " ").Replace(rj.Reason)
		fmt.Fprintf(&b, "%s:%d: %s\n", rj.File, rj.Line, reason)
	}
	if n := len(r.Rejected) - limit; n > 0 {
		fmt.Fprintf(&b, "… and %d more rejected lines\n", n)
	}
	io.WriteString(w, b.String())
}

// WriteSummary writes the report for people.
func (r *Report) WriteSummary(w io.Writer, dryRun bool) {
	var b strings.Builder
	switch {
	case r.Announce && dryRun:
		fmt.Fprintf(&b, "unify announce: %d Dedibox and %d Scaleway records make %d future unified accounts (dry run, nothing queued)\n",
			r.DediboxRecords, r.ScalewayRecords, r.UnifiedAccounts)
	case r.Announce:
		fmt.Fprintf(&b, "unify announce: %d Dedibox and %d Scaleway records make %d future unified accounts\n",
			r.DediboxRecords, r.ScalewayRecords, r.UnifiedAccounts)
	default:
		verb := "imported"
		if dryRun {
			verb = "would import (dry run, nothing written)"
		}
		fmt.Fprintf(&b, "unify: %s %d Dedibox and %d Scaleway records into %d unified accounts\n",
			verb, r.DediboxRecords, r.ScalewayRecords, r.UnifiedAccounts)
	}
	s := r.Situations
	fmt.Fprintf(&b, "  accounts with Dedibox records: %d (Scaleway account joined %d, new Scaleway account %d, SMS second factor removed %d, several Dedibox accounts merged %d)\n",
		s.Total(), s.ScalewayAccount, s.NoScalewayAccount, s.SMSMFADisabled, s.MultipleDediboxAccounts)
	if r.Announce {
		fmt.Fprintf(&b, "  linked before the cutoff: %d; announcements queued: %d\n", r.Prelinked, r.AnnouncementsQueued)
	} else {
		fmt.Fprintf(&b, "  linked before the cutoff: %d; notifications queued: %d\n", r.Prelinked, r.NotificationsQueued)
	}
	if n := len(r.Rejected); n > 0 {
		fmt.Fprintf(&b, "  rejected lines: %d (not imported)\n", n)
		for _, rj := range r.Rejected[:min(n, maxListed)] {
			fmt.Fprintf(&b, "    %s:%d: %s\n", rj.File, rj.Line, rj.Reason)
		}
		if n > maxListed {
			fmt.Fprintf(&b, "    … and %d more (see --report)\n", n-maxListed)
		}
	}
	io.WriteString(w, b.String())
}
