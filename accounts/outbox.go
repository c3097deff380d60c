package accounts

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
)

// OutboxMessage is one mail in the outbox: rendered once, then sent by
// whichever replica claims it (package mail's Sender). Its key makes
// enqueueing idempotent, so that a retried request or a re-run of the
// unification never sends the same mail twice.
type OutboxMessage struct {
	ID        string // uuid v7, set by EnqueueMail when empty
	Key       string // unique; enqueueing an existing key is a no-op
	AccountID string // may be ""
	To        string // the envelope recipient
	// Kind names the template ("email_code", "signup_code", "unify_notice" …),
	// for logs and metrics; never the content.
	Kind string
	// Priority orders the claims: higher first, so that a code someone is
	// waiting for overtakes a backlog of bulk notices. 0 by default.
	Priority int
	// Raw is the complete RFC 5322 message; nil once sent (MarkMailSent).
	// Nil too for a message stored as Data.
	Raw []byte
	// Data, for a message rendered when it is sent, is the kind's template
	// data as JSON, and Locale the language to render it in (package mail's
	// Sender does it at delivery). A message holds Raw or Data, never both;
	// both are erased once it is sent.
	Data   []byte
	Locale string
	// Attempts counts the failed sends so far.
	Attempts int
	// NextAttemptAt is when the message is due: now when zero at EnqueueMail.
	// Zero once the message has been given up (MarkMailFailed with a zero next).
	NextAttemptAt time.Time
	SentAt        time.Time // zero until sent
	LastError     string    // the last failure, short; never message content
	CreatedAt     time.Time // set to now by EnqueueMail when zero
}

// OutboxStore is the outbox part of the account store. Any number of replicas
// may run a sender on one database: ClaimMail leases what it returns, so two
// of them never send the same message at once.
type OutboxStore interface {
	// EnqueueMail stores m (ID, NextAttemptAt and CreatedAt filled in when
	// zero) and reports true, or reports false and changes nothing when a
	// message with m.Key already exists, whatever its state.
	EnqueueMail(ctx context.Context, m *OutboxMessage) (queued bool, err error)
	// ClaimMail returns up to limit messages that are unsent, due at now and
	// not leased, most urgent first, and leases them until now+lease: no other
	// claim returns them before then. A sender that dies holding a lease
	// delays its messages by at most lease.
	ClaimMail(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]OutboxMessage, error)
	// MarkMailSent records the send and erases Raw and Data: a one-time code that was
	// sent must not stay in the database. Marking a sent message again is a
	// no-op; ErrNotFound when no message has that id.
	MarkMailSent(ctx context.Context, id string, at time.Time) error
	// MarkMailFailed counts a failed attempt, records reason (cut short,
	// control characters removed) and releases the lease; the message is due
	// again at next. A zero next gives the message up: it is never claimed
	// again and no longer pending, but stays in the table, Raw included, for
	// an operator. ErrNotFound when no unsent message has that id.
	MarkMailFailed(ctx context.Context, id string, next time.Time, reason string) error
	// PendingMail counts the messages still to send (not sent, not given up),
	// for readiness and metrics.
	PendingMail(ctx context.Context) (int, error)
}

var _ OutboxStore = (*sqlStore)(nil)

// Bounds of the outbox's inputs.
const (
	// maxClaim caps ClaimMail's limit: a claim holds its messages in memory.
	maxClaim = 1000
	// maxReasonBytes caps LastError: a reason, not a transcript.
	maxReasonBytes = 300
)

const outboxColumns = `id, dedup_key, account_id, recipient, kind, priority, raw, data, locale, attempts,
	next_attempt_at, sent_at, last_error, created_at`

