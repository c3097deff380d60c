package accounts

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// UnifyLoad is the first unification into an empty PostgreSQL store: every
// batch goes into one transaction, sent by COPY while the tables it fills
// lack their foreign keys and the indexes whose keys come in random order
// (emails, the consoles' ids), which are rebuilt once at the end.
//
// Maintaining those indexes row by row is most of what the batched path
// (UnifyWrite) costs the database, and each foreign key costs a query per
// row. Building an index from a whole table sorts it once, and a foreign
// key is checked by one join: on a million accounts the database does about
// half the work.
//
// One transaction keeps the rule that a run killed at any point and run
// again ends as an uninterrupted run (CONTRACT §8 rule 7): a load that does
// not finish leaves nothing behind, not even its dropped indexes, and the
// next run finds an empty store again. The price is that the tables stay
// locked until the commit (a minute for a million accounts): the gateway's
// requests that read them wait, which is why a load happens only when there
// is no account to serve yet.
type UnifyLoad interface {
	// Write writes a batch and returns the notifications it queued. Safe
	// for concurrent use: the rows are laid out concurrently and sent one
	// batch at a time on the load's connection.
	Write(ctx context.Context, batch []UnifiedAccount) (queued int, err error)
	// Finish rebuilds what was dropped and commits, then refreshes the
	// planner's statistics. A unique key the batches broke (which the
	// unification's rules rule out) fails it, and nothing is written. An
	// error wrapping ErrStatsNotRefreshed comes after the commit: the load
	// is done.
	Finish(ctx context.Context) error
	// Abort rolls the load back, if it has not finished. Safe to call
	// more than once, and after Finish.
	Abort()
}

// loadTables are the tables whose indexes and foreign keys a load may drop
// (see droppable): those that receive a row or more per account. The others
// it writes keep theirs: organizations are upserted (several accounts name
// one), and the outbox may hold messages already; its keys come in order.
var loadTables = []string{tableAccounts, tableConsoleAccounts, "totp_credentials", tableWebAuthn,
	"memberships", tableLegacyRecords}

// loadLocked are the tables a load locks: the ones it fills, and the ones
// whose rows it checks the absence of.
var loadLocked = append(append([]string{}, loadTables...), "organizations", tableOutbox)

// loadLockWait bounds the wait for the tables' locks (a variable for the
// tests).
var loadLockWait = 10 * time.Second

// pgUnifyLoad is UnifyLoad on PostgreSQL.
type pgUnifyLoad struct {
	s *sqlStore
	// pc is the load's connection, held from UnifyBeginLoad to Finish or
	// Abort.
	pc *pgxpool.Conn

	mu      sync.Mutex // one batch at a time on pc; guards the rest
	tx      pgx.Tx
	restore []string // statements putting back what was dropped, in order
	ended   bool
}

// UnifyBeginLoad starts a UnifyLoad when the store can take one: on
// PostgreSQL, when it holds no account and no unification notice. It
// returns nil otherwise (SQLite: its indexes cost little, and a transaction
// of a million accounts would hold its single writer as long), and then the
// unification writes in batches (UnifyWrite).
//
// It locks the tables, checks them empty, and drops their foreign keys and
// the indexes that would grow at random places (see droppable), keeping
// their definitions as the database gives them
// (pg_get_indexdef, pg_get_constraintdef): Finish puts back exactly what
// the migrations made. A role that may not alter the tables (not their
// owner) gets ErrLoadUnavailable, and nothing changed.
func (s *sqlStore) UnifyBeginLoad(ctx context.Context) (UnifyLoad, error) {
	pg, ok := s.db.(*pgDatabase)
	if !ok {
		return nil, nil
	}
	pc, err := pg.pool.Acquire(ctx)
	if err != nil {
		return nil, s.mapError("UnifyBeginLoad", err)
	}
	l := &pgUnifyLoad{s: s, pc: pc}
	empty, err := l.begin(ctx)
	if err != nil || !empty {
		l.Abort()
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "42501" { // insufficient_privilege
			return nil, fmt.Errorf("%w: %s", ErrLoadUnavailable, pgErr.Message)
		}
		if errors.Is(err, ErrLoadUnavailable) {
			return nil, err
		}
		if err != nil {
			return nil, s.mapError("UnifyBeginLoad", err)
		}
		return nil, nil
	}
	return l, nil
}

// ErrLoadUnavailable: the store would take a UnifyLoad, but the database
// refused the changes it makes to the tables, or they stayed locked by
// others for loadLockWait. Nothing changed; write in batches.
var ErrLoadUnavailable = errors.New("accounts: a single-transaction load is not allowed here")

