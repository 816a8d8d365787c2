package db_test

import (
	"context"
	"path/filepath"
	"testing"

	"artifactapi/app/testenv"
	"artifactapi/db"
	"artifactapi/db/dbtest"
)

func TestSQLiteStatsStore(t *testing.T) {
	dbtest.RunStats(t, func(t *testing.T) dbtest.StatsBackend {
		s, err := db.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "meta.db"))
		if err != nil {
			t.Fatalf("OpenSQLite: %v", err)
		}
		return s
	})
}

func TestPostgresStatsStore(t *testing.T) {
	dbtest.RunStats(t, func(t *testing.T) dbtest.StatsBackend {
		p := testenv.Postgres(t)
		s, err := db.OpenPostgres(context.Background(), p.DSN)
		if err != nil {
			t.Fatalf("OpenPostgres: %v", err)
		}
		return s
	})
}
