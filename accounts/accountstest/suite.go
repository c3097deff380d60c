package accountstest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"unigate/accounts"
)

// Opener opens one more store on one database, as another gateway replica
// would. The suite may call it several times for one database, from several
// goroutines at once, and closes what it opens.
type Opener func(ctx context.Context) (accounts.Store, error)

// NewDatabase makes a fresh, empty database for one test (removed at the
// test's cleanup) and returns the Opener of stores on it.
type NewDatabase func(t *testing.T) Opener

// SQL is the NewDatabase of one of accounts.Open's drivers: a fresh
// PostgreSQL schema (PostgresDSN) or a fresh SQLite file (SQLitePath).
func SQL(driver string) NewDatabase {
	return func(t *testing.T) Opener {
		t.Helper()
		var dsn string
		switch driver {
		case accounts.DriverPostgres:
			dsn = PostgresDSN(t)
		case accounts.DriverSQLite:
			dsn = SQLitePath(t)
		default:
			t.Fatalf("accountstest.SQL: unknown driver %q", driver)
		}
		return func(ctx context.Context) (accounts.Store, error) { return accounts.Open(ctx, driver, dsn) }
	}
}

// Run runs the conformance suite of accounts.Store's own methods (accounts,
// console accounts, password hashes, the audit trail, replicas sharing one
// database) against the stores newDatabase opens, each test in parallel on a
// database of its own. It uses the interface only, so that a store written
// elsewhere can run it.
func Run(t *testing.T, newDatabase NewDatabase) {
	for _, tc := range suite {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.test(t, newDatabase)
		})
	}
}

var suite = []struct {
	name string
	test func(t *testing.T, newDatabase NewDatabase)
}{
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
	{"Reopen", testReopen},
	{"ConcurrentOpen", testConcurrentOpen},
	{"Ping", testPing},
	{"TwoStoresWriteConcurrently", testTwoStoresWriteConcurrently},
}

// Valid stored hashes, so that the suite needs no hasher: an argon2id PHC
// string ("password", salt "somesalt") and an imported bcrypt one
// ("rasmuslerdorf", PHP's documentation).
const (
	argon2idHash = "$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHQ$cpx6VEQbwTVZvcpxNIxOVUWZ5xnAipUmAe1cg2GMG70"
	bcryptHash   = "$2y$10$.vGA1O9wmRjrwAVXD98HNOgsNpDczlqm3Jq7KnEd1rVAGv3Fykk1a"
)

// clockSkew is how far a store's timestamps may be from the test's clock (a
// store may take the time from its database server, or round it).
const clockSkew = time.Second

