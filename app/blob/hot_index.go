package blob

import (
	"cmp"
	"container/list"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// hotEntry is one copy held by the tier.
type hotEntry struct {
	Key     string `json:"key"`
	Version string `json:"version"`
	Size    int64  `json:"size"`
	SHA256  string `json:"sha256,omitempty"` // of the bytes, when they were hashed on the way in
	Stamp   string `json:"stamp"`            // fileStamp of the data file once taken
	Adopted int64  `json:"adopted"`          // unix nanoseconds: the LRU order after a restart

	name string        // hotName(Key, Version)
	el   *list.Element // in hotIndex.lru; nil once removed
}

// hotIndex is the tier's index: copies by key and version, their LRU order
// and the bytes they hold plus the bytes reserved by tees being written.
type hotIndex struct {
	mu       sync.Mutex
	byKey    map[string]map[string]*hotEntry
	lru      list.List // of *hotEntry, most recently used first
	held     int64     // bytes of the entries
	reserved int64     // bytes reserved for copies being written
	tees     map[string]*hotTee
}

func (x *hotIndex) init() {
	x.byKey = map[string]map[string]*hotEntry{}
	x.tees = map[string]*hotTee{}
}

func (x *hotIndex) bytes() int64 {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.held + x.reserved
}

// get returns the entry and marks it used.
func (x *hotIndex) get(key, version string) *hotEntry {
	x.mu.Lock()
	defer x.mu.Unlock()
	e := x.byKey[key][version]
	if e != nil {
		x.lru.MoveToFront(e.el)
	}
	return e
}

func (x *hotIndex) peek(key, version string) *hotEntry {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.byKey[key][version]
}

// removeLocked takes e out of the index. x.mu must be held.
func (x *hotIndex) removeLocked(e *hotEntry) bool {
	if e.el == nil {
		return false
	}
	x.lru.Remove(e.el)
	e.el = nil
	vs := x.byKey[e.Key]
	delete(vs, e.Version)
	if len(vs) == 0 {
		delete(x.byKey, e.Key)
	}
	x.held -= e.Size
	return true
}

func (x *hotIndex) remove(e *hotEntry) bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.removeLocked(e)
}

// dropKey removes every version of key and marks its tees in flight stale
// (they will not be taken).
func (x *hotIndex) dropKey(key string) []*hotEntry {
	x.mu.Lock()
	defer x.mu.Unlock()
	var out []*hotEntry
	for _, e := range x.byKey[key] {
		out = append(out, e)
	}
	for _, e := range out {
		x.removeLocked(e)
	}
	for _, t := range x.tees {
		if t.key == key {
			t.stale = true
		}
	}
	return out
}

// reserve makes room for n more bytes, evicting least recently used
// entries, and reserves them. It fails when n cannot fit beside the bytes
// other copies being written have reserved. The victims' files are the
// caller's to remove.
func (x *hotIndex) reserve(n, max int64) (victims []*hotEntry, ok bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.reserved+n > max {
		return nil, false
	}
	for x.held+x.reserved+n > max {
		e := x.lru.Back().Value.(*hotEntry)
		x.removeLocked(e)
		victims = append(victims, e)
	}
	x.reserved += n
	return victims, true
}

func (x *hotIndex) unreserve(n int64) {
	x.mu.Lock()
	x.reserved -= n
	x.mu.Unlock()
}

// startTee registers t as the one tee of its key and version; false when
// another one is running.
func (x *hotIndex) startTee(t *hotTee) bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.tees[t.id] != nil {
		return false
	}
	x.tees[t.id] = t
	return true
}

// endTee unregisters t (nil: nothing).
func (x *hotIndex) endTee(t *hotTee) {
	if t == nil {
		return
	}
	x.mu.Lock()
	if x.tees[t.id] == t {
		delete(x.tees, t.id)
	}
	x.mu.Unlock()
}

// commit turns a reservation of e.Size bytes into the entry e. It fails
// (the reservation is released) when t, the tee that wrote it, went stale
// or the same version is held already.
func (x *hotIndex) commit(e *hotEntry, t *hotTee) bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.reserved -= e.Size
	if t != nil {
		if x.tees[t.id] == t {
			delete(x.tees, t.id)
		}
		if t.stale {
			return false
		}
	}
	if x.byKey[e.Key][e.Version] != nil {
		return false
	}
	vs := x.byKey[e.Key]
	if vs == nil {
		vs = map[string]*hotEntry{}
		x.byKey[e.Key] = vs
	}
	vs[e.Version] = e
	e.el = x.lru.PushFront(e)
	x.held += e.Size
	return true
}

// hotName is the file name of a copy: the hash of its key and version.
func hotName(key, version string) string {
	sum := sha256.Sum256([]byte(key + "\x00" + version))
	return hex.EncodeToString(sum[:16])
}

func (h *Hot) dataPath(name string) string { return filepath.Join(h.dir, "objects", name[:2], name) }
func (h *Hot) metaPath(name string) string { return h.dataPath(name) + ".meta" }

func (h *Hot) removeFiles(name string) {
	_ = os.Remove(h.metaPath(name))
	_ = os.Remove(h.dataPath(name))
}

