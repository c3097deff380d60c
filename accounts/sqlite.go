package accounts

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// sqliteBusyTimeoutMS is how long a connection waits for another process's
// write lock before giving up with SQLITE_BUSY (modernc also stops waiting
// when the call's context ends).
const sqliteBusyTimeoutMS = 10000

// OpenSQLite opens (creating if needed) the SQLite database at path and
// applies pending migrations. Several processes may share the file:
//
//   - WAL journal: readers never wait for the writer, nor it for them;
//   - one writer connection per process, and every write transaction begins
//     IMMEDIATE, so it holds the write lock from its first statement and
//     cannot fail half way with SQLITE_BUSY; between processes the lock is
//     awaited for up to busy_timeout;
//   - synchronous=FULL: a committed account survives a power cut (writes are
//     rare next to reads, so the fsync per commit is cheap);
//   - foreign_keys on, and the read connections are query_only;
//   - a new file is created with mode 0600.
func OpenSQLite(ctx context.Context, path string) (Store, error) {
	if path == "" || path == ":memory:" || strings.HasPrefix(path, "file::memory:") {
		// Each connection would get its own empty in-memory database.
		return nil, errors.New("accounts: sqlite dsn: want a file path")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("accounts: sqlite dsn: %w", err)
	}
	// The file holds password hashes: only its owner may read it. SQLite gives
	// the -wal and -shm files the same mode as the database file.
	if f, err := os.OpenFile(abs, os.O_RDWR|os.O_CREATE, 0o600); err != nil {
		return nil, fmt.Errorf("accounts: sqlite: %w", err)
	} else if err := f.Close(); err != nil {
		return nil, fmt.Errorf("accounts: sqlite: %w", err)
	}
	// A file: URI with the path escaped, so that '?', '#' or '%' in a file
	// name cannot be read as parameters.
	uri := (&url.URL{Scheme: "file", Path: abs}).String()
	common := fmt.Sprintf("_pragma=busy_timeout(%d)&_pragma=foreign_keys(1)", sqliteBusyTimeoutMS)

	writer, err := sql.Open("sqlite", uri+"?"+common+
		"&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("accounts: sqlite: %w", err)
	}
	writer.SetMaxOpenConns(1)
	writer.SetMaxIdleConns(1)
	writer.SetConnMaxIdleTime(0)
	if err := pingWhileBusy(ctx, writer); err != nil {
		writer.Close()
		return nil, fmt.Errorf("accounts: sqlite: %w", err)
	}

	reader, err := sql.Open("sqlite", uri+"?"+common+"&_pragma=query_only(1)")
	if err != nil {
		writer.Close()
		return nil, fmt.Errorf("accounts: sqlite: %w", err)
	}
	reader.SetMaxOpenConns(max(4, runtime.NumCPU()))
	reader.SetMaxIdleConns(max(4, runtime.NumCPU()))

	db := &sqliteDatabase{writer: writer, reader: reader}
	s := newSQLStore(db)
	if err := migrate(ctx, db, s.now()); err != nil {
		db.close()
		return nil, err
	}
	return s, nil
}

// pingWhileBusy opens the writer's connection, waiting out SQLITE_BUSY:
// switching a new file to WAL needs a moment of exclusive access, and SQLite
// answers BUSY at once (without its busy handler) while another process
// starting at the same time holds the file.
func pingWhileBusy(ctx context.Context, db *sql.DB) error {
	ctx, cancel := context.WithTimeout(ctx, sqliteBusyTimeoutMS*time.Millisecond)
	defer cancel()
	for wait := 5 * time.Millisecond; ; wait = min(2*wait, 200*time.Millisecond) {
		err := db.PingContext(ctx)
		if err == nil || !strings.Contains(err.Error(), "SQLITE_BUSY") {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
	}
}

// sqliteDatabase is the SQLite driver: one writer connection, a read pool.
type sqliteDatabase struct {
	writer, reader *sql.DB
}

func (d *sqliteDatabase) exec(ctx context.Context, query string, args ...any) (int64, error) {
	return sqlQuerier{d.writer}.exec(ctx, query, args...)
}

func (d *sqliteDatabase) queryRow(ctx context.Context, query string, args []any, dest ...any) error {
	return sqlQuerier{d.reader}.queryRow(ctx, query, args, dest...)
}

func (d *sqliteDatabase) query(ctx context.Context, query string, args []any, each func(scan func(dest ...any) error) error) error {
	return sqlQuerier{d.reader}.query(ctx, query, args, each)
}

// inTx begins IMMEDIATE (the writer's DSN sets _txlock) on the one writer
// connection; callers in this process queue for it in database/sql.
func (d *sqliteDatabase) inTx(ctx context.Context, fn func(q querier) error) error {
	tx, err := d.writer.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(sqlQuerier{tx}); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// migrationTx needs no lock of its own: BEGIN IMMEDIATE already excludes every
// other writer, in this process and in others.
func (d *sqliteDatabase) migrationTx(ctx context.Context, fn func(q querier) error) error {
	return d.inTx(ctx, fn)
}

// violation reads SQLite's extended result code and its message, "UNIQUE
// constraint failed: table.col1, table.col2", and names the constraint the way
// PostgreSQL would by default.
func (d *sqliteDatabase) violation(err error) (constraintViolation, bool) {
	var sqlErr *sqlite.Error
	if !errors.As(err, &sqlErr) {
		return constraintViolation{}, false
	}
	switch sqlErr.Code() {
	case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
		return constraintViolation{kind: violationForeignKey}, true
	case sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		table, _ := uniqueColumns(sqlErr.Error())
		return constraintViolation{kind: violationUnique, constraint: table + "_pkey"}, true
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE:
		table, cols := uniqueColumns(sqlErr.Error())
		return constraintViolation{kind: violationUnique, constraint: table + "_" + strings.Join(cols, "_") + "_key"}, true
	}
	return constraintViolation{}, false
}

// uniqueColumns parses the table and columns out of a UNIQUE or PRIMARY KEY
// failure message.
func uniqueColumns(msg string) (table string, cols []string) {
	const marker = "constraint failed: "
	i := strings.LastIndex(msg, marker)
	if i < 0 {
		return "", nil
	}
	list := msg[i+len(marker):]
	if j := strings.Index(list, " ("); j >= 0 { // modernc appends " (2067)"
		list = list[:j]
	}
	for _, tc := range strings.Split(list, ", ") {
		t, c, ok := strings.Cut(tc, ".")
		if !ok {
			return "", nil
		}
		table, cols = t, append(cols, c)
	}
	return table, cols
}

func (d *sqliteDatabase) ping(ctx context.Context) error {
	var one int
	return d.reader.QueryRowContext(ctx, "SELECT 1").Scan(&one)
}

func (d *sqliteDatabase) close() error {
	return errors.Join(d.reader.Close(), d.writer.Close())
}

// sqlRunner is what *sql.DB and *sql.Tx have in common.
type sqlRunner interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// sqlQuerier adapts database/sql to querier.
type sqlQuerier struct{ r sqlRunner }

func (q sqlQuerier) exec(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := q.r.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (q sqlQuerier) queryRow(ctx context.Context, query string, args []any, dest ...any) error {
	err := q.r.QueryRowContext(ctx, query, args...).Scan(dest...)
	if errors.Is(err, sql.ErrNoRows) {
		return errNoRows
	}
	return err
}

func (q sqlQuerier) query(ctx context.Context, query string, args []any, each func(scan func(dest ...any) error) error) error {
	rows, err := q.r.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := each(rows.Scan); err != nil {
			return err
		}
	}
	return rows.Err()
}
