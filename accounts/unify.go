package accounts

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgconn"
)

// The bulk side of the store for the account unification (package unify,
// CONTRACT §8): what a batch of unified accounts finds already stored, the
// batch written (its accounts in one transaction), and the imported lines
// read back for `unify verify`. Migration 0004 holds its tables.

// Legacy sources: LegacyRecord.Source, the console the line came from.
const (
	SourceDedibox  = ConsoleDedibox
	SourceScaleway = ConsoleScaleway
)

// ErrUnifyConflict: a row of a unified account being written exists already
// (another process wrote it since the lookup), or the database chose this
// transaction to break a deadlock. Nothing of the batch was written; look up
// again and decide again.
var ErrUnifyConflict = errors.New("accounts: unification: row already exists")

// UnifiedAccount is one unified account as the unification writes it: its
// rows, written together or not at all (the organizations its memberships
// name, shared with other accounts, are written just before).
type UnifiedAccount struct {
	Account  Account          // ID set; Email normalised; CreatedAt set
	Consoles []ConsoleAccount // AccountID "" or Account.ID
	// TOTPSealed is a confirmed TOTP secret sealed by mfa.Sealer with the
	// account id as associated data; nil when none.
	TOTPSealed  []byte
	WebAuthn    []WebAuthnCredential // AccountID "" or Account.ID
	Memberships []UnifyMembership
	Records     []LegacyRecord // the source lines it holds; AccountID "" or Account.ID
	// Notice is the notification to queue with it; nil for none. Its key
	// makes it sent once, whatever happens to the account later.
	Notice *OutboxMessage
}

// UnifyMembership is a membership of the account in an organization,
// created with the organization when it is new.
type UnifyMembership struct {
	OrganizationID   string
	OrganizationName string // of several names for one id, the smallest (byte order) is kept
	Role             string // "owner", "admin" or "member"
}

// LegacyRecord is one imported source line.
type LegacyRecord struct {
	Source    string // SourceDedibox or SourceScaleway
	RecordID  string // the record's id in its source
	Line      int64  // 1-based line number in the file it was read from
	RawSealed []byte // the line as read, sealed by the caller (package unify)
	AccountID string
	// ConsoleHolder is, when read back, the account holding the console
	// account (Source, RecordID); "" when no account holds it.
	ConsoleHolder string
}

// ConsoleRef names a console account.
type ConsoleRef struct{ Console, ExternalID string }

// LegacyRef names an imported record.
type LegacyRef struct{ Source, RecordID string }

// UnifyQuery asks what the store already holds of a batch.
type UnifyQuery struct {
	AccountIDs  []string     // the batch's unified account ids
	Emails      []string     // their emails
	Consoles    []ConsoleRef // their console accounts
	Records     []LegacyRef  // their records
	Credentials [][]byte     // their WebAuthn credential ids
	NoticeKeys  []string     // their notifications' outbox keys
}

// UnifyFound is what UnifyLookup found.
type UnifyFound struct {
	// Accounts maps each existing account of UnifyQuery.AccountIDs to the
	// legacy records it holds (none for an account created otherwise).
	Accounts         map[string][]LegacyRecord
	EmailOwners      map[string]string     // email → account id
	ConsoleOwners    map[ConsoleRef]string // → account id
	RecordOwners     map[LegacyRef]string  // → account id
	CredentialOwners map[string]string     // string(credential id) → account id
	Notices          map[string]bool       // outbox keys present
}

// unifyTables are the tables a lookup reads; a store opened read-only on an
// older schema may lack some (see OpenReadOnly).
const (
	tableAccounts        = "accounts"
	tableConsoleAccounts = "console_accounts"
	tableWebAuthn        = "webauthn_credentials"
	tableLegacyRecords   = "legacy_records"
	tableOutbox          = "outbox"
)

