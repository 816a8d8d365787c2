// Package localrepo is the storage of local docker repositories (a remote
// with type: local and package: docker): content pushed through /v2 and
// kept as the only copy, never evicted.
//
// Layout. Blobs are content-addressed and stored once in the blob store
// whatever the number of repositories holding them; each stored object has
// a unique key (_registry/blobs/<alg>/<hex>/<nonce>), so an upload never
// overwrites the object another replica is reading or collecting, and the
// metadata store decides which object is "the" blob of a digest. Manifests
// (exact bytes), tags and the blobs a manifest references live in the
// metadata store (db.RegistryStore).
//
// Uploads across replicas. An upload session is a row in the metadata store
// and each chunk (PATCH) is its own object in the shared blob store
// (_registry/uploads/<id>/<nonce>), appended to the session with a
// compare-and-set on the session's size: any replica can take any request
// of an upload, a chunk out of order (or a concurrent duplicate) is refused
// with ErrRangeInvalid, and the commit reads the parts in order, verifies
// the digest while copying them to the blob's object, and publishes the blob
// only when it matches. Nothing is pinned to a replica and nothing is kept
// in memory. Sessions not updated for UploadTimeout are removed with their
// parts by ExpireUploads.
//
// Garbage collection. A blob no manifest of any local repository
// references, and untouched (uploaded, linked, mounted, checked by a
// manifest push) for GCGrace, is deleted with its links, then its object.
// Every push step touches the blobs it relies on first, so a concurrent push
// is never left with a manifest whose blob was collected under it.
package localrepo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"artifactapi/app/blob"
	"artifactapi/app/oci"
	"artifactapi/db"
)

// Errors of the store; each /v2 error code has one.
var (
	ErrBlobUnknown         = errors.New("localrepo: blob unknown to the repository")
	ErrManifestUnknown     = errors.New("localrepo: manifest unknown")
	ErrUploadUnknown       = errors.New("localrepo: upload unknown")
	ErrDigestInvalid       = errors.New("localrepo: content does not match its digest")
	ErrManifestInvalid     = errors.New("localrepo: manifest invalid")
	ErrManifestBlobUnknown = errors.New("localrepo: manifest references a blob the repository does not hold")
	ErrRangeInvalid        = errors.New("localrepo: chunk out of order")
	ErrSizeInvalid         = errors.New("localrepo: content length does not match")
	ErrQuota               = errors.New("localrepo: quota exceeded")
)

// Defaults of Options.
const (
	DefaultGCGrace       = time.Hour
	DefaultUploadTimeout = time.Hour
)

// keyPrefix starts every key of this package in the blob store. A remote
// name cannot start with '_', so no cache key collides with these.
const keyPrefix = "_registry/"

// Options configure a Store.
type Options struct {
	Meta  db.RegistryStore
	Blobs blob.Store
	Log   *slog.Logger
	Now   func() time.Time // time.Now when nil
	// GCGrace is how long an unreferenced blob is kept after it was last
	// touched: longer than any push takes.
	GCGrace time.Duration
	// UploadTimeout is how long an upload session may stay idle.
	UploadTimeout time.Duration
	// SpoolDir, when set, holds a chunk of unknown length on its way to a
	// blob store that uploads files more cheaply than streams (S3: a stream
	// of unknown length costs a part buffer per upload; a file, none).
	SpoolDir string
}

// Store is the storage of every local docker repository.
type Store struct {
	o Options

	// pulls are the manifests pulled since the last flush, with when
	// (Run writes them every pullFlush).
	mu    sync.Mutex
	pulls map[pullKey]time.Time
}

type pullKey struct{ remote, name, digest string }

// New returns a Store.
func New(o Options) *Store {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.GCGrace <= 0 {
		o.GCGrace = DefaultGCGrace
	}
	if o.UploadTimeout <= 0 {
		o.UploadTimeout = DefaultUploadTimeout
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	return &Store{o: o, pulls: map[pullKey]time.Time{}}
}

// Repo names one repository: a local docker remote and a repository name.
type Repo struct {
	Remote string
	Name   string
	// MaxSize is the remote's quota (cache.max_size) in bytes; 0: none.
	MaxSize int64
}

func (r Repo) String() string { return r.Remote + "/" + r.Name }

// nonce returns a random hex string (object keys, upload ids).
func nonce() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func blobKey(d oci.Digest) string {
	return keyPrefix + "blobs/" + d.Algorithm() + "/" + d.Hex() + "/" + nonce()
}

func partKey(upload string) string { return keyPrefix + "uploads/" + upload + "/" + nonce() }

// quotaError explains a refused push.
func quotaError(r Repo, used, incoming int64) error {
	return fmt.Errorf("%w: remote %q holds %d bytes of its %d-byte quota (cache.max_size); this push needs %d more: delete images or raise the quota",
		ErrQuota, r.Remote, used, r.MaxSize, incoming)
}

// checkQuota refuses incoming more bytes for r when they do not fit.
// Concurrent pushes are checked independently: the quota can be exceeded
// by at most what they push at the same time.
func (s *Store) checkQuota(ctx context.Context, r Repo, incoming int64) error {
	if r.MaxSize <= 0 {
		return nil
	}
	used, err := s.o.Meta.RegistryUsage(ctx, r.Remote)
	if err != nil {
		return err
	}
	if used+incoming > r.MaxSize {
		return quotaError(r, used, incoming)
	}
	return nil
}

// room is how many more bytes r may take (-1: unlimited).
func (s *Store) room(ctx context.Context, r Repo) (int64, error) {
	if r.MaxSize <= 0 {
		return -1, nil
	}
	used, err := s.o.Meta.RegistryUsage(ctx, r.Remote)
	if err != nil {
		return 0, err
	}
	return max(r.MaxSize-used, 0), nil
}
