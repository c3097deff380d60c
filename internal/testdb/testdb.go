// Package testdb gives tests real, empty databases: a fresh PostgreSQL schema
// or a fresh SQLite file, removed when the test ends. It imports nothing of
// the module, so that the account store's own tests can use it too
// (accounts/accountstest, which imports accounts, re-exports it for the rest).
package testdb

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Environment read by the helpers.
const (
	// EnvPostgresDSN names the PostgreSQL server tests use.
	EnvPostgresDSN = "UNIGATE_TEST_POSTGRES_DSN"
	// EnvRequireServices set to 1 (as CI does) turns a missing service from
	// a skip into a failure, so that a green run cannot hide untested code.
	EnvRequireServices = "UNIGATE_REQUIRE_SERVICES"
	// DefaultPostgresDSN is used when EnvPostgresDSN is empty.
	DefaultPostgresDSN = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
)

// ServiceUnavailable ends the test because service could not be reached: a
// skip on a developer's machine, a failure when UNIGATE_REQUIRE_SERVICES=1.
func ServiceUnavailable(tb testing.TB, service string, err error) {
	tb.Helper()
	if os.Getenv(EnvRequireServices) == "1" {
		tb.Fatalf("%s unavailable and %s=1: %v", service, EnvRequireServices, err)
	}
	tb.Skipf("%s unavailable (set %s=1 to fail instead): %v", service, EnvRequireServices, err)
}

// PostgresDSN creates an empty schema with a random name and returns a DSN
// whose search_path is that schema, so tests in parallel, in this package or
// others, never see each other's tables. The schema is dropped at cleanup,
// after anything the test registered later (such as closing its store).
func PostgresDSN(tb testing.TB) string {
	tb.Helper()
	base := os.Getenv(EnvPostgresDSN)
	if base == "" {
		base = DefaultPostgresDSN
	}
	schema := "unigate_test_" + randomHex(8)
	ident := pgx.Identifier{schema}.Sanitize()
	if err := adminExec(base, "CREATE SCHEMA "+ident); err != nil {
		ServiceUnavailable(tb, "PostgreSQL", err)
	}
	tb.Cleanup(func() {
		if err := adminExec(base, "DROP SCHEMA "+ident+" CASCADE"); err != nil {
			tb.Errorf("dropping test schema %s: %v", schema, err)
		}
	})
	return withSearchPath(base, schema)
}

// SQLitePath returns the path of a database file that does not exist yet, in
// a directory removed at cleanup.
func SQLitePath(tb testing.TB) string {
	tb.Helper()
	return filepath.Join(tb.TempDir(), "accounts.db")
}

func adminExec(dsn, sql string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql)
	return err
}

// withSearchPath adds search_path to a URL or key=value DSN; pgx sends unknown
// parameters to the server as run-time settings.
func withSearchPath(dsn, schema string) string {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err == nil {
			q := u.Query()
			q.Set("search_path", schema)
			u.RawQuery = q.Encode()
			return u.String()
		}
	}
	return dsn + " search_path=" + schema
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// PostgresSchema describes the indexes, constraints and triggers of the
// schema dsn's search_path names, as the catalog defines them: what a bulk
// load of the unification must leave as the migrations made it. The schema's
// name and the digits of the triggers' names (the oids PostgreSQL numbers
// them by) are left out, so that two schemas compare equal.
func PostgresSchema(tb testing.TB, dsn string) string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		tb.Fatal(err)
	}
	defer conn.Close(context.Background())
	var schema string
	if err := conn.QueryRow(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
		tb.Fatal(err)
	}
	rows, err := conn.Query(ctx, `
		SELECT 'index ' || indexname || ': ' || indexdef FROM pg_indexes WHERE schemaname = current_schema()
		UNION ALL
		SELECT 'constraint ' || conrelid::regclass::text || ' ' || conname || ': ' || pg_get_constraintdef(oid)
			|| CASE WHEN convalidated THEN '' ELSE ' NOT VALID' END
		FROM pg_constraint WHERE connamespace = current_schema()::regnamespace
		UNION ALL
		SELECT 'trigger ' || tgrelid::regclass::text || ' ' || translate(tgname, '0123456789', '')
			|| CASE WHEN tgenabled = 'O' THEN '' ELSE ' disabled' END
		FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid WHERE c.relnamespace = current_schema()::regnamespace
		ORDER BY 1`)
	if err != nil {
		tb.Fatal(err)
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		tb.Fatal(err)
	}
	return strings.ReplaceAll(strings.Join(lines, "\n"), schema+".", "")
}
