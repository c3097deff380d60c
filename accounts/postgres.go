package accounts

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"runtime"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// OpenPostgres connects to PostgreSQL and applies pending migrations. dsn is a
// libpq URL or key=value string; any server setting can ride in it as a
// run-time parameter (search_path=tenant_a puts the tables in that schema,
// which must exist). pgxpool's settings ride in it too: pool_max_conns=N caps
// the connections (default max(4, NumCPU)).
func OpenPostgres(ctx context.Context, dsn string) (Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("accounts: postgres dsn: %w", err)
	}
	if !strings.Contains(dsn, "pool_max_conns") {
		cfg.MaxConns = int32(max(4, runtime.NumCPU()))
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("accounts: postgres: %w", err)
	}
	db := &pgDatabase{pool: pool}
	if err := db.setLockKey(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	s := newSQLStore(db)
	if err := migrate(ctx, db, s.now()); err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

// pgDatabase is the PostgreSQL driver.
type pgDatabase struct {
	pool *pgxpool.Pool
	// lockKey names the advisory lock that serialises migrations of this
	// schema; stores in other schemas of the same database do not wait.
	lockKey int64
}

func (d *pgDatabase) setLockKey(ctx context.Context) error {
	var schema *string
	err := withConn(ctx, d.pool, func(c *pgx.Conn) error {
		return c.QueryRow(ctx, "SELECT current_schema()").Scan(&schema)
	})
	if err != nil {
		return fmt.Errorf("accounts: postgres: %w", err)
	}
	if schema == nil {
		return errors.New("accounts: postgres: no schema of search_path exists")
	}
	h := fnv.New64a()
	h.Write([]byte("unigate/accounts/migrations\x00" + *schema))
	d.lockKey = int64(h.Sum64())
	return nil
}

func (d *pgDatabase) exec(ctx context.Context, sql string, args ...any) (n int64, err error) {
	err = withConn(ctx, d.pool, func(c *pgx.Conn) error {
		n, err = pgQuerier{c}.exec(ctx, sql, args...)
		return err
	})
	return n, err
}

func (d *pgDatabase) queryRow(ctx context.Context, sql string, args []any, dest ...any) error {
	return withConn(ctx, d.pool, func(c *pgx.Conn) error {
		return pgQuerier{c}.queryRow(ctx, sql, args, dest...)
	})
}

func (d *pgDatabase) query(ctx context.Context, sql string, args []any, each func(scan func(dest ...any) error) error) error {
	return withConn(ctx, d.pool, func(c *pgx.Conn) error {
		return pgQuerier{c}.query(ctx, sql, args, each)
	})
}

func (d *pgDatabase) inTx(ctx context.Context, fn func(q querier) error) error {
	return withConn(ctx, d.pool, func(c *pgx.Conn) error {
		return pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error { return fn(pgQuerier{tx}) })
	})
}

// migrationTx takes a transaction-scoped advisory lock first: a second process
// waits there until the first has committed, then finds nothing to do.
func (d *pgDatabase) migrationTx(ctx context.Context, fn func(q querier) error) error {
	return d.inTx(ctx, func(q querier) error {
		if _, err := q.exec(ctx, "SELECT pg_advisory_xact_lock($1)", d.lockKey); err != nil {
			return fmt.Errorf("migration lock: %w", err)
		}
		return fn(q)
	})
}

func (d *pgDatabase) violation(err error) (constraintViolation, bool) {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return constraintViolation{}, false
	}
	switch pgErr.Code {
	case "23505": // unique_violation
		return constraintViolation{kind: violationUnique, constraint: pgErr.ConstraintName}, true
	case "23503": // foreign_key_violation
		return constraintViolation{kind: violationForeignKey, constraint: pgErr.ConstraintName}, true
	}
	return constraintViolation{}, false
}

func (d *pgDatabase) ping(ctx context.Context) error {
	return withConn(ctx, d.pool, func(c *pgx.Conn) error { return c.Ping(ctx) })
}

func (d *pgDatabase) close() error {
	d.pool.Close()
	return nil
}

// withConn runs fn on a pooled connection. pgxpool pings a connection that
// sat idle before handing it out, so one closed by a server restart or a
// failover is replaced instead of failing the request.
func withConn(ctx context.Context, pool *pgxpool.Pool, fn func(c *pgx.Conn) error) error {
	return pool.AcquireFunc(ctx, func(c *pgxpool.Conn) error { return fn(c.Conn()) })
}

// pgRunner is what a *pgx.Conn and a pgx.Tx have in common.
type pgRunner interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// pgQuerier adapts a connection or transaction to querier.
type pgQuerier struct{ r pgRunner }

func (q pgQuerier) exec(ctx context.Context, sql string, args ...any) (int64, error) {
	tag, err := q.r.Exec(ctx, sql, args...)
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}

func (q pgQuerier) queryRow(ctx context.Context, sql string, args []any, dest ...any) error {
	err := q.r.QueryRow(ctx, sql, args...).Scan(dest...)
	if errors.Is(err, pgx.ErrNoRows) {
		return errNoRows
	}
	return err
}

func (q pgQuerier) query(ctx context.Context, sql string, args []any, each func(scan func(dest ...any) error) error) error {
	rows, err := q.r.Query(ctx, sql, args...)
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
