package accounts

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"
)

// OpenReadOnly opens the account store without changing it, for
// `unify --dry-run` and `unify verify`: no migration is applied and every
// transaction is read-only, so a write fails. What the schema lacks reads as
// empty (a store that was never unified holds no legacy records), and a
// SQLite file that does not exist is an empty store: it is not created.
func OpenReadOnly(ctx context.Context, driver, dsn string) (Store, error) {
	var db database
	switch driver {
	case DriverPostgres:
		cfg, err := pgxpool.ParseConfig(dsn)
		if err != nil {
			return nil, fmt.Errorf("accounts: postgres dsn: %w", err)
		}
		cfg.ConnConfig.RuntimeParams["default_transaction_read_only"] = "on"
		cfg.MaxConns = min(cfg.MaxConns, 4)
		pool, err := pgxpool.NewWithConfig(ctx, cfg)
		if err != nil {
			return nil, fmt.Errorf("accounts: postgres: %w", err)
		}
		db = &pgDatabase{pool: pool}
	case DriverSQLite:
		d, err := openSQLiteReadOnly(dsn)
		if err != nil {
			return nil, err
		}
		db = d
	default:
		return nil, fmt.Errorf("accounts: unknown driver %q (want %q or %q)", driver, DriverPostgres, DriverSQLite)
	}
	s := &readOnlyStore{sqlStore: newSQLStore(db), tables: map[string]bool{}}
	for _, t := range []string{tableAccounts, tableConsoleAccounts, tableWebAuthn, tableLegacyRecords, tableOutbox} {
		// A failed probe outside a transaction leaves nothing behind.
		err := db.query(ctx, "SELECT 1 FROM "+t+" WHERE 1 = 0", nil, func(func(...any) error) error { return nil })
		if err == nil {
			s.tables[t] = true
		} else if ctx.Err() != nil || db.ping(ctx) != nil {
			db.close()
			return nil, fmt.Errorf("accounts: %w", errors.Join(ctx.Err(), err))
		}
	}
	return s, nil
}

// openSQLiteReadOnly opens path read-only (mode=ro, query_only), or an empty
// in-memory database when the file does not exist.
func openSQLiteReadOnly(path string) (*sqliteDatabase, error) {
	if path == "" || path == ":memory:" || strings.HasPrefix(path, "file::memory:") {
		return nil, errors.New("accounts: sqlite dsn: want a file path")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("accounts: sqlite dsn: %w", err)
	}
	uri := "file::memory:"
	if _, err := os.Stat(abs); err == nil {
		uri = (&url.URL{Scheme: "file", Path: abs}).String() + "?mode=ro&"
	} else if errors.Is(err, os.ErrNotExist) {
		uri += "?"
	} else {
		return nil, fmt.Errorf("accounts: sqlite: %w", err)
	}
	db, err := sql.Open("sqlite", uri+fmt.Sprintf("_pragma=busy_timeout(%d)&_pragma=query_only(1)", sqliteBusyTimeoutMS))
	if err != nil {
		return nil, fmt.Errorf("accounts: sqlite: %w", err)
	}
	db.SetMaxOpenConns(1) // one connection: an in-memory database is per connection
	db.SetMaxIdleConns(1)
	db.SetConnMaxIdleTime(0)
	return &sqliteDatabase{writer: db, reader: db}, nil
}

// readOnlyStore is a Store whose unification lookups skip the tables its
// schema lacks.
type readOnlyStore struct {
	*sqlStore
	tables map[string]bool
}

func (s *readOnlyStore) UnifyLookup(ctx context.Context, q UnifyQuery) (*UnifyFound, error) {
	return s.unifyLookup(ctx, q, func(t string) bool { return s.tables[t] })
}

func (s *readOnlyStore) LegacyRecords(ctx context.Context, source string, each func(LegacyRecord) error) error {
	if !s.tables[tableLegacyRecords] || !s.tables[tableConsoleAccounts] {
		return nil
	}
	return s.sqlStore.LegacyRecords(ctx, source, each)
}

// UnifyWrite always fails: the store is read-only.
func (s *readOnlyStore) UnifyWrite(context.Context, []UnifiedAccount) (int, error) {
	return 0, errors.New("accounts: UnifyWrite: store opened read-only")
}

// UnifyRefreshStats does nothing: the store is read-only.
func (s *readOnlyStore) UnifyRefreshStats(context.Context) error { return nil }
