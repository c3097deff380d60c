package accounts

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
)

// sqlStore implements Store once, over either driver's database.
type sqlStore struct {
	db  database
	now func() time.Time // time.Now; tests set a fake clock
}

var _ Store = (*sqlStore)(nil)

func newSQLStore(db database) *sqlStore {
	return &sqlStore{db: db, now: time.Now}
}

// rowLock is clause (FOR UPDATE, FOR UPDATE SKIP LOCKED), to end a SELECT
// inside a transaction, on PostgreSQL; nothing on SQLite, whose write
// transactions begin IMMEDIATE and so are serialised whole, across processes
// too.
func (s *sqlStore) rowLock(clause string) string {
	if _, ok := s.db.(*pgDatabase); ok {
		return " " + clause
	}
	return ""
}

// timeOrNow is t in UTC without its monotonic reading, or now when t is zero.
func (s *sqlStore) timeOrNow(t time.Time) time.Time {
	if t.IsZero() {
		t = s.now()
	}
	return t.UTC().Round(0)
}

// claimWindow checks a queue claim's arguments and encodes now and the end of
// the lease; limit comes back capped at maxClaim.
func claimWindow(op string, now time.Time, lease time.Duration, limit int) (at, until string, capped int, err error) {
	if lease <= 0 || limit <= 0 {
		return "", "", 0, fmt.Errorf("accounts: %s: lease %v and limit %d must be positive", op, lease, limit)
	}
	if at, err = encodeTime(now); err != nil {
		return "", "", 0, err
	}
	if until, err = encodeTime(now.Add(lease)); err != nil {
		return "", "", 0, err
	}
	return at, until, min(limit, maxClaim), nil
}

const accountColumns = `id, email, email_verified, password_hash, password_set_required,
	mfa_enroll_required, locale, created_at, updated_at`

