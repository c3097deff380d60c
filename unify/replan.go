package unify

import (
	"context"
	"errors"
	"fmt"
	"time"

	"unigate/accounts"
)

// Replan rebuilds what the unification decided for one account from the
// source lines it stored with it (legacy_records): the rules are a pure
// function of the records and the cutoff, so the same lines give the same
// situation and the same notice today as on the day of the run. The
// operator commands use it: `accounts show` names the situation, and
// `unify resend-notice` queues the notice again (the outbox keeps a
// message's data only until it is sent).

// ErrNotUnified: the account holds no record of the exports.
var ErrNotUnified = errors.New("unify: the account holds no imported record")

// ReplanStore is what Replan reads.
type ReplanStore interface {
	UnifyLookup(ctx context.Context, q accounts.UnifyQuery) (*accounts.UnifyFound, error)
}

// Replanned is one account's outcome of the unification.
type Replanned struct {
	// Situation is the report's name for it; "" for an account that holds
	// Scaleway records only.
	Situation string
	Prelinked bool
	// Notice is the data of its notification (mail kind KindNotice).
	Notice NoticeData
}

// ReplanOptions are the keys and the cutoff the run used.
type ReplanOptions struct {
	SessionKey          []byte
	PreviousSessionKeys [][]byte
	Cutoff              time.Time
	SignInURL           string
}

// Replan reads the account's stored lines, opens them and applies the rules.
func Replan(ctx context.Context, store ReplanStore, accountID string, opts ReplanOptions) (*Replanned, error) {
	found, err := store.UnifyLookup(ctx, accounts.UnifyQuery{AccountIDs: []string{accountID}})
	if err != nil {
		return nil, fmt.Errorf("unify: %w", err)
	}
	records := found.Accounts[accountID]
	if len(records) == 0 {
		return nil, ErrNotUnified
	}
	seal, err := newSealers(opts.SessionKey, opts.PreviousSessionKeys...)
	if err != nil {
		return nil, err
	}
	g := &accountGroup{}
	for _, r := range records {
		raw, err := seal.openRecord(r.Source, r.RecordID, r.RawSealed)
		if err != nil {
			return nil, fmt.Errorf("unify: %s line %d does not open (another session key?): %w", r.Source, r.Line, err)
		}
		switch r.Source {
		case accounts.SourceDedibox:
			rec, err := parseDedibox(raw, true)
			if err != nil {
				return nil, fmt.Errorf("unify: stored %s line %d: %w", r.Source, r.Line, err)
			}
			g.dedibox = append(g.dedibox, dediboxLine{rec: rec, line: int(r.Line), raw: raw})
		case accounts.SourceScaleway:
			rec, err := parseScaleway(raw, true)
			if err != nil {
				return nil, fmt.Errorf("unify: stored %s line %d: %w", r.Source, r.Line, err)
			}
			g.scaleway = append(g.scaleway, scalewayLine{rec: rec, line: int(r.Line), raw: raw})
		default:
			return nil, fmt.Errorf("unify: stored line of unknown source %q", r.Source)
		}
	}
	p := planAccount(g, opts.Cutoff)
	if p.account.ID != accountID {
		// The lines would make another account today: the store holds them
		// under this one, and the plan would not describe it.
		return nil, fmt.Errorf("unify: the lines of account %s plan account %s", accountID, p.account.ID)
	}
	p.notice.SignInURL = opts.SignInURL
	return &Replanned{Situation: p.situation, Prelinked: p.prelinked, Notice: p.notice}, nil
}
