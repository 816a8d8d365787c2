package db

import (
	"context"
	"fmt"
)

// ListArtifacts implements Store with keyset pagination on the index of the
// sort column; see Postgres.ListArtifacts for what concurrent changes do.
// The q filter is case-insensitive for ASCII letters (SQLite LIKE).
func (s *SQLite) ListArtifacts(ctx context.Context, q ListQuery) (ListPage, error) {
	plan, err := planList(q)
	if err != nil {
		return ListPage{}, err
	}
	var seek any
	if plan.after != nil {
		switch plan.sort {
		case SortPath:
			seek = plan.afterStr
		case SortSize:
			seek = plan.afterInt
		default:
			seek = sqliteTime(plan.afterTime)
		}
	}
	var b sqlBuilder
	query := `SELECT ` + sqliteColumns + ` FROM artifacts WHERE ` + b.where(plan, "LIKE", seek) + b.orderLimit(plan)
	rows, err := s.r.QueryContext(ctx, query, b.args...)
	if err != nil {
		return ListPage{}, fmt.Errorf("db: list %s: %w", q.Remote, err)
	}
	defer rows.Close()
	var items []Artifact
	for rows.Next() {
		a, err := scanSQLite(rows)
		if err != nil {
			return ListPage{}, fmt.Errorf("db: list %s: %w", q.Remote, err)
		}
		items = append(items, a)
	}
	if err := rows.Err(); err != nil {
		return ListPage{}, fmt.Errorf("db: list %s: %w", q.Remote, err)
	}
	return plan.page(items), nil
}

// Totals implements Store.
func (s *SQLite) Totals(ctx context.Context, remote, q string) (Totals, error) {
	var b sqlBuilder
	where := b.where(listPlan{remote: remote, like: likePattern(q)}, "LIKE", nil)
	var t Totals
	err := s.r.QueryRowContext(ctx, `SELECT count(*), COALESCE(sum(size), 0) FROM artifacts WHERE `+where, b.args...).
		Scan(&t.Count, &t.Bytes)
	if err != nil {
		return t, fmt.Errorf("db: totals of %s: %w", remote, err)
	}
	return t, nil
}
