package db_test

import (
	"context"
	"testing"

	"artifactapi/app/testenv"
	"artifactapi/db"
	"artifactapi/db/dbtest"
)

func TestPostgresJobStore(t *testing.T) {
	dbtest.RunJobs(t, func(t *testing.T) dbtest.JobBackend {
		p := testenv.Postgres(t)
		s, err := db.OpenPostgres(context.Background(), p.DSN)
		if err != nil {
			t.Fatalf("OpenPostgres: %v", err)
		}
		return s
	})
}

// TestPostgresJobClaimsAcrossPools races claimers on two connection pools to
// one database, as two replicas would.
func TestPostgresJobClaimsAcrossPools(t *testing.T) {
	p := testenv.Postgres(t)
	var stores [2]*db.Postgres
	for i := range stores {
		s, err := db.OpenPostgres(context.Background(), p.DSN)
		if err != nil {
			t.Fatalf("OpenPostgres: %v", err)
		}
		defer s.Close()
		stores[i] = s
	}
	dbtest.RaceClaims(t, stores[0], stores[1])
}
