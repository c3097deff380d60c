package accounts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"unigate/accounts/accountstest"
)

// The conformance suite: every Store driver passes the same tests against a
// real database (PostgreSQL from UNIGATE_TEST_POSTGRES_DSN, SQLite in a temp
// dir), each test in a database of its own.

type driverUnderTest struct {
	name  string
	newDB func(tb testing.TB) string // a fresh, empty database's DSN
}

var driversUnderTest = []driverUnderTest{
	{DriverPostgres, accountstest.PostgresDSN},
	{DriverSQLite, accountstest.SQLitePath},
}

var storeSuite = []suiteTest{
	{"CreateAndGet", testCreateAndGet},
	{"NotFound", testNotFound},
	{"DuplicateEmail", testDuplicateEmail},
	{"DuplicateConsoleAccount", testDuplicateConsoleAccount},
	{"CreateRefusesBadInput", testCreateRefusesBadInput},
	{"ConsoleAccountsOrder", testConsoleAccountsOrder},
	{"AddConsoleAccount", testAddConsoleAccount},
	{"SetPasswordHash", testSetPasswordHash},
	{"RecordAudit", testRecordAudit},
	{"ConcurrentCreateSameEmail", testConcurrentCreateSameEmail},
	{"MigrationsIdempotent", testMigrationsIdempotent},
	{"ConcurrentOpen", testConcurrentOpen},
	{"Ping", testPing},
	{"TwoStoresWriteConcurrently", testTwoStoresWriteConcurrently},
}

