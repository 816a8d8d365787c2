package db_test

import (
	"context"
	"path/filepath"
	"testing"

	"artifactapi/app/testenv"
	"artifactapi/db"
	"artifactapi/db/dbtest"
)

func TestSQLiteRegistryStore(t *testing.T) {
	dbtest.RunRegistry(t, func(t *testing.T) db.RegistryStore {
		s, err := db.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "meta.db"))
		if err != nil {
			t.Fatalf("OpenSQLite: %v", err)
		}
		t.Cleanup(func() { s.Close() })
		return s.Registry()
	})
}

func TestPostgresRegistryStore(t *testing.T) {
	dbtest.RunRegistry(t, func(t *testing.T) db.RegistryStore {
		p := testenv.Postgres(t)
		s, err := db.OpenPostgres(context.Background(), p.DSN)
		if err != nil {
			t.Fatalf("OpenPostgres: %v", err)
		}
		t.Cleanup(func() { s.Close() })
		return s.Registry()
	})
}
