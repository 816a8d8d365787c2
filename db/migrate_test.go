package db

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"artifactapi/app/testenv"

	"github.com/jackc/pgx/v5/stdlib"
)

// TestMigrateDownUp checks that every migration can be rolled back and
// reapplied.
func TestMigrateDownUp(t *testing.T) {
	tests := []struct {
		name    string
		dialect string
		open    func(t *testing.T) *sql.DB
	}{
		{name: "sqlite", dialect: DialectSQLite, open: func(t *testing.T) *sql.DB {
			d, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "m.db"))
			if err != nil {
				t.Fatal(err)
			}
			return d
		}},
		{name: "postgres", dialect: DialectPostgres, open: func(t *testing.T) *sql.DB {
			d, err := sql.Open("pgx", testenv.Postgres(t).DSN)
			if err != nil {
				t.Fatal(err)
			}
			return d
		}},
	}
	_ = stdlib.GetDefaultDriver() // registers "pgx"
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			d := tc.open(t)
			defer d.Close()
			if err := Migrate(ctx, d, tc.dialect); err != nil {
				t.Fatalf("Migrate: %v", err)
			}
			p, err := newMigrationProvider(d, tc.dialect)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := p.DownTo(ctx, 0); err != nil {
				t.Fatalf("down: %v", err)
			}
			if _, err := d.ExecContext(ctx, "SELECT 1 FROM artifacts"); err == nil {
				t.Fatal("artifacts table still exists after down")
			}
			if err := Migrate(ctx, d, tc.dialect); err != nil {
				t.Fatalf("Migrate again: %v", err)
			}
			if _, err := d.ExecContext(ctx, "SELECT 1 FROM artifacts"); err != nil {
				t.Fatalf("artifacts after up: %v", err)
			}
		})
	}
	t.Run("unknown dialect", func(t *testing.T) {
		if err := Migrate(context.Background(), &sql.DB{}, "oracle"); err == nil {
			t.Error("no error")
		}
	})
}
