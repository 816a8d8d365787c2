package blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
)

// HotConfig configures a hot tier.
type HotConfig struct {
	// Dir holds the local copies (created when missing; its content is
	// taken over on start).
	Dir string
	// Size bounds the bytes of the copies, those being written included.
	Size int64
	// Log receives the tier's warnings (a dropped corrupt copy); default slog.Default().
	Log *slog.Logger
}

// Hot is a Store that keeps a bounded local copy of recently written and read
// objects in front of another store (S3), so that a warm read costs a local
// file (handed to sendfile(2)) instead of a round trip and a copy through
// the network. Everything else goes to the store behind it, which stays the
// one source of truth.
//
// A copy is keyed by the object's key and version and is only ever served to
// a reader naming that version: a replaced object has another version, so
// its old copy cannot answer for it. Copies come from two places: a complete
// file handed to Adopt (a verified download) is renamed into the tier after
// it is uploaded, and a whole-object read tees into a temporary file that is
// taken only when the stream ended at the object's size and, when the reader
// named one (OpenThrough), with the expected sha256. Every write or delete
// through Hot drops the key's copies.
//
// Copies are evicted least recently used first so that their bytes never
// exceed Size. Each copy has a small sidecar file (hot_index.go) from which
// the index is rebuilt on start; a copy whose file was changed since it was
// taken (size, inode, modification or change time differ: truncated,
// rewritten in place) is dropped then, and also when it is opened.
type Hot struct {
	next Store
	dir  string // dir/objects holds the copies, dir/tmp the tees being written
	max  int64
	log  *slog.Logger
	idx  hotIndex
	wg   sync.WaitGroup // background adoptions of finished tees

	hits, misses, evictions atomic.Int64
}

var (
	_ Store         = (*Hot)(nil)
	_ FileAdopter   = (*Hot)(nil)
	_ FilePutter    = (*Hot)(nil)
	_ StreamSpooler = (*Hot)(nil)
)

// NewHot wraps next with a hot tier in cfg.Dir, rebuilding the index from
// the copies a previous process left there.
func NewHot(next Store, cfg HotConfig) (*Hot, error) {
	if cfg.Dir == "" || cfg.Size <= 0 {
		return nil, errors.New("blob: hot tier needs a directory and a positive size")
	}
	abs, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("blob: hot tier %s: %w", cfg.Dir, err)
	}
	h := &Hot{next: next, dir: abs, max: cfg.Size, log: cfg.Log}
	if h.log == nil {
		h.log = slog.Default()
	}
	h.idx.init()
	if err := h.rebuild(); err != nil {
		return nil, err
	}
	return h, nil
}

// HotStats are the tier's counters, for metrics.
type HotStats struct {
	Hits, Misses, Evictions int64 // reads answered locally; versioned reads that were not; copies evicted for space
	Bytes                   int64 // bytes held (and reserved for copies being written)
}

// Stats returns the counters.
func (h *Hot) Stats() HotStats {
	return HotStats{Hits: h.hits.Load(), Misses: h.misses.Load(), Evictions: h.evictions.Load(), Bytes: h.idx.bytes()}
}

// Holds reports whether a verified copy of key at version is held.
func (h *Hot) Holds(key, version string) bool { return h.idx.peek(key, version) != nil }

// Close waits for the copies still being taken into the tier (finished
// reads hand them to the background). The tier stays usable.
func (h *Hot) Close() { h.wg.Wait() }

// Put implements Store.
func (h *Hot) Put(ctx context.Context, key string, r io.Reader, size int64) (string, error) {
	h.Drop(key)
	v, err := h.next.Put(ctx, key, r, size)
	h.Drop(key) // a tee of the previous object may have finished meanwhile
	return v, err
}

// Open implements Store. An unversioned read cannot be matched with a copy:
// it goes to the store behind.
func (h *Hot) Open(ctx context.Context, key string, off, length int64) (io.ReadCloser, error) {
	return h.next.Open(ctx, key, off, length)
}

// OpenVersion implements Store: the local copy when there is one, else the
// store behind (teeing a whole-object read into the tier).
func (h *Hot) OpenVersion(ctx context.Context, key, version string, off, length int64) (io.ReadCloser, error) {
	if rc, ok := h.OpenLocal(key, version, off, length); ok {
		return rc, nil
	}
	return h.OpenThrough(ctx, key, version, "", off, length)
}

