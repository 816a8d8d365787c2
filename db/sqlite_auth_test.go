package db_test

import (
	"context"
	"path/filepath"
	"testing"

	"artifactapi/db"
	"artifactapi/db/dbtest"
)

func TestSQLiteAuthStore(t *testing.T) {
	dbtest.RunAuth(t, func(t *testing.T) dbtest.AuthBackend {
		s, err := db.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "meta.db"))
		if err != nil {
			t.Fatalf("OpenSQLite: %v", err)
		}
		return s
	})
}
