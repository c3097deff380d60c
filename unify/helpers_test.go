package unify

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	_ "modernc.org/sqlite"

	"unigate/accounts"
	"unigate/accounts/accountstest"
	"unigate/mail"
	"unigate/mfa"
	"unigate/unify/unifygen"
)

// testKey is the session key of the tests.
var testKey = bytes.Repeat([]byte("k"), 64)

// testCutoff is legacy_login_cutoff at 00:00 UTC.
var testCutoff = unifygen.DefaultCutoff

// testStore is an empty account store of one driver.
type testStore struct {
	driver, dsn string
	accounts.Store
}

var drivers = []string{accounts.DriverPostgres, accounts.DriverSQLite}

// newTestStore opens a fresh store, closed at cleanup.
func newTestStore(tb testing.TB, driver string) *testStore {
	tb.Helper()
	dsn := accountstest.SQLitePath(tb)
	if driver == accounts.DriverPostgres {
		dsn = accountstest.PostgresDSN(tb)
	}
	return openTestStore(tb, driver, dsn)
}

func openTestStore(tb testing.TB, driver, dsn string) *testStore {
	tb.Helper()
	st, err := accounts.Open(context.Background(), driver, dsn)
	if err != nil {
		tb.Fatalf("accounts.Open(%s): %v", driver, err)
	}
	tb.Cleanup(func() { st.Close() })
	return &testStore{driver: driver, dsn: dsn, Store: st}
}

func (s *testStore) unify() Store { return s.Store.(Store) }

// forEachDriver runs f as a subtest per driver, in parallel.
func forEachDriver(t *testing.T, f func(t *testing.T, driver string)) {
	for _, d := range drivers {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			f(t, d)
		})
	}
}

// writeExports writes the two files in a temp dir and returns their paths.
func writeExports(tb testing.TB, dedibox, scaleway []string) (string, string) {
	tb.Helper()
	dir := tb.TempDir()
	d, s := filepath.Join(dir, "dedibox.jsonl"), filepath.Join(dir, "scaleway.jsonl")
	for path, lines := range map[string][]string{d: dedibox, s: scaleway} {
		text := strings.Join(lines, "\n")
		if len(lines) > 0 {
			text += "\n"
		}
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			tb.Fatal(err)
		}
	}
	return d, s
}

// generate writes generated exports and returns their paths and what their
// unification must report.
func generate(tb testing.TB, opts unifygen.Options) (string, string, *unifygen.Expected) {
	tb.Helper()
	var d, s bytes.Buffer
	exp, err := unifygen.Generate(&d, &s, opts)
	if err != nil {
		tb.Fatal(err)
	}
	dir := tb.TempDir()
	dp, sp := filepath.Join(dir, "dedibox.jsonl"), filepath.Join(dir, "scaleway.jsonl")
	if err := os.WriteFile(dp, d.Bytes(), 0o600); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(sp, s.Bytes(), 0o600); err != nil {
		tb.Fatal(err)
	}
	return dp, sp, exp
}

var testRenderer = func() *mail.Renderer {
	r, err := mail.NewRenderer("Accounts <no-reply@example.com>")
	if err != nil {
		panic(err)
	}
	return r
}()

func testOptions(dedibox, scaleway string) Options {
	return Options{
		DediboxPath: dedibox, ScalewayPath: scaleway,
		Cutoff: testCutoff, SessionKey: testKey,
		SignInURL: "https://account.example.com/login",
		Workers:   3, BatchSize: 7, // small batches: many transactions, several at once
	}
}

// mustRun runs the unification and fails the test on error.
func mustRun(tb testing.TB, store Store, opts Options) *Report {
	tb.Helper()
	rep, err := Run(context.Background(), store, opts)
	if err != nil {
		tb.Fatalf("Run: %v", err)
	}
	return rep
}

// expectedReport turns the generator's expectation into a report (the
// rejected lines by number: the reasons are the parser's).
func expectedReport(exp *unifygen.Expected, dedibox, scaleway string) Report {
	r := Report{
		DediboxRecords: exp.DediboxRecords, ScalewayRecords: exp.ScalewayRecords,
		UnifiedAccounts: exp.UnifiedAccounts, Prelinked: exp.Prelinked,
		NotificationsQueued: exp.NotificationsQueued,
		Situations: Situations{
			ScalewayAccount: exp.Situations.ScalewayAccount, NoScalewayAccount: exp.Situations.NoScalewayAccount,
			SMSMFADisabled: exp.Situations.SMSMFADisabled, MultipleDediboxAccounts: exp.Situations.MultipleDediboxAccounts,
		},
	}
	for _, rj := range exp.Rejected {
		file := dedibox
		if rj.File == "scaleway" {
			file = scaleway
		}
		r.Rejected = append(r.Rejected, Rejection{File: file, Line: rj.Line, Reason: rj.Kind})
	}
	return r
}

// sameReport compares two reports, the rejected lines by file and line only
// when reasons is false.
func sameReport(got, want Report, reasons bool) string {
	g, w := got, want
	g.Rejected, w.Rejected = nil, nil
	var b strings.Builder
	if fmt.Sprint(g) != fmt.Sprint(w) {
		fmt.Fprintf(&b, "counts:\n got %+v\nwant %+v\n", g, w)
	}
	if len(got.Rejected) != len(want.Rejected) {
		fmt.Fprintf(&b, "rejected: got %d lines, want %d:\n got %v\nwant %v\n", len(got.Rejected), len(want.Rejected), got.Rejected, want.Rejected)
		return b.String()
	}
	for i := range got.Rejected {
		gr, wr := got.Rejected[i], want.Rejected[i]
		if gr.File != wr.File || gr.Line != wr.Line || (reasons && gr.Reason != wr.Reason) {
			fmt.Fprintf(&b, "rejected[%d] = %+v, want %+v\n", i, gr, wr)
		}
	}
	return b.String()
}

