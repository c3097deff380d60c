package unify

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"unigate/accounts"
)

// VerifyOptions configures Verify.
type VerifyOptions struct {
	DediboxPath, ScalewayPath string
	// SessionKey opens the stored lines. Required.
	SessionKey []byte
	// PreviousSessionKeys as in Options.
	PreviousSessionKeys [][]byte
	// Progress and ProgressEvery as in Options.
	Progress      io.Writer
	ProgressEvery time.Duration
	// MaxDifferences bounds the differences listed (all are counted); 1000
	// when zero.
	MaxDifferences int
}

// RecordSource is what Verify needs of the account store.
type RecordSource interface {
	// LegacyRecords calls each with the stored records of source, in any
	// order (accounts.Store implementations have it).
	LegacyRecords(ctx context.Context, source string, each func(accounts.LegacyRecord) error) error
}

// VerifyResult is what Verify found.
type VerifyResult struct {
	// Valid records in the files, and records in the store, per source.
	DediboxRecords, ScalewayRecords int
	StoredDedibox, StoredScaleway   int
	// UnifiedAccounts is the number of unified accounts the valid records
	// make; StoredAccounts the number of accounts holding stored records.
	UnifiedAccounts, StoredAccounts int
	// Rejected are the lines that are not imported because they were
	// refused, as a run reports them.
	Rejected []Rejection
	// Differences lists what does not match, up to MaxDifferences;
	// DifferenceCount counts them all.
	Differences     []string
	DifferenceCount int
}

// OK reports whether every line of the files is accounted for.
func (v *VerifyResult) OK() bool { return v.DifferenceCount == 0 && len(v.Rejected) == 0 }

// Verify proves that every source record is accounted for (CONTRACT §1,
// §8): it reads the files again, and checks that each valid record is in
// the store once, its line stored as read, held with its console account by
// one account, that the records the rules put together are in one account
// and in no other's, and that the store holds no record the files do not
// have. Refused lines are listed as not imported.
func Verify(ctx context.Context, store RecordSource, opts VerifyOptions) (*VerifyResult, error) {
	if opts.DediboxPath == "" || opts.ScalewayPath == "" || len(opts.SessionKey) == 0 {
		return nil, errors.New("unify: verify: both files and a session key are required")
	}
	if opts.MaxDifferences <= 0 {
		opts.MaxDifferences = 1000
	}
	seal, err := newSealers(opts.SessionKey, opts.PreviousSessionKeys...)
	if err != nil {
		return nil, err
	}
	prog := newProgress(opts.Progress, opts.ProgressEvery)
	defer prog.stop()
	ix, err := buildIndex(ctx, opts.DediboxPath, opts.ScalewayPath, prog)
	if err != nil {
		return nil, fmt.Errorf("unify: verify: %w", err)
	}
	v := &verifier{ix: ix, seal: seal, max: opts.MaxDifferences, prog: prog}
	v.res.DediboxRecords, v.res.ScalewayRecords = ix.live()
	ix.compactForVerify()
	v.res.UnifiedAccounts = ix.groups.count()
	prog.phase("comparing", "records", int64(v.res.DediboxRecords+v.res.ScalewayRecords))
	for _, file := range []int{fileDedibox, fileScaleway} {
		if err := v.compare(ctx, store, file); err != nil {
			return nil, fmt.Errorf("unify: verify: %w", err)
		}
	}
	v.checkPartition()
	if v.res.StoredDedibox != v.res.DediboxRecords || v.res.StoredScaleway != v.res.ScalewayRecords {
		v.differ("the store holds %d Dedibox and %d Scaleway records; the files have %d and %d valid ones",
			v.res.StoredDedibox, v.res.StoredScaleway, v.res.DediboxRecords, v.res.ScalewayRecords)
	}
	if v.res.StoredAccounts != v.res.UnifiedAccounts {
		v.differ("the records are held by %d accounts; the rules make %d unified accounts of them",
			v.res.StoredAccounts, v.res.UnifiedAccounts)
	}
	v.res.Rejected = ix.rejected
	sortRejections(v.res.Rejected, ix.files)
	return &v.res, nil
}

