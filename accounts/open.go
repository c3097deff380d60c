package accounts

import (
	"context"
	"fmt"
)

// Driver names accepted by Open (config key accounts.driver).
const (
	DriverPostgres = "postgres"
	DriverSQLite   = "sqlite"
)

// Open connects to the account store and brings its schema up to date.
// driver is "postgres" (dsn: a libpq URL or key=value string, see
// OpenPostgres) or "sqlite" (dsn: a file path, see OpenSQLite).
func Open(ctx context.Context, driver, dsn string) (Store, error) {
	switch driver {
	case DriverPostgres:
		return OpenPostgres(ctx, dsn)
	case DriverSQLite:
		return OpenSQLite(ctx, dsn)
	default:
		return nil, fmt.Errorf("accounts: unknown driver %q (want %q or %q)", driver, DriverPostgres, DriverSQLite)
	}
}
