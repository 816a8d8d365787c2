package db

import (
	"context"
	"errors"
	"time"
)

// ErrConflict is returned by AppendRegistryUpload when the upload's size is
// not the offset the caller wrote at (a chunk out of order, or a concurrent
// chunk won).
var ErrConflict = errors.New("db: conflict")

// RegistryBlob is one content-addressed blob of the local docker
// repositories, stored once whatever the number of repositories linking it.
type RegistryBlob struct {
	Digest     string // "sha256:<hex>" or "sha512:<hex>"
	Size       int64
	StorageKey string // blob store key of its bytes
	CreatedAt  time.Time
	// LastUsed is the last upload, link or reference check: garbage
	// collection leaves a blob alone for a grace period after it.
	LastUsed time.Time
}

// RegistryManifest is a manifest pushed to a local docker repository.
type RegistryManifest struct {
	Remote, Name string
	Digest       string
	MediaType    string
	Body         []byte // the exact bytes pushed
	Subject      string // digest of the subject, "" when none
	ArtifactType string
	// Blobs are the digests of the blobs it references (config, layers);
	// written by PutRegistryManifest, not read back.
	Blobs     []string
	CreatedAt time.Time
}

// UploadPart is a chunk of a blob upload, stored in the blob store.
type UploadPart struct {
	Seq        int // order within the upload, from 0
	StorageKey string
	Size       int64
	SHA256     string // hex digest of the part's bytes ("" when unknown)
}

// RegistryUpload is a blob upload session. It lives in the metadata store
// so that every replica can continue it.
type RegistryUpload struct {
	ID           string
	Remote, Name string
	Size         int64 // bytes received so far (sum of the parts)
	Parts        []UploadPart
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// RegistryStore keeps the metadata of local docker repositories: blobs,
// their links into repositories, manifests, tags and upload sessions.
//
// Blob rows and blob objects are removed together by garbage collection
// only: DeleteUnreferencedRegistryBlobs deletes a row only when no manifest
// references its digest and its LastUsed is older than the caller's cutoff,
// atomically with respect to the calls that move LastUsed (PutRegistryBlob,
// LinkRegistryBlob, TouchRegistryBlobs). A push that touched a blob is
// therefore safe from collection for the grace period.
type RegistryStore interface {
	// PutRegistryBlob records b (LastUsed = b.LastUsed) unless a row for its
	// digest exists, whose LastUsed then moves to b.LastUsed. It returns the
	// row kept and whether b was inserted; when not, b.StorageKey is unused.
	PutRegistryBlob(ctx context.Context, b RegistryBlob) (kept RegistryBlob, inserted bool, err error)
	// LinkRegistryBlob makes repository (remote, name) hold digest and moves
	// the blob's LastUsed to now. ErrNotFound when the blob is unknown.
	LinkRegistryBlob(ctx context.Context, remote, name, digest string, now time.Time) (RegistryBlob, error)
	// TouchRegistryBlobs moves LastUsed to now for those of digests the
	// repository holds, and returns them.
	TouchRegistryBlobs(ctx context.Context, remote, name string, digests []string, now time.Time) ([]string, error)
	// GetRegistryBlob returns a blob the repository holds, else ErrNotFound.
	GetRegistryBlob(ctx context.Context, remote, name, digest string) (RegistryBlob, error)
	// UnlinkRegistryBlob removes the repository's link, or returns ErrNotFound.
	UnlinkRegistryBlob(ctx context.Context, remote, name, digest string) error

	// PutRegistryManifest stores m (a manifest already present keeps its
	// row) and points tags at it, in one transaction.
	PutRegistryManifest(ctx context.Context, m RegistryManifest, tags []string) error
	// GetRegistryManifest returns the manifest by digest, or ErrNotFound.
	GetRegistryManifest(ctx context.Context, remote, name, digest string) (RegistryManifest, error)
	// ResolveRegistryTag returns the digest a tag points at, or ErrNotFound.
	ResolveRegistryTag(ctx context.Context, remote, name, tag string) (string, error)
	// ListRegistryTags returns up to limit tags (limit <= 0: all) sorted
	// lexically, after last ("" for the first page).
	ListRegistryTags(ctx context.Context, remote, name, last string, limit int) ([]string, error)
	// DeleteRegistryManifest deletes the manifest and every tag pointing at
	// it, or returns ErrNotFound.
	DeleteRegistryManifest(ctx context.Context, remote, name, digest string) error
	// DeleteRegistryTag deletes a tag (not its manifest), or returns ErrNotFound.
	DeleteRegistryTag(ctx context.Context, remote, name, tag string) error
	// ListRegistryReferrers returns the repository's manifests whose subject
	// is subject, oldest first.
	ListRegistryReferrers(ctx context.Context, remote, name, subject string) ([]RegistryManifest, error)
	// RegistryUsage is the bytes held by remote's repositories: each
	// distinct blob once, plus the manifests.
	RegistryUsage(ctx context.Context, remote string) (int64, error)

	// CreateRegistryUpload starts an upload session (ID chosen by the caller).
	CreateRegistryUpload(ctx context.Context, u RegistryUpload) error
	// GetRegistryUpload returns the session with its parts in order, or ErrNotFound.
	GetRegistryUpload(ctx context.Context, id string) (RegistryUpload, error)
	// AppendRegistryUpload adds part at offset, which must be the session's
	// size (else ErrConflict; ErrNotFound when the session is gone). The
	// part's Seq is assigned. Concurrent appends at one offset: one wins.
	AppendRegistryUpload(ctx context.Context, id string, offset int64, part UploadPart, now time.Time) error
	// DeleteRegistryUpload removes the session and returns it with its parts
	// (whose objects the caller deletes), or ErrNotFound.
	DeleteRegistryUpload(ctx context.Context, id string) (RegistryUpload, error)
	// StaleRegistryUploads returns up to limit sessions not updated since before.
	StaleRegistryUploads(ctx context.Context, before time.Time, limit int) ([]RegistryUpload, error)
	// DeleteUnreferencedRegistryBlobs deletes up to limit blobs that no
	// manifest references and whose LastUsed is before before, with their
	// repository links, and returns them (the caller deletes their objects).
	DeleteUnreferencedRegistryBlobs(ctx context.Context, before time.Time, limit int) ([]RegistryBlob, error)

	RegistryBrowser
	RegistryGCLog
	RegistrySearcher
}
