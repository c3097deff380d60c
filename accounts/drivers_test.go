package accounts

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"unigate/internal/testdb"
)

// The store's own tests: every suite of this package runs on every driver
// against a real database (PostgreSQL from UNIGATE_TEST_POSTGRES_DSN, SQLite
// in a temp dir), each test in a database of its own. The conformance suite
// of Store's own methods, through the interface only, is
// accountstest.Run (conformance_test.go); the tests below it read what the
// interface cannot show (exact timestamps, the stored audit trail, the
// migrations table).

type driverUnderTest struct {
	name  string
	newDB func(tb testing.TB) string // a fresh, empty database's DSN
}

var driversUnderTest = []driverUnderTest{
	{DriverPostgres, testdb.PostgresDSN},
	{DriverSQLite, testdb.SQLitePath},
}

var sqlStoreSuite = []suiteTest{
	{"Timestamps", testTimestamps},
	{"ErasingKeepsPasswordSetRequired", testErasingKeepsPasswordSetRequired},
	{"AuditTrail", testAuditTrail},
	{"MigrationsAppliedOnce", testMigrationsAppliedOnce},
}

func TestSQLStore(t *testing.T) {
	runSuite(t, sqlStoreSuite)
}

// suiteTest is one test of a conformance suite, run on every driver.
type suiteTest struct {
	name string
	test func(t *testing.T, d driverUnderTest)
}

// runSuite runs every test of suite on every driver, in parallel, each in a
// database of its own.
func runSuite(t *testing.T, suite []suiteTest) {
	for _, d := range driversUnderTest {
		t.Run(d.name, func(t *testing.T) {
			for _, tc := range suite {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					tc.test(t, d)
				})
			}
		})
	}
}

// replicas opens n stores on one fresh database, as n gateway replicas
// would share it.
func replicas(tb testing.TB, d driverUnderTest, n int) []*sqlStore {
	tb.Helper()
	dsn := d.newDB(tb)
	stores := make([]*sqlStore, n)
	for i := range stores {
		stores[i] = openStore(tb, d, dsn)
	}
	return stores
}

// race runs ops at once, each in its own goroutine, and returns their errors.
func race(ops ...func(ctx context.Context) error) []error {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	errs := make([]error, len(ops))
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, op := range ops {
		wg.Go(func() {
			<-start
			errs[i] = op(ctx)
		})
	}
	close(start)
	wg.Wait()
	return errs
}

// openStore opens a store on dsn, closed at cleanup.
func openStore(tb testing.TB, d driverUnderTest, dsn string) *sqlStore {
	tb.Helper()
	st, err := Open(context.Background(), d.name, dsn)
	if err != nil {
		tb.Fatalf("Open(%s): %v", d.name, err)
	}
	tb.Cleanup(func() { st.Close() })
	return st.(*sqlStore)
}

func newStore(tb testing.TB, d driverUnderTest) *sqlStore {
	tb.Helper()
	return openStore(tb, d, d.newDB(tb))
}

// fakeClock is a settable clock for one store.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func withFakeClock(s *sqlStore) *fakeClock {
	c := &fakeClock{t: time.Date(2025, 10, 1, 12, 30, 45, 123456789, time.FixedZone("CEST", 2*3600))}
	s.now = c.now
	return c
}

// testTimestamps: the store takes the time from its clock, keeps it to the
// nanosecond in UTC, and moves UpdatedAt only.
func testTimestamps(t *testing.T, d driverUnderTest) {
	ctx := context.Background()
	s := newStore(t, d)
	clock := withFakeClock(s)
	a := &Account{Email: "alice@example.com", PasswordSetRequired: true}
	if err := s.CreateAccount(ctx, a, nil); err != nil {
		t.Fatal(err)
	}
	if want := clock.now().UTC(); !a.CreatedAt.Equal(want) || !a.UpdatedAt.Equal(want) || a.CreatedAt.Location() != time.UTC {
		t.Errorf("CreatedAt, UpdatedAt = %v, %v; want %v in UTC", a.CreatedAt, a.UpdatedAt, want)
	}
	if got := mustGet(t, s, a.ID); *got != *a {
		t.Errorf("read back %+v, want %+v", *got, *a)
	}
	clock.advance(time.Hour)
	if err := s.SetPasswordHash(ctx, a.ID, mustHash(t, newCheapHasher(1), "new password")); err != nil {
		t.Fatal(err)
	}
	if got := mustGet(t, s, a.ID); !got.UpdatedAt.Equal(clock.now()) || !got.CreatedAt.Equal(a.CreatedAt) {
		t.Errorf("after SetPasswordHash: created %v, updated %v; want %v, %v", got.CreatedAt, got.UpdatedAt, a.CreatedAt, clock.now())
	}
}

