package db

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
)

// Dialect implements Dumper.
func (s *SQLite) Dialect() string { return DialectSQLite }

// SchemaVersion implements Dumper.
func (s *SQLite) SchemaVersion(ctx context.Context) (int64, error) {
	var v int64
	if err := s.r.QueryRowContext(ctx, `SELECT COALESCE(max(version_id), 0) FROM goose_db_version WHERE is_applied`).Scan(&v); err != nil {
		return 0, fmt.Errorf("db: schema version: %w", err)
	}
	return v, nil
}

// bytesKey marks a BLOB value in a dumped row: {"$bytes": base64}. SQLite
// values are otherwise integers, reals, text or NULL, which JSON keeps.
const bytesKey = "$bytes"

// sqliteTables lists the backed-up tables in dependency order: ordinary
// tables only. A virtual table (the FTS5 search index) and its shadow
// tables are derived data, rebuilt by their triggers as rows are restored.
func sqliteTables(ctx context.Context, q querier) ([]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT name FROM pragma_table_list WHERE schema = 'main' AND type = 'table' AND name NOT LIKE 'sqlite_%'`)
	if err != nil {
		return nil, fmt.Errorf("db: list tables: %w", err)
	}
	var tables []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return nil, fmt.Errorf("db: list tables: %w", err)
		}
		if !NotBackedUp[n] {
			tables = append(tables, n)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("db: list tables: %w", err)
	}
	refs := map[string][]string{}
	for _, t := range tables {
		fk, err := q.QueryContext(ctx, `SELECT "table" FROM pragma_foreign_key_list(?)`, t)
		if err != nil {
			return nil, fmt.Errorf("db: foreign keys of %s: %w", t, err)
		}
		for fk.Next() {
			var to string
			if err := fk.Scan(&to); err != nil {
				fk.Close()
				return nil, fmt.Errorf("db: foreign keys of %s: %w", t, err)
			}
			refs[t] = append(refs[t], to)
		}
		fk.Close()
	}
	return dependencyOrder(tables, refs)
}

// Export implements Dumper: one read transaction (a WAL snapshot).
func (s *SQLite) Export(ctx context.Context, fn func(table string, row Row) error) error {
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("db: export: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // read-only
	tables, err := sqliteTables(ctx, tx)
	if err != nil {
		return err
	}
	for _, t := range tables {
		if err := exportSQLiteTable(ctx, tx, t, fn); err != nil {
			return fmt.Errorf("db: export %s: %w", t, err)
		}
	}
	return nil
}

func exportSQLiteTable(ctx context.Context, tx *sql.Tx, t string, fn func(table string, row Row) error) error {
	rows, err := tx.QueryContext(ctx, `SELECT * FROM `+quoteIdent(t))
	if err != nil {
		return err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return err
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		r := make(Row, len(cols))
		for i, c := range cols {
			switch v := vals[i].(type) {
			case []byte:
				r[c] = map[string]any{bytesKey: base64.StdEncoding.EncodeToString(v)}
			case int64:
				r[c] = json.Number(fmt.Sprint(v))
			default:
				r[c] = v
			}
		}
		if err := fn(t, r); err != nil {
			return err
		}
	}
	return rows.Err()
}

// sqliteValue turns a dumped value back into what was stored.
func sqliteValue(v any) (any, error) {
	switch v := v.(type) {
	case json.Number:
		if n, err := v.Int64(); err == nil {
			return n, nil
		}
		return v.Float64()
	case map[string]any:
		s, ok := v[bytesKey].(string)
		if !ok || len(v) != 1 {
			return nil, fmt.Errorf("unexpected object value %v", v)
		}
		return base64.StdEncoding.DecodeString(s)
	}
	return v, nil
}

// Import implements Dumper.
func (s *SQLite) Import(ctx context.Context, fill func(put func(table string, row Row) error) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("db: import: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit: no-op
	tables, err := sqliteTables(ctx, tx)
	if err != nil {
		return err
	}
	if err := sqliteCheckEmpty(ctx, tx, tables); err != nil {
		return err
	}
	known := map[string]bool{}
	for _, t := range tables {
		known[t] = true
	}
	put := func(table string, row Row) error {
		if !known[table] {
			return fmt.Errorf("db: import: no table %q in this schema", table)
		}
		cols := make([]string, 0, len(row))
		args := make([]any, 0, len(row))
		for c, v := range row {
			val, err := sqliteValue(v)
			if err != nil {
				return fmt.Errorf("db: import %s.%s: %w", table, c, err)
			}
			cols = append(cols, quoteIdent(c))
			args = append(args, val)
		}
		q := `INSERT INTO ` + quoteIdent(table) + ` (` + strings.Join(cols, ", ") + `) VALUES (` +
			strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", ") + `)`
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return fmt.Errorf("db: import %s: %w", table, err)
		}
		return nil
	}
	if err := fill(put); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("db: import: commit: %w", err)
	}
	return nil
}

// CheckEmpty implements Dumper.
func (s *SQLite) CheckEmpty(ctx context.Context) error {
	tables, err := sqliteTables(ctx, s.r)
	if err != nil {
		return err
	}
	return sqliteCheckEmpty(ctx, s.r, tables)
}

func sqliteCheckEmpty(ctx context.Context, q querier, tables []string) error {
	for _, t := range tables {
		var used bool
		if err := q.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM `+quoteIdent(t)+`)`).Scan(&used); err != nil {
			return fmt.Errorf("db: %w", err)
		}
		if used {
			return fmt.Errorf("db: table %s is not empty: restore only into a fresh DATA_DIR", t)
		}
	}
	return nil
}