// OpenLocal opens the local copy of key at version, or reports false. The
// copy is checked against what was recorded when it was taken (inode, size,
// times): one changed on disk since is dropped and reported missing. The
// body is an *os.File or a FileReader, for sendfile(2).
func (h *Hot) OpenLocal(key, version string, off, length int64) (io.ReadCloser, bool) {
	if version == "" {
		return nil, false
	}
	e := h.idx.get(key, version)
	if e == nil {
		return nil, false
	}
	f, err := os.Open(h.dataPath(e.name))
	if err != nil {
		h.dropEntry(e, "cannot open", err)
		return nil, false
	}
	fi, err := f.Stat()
	if err == nil && fileStamp(fi) != e.Stamp {
		err = errors.New("the file changed since it was taken")
	}
	if err == nil {
		err = checkRange(off, fi.Size())
	}
	if err == nil && off > 0 {
		_, err = f.Seek(off, io.SeekStart)
	}
	if err != nil {
		f.Close()
		h.dropEntry(e, "corrupt copy", err)
		return nil, false
	}
	h.hits.Add(1)
	if length < 0 || length >= fi.Size()-off {
		return f, true
	}
	return &limitedFile{lr: io.LimitedReader{R: f, N: length}, f: f}, true
}

// OpenThrough reads key at version from the store behind. A read of the
// whole object (from 0, to the end or for its size) is copied into the tier on the way: the copy is kept only if the
// stream ends at the object's size and, when sum (hex sha256) is set, with
// that digest.
func (h *Hot) OpenThrough(ctx context.Context, key, version, sum string, off, length int64) (io.ReadCloser, error) {
	rc, err := h.next.OpenVersion(ctx, key, version, off, length)
	if err != nil || version == "" {
		return rc, err
	}
	h.misses.Add(1)
	if off != 0 {
		return rc, nil
	}
	if t := h.startTee(rc, key, version, sum, length); t != nil {
		return t, nil
	}
	return rc, nil
}

// Stat implements Store.
func (h *Hot) Stat(ctx context.Context, key string) (Info, error) { return h.next.Stat(ctx, key) }

// Delete implements Store: the local copies go first.
func (h *Hot) Delete(ctx context.Context, key string) error {
	h.Drop(key)
	err := h.next.Delete(ctx, key)
	h.Drop(key)
	return err
}

// List implements Store.
func (h *Hot) List(ctx context.Context, prefix string, fn func(Info) error) error {
	return h.next.List(ctx, prefix, fn)
}

// Ping implements Store.
func (h *Hot) Ping(ctx context.Context) error { return h.next.Ping(ctx) }

// Describe implements Store.
func (h *Hot) Describe() string {
	return h.next.Describe() + " (hot tier " + h.dir + ", " + strconv.FormatInt(h.max>>20, 10) + " MiB)"
}

// Adopt implements FileAdopter: the complete file at path is uploaded to the
// store behind and then renamed into the tier (copied across filesystems,
// dropped when it does not fit). path is gone afterwards, unless the upload
// failed. The caller has verified the file (a download checked for length
// and digest before commit).
func (h *Hot) Adopt(ctx context.Context, key, path string) (string, error) {
	v, err := h.PutFile(ctx, key, path)
	if err != nil {
		return "", err
	}
	h.adoptFile(key, v, path)
	return v, nil
}

// PutFile implements FilePutter: the file stays where it is.
func (h *Hot) PutFile(ctx context.Context, key, path string) (string, error) {
	h.Drop(key)
	defer h.Drop(key)
	if fp, ok := h.next.(FilePutter); ok {
		return fp.PutFile(ctx, key, path)
	}
	if err := CheckKey(key); err != nil {
		return "", err
	}
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("blob: put %s: %w", key, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("blob: put %s: %w", key, err)
	}
	return h.next.Put(ctx, key, f, fi.Size())
}

// PutSpooled implements StreamSpooler through the store behind when it can.
func (h *Hot) PutSpooled(ctx context.Context, key string, r io.Reader, dir string) (string, error) {
	h.Drop(key)
	defer h.Drop(key)
	if sp, ok := h.next.(StreamSpooler); ok {
		return sp.PutSpooled(ctx, key, r, dir)
	}
	return h.next.Put(ctx, key, r, -1)
}

// Drop forgets every local copy of key (the object was replaced or deleted,
// here or on another replica), and any copy of it still being written.
func (h *Hot) Drop(key string) {
	for _, e := range h.idx.dropKey(key) {
		h.removeFiles(e.name)
	}
}

// dropEntry removes one copy found unusable.
func (h *Hot) dropEntry(e *hotEntry, why string, err error) {
	if h.idx.remove(e) {
		h.removeFiles(e.name)
		h.log.Warn("hot tier: copy dropped", "key", e.Key, "why", why, "err", err)
	}
}
