// Package blob defines the artifact byte store and its implementations:
// the filesystem (embedded default) and S3 (production).
package blob

import (
	"context"
	"errors"
	"io"
	"os"
	"time"
)

// ErrNotFound is returned when a key does not exist. Implementations translate
// their own not-found errors into it.
var ErrNotFound = errors.New("blob: not found")

// ErrVersionMismatch is returned by OpenVersion when the object under the key
// is no longer the version asked for (it was replaced).
var ErrVersionMismatch = errors.New("blob: object replaced")

// Info describes a stored object.
type Info struct {
	Key     string
	Size    int64
	ModTime time.Time
	// Version identifies this object among every object ever stored under
	// Key: two objects with different bytes never share a version.
	Version string
}

// Store keeps artifact bytes under string keys ("remote/hash16/filename").
//
// Put is atomic: the object becomes visible only after r has been read to EOF
// without error and the write completed; if r returns an error (or ctx ends)
// nothing is published and a previous object under the same key stays intact.
//
// Every write returns the new object's version. A reader that names the
// version it expects (OpenVersion) is either given exactly those bytes or
// ErrVersionMismatch: metadata recorded with a version can never be served
// with the bytes of a later object written under the same key.
type Store interface {
	// Put stores r under key and returns the stored object's version.
	// size is the exact length, or -1 when unknown.
	Put(ctx context.Context, key string, r io.Reader, size int64) (version string, err error)
	// Open reads length bytes from offset off (length < 0: to the end) of
	// whatever object is under key. A missing key returns ErrNotFound from
	// Open itself, never from the first Read.
	Open(ctx context.Context, key string, off, length int64) (io.ReadCloser, error)
	// OpenVersion is Open of one version: ErrVersionMismatch (from
	// OpenVersion itself) when the object under key is another one.
	// version "" accepts any object.
	OpenVersion(ctx context.Context, key, version string, off, length int64) (io.ReadCloser, error)
	// Stat returns the object's size and version, or ErrNotFound.
	Stat(ctx context.Context, key string) (Info, error)
	// Delete removes key; deleting a missing key is not an error.
	Delete(ctx context.Context, key string) error
	// List calls fn for every object whose key starts with prefix.
	List(ctx context.Context, prefix string, fn func(Info) error) error
	// Ping reports whether the store can be reached.
	Ping(ctx context.Context) error
	// Describe is a one-line, secret-free description for logs and /config.
	Describe() string
}

// FileAdopter is implemented by stores that can take ownership of a complete
// local file cheaply (the filesystem store renames it). Adopt is atomic like Put.
type FileAdopter interface {
	Adopt(ctx context.Context, key, path string) (version string, err error)
}

// FileReader is implemented by a body from Open that reads part of a local
// file: the rest of the body is the next n bytes of f from its current
// offset. A server can hand such a body to sendfile(2). (A body that is an
// *os.File itself reads to its end.)
type FileReader interface {
	File() (f *os.File, n int64)
}

// FilePutter is implemented by stores that upload a complete local file more
// cheaply than a stream (S3: by sections, without part buffers). Atomic like Put.
type FilePutter interface {
	PutFile(ctx context.Context, key, path string) (version string, err error)
}
