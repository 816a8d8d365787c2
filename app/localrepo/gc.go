package localrepo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"artifactapi/app/blob"
	"artifactapi/app/oci"
	"artifactapi/db"
)

// Blob returns blob d of r, or ErrBlobUnknown.
func (s *Store) Blob(ctx context.Context, r Repo, d oci.Digest) (db.RegistryBlob, error) {
	b, err := s.o.Meta.GetRegistryBlob(ctx, r.Remote, r.Name, d.String())
	return b, unknown(err, ErrBlobUnknown, d.String())
}

// OpenBlob reads length bytes from off (length < 0: to the end) of b.
func (s *Store) OpenBlob(ctx context.Context, b db.RegistryBlob, off, length int64) (io.ReadCloser, error) {
	rc, err := s.o.Blobs.Open(ctx, b.StorageKey, off, length)
	if errors.Is(err, blob.ErrNotFound) {
		// Collected between the lookup and the read.
		return nil, fmt.Errorf("%w: %s", ErrBlobUnknown, b.Digest)
	}
	return rc, err
}

// DeleteBlob removes blob d from r. Its bytes go at the next garbage
// collection if no other repository holds it and no manifest references it.
func (s *Store) DeleteBlob(ctx context.Context, r Repo, d oci.Digest) error {
	return unknown(s.o.Meta.UnlinkRegistryBlob(ctx, r.Remote, r.Name, d.String()), ErrBlobUnknown, d.String())
}

// GCReport says what a collection removed.
type GCReport struct {
	Uploads int   `json:"uploads"`       // abandoned upload sessions
	Blobs   int   `json:"blobs"`         // unreferenced blobs
	Bytes   int64 `json:"bytes_deleted"` // their size
}

// gcBatch bounds each metadata transaction of a collection.
const gcBatch = 500

// ExpireUploads removes upload sessions idle for UploadTimeout, with their
// parts. Safe on every replica at once: each session is deleted by one.
func (s *Store) ExpireUploads(ctx context.Context) (int, error) {
	n := 0
	for {
		stale, err := s.o.Meta.StaleRegistryUploads(ctx, s.o.Now().Add(-s.o.UploadTimeout), gcBatch)
		if err != nil {
			return n, err
		}
		for _, u := range stale {
			if err := s.dropUpload(ctx, u.ID, ""); err == nil {
				n++
			} else if !errors.Is(err, ErrUploadUnknown) {
				return n, err
			}
		}
		if len(stale) < gcBatch {
			return n, nil
		}
	}
}

// CollectGarbage expires abandoned uploads, then deletes every blob that no
// manifest of any local repository references and that nothing touched for
// GCGrace (a push in progress touches what it uploads or relies on), with
// its repository links and finally its object.
func (s *Store) CollectGarbage(ctx context.Context) (GCReport, error) {
	var rep GCReport
	var err error
	if rep.Uploads, err = s.ExpireUploads(ctx); err != nil {
		return rep, fmt.Errorf("localrepo: expire uploads: %w", err)
	}
	for {
		gone, err := s.o.Meta.DeleteUnreferencedRegistryBlobs(ctx, s.o.Now().Add(-s.o.GCGrace), gcBatch)
		if err != nil {
			return rep, fmt.Errorf("localrepo: collect blobs: %w", err)
		}
		for _, b := range gone {
			rep.Blobs++
			rep.Bytes += b.Size
			s.deleteObject(b.StorageKey)
		}
		if len(gone) < gcBatch {
			break
		}
	}
	s.o.Log.Info("registry garbage collection", "uploads_expired", rep.Uploads, "blobs_deleted", rep.Blobs, "bytes_deleted", rep.Bytes)
	return rep, nil
}

// pullFlush is how often the pulls seen are written.
const pullFlush = 2 * time.Second

// Pulled records a pull of the manifest digest of r (written by Run).
func (s *Store) Pulled(r Repo, digest string) {
	s.mu.Lock()
	s.pulls[pullKey{r.Remote, r.Name, digest}] = s.o.Now()
	s.mu.Unlock()
}

// FlushPulls writes the pulls recorded since the last flush; on failure
// they are kept for the next one.
func (s *Store) FlushPulls(ctx context.Context) error {
	s.mu.Lock()
	pending := s.pulls
	s.pulls = map[pullKey]time.Time{}
	s.mu.Unlock()
	if len(pending) == 0 {
		return nil
	}
	batch := make([]db.ManifestPull, 0, len(pending))
	for k, at := range pending {
		batch = append(batch, db.ManifestPull{Remote: k.remote, Name: k.name, Digest: k.digest, At: at})
	}
	err := s.o.Meta.RecordManifestPulls(ctx, batch)
	if err != nil {
		s.mu.Lock()
		for k, at := range pending {
			if cur, ok := s.pulls[k]; !ok || cur.Before(at) {
				s.pulls[k] = at
			}
		}
		s.mu.Unlock()
	}
	return err
}

// Run expires abandoned uploads every interval and writes the pulls seen
// every pullFlush, until ctx ends (the last pulls are written then).
func (s *Store) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	flush := time.NewTicker(pullFlush)
	defer flush.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			if err := s.FlushPulls(fctx); err != nil {
				s.o.Log.Warn("registry: recording the last pulls failed", "err", err)
			}
			cancel()
			return
		case <-flush.C:
			if err := s.FlushPulls(ctx); err != nil {
				s.o.Log.Warn("registry: recording pulls failed (kept for the next try)", "err", err)
			}
		case <-t.C:
			if n, err := s.ExpireUploads(ctx); err != nil {
				s.o.Log.Warn("registry: expiring abandoned uploads failed", "err", err)
			} else if n > 0 {
				s.o.Log.Info("registry: abandoned uploads removed", "count", n)
			}
		}
	}
}
