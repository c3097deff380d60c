package accounts

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"unigate/internal/testdb"
)

// schemaSnapshot is the store's indexes, constraints and triggers: a load
// must leave them as the migrations made them, whether it finishes or not.
// (Nothing else reads the tables while a load holds them, not even the
// catalog functions it calls.)
func schemaSnapshot(tb testing.TB, s *sqlStore) string {
	tb.Helper()
	return testdb.PostgresSchema(tb, s.db.(*pgDatabase).pool.Config().ConnString())
}

func postgresUnderTest() driverUnderTest { return driversUnderTest[0] }

func mustBeginLoad(tb testing.TB, s *sqlStore) UnifyLoad {
	tb.Helper()
	l, err := s.UnifyBeginLoad(context.Background())
	if err != nil || l == nil {
		tb.Fatalf("UnifyBeginLoad = %v, %v; want a load", l, err)
	}
	return l
}

// TestUnifyLoad: a load writes what UnifyWrite writes, and leaves the
// schema as it found it, whether it finishes, fails or is abandoned.
func TestUnifyLoad(t *testing.T) {
	ctx := context.Background()
	t.Run("finished", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, postgresUnderTest())
		withFakeClock(s)
		before := schemaSnapshot(t, s)
		// (Nothing else reads the tables while the load holds them, not
		// even the catalog functions of schemaSnapshot.)
		l := mustBeginLoad(t, s)
		a, b := unifiedFixture("acc-a", "a@example.com", "d-a"), unifiedFixture("acc-b", "b@example.com", "d-b")
		b.Memberships[0].OrganizationName = "Alpha"
		c := unifiedFixture("acc-c", "c@example.com", "d-c")
		c.Account.PasswordHash = bcryptFixture
		c.Consoles[0].LinkedAt = time.Time{} // NULL
		c.WebAuthn[0].AAGUID = nil
		for _, batch := range [][]UnifiedAccount{{a, b}, {c}} {
			if queued, err := l.Write(ctx, batch); err != nil || queued != len(batch) {
				t.Fatalf("Write = %d, %v; want %d notices", queued, err, len(batch))
			}
		}
		if err := l.Finish(ctx); err != nil {
			t.Fatal(err)
		}
		l.Abort() // after Finish: nothing to do
		if got := schemaSnapshot(t, s); got != before {
			t.Errorf("schema after the load differs:\n%s\nwant:\n%s", got, before)
		}

		// The same rows as UnifyWrite writes, read through the store.
		w := newStore(t, postgresUnderTest())
		withFakeClock(w)
		if _, err := w.UnifyWrite(ctx, []UnifiedAccount{a, b}); err != nil {
			t.Fatal(err)
		}
		if _, err := w.UnifyWrite(ctx, []UnifiedAccount{c}); err != nil {
			t.Fatal(err)
		}
		for _, table := range []string{"accounts", "console_accounts", "totp_credentials", "webauthn_credentials",
			"organizations", "memberships", "legacy_records"} {
			if got, want := tableText(t, s, table), tableText(t, w, table); got != want {
				t.Errorf("%s after a load:\n%s\nafter UnifyWrite:\n%s", table, got, want)
			}
		}
		if got, want := countRows(t, s, "outbox"), countRows(t, w, "outbox"); got != want || got != 3 {
			t.Errorf("%d messages queued by the load, %d by UnifyWrite; want 3", got, want)
		}
		got, err := s.AccountByEmail(ctx, "c@example.com")
		if err != nil || got.ID != "acc-c" || got.PasswordHash != bcryptFixture {
			t.Errorf("AccountByEmail after the load = %+v, %v", got, err)
		}

		// The keys are back: a second account on a loaded email, console
		// account or record is refused.
		if err := s.CreateAccount(ctx, &Account{Email: "a@example.com"}, nil); !errors.Is(err, ErrEmailTaken) {
			t.Errorf("CreateAccount on a loaded email: %v, want ErrEmailTaken", err)
		}
		if _, err := s.UnifyWrite(ctx, []UnifiedAccount{unifiedFixture("acc-d", "d@example.com", "d-a")}); !errors.Is(err, ErrUnifyConflict) {
			t.Errorf("UnifyWrite over a loaded console account: %v, want ErrUnifyConflict", err)
		}
		// And a store with accounts takes no second load.
		if l, err := s.UnifyBeginLoad(ctx); l != nil || err != nil {
			t.Errorf("UnifyBeginLoad on a store with accounts = %v, %v; want none", l, err)
		}
	})

	t.Run("killed before its keys were checked", func(t *testing.T) {
		t.Parallel()
		// What a load killed between its commit and the check of its
		// foreign keys leaves; the next run's UnifyRefreshStats checks them.
		s := newStore(t, postgresUnderTest())
		before := schemaSnapshot(t, s)
		if _, err := s.UnifyWrite(ctx, []UnifiedAccount{unifiedFixture("acc-a", "a@example.com", "d-a")}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.db.exec(ctx, `ALTER TABLE legacy_records DROP CONSTRAINT legacy_records_account_id_fkey,
			ADD CONSTRAINT legacy_records_account_id_fkey FOREIGN KEY (account_id) REFERENCES accounts (id)
			ON DELETE CASCADE NOT VALID`); err != nil {
			t.Fatal(err)
		}
		if got := schemaSnapshot(t, s); !strings.Contains(got, "NOT VALID") {
			t.Fatalf("no key left to check:\n%s", got)
		}
		if err := s.UnifyRefreshStats(ctx); err != nil {
			t.Fatal(err)
		}
		if got := schemaSnapshot(t, s); got != before {
			t.Errorf("schema after UnifyRefreshStats differs:\n%s\nwant:\n%s", got, before)
		}
	})

	t.Run("aborted", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, postgresUnderTest())
		before := schemaSnapshot(t, s)
		l := mustBeginLoad(t, s)
		if _, err := l.Write(ctx, []UnifiedAccount{unifiedFixture("acc-a", "a@example.com", "d-a")}); err != nil {
			t.Fatal(err)
		}
		l.Abort()
		l.Abort()
		if _, err := l.Write(ctx, []UnifiedAccount{unifiedFixture("acc-b", "b@example.com", "d-b")}); err == nil {
			t.Error("Write after Abort succeeded")
		}
		if err := l.Finish(ctx); err == nil {
			t.Error("Finish after Abort succeeded")
		}
		if got := schemaSnapshot(t, s); got != before {
			t.Errorf("schema after an aborted load differs:\n%s\nwant:\n%s", got, before)
		}
		if n := countRows(t, s, "accounts") + countRows(t, s, "outbox") + countRows(t, s, "organizations"); n != 0 {
			t.Errorf("an aborted load left %d rows", n)
		}
		mustBeginLoad(t, s).Abort() // still empty: a load again
	})

	t.Run("broken key", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, postgresUnderTest())
		before := schemaSnapshot(t, s)
		l := mustBeginLoad(t, s)
		// Nothing refuses two accounts with one email while the key is
		// down; Finish does, and writes nothing.
		for _, u := range []UnifiedAccount{unifiedFixture("acc-a", "same@example.com", "d-a"), unifiedFixture("acc-b", "same@example.com", "d-b")} {
			if _, err := l.Write(ctx, []UnifiedAccount{u}); err != nil {
				t.Fatal(err)
			}
		}
		err := l.Finish(ctx)
		if !errors.Is(err, ErrEmailTaken) {
			t.Errorf("Finish with a repeated email: %v, want ErrEmailTaken", err)
		}
		if got := schemaSnapshot(t, s); got != before {
			t.Errorf("schema after a failed load differs:\n%s\nwant:\n%s", got, before)
		}
		if n := countRows(t, s, "accounts"); n != 0 {
			t.Errorf("a failed load left %d accounts", n)
		}
	})

	t.Run("cancelled", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, postgresUnderTest())
		before := schemaSnapshot(t, s)
		cctx, cancel := context.WithCancel(ctx)
		l, err := s.UnifyBeginLoad(cctx)
		if err != nil || l == nil {
			t.Fatal(l, err)
		}
		cancel()
		if _, err := l.Write(cctx, []UnifiedAccount{unifiedFixture("acc-a", "a@example.com", "d-a")}); err == nil {
			t.Error("Write with a cancelled context succeeded")
		}
		l.Abort()
		if got := schemaSnapshot(t, s); got != before {
			t.Errorf("schema after a cancelled load differs:\n%s\nwant:\n%s", got, before)
		}
	})

	t.Run("not empty", func(t *testing.T) {
		t.Parallel()
		for name, fill := range map[string]func(s *sqlStore) error{
			"an account": func(s *sqlStore) error {
				return s.CreateAccount(ctx, &Account{Email: "someone@example.com"}, nil)
			},
			"a message to an account gone": func(s *sqlStore) error {
				_, err := s.EnqueueMail(ctx, &OutboxMessage{Key: "unify_notice:gone", AccountID: "gone",
					To: "gone@example.com", Kind: "unify_notice", Raw: []byte("mail")})
				return err
			},
		} {
			s := newStore(t, postgresUnderTest())
			if err := fill(s); err != nil {
				t.Fatal(err)
			}
			if l, err := s.UnifyBeginLoad(ctx); l != nil || err != nil {
				t.Errorf("%s: UnifyBeginLoad = %v, %v; want none", name, l, err)
			}
		}
		// SQLite writes in batches.
		if l, err := newStore(t, driversUnderTest[1]).UnifyBeginLoad(ctx); l != nil || err != nil {
			t.Errorf("SQLite: UnifyBeginLoad = %v, %v; want none", l, err)
		}
	})

	t.Run("tables busy", func(t *testing.T) {
		// Not parallel: it shortens loadLockWait.
		s := newStore(t, postgresUnderTest())
		before := schemaSnapshot(t, s)
		defer func(wait time.Duration) { loadLockWait = wait }(loadLockWait)
		loadLockWait = 200 * time.Millisecond
		// A gateway replica idle inside a transaction that read accounts.
		holder, err := s.db.(*pgDatabase).pool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer holder.Rollback(ctx)
		if _, err := holder.Exec(ctx, "SELECT 1 FROM accounts LIMIT 1"); err != nil {
			t.Fatal(err)
		}
		l, err := s.UnifyBeginLoad(ctx)
		if l != nil || !errors.Is(err, ErrLoadUnavailable) {
			t.Errorf("UnifyBeginLoad with the tables busy = %v, %v; want ErrLoadUnavailable", l, err)
		}
		holder.Rollback(ctx)
		if got := schemaSnapshot(t, s); got != before {
			t.Errorf("schema after a refused load differs:\n%s\nwant:\n%s", got, before)
		}
		mustBeginLoad(t, s).Abort() // free again: a load
	})

	t.Run("not the owner", func(t *testing.T) {
		t.Parallel()
		dsn := postgresUnderTest().newDB(t)
		s := openStore(t, postgresUnderTest(), dsn)
		before := schemaSnapshot(t, s)
		role := "unigate_load_" + randomHex(t)
		admin := func(sql string) {
			t.Helper()
			if _, err := s.db.exec(ctx, sql); err != nil {
				t.Fatal(err)
			}
		}
		quotedRole, schema := pgx.Identifier{role}.Sanitize(), pgx.Identifier{currentSchema(t, s)}.Sanitize()
		admin("CREATE ROLE " + quotedRole)
		t.Cleanup(func() {
			s.db.exec(ctx, "DROP OWNED BY "+quotedRole)
			s.db.exec(ctx, "DROP ROLE "+quotedRole)
		})
		admin("GRANT USAGE, CREATE ON SCHEMA " + schema + " TO " + quotedRole)
		admin("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA " + schema + " TO " + quotedRole)
		sub := openStore(t, postgresUnderTest(), withParam(t, dsn, "options", "-crole="+role))
		l, err := sub.UnifyBeginLoad(ctx)
		if l != nil || !errors.Is(err, ErrLoadUnavailable) {
			t.Errorf("UnifyBeginLoad by a role that does not own the tables = %v, %v; want ErrLoadUnavailable", l, err)
		}
		if got := schemaSnapshot(t, s); got != before {
			t.Errorf("schema after a refused load differs:\n%s\nwant:\n%s", got, before)
		}
	})
}