// dump is a canonical text of everything a unification writes, without
// what depends on when it ran (updated_at, created_at of rows it makes, the
// random nonces of sealed values: these are opened): two stores with the
// same dump hold the same unification.
func dump(tb testing.TB, s *testStore) string {
	tb.Helper()
	ctx := context.Background()
	seal, err := newSealers(testKey)
	if err != nil {
		tb.Fatal(err)
	}
	q := openSQL(tb, s.driver, s.dsn)
	var b strings.Builder
	section := func(title, query string, row func(scan func(...any) error) (string, error)) {
		fmt.Fprintf(&b, "== %s\n", title)
		if err := q(ctx, query, func(scan func(...any) error) error {
			line, err := row(scan)
			if err != nil {
				return err
			}
			b.WriteString(line + "\n")
			return nil
		}); err != nil {
			tb.Fatalf("dump %s: %v", title, err)
		}
	}
	plain := func(n int) func(scan func(...any) error) (string, error) {
		return func(scan func(...any) error) (string, error) {
			vals := make([]any, n)
			ptrs := make([]any, n)
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := scan(ptrs...); err != nil {
				return "", err
			}
			return fmt.Sprintf("%v", normalize(vals)), nil
		}
	}
	section("accounts", `SELECT id, email, email_verified, password_hash, password_set_required, mfa_enroll_required,
		locale, created_at FROM accounts ORDER BY id`, plain(8))
	section("console_accounts", `SELECT console, external_id, account_id, prelinked, linked_at
		FROM console_accounts ORDER BY console, external_id`, plain(5))
	section("totp", `SELECT account_id, secret_sealed, confirmed, last_used_step FROM totp_credentials ORDER BY account_id`,
		func(scan func(...any) error) (string, error) {
			var id string
			var sealed []byte
			var confirmed any
			var step int64
			if err := scan(&id, &sealed, &confirmed, &step); err != nil {
				return "", err
			}
			secret, err := seal.totp.Open(sealed, []byte(id))
			return fmt.Sprintf("%s %s %v %d", id, secret, normalize([]any{confirmed}), step), err
		})
	section("webauthn", `SELECT id, account_id, name, public_key, sign_count, aaguid, transports, user_present
		FROM webauthn_credentials ORDER BY id`, plain(8))
	section("organizations", `SELECT id, name FROM organizations ORDER BY id`, plain(2))
	section("memberships", `SELECT account_id, organization_id, role FROM memberships ORDER BY account_id, organization_id`, plain(3))
	section("legacy_records", `SELECT source, record_id, line_no, account_id, raw_sealed FROM legacy_records ORDER BY source, record_id`,
		func(scan func(...any) error) (string, error) {
			var source, id, account string
			var line int64
			var sealed []byte
			if err := scan(&source, &id, &line, &account, &sealed); err != nil {
				return "", err
			}
			raw, err := seal.openRecord(source, id, sealed)
			return fmt.Sprintf("%s %s %d %s %s", source, id, line, account, raw), err
		})
	section("outbox", `SELECT dedup_key, account_id, recipient, kind, priority FROM outbox ORDER BY dedup_key`, plain(5))
	return b.String()
}

// normalize makes driver values comparable in text (SQLite booleans are
// integers; byte strings print in hex).
func normalize(vals []any) []any {
	for i, v := range vals {
		switch x := v.(type) {
		case []byte:
			vals[i] = fmt.Sprintf("%x", x)
		case int64:
			vals[i] = x
		case nil:
			vals[i] = "NULL"
		}
	}
	return vals
}

// openSQL gives direct read access to a store's database.
func openSQL(tb testing.TB, driver, dsn string) func(ctx context.Context, query string, each func(scan func(...any) error) error) error {
	tb.Helper()
	if driver == accounts.DriverPostgres {
		conn, err := pgx.Connect(context.Background(), dsn)
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { conn.Close(context.Background()) })
		return func(ctx context.Context, query string, each func(scan func(...any) error) error) error {
			rows, err := conn.Query(ctx, query)
			if err != nil {
				return err
			}
			defer rows.Close()
			return eachRow(rows, each)
		}
	}
	db, err := sql.Open("sqlite", "file:"+dsn+"?mode=ro")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return func(ctx context.Context, query string, each func(scan func(...any) error) error) error {
		rows, err := db.QueryContext(ctx, query)
		if err != nil {
			return err
		}
		defer rows.Close()
		return eachRow(rows, each)
	}
}

// eachRow calls each with every row of a pgx or database/sql result.
func eachRow(rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}, each func(scan func(...any) error) error) error {
	for rows.Next() {
		if err := each(rows.Scan); err != nil {
			return err
		}
	}
	return rows.Err()
}

// sealerForTest opens TOTP secrets as the gateway does.
func sealerForTest(tb testing.TB) *mfa.Sealer {
	tb.Helper()
	s, err := mfa.NewSealer(testKey)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// diffLines shows the first lines that differ between two dumps.
func diffLines(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	var out strings.Builder
	n := 0
	for i := 0; i < max(len(al), len(bl)) && n < 10; i++ {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			fmt.Fprintf(&out, "line %d:\n- %s\n+ %s\n", i+1, x, y)
			n++
		}
	}
	return out.String()
}
