package cache

import (
	"context"
	"errors"
	"fmt"
	"io"

	"artifactapi/app/blob"
	"artifactapi/db"
)

// localTier is implemented by a blob store that keeps copies of recently
// served objects on this machine in front of the shared store (blob.Hot).
// A copy is keyed by the object's version, so it can only answer for the
// metadata it was recorded with; what the engine adds is that the metadata
// is current:
//
//   - metadata read from this process's memory may be a moment behind
//     another replica's eviction (the notice is on its way, or Redis has just
//     died and the memo is not yet distrusted). The shared store would then
//     refuse the read; a local copy would not. So a local copy is served for
//     remembered metadata only after the metadata store confirms that the
//     entry still names that object (one query, no blob round trip);
//   - every notice from another replica drops the key's local copies, so an
//     evicted or replaced object also leaves this replica's disk.
type localTier interface {
	// OpenLocal opens the local copy of key at version, or reports false.
	OpenLocal(key, version string, off, length int64) (io.ReadCloser, bool)
	// OpenThrough reads from the shared store, keeping a local copy of a
	// whole read when its bytes have the sha256 sum.
	OpenThrough(ctx context.Context, key, version, sum string, off, length int64) (io.ReadCloser, error)
	// Drop forgets the local copies of key.
	Drop(key string)
}

// openStored opens the stored object of the committed entry a; remembered
// says a came from the memo rather than the metadata store.
func (e *Engine) openStored(ctx context.Context, a db.Artifact, remembered bool, off, length int64) (io.ReadCloser, error) {
	t, ok := e.o.Blobs.(localTier)
	if !ok {
		rc, err := e.o.Blobs.OpenVersion(ctx, a.StorageKey, a.BlobVersion, off, length)
		return rc, blobErr(err)
	}
	if rc, ok := t.OpenLocal(a.StorageKey, a.BlobVersion, off, length); ok {
		if !remembered {
			return rc, nil
		}
		cur, err := e.o.Meta.GetArtifact(ctx, a.Remote, a.Path)
		switch {
		case err == nil && cur.StorageKey == a.StorageKey && cur.BlobVersion == a.BlobVersion:
			return rc, nil
		case err == nil || errors.Is(err, db.ErrNotFound):
			// Evicted or replaced since it was remembered: Engine.Serve
			// drops the memo entry and looks again.
			rc.Close()
			return nil, fmt.Errorf("cache: %s/%s: %w", a.Remote, a.Path, blob.ErrVersionMismatch)
		}
		// The metadata store cannot say: the shared store decides, as it
		// does without a local copy.
		rc.Close()
	}
	rc, err := t.OpenThrough(ctx, a.StorageKey, a.BlobVersion, a.SHA256, off, length)
	return rc, blobErr(err)
}

// dropLocal drops the local copies of the artifact a notice names (mkey).
func (e *Engine) dropLocal(k string) {
	t, ok := e.o.Blobs.(localTier)
	if !ok {
		return
	}
	remote, p, ok := splitKey(k)
	if !ok {
		return
	}
	t.Drop(StorageKey(remote, p))
}

// maxOwnNotices bounds the notices remembered as this replica's own.
const maxOwnNotices = 10000

// sentNotice remembers that this replica published a notice for k: when it
// comes back, the local copy it has just stored must stay.
func (e *Engine) sentNotice(k string) {
	e.noticeMu.Lock()
	if len(e.own) >= maxOwnNotices {
		clear(e.own) // a lost subscription: dropping a copy too many is harmless
	}
	e.own[k]++
	e.noticeMu.Unlock()
}

// ownNotice reports (once per publication) that k is this replica's notice.
func (e *Engine) ownNotice(k string) bool {
	e.noticeMu.Lock()
	defer e.noticeMu.Unlock()
	if e.own[k] == 0 {
		return false
	}
	if e.own[k]--; e.own[k] == 0 {
		delete(e.own, k)
	}
	return true
}