// UnifyLookup reports what the store holds of q's keys, outside any
// transaction (a read; UnifyWrite refuses a batch that meanwhile conflicts).
func (s *sqlStore) UnifyLookup(ctx context.Context, q UnifyQuery) (*UnifyFound, error) {
	return s.unifyLookup(ctx, q, func(string) bool { return true })
}

func (s *sqlStore) unifyLookup(ctx context.Context, q UnifyQuery, has func(table string) bool) (*UnifyFound, error) {
	f := &UnifyFound{
		Accounts:         map[string][]LegacyRecord{},
		EmailOwners:      map[string]string{},
		ConsoleOwners:    map[ConsoleRef]string{},
		RecordOwners:     map[LegacyRef]string{},
		CredentialOwners: map[string]string{},
		Notices:          map[string]bool{},
	}
	db := s.db
	var err error
	if has(tableAccounts) {
		err = queryIn(ctx, s, db, `SELECT id, email FROM accounts WHERE id %s`, nil, q.AccountIDs,
			func(scan func(...any) error) error {
				var id, email string
				if err := scan(&id, &email); err != nil {
					return err
				}
				f.Accounts[id] = nil
				f.EmailOwners[email] = id
				return nil
			})
		if err == nil {
			err = queryIn(ctx, s, db, `SELECT id, email FROM accounts WHERE email %s`, nil, q.Emails,
				func(scan func(...any) error) error {
					var id, email string
					if err := scan(&id, &email); err != nil {
						return err
					}
					f.EmailOwners[email] = id
					return nil
				})
		}
	}
	if err == nil && has(tableConsoleAccounts) {
		byConsole := map[string][]string{}
		for _, c := range q.Consoles {
			byConsole[c.Console] = append(byConsole[c.Console], c.ExternalID)
		}
		for console, ids := range byConsole {
			err = queryIn(ctx, s, db, `SELECT external_id, account_id FROM console_accounts
				WHERE console = $1 AND external_id %s`, []any{console}, ids,
				func(scan func(...any) error) error {
					var ext, owner string
					if err := scan(&ext, &owner); err != nil {
						return err
					}
					f.ConsoleOwners[ConsoleRef{console, ext}] = owner
					return nil
				})
			if err != nil {
				break
			}
		}
	}
	if err == nil && has(tableLegacyRecords) {
		err = s.lookupLegacy(ctx, q, f)
	}
	if err == nil && has(tableWebAuthn) {
		err = queryIn(ctx, s, db, `SELECT id, account_id FROM webauthn_credentials WHERE id %s`, nil, q.Credentials,
			func(scan func(...any) error) error {
				var id []byte
				var owner string
				if err := scan(&id, &owner); err != nil {
					return err
				}
				f.CredentialOwners[string(id)] = owner
				return nil
			})
	}
	if err == nil && has(tableOutbox) {
		err = queryIn(ctx, s, db, `SELECT dedup_key FROM outbox WHERE dedup_key %s`, nil, q.NoticeKeys,
			func(scan func(...any) error) error {
				var key string
				if err := scan(&key); err != nil {
					return err
				}
				f.Notices[key] = true
				return nil
			})
	}
	if err != nil {
		return nil, s.mapError("UnifyLookup", err)
	}
	return f, nil
}

// lookupLegacy fills the records of the existing accounts and the owners of
// the batch's records.
func (s *sqlStore) lookupLegacy(ctx context.Context, q UnifyQuery, f *UnifyFound) error {
	existing := make([]string, 0, len(f.Accounts))
	for id := range f.Accounts {
		existing = append(existing, id)
	}
	err := queryIn(ctx, s, s.db, `SELECT source, record_id, line_no, raw_sealed, account_id
		FROM legacy_records WHERE account_id %s`, nil, existing,
		func(scan func(...any) error) error {
			var r LegacyRecord
			if err := scan(&r.Source, &r.RecordID, &r.Line, &r.RawSealed, &r.AccountID); err != nil {
				return err
			}
			f.Accounts[r.AccountID] = append(f.Accounts[r.AccountID], r)
			return nil
		})
	if err != nil {
		return err
	}
	bySource := map[string][]string{}
	for _, r := range q.Records {
		bySource[r.Source] = append(bySource[r.Source], r.RecordID)
	}
	for source, ids := range bySource {
		err := queryIn(ctx, s, s.db, `SELECT record_id, account_id FROM legacy_records
			WHERE source = $1 AND record_id %s`, []any{source}, ids,
			func(scan func(...any) error) error {
				var id, owner string
				if err := scan(&id, &owner); err != nil {
					return err
				}
				f.RecordOwners[LegacyRef{source, id}] = owner
				return nil
			})
		if err != nil {
			return err
		}
	}
	return nil
}

