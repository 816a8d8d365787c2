package db

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

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

// TestSQLiteCancelMigrationKeepsItems: migration 3 rebuilds job_items on
// SQLite; items keep their content and their claim order (rowid), and the
// table's CHECK now admits 'canceled'. Rolled back, canceled items become
// failed ones.
func TestSQLiteCancelMigrationKeepsItems(t *testing.T) {
	ctx := context.Background()
	s, err := OpenSQLite(ctx, filepath.Join(t.TempDir(), "m.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	p, err := newMigrationProvider(s.w, DialectSQLite)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.DownTo(ctx, 2); err != nil {
		t.Fatalf("down to 2: %v", err)
	}
	j := Job{Remote: "r"}
	for _, path := range []string{"z", "a", "m"} { // claim order is creation order, not path order
		j.Items = append(j.Items, JobItem{Remote: "r", Path: path})
	}
	if j, err = s.CreateJob(ctx, j); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Up(ctx); err != nil {
		t.Fatalf("up: %v", err)
	}
	for _, want := range []string{"z", "a"} {
		it, err := s.ClaimItem(ctx, "w", time.Minute)
		if err != nil || it.Path != want || it.JobID != j.ID {
			t.Fatalf("claim after migration: %+v, %v; want path %s", it, err, want)
		}
	}
	if n, err := s.CancelJob(ctx, j.ID); err != nil || n != 1 {
		t.Fatalf("CancelJob = %d, %v", n, err)
	}
	if _, err := p.DownTo(ctx, 2); err != nil {
		t.Fatalf("down with a canceled item: %v", err)
	}
	var state, reason string
	if err := s.r.QueryRowContext(ctx, `SELECT state, reason FROM job_items WHERE job_id = ? AND path = 'm'`, j.ID).Scan(&state, &reason); err != nil {
		t.Fatal(err)
	}
	if state != ItemFailed || reason != "canceled" {
		t.Fatalf("canceled item after rollback: %s %q", state, reason)
	}
}