func open(t *testing.T, o Opener) accounts.Store {
	t.Helper()
	s, err := o(context.Background())
	if err != nil {
		t.Fatalf("opening the store: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func newStore(t *testing.T, newDatabase NewDatabase) accounts.Store {
	t.Helper()
	return open(t, newDatabase(t))
}

func mustCreate(t *testing.T, s accounts.Store, email string, consoles ...accounts.ConsoleAccount) *accounts.Account {
	t.Helper()
	a := &accounts.Account{Email: email}
	if err := s.CreateAccount(context.Background(), a, consoles); err != nil {
		t.Fatalf("CreateAccount(%s): %v", email, err)
	}
	return a
}

func mustGet(t *testing.T, s accounts.Store, id string) *accounts.Account {
	t.Helper()
	a, err := s.AccountByID(context.Background(), id)
	if err != nil {
		t.Fatalf("AccountByID: %v", err)
	}
	return a
}

// sameAccount compares two accounts field by field, times by instant.
func sameAccount(a, b *accounts.Account) bool {
	return a.ID == b.ID && a.Email == b.Email && a.EmailVerified == b.EmailVerified &&
		a.PasswordHash == b.PasswordHash && a.PasswordSetRequired == b.PasswordSetRequired &&
		a.MFAEnrollRequired == b.MFAEnrollRequired && a.Locale == b.Locale &&
		a.CreatedAt.Equal(b.CreatedAt) && a.UpdatedAt.Equal(b.UpdatedAt)
}

// between reports whether at is in [from, to], give or take clockSkew.
func between(at, from, to time.Time) bool {
	return !at.Before(from.Add(-clockSkew)) && !at.After(to.Add(clockSkew))
}

func consoleAccountsString(cas []accounts.ConsoleAccount) string {
	out := ""
	for _, ca := range cas {
		out += fmt.Sprintf("{%s %s/%s prelinked=%v linked=%s} ", ca.AccountID, ca.Console, ca.ExternalID, ca.Prelinked, ca.LinkedAt.UTC().Format(time.RFC3339Nano))
	}
	return out
}

func testCreateAndGet(t *testing.T, newDatabase NewDatabase) {
	ctx := context.Background()
	s := newStore(t, newDatabase)
	linked := time.Date(2024, 3, 1, 8, 0, 0, 0, time.UTC)
	a := &accounts.Account{
		Email:             "alice@example.com",
		EmailVerified:     true,
		PasswordHash:      argon2idHash,
		MFAEnrollRequired: true,
	}
	before := time.Now()
	err := s.CreateAccount(ctx, a, []accounts.ConsoleAccount{
		{Console: accounts.ConsoleScaleway, ExternalID: "sw-1"},
		{Console: accounts.ConsoleDedibox, ExternalID: "42", Prelinked: true, LinkedAt: linked},
	})
	after := time.Now()
	if err != nil {
		t.Fatalf("CreateAccount: %v", err)
	}
	if id, err := uuid.Parse(a.ID); err != nil || id.Version() != 4 {
		t.Errorf("generated ID = %q, want a uuid v4", a.ID)
	}
	if a.Locale != "en" {
		t.Errorf("Locale = %q, want default \"en\"", a.Locale)
	}
	if !between(a.CreatedAt, before, after) || !a.UpdatedAt.Equal(a.CreatedAt) || a.CreatedAt.Location() != time.UTC {
		t.Errorf("CreatedAt, UpdatedAt = %v, %v; want one instant in UTC between %v and %v", a.CreatedAt, a.UpdatedAt, before, after)
	}
	byEmail, err := s.AccountByEmail(ctx, "alice@example.com")
	if err != nil {
		t.Fatalf("AccountByEmail: %v", err)
	}
	byID, err := s.AccountByID(ctx, a.ID)
	if err != nil {
		t.Fatalf("AccountByID: %v", err)
	}
	for _, got := range []*accounts.Account{byEmail, byID} {
		if !sameAccount(got, a) {
			t.Errorf("read back %+v, want %+v", *got, *a)
		}
	}
	cas, err := s.ConsoleAccounts(ctx, a.ID)
	if err != nil {
		t.Fatalf("ConsoleAccounts: %v", err)
	}
	want := []accounts.ConsoleAccount{
		{AccountID: a.ID, Console: accounts.ConsoleDedibox, ExternalID: "42", Prelinked: true, LinkedAt: linked},
		{AccountID: a.ID, Console: accounts.ConsoleScaleway, ExternalID: "sw-1"},
	}
	if got, want := consoleAccountsString(cas), consoleAccountsString(want); got != want {
		t.Errorf("ConsoleAccounts = %s, want %s", got, want)
	}

	// Caller-chosen id, creation time and locale are kept.
	b := &accounts.Account{ID: "11111111-2222-4333-8444-555555555555", Email: "bob@example.com", Locale: "fr",
		PasswordSetRequired: true, CreatedAt: time.Date(2019, 1, 2, 3, 4, 5, 0, time.UTC)}
	if err := s.CreateAccount(ctx, b, nil); err != nil {
		t.Fatalf("CreateAccount(with id): %v", err)
	}
	got := mustGet(t, s, b.ID)
	if !sameAccount(got, b) || got.Locale != "fr" || got.PasswordHash != "" || !got.CreatedAt.Equal(time.Date(2019, 1, 2, 3, 4, 5, 0, time.UTC)) {
		t.Errorf("read back %+v, want %+v", *got, *b)
	}
}

func testNotFound(t *testing.T, newDatabase NewDatabase) {
	ctx := context.Background()
	s := newStore(t, newDatabase)
	if _, err := s.AccountByEmail(ctx, "nobody@example.com"); !errors.Is(err, accounts.ErrNotFound) {
		t.Errorf("AccountByEmail(unknown) error = %v, want ErrNotFound", err)
	}
	if _, err := s.AccountByID(ctx, uuid.NewString()); !errors.Is(err, accounts.ErrNotFound) {
		t.Errorf("AccountByID(unknown) error = %v, want ErrNotFound", err)
	}
	cas, err := s.ConsoleAccounts(ctx, uuid.NewString())
	if err != nil || len(cas) != 0 {
		t.Errorf("ConsoleAccounts(unknown) = %v, %v; want none, nil", cas, err)
	}
}

func testDuplicateEmail(t *testing.T, newDatabase NewDatabase) {
	ctx := context.Background()
	s := newStore(t, newDatabase)
	mustCreate(t, s, "alice@example.com", accounts.ConsoleAccount{Console: accounts.ConsoleDedibox, ExternalID: "1"})
	err := s.CreateAccount(ctx, &accounts.Account{Email: "alice@example.com"}, []accounts.ConsoleAccount{{Console: accounts.ConsoleDedibox, ExternalID: "2"}})
	if !errors.Is(err, accounts.ErrEmailTaken) {
		t.Fatalf("second CreateAccount error = %v, want ErrEmailTaken", err)
	}
	// The whole transaction was rolled back: console account 2 is free.
	mustCreate(t, s, "other@example.com", accounts.ConsoleAccount{Console: accounts.ConsoleDedibox, ExternalID: "2"})
	// Look-alikes are other addresses (SECURITY.md §10).
	mustCreate(t, s, "\u0430lice@example.com")
}

func testDuplicateConsoleAccount(t *testing.T, newDatabase NewDatabase) {
	ctx := context.Background()
	s := newStore(t, newDatabase)
	mustCreate(t, s, "alice@example.com", accounts.ConsoleAccount{Console: accounts.ConsoleDedibox, ExternalID: "1"})
	err := s.CreateAccount(ctx, &accounts.Account{Email: "bob@example.com"}, []accounts.ConsoleAccount{
		{Console: accounts.ConsoleScaleway, ExternalID: "s-1"},
		{Console: accounts.ConsoleDedibox, ExternalID: "1"},
	})
	if !errors.Is(err, accounts.ErrConsoleAccountTaken) {
		t.Fatalf("CreateAccount error = %v, want ErrConsoleAccountTaken", err)
	}
	if _, err := s.AccountByEmail(ctx, "bob@example.com"); !errors.Is(err, accounts.ErrNotFound) {
		t.Errorf("account of the failed create exists: %v", err)
	}
	err = s.CreateAccount(ctx, &accounts.Account{Email: "carol@example.com"}, []accounts.ConsoleAccount{
		{Console: accounts.ConsoleScaleway, ExternalID: "s-2"},
		{Console: accounts.ConsoleScaleway, ExternalID: "s-2"},
	})
	if !errors.Is(err, accounts.ErrConsoleAccountTaken) {
		t.Fatalf("CreateAccount(same console account twice) error = %v, want ErrConsoleAccountTaken", err)
	}
	// The same external id in another console is another account.
	mustCreate(t, s, "dave@example.com", accounts.ConsoleAccount{Console: accounts.ConsoleScaleway, ExternalID: "1"})
}

func testCreateRefusesBadInput(t *testing.T, newDatabase NewDatabase) {
	ctx := context.Background()
	s := newStore(t, newDatabase)
	for _, email := range []string{"", "Alice@example.com", " alice@example.com", "alice@example.com.", "jose\u0301@example.com"} {
		if err := s.CreateAccount(ctx, &accounts.Account{Email: email}, nil); !errors.Is(err, accounts.ErrInvalidEmail) {
			t.Errorf("CreateAccount(%+q) error = %v, want ErrInvalidEmail", email, err)
		}
	}
	if err := s.CreateAccount(ctx, &accounts.Account{Email: "a@example.com", PasswordHash: "plaintext"}, nil); !errors.Is(err, accounts.ErrInvalidHash) {
		t.Errorf("CreateAccount(bad hash) error = %v, want ErrInvalidHash", err)
	}
	err := s.CreateAccount(ctx, &accounts.Account{Email: "a@example.com"}, []accounts.ConsoleAccount{{Console: accounts.ConsoleDedibox}})
	if err == nil {
		t.Error("CreateAccount(console account without external id) succeeded")
	}
	err = s.CreateAccount(ctx, &accounts.Account{Email: "a@example.com"}, []accounts.ConsoleAccount{{AccountID: "someone-else", Console: accounts.ConsoleDedibox, ExternalID: "1"}})
	if err == nil {
		t.Error("CreateAccount(console account of another account) succeeded")
	}
	a := mustCreate(t, s, "a@example.com")
	if err := s.CreateAccount(ctx, &accounts.Account{ID: a.ID, Email: "b@example.com"}, nil); err == nil || errors.Is(err, accounts.ErrEmailTaken) {
		t.Errorf("CreateAccount(existing id) error = %v, want a non-email error", err)
	}
}

func testConsoleAccountsOrder(t *testing.T, newDatabase NewDatabase) {
	ctx := context.Background()
	s := newStore(t, newDatabase)
	a := mustCreate(t, s, "alice@example.com",
		accounts.ConsoleAccount{Console: accounts.ConsoleScaleway, ExternalID: "b"},
		accounts.ConsoleAccount{Console: accounts.ConsoleDedibox, ExternalID: "2"},
		accounts.ConsoleAccount{Console: accounts.ConsoleScaleway, ExternalID: "B"},
	)
	for _, id := range []string{"10", "1", "\u00e9"} {
		if err := s.AddConsoleAccount(ctx, accounts.ConsoleAccount{AccountID: a.ID, Console: accounts.ConsoleDedibox, ExternalID: id}); err != nil {
			t.Fatal(err)
		}
	}
	mustCreate(t, s, "other@example.com", accounts.ConsoleAccount{Console: accounts.ConsoleDedibox, ExternalID: "0"})
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

func testAddConsoleAccount(t *testing.T, newDatabase NewDatabase) {
	ctx := context.Background()
	s := newStore(t, newDatabase)
	a := mustCreate(t, s, "alice@example.com", accounts.ConsoleAccount{Console: accounts.ConsoleDedibox, ExternalID: "1"})
	b := mustCreate(t, s, "bob@example.com")
	if err := s.AddConsoleAccount(ctx, accounts.ConsoleAccount{AccountID: b.ID, Console: accounts.ConsoleDedibox, ExternalID: "1"}); !errors.Is(err, accounts.ErrConsoleAccountTaken) {
		t.Errorf("AddConsoleAccount(taken) error = %v, want ErrConsoleAccountTaken", err)
	}
	if err := s.AddConsoleAccount(ctx, accounts.ConsoleAccount{AccountID: uuid.NewString(), Console: accounts.ConsoleDedibox, ExternalID: "9"}); !errors.Is(err, accounts.ErrNotFound) {
		t.Errorf("AddConsoleAccount(unknown account) error = %v, want ErrNotFound", err)
	}
	if err := s.AddConsoleAccount(ctx, accounts.ConsoleAccount{AccountID: a.ID, Console: accounts.ConsoleDedibox}); err == nil {
		t.Error("AddConsoleAccount(no external id) succeeded")
	}
	linked := time.Date(2025, 1, 2, 3, 4, 5, 6000, time.FixedZone("X", -3600))
	if err := s.AddConsoleAccount(ctx, accounts.ConsoleAccount{AccountID: a.ID, Console: accounts.ConsoleScaleway, ExternalID: "s", Prelinked: true, LinkedAt: linked}); err != nil {
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

func testSetPasswordHash(t *testing.T, newDatabase NewDatabase) {
	ctx := context.Background()
	s := newStore(t, newDatabase)
	a := &accounts.Account{Email: "alice@example.com", PasswordSetRequired: true,
		CreatedAt: time.Date(2020, 5, 6, 7, 8, 9, 0, time.UTC)}
	if err := s.CreateAccount(ctx, a, nil); err != nil {
		t.Fatal(err)
	}

	// Erasing (no password yet) keeps PasswordSetRequired as it is.
	if err := s.SetPasswordHash(ctx, a.ID, ""); err != nil {
		t.Fatalf("SetPasswordHash(\"\"): %v", err)
	}
	if got := mustGet(t, s, a.ID); got.PasswordHash != "" || !got.PasswordSetRequired {
		t.Errorf("after erasing: %+v, want no hash and PasswordSetRequired", got)
	}

	before := time.Now()
	if err := s.SetPasswordHash(ctx, a.ID, argon2idHash); err != nil {
		t.Fatalf("SetPasswordHash: %v", err)
	}
	after := time.Now()
	got := mustGet(t, s, a.ID)
	if got.PasswordHash != argon2idHash || got.PasswordSetRequired || !between(got.UpdatedAt, before, after) || !got.CreatedAt.Equal(a.CreatedAt) {
		t.Errorf("after SetPasswordHash: %+v, want the hash, PasswordSetRequired false, updated now, created %v", got, a.CreatedAt)
	}

	if err := s.SetPasswordHash(ctx, uuid.NewString(), argon2idHash); !errors.Is(err, accounts.ErrNotFound) {
		t.Errorf("SetPasswordHash(unknown) error = %v, want ErrNotFound", err)
	}
	if err := s.SetPasswordHash(ctx, a.ID, "$2a$99$nope"); !errors.Is(err, accounts.ErrInvalidHash) {
		t.Errorf("SetPasswordHash(bad hash) error = %v, want ErrInvalidHash", err)
	}
	if got := mustGet(t, s, a.ID); got.PasswordHash != argon2idHash {
		t.Errorf("a refused hash replaced the stored one: %q", got.PasswordHash)
	}
	if err := s.SetPasswordHash(ctx, a.ID, bcryptHash); err != nil {
		t.Errorf("SetPasswordHash(bcrypt) error = %v", err)
	}
	if got := mustGet(t, s, a.ID); got.PasswordHash != bcryptHash {
		t.Errorf("after SetPasswordHash(bcrypt): hash %q, want %q", got.PasswordHash, bcryptHash)
	}
}

// testRecordAudit: the trail accepts every kind of event, also of accounts
// that are gone, and refuses one without a kind. (What it stores is read
// back by the SQL store's own tests: the interface has no reader.)
func testRecordAudit(t *testing.T, newDatabase NewDatabase) {
	ctx := context.Background()
	s := newStore(t, newDatabase)
	a := mustCreate(t, s, "alice@example.com")
	events := []accounts.AuditEvent{
		{At: time.Date(2025, 6, 1, 10, 0, 0, 0, time.UTC), Kind: "login.success", AccountID: a.ID, IP: "192.0.2.1", Details: map[string]string{"method": "password", "mfa": "totp"}},
		{Kind: "login.failure", IP: "2001:db8::1", Details: map[string]string{"email": "nobody@example.com"}},
		{Kind: "lockout", AccountID: uuid.NewString()},
	}
	for _, e := range events {
		if err := s.RecordAudit(ctx, e); err != nil {
			t.Errorf("RecordAudit(%s): %v", e.Kind, err)
		}
	}
	if err := s.RecordAudit(ctx, accounts.AuditEvent{}); err == nil {
		t.Error("RecordAudit(no kind) succeeded")
	}
}

// testConcurrentCreateSameEmail: of racing sign-ups for one address exactly
// one wins, the others get ErrEmailTaken.
func testConcurrentCreateSameEmail(t *testing.T, newDatabase NewDatabase) {
	const racers = 8
	s := newStore(t, newDatabase)
	errs := race(racers, func(ctx context.Context, i int) error {
		return s.CreateAccount(ctx, &accounts.Account{Email: "race@example.com"},
			[]accounts.ConsoleAccount{{Console: accounts.ConsoleDedibox, ExternalID: fmt.Sprint(i)}})
	})
	wins := 0
	for i, err := range errs {
		switch {
		case err == nil:
			wins++
		case !errors.Is(err, accounts.ErrEmailTaken):
			t.Errorf("racer %d: %v, want nil or ErrEmailTaken", i, err)
		}
	}
	if wins != 1 {
		t.Fatalf("%d racers created the account, want exactly 1", wins)
	}
}

// race runs op n times at once and returns the errors by index.
func race(n int, op func(ctx context.Context, i int) error) []error {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = op(ctx, i)
		})
	}
	close(start)
	wg.Wait()
	return errs
}

// testReopen: a store opened again on the same database (a restart, a
// second replica) sees what the first wrote, and opening is idempotent.
func testReopen(t *testing.T, newDatabase NewDatabase) {
	o := newDatabase(t)
	first := open(t, o)
	a := mustCreate(t, first, "alice@example.com", accounts.ConsoleAccount{Console: accounts.ConsoleDedibox, ExternalID: "7"})
	for i := range 2 {
		again := open(t, o)
		if got := mustGet(t, again, a.ID); !sameAccount(got, a) {
			t.Errorf("store %d reads %+v, want %+v", i+2, got, a)
		}
		if err := again.Ping(context.Background()); err != nil {
			t.Errorf("store %d: Ping: %v", i+2, err)
		}
	}
}

// testConcurrentOpen: replicas starting together on an empty database all
// come up and share it.
func testConcurrentOpen(t *testing.T, newDatabase NewDatabase) {
	const replicas = 4
	o := newDatabase(t)
	stores := make([]accounts.Store, replicas)
	errs := race(replicas, func(ctx context.Context, i int) (err error) {
		stores[i], err = o(ctx)
		return err
	})
	for i, err := range errs {
		if err != nil {
			t.Errorf("replica %d: open: %v", i, err)
			continue
		}
		t.Cleanup(func() { stores[i].Close() })
	}
	if t.Failed() {
		return
	}
	a := mustCreate(t, stores[0], "alice@example.com")
	for i, s := range stores {
		if got := mustGet(t, s, a.ID); got.Email != a.Email {
			t.Errorf("replica %d reads %+v", i, got)
		}
	}
}

func testPing(t *testing.T, newDatabase NewDatabase) {
	ctx := context.Background()
	s, err := newDatabase(t)(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Ping(ctx); err == nil {
		t.Error("Ping after Close succeeded")
	}
}

// testTwoStoresWriteConcurrently: two stores (as two replicas would) on one
// database write at the same time without an error.
func testTwoStoresWriteConcurrently(t *testing.T, newDatabase NewDatabase) {
	const perStore = 20
	o := newDatabase(t)
	stores := []accounts.Store{open(t, o), open(t, o)}
	ids := make([]string, len(stores)*perStore)
	errs := race(len(ids), func(ctx context.Context, i int) error {
		s := stores[i%len(stores)]
		a := &accounts.Account{Email: fmt.Sprintf("user%d@example.com", i)}
		if err := s.CreateAccount(ctx, a, []accounts.ConsoleAccount{{Console: accounts.ConsoleScaleway, ExternalID: fmt.Sprint(i)}}); err != nil {
			return err
		}
		ids[i] = a.ID
		return s.RecordAudit(ctx, accounts.AuditEvent{Kind: "signup", AccountID: a.ID})
	})
	for _, err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if t.Failed() {
		return
	}
	// Each store sees every account, whichever store wrote it.
	for si, s := range stores {
		for i, id := range ids {
			got, err := s.AccountByID(context.Background(), id)
			if err != nil || got.Email != fmt.Sprintf("user%d@example.com", i) {
				t.Errorf("store %d: AccountByID(account %d) = %v, %v", si, i, got, err)
			}
		}
	}
}
