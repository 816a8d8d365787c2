package cache

import (
	"context"
	"fmt"
	"io"

	"artifactapi/db"
)

// Stored reads the body of the entry cached under remote and p, whatever
// its freshness, without fetching anything or counting a hit: a lookup of
// metadata already in the cache (a package document holding an artifact's
// checksum). At most max bytes are read; a larger body is an error. It
// returns db.ErrNotFound when nothing is cached under p.
func (e *Engine) Stored(ctx context.Context, remote, p string, max int64) ([]byte, db.Artifact, error) {
	a, remembered, err := e.lookupFrom(ctx, remote, p)
	if err != nil {
		return nil, a, err
	}
	if a.Size > max {
		return nil, a, fmt.Errorf("cache: %s/%s: %d bytes, more than %d", remote, p, a.Size, max)
	}
	rc, err := e.openStored(ctx, a, remembered, 0, -1)
	if err != nil {
		return nil, a, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, max+1))
	if err != nil {
		return nil, a, fmt.Errorf("cache: read %s/%s: %w", remote, p, err)
	}
	if int64(len(b)) > max {
		return nil, a, fmt.Errorf("cache: %s/%s: more than %d bytes", remote, p, max)
	}
	return b, a, nil
}
