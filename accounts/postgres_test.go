package accounts

import (
	"context"
	"errors"
	"net/url"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"unigate/internal/testdb"
)

// TestPostgresReconnects: connections closed by the server (a restart, a
// failover) are noticed before reuse and replaced, so no request fails.
func TestPostgresReconnects(t *testing.T) {
	ctx := context.Background()
	dsn := testdb.PostgresDSN(t)
	app := "unigate_accounts_test_" + randomHex(t)
	s := openStore(t, driverUnderTest{name: DriverPostgres}, withParam(t, dsn, "application_name", app))
	if err := s.Ping(ctx); err != nil {
		t.Fatal(err)
	}

	admin, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	// Only this store's connections, named by application_name: other tests
	// share the server.
	var killed int
	err = admin.QueryRow(ctx, `SELECT COUNT(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE application_name = $1 AND pid <> pg_backend_pid()) t`, app).Scan(&killed)
	if err != nil || killed == 0 {
		t.Fatalf("terminated %d backends: %v", killed, err)
	}

	time.Sleep(1100 * time.Millisecond) // pgxpool pings connections idle for a second or more
	if _, err := s.AccountByEmail(ctx, "nobody@example.com"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after the server closed the connections: %v, want ErrNotFound", err)
	}
	mustCreate(t, s, "alice@example.com")
}

// TestPostgresPoolLimit: pool_max_conns caps the connections, and callers
// queue for them instead of failing.
func TestPostgresPoolLimit(t *testing.T) {
	dsn := withParam(t, testdb.PostgresDSN(t), "pool_max_conns", "1")
	s := openStore(t, driverUnderTest{name: DriverPostgres}, dsn)
	if got := s.db.(*pgDatabase).pool.Config().MaxConns; got != 1 {
		t.Fatalf("pool size = %d, want 1", got)
	}
	errs := make(chan error, 10)
	for i := range 10 {
		go func() {
			errs <- s.CreateAccount(context.Background(), &Account{Email: "u" + string(rune('a'+i)) + "@example.com"}, nil)
		}()
	}
	for range 10 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

// TestPostgresSchemaMustExist: a search_path naming no existing schema is an
// error at Open, not tables created somewhere unexpected.
func TestPostgresSchemaMustExist(t *testing.T) {
	dsn := withParam(t, testdb.PostgresDSN(t), "search_path", "unigate_no_such_schema")
	if st, err := Open(context.Background(), DriverPostgres, dsn); err == nil {
		st.Close()
		t.Fatal("Open succeeded without a schema")
	}
}

func withParam(tb testing.TB, dsn, key, value string) string {
	tb.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		tb.Fatal(err)
	}
	q := u.Query()
	q.Set(key, value)
	u.RawQuery = q.Encode()
	return u.String()
}

func randomHex(tb testing.TB) string {
	tb.Helper()
	const digits = "0123456789abcdef"
	b := randomBytes(8)
	out := make([]byte, 0, 16)
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}
