// Package migrations holds the goose SQL migrations of the metadata store,
// one directory per SQL dialect, embedded into the binary.
package migrations

import (
	"embed"
	"io/fs"
)

//go:embed postgres/*.sql sqlite/*.sql
var files embed.FS

// Postgres is the migration directory for PostgreSQL (files at its root).
var Postgres = mustSub("postgres")

// SQLite is the migration directory for SQLite (files at its root).
var SQLite = mustSub("sqlite")

func mustSub(dir string) fs.FS {
	sub, err := fs.Sub(files, dir)
	if err != nil {
		panic("migrations: " + err.Error())
	}
	return sub
}