func (l *pgUnifyLoad) begin(ctx context.Context) (empty bool, err error) {
	if l.tx, err = l.pc.Begin(ctx); err != nil {
		return false, err
	}
	// The lock first: nothing can be written between the check and the
	// load. The gateway's transactions on these tables are short; one
	// that holds them longer than loadLockWait (a replica idle inside a
	// transaction) sends the run to the batched path rather than leave it
	// waiting, and every request queued behind it.
	if _, err := l.tx.Exec(ctx, fmt.Sprintf("SET LOCAL lock_timeout = %d", loadLockWait.Milliseconds())); err != nil {
		return false, err
	}
	if _, err := l.tx.Exec(ctx, "LOCK TABLE "+strings.Join(loadLocked, ", ")+" IN ACCESS EXCLUSIVE MODE"); err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "55P03" { // lock_not_available
			return false, fmt.Errorf("%w: the account tables stayed busy for %s", ErrLoadUnavailable, loadLockWait)
		}
		return false, err
	}
	if _, err := l.tx.Exec(ctx, "SET LOCAL lock_timeout = 0"); err != nil {
		return false, err
	}
	var found bool
	// Without accounts, the other load tables are empty too (their rows
	// belong to an account). A message to an account deleted since (a
	// notice of an earlier run) might hold the key of a notice the load
	// queues, which would fail the whole load: the batched path, which
	// keeps the message queued before, deals with it.
	err = pgQuerier{l.tx}.queryRow(ctx, `SELECT EXISTS (SELECT 1 FROM accounts)
		OR EXISTS (SELECT 1 FROM outbox WHERE account_id IS NOT NULL)`, nil, &found)
	if err != nil || found {
		return false, err
	}
	drop, restore, err := l.droppable(ctx)
	if err != nil {
		return false, err
	}
	for _, stmt := range drop {
		if _, err := l.tx.Exec(ctx, stmt); err != nil {
			return false, fmt.Errorf("%s: %w", stmt, err)
		}
	}
	l.restore = restore
	return true, nil
}

// droppable lists, from the catalog, the statements dropping the load
// tables' indexes (and the primary and unique keys they carry) whose keys
// come in random order, and every foreign key from the load tables or
// depending on a dropped key; and the statements putting them back: keys
// and indexes first, then the foreign keys that need them.
//
// The batches come in account id order, so the indexes that begin with the
// account id (accounts' primary key, every account_id index) grow at their
// right edge, a cheap insertion: those stay, and their foreign keys from
// other tables with them.
func (l *pgUnifyLoad) droppable(ctx context.Context) (drop, restore []string, err error) {
	var fkeys []string
	// Foreign keys first (a key they reference cannot go before them),
	// then keys, then plain indexes.
	err = pgQuerier{l.tx}.query(ctx, `
		WITH dropped AS (
			SELECT x.indexrelid FROM pg_index x
			LEFT JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = x.indkey[0]
			WHERE x.indrelid = ANY ($1::regclass[])
				AND NOT (coalesce(a.attname, '') = 'account_id'
					OR (x.indrelid = 'accounts'::regclass AND coalesce(a.attname, '') = 'id')))
		SELECT 0 AS step, format('%I.%I', n.nspname, t.relname), c.conname::text, pg_get_constraintdef(c.oid), 'f'
		FROM pg_constraint c
		JOIN pg_class t ON t.oid = c.conrelid JOIN pg_namespace n ON n.oid = t.relnamespace
		WHERE c.contype = 'f' AND (c.conrelid = ANY ($1::regclass[]) OR c.conindid IN (SELECT indexrelid FROM dropped))
		UNION ALL
		SELECT 1, format('%I.%I', n.nspname, t.relname), c.conname::text, pg_get_constraintdef(c.oid), c.contype::text
		FROM pg_constraint c
		JOIN pg_class t ON t.oid = c.conrelid JOIN pg_namespace n ON n.oid = t.relnamespace
		WHERE c.contype IN ('p', 'u') AND c.conindid IN (SELECT indexrelid FROM dropped)
		UNION ALL
		SELECT 2, format('%I.%I', n.nspname, t.relname), format('%I.%I', n.nspname, i.relname),
			pg_get_indexdef(x.indexrelid), 'i'
		FROM pg_index x
		JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
		JOIN pg_namespace n ON n.oid = t.relnamespace
		WHERE x.indexrelid IN (SELECT indexrelid FROM dropped)
			AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid AND c.conrelid = x.indrelid)
		ORDER BY 1, 2, 3`, []any{loadTables},
		func(scan func(...any) error) error {
			var step int
			var table, name, def, kind string
			if err := scan(&step, &table, &name, &def, &kind); err != nil {
				return err
			}
			switch kind {
			case "i":
				drop = append(drop, "DROP INDEX "+name)
				restore = append(restore, def)
			default:
				quoted := pgx.Identifier{name}.Sanitize()
				drop = append(drop, "ALTER TABLE "+table+" DROP CONSTRAINT "+quoted)
				add := "ALTER TABLE " + table + " ADD CONSTRAINT " + quoted + " " + def
				if kind == "f" {
					// Checked after the commit (see Finish).
					fkeys = append(fkeys, add+" NOT VALID")
				} else {
					restore = append(restore, add)
				}
			}
			return nil
		})
	if err != nil {
		return nil, nil, err
	}
	return drop, append(restore, fkeys...), nil
}

