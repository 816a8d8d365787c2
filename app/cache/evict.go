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
	// Failed counts artifacts that could not be evicted (EvictEach).
	Failed int64 `json:"failed,omitempty"`
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
	victims, err := e.Select(ctx, remote, q, func(a db.Artifact) bool { return match == nil || match(a.Path) })
	if err != nil {
		return res, err
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

// Walk calls fn for every artifact of remote whose path contains q
// (case-insensitive; "" for all), in path order, until fn returns false.
// Access times still batched in memory are written first, so that fn sees
// every artifact's last access.
func (e *Engine) Walk(ctx context.Context, remote, q string, fn func(db.Artifact) bool) error {
	e.hits.flush()
	cur := ""
	for {
		page, err := e.o.Meta.ListArtifacts(ctx, db.ListQuery{Remote: remote, Q: q, Limit: db.MaxListLimit, Cursor: cur})
		if err != nil {
			return fmt.Errorf("cache: list %s: %w", remote, err)
		}
		for _, a := range page.Items {
			if !fn(a) {
				return nil
			}
		}
		if page.NextCursor == "" {
			return nil
		}
		cur = page.NextCursor
	}
}

// Select returns the artifacts Walk finds that satisfy match (nil: all).
// The whole list is collected before anything is deleted: deleting while
// paging would shift the walk.
func (e *Engine) Select(ctx context.Context, remote, q string, match func(db.Artifact) bool) ([]db.Artifact, error) {
	var out []db.Artifact
	err := e.Walk(ctx, remote, q, func(a db.Artifact) bool {
		if match == nil || match(a) {
			out = append(out, a)
		}
		return true
	})
	return out, err
}

// EvictEach evicts the given artifacts of remote, going on past a failure:
// the result counts the evicted ones and their bytes, Failed the others,
// and the error is the first failure. An artifact already gone is skipped.
func (e *Engine) EvictEach(ctx context.Context, remote string, victims []db.Artifact, reason string) (BulkResult, error) {
	var res BulkResult
	var first error
	for _, a := range victims {
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
		err := e.Evict(ctx, remote, a.Path, reason)
		switch {
		case errors.Is(err, db.ErrNotFound):
		case err != nil:
			res.Failed++
			if first == nil {
				first = err
			}
		default:
			res.Count++
			res.Bytes += a.Size
		}
	}
	return res, first
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