// bcryptFixture is a well-formed bcrypt hash (of nothing anyone knows).
const bcryptFixture = "$2b$10$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234"

// tableText is a table's rows in a stable order, for comparing two stores.
func tableText(tb testing.TB, s *sqlStore, table string) string {
	tb.Helper()
	var lines []string
	err := s.db.query(context.Background(), "SELECT t::text FROM "+table+" t", nil, func(scan func(...any) error) error {
		var line string
		if err := scan(&line); err != nil {
			return err
		}
		lines = append(lines, line)
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

func currentSchema(tb testing.TB, s *sqlStore) string {
	tb.Helper()
	var schema string
	if err := s.db.queryRow(context.Background(), "SELECT current_schema()", nil, &schema); err != nil {
		tb.Fatal(err)
	}
	return schema
}

// TestCopyBinary: the COPY layout, read back by PostgreSQL, gives every
// value of every type, NULLs included.
func TestCopyBinary(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, postgresUnderTest())
	if _, err := s.db.exec(ctx, `CREATE TABLE copy_check (t TEXT, n BIGINT, b BOOLEAN, y BYTEA)`); err != nil {
		t.Fatal(err)
	}
	rs := rowSet{table: "copy_check", cols: "t, n, b, y", types: []string{"text", "bigint", "boolean", "bytea"}}
	rs.add("é\x01 \"quoted\"", int64(-1), true, []byte{0, 1, 0xff})
	rs.add(nil, int64(1<<62), false, nil)
	rs.add("", int64(0), true, []byte{})
	err := withConn(ctx, s.db.(*pgDatabase).pool, func(c *pgx.Conn) error {
		_, err := c.PgConn().CopyFrom(ctx, bytes.NewReader(copyBinary(rs)), "COPY copy_check (t, n, b, y) FROM STDIN (FORMAT binary)")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	err = s.db.query(ctx, `SELECT coalesce(t, '<null>'), n, b, coalesce(encode(y, 'hex'), '<null>') FROM copy_check ORDER BY n`, nil,
		func(scan func(...any) error) error {
			var text, hex string
			var n int64
			var b bool
			if err := scan(&text, &n, &b, &hex); err != nil {
				return err
			}
			got = append(got, fmt.Sprintf("%q %d %v %s", text, n, b, hex))
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{`"é\x01 \"quoted\"" -1 true 0001ff`, `"" 0 true `, `"<null>" 4611686018427387904 false <null>`}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("read back:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