func (l *pgUnifyLoad) Write(ctx context.Context, batch []UnifiedAccount) (int, error) {
	sets, err := l.s.unifyRows(batch)
	if err != nil {
		return 0, err
	}
	copies := make([][]byte, len(sets)-1) // of sets[1:]
	for i, rs := range sets[1:] {
		copies[i] = copyBinary(rs)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ended {
		return 0, errors.New("accounts: UnifyLoad: write after the load ended")
	}
	if len(sets[0].rows) > 0 {
		if _, err := insertRows(ctx, l.s, pgQuerier{l.tx}, sets[0]); err != nil {
			return 0, l.s.mapError("UnifyLoad", fmt.Errorf("%s: %w", sets[0].table, err))
		}
	}
	var queued int64
	for i, rs := range sets[1:] {
		if len(rs.rows) == 0 {
			continue
		}
		// COPY has no ON CONFLICT: only the outbox's is given up here, for
		// begin's check that no message could conflict.
		if rs.conflict != "" && rs.table != tableOutbox {
			return 0, fmt.Errorf("accounts: UnifyLoad: %s needs %q, which COPY cannot do", rs.table, rs.conflict)
		}
		tag, err := l.pc.Conn().PgConn().CopyFrom(ctx, bytes.NewReader(copies[i]),
			"COPY "+rs.table+" ("+rs.cols+") FROM STDIN (FORMAT binary)")
		if err != nil {
			return 0, l.s.mapError("UnifyLoad", fmt.Errorf("%s: %w", rs.table, err))
		}
		if rs.table == tableOutbox {
			queued += tag.RowsAffected()
		}
	}
	return int(queued), nil
}

func (l *pgUnifyLoad) Finish(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ended {
		return errors.New("accounts: UnifyLoad: already ended")
	}
	err := l.finish(ctx)
	l.end(ctx)
	if err != nil {
		return l.s.mapError("UnifyLoad", err)
	}
	if err := l.s.validateForeignKeys(ctx); err != nil {
		return fmt.Errorf("accounts: UnifyLoad: committed, but %w", err)
	}
	// After the commit: ANALYZE holds no lock that stops the gateway.
	return l.s.analyzeUnifyTables(ctx)
}

func (l *pgUnifyLoad) finish(ctx context.Context) error {
	for _, stmt := range l.restore {
		if _, err := l.tx.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("%s: %w", stmt, err)
		}
	}
	err := l.tx.Commit(ctx)
	l.tx = nil
	return err
}

// validateForeignKeys checks the foreign keys of the unification's tables
// that are NOT VALID: those a load put back, two at a time.
//
// A load adds its foreign keys back NOT VALID, which is instant and
// enforced from then on for every new row, and checks the rows it wrote
// after its commit: VALIDATE CONSTRAINT takes a lock that lets the gateway
// read and write, and two run at once on two connections, where adding
// them valid would have checked them one by one with the tables locked. A
// run killed between the two leaves keys NOT VALID: every later run checks
// them (UnifyRefreshStats calls this too), and there are none to check
// otherwise.
func (s *sqlStore) validateForeignKeys(ctx context.Context) error {
	var pending []string
	err := s.db.query(ctx, `
		SELECT format('ALTER TABLE %I.%I VALIDATE CONSTRAINT %I', n.nspname, t.relname, c.conname)
		FROM pg_constraint c
		JOIN pg_class t ON t.oid = c.conrelid JOIN pg_namespace n ON n.oid = t.relnamespace
		WHERE c.contype = 'f' AND NOT c.convalidated
			AND (c.conrelid = ANY ($1::regclass[]) OR c.confrelid = ANY ($1::regclass[]))
		ORDER BY 1`, []any{loadTables}, func(scan func(...any) error) error {
		var stmt string
		if err := scan(&stmt); err != nil {
			return err
		}
		pending = append(pending, stmt)
		return nil
	})
	if err != nil {
		return s.mapError("validate foreign keys", err)
	}
	return twoAtATime(pending, func(stmt string) error {
		if _, err := s.db.exec(ctx, stmt); err != nil {
			return fmt.Errorf("%s: %w", stmt, s.mapError("validate foreign keys", err))
		}
		return nil
	})
}

