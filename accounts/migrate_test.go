package accounts

import (
	"context"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

func TestLoadMigrations(t *testing.T) {
	file := func(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }
	good := fstest.MapFS{
		"m/0010_later.sql": file("B"),
		"m/0002_next.sql":  file("A2"),
		"m/0001_init.sql":  file("A1"),
		"m/README.md":      file("not sql"),
	}
	migs, err := loadMigrations(good, "m")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range migs {
		got = append(got, m.name)
	}
	if want := "0001_init.sql 0002_next.sql 0010_later.sql"; strings.Join(got, " ") != want {
		t.Errorf("order = %q, want %q", got, want)
	}
	for name, fsys := range map[string]fstest.MapFS{
		"no version":   {"m/init.sql": file("x")},
		"zero":         {"m/0000_x.sql": file("x")},
		"not a number": {"m/00a1_x.sql": file("x")},
		"duplicate":    {"m/0001_a.sql": file("x"), "m/1_b.sql": file("y")},
		"no dir":       {},
	} {
		if _, err := loadMigrations(fsys, "m"); err == nil {
			t.Errorf("%s: loadMigrations succeeded, want an error", name)
		}
	}
}

func TestEmbeddedMigrations(t *testing.T) {
	migs := mustMigrations(t)
	if len(migs) == 0 || migs[0].version != 1 {
		t.Fatalf("embedded migrations = %+v, want 0001 first", migs)
	}
	for i, m := range migs {
		if m.version != int64(i+1) {
			t.Errorf("%s: version %d, want %d (no gaps)", m.name, m.version, i+1)
		}
	}
}

// TestMigrationFailureAppliesNothing: a failing migration rolls back the whole
// run, so the schema is never half-migrated.
func TestMigrationFailureAppliesNothing(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, driverUnderTest{name: DriverSQLite}, t.TempDir()+"/a.db")
	migs := append(mustMigrations(t),
		migration{version: 1000, name: "1000_ok.sql", sql: "CREATE TABLE extra (x TEXT)"},
		migration{version: 1001, name: "1001_bad.sql", sql: "CREATE TABLE broken ("},
	)
	if err := applyMigrations(ctx, s.db, migs, time.Now()); err == nil || !strings.Contains(err.Error(), "1001_bad.sql") {
		t.Fatalf("applyMigrations = %v, want an error naming 1001_bad.sql", err)
	}
	if n := countRows(t, s, "schema_migrations"); n != int64(len(mustMigrations(t))) {
		t.Errorf("schema_migrations has %d rows after a failed run", n)
	}
	var n int64
	if err := s.db.queryRow(ctx, "SELECT COUNT(*) FROM sqlite_master WHERE name = 'extra'", nil, &n); err != nil || n != 0 {
		t.Errorf("table extra exists (%d, %v): the failed run was not rolled back", n, err)
	}
}

func TestTimeEncoding(t *testing.T) {
	in := time.Date(2025, 10, 28, 1, 2, 3, 4, time.FixedZone("CET", 3600))
	s, err := encodeTime(in)
	if err != nil || s != "2025-10-28T00:02:03.000000004Z" {
		t.Fatalf("encodeTime = %q, %v", s, err)
	}
	out, err := decodeTime(s)
	if err != nil || !out.Equal(in) || out.Location() != time.UTC {
		t.Fatalf("decodeTime(%q) = %v, %v; want %v in UTC", s, out, err, in)
	}
	for _, bad := range []time.Time{time.Date(0, 12, 31, 0, 0, 0, 0, time.UTC), time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)} {
		if _, err := encodeTime(bad); err == nil {
			t.Errorf("encodeTime(%v) succeeded", bad)
		}
	}
	// Text order is time order.
	a, _ := encodeTime(time.Date(2025, 1, 1, 0, 0, 0, 999, time.UTC))
	b, _ := encodeTime(time.Date(2025, 1, 1, 0, 0, 1, 0, time.UTC))
	if a >= b {
		t.Errorf("%q sorts after %q", a, b)
	}
}
