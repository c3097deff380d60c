package accounts

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// The store's SQL is written once for both drivers (sqlstore.go). Statements
// use $1, $2 … placeholders, which PostgreSQL and modernc's SQLite both bind by
// position, and only types both understand: TEXT, BIGINT, BOOLEAN (0/1 in
// SQLite). What differs per driver sits behind database.

// querier runs SQL, outside or inside a transaction.
type querier interface {
	// exec runs a statement and returns the number of rows it changed.
	exec(ctx context.Context, sql string, args ...any) (int64, error)
	// queryRow scans the first row into dest; errNoRows when there is none.
	queryRow(ctx context.Context, sql string, args []any, dest ...any) error
	// query calls each once per row; scan fills its arguments from that row.
	query(ctx context.Context, sql string, args []any, each func(scan func(dest ...any) error) error) error
}

// database is one driver's connection to the account store.
type database interface {
	// Outside a transaction. On SQLite, reads use the read pool and exec the
	// single writer connection.
	querier
	// inTx runs fn in a write transaction, committed when fn returns nil and
	// rolled back otherwise. On SQLite it begins IMMEDIATE: the write lock is
	// taken first, so a transaction never fails half way with SQLITE_BUSY.
	inTx(ctx context.Context, fn func(q querier) error) error
	// migrationTx is inTx holding the store-wide migration lock, so that two
	// processes starting at once apply each migration once.
	migrationTx(ctx context.Context, fn func(q querier) error) error
	// violation describes err when it is a constraint violation.
	violation(err error) (constraintViolation, bool)
	ping(ctx context.Context) error
	close() error
}

// constraintViolation is a driver's constraint error in neutral terms.
// Constraint names follow PostgreSQL's defaults (table_pkey,
// table_col1_col2_key): PostgreSQL reports them as they are, and the SQLite
// driver rebuilds them from the table and columns it reports, so the
// migrations must name every unique constraint that way.
type constraintViolation struct {
	kind       violationKind
	constraint string // for unique violations
}

type violationKind int

const (
	violationUnique violationKind = iota + 1
	violationForeignKey
)

// errNoRows is what queryRow returns when the query matched nothing.
var errNoRows = errors.New("accounts: no rows")

// timeLayout stores times as fixed-width RFC 3339 text in UTC, with
// nanoseconds: readable in psql and sqlite3, the same on both drivers, and in
// the same order as text as in time.
const timeLayout = "2006-01-02T15:04:05.000000000Z"

func encodeTime(t time.Time) (string, error) {
	t = t.UTC()
	if y := t.Year(); y < 1 || y > 9999 {
		return "", fmt.Errorf("accounts: time %v out of range", t)
	}
	return t.Format(timeLayout), nil
}

func decodeTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("accounts: stored time %q: %w", s, err)
	}
	return t.UTC(), nil
}

// nullTime encodes t, or maps the zero time to SQL NULL, for optional time
// columns.
func nullTime(t time.Time) (any, error) {
	if t.IsZero() {
		return nil, nil
	}
	return encodeTime(t)
}

// nullString maps "" to SQL NULL, for optional columns.
func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}
