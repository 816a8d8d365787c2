package db

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"log/slog"

	"artifactapi/migrations"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// SQL dialects understood by Migrate.
const (
	DialectPostgres = "postgres"
	DialectSQLite   = "sqlite"
)

// Migrate applies all pending migrations of the embedded migrations package
// to sqlDB. dialect is DialectPostgres or DialectSQLite ("postgresql" and
// "sqlite3" are accepted too). On PostgreSQL a session-level advisory lock is
// held while migrating, so several replicas starting at once migrate exactly
// once; the others wait and then find nothing pending. Both the server start
// and `make migrate` use this function.
func Migrate(ctx context.Context, sqlDB *sql.DB, dialect string) error {
	p, err := newMigrationProvider(sqlDB, dialect)
	if err != nil {
		return err
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("db: migrate %s: %w", dialect, err)
	}
	return nil
}

// newMigrationProvider builds the goose provider for dialect.
func newMigrationProvider(sqlDB *sql.DB, dialect string) (*goose.Provider, error) {
	var (
		gd   goose.Dialect
		fsys fs.FS
		opts = []goose.ProviderOption{goose.WithSlog(slog.Default())}
	)
	switch dialect {
	case DialectPostgres, "postgresql":
		gd, fsys = goose.DialectPostgres, migrations.Postgres
		// Retry the advisory lock every second (the default is every 5s)
		// for up to 5 minutes.
		locker, err := lock.NewPostgresSessionLocker(lock.WithLockTimeout(1, 300))
		if err != nil {
			return nil, fmt.Errorf("db: migration locker: %w", err)
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	case DialectSQLite, "sqlite3":
		gd, fsys = goose.DialectSQLite3, migrations.SQLite
	default:
		return nil, fmt.Errorf("db: unknown SQL dialect %q", dialect)
	}
	p, err := goose.NewProvider(gd, sqlDB, fsys, opts...)
	if err != nil {
		return nil, fmt.Errorf("db: migration provider: %w", err)
	}
	return p, nil
}