// EnqueueMail inserts m unless its key exists. ON CONFLICT (dedup_key) DO
// NOTHING is the same on both drivers and settles a race between two
// replicas enqueueing one key in the database, not in a read-then-write.
func (s *sqlStore) EnqueueMail(ctx context.Context, m *OutboxMessage) (bool, error) {
	if m == nil {
		return false, errors.New("accounts: EnqueueMail: nil message")
	}
	if err := checkOutboxMessage(m); err != nil {
		return false, fmt.Errorf("accounts: EnqueueMail: %w", err)
	}
	msg := *m
	if msg.ID == "" {
		id, err := newV7() // ids sort by time of enqueueing; they reach no console
		if err != nil {
			return false, err
		}
		msg.ID = id
	}
	now := s.now().UTC().Round(0)
	if msg.CreatedAt.IsZero() {
		msg.CreatedAt = now
	}
	if msg.NextAttemptAt.IsZero() {
		msg.NextAttemptAt = now
	}
	msg.CreatedAt, msg.NextAttemptAt = msg.CreatedAt.UTC().Round(0), msg.NextAttemptAt.UTC().Round(0)
	msg.Attempts, msg.SentAt, msg.LastError = 0, time.Time{}, ""
	created, err := encodeTime(msg.CreatedAt)
	if err != nil {
		return false, err
	}
	next, err := encodeTime(msg.NextAttemptAt)
	if err != nil {
		return false, err
	}
	n, err := s.db.exec(ctx, `INSERT INTO outbox (id, dedup_key, account_id, recipient, kind, priority, raw,
			data, locale, attempts, next_attempt_at, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 0, $10, $11)
		ON CONFLICT (dedup_key) DO NOTHING`,
		msg.ID, msg.Key, nullString(msg.AccountID), msg.To, msg.Kind, int64(msg.Priority), nullBytes(msg.Raw),
		nullBytes(msg.Data), msg.Locale, next, created)
	if err != nil {
		return false, s.mapError("EnqueueMail", err)
	}
	if n == 0 {
		return false, nil
	}
	*m = msg
	return true, nil
}

// newV7 is an outbox message id: a uuid v7, so that ids sort by time of
// enqueueing.
func newV7() (string, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return "", fmt.Errorf("accounts: outbox id: %w", err)
	}
	return id.String(), nil
}

// checkOutboxMessage holds a message to be queued to the outbox's rules.
func checkOutboxMessage(m *OutboxMessage) error {
	switch {
	case m.Key == "" || m.To == "" || m.Kind == "":
		return errors.New("a message needs a key, a recipient and a kind")
	case (len(m.Raw) == 0) == (len(m.Data) == 0):
		return errors.New("a message needs a body or template data, not both")
	case len(m.Data) > 0 && !json.Valid(m.Data):
		return errors.New("a message's template data must be JSON")
	case !utf8.ValidString(m.Locale) || len(m.Locale) > 35: // BCP 47 tags are short
		return errors.New("a message's locale must be a short language tag")
	}
	return nil
}

// nullBytes stores an empty byte string as NULL.
func nullBytes(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

// ClaimMail leases due messages in one UPDATE … RETURNING inside a write
// transaction. The due rows are picked in a MATERIALIZED common table
// expression: written as UPDATE … WHERE id IN (SELECT … LIMIT n), PostgreSQL
// may plan a semi-join that runs the subquery again for each row and so
// leases more than n. On PostgreSQL that SELECT takes its rows FOR UPDATE SKIP
// LOCKED, so concurrent claimers each get other rows instead of waiting for
// one another (and the UPDATE checks the lease again on the locked row, in
// case a claim committed between the snapshot and the lock). On SQLite the
// transaction begins IMMEDIATE: claims are serialised by the write lock,
// across processes too, and SQLite has no SKIP LOCKED to need.
func (s *sqlStore) ClaimMail(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]OutboxMessage, error) {
	at, until, limit, err := claimWindow("ClaimMail", now, lease, limit)
	if err != nil {
		return nil, err
	}
	query := s.claimQuery()
	var out []OutboxMessage
	err = s.db.inTx(ctx, func(q querier) error {
		return q.query(ctx, query, []any{at, until, int64(limit)}, func(scan func(...any) error) error {
			m, err := scanOutbox(scan)
			if err != nil {
				return err
			}
			out = append(out, m)
			return nil
		})
	})
	if err != nil {
		return nil, s.mapError("ClaimMail", err)
	}
	// RETURNING follows no ORDER BY: restore the claim order.
	slices.SortFunc(out, func(a, b OutboxMessage) int {
		return cmp.Or(cmp.Compare(b.Priority, a.Priority), a.NextAttemptAt.Compare(b.NextAttemptAt), strings.Compare(a.ID, b.ID))
	})
	return out, nil
}

