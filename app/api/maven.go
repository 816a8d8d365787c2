package api

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"artifactapi/app/cache"
	"artifactapi/app/config"
	"artifactapi/db"
)

// mavenChecksums are the checksum files Maven fetches beside a file.
var mavenChecksums = []string{".md5", ".sha1", ".sha256", ".sha512"}

// mavenMetadataDownloaded keeps a maven-metadata.xml and its checksum files
// consistent: when the metadata (p) was just downloaded from the upstream
// rather than served from the cache, its checksum files cached with the
// previous version are evicted before the client receives it, so the one it
// asks for next is fetched anew and matches. (Only this direction: Maven
// fetches a checksum after its file, so the file always expires first, and
// a checksum refresh evicting the file would make each refetch the other.)
func (h *Handler) mavenMetadataDownloaded(ctx context.Context, r *config.Remote, p string, res *cache.Result) error {
	if r.Package != config.PackageMaven || res.Source != "remote" || !strings.HasSuffix(p, "maven-metadata.xml") {
		return nil
	}
	for _, q := range suffixed(p, mavenChecksums) {
		if err := h.d.Engine.Evict(ctx, r.Name, q, "maven metadata changed"); err != nil && !errors.Is(err, db.ErrNotFound) {
			_ = h.d.Engine.Evict(context.WithoutCancel(ctx), r.Name, p, "maven metadata changed")
			return fmt.Errorf("maven: evict %s: %w", q, err)
		}
	}
	return nil
}

func suffixed(base string, exts []string) []string {
	out := make([]string, len(exts))
	for i, e := range exts {
		out[i] = base + e
	}
	return out
}