// live counts the records that were not refused.
func (ix *index) live() (dedibox, scaleway int) {
	for i := range uint32(ix.dedibox.n) {
		if !ix.dedibox.at(i).dead {
			dedibox++
		}
	}
	for i := range uint32(ix.scaleway.n) {
		if !ix.scaleway.at(i).dead {
			scaleway++
		}
	}
	return dedibox, scaleway
}

type verifier struct {
	ix   *index
	seal *sealers
	max  int
	prog *progress
	res  VerifyResult
	// held pairs each stored record's group with the account holding it.
	held []holding
}

type holding struct {
	group   uint32
	node    uint32
	account [16]byte
}

func (v *verifier) differ(format string, args ...any) {
	v.res.DifferenceCount++
	if len(v.res.Differences) < v.max {
		v.res.Differences = append(v.res.Differences, fmt.Sprintf(format, args...))
	}
}

// fileRecords is one file's records as Verify needs them.
type fileRecords struct {
	recs *chunked[verifyRecord]
	base uint32 // node of record 0
	of   []uint32
}

func (f fileRecords) n() uint32                 { return uint32(f.recs.n) }
func (f fileRecords) at(i uint32) *verifyRecord { return f.recs.at(i) }
func (f fileRecords) node(i uint32) uint32      { return f.base + i }
func (f fileRecords) dead(i uint32) bool        { return f.of[f.base+i] == noGroup }
func (v *verifier) records(file int) fileRecords {
	if file == fileDedibox {
		return fileRecords{recs: &v.ix.vrecs[fileDedibox], base: v.ix.groups.nS, of: v.ix.groups.of}
	}
	return fileRecords{recs: &v.ix.vrecs[fileScaleway], of: v.ix.groups.of}
}

// compare walks the store's records of one file and matches them with the
// file's valid records by id.
func (v *verifier) compare(ctx context.Context, store RecordSource, file int) error {
	recs := v.records(file)
	byID := sortedIndexes(recs.n(), func(a, b uint32) int { return cmp.Or(recs.at(a).id.compare(recs.at(b).id), cmp.Compare(a, b)) })
	byID = slices.DeleteFunc(byID, recs.dead)
	matched := make([]bool, recs.n())
	f, err := os.Open(v.ix.files[file])
	if err != nil {
		return err
	}
	defer f.Close()
	path := v.ix.files[file]
	source := accounts.SourceDedibox
	if file == fileScaleway {
		source = accounts.SourceScaleway
	}
	stored := 0
	err = store.LegacyRecords(ctx, source, func(row accounts.LegacyRecord) error {
		stored++
		k := keyOf(row.RecordID)
		at, ok := slices.BinarySearchFunc(byID, k, func(i uint32, k key) int { return recs.at(i).id.compare(k) })
		if !ok {
			v.differ("the store holds %s record %q (line %d when imported), which is not a valid record of %s",
				source, row.RecordID, row.Line, path)
			return nil
		}
		i := byID[at]
		matched[i] = true
		v.prog.add(1)
		rec := recs.at(i)
		line := rec.line
		raw := make([]byte, rec.size)
		if _, err := f.ReadAt(raw, rec.off); err != nil {
			return fmt.Errorf("%s:%d: %w", path, line, err)
		}
		switch got, err := v.seal.openRecord(source, row.RecordID, row.RawSealed); {
		case err != nil:
			v.differ("%s:%d: the stored line cannot be opened (was the session key changed?)", path, line)
		case string(got) != string(raw):
			v.differ("%s:%d: the stored line differs from the file's", path, line)
		}
		if row.ConsoleHolder != row.AccountID {
			v.differ("%s:%d: imported into account %s, but its %s account is held by %q", path, line, row.AccountID, source, row.ConsoleHolder)
		}
		node := recs.node(i)
		v.held = append(v.held, holding{group: v.ix.groups.of[node], node: node, account: accountKey(row.AccountID)})
		return nil
	})
	if err != nil {
		return err
	}
	for _, i := range byID {
		if !matched[i] {
			v.differ("%s:%d: not imported", path, recs.at(i).line)
		}
	}
	if file == fileDedibox {
		v.res.StoredDedibox = stored
	} else {
		v.res.StoredScaleway = stored
	}
	return nil
}