// CreateAccount inserts a and its console accounts in one transaction. On
// success a holds what was stored (ID, Locale, CreatedAt, UpdatedAt filled in).
// The email must be NormalizeEmail's output: the store refuses any other
// spelling, so that no second form of an address can slip past the unique
// index (SECURITY.md §10).
func (s *sqlStore) CreateAccount(ctx context.Context, a *Account, consoles []ConsoleAccount) error {
	if a == nil {
		return errors.New("accounts: CreateAccount: nil account")
	}
	acc := *a
	if err := checkNormalized(acc.Email); err != nil {
		return err
	}
	if acc.PasswordHash != "" {
		if err := ValidHashFormat(acc.PasswordHash); err != nil {
			return err
		}
	}
	if acc.ID == "" {
		acc.ID = uuid.NewString() // v4: ids reach the consoles, so they carry no time
	}
	if acc.Locale == "" {
		acc.Locale = "en"
	}
	now := s.now().UTC().Round(0)
	if acc.CreatedAt.IsZero() {
		acc.CreatedAt = now
	}
	acc.CreatedAt, acc.UpdatedAt = acc.CreatedAt.UTC().Round(0), now
	created, err := encodeTime(acc.CreatedAt)
	if err != nil {
		return err
	}
	updated, err := encodeTime(acc.UpdatedAt)
	if err != nil {
		return err
	}
	rows := make([]ConsoleAccount, len(consoles))
	for i, ca := range consoles {
		if ca.AccountID != "" && ca.AccountID != acc.ID {
			return fmt.Errorf("accounts: CreateAccount: console account %s/%s belongs to account %q", ca.Console, ca.ExternalID, ca.AccountID)
		}
		ca.AccountID = acc.ID
		if err := validateConsoleAccount(ca); err != nil {
			return err
		}
		rows[i] = ca
	}

	err = s.db.inTx(ctx, func(q querier) error {
		_, err := q.exec(ctx, `INSERT INTO accounts (`+accountColumns+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
			acc.ID, acc.Email, acc.EmailVerified, nullString(acc.PasswordHash), acc.PasswordSetRequired,
			acc.MFAEnrollRequired, acc.Locale, created, updated)
		if err != nil {
			return err
		}
		for _, ca := range rows {
			if err := insertConsoleAccount(ctx, q, ca); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return s.mapError("CreateAccount", err)
	}
	*a = acc
	return nil
}

func (s *sqlStore) AccountByEmail(ctx context.Context, email string) (*Account, error) {
	return s.accountWhere(ctx, "email", email)
}

func (s *sqlStore) AccountByID(ctx context.Context, id string) (*Account, error) {
	return s.accountWhere(ctx, "id", id)
}

// accountWhere reads the account whose column (a constant, never input)
// equals value.
func (s *sqlStore) accountWhere(ctx context.Context, column, value string) (*Account, error) {
	var a Account
	var hash, disabled sql.NullString
	var created, updated string
	err := s.db.queryRow(ctx, `SELECT `+accountColumns+`, name, disabled_at FROM accounts WHERE `+column+` = $1`, []any{value},
		&a.ID, &a.Email, &a.EmailVerified, &hash, &a.PasswordSetRequired,
		&a.MFAEnrollRequired, &a.Locale, &created, &updated, &a.Name, &disabled)
	if err != nil {
		return nil, s.mapError("account by "+column, err)
	}
	a.PasswordHash = hash.String
	if disabled.Valid {
		if a.DisabledAt, err = decodeTime(disabled.String); err != nil {
			return nil, err
		}
	}
	if a.CreatedAt, err = decodeTime(created); err != nil {
		return nil, err
	}
	if a.UpdatedAt, err = decodeTime(updated); err != nil {
		return nil, err
	}
	return &a, nil
}

// SetPasswordHash stores hash, which must pass ValidHashFormat, and clears
// PasswordSetRequired; hash "" erases the password (NULL) and leaves the flag.
func (s *sqlStore) SetPasswordHash(ctx context.Context, accountID, hash string) error {
	if hash != "" {
		if err := ValidHashFormat(hash); err != nil {
			return err
		}
	}
	updated, err := encodeTime(s.now())
	if err != nil {
		return err
	}
	query := `UPDATE accounts SET password_hash = $2, password_set_required = FALSE, updated_at = $3 WHERE id = $1`
	if hash == "" {
		query = `UPDATE accounts SET password_hash = $2, updated_at = $3 WHERE id = $1`
	}
	n, err := s.db.exec(ctx, query, accountID, nullString(hash), updated)
	if err != nil {
		return s.mapError("SetPasswordHash", err)
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}

// setAccountColumn sets one column (a constant, never input) of one account
// and its updated_at; ErrNotFound when there is no such account.
func (s *sqlStore) setAccountColumn(ctx context.Context, column, accountID string, value any) error {
	updated, err := encodeTime(s.now())
	if err != nil {
		return err
	}
	n, err := s.db.exec(ctx, `UPDATE accounts SET `+column+` = $2, updated_at = $3 WHERE id = $1`,
		accountID, value, updated)
	if err != nil {
		return s.mapError("set "+column, err)
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}

// ConsoleAccounts lists by console then external id, compared as bytes (the
// same on both drivers, whatever the database collation).
func (s *sqlStore) ConsoleAccounts(ctx context.Context, accountID string) ([]ConsoleAccount, error) {
	var out []ConsoleAccount
	err := s.db.query(ctx, `SELECT account_id, console, external_id, prelinked, linked_at
		FROM console_accounts WHERE account_id = $1`, []any{accountID},
		func(scan func(...any) error) error {
			var ca ConsoleAccount
			var linked sql.NullString
			if err := scan(&ca.AccountID, &ca.Console, &ca.ExternalID, &ca.Prelinked, &linked); err != nil {
				return err
			}
			if linked.Valid {
				t, err := decodeTime(linked.String)
				if err != nil {
					return err
				}
				ca.LinkedAt = t
			}
			out = append(out, ca)
			return nil
		})
	if err != nil {
		return nil, s.mapError("ConsoleAccounts", err)
	}
	slices.SortFunc(out, func(a, b ConsoleAccount) int {
		if c := strings.Compare(a.Console, b.Console); c != 0 {
			return c
		}
		return strings.Compare(a.ExternalID, b.ExternalID)
	})
	return out, nil
}

// AddConsoleAccount links ca to ca.AccountID: ErrNotFound when that account
// does not exist, ErrConsoleAccountTaken when the console account is linked.
func (s *sqlStore) AddConsoleAccount(ctx context.Context, ca ConsoleAccount) error {
	if err := validateConsoleAccount(ca); err != nil {
		return err
	}
	err := s.db.inTx(ctx, func(q querier) error { return insertConsoleAccount(ctx, q, ca) })
	if err != nil {
		return s.mapError("AddConsoleAccount", err)
	}
	return nil
}

func validateConsoleAccount(ca ConsoleAccount) error {
	if ca.Console == "" || ca.ExternalID == "" || ca.AccountID == "" {
		return errors.New("accounts: console account needs a console, an external id and an account id")
	}
	return nil
}

func insertConsoleAccount(ctx context.Context, q querier, ca ConsoleAccount) error {
	linked, err := nullTime(ca.LinkedAt)
	if err != nil {
		return err
	}
	_, err = q.exec(ctx, `INSERT INTO console_accounts (console, external_id, account_id, prelinked, linked_at)
		VALUES ($1, $2, $3, $4, $5)`, ca.Console, ca.ExternalID, ca.AccountID, ca.Prelinked, linked)
	return err
}

// RecordAudit appends e. Its id is a uuid v7, so ids sort by time of writing.
func (s *sqlStore) RecordAudit(ctx context.Context, e AuditEvent) error {
	if e.Kind == "" {
		return errors.New("accounts: audit event without a kind")
	}
	if e.At.IsZero() {
		e.At = s.now()
	}
	at, err := encodeTime(e.At)
	if err != nil {
		return err
	}
	details := []byte("{}")
	if len(e.Details) > 0 {
		if details, err = json.Marshal(e.Details); err != nil {
			return fmt.Errorf("accounts: audit details: %w", err)
		}
	}
	id, err := uuid.NewV7()
	if err != nil {
		return fmt.Errorf("accounts: audit id: %w", err)
	}
	_, err = s.db.exec(ctx, `INSERT INTO audit_events (id, at, kind, account_id, ip, details)
		VALUES ($1, $2, $3, $4, $5, $6)`,
		id.String(), at, e.Kind, nullString(e.AccountID), nullString(e.IP), string(details))
	if err != nil {
		return s.mapError("RecordAudit", err)
	}
	return nil
}

func (s *sqlStore) Ping(ctx context.Context) error {
	if err := s.db.ping(ctx); err != nil {
		return fmt.Errorf("accounts: ping: %w", err)
	}
	return nil
}

func (s *sqlStore) Close() error { return s.db.close() }

// mapError turns driver errors into the package's sentinels, by constraint
// name for unique violations (see constraintViolation), and wraps the rest.
func (s *sqlStore) mapError(op string, err error) error {
	if errors.Is(err, errNoRows) {
		return ErrNotFound
	}
	if v, ok := s.db.violation(err); ok {
		switch {
		case v.kind == violationUnique && v.constraint == "accounts_email_key":
			return ErrEmailTaken
		case v.kind == violationUnique && v.constraint == "console_accounts_pkey":
			return ErrConsoleAccountTaken
		case v.kind == violationUnique && v.constraint == "webauthn_credentials_pkey":
			return ErrCredentialExists
		case v.kind == violationForeignKey:
			return fmt.Errorf("%w: account: %w", ErrNotFound, err)
		}
	}
	return fmt.Errorf("accounts: %s: %w", op, err)
}