// UnifyWrite writes the batch and returns how many notifications it queued:
// the organizations its memberships name, then every other row in one
// transaction. Every row is new (the caller looked up first, or counts on
// this refusal), except the organizations, shared between accounts, and the
// notifications, of which one already queued under the same key is kept
// (none is queued twice). A row that exists already fails the accounts'
// transaction with ErrUnifyConflict, and none of their rows is written.
//
// On PostgreSQL its transactions commit without waiting for their WAL to
// reach the disk (synchronous_commit off, for them only): a database crash
// can lose the last fraction of a second of batches, all of which a run
// started again writes (they are whole, and found missing), and
// UnifyRefreshStats, which the unification calls last, commits
// synchronously and so makes every earlier commit durable before the run
// reports success.
func (s *sqlStore) UnifyWrite(ctx context.Context, batch []UnifiedAccount) (int, error) {
	sets, err := s.unifyRows(batch)
	if err != nil {
		return 0, err
	}
	_, pg := s.db.(*pgDatabase)
	asyncCommit := func(q querier) error {
		if !pg {
			return nil
		}
		_, err := q.exec(ctx, `SET LOCAL synchronous_commit = off`)
		return err
	}
	// The organizations first, in a transaction of their own: they are
	// shared, and a batch must not hold their locks while it writes its
	// accounts, or batches sharing one would wait for each other's commit.
	// Written alone, an organization is harmless: a resumed run writes its
	// members.
	if len(sets[0].rows) > 0 {
		err = s.db.inTx(ctx, func(q querier) error {
			if err := asyncCommit(q); err != nil {
				return err
			}
			_, err := insertRows(ctx, s, q, sets[0])
			return err
		})
		if err != nil {
			return 0, s.unifyWriteError(err)
		}
	}
	var queued int64
	err = s.db.inTx(ctx, func(q querier) error {
		if err := asyncCommit(q); err != nil {
			return err
		}
		for _, rs := range sets[1:] {
			n, err := insertRows(ctx, s, q, rs)
			if err != nil {
				return fmt.Errorf("%s: %w", rs.table, err)
			}
			if rs.table == tableOutbox {
				queued += n
			}
		}
		return nil
	})
	if err != nil {
		return 0, s.unifyWriteError(err)
	}
	return int(queued), nil
}

// UnifyRefreshStats brings the query planner's statistics of the tables the
// unification fills up to date, in a transaction that commits synchronously:
// once it returns, every write of UnifyWrite before it is on disk.
//
// A bulk load outgrows the statistics fast: a lookup planned when a table
// held a few rows (a sequential scan) and cached by the connection stays
// that way while the table grows to millions, and each batch then reads the
// whole table. Autovacuum catches up only in its own time; the unification
// calls this as the tables grow (ANALYZE samples a bounded number of rows:
// about a second at any size; it also invalidates the cached plans). SQLite
// plans with its indexes without statistics, and its commits are
// synchronous: nothing to do.
func (s *sqlStore) UnifyRefreshStats(ctx context.Context) error {
	if _, ok := s.db.(*pgDatabase); !ok {
		return nil
	}
	// A load killed after its commit may have left foreign keys to check.
	if err := s.validateForeignKeys(ctx); err != nil {
		return err
	}
	analyzeErr := s.analyzeUnifyTables(ctx)
	// ANALYZE's commit is synchronous, but it may be refused (a role that
	// may not analyze the tables): a transaction given an id commits
	// synchronously too, whatever happened to ANALYZE.
	if _, err := s.db.exec(ctx, `SELECT txid_current()`); err != nil {
		return s.mapError("UnifyRefreshStats", err)
	}
	return analyzeErr
}