// claimQuery is ClaimMail's statement ($1 now, $2 the end of the lease, $3
// the limit). Its ORDER BY is the whole key of outbox_claim_idx (migration
// 0012), so a claim reads the first due rows of the index instead of
// sorting every pending row: a code claimed behind a million notices costs
// what it costs behind none.
func (s *sqlStore) claimQuery() string {
	return `WITH due AS MATERIALIZED (
			SELECT id FROM outbox
			WHERE sent_at IS NULL AND next_attempt_at IS NOT NULL AND next_attempt_at <= $1
				AND (leased_until IS NULL OR leased_until <= $1)
			ORDER BY priority DESC, next_attempt_at, id
			LIMIT $3` + s.rowLock("FOR UPDATE SKIP LOCKED") + `)
		UPDATE outbox SET leased_until = $2
		WHERE id IN (SELECT id FROM due)
			AND sent_at IS NULL AND next_attempt_at IS NOT NULL AND (leased_until IS NULL OR leased_until <= $1)
		RETURNING ` + outboxColumns
}

// scanOutbox reads one row of outboxColumns.
func scanOutbox(scan func(...any) error) (OutboxMessage, error) {
	var m OutboxMessage
	var account, next, sent sql.NullString
	var priority, attempts int64
	var created string
	if err := scan(&m.ID, &m.Key, &account, &m.To, &m.Kind, &priority, &m.Raw, &m.Data, &m.Locale, &attempts,
		&next, &sent, &m.LastError, &created); err != nil {
		return m, err
	}
	m.AccountID, m.Priority, m.Attempts = account.String, int(priority), int(attempts)
	var err error
	if m.CreatedAt, err = decodeTime(created); err != nil {
		return m, err
	}
	if next.Valid {
		if m.NextAttemptAt, err = decodeTime(next.String); err != nil {
			return m, err
		}
	}
	if sent.Valid {
		if m.SentAt, err = decodeTime(sent.String); err != nil {
			return m, err
		}
	}
	return m, nil
}

// MarkMailSent sets sent_at once (a repeated mark keeps the first time) and
// erases the body and the template data.
func (s *sqlStore) MarkMailSent(ctx context.Context, id string, at time.Time) error {
	sentAt, err := encodeTime(at)
	if err != nil {
		return err
	}
	n, err := s.db.exec(ctx, `UPDATE outbox SET sent_at = $2, raw = NULL, data = NULL, leased_until = NULL
		WHERE id = $1 AND sent_at IS NULL`, id, sentAt)
	if err != nil {
		return s.mapError("MarkMailSent", err)
	}
	if n == 1 {
		return nil
	}
	var one int // nothing changed: already sent, or no such message
	if err := s.db.queryRow(ctx, `SELECT 1 FROM outbox WHERE id = $1`, []any{id}, &one); err != nil {
		return s.mapError("MarkMailSent", err)
	}
	return nil
}

// MarkMailFailed counts the attempt and reschedules (or gives up) the message.
func (s *sqlStore) MarkMailFailed(ctx context.Context, id string, next time.Time, reason string) error {
	nextAt, err := nullTime(next) // NULL: given up
	if err != nil {
		return err
	}
	n, err := s.db.exec(ctx, `UPDATE outbox
		SET attempts = attempts + 1, next_attempt_at = $2, leased_until = NULL, last_error = $3
		WHERE id = $1 AND sent_at IS NULL`, id, nextAt, shortReason(reason))
	if err != nil {
		return s.mapError("MarkMailFailed", err)
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}

func (s *sqlStore) PendingMail(ctx context.Context) (int, error) {
	var n int64
	err := s.db.queryRow(ctx, `SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL AND next_attempt_at IS NOT NULL`, nil, &n)
	if err != nil {
		return 0, s.mapError("PendingMail", err)
	}
	return int(n), nil
}

// shortReason makes a failure reason fit for last_error and for a log line:
// valid UTF-8 (PostgreSQL refuses anything else in TEXT, NUL included), no
// control characters (an SMTP reply spans lines), at most maxReasonBytes.
func shortReason(reason string) string {
	reason = strings.ToValidUTF8(reason, "\uFFFD")
	reason = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, reason)
	reason = strings.TrimSpace(reason)
	if len(reason) <= maxReasonBytes {
		return reason
	}
	cut := maxReasonBytes - len("…")
	for cut > 0 && !utf8.RuneStart(reason[cut]) {
		cut--
	}
	return reason[:cut] + "…"
}
