package db

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"
)

var _ Searcher = (*SQLite)(nil)

// SearchArtifacts implements Searcher. Paths are matched through the
// trigram index artifacts_path_fts (a term of 3 characters or more without
// LIKE wildcards), then with LIKE as ListArtifacts filters, so that both
// agree on case; digests through the sha256 index.
func (s *SQLite) SearchArtifacts(ctx context.Context, q SearchQuery) ([]SearchGroup, error) {
	p := planSearch(q)
	trigram := utf8.RuneCountInString(p.term) >= 3 && !strings.ContainsAny(p.term, `%_\`)
	byPath := func(ctx context.Context, remote string, limit int) ([]Artifact, error) {
		query := `SELECT ` + sqliteColumns + ` FROM artifacts WHERE remote = ? AND path LIKE ? ESCAPE '\'`
		args := []any{remote, p.like}
		if trigram {
			query += ` AND id IN (SELECT rowid FROM artifacts_path_fts WHERE path LIKE ?)`
			args = append(args, "%"+p.term+"%")
		}
		return s.searchRows(ctx, query+` ORDER BY path LIMIT ?`, append(args, limit)...)
	}
	byDigest := func(ctx context.Context, remotes []string, limit int) ([]Artifact, error) {
		in, args := inList(remotes)
		args = append([]any{p.lo, p.hi}, args...)
		return s.searchRows(ctx, `SELECT `+sqliteColumns+` FROM artifacts WHERE sha256 >= ? AND sha256 < ? AND remote IN (`+in+`)
			ORDER BY sha256 LIMIT ?`, append(args, limit)...)
	}
	return p.search(ctx, byPath, byDigest)
}

func (s *SQLite) searchRows(ctx context.Context, query string, args ...any) ([]Artifact, error) {
	rows, err := s.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("db: search: %w", err)
	}
	defer rows.Close()
	var out []Artifact
	for rows.Next() {
		a, err := scanSQLite(rows)
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
