package db_test

import (
	"context"
	"path/filepath"
	"testing"

	"artifactapi/db"
	"artifactapi/db/dbtest"
)

func TestSQLiteJobStore(t *testing.T) {
	dbtest.RunJobs(t, func(t *testing.T) dbtest.JobBackend {
		s, err := db.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "meta.db"))
		if err != nil {
			t.Fatalf("OpenSQLite: %v", err)
		}
		return s
	})
}

// TestSQLiteJobClaimsAcrossHandles races claimers on two handles to one
// database file, as two processes would.
func TestSQLiteJobClaimsAcrossHandles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "meta.db")
	var stores [2]*db.SQLite
	for i := range stores {
		s, err := db.OpenSQLite(context.Background(), path)
		if err != nil {
			t.Fatalf("OpenSQLite: %v", err)
		}
		defer s.Close()
		stores[i] = s
	}
	dbtest.RaceClaims(t, stores[0], stores[1])
}
