// Package accountstest gives tests real, empty account-store databases (a
// fresh PostgreSQL schema or a fresh SQLite file, removed when the test ends)
// and the conformance suite every accounts.Store must pass (Run).
//
// The account store's own (internal) tests cannot import this package, which
// imports accounts: they use unigate/internal/testdb, whose helpers the
// names below are.
package accountstest

import (
	"testing"

	"unigate/internal/testdb"
)

// Environment read by the helpers.
const (
	// EnvPostgresDSN names the PostgreSQL server tests use.
	EnvPostgresDSN = testdb.EnvPostgresDSN
	// EnvRequireServices set to 1 (as CI does) turns a missing service from
	// a skip into a failure, so that a green run cannot hide untested code.
	EnvRequireServices = testdb.EnvRequireServices
	// DefaultPostgresDSN is used when EnvPostgresDSN is empty.
	DefaultPostgresDSN = testdb.DefaultPostgresDSN
)

// ServiceUnavailable ends the test because service could not be reached: a
// skip on a developer's machine, a failure when UNIGATE_REQUIRE_SERVICES=1.
func ServiceUnavailable(tb testing.TB, service string, err error) {
	tb.Helper()
	testdb.ServiceUnavailable(tb, service, err)
}

// PostgresDSN creates an empty schema with a random name and returns a DSN
// whose search_path is that schema; the schema is dropped at cleanup.
func PostgresDSN(tb testing.TB) string {
	tb.Helper()
	return testdb.PostgresDSN(tb)
}

// SQLitePath returns the path of a database file that does not exist yet, in
// a directory removed at cleanup.
func SQLitePath(tb testing.TB) string {
	tb.Helper()
	return testdb.SQLitePath(tb)
}

// PostgresSchema describes the indexes, constraints and triggers of the
// schema dsn's search_path names (see testdb.PostgresSchema).
func PostgresSchema(tb testing.TB, dsn string) string {
	tb.Helper()
	return testdb.PostgresSchema(tb, dsn)
}
