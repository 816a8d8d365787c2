package api

import (
	"context"
	"fmt"

	"artifactapi/app/cache"
	"artifactapi/app/config"
	"artifactapi/app/formats"
)

// aptReleaseDownloaded keeps an apt suite consistent: when a suite's Release
// file (p) was just downloaded from the upstream rather than served from the
// cache, the suite's plain index files cached with the previous Release are
// evicted before the client receives the new one, so the Packages it asks
// for next are fetched anew and match the hashes the Release lists. A
// revalidation answered 304 keeps them. by-hash/ paths are never evicted.
//
// When the eviction fails, the Release file is evicted too (best effort), so
// that the next request downloads it again and retries.
func (h *Handler) aptReleaseDownloaded(ctx context.Context, r *config.Remote, p string, res *cache.Result) error {
	if r.Package != config.PackageAPT || res.Source != "remote" {
		return nil
	}
	dir, ok := formats.APTSuite(p)
	if !ok {
		return nil
	}
	match := func(q string) bool { return formats.APTSuiteIndex(dir, q) }
	if _, err := h.d.Engine.EvictWhere(ctx, r.Name, dir, match, "apt release changed"); err != nil {
		_ = h.d.Engine.Evict(context.WithoutCancel(ctx), r.Name, p, "apt release changed")
		return fmt.Errorf("apt: evict the index files of %s: %w", dir, err)
	}
	return nil
}
