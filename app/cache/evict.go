package cache

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"artifactapi/app/config"
	"artifactapi/db"
)

// BulkResult summarises a bulk eviction.
type BulkResult struct {
	Count  int64 `json:"count"`
	Bytes  int64 `json:"bytes"`
	DryRun bool  `json:"dry_run"`
}

// EvictMatching evicts every artifact of remote whose path contains q
// ("" = all). With dryRun it only counts.
func (e *Engine) EvictMatching(ctx context.Context, remote, q string, dryRun bool) (BulkResult, error) {
	res := BulkResult{DryRun: dryRun}
	if dryRun {
		t, err := e.o.Meta.Totals(ctx, remote, q)
		if err != nil {
			return res, fmt.Errorf("cache: count %s: %w", remote, err)
		}
		res.Count, res.Bytes = t.Count, t.Bytes
		return res, nil
	}
	return e.EvictWhere(ctx, remote, q, nil, "bulk")
}

// EvictWhere evicts every artifact of remote whose path contains q and,
// when match is set, satisfies match; reason labels the evictions metric.
// Remembered upstream 404s of the remote are forgotten too.
func (e *Engine) EvictWhere(ctx context.Context, remote, q string, match func(path string) bool, reason string) (BulkResult, error) {
	var res BulkResult
	// Remembered upstream 404s cannot be listed: forget all of the remote's.
	e.forgetAllMissing(ctx, remote)
	// Collect first, then delete: deleting while paging would shift the walk.
	var victims []db.Artifact
	cur := ""
	for {
		page, err := e.o.Meta.ListArtifacts(ctx, db.ListQuery{Remote: remote, Q: q, Limit: db.MaxListLimit, Cursor: cur})
		if err != nil {
			return res, fmt.Errorf("cache: list %s: %w", remote, err)
		}
		for _, a := range page.Items {
			if match == nil || match(a.Path) {
				victims = append(victims, a)
			}
		}
		if page.NextCursor == "" {
			break
		}
		cur = page.NextCursor
	}
	for _, a := range victims {
		err := e.Evict(ctx, remote, a.Path, reason)
		if errors.Is(err, db.ErrNotFound) {
			continue
		}
		if err != nil {
			return res, err
		}
		res.Count++
		res.Bytes += a.Size
	}
	return res, nil
}

// Quota enforces cache.max_size per remote: after a commit pushes a remote
// over its limit, the least recently used unpinned artifacts are evicted until
// it is under. Runs are serialised per remote.
type Quota struct {
	e      *Engine
	remote func(name string) *config.Remote
	mu     sync.Mutex
	locks  map[string]*sync.Mutex
}

// NewQuota returns the enforcer; remote looks up the current config of a remote.
func NewQuota(e *Engine, remote func(name string) *config.Remote) *Quota {
	return &Quota{e: e, remote: remote, locks: map[string]*sync.Mutex{}}
}

func (q *Quota) lock(name string) *sync.Mutex {
	q.mu.Lock()
	defer q.mu.Unlock()
	l := q.locks[name]
	if l == nil {
		l = &sync.Mutex{}
		q.locks[name] = l
	}
	return l
}

// Enforce evicts LRU artifacts of remote until it fits its max_size.
// It returns how many were evicted.
func (q *Quota) Enforce(ctx context.Context, name string) (int, error) {
	r := q.remote(name)
	// Local repositories hold the only copy of their files: never evicted by quota.
	if r == nil || r.MaxSizeBytes() <= 0 || r.IsLocal() {
		return 0, nil
	}
	l := q.lock(name)
	l.Lock()
	defer l.Unlock()
	e := q.e
	// Access times still batched in memory must count.
	e.hits.flush()
	t, err := e.o.Meta.Totals(ctx, name, "")
	if err != nil {
		return 0, err
	}
	over := t.Bytes - r.MaxSizeBytes()
	evicted := 0
	cur := ""
	for over > 0 {
		page, err := e.o.Meta.ListArtifacts(ctx, db.ListQuery{Remote: name, Sort: db.SortLastAccess, Limit: 200, Cursor: cur})
		if err != nil {
			return evicted, err
		}
		for _, a := range page.Items {
			if over <= 0 {
				break
			}
			if a.Pinned {
				continue
			}
			if err := e.Evict(ctx, name, a.Path, "quota"); err != nil && !errors.Is(err, db.ErrNotFound) {
				return evicted, err
			}
			over -= a.Size
			evicted++
		}
		if page.NextCursor == "" {
			break
		}
		cur = page.NextCursor
	}
	if over > 0 {
		e.o.Log.Warn("quota still exceeded: the rest is pinned", "remote", name, "over_bytes", over)
	}
	return evicted, nil
}