// ErrStatsNotRefreshed: UnifyRefreshStats could not update the statistics
// (the writes before it are durable all the same). Queries may be slower
// until autovacuum analyzes the tables; nothing is wrong.
var ErrStatsNotRefreshed = errors.New("accounts: planner statistics not refreshed")

// unifyWriteError maps what a retry may cure to ErrUnifyConflict.
func (s *sqlStore) unifyWriteError(err error) error {
	if v, ok := s.db.violation(err); ok && v.kind == violationUnique {
		return fmt.Errorf("%w: %s", ErrUnifyConflict, v.constraint)
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && (pgErr.Code == "40P01" || pgErr.Code == "40001") {
		// deadlock_detected, serialization_failure: nothing was written.
		return fmt.Errorf("%w: %s", ErrUnifyConflict, pgErr.Message)
	}
	return s.mapError("UnifyWrite", err)
}

// unifyRows checks the batch and lays it out as one row set per table: the
// organizations first, then in the order that foreign keys need.
func (s *sqlStore) unifyRows(batch []UnifiedAccount) ([]rowSet, error) {
	now, err := encodeTime(s.now())
	if err != nil {
		return nil, err
	}
	acc := rowSet{table: tableAccounts, cols: accountColumns,
		types: []string{"text", "text", "boolean", "text", "boolean", "boolean", "text", "text", "text"}}
	con := rowSet{table: tableConsoleAccounts, cols: "console, external_id, account_id, prelinked, linked_at",
		types: []string{"text", "text", "text", "boolean", "text"}}
	totp := rowSet{table: "totp_credentials",
		cols:  "account_id, secret_sealed, confirmed, last_used_step, created_at, confirmed_at",
		types: []string{"text", "bytea", "boolean", "bigint", "text", "text"}}
	wa := rowSet{table: tableWebAuthn, cols: webauthnColumns,
		types: []string{"bytea", "text", "text", "bytea", "bigint", "bytea", "text", "text", "text",
			"boolean", "boolean", "boolean", "boolean", "boolean", "text", "text"}}
	org := rowSet{table: "organizations", cols: "id, name, created_at", types: []string{"text", "text", "text"}}
	mem := rowSet{table: "memberships", cols: "account_id, organization_id, role, created_at",
		types: []string{"text", "text", "text", "text"}}
	leg := rowSet{table: tableLegacyRecords, cols: "source, record_id, line_no, raw_sealed, account_id, imported_at",
		types: []string{"text", "text", "bigint", "bytea", "text", "text"}}
	out := rowSet{table: tableOutbox,
		cols:     "id, dedup_key, account_id, recipient, kind, priority, raw, data, locale, attempts, next_attempt_at, created_at",
		types:    []string{"text", "text", "text", "text", "text", "bigint", "bytea", "bytea", "text", "bigint", "text", "text"},
		conflict: "ON CONFLICT (dedup_key) DO NOTHING"}
	// Organizations shared by several accounts of the batch are one row (an
	// upsert may not touch a row twice in one statement), and across batches
	// the smallest name wins whatever the order the batches commit in, so
	// that a resumed run ends as an uninterrupted one.
	org.conflict = "ON CONFLICT (id) DO UPDATE SET name = excluded.name WHERE excluded.name < organizations.name"
	if _, ok := s.db.(*pgDatabase); ok {
		org.conflict = `ON CONFLICT (id) DO UPDATE SET name = excluded.name
			WHERE excluded.name COLLATE "C" < organizations.name COLLATE "C"`
	}
	orgNames := map[string]string{}
	var orgOrder []string

	for i := range batch {
		u := &batch[i]
		a := u.Account
		if err := checkUnifiedAccount(u); err != nil {
			return nil, err
		}
		created, err := encodeTime(a.CreatedAt)
		if err != nil {
			return nil, err
		}
		locale := a.Locale
		if locale == "" {
			locale = "en"
		}
		acc.add(a.ID, a.Email, a.EmailVerified, nullString(a.PasswordHash), a.PasswordSetRequired,
			a.MFAEnrollRequired, locale, created, now)
		for _, ca := range u.Consoles {
			linked, err := nullTime(ca.LinkedAt)
			if err != nil {
				return nil, err
			}
			con.add(ca.Console, ca.ExternalID, a.ID, ca.Prelinked, linked)
		}
		if len(u.TOTPSealed) > 0 {
			totp.add(a.ID, u.TOTPSealed, true, int64(0), now, now)
		}
		for _, c := range u.WebAuthn {
			transports, err := transportsJSON(c.Transports)
			if err != nil {
				return nil, err
			}
			wCreated := now
			if !c.CreatedAt.IsZero() {
				if wCreated, err = encodeTime(c.CreatedAt); err != nil {
					return nil, err
				}
			}
			wa.add(c.ID, a.ID, c.Name, c.PublicKey, int64(c.SignCount), nullBytes(c.AAGUID), transports,
				c.AttestationType, c.AttestationFormat, c.UserPresent, c.UserVerified, c.BackupEligible,
				c.BackupState, c.CloneWarning, wCreated, nil)
		}
		for _, m := range u.Memberships {
			if prev, ok := orgNames[m.OrganizationID]; !ok {
				orgOrder = append(orgOrder, m.OrganizationID)
				orgNames[m.OrganizationID] = m.OrganizationName
			} else if m.OrganizationName < prev {
				orgNames[m.OrganizationID] = m.OrganizationName
			}
			mem.add(a.ID, m.OrganizationID, m.Role, now)
		}
		for _, r := range u.Records {
			leg.add(r.Source, r.RecordID, r.Line, r.RawSealed, a.ID, now)
		}
		if m := u.Notice; m != nil {
			next := now
			if !m.NextAttemptAt.IsZero() {
				if next, err = encodeTime(m.NextAttemptAt); err != nil {
					return nil, err
				}
			}
			id := m.ID
			if id == "" {
				if id, err = newV7(); err != nil {
					return nil, err
				}
			}
			out.add(id, m.Key, a.ID, m.To, m.Kind, int64(m.Priority), nullBytes(m.Raw), nullBytes(m.Data), m.Locale,
				int64(0), next, now)
		}
	}
	// In id order: two batches upserting the same organizations lock them
	// in the same order, so they wait for each other but never deadlock.
	slices.Sort(orgOrder)
	for _, id := range orgOrder {
		org.add(id, orgNames[id], now)
	}
	return []rowSet{org, acc, con, totp, wa, mem, leg, out}, nil
}

// checkUnifiedAccount holds the batch to the store's invariants, as
// CreateAccount and AddWebAuthnCredential do for single rows.
func checkUnifiedAccount(u *UnifiedAccount) error {
	a := &u.Account
	if a.ID == "" || a.CreatedAt.IsZero() {
		return errors.New("accounts: UnifyWrite: an account needs an id and a creation time")
	}
	if err := checkNormalized(a.Email); err != nil {
		return err
	}
	if a.PasswordHash != "" {
		if err := ValidHashFormat(a.PasswordHash); err != nil {
			return err
		}
	}
	for _, ca := range u.Consoles {
		ca.AccountID = cmp.Or(ca.AccountID, a.ID)
		if ca.AccountID != a.ID {
			return fmt.Errorf("accounts: UnifyWrite: console account %s/%s belongs to %q", ca.Console, ca.ExternalID, ca.AccountID)
		}
		if err := validateConsoleAccount(ca); err != nil {
			return err
		}
	}
	for i := range u.WebAuthn {
		c := u.WebAuthn[i]
		c.AccountID = cmp.Or(c.AccountID, a.ID)
		if c.AccountID != a.ID {
			return fmt.Errorf("%w: belongs to another account", ErrInvalidCredential)
		}
		if err := validateWebAuthnCredential(&c); err != nil {
			return err
		}
	}
	for _, m := range u.Memberships {
		switch {
		case m.OrganizationID == "" || !utf8.ValidString(m.OrganizationID) || !utf8.ValidString(m.OrganizationName):
			return errors.New("accounts: UnifyWrite: a membership needs an organization id (UTF-8)")
		case !ValidRole(m.Role):
			return fmt.Errorf("accounts: UnifyWrite: membership role %q", m.Role)
		}
	}
	for _, r := range u.Records {
		if r.Source == "" || r.RecordID == "" || r.Line < 1 || len(r.RawSealed) == 0 {
			return errors.New("accounts: UnifyWrite: a legacy record needs a source, an id, a line and its content")
		}
		if r.AccountID != "" && r.AccountID != a.ID {
			return errors.New("accounts: UnifyWrite: a legacy record belongs to another account")
		}
	}
	if m := u.Notice; m != nil {
		if err := checkOutboxMessage(m); err != nil {
			return fmt.Errorf("accounts: UnifyWrite: notice: %w", err)
		}
	}
	return nil
}

// LegacyRecords calls each with the records of source, in no particular
// order, each with the account holding its console account (for `unify
// verify`, which matches them with the files by id).
func (s *sqlStore) LegacyRecords(ctx context.Context, source string, each func(LegacyRecord) error) error {
	err := s.db.query(ctx, `SELECT l.source, l.record_id, l.line_no, l.raw_sealed, l.account_id, c.account_id
		FROM legacy_records l
		LEFT JOIN console_accounts c ON c.console = l.source AND c.external_id = l.record_id
		WHERE l.source = $1`, []any{source},
		func(scan func(...any) error) error {
			var r LegacyRecord
			var holder sql.NullString
			if err := scan(&r.Source, &r.RecordID, &r.Line, &r.RawSealed, &r.AccountID, &holder); err != nil {
				return err
			}
			r.ConsoleHolder = holder.String
			return each(r)
		})
	if err != nil {
		return s.mapError("LegacyRecords", err)
	}
	return nil
}

// rowSet is the rows of one table to insert in one go.
type rowSet struct {
	table    string
	cols     string   // the column list
	types    []string // PostgreSQL type of each column: text, bigint, boolean, bytea
	conflict string   // ON CONFLICT clause, or ""
	rows     [][]any  // nil for NULL
}

func (rs *rowSet) add(values ...any) { rs.rows = append(rs.rows, values) }

// sqliteMaxParams bounds the parameters of one statement, well under
// SQLite's limit (SQLITE_MAX_VARIABLE_NUMBER, 32766): beyond a few
// thousand, longer statements save nothing.
const sqliteMaxParams = 4000

// insertRows inserts rs in as few statements as the driver allows and
// returns the number of rows inserted. On PostgreSQL: one statement per
// table whatever the number of rows, each column bound as one array and
// spread by unnest, so the statement text (and its prepared plan) is the
// same for every batch. On SQLite: multi-row VALUES within the parameter
// limit.
func insertRows(ctx context.Context, s *sqlStore, q querier, rs rowSet) (int64, error) {
	if len(rs.rows) == 0 {
		return 0, nil
	}
	if _, ok := s.db.(*pgDatabase); ok {
		args := make([]any, len(rs.types))
		casts := make([]string, len(rs.types))
		for c, typ := range rs.types {
			args[c] = pgColumn(typ, rs.rows, c)
			casts[c] = fmt.Sprintf("$%d::%s[]", c+1, typ)
		}
		return q.exec(ctx, `INSERT INTO `+rs.table+` (`+rs.cols+`) SELECT * FROM unnest(`+
			strings.Join(casts, ", ")+`) `+rs.conflict, args...)
	}
	// Anonymous "?" parameters: SQLite resolves each named or numbered one
	// by a linear search, quadratic over a statement of thousands.
	ncols := len(rs.types)
	per := max(1, sqliteMaxParams/ncols)
	row := "(" + strings.TrimSuffix(strings.Repeat("?, ", ncols), ", ") + ")"
	var total int64
	for start := 0; start < len(rs.rows); start += per {
		chunk := rs.rows[start:min(start+per, len(rs.rows))]
		var b strings.Builder
		b.WriteString(`INSERT INTO ` + rs.table + ` (` + rs.cols + `) VALUES `)
		args := make([]any, 0, len(chunk)*ncols)
		for i, r := range chunk {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(row)
			args = append(args, r...)
		}
		b.WriteString(" " + rs.conflict)
		n, err := q.exec(ctx, b.String(), args...)
		if err != nil {
			return total, err
		}
		total += n
	}
	return total, nil
}

// pgColumn gathers column c of rows as a slice pgx binds as a PostgreSQL
// array of typ; nil values become NULL elements.
func pgColumn(typ string, rows [][]any, c int) any {
	switch typ {
	case "text":
		// Pointers only for a column with NULLs: one allocation per value
		// otherwise, and millions of them in a unification.
		plain := make([]string, len(rows))
		for i, r := range rows {
			v, ok := r[c].(string)
			if !ok {
				return pgNullableText(rows, c)
			}
			plain[i] = v
		}
		return plain
	case "bigint":
		out := make([]int64, len(rows))
		for i, r := range rows {
			out[i] = r[c].(int64)
		}
		return out
	case "boolean":
		out := make([]bool, len(rows))
		for i, r := range rows {
			out[i] = r[c].(bool)
		}
		return out
	case "bytea":
		out := make([][]byte, len(rows))
		for i, r := range rows {
			out[i], _ = r[c].([]byte)
		}
		return out
	}
	panic("accounts: unknown column type " + typ)
}

// pgNullableText is text column c of rows with its NULLs.
func pgNullableText(rows [][]any, c int) []*string {
	out := make([]*string, len(rows))
	for i, r := range rows {
		if v, ok := r[c].(string); ok {
			out[i] = &v
		}
	}
	return out
}

// maxInKeys bounds the keys of one lookup statement on SQLite.
const maxInKeys = 500

// queryIn runs query, whose "%s" stands for the condition on keys, over all
// of keys: "= ANY($n)" with one array on PostgreSQL, "IN (?, …)" in chunks
// on SQLite. fixed are the parameters before the keys: none, or one, $1.
func queryIn[K string | []byte](ctx context.Context, s *sqlStore, q querier, query string, fixed []any, keys []K,
	each func(scan func(...any) error) error) error {
	if len(keys) == 0 {
		return nil
	}
	if _, ok := s.db.(*pgDatabase); ok {
		return q.query(ctx, fmt.Sprintf(query, fmt.Sprintf("= ANY($%d)", len(fixed)+1)), append(fixed[:len(fixed):len(fixed)], keys), each)
	}
	query = strings.ReplaceAll(query, "$1", "?") // anonymous parameters, as in insertRows
	for start := 0; start < len(keys); start += maxInKeys {
		chunk := keys[start:min(start+maxInKeys, len(keys))]
		args := append(make([]any, 0, len(fixed)+len(chunk)), fixed...)
		for _, k := range chunk {
			args = append(args, k)
		}
		marks := strings.TrimSuffix(strings.Repeat("?, ", len(chunk)), ", ")
		if err := q.query(ctx, fmt.Sprintf(query, "IN ("+marks+")"), args, each); err != nil {
			return err
		}
	}
	return nil
}
