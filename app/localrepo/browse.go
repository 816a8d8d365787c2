package localrepo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"artifactapi/app/oci"
	"artifactapi/db"
)

// Repositories returns up to n repositories of remote after after (sorted
// by name), and whether more follow.
func (s *Store) Repositories(ctx context.Context, remote, after string, n int) ([]db.RegistryRepository, bool, error) {
	repos, err := s.o.Meta.ListRegistryRepositories(ctx, remote, after, n+1)
	if err != nil {
		return nil, false, err
	}
	if len(repos) > n {
		return repos[:n], true, nil
	}
	return repos, false, nil
}

// Usage is the bytes remote's repositories hold: each distinct blob once,
// plus the manifests (what the quota counts).
func (s *Store) Usage(ctx context.Context, remote string) (int64, error) {
	return s.o.Meta.RegistryUsage(ctx, remote)
}

// TagInfo is a tag of a repository with the manifest it points at.
type TagInfo struct {
	db.RegistryTagDetail
	// Size is what a pull downloads: the config and layers of an image
	// manifest; for an index, those of every manifest it lists (a blob
	// shared by several platforms once).
	Size int64
}

// IsIndex reports whether the tag points at an index (a multi-platform image).
func (t TagInfo) IsIndex() bool {
	return t.MediaType == oci.MediaTypeOCIIndex || t.MediaType == oci.MediaTypeDockerManifestList
}

// TagDetails returns up to n tags of r after after (bytewise), with their
// manifests, and whether more follow.
func (s *Store) TagDetails(ctx context.Context, r Repo, after string, n int) ([]TagInfo, bool, error) {
	rows, err := s.o.Meta.ListRegistryTagDetails(ctx, r.Remote, r.Name, after, n+1)
	if err != nil {
		return nil, false, err
	}
	more := len(rows) > n
	if more {
		rows = rows[:n]
	}
	out := make([]TagInfo, len(rows))
	for i, d := range rows {
		out[i] = TagInfo{RegistryTagDetail: d, Size: d.BlobsSize}
		if out[i].IsIndex() {
			if out[i].Size, err = s.indexSize(ctx, r, d.Digest); err != nil {
				return nil, false, err
			}
		}
	}
	return out, more, nil
}

// indexSize is the size of the blobs of the manifests an index lists.
func (s *Store) indexSize(ctx context.Context, r Repo, digest string) (int64, error) {
	m, err := s.o.Meta.GetRegistryManifest(ctx, r.Remote, r.Name, digest)
	if errors.Is(err, db.ErrNotFound) {
		return 0, nil // deleted meanwhile
	}
	if err != nil {
		return 0, err
	}
	var doc document
	_ = json.Unmarshal(m.Body, &doc) // validated when pushed
	children := make([]string, 0, len(doc.Manifests))
	for _, c := range doc.Manifests {
		children = append(children, c.Digest)
	}
	return s.o.Meta.RegistryBlobsSize(ctx, r.Remote, r.Name, children)
}

// Manifests returns every manifest of r with its bytes, by digest.
func (s *Store) Manifests(ctx context.Context, r Repo) ([]db.RegistryManifest, error) {
	return s.o.Meta.ListRegistryManifests(ctx, r.Remote, r.Name)
}

// DeleteTag deletes a tag of r (its manifest stays, reachable by digest),
// or returns ErrManifestUnknown.
func (s *Store) DeleteTag(ctx context.Context, r Repo, tag string) error {
	return unknown(s.o.Meta.DeleteRegistryTag(ctx, r.Remote, r.Name, tag), ErrManifestUnknown, tag)
}

// GCTimeout bounds a garbage collection; a run recorded as started longer
// ago than this and never finished was interrupted (its replica stopped).
const GCTimeout = time.Hour

// StartGC records a garbage collection started by startedBy ("api",
// "dashboard") and runs it in the background, detached from ctx so that a
// client leaving does not cut it short. The channel receives the finished
// run, as recorded in the metadata store, and is closed.
func (s *Store) StartGC(ctx context.Context, startedBy string) (db.RegistryGCRun, <-chan db.RegistryGCRun, error) {
	run, err := s.o.Meta.StartRegistryGC(ctx, startedBy, s.o.Now())
	if err != nil {
		return run, nil, fmt.Errorf("localrepo: record gc: %w", err)
	}
	done := make(chan db.RegistryGCRun, 1)
	go func(run db.RegistryGCRun) {
		defer close(done)
		gctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), GCTimeout)
		defer cancel()
		rep, err := s.CollectGarbage(gctx)
		run.Uploads, run.Blobs, run.Bytes = int64(rep.Uploads), int64(rep.Blobs), rep.Bytes
		if err != nil {
			s.o.Log.Error("registry garbage collection failed", "err", err)
			run.Error = "the collection failed; the server log has the cause"
		}
		run.FinishedAt = s.o.Now()
		if err := s.o.Meta.FinishRegistryGC(gctx, run); err != nil {
			s.o.Log.Error("registry garbage collection: recording the result failed", "err", err)
		}
		done <- run
	}(run)
	return run, done, nil
}

// RunGC runs a garbage collection (as StartGC) and waits for its result.
func (s *Store) RunGC(ctx context.Context, startedBy string) (db.RegistryGCRun, error) {
	_, done, err := s.StartGC(ctx, startedBy)
	if err != nil {
		return db.RegistryGCRun{}, err
	}
	run := <-done
	if run.Error != "" {
		return run, errors.New("localrepo: garbage collection failed")
	}
	return run, nil
}

// LastGC returns the newest garbage collection run (possibly still
// running, or interrupted), and false when none was ever recorded.
func (s *Store) LastGC(ctx context.Context) (db.RegistryGCRun, bool, error) {
	run, err := s.o.Meta.LastRegistryGC(ctx)
	if errors.Is(err, db.ErrNotFound) {
		return run, false, nil
	}
	return run, err == nil, err
}
