package accounts

import (
	"context"
	"time"
)

// What the operator commands (`unigate accounts show|disable|enable`,
// CONTRACT §12) need of the store beyond the gateway's own methods.

// OperatorStore is implemented by both drivers.
type OperatorStore interface {
	// SetDisabled disables the account at at, or enables it when at is zero.
	// ErrNotFound when there is no such account.
	SetDisabled(ctx context.Context, accountID string, at time.Time) error
	// LegacyRecordsOf lists the source lines the unification imported into
	// the account, by source then line (without their sealed content).
	LegacyRecordsOf(ctx context.Context, accountID string) ([]LegacyRecordRef, error)
	// MailOf lists the outbox messages of kind queued for the account,
	// oldest first, sent or not.
	MailOf(ctx context.Context, accountID, kind string) ([]OutboxMessage, error)
}

// LegacyRecordRef names one imported line of an export.
type LegacyRecordRef struct {
	Source     string // "dedibox" or "scaleway"
	RecordID   string
	Line       int64
	ImportedAt time.Time
}

var _ OperatorStore = (*sqlStore)(nil)

func (s *sqlStore) SetDisabled(ctx context.Context, accountID string, at time.Time) error {
	var value any // NULL: enabled
	if !at.IsZero() {
		enc, err := encodeTime(at)
		if err != nil {
			return err
		}
		value = enc
	}
	return s.setAccountColumn(ctx, "disabled_at", accountID, value)
}

func (s *sqlStore) LegacyRecordsOf(ctx context.Context, accountID string) ([]LegacyRecordRef, error) {
	var out []LegacyRecordRef
	err := s.db.query(ctx, `SELECT source, record_id, line_no, imported_at FROM legacy_records
		WHERE account_id = $1 ORDER BY source, line_no`, []any{accountID},
		func(scan func(...any) error) error {
			var r LegacyRecordRef
			var at string
			if err := scan(&r.Source, &r.RecordID, &r.Line, &at); err != nil {
				return err
			}
			t, err := decodeTime(at)
			if err != nil {
				return err
			}
			r.ImportedAt = t
			out = append(out, r)
			return nil
		})
	if err != nil {
		return nil, s.mapError("LegacyRecordsOf", err)
	}
	return out, nil
}

func (s *sqlStore) MailOf(ctx context.Context, accountID, kind string) ([]OutboxMessage, error) {
	var out []OutboxMessage
	err := s.db.query(ctx, `SELECT `+outboxColumns+` FROM outbox WHERE account_id = $1 AND kind = $2
		ORDER BY created_at, id`, []any{accountID, kind},
		func(scan func(...any) error) error {
			m, err := scanOutbox(scan)
			if err != nil {
				return err
			}
			out = append(out, m)
			return nil
		})
	if err != nil {
		return nil, s.mapError("MailOf", err)
	}
	return out, nil
}
