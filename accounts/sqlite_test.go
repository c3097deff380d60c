package accounts

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"unigate/internal/testdb"
)

func TestOpenRefusesBadDSN(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct{ driver, dsn string }{
		{"mysql", "x"},
		{"", ""},
		{DriverSQLite, ""},
		{DriverSQLite, ":memory:"},
		{DriverSQLite, "file::memory:?cache=shared"},
		{DriverSQLite, filepath.Join(t.TempDir(), "missing-dir", "a.db")},
		{DriverPostgres, "postgres://%zz"},
		{DriverPostgres, "postgres://postgres@127.0.0.1:5432/test?pool_max_conns=zero"},
	} {
		if st, err := Open(ctx, tc.driver, tc.dsn); err == nil {
			st.Close()
			t.Errorf("Open(%q, %q) succeeded, want an error", tc.driver, tc.dsn)
		}
	}
}

// TestSQLiteFile: the file is private to its owner, in WAL mode with foreign
// keys on, a path with URI-special characters is a plain file name, and read
// connections cannot write.
func TestSQLiteFile(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "odd?name#1%20.db")
	s := openStore(t, driverUnderTest{name: DriverSQLite}, path)
	for _, name := range []string{path, path + "-wal"} {
		fi, err := os.Stat(name)
		if err != nil {
			t.Fatalf("database file not at %q: %v", name, err)
		}
		if mode := fi.Mode().Perm(); mode != 0o600 {
			t.Errorf("%s has mode %v, want 0600 (it holds password hashes)", filepath.Base(name), mode)
		}
	}
	db := s.db.(*sqliteDatabase)
	var mode string
	if err := db.reader.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode = %q, %v; want wal", mode, err)
	}
	for _, pool := range []*sql.DB{db.reader, db.writer} {
		var fk int
		if err := pool.QueryRowContext(ctx, "PRAGMA foreign_keys").Scan(&fk); err != nil || fk != 1 {
			t.Errorf("foreign_keys = %d, %v; want 1", fk, err)
		}
	}
	if _, err := db.reader.ExecContext(ctx, "DELETE FROM accounts"); err == nil {
		t.Error("a read connection could write")
	}
}

func TestSQLiteUniqueColumns(t *testing.T) {
	for _, tc := range []struct {
		msg, table string
		cols       []string
	}{
		{"constraint failed: UNIQUE constraint failed: accounts.email (2067)", "accounts", []string{"email"}},
		{"UNIQUE constraint failed: console_accounts.console, console_accounts.external_id", "console_accounts", []string{"console", "external_id"}},
		{"something else", "", nil},
		{"UNIQUE constraint failed: index 'x'", "", nil},
	} {
		table, cols := uniqueColumns(tc.msg)
		if table != tc.table || fmt.Sprint(cols) != fmt.Sprint(tc.cols) {
			t.Errorf("uniqueColumns(%q) = %q, %q; want %q, %q", tc.msg, table, cols, tc.table, tc.cols)
		}
	}
}

// Environment of TestSQLiteWriterProcess, the child of TestSQLiteProcesses.
const (
	envWriterDB = "UNIGATE_ACCOUNTS_TEST_WRITER_DB"
	envWriterID = "UNIGATE_ACCOUNTS_TEST_WRITER_ID"
)

const writesPerProcess = 25

// TestSQLiteProcesses: several processes open one fresh file at once (racing
// on the migrations) and write to it concurrently; none gets SQLITE_BUSY.
func TestSQLiteProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	path := testdb.SQLitePath(t)
	var wg sync.WaitGroup
	outs := make([][]byte, 2)
	errs := make([]error, 2)
	for i := range outs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.Command(os.Args[0], "-test.run=^TestSQLiteWriterProcess$", "-test.count=1", "-test.v")
			cmd.Env = append(os.Environ(), envWriterDB+"="+path, fmt.Sprintf("%s=child%d", envWriterID, i))
			outs[i], errs[i] = cmd.CombinedOutput()
		}()
	}
	writeMany(t, path, "parent")
	wg.Wait()
	for i := range outs {
		if errs[i] != nil || !strings.Contains(string(outs[i]), "--- PASS: TestSQLiteWriterProcess") {
			t.Errorf("child %d: %v\n%s", i, errs[i], outs[i])
		}
	}
	s := openStore(t, driverUnderTest{name: DriverSQLite}, path)
	if n := countRows(t, s, "accounts"); n != 3*writesPerProcess {
		t.Errorf("%d accounts, want %d", n, 3*writesPerProcess)
	}
	if n := countRows(t, s, "schema_migrations"); n != int64(len(mustMigrations(t))) {
		t.Errorf("schema_migrations has %d rows, want %d", n, len(mustMigrations(t)))
	}
}

// TestSQLiteWriterProcess is the child process of TestSQLiteProcesses; it does
// nothing in a normal run.
func TestSQLiteWriterProcess(t *testing.T) {
	path := os.Getenv(envWriterDB)
	if path == "" {
		return
	}
	writeMany(t, path, os.Getenv(envWriterID))
}

func writeMany(t *testing.T, path, who string) {
	ctx := context.Background()
	st, err := OpenSQLite(ctx, path)
	if err != nil {
		t.Fatalf("%s: OpenSQLite: %v", who, err)
	}
	defer st.Close()
	for i := range writesPerProcess {
		a := &Account{Email: fmt.Sprintf("%s-%d@example.com", who, i)}
		err := st.CreateAccount(ctx, a, []ConsoleAccount{{Console: ConsoleDedibox, ExternalID: fmt.Sprintf("%s-%d", who, i)}})
		if err == nil {
			err = st.RecordAudit(ctx, AuditEvent{Kind: "signup", AccountID: a.ID})
		}
		if err == nil {
			_, err = st.AccountByEmail(ctx, a.Email)
		}
		if err != nil {
			t.Fatalf("%s: write %d: %v", who, i, err)
		}
	}
	if _, err := st.AccountByEmail(ctx, "nobody@example.com"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("%s: %v", who, err)
	}
}
