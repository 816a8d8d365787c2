package db

import (
	"context"
	"fmt"
)

var _ Searcher = (*Postgres)(nil)

// SearchArtifacts implements Searcher. The planner chooses, per remote,
// between the trigram index on path (artifacts_path_trgm_idx, when pg_trgm
// could be installed) and a walk of (remote, path) stopping at the limit;
// digests use artifacts_sha256_idx.
func (p *Postgres) SearchArtifacts(ctx context.Context, q SearchQuery) ([]SearchGroup, error) {
	plan := planSearch(q)
	byPath := func(ctx context.Context, remote string, limit int) ([]Artifact, error) {
		return p.searchRows(ctx, `SELECT `+pgColumns+` FROM artifacts WHERE remote = $1 AND path ILIKE $2 ESCAPE '\'
			ORDER BY path LIMIT $3`, remote, plan.like, limit)
	}
	byDigest := func(ctx context.Context, remotes []string, limit int) ([]Artifact, error) {
		return p.searchRows(ctx, `SELECT `+pgColumns+` FROM artifacts
			WHERE sha256 COLLATE "C" >= $1 AND sha256 COLLATE "C" < $2 AND remote = ANY($3)
			ORDER BY sha256 COLLATE "C" LIMIT $4`, plan.lo, plan.hi, remotes, limit)
	}
	return plan.search(ctx, byPath, byDigest)
}

func (p *Postgres) searchRows(ctx context.Context, query string, args ...any) ([]Artifact, error) {
	rows, err := p.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("db: search: %w", err)
	}
	defer rows.Close()
	var out []Artifact
	for rows.Next() {
		a, err := scanPG(rows)
		if err != nil {
			return nil, fmt.Errorf("db: search: %w", err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("db: search: %w", err)
	}
	return out, nil
}
