package db

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// RegistryTagHit is a tag of a local docker repository found by a search.
type RegistryTagHit struct {
	Remote, Name, Tag string
	Digest            string
	UpdatedAt         time.Time
}

// RegistrySearcher finds tags of local docker repositories.
type RegistrySearcher interface {
	// SearchRegistryTags returns up to limit tags (1..100, 0 means 20) of
	// remotes' repositories, sorted by remote, name and tag, matching term:
	// "name:tag" (a substring of the name and the exact tag), a tag, a
	// substring of the repository name, or a manifest digest ("sha256:<hex>"
	// or 7+ hex digits, a prefix).
	SearchRegistryTags(ctx context.Context, remotes []string, term string, limit int) ([]RegistryTagHit, error)
}

var _ RegistrySearcher = (*registrySQL)(nil)

// SearchRegistryTags implements RegistrySearcher.
func (s *registrySQL) SearchRegistryTags(ctx context.Context, remotes []string, term string, limit int) ([]RegistryTagHit, error) {
	p := planSearch(SearchQuery{Q: term, Remotes: remotes, Limit: limit})
	if p.term == "" || len(p.remotes) == 0 {
		return nil, nil
	}
	name, tag := p.term, p.term
	cond := `t.tag = ? OR LOWER(t.name) LIKE ? ESCAPE '\'`
	if n, tg, ok := strings.Cut(p.term, ":"); ok && n != "sha256" {
		name, tag = n, tg
		cond = `t.tag = ? AND LOWER(t.name) LIKE ? ESCAPE '\'`
	}
	args := []any{tag, likePattern(strings.ToLower(name))}
	if p.lo != "" {
		cond += ` OR (t.digest >= ? AND t.digest < ?)`
		args = append(args, "sha256:"+p.lo, "sha256:"+p.hi)
	}
	in, rargs := inList(p.remotes)
	args = append(append(rargs, args...), p.limit)
	rows, err := s.r.QueryContext(ctx, s.q(`SELECT t.remote, t.name, t.tag, t.digest, t.updated_at FROM oci_tags t
		WHERE t.remote IN (`+in+`) AND (`+cond+`) ORDER BY t.remote, t.name, t.tag LIMIT ?`), args...)
	if err != nil {
		return nil, fmt.Errorf("db: search tags: %w", err)
	}
	defer rows.Close()
	var out []RegistryTagHit
	for rows.Next() {
		var h RegistryTagHit
		var updated int64
		if err := rows.Scan(&h.Remote, &h.Name, &h.Tag, &h.Digest, &updated); err != nil {
			return nil, fmt.Errorf("db: search tags: %w", err)
		}
		h.UpdatedAt = fromNanos(updated)
		out = append(out, h)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("db: search tags: %w", err)
	}
	return slices.Clip(out), nil
}
