package db_test

import (
	"context"
	"testing"

	"artifactapi/app/testenv"
	"artifactapi/db"
	"artifactapi/db/dbtest"
)

func TestPostgresAuthStore(t *testing.T) {
	dbtest.RunAuth(t, func(t *testing.T) dbtest.AuthBackend {
		p := testenv.Postgres(t)
		s, err := db.OpenPostgres(context.Background(), p.DSN)
		if err != nil {
			t.Fatalf("OpenPostgres: %v", err)
		}
		return s
	})
}