// makeRoom reserves n bytes, removing the files of the copies evicted for them.
func (h *Hot) makeRoom(n int64) bool {
	victims, ok := h.idx.reserve(n, h.max)
	for _, e := range victims {
		h.removeFiles(e.name)
	}
	h.evictions.Add(int64(len(victims)))
	return ok
}

// take moves the complete file src into the tier as key at version, n bytes
// already reserved for it, and records it; t is the tee that wrote it, if
// any. The reservation is released on failure. src is gone afterwards.
func (h *Hot) take(src, key, version, sum string, n int64, t *hotTee) error {
	e := &hotEntry{Key: key, Version: version, Size: n, SHA256: sum, Adopted: time.Now().UnixNano(), name: hotName(key, version)}
	if h.idx.peek(key, version) != nil { // taken already: keep that copy's file
		h.idx.unreserve(n)
		h.idx.endTee(t)
		_ = os.Remove(src)
		return nil
	}
	dst := h.dataPath(e.name)
	err := os.MkdirAll(filepath.Dir(dst), 0o750)
	if err == nil {
		err = os.Rename(src, dst)
		if errors.Is(err, syscall.EXDEV) {
			err = copyFile(src, dst)
		}
	}
	var fi os.FileInfo
	if err == nil {
		fi, err = os.Stat(dst)
	}
	if err == nil && fi.Size() != n {
		err = fmt.Errorf("%d bytes, want %d", fi.Size(), n)
	}
	if err == nil {
		e.Stamp = fileStamp(fi)
		err = h.writeMeta(e)
	}
	if err == nil {
		if h.idx.commit(e, t) {
			return nil
		}
		err = errStaleCopy // commit released the reservation
	} else {
		h.idx.unreserve(n)
		h.idx.endTee(t)
	}
	_ = os.Remove(src)
	h.removeFiles(e.name)
	return err
}

var errStaleCopy = errors.New("replaced while it was written")

// adoptFile takes a complete local file into the tier; the file is gone
// afterwards in every case.
func (h *Hot) adoptFile(key, version, path string) {
	fi, err := os.Stat(path)
	if err != nil || !h.makeRoom(fi.Size()) {
		_ = os.Remove(path)
		return
	}
	if err := h.take(path, key, version, "", fi.Size(), nil); err != nil {
		h.log.Warn("hot tier: file not taken", "key", key, "err", err)
	}
}

// copyFile copies src to dst (another filesystem) and removes src.
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(dst)
		return err
	}
	return os.Remove(src)
}

// writeMeta writes e's sidecar atomically.
func (h *Hot) writeMeta(e *hotEntry) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Join(h.dir, "tmp"), "meta-*")
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), h.metaPath(e.name))
	}
	if err != nil {
		_ = os.Remove(f.Name())
	}
	return err
}

// rebuild recreates the index from the copies on disk. Tees a killed
// process left are removed, and so is a copy without its sidecar, whose
// sidecar does not describe it (truncated, rewritten) or which does not fit
// the size bound any more (oldest first).
func (h *Hot) rebuild() error {
	tmp, objects := filepath.Join(h.dir, "tmp"), filepath.Join(h.dir, "objects")
	if err := os.RemoveAll(tmp); err != nil {
		return fmt.Errorf("blob: hot tier: clean %s: %w", tmp, err)
	}
	for _, d := range []string{tmp, objects} {
		if err := os.MkdirAll(d, 0o750); err != nil {
			return fmt.Errorf("blob: hot tier: %w", err)
		}
	}
	var found []*hotEntry
	dropped := 0
	err := filepath.WalkDir(objects, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		name, isMeta := strings.CutSuffix(d.Name(), ".meta")
		if !isMeta {
			if _, err := os.Stat(p + ".meta"); err != nil {
				dropped++
				_ = os.Remove(p)
			}
			return nil
		}
		if e := h.loadEntry(name); e != nil {
			found = append(found, e)
		} else {
			dropped++
			h.removeFiles(name)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("blob: hot tier: read %s: %w", objects, err)
	}
	slices.SortFunc(found, func(a, b *hotEntry) int { return cmp.Compare(a.Adopted, b.Adopted) })
	for _, e := range found {
		h.idx.reserved += e.Size
		h.idx.commit(e, nil)
	}
	for h.idx.held > h.max {
		e := h.idx.lru.Back().Value.(*hotEntry)
		h.idx.removeLocked(e)
		h.removeFiles(e.name)
	}
	if dropped > 0 {
		h.log.Warn("hot tier: partial or changed copies dropped on start", "count", dropped)
	}
	return nil
}

// loadEntry reads the sidecar of name and checks the data file against it.
func (h *Hot) loadEntry(name string) *hotEntry {
	if len(name) < 2 {
		return nil
	}
	b, err := os.ReadFile(h.metaPath(name))
	if err != nil {
		return nil
	}
	var e hotEntry
	if json.Unmarshal(b, &e) != nil || hotName(e.Key, e.Version) != name {
		return nil
	}
	fi, err := os.Stat(h.dataPath(name))
	if err != nil || !fi.Mode().IsRegular() || fi.Size() != e.Size || fileStamp(fi) != e.Stamp {
		return nil
	}
	e.name = name
	return &e
}
