package db

import (
	"context"
	"fmt"
)

// ListArtifacts implements Store with keyset pagination on the index of the
// sort column. An entry whose sort value changes during a walk (RecordHits
// moving last_access, a replacement changing size) may show up at its old
// and its new position, or at neither; inserts and deletes of other entries
// never cause repeats or skips. The q filter is case-insensitive for ASCII
// letters only (ILIKE on a COLLATE "C" column), as on SQLite.
func (p *Postgres) ListArtifacts(ctx context.Context, q ListQuery) (ListPage, error) {
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
			seek = plan.afterTime
		}
	}
	b := sqlBuilder{dollar: true}
	query := `SELECT ` + pgColumns + ` FROM artifacts WHERE ` + b.where(plan, "ILIKE", seek) + b.orderLimit(plan)
	rows, err := p.pool.Query(ctx, query, b.args...)
	if err != nil {
		return ListPage{}, fmt.Errorf("db: list %s: %w", q.Remote, err)
	}
	defer rows.Close()
	var items []Artifact
	for rows.Next() {
		a, err := scanPG(rows)
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
func (p *Postgres) Totals(ctx context.Context, remote, q string) (Totals, error) {
	b := sqlBuilder{dollar: true}
	where := b.where(listPlan{remote: remote, like: likePattern(q)}, "ILIKE", nil)
	var t Totals
	err := p.pool.QueryRow(ctx, `SELECT count(*), COALESCE(sum(size), 0)::bigint FROM artifacts WHERE `+where, b.args...).
		Scan(&t.Count, &t.Bytes)
	if err != nil {
		return t, fmt.Errorf("db: totals of %s: %w", remote, err)
	}
	return t, nil
}
