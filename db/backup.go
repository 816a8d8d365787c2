package db

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sort"
)

// Row is one table row of a backup: column name → value as JSON gives it
// (numbers as json.Number, so 64-bit integers stay exact).
type Row map[string]any

// Dumper copies the whole metadata store out of and into a database of the
// same dialect, for `artifactapi backup` and `restore`. Both stores
// implement it.
type Dumper interface {
	// Dialect is DialectPostgres or DialectSQLite: a dump restores only
	// into the same one.
	Dialect() string
	// SchemaVersion is the last migration applied.
	SchemaVersion(ctx context.Context) (int64, error)
	// Export calls fn with every row of every table except those of
	// NotBackedUp, table after table so that a table comes after those its
	// foreign keys reference, all from one consistent snapshot: a row
	// exported late never sees a change the rows exported early do not.
	Export(ctx context.Context, fn func(table string, row Row) error) error
	// CheckEmpty fails when any backed-up table holds a row.
	CheckEmpty(ctx context.Context) error
	// Import runs fill in one transaction; put inserts one row, keeping
	// its identity values (sequences are moved past them at the end).
	// Every table must be empty: Import never merges into live data.
	Import(ctx context.Context, fill func(put func(table string, row Row) error) error) error
}

var (
	_ Dumper = (*Postgres)(nil)
	_ Dumper = (*SQLite)(nil)
)

// NotBackedUp are the tables a backup leaves out: the migration history
// (the restored database is migrated by the same code) and registry uploads
// in progress (their parts are temporary objects; a client whose push was
// cut restarts it).
var NotBackedUp = map[string]bool{
	"goose_db_version": true, "sqlite_sequence": true,
	"oci_uploads": true, "oci_upload_parts": true,
}

// dependencyOrder sorts tables so that each comes after every table its
// foreign keys reference (refs: table → referenced tables); ties by name.
func dependencyOrder(tables []string, refs map[string][]string) ([]string, error) {
	sort.Strings(tables)
	done := map[string]bool{}
	var out []string
	for len(out) < len(tables) {
		progressed := false
		for _, t := range tables {
			if done[t] {
				continue
			}
			ready := true
			for _, r := range refs[t] {
				if r != t && !done[r] && !NotBackedUp[r] {
					ready = false
				}
			}
			if ready {
				done[t] = true
				out = append(out, t)
				progressed = true
			}
		}
		if !progressed {
			return nil, fmt.Errorf("db: foreign keys form a cycle among %v", tables)
		}
	}
	return out, nil
}

// decodeRow parses a JSON object into a Row, numbers kept exact.
func decodeRow(b []byte) (Row, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var r Row
	if err := d.Decode(&r); err != nil {
		return nil, fmt.Errorf("db: decode row: %w", err)
	}
	return r, nil
}

// quoteIdent quotes a table or column name for both dialects.
func quoteIdent(s string) string {
	return `"` + string(bytes.ReplaceAll([]byte(s), []byte(`"`), []byte(`""`))) + `"`
}