// accountKey is an account id as 16 bytes (ids are UUIDs; anything else is
// digested).
func accountKey(id string) [16]byte {
	if u, err := uuid.Parse(id); err == nil {
		return u
	}
	return keyOf(id)
}

// checkPartition checks that the accounts holding the records split them
// exactly as the rules group them: each group in one account, each account
// holding one group.
func (v *verifier) checkPartition() {
	h := v.held
	slices.SortFunc(h, func(a, b holding) int { return cmp.Or(cmp.Compare(a.group, b.group), cmp.Compare(a.node, b.node)) })
	for i := 1; i < len(h); i++ {
		if h[i].group == h[i-1].group && h[i].account != h[i-1].account {
			v.differ("%s and %s belong to one unified account but are held by accounts %s and %s",
				v.where(h[i-1].node), v.where(h[i].node), uuid.UUID(h[i-1].account), uuid.UUID(h[i].account))
		}
	}
	slices.SortFunc(h, func(a, b holding) int {
		return cmp.Or(strings.Compare(string(a.account[:]), string(b.account[:])), cmp.Compare(a.group, b.group), cmp.Compare(a.node, b.node))
	})
	accounts := 0
	for i := range h {
		if i == 0 || h[i].account != h[i-1].account {
			accounts++
			continue
		}
		if h[i].group != h[i-1].group {
			v.differ("account %s holds %s and %s, which belong to different unified accounts",
				uuid.UUID(h[i].account), v.where(h[i-1].node), v.where(h[i].node))
		}
	}
	v.res.StoredAccounts = accounts
}

// where names a record by file and line.
func (v *verifier) where(node uint32) string {
	file, i := v.ix.groups.record(node)
	return fmt.Sprintf("%s:%d", v.ix.files[file], v.ix.vrecs[file].at(i).line)
}

// WriteText writes the result for people: the differences, the refused
// lines, and a last line saying whether everything is accounted for.
func (v *VerifyResult) WriteText(w io.Writer, maxListed int) {
	var b strings.Builder
	for _, d := range v.Differences[:min(len(v.Differences), maxListed)] {
		fmt.Fprintf(&b, "difference: %s\n", d)
	}
	if n := v.DifferenceCount - min(len(v.Differences), maxListed); n > 0 {
		fmt.Fprintf(&b, "… and %d more differences\n", n)
	}
	for _, r := range v.Rejected[:min(len(v.Rejected), maxListed)] {
		fmt.Fprintf(&b, "not imported: %s:%d: rejected: %s\n", r.File, r.Line, r.Reason)
	}
	if n := len(v.Rejected) - maxListed; n > 0 {
		fmt.Fprintf(&b, "… and %d more rejected lines, not imported\n", n)
	}
	fmt.Fprintf(&b, "unify verify: files: %d Dedibox and %d Scaleway valid records, %d unified accounts; store: %d and %d records in %d accounts\n",
		v.DediboxRecords, v.ScalewayRecords, v.UnifiedAccounts, v.StoredDedibox, v.StoredScaleway, v.StoredAccounts)
	if v.OK() {
		b.WriteString("unify verify: every source record is accounted for\n")
	} else {
		fmt.Fprintf(&b, "unify verify: %d differences, %d lines not imported\n", v.DifferenceCount, len(v.Rejected))
	}
	io.WriteString(w, b.String())
}
