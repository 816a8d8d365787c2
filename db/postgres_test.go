package db_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"artifactapi/app/testenv"
	"artifactapi/db"
	"artifactapi/db/dbtest"

	"github.com/jackc/pgx/v5"
)

func TestPostgresStore(t *testing.T) {
	dbtest.Run(t, func(t *testing.T) db.Store {
		p := testenv.Postgres(t)
		s, err := db.OpenPostgres(context.Background(), p.DSN)
		if err != nil {
			t.Fatalf("OpenPostgres: %v", err)
		}
		return s
	})
}

func TestPostgresConcurrentOpenMigratesOnce(t *testing.T) {
	p := testenv.Postgres(t)
	ctx := context.Background()
	const replicas = 2
	var wg sync.WaitGroup
	stores := make([]*db.Postgres, replicas)
	errs := make([]error, replicas)
	start := make(chan struct{})
	for i := range replicas {
		wg.Go(func() {
			<-start
			stores[i], errs[i] = db.OpenPostgres(ctx, p.DSN)
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("replica %d: OpenPostgres: %v", i, err)
		}
		defer stores[i].Close()
	}
	conn, err := pgx.Connect(ctx, p.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var applied int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM goose_db_version WHERE version_id = 1`).Scan(&applied); err != nil {
		t.Fatal(err)
	}
	if applied != 1 {
		t.Errorf("migration 1 recorded %d times, want 1", applied)
	}
	for i, s := range stores {
		if err := s.PutArtifact(ctx, db.Artifact{Remote: "r", Path: "p"}); err != nil {
			t.Errorf("replica %d: PutArtifact: %v", i, err)
		}
	}
}

func TestPostgresDescribe(t *testing.T) {
	p := testenv.Postgres(t)
	s, err := db.OpenPostgres(context.Background(), p.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got, want := s.Describe(), "postgresql "+p.Host+":"+p.Port+"/"+p.Database; got != want {
		t.Errorf("Describe = %q, want %q", got, want)
	}
}

func TestPostgresDSN(t *testing.T) {
	tests := []struct {
		name                       string
		host, port, user, pass, db string
		want                       string
	}{
		{name: "plain", host: "db", port: "5432", user: "app", pass: "pw", db: "meta", want: "postgres://app:pw@db:5432/meta"},
		{name: "no password", host: "db", port: "5432", user: "app", db: "meta", want: "postgres://app@db:5432/meta"},
		{name: "no port", host: "db", user: "app", pass: "pw", db: "meta", want: "postgres://app:pw@db/meta"},
		{name: "ipv6", host: "::1", port: "5432", user: "app", db: "meta", want: "postgres://app@[::1]:5432/meta"},
		{name: "special characters", host: "db", port: "5432", user: "a@p:p", pass: "p@ss:w/rd?#% &=", db: "my db/x"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dsn := db.PostgresDSN(tc.host, tc.port, tc.user, tc.pass, tc.db)
			if tc.want != "" && dsn != tc.want {
				t.Errorf("PostgresDSN = %q, want %q", dsn, tc.want)
			}
			cfg, err := pgx.ParseConfig(dsn)
			if err != nil {
				t.Fatalf("ParseConfig(%q): %v", dsn, err)
			}
			if cfg.Host != tc.host || cfg.User != tc.user || cfg.Password != tc.pass || cfg.Database != tc.db {
				t.Errorf("parsed back host=%q user=%q pass=%q db=%q", cfg.Host, cfg.User, cfg.Password, cfg.Database)
			}
		})
	}
}

func TestPostgresErrorsHidePassword(t *testing.T) {
	const secret = "s3cr3t@pa55word"
	tests := []struct {
		name string
		dsn  string
	}{
		{name: "unreachable", dsn: db.PostgresDSN("127.0.0.1", "1", "app", secret, "meta") + "?connect_timeout=2"},
		{name: "unparsable url", dsn: "postgres://app:" + secret + "@127.0.0.1:notaport/meta"},
		{name: "unparsable key value", dsn: "host=127.0.0.1 password=" + secret + " port=notaport"},
		{name: "unparsable key value quoted", dsn: "host=127.0.0.1 password='" + secret + " x' port=notaport"},
		{name: "unescaped url", dsn: "postgres://app:" + secret + "@127.0.0.1:1/meta?connect_timeout=2"},
		{name: "wrong database", dsn: db.PostgresDSN(hostPort(t)) + "?sslmode=disable"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := db.OpenPostgres(context.Background(), tc.dsn)
			if err == nil {
				s.Close()
				t.Fatal("OpenPostgres succeeded")
			}
			if msg := err.Error(); strings.Contains(msg, "s3cr3t") || strings.Contains(msg, "pa55word") {
				t.Errorf("error reveals the password: %v", err)
			}
		})
	}
}

// hostPort returns the parts of a DSN for a missing database on the test
// server, with the test password.
func hostPort(t *testing.T) (host, port, user, pass, dbname string) {
	cfg, err := pgx.ParseConfig(testenv.PostgresBaseDSN())
	if err != nil {
		t.Fatal(err)
	}
	return cfg.Host, "5432", cfg.User, "s3cr3t@pa55word", "artifactapi_missing_" + testenv.RandomID(4)
}
