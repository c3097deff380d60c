package accounts

import (
	"cmp"
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Migrations are numbered SQL files, NNNN_what.sql, each one text valid on
// both drivers and run inside a transaction. They are applied in order at
// Open and recorded in schema_migrations; an applied file is never edited,
// a change is a new file. Versions in the database that this binary does not
// know (a newer replica ran) are left alone, so that rolling upgrades work
// with additive migrations.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// migration is one versioned SQL file.
type migration struct {
	version int64
	name    string // file name, for the record
	sql     string
}

const createSchemaMigrations = `CREATE TABLE IF NOT EXISTS schema_migrations (
    version    BIGINT NOT NULL,
    name       TEXT   NOT NULL,
    applied_at TEXT   NOT NULL,
    CONSTRAINT schema_migrations_pkey PRIMARY KEY (version)
)`

// migrate applies the embedded migrations that db lacks.
func migrate(ctx context.Context, db database, now time.Time) error {
	migs, err := loadMigrations(migrationFiles, "migrations")
	if err != nil {
		return err
	}
	return applyMigrations(ctx, db, migs, now)
}

// loadMigrations reads dir's *.sql files in version order, refusing names
// without a version and two files with the same version.
func loadMigrations(fsys fs.FS, dir string) ([]migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("accounts: migrations: %w", err)
	}
	var migs []migration
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".sql") {
			continue
		}
		num, _, ok := strings.Cut(name, "_")
		version, err := strconv.ParseInt(num, 10, 64)
		if !ok || err != nil || version < 1 {
			return nil, fmt.Errorf("accounts: migrations: %s: want NNNN_name.sql", name)
		}
		text, err := fs.ReadFile(fsys, path.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("accounts: migrations: %w", err)
		}
		migs = append(migs, migration{version: version, name: name, sql: string(text)})
	}
	slices.SortFunc(migs, func(a, b migration) int { return cmp.Compare(a.version, b.version) })
	for i := 1; i < len(migs); i++ {
		if migs[i].version == migs[i-1].version {
			return nil, fmt.Errorf("accounts: migrations: %s and %s share version %d",
				migs[i-1].name, migs[i].name, migs[i].version)
		}
	}
	return migs, nil
}

// applyMigrations runs, in one transaction under the migration lock, every
// migration not yet recorded: all of them land or none does.
func applyMigrations(ctx context.Context, db database, migs []migration, now time.Time) error {
	at, err := encodeTime(now)
	if err != nil {
		return err
	}
	err = db.migrationTx(ctx, func(q querier) error {
		if _, err := q.exec(ctx, createSchemaMigrations); err != nil {
			return err
		}
		applied := map[int64]bool{}
		err := q.query(ctx, "SELECT version FROM schema_migrations", nil, func(scan func(...any) error) error {
			var v int64
			if err := scan(&v); err != nil {
				return err
			}
			applied[v] = true
			return nil
		})
		if err != nil {
			return err
		}
		for _, m := range migs {
			if applied[m.version] {
				continue
			}
			if _, err := q.exec(ctx, m.sql); err != nil {
				return fmt.Errorf("%s: %w", m.name, err)
			}
			if _, err := q.exec(ctx, "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
				m.version, m.name, at); err != nil {
				return fmt.Errorf("%s: %w", m.name, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("accounts: migrate: %w", err)
	}
	return nil
}
