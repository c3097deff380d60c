package accounts

import (
	"context"
	"errors"
	"fmt"
)

// The store side of `unify announce` (package unify, CONTRACT §8 rule 6):
// the "upcoming change" emails queued before the unification, and the
// source records each one covered (migration 0011). No account is written.

// tableAnnouncements holds the records already announced.
const tableAnnouncements = "unify_announcements"

// Announcement is one person's "upcoming change" email and the source
// records it covers.
type Announcement struct {
	// Records are the person's source records; each is marked announced
	// under Key (a record marked before keeps its first key).
	Records []LegacyRef
	// Key names the outbox message that covers Records: Message.Key when
	// Message is set, else the key of the message an earlier run queued.
	Key string
	// Message is queued unless its key exists; nil only marks Records (a
	// person already announced who now holds more records).
	Message *OutboxMessage
}

// AnnounceStore is what `unify announce` needs of the account store.
type AnnounceStore interface {
	// AnnouncedRecords maps each of refs already announced to the key of
	// the message that covered it.
	AnnouncedRecords(ctx context.Context, refs []LegacyRef) (map[LegacyRef]string, error)
	// Announce queues the batch's messages and marks their records, in one
	// transaction, and returns how many messages it queued: a message is
	// never queued without its marks, nor marks written without it.
	Announce(ctx context.Context, batch []Announcement) (queued int, err error)
}

var (
	_ AnnounceStore = (*sqlStore)(nil)
	_ AnnounceStore = (*readOnlyStore)(nil)
)

func (s *sqlStore) AnnouncedRecords(ctx context.Context, refs []LegacyRef) (map[LegacyRef]string, error) {
	found := map[LegacyRef]string{}
	bySource := map[string][]string{}
	for _, r := range refs {
		bySource[r.Source] = append(bySource[r.Source], r.RecordID)
	}
	for source, ids := range bySource {
		err := queryIn(ctx, s, s.db, `SELECT record_id, outbox_key FROM unify_announcements
			WHERE source = $1 AND record_id %s`, []any{source}, ids,
			func(scan func(...any) error) error {
				var id, key string
				if err := scan(&id, &key); err != nil {
					return err
				}
				found[LegacyRef{source, id}] = key
				return nil
			})
		if err != nil {
			return nil, s.mapError("AnnouncedRecords", err)
		}
	}
	return found, nil
}

func (s *sqlStore) Announce(ctx context.Context, batch []Announcement) (int, error) {
	now, err := encodeTime(s.now())
	if err != nil {
		return 0, err
	}
	out := rowSet{table: tableOutbox,
		cols:     "id, dedup_key, account_id, recipient, kind, priority, raw, data, locale, attempts, next_attempt_at, created_at",
		types:    []string{"text", "text", "text", "text", "text", "bigint", "bytea", "bytea", "text", "bigint", "text", "text"},
		conflict: "ON CONFLICT (dedup_key) DO NOTHING"}
	marks := rowSet{table: tableAnnouncements, cols: "source, record_id, outbox_key, announced_at",
		types: []string{"text", "text", "text", "text"}, conflict: "ON CONFLICT (source, record_id) DO NOTHING"}
	for _, a := range batch {
		if m := a.Message; m != nil {
			if err := checkOutboxMessage(m); err != nil {
				return 0, fmt.Errorf("accounts: Announce: %w", err)
			}
			if m.Key != a.Key {
				return 0, errors.New("accounts: Announce: the records' key is not the message's")
			}
			id, err := newV7()
			if err != nil {
				return 0, err
			}
			out.add(id, m.Key, nullString(m.AccountID), m.To, m.Kind, int64(m.Priority), nullBytes(m.Raw), nullBytes(m.Data),
				m.Locale, int64(0), now, now)
		}
		if a.Key == "" {
			return 0, errors.New("accounts: Announce: no key")
		}
		for _, r := range a.Records {
			marks.add(r.Source, r.RecordID, a.Key, now)
		}
	}
	var queued int64
	err = s.db.inTx(ctx, func(q querier) error {
		n, err := insertRows(ctx, s, q, out)
		if err != nil {
			return err
		}
		queued = n
		_, err = insertRows(ctx, s, q, marks)
		return err
	})
	if err != nil {
		return 0, s.mapError("Announce", err)
	}
	return int(queued), nil
}

// AnnouncedRecords on a store opened read-only (a dry run) reads a schema
// without the table as nothing announced.
func (s *readOnlyStore) AnnouncedRecords(ctx context.Context, refs []LegacyRef) (map[LegacyRef]string, error) {
	err := s.db.query(ctx, "SELECT 1 FROM "+tableAnnouncements+" WHERE 1 = 0", nil, func(func(...any) error) error { return nil })
	if err != nil {
		if ctx.Err() != nil || s.db.ping(ctx) != nil {
			return nil, s.mapError("AnnouncedRecords", errors.Join(ctx.Err(), err))
		}
		return map[LegacyRef]string{}, nil
	}
	return s.sqlStore.AnnouncedRecords(ctx, refs)
}

// Announce always fails: the store is read-only.
func (s *readOnlyStore) Announce(context.Context, []Announcement) (int, error) {
	return 0, errors.New("accounts: Announce: store opened read-only")
}
