package db

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Dialect implements Dumper.
func (p *Postgres) Dialect() string { return DialectPostgres }

// SchemaVersion implements Dumper.
func (p *Postgres) SchemaVersion(ctx context.Context) (int64, error) {
	var v int64
	if err := p.pool.QueryRow(ctx, `SELECT COALESCE(max(version_id), 0) FROM goose_db_version WHERE is_applied`).Scan(&v); err != nil {
		return 0, fmt.Errorf("db: schema version: %w", err)
	}
	return v, nil
}

// pgTables lists the backed-up tables of the current schema in dependency
// order.
func pgTables(ctx context.Context, q interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}) ([]string, error) {
	rows, err := q.Query(ctx, `SELECT table_name FROM information_schema.tables
		WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'`)
	if err != nil {
		return nil, fmt.Errorf("db: list tables: %w", err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("db: list tables: %w", err)
	}
	var tables []string
	for _, n := range names {
		if !NotBackedUp[n] {
			tables = append(tables, n)
		}
	}
	rows, err = q.Query(ctx, `SELECT c.conrelid::regclass::text, c.confrelid::regclass::text FROM pg_constraint c
		WHERE c.contype = 'f' AND c.connamespace = current_schema()::regnamespace`)
	if err != nil {
		return nil, fmt.Errorf("db: list foreign keys: %w", err)
	}
	refs := map[string][]string{}
	var from, to string
	if _, err := pgx.ForEachRow(rows, []any{&from, &to}, func() error {
		refs[from] = append(refs[from], to)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("db: list foreign keys: %w", err)
	}
	return dependencyOrder(tables, refs)
}

// Export implements Dumper: one REPEATABLE READ, READ ONLY transaction,
// each row as PostgreSQL's own row_to_json (json_populate_record reads it
// back exactly: timestamps with their zone, bytea as \x hex).
func (p *Postgres) Export(ctx context.Context, fn func(table string, row Row) error) error {
	tx, err := p.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return fmt.Errorf("db: export: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // read-only
	tables, err := pgTables(ctx, tx)
	if err != nil {
		return err
	}
	for _, t := range tables {
		rows, err := tx.Query(ctx, `SELECT row_to_json(t)::text FROM `+quoteIdent(t)+` t`)
		if err != nil {
			return fmt.Errorf("db: export %s: %w", t, err)
		}
		var raw []byte
		_, err = pgx.ForEachRow(rows, []any{&raw}, func() error {
			r, err := decodeRow(raw)
			if err != nil {
				return err
			}
			return fn(t, r)
		})
		if err != nil {
			return fmt.Errorf("db: export %s: %w", t, err)
		}
	}
	return nil
}

// Import implements Dumper.
func (p *Postgres) Import(ctx context.Context, fill func(put func(table string, row Row) error) error) error {
	tx, err := p.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("db: import: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // after Commit: no-op
	tables, err := pgTables(ctx, tx)
	if err != nil {
		return err
	}
	if err := pgCheckEmpty(ctx, tx, tables); err != nil {
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
		if _, err := tx.Exec(ctx, `INSERT INTO `+quoteIdent(table)+` OVERRIDING SYSTEM VALUE
			SELECT * FROM json_populate_record(NULL::`+quoteIdent(table)+`, $1::json)`, map[string]any(row)); err != nil {
			return fmt.Errorf("db: import %s: %w", table, err)
		}
		return nil
	}
	if err := fill(put); err != nil {
		return err
	}
	// Identity and serial columns continue after the restored values.
	rows, err := tx.Query(ctx, `SELECT table_name, column_name FROM information_schema.columns
		WHERE table_schema = current_schema() AND (is_identity = 'YES' OR column_default LIKE 'nextval(%')`)
	if err != nil {
		return fmt.Errorf("db: import: sequences: %w", err)
	}
	type col struct{ table, column string }
	cols, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (col, error) {
		var c col
		return c, r.Scan(&c.table, &c.column)
	})
	if err != nil {
		return fmt.Errorf("db: import: sequences: %w", err)
	}
	for _, c := range cols {
		if !known[c.table] {
			continue
		}
		q := fmt.Sprintf(`SELECT setval(pg_get_serial_sequence($1, $2), COALESCE(max(%s), 0) + 1, false) FROM %s`,
			quoteIdent(c.column), quoteIdent(c.table))
		if _, err := tx.Exec(ctx, q, quoteIdent(c.table), c.column); err != nil {
			return fmt.Errorf("db: import: sequence of %s.%s: %w", c.table, c.column, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("db: import: commit: %w", err)
	}
	return nil
}

// CheckEmpty implements Dumper.
func (p *Postgres) CheckEmpty(ctx context.Context) error {
	tables, err := pgTables(ctx, p.pool)
	if err != nil {
		return err
	}
	return pgCheckEmpty(ctx, p.pool, tables)
}

func pgCheckEmpty(ctx context.Context, q interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}, tables []string) error {
	for _, t := range tables {
		var used bool
		if err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM `+quoteIdent(t)+`)`).Scan(&used); err != nil {
			return fmt.Errorf("db: %w", err)
		}
		if used {
			return fmt.Errorf("db: table %s is not empty: restore only into a fresh database", t)
		}
	}
	return nil
}