func TestStore(t *testing.T) {
	runSuite(t, storeSuite)
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

func testCreateAndGet(t *testing.T, d driverUnderTest) {
	ctx := context.Background()
	s := newStore(t, d)
	clock := withFakeClock(s)
	hash := mustHash(t, newCheapHasher(1), "pw")
	linked := time.Date(2024, 3, 1, 8, 0, 0, 0, time.UTC)
	a := &Account{
		Email:             "alice@example.com",
		EmailVerified:     true,
		PasswordHash:      hash,
		MFAEnrollRequired: true,
	}
	err := s.CreateAccount(ctx, a, []ConsoleAccount{
		{Console: ConsoleScaleway, ExternalID: "sw-1"},
		{Console: ConsoleDedibox, ExternalID: "42", Prelinked: true, LinkedAt: linked},
	})
	if err != nil {
		t.Fatalf("CreateAccount: %v", err)
	}
	if id, err := uuid.Parse(a.ID); err != nil || id.Version() != 4 {
		t.Errorf("generated ID = %q, want a uuid v4", a.ID)
	}
	if a.Locale != "en" {
		t.Errorf("Locale = %q, want default \"en\"", a.Locale)
	}
	if want := clock.now().UTC(); !a.CreatedAt.Equal(want) || !a.UpdatedAt.Equal(want) || a.CreatedAt.Location() != time.UTC {
		t.Errorf("CreatedAt, UpdatedAt = %v, %v; want %v in UTC", a.CreatedAt, a.UpdatedAt, want)
	}
	byEmail, err := s.AccountByEmail(ctx, "alice@example.com")
	if err != nil {
		t.Fatalf("AccountByEmail: %v", err)
	}
	byID, err := s.AccountByID(ctx, a.ID)
	if err != nil {
		t.Fatalf("AccountByID: %v", err)
	}
	for _, got := range []*Account{byEmail, byID} {
		if *got != *a {
			t.Errorf("read back %+v, want %+v", *got, *a)
		}
	}
	cas, err := s.ConsoleAccounts(ctx, a.ID)
	if err != nil {
		t.Fatalf("ConsoleAccounts: %v", err)
	}
	want := []ConsoleAccount{
		{AccountID: a.ID, Console: ConsoleDedibox, ExternalID: "42", Prelinked: true, LinkedAt: linked},
		{AccountID: a.ID, Console: ConsoleScaleway, ExternalID: "sw-1"},
	}
	if fmt.Sprint(cas) != fmt.Sprint(want) {
		t.Errorf("ConsoleAccounts = %+v, want %+v", cas, want)
	}

	// Caller-chosen id, creation time and locale are kept.
	b := &Account{ID: "11111111-2222-4333-8444-555555555555", Email: "bob@example.com", Locale: "fr",
		PasswordSetRequired: true, CreatedAt: time.Date(2019, 1, 2, 3, 4, 5, 0, time.UTC)}
	if err := s.CreateAccount(ctx, b, nil); err != nil {
		t.Fatalf("CreateAccount(with id): %v", err)
	}
	got, err := s.AccountByID(ctx, b.ID)
	if err != nil {
		t.Fatal(err)
	}
	if *got != *b || got.Locale != "fr" || got.PasswordHash != "" || !got.CreatedAt.Equal(b.CreatedAt) {
		t.Errorf("read back %+v, want %+v", *got, *b)
	}
}

func testNotFound(t *testing.T, d driverUnderTest) {
	ctx := context.Background()
	s := newStore(t, d)
	if _, err := s.AccountByEmail(ctx, "nobody@example.com"); !errors.Is(err, ErrNotFound) {
		t.Errorf("AccountByEmail(unknown) error = %v, want ErrNotFound", err)
	}
	if _, err := s.AccountByID(ctx, uuid.NewString()); !errors.Is(err, ErrNotFound) {
		t.Errorf("AccountByID(unknown) error = %v, want ErrNotFound", err)
	}
	cas, err := s.ConsoleAccounts(ctx, uuid.NewString())
	if err != nil || len(cas) != 0 {
		t.Errorf("ConsoleAccounts(unknown) = %v, %v; want none, nil", cas, err)
	}
}

func testDuplicateEmail(t *testing.T, d driverUnderTest) {
	ctx := context.Background()
	s := newStore(t, d)
	mustCreate(t, s, "alice@example.com", ConsoleAccount{Console: ConsoleDedibox, ExternalID: "1"})
	err := s.CreateAccount(ctx, &Account{Email: "alice@example.com"}, []ConsoleAccount{{Console: ConsoleDedibox, ExternalID: "2"}})
	if !errors.Is(err, ErrEmailTaken) {
		t.Fatalf("second CreateAccount error = %v, want ErrEmailTaken", err)
	}
	// The whole transaction was rolled back: console account 2 is free.
	mustCreate(t, s, "other@example.com", ConsoleAccount{Console: ConsoleDedibox, ExternalID: "2"})
	// Look-alikes are other addresses (SECURITY.md §10).
	mustCreate(t, s, "\u0430lice@example.com")
}

func testDuplicateConsoleAccount(t *testing.T, d driverUnderTest) {
	ctx := context.Background()
	s := newStore(t, d)
	mustCreate(t, s, "alice@example.com", ConsoleAccount{Console: ConsoleDedibox, ExternalID: "1"})
	err := s.CreateAccount(ctx, &Account{Email: "bob@example.com"}, []ConsoleAccount{
		{Console: ConsoleScaleway, ExternalID: "s-1"},
		{Console: ConsoleDedibox, ExternalID: "1"},
	})
	if !errors.Is(err, ErrConsoleAccountTaken) {
		t.Fatalf("CreateAccount error = %v, want ErrConsoleAccountTaken", err)
	}
	if _, err := s.AccountByEmail(ctx, "bob@example.com"); !errors.Is(err, ErrNotFound) {
		t.Errorf("account of the failed create exists: %v", err)
	}
	err = s.CreateAccount(ctx, &Account{Email: "carol@example.com"}, []ConsoleAccount{
		{Console: ConsoleScaleway, ExternalID: "s-2"},
		{Console: ConsoleScaleway, ExternalID: "s-2"},
	})
	if !errors.Is(err, ErrConsoleAccountTaken) {
		t.Fatalf("CreateAccount(same console account twice) error = %v, want ErrConsoleAccountTaken", err)
	}
	// The same external id in another console is another account.
	mustCreate(t, s, "dave@example.com", ConsoleAccount{Console: ConsoleScaleway, ExternalID: "1"})
}

func testCreateRefusesBadInput(t *testing.T, d driverUnderTest) {
	ctx := context.Background()
	s := newStore(t, d)
	for _, email := range []string{"", "Alice@example.com", " alice@example.com", "alice@example.com.", "jose\u0301@example.com"} {
		if err := s.CreateAccount(ctx, &Account{Email: email}, nil); !errors.Is(err, ErrInvalidEmail) {
			t.Errorf("CreateAccount(%+q) error = %v, want ErrInvalidEmail", email, err)
		}
	}
	if err := s.CreateAccount(ctx, &Account{Email: "a@example.com", PasswordHash: "plaintext"}, nil); !errors.Is(err, ErrInvalidHash) {
		t.Errorf("CreateAccount(bad hash) error = %v, want ErrInvalidHash", err)
	}
	err := s.CreateAccount(ctx, &Account{Email: "a@example.com"}, []ConsoleAccount{{Console: ConsoleDedibox}})
	if err == nil {
		t.Error("CreateAccount(console account without external id) succeeded")
	}
	err = s.CreateAccount(ctx, &Account{Email: "a@example.com"}, []ConsoleAccount{{AccountID: "someone-else", Console: ConsoleDedibox, ExternalID: "1"}})
	if err == nil {
		t.Error("CreateAccount(console account of another account) succeeded")
	}
	a := mustCreate(t, s, "a@example.com")
	if err := s.CreateAccount(ctx, &Account{ID: a.ID, Email: "b@example.com"}, nil); err == nil || errors.Is(err, ErrEmailTaken) {
		t.Errorf("CreateAccount(existing id) error = %v, want a non-email error", err)
	}
}

func testConsoleAccountsOrder(t *testing.T, d driverUnderTest) {
	ctx := context.Background()
	s := newStore(t, d)
	a := mustCreate(t, s, "alice@example.com",
		ConsoleAccount{Console: ConsoleScaleway, ExternalID: "b"},
		ConsoleAccount{Console: ConsoleDedibox, ExternalID: "2"},
		ConsoleAccount{Console: ConsoleScaleway, ExternalID: "B"},
	)
	for _, id := range []string{"10", "1", "\u00e9"} {
		if err := s.AddConsoleAccount(ctx, ConsoleAccount{AccountID: a.ID, Console: ConsoleDedibox, ExternalID: id}); err != nil {
			t.Fatal(err)
		}
	}
	mustCreate(t, s, "other@example.com", ConsoleAccount{Console: ConsoleDedibox, ExternalID: "0"})
	cas, err := s.ConsoleAccounts(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, ca := range cas {
		got = append(got, ca.Console+"/"+ca.ExternalID)
	}
	want := []string{"dedibox/1", "dedibox/10", "dedibox/2", "dedibox/\u00e9", "scaleway/B", "scaleway/b"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("ConsoleAccounts order = %q, want %q (bytewise)", got, want)
	}
}

func testAddConsoleAccount(t *testing.T, d driverUnderTest) {
	ctx := context.Background()
	s := newStore(t, d)
	a := mustCreate(t, s, "alice@example.com", ConsoleAccount{Console: ConsoleDedibox, ExternalID: "1"})
	b := mustCreate(t, s, "bob@example.com")
	if err := s.AddConsoleAccount(ctx, ConsoleAccount{AccountID: b.ID, Console: ConsoleDedibox, ExternalID: "1"}); !errors.Is(err, ErrConsoleAccountTaken) {
		t.Errorf("AddConsoleAccount(taken) error = %v, want ErrConsoleAccountTaken", err)
	}
	if err := s.AddConsoleAccount(ctx, ConsoleAccount{AccountID: uuid.NewString(), Console: ConsoleDedibox, ExternalID: "9"}); !errors.Is(err, ErrNotFound) {
		t.Errorf("AddConsoleAccount(unknown account) error = %v, want ErrNotFound", err)
	}
	if err := s.AddConsoleAccount(ctx, ConsoleAccount{AccountID: a.ID, Console: ConsoleDedibox}); err == nil {
		t.Error("AddConsoleAccount(no external id) succeeded")
	}
	linked := time.Date(2025, 1, 2, 3, 4, 5, 6, time.FixedZone("X", -3600))
	if err := s.AddConsoleAccount(ctx, ConsoleAccount{AccountID: a.ID, Console: ConsoleScaleway, ExternalID: "s", Prelinked: true, LinkedAt: linked}); err != nil {
		t.Fatal(err)
	}
	cas, err := s.ConsoleAccounts(ctx, a.ID)
	if err != nil || len(cas) != 2 {
		t.Fatalf("ConsoleAccounts = %v, %v; want 2", cas, err)
	}
	if got := cas[1]; !got.Prelinked || !got.LinkedAt.Equal(linked) || got.LinkedAt.Location() != time.UTC {
		t.Errorf("added %+v, want prelinked, linked at %v in UTC", got, linked)
	}
	if got := cas[0]; got.Prelinked || !got.LinkedAt.IsZero() {
		t.Errorf("console account %+v, want not prelinked and no LinkedAt", got)
	}
}

func testSetPasswordHash(t *testing.T, d driverUnderTest) {
	ctx := context.Background()
	s := newStore(t, d)
	clock := withFakeClock(s)
	a := &Account{Email: "alice@example.com", PasswordSetRequired: true}
	if err := s.CreateAccount(ctx, a, nil); err != nil {
		t.Fatal(err)
	}
	clock.advance(time.Hour)
	hash := mustHash(t, newCheapHasher(1), "new password")
	if err := s.SetPasswordHash(ctx, a.ID, hash); err != nil {
		t.Fatalf("SetPasswordHash: %v", err)
	}
	got := mustGet(t, s, a.ID)
	if got.PasswordHash != hash || got.PasswordSetRequired || !got.UpdatedAt.Equal(clock.now()) || !got.CreatedAt.Equal(a.CreatedAt) {
		t.Errorf("after SetPasswordHash: %+v, want the hash, PasswordSetRequired false, updated now", got)
	}

	// Erasing keeps PasswordSetRequired as it is.
	if _, err := s.db.exec(ctx, "UPDATE accounts SET password_set_required = TRUE WHERE id = $1", a.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.SetPasswordHash(ctx, a.ID, ""); err != nil {
		t.Fatalf("SetPasswordHash(\"\"): %v", err)
	}
	if got := mustGet(t, s, a.ID); got.PasswordHash != "" || !got.PasswordSetRequired {
		t.Errorf("after erasing: %+v, want no hash and PasswordSetRequired", got)
	}

	if err := s.SetPasswordHash(ctx, uuid.NewString(), hash); !errors.Is(err, ErrNotFound) {
		t.Errorf("SetPasswordHash(unknown) error = %v, want ErrNotFound", err)
	}
	if err := s.SetPasswordHash(ctx, a.ID, "$2a$99$nope"); !errors.Is(err, ErrInvalidHash) {
		t.Errorf("SetPasswordHash(bad hash) error = %v, want ErrInvalidHash", err)
	}
	bc := mustBcrypt(t, "$2y$", "imported")
	if err := s.SetPasswordHash(ctx, a.ID, bc); err != nil {
		t.Errorf("SetPasswordHash(bcrypt) error = %v", err)
	}
}

func testRecordAudit(t *testing.T, d driverUnderTest) {
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
	if err := s.RecordAudit(ctx, AuditEvent{}); err == nil {
		t.Error("RecordAudit(no kind) succeeded")
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

// testConcurrentCreateSameEmail: of racing sign-ups for one address exactly
// one wins, the others get ErrEmailTaken.
func testConcurrentCreateSameEmail(t *testing.T, d driverUnderTest) {
	const racers = 8
	s := newStore(t, d)
	errs := make([]error, racers)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range racers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = s.CreateAccount(context.Background(), &Account{Email: "race@example.com"},
				[]ConsoleAccount{{Console: ConsoleDedibox, ExternalID: fmt.Sprint(i)}})
		}()
	}
	close(start)
	wg.Wait()
	wins := 0
	for i, err := range errs {
		switch {
		case err == nil:
			wins++
		case !errors.Is(err, ErrEmailTaken):
			t.Errorf("racer %d: %v, want nil or ErrEmailTaken", i, err)
		}
	}
	if wins != 1 {
		t.Fatalf("%d racers created the account, want exactly 1", wins)
	}
}

func testMigrationsIdempotent(t *testing.T, d driverUnderTest) {
	ctx := context.Background()
	dsn := d.newDB(t)
	first := openStore(t, d, dsn)
	a := mustCreate(t, first, "alice@example.com")
	second := openStore(t, d, dsn)
	if got := mustGet(t, second, a.ID); got.Email != a.Email {
		t.Errorf("second store reads %+v", got)
	}
	third := openStore(t, d, dsn)
	if n := countRows(t, third, "schema_migrations"); n != int64(len(mustMigrations(t))) {
		t.Errorf("schema_migrations has %d rows, want %d", n, len(mustMigrations(t)))
	}
	if err := third.Ping(ctx); err != nil {
		t.Error(err)
	}
}

// testConcurrentOpen: replicas starting together on an empty database all
// come up, and each migration is applied once.
func testConcurrentOpen(t *testing.T, d driverUnderTest) {
	const replicas = 4
	dsn := d.newDB(t)
	errs := make([]error, replicas)
	stores := make([]Store, replicas)
	var wg sync.WaitGroup
	for i := range replicas {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stores[i], errs[i] = Open(context.Background(), d.name, dsn)
		}()
	}
	wg.Wait()
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
	if n := countRows(t, stores[0].(*sqlStore), "schema_migrations"); n != int64(len(mustMigrations(t))) {
		t.Errorf("schema_migrations has %d rows, want %d", n, len(mustMigrations(t)))
	}
}

func testPing(t *testing.T, d driverUnderTest) {
	ctx := context.Background()
	st, err := Open(ctx, d.name, d.newDB(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	if err := st.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := st.Ping(ctx); err == nil {
		t.Error("Ping after Close succeeded")
	}
}

// testTwoStoresWriteConcurrently: two stores (as two replicas would) on one
// database write at the same time without an error.
func testTwoStoresWriteConcurrently(t *testing.T, d driverUnderTest) {
	const perStore = 20
	stores := replicas(t, d, 2)
	var wg sync.WaitGroup
	errs := make(chan error, 2*len(stores)*perStore)
	for si, s := range stores {
		for i := range perStore {
			wg.Add(1)
			go func() {
				defer wg.Done()
				a := &Account{Email: fmt.Sprintf("user%d-%d@example.com", si, i)}
				if err := s.CreateAccount(context.Background(), a, []ConsoleAccount{{Console: ConsoleScaleway, ExternalID: fmt.Sprintf("%d-%d", si, i)}}); err != nil {
					errs <- err
					return
				}
				if err := s.RecordAudit(context.Background(), AuditEvent{Kind: "signup", AccountID: a.ID}); err != nil {
					errs <- err
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for _, s := range stores {
		if n := countRows(t, s, "accounts"); n != 2*perStore {
			t.Errorf("a store sees %d accounts, want %d", n, 2*perStore)
		}
	}
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
