package accounts_test

import (
	"testing"

	"unigate/accounts"
	"unigate/accounts/accountstest"
)

// TestStore runs the conformance suite on both drivers through the Store
// interface, as it would run on a store written elsewhere.
func TestStore(t *testing.T) {
	for _, driver := range []string{accounts.DriverPostgres, accounts.DriverSQLite} {
		t.Run(driver, func(t *testing.T) {
			accountstest.Run(t, accountstest.SQL(driver))
		})
	}
}
