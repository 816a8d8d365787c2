// Package db is the metadata store: which artifacts are cached, their
// freshness, checksums and usage. PostgreSQL in production, SQLite embedded.
package db

import (
	"context"
	"errors"
	"time"
)

// ErrNotFound is returned when a row does not exist.
var ErrNotFound = errors.New("db: not found")

// Kinds of cached artifact.
const (
	KindImmutable = "immutable"
	KindMutable   = "mutable"
)

// Artifact is one cached (or uploaded) file.
type Artifact struct {
	ID           int64
	Remote       string
	Path         string // request path after the remote name, including "?query" when present
	StorageKey   string
	Size         int64
	SHA256       string
	ContentType  string
	ETag         string // upstream ETag, used for revalidation
	LastModified string // upstream Last-Modified, HTTP date format
	Kind         string // KindImmutable or KindMutable
	Pattern      string // the pattern that classified it ("" when none)
	UpstreamURL  string
	CachedAt     time.Time
	ExpiresAt    time.Time // zero: never expires
	LastAccess   time.Time
	Hits         int64
	Pinned       bool
	// BlobVersion identifies the stored object written at commit (blob.Store
	// versions); a read is conditional on it, so a row never describes other bytes.
	BlobVersion string
}

// Hit is an aggregated batch of cache hits for one artifact.
type Hit struct {
	Remote string
	Path   string
	Count  int64
	Last   time.Time
}

// Sort orders for ListArtifacts.
const (
	SortPath       = "path"
	SortSize       = "size"
	SortCachedAt   = "cached_at"
	SortLastAccess = "last_access"
)

// ListQuery selects a page of artifacts.
type ListQuery struct {
	Remote string
	Q      string // case-insensitive substring of Path; "" matches all
	Sort   string // one of the Sort* constants; "" means SortPath
	Desc   bool
	Limit  int    // 1..1000; 0 means 100
	Cursor string // opaque; "" for the first page
}

// ListPage is one page of results.
type ListPage struct {
	Items      []Artifact
	NextCursor string // "" when there are no more
}

// Totals summarises a remote's cache.
type Totals struct {
	Count int64
	Bytes int64
}

// Store is the metadata store.
type Store interface {
	// GetArtifact returns the artifact or ErrNotFound.
	GetArtifact(ctx context.Context, remote, path string) (Artifact, error)
	// PutArtifact inserts or replaces the artifact keyed by (Remote, Path).
	// Hits and Pinned of an existing row are kept unless the new value is larger/true.
	PutArtifact(ctx context.Context, a Artifact) error
	// SetBlobVersion records that the artifact's object is now at version
	// to, only while its row still names storageKey at version from; it
	// reports whether it did.
	SetBlobVersion(ctx context.Context, remote, path, storageKey, from, to string) (bool, error)
	// DeleteArtifact removes and returns the row, or ErrNotFound.
	DeleteArtifact(ctx context.Context, remote, path string) (Artifact, error)
	// SetExpiry sets ExpiresAt (zero: never) of an existing row. ErrNotFound if missing.
	SetExpiry(ctx context.Context, remote, path string, expires time.Time) error
	// RecordHits adds counts and moves LastAccess forward for existing rows.
	RecordHits(ctx context.Context, hits []Hit) error
	// ListArtifacts returns one page. Keyset pagination: a page never repeats or
	// skips an entry that exists during the whole walk, whatever changes meanwhile.
	ListArtifacts(ctx context.Context, q ListQuery) (ListPage, error)
	// Totals counts the artifacts of remote matching q ("" = all).
	Totals(ctx context.Context, remote, q string) (Totals, error)
	// Searcher finds artifacts across remotes by path or digest.
	Searcher
	// Ping reports whether the store can be reached.
	Ping(ctx context.Context) error
	// Describe is a one-line, secret-free description for logs and /config.
	Describe() string
	// Close releases resources.
	Close() error
}
