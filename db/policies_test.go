package db_test

import (
	"context"
	"path/filepath"
	"testing"

	"artifactapi/app/testenv"
	"artifactapi/db"
	"artifactapi/db/dbtest"
)

func TestSQLitePolicyStore(t *testing.T) {
	dbtest.RunPolicies(t, func(t *testing.T) db.PolicyStore {
		s, err := db.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "meta.db"))
		if err != nil {
			t.Fatalf("OpenSQLite: %v", err)
		}
		t.Cleanup(func() { s.Close() })
		return s.Policies()
	})
}

func TestPostgresPolicyStore(t *testing.T) {
	dbtest.RunPolicies(t, func(t *testing.T) db.PolicyStore {
		p := testenv.Postgres(t)
		s, err := db.OpenPostgres(context.Background(), p.DSN)
		if err != nil {
			t.Fatalf("OpenPostgres: %v", err)
		}
		t.Cleanup(func() { s.Close() })
		return s.Policies()
	})
}