// twoAtATime runs do for each item on two goroutines and returns the
// errors it met.
func twoAtATime(items []string, do func(string) error) error {
	work := make(chan string, len(items))
	for _, it := range items {
		work <- it
	}
	close(work)
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range errs {
		wg.Go(func() {
			for it := range work {
				if err := do(it); err != nil && errs[i] == nil {
					errs[i] = err
				}
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// analyzeUnifyTables brings the planner's statistics of the tables the
// unification fills up to date, two tables at a time. A failure is
// ErrStatsNotRefreshed (autovacuum will analyze them in its own time).
func (s *sqlStore) analyzeUnifyTables(ctx context.Context) error {
	return twoAtATime(loadLocked, func(table string) error {
		if _, err := s.db.exec(ctx, "ANALYZE "+table); err != nil {
			return fmt.Errorf("%w: %w", ErrStatsNotRefreshed, s.mapError("analyze "+table, err))
		}
		return nil
	})
}

func (l *pgUnifyLoad) Abort() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.ended {
		l.end(context.Background())
	}
}

// rollbackTimeout bounds the rollback of an abandoned load: the run is
// ending, often because its context was cancelled.
const rollbackTimeout = 10 * time.Second

// end rolls back what is left of the transaction and gives the connection
// back; a connection whose rollback failed is closed instead (it may still
// be in the transaction).
func (l *pgUnifyLoad) end(ctx context.Context) {
	l.ended = true
	if l.tx != nil {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rollbackTimeout)
		if err := l.tx.Rollback(ctx); err != nil && !errors.Is(err, pgx.ErrTxClosed) {
			l.pc.Conn().Close(ctx)
		}
		cancel()
		l.tx = nil
	}
	l.pc.Release()
}

// copyBinary lays rs out in PostgreSQL's binary COPY format: a signature
// and two 32-bit fields, then per row a 16-bit field count and per field a
// 32-bit length (-1 for NULL) followed by the value in the type's binary
// form, then a 16-bit -1. The four types of rowSet have trivial binary
// forms: text and bytea are their bytes, bigint eight bytes big-endian,
// boolean one byte. Laid out here, in the writers' goroutines, the bytes
// only have to be sent on the load's single connection.
func copyBinary(rs rowSet) []byte {
	size := 19 + 2
	for _, row := range rs.rows {
		size += 2 + 4*len(row)
		for _, v := range row {
			switch v := v.(type) {
			case string:
				size += len(v)
			case []byte:
				size += len(v)
			case int64:
				size += 8
			case bool:
				size++
			}
		}
	}
	b := make([]byte, 0, size)
	b = append(b, "PGCOPY\n\xff\r\n\x00"...)
	b = binary.BigEndian.AppendUint32(b, 0) // flags: no OIDs
	b = binary.BigEndian.AppendUint32(b, 0) // no header extension
	for _, row := range rs.rows {
		b = binary.BigEndian.AppendUint16(b, uint16(len(row)))
		for _, v := range row {
			b = appendCopyValue(b, v)
		}
	}
	return binary.BigEndian.AppendUint16(b, math.MaxUint16) // -1: the end
}

// appendCopyValue appends one field; v is nil (NULL) or of a Go type
// rowSet.add takes. Lengths fit: a row's values are bounded far
// below 2 GiB by the unification's line size.
func appendCopyValue(b []byte, v any) []byte {
	switch v := v.(type) {
	case nil:
		return binary.BigEndian.AppendUint32(b, math.MaxUint32) // -1: NULL
	case []byte:
		if v == nil {
			return binary.BigEndian.AppendUint32(b, math.MaxUint32)
		}
		b = binary.BigEndian.AppendUint32(b, uint32(len(v)))
		return append(b, v...)
	case string:
		b = binary.BigEndian.AppendUint32(b, uint32(len(v)))
		return append(b, v...)
	case int64:
		b = binary.BigEndian.AppendUint32(b, 8)
		return binary.BigEndian.AppendUint64(b, uint64(v))
	case bool:
		b = binary.BigEndian.AppendUint32(b, 1)
		if v {
			return append(b, 1)
		}
		return append(b, 0)
	}
	panic(fmt.Sprintf("accounts: a %T value in a COPY row", v))
}