// testErasingKeepsPasswordSetRequired: erasing a hash leaves the flag as
// the unification set it.
func testErasingKeepsPasswordSetRequired(t *testing.T, d driverUnderTest) {
	ctx := context.Background()
	s := newStore(t, d)
	a := mustCreate(t, s, "alice@example.com")
	if err := s.SetPasswordHash(ctx, a.ID, mustHash(t, newCheapHasher(1), "pw")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.exec(ctx, "UPDATE accounts SET password_set_required = TRUE WHERE id = $1", a.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.SetPasswordHash(ctx, a.ID, ""); err != nil {
		t.Fatalf("SetPasswordHash(\"\"): %v", err)
	}
	if got := mustGet(t, s, a.ID); got.PasswordHash != "" || !got.PasswordSetRequired {
		t.Errorf("after erasing: %+v, want no hash and PasswordSetRequired", got)
	}
}

// testAuditTrail: what RecordAudit stores, read back in order.
func testAuditTrail(t *testing.T, d driverUnderTest) {
	ctx := context.Background()
	s := newStore(t, d)
	clock := withFakeClock(s)
	a := mustCreate(t, s, "alice@example.com")
	at := time.Date(2025, 6, 1, 10, 0, 0, 0, time.UTC)
	events := []AuditEvent{
		{At: at, Kind: "login.success", AccountID: a.ID, IP: "192.0.2.1", Details: map[string]string{"method": "password", "mfa": "totp"}},
		{Kind: "login.failure", IP: "2001:db8::1", Details: map[string]string{"email": "nobody@example.com"}},
		{Kind: "lockout", AccountID: uuid.NewString()}, // accounts may be gone; the trail stays
	}
	for _, e := range events {
		if err := s.RecordAudit(ctx, e); err != nil {
			t.Fatalf("RecordAudit(%s): %v", e.Kind, err)
		}
	}
	got := readAudit(t, s)
	if len(got) != len(events) {
		t.Fatalf("read %d events, want %d", len(got), len(events))
	}
	events[1].At, events[2].At = clock.now(), clock.now()
	for i, e := range events {
		g := got[i]
		if !g.At.Equal(e.At) || g.Kind != e.Kind || g.AccountID != e.AccountID || g.IP != e.IP || fmt.Sprint(g.Details) != fmt.Sprint(e.Details) {
			t.Errorf("event %d = %+v, want %+v", i, g, e)
		}
	}
}

// readAudit reads the trail in the order it was written (uuid v7 ids).
func readAudit(tb testing.TB, s *sqlStore) []AuditEvent {
	tb.Helper()
	var out []AuditEvent
	err := s.db.query(context.Background(), "SELECT at, kind, account_id, ip, details FROM audit_events ORDER BY id", nil,
		func(scan func(...any) error) error {
			var e AuditEvent
			var at, details string
			var account, ip *string
			if err := scan(&at, &e.Kind, &account, &ip, &details); err != nil {
				return err
			}
			var err error
			if e.At, err = decodeTime(at); err != nil {
				return err
			}
			if account != nil {
				e.AccountID = *account
			}
			if ip != nil {
				e.IP = *ip
			}
			if details != "{}" {
				e.Details = map[string]string{}
				if err := json.Unmarshal([]byte(details), &e.Details); err != nil {
					return err
				}
			}
			out = append(out, e)
			return nil
		})
	if err != nil {
		tb.Fatalf("reading audit_events: %v", err)
	}
	return out
}

// testMigrationsAppliedOnce: stores opened one after the other, and
// replicas starting together on an empty database, apply each migration
// once.
func testMigrationsAppliedOnce(t *testing.T, d driverUnderTest) {
	want := int64(len(mustMigrations(t)))
	dsn := d.newDB(t)
	for i := range 3 {
		if n := countRows(t, openStore(t, d, dsn), "schema_migrations"); n != want {
			t.Errorf("after open %d: schema_migrations has %d rows, want %d", i+1, n, want)
		}
	}
	const replicas = 4
	fresh := d.newDB(t)
	stores := make([]*sqlStore, replicas)
	errs := race(func(ctx context.Context) error { return openInto(ctx, d, fresh, &stores[0]) },
		func(ctx context.Context) error { return openInto(ctx, d, fresh, &stores[1]) },
		func(ctx context.Context) error { return openInto(ctx, d, fresh, &stores[2]) },
		func(ctx context.Context) error { return openInto(ctx, d, fresh, &stores[3]) })
	for i, err := range errs {
		if err != nil {
			t.Errorf("replica %d: Open: %v", i, err)
			continue
		}
		t.Cleanup(func() { stores[i].Close() })
	}
	if t.Failed() {
		return
	}
	if n := countRows(t, stores[0], "schema_migrations"); n != want {
		t.Errorf("after concurrent opens: schema_migrations has %d rows, want %d", n, want)
	}
}

func openInto(ctx context.Context, d driverUnderTest, dsn string, into **sqlStore) error {
	st, err := Open(ctx, d.name, dsn)
	if err != nil {
		return err
	}
	*into = st.(*sqlStore)
	return nil
}

func mustCreate(tb testing.TB, s Store, email string, consoles ...ConsoleAccount) *Account {
	tb.Helper()
	a := &Account{Email: email}
	if err := s.CreateAccount(context.Background(), a, consoles); err != nil {
		tb.Fatalf("CreateAccount(%s): %v", email, err)
	}
	return a
}

func mustGet(tb testing.TB, s Store, id string) *Account {
	tb.Helper()
	a, err := s.AccountByID(context.Background(), id)
	if err != nil {
		tb.Fatalf("AccountByID: %v", err)
	}
	return a
}

func countRows(tb testing.TB, s *sqlStore, table string) int64 {
	tb.Helper()
	var n int64
	if err := s.db.queryRow(context.Background(), "SELECT COUNT(*) FROM "+table, nil, &n); err != nil {
		tb.Fatalf("counting %s: %v", table, err)
	}
	return n
}

func mustMigrations(tb testing.TB) []migration {
	tb.Helper()
	migs, err := loadMigrations(migrationFiles, "migrations")
	if err != nil {
		tb.Fatal(err)
	}
	return migs
}
