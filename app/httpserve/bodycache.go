package httpserve

import (
	"container/list"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"sync"

	"artifactapi/db"
)

// BodyCache keeps the bytes of small cached artifacts in memory, so that a
// warm hit on a small file (an index, a checksum, a manifest) costs no
// open/read/close on the filesystem and no GET round trip to S3. Entries are
// keyed by the artifact's sha256 and checked against it when loaded, so an
// entry is never stale: a changed artifact has another digest. It is bounded
// by object size and by total bytes (least recently used entries go first),
// and safe for concurrent use. A nil *BodyCache caches nothing.
type BodyCache struct {
	maxObject, budget int64

	mu   sync.Mutex
	m    map[string]*list.Element // sha256 → *bodyEntry
	lru  list.List                // front: most recently used
	used int64
}

type bodyEntry struct {
	key string // b's own sha256 in hex, or for a rewrite its rewriteKey
	b   []byte
	// digest is b's sha256 in hex when the key is not (a rewrite, kept
	// under the key of what it was made from: see transformed).
	digest string
}

// NewBodyCache holds objects of up to maxObject bytes, budget bytes in all.
func NewBodyCache(maxObject, budget int64) *BodyCache {
	return &BodyCache{maxObject: maxObject, budget: budget, m: map[string]*list.Element{}}
}

func (bc *BodyCache) get(key string) []byte {
	b, _ := bc.getDigest(key)
	return b
}

// getDigest is get that also returns the digest put with the entry.
func (bc *BodyCache) getDigest(key string) (b []byte, digest string) {
	bc.mu.Lock()
	defer bc.mu.Unlock()
	el := bc.m[key]
	if el == nil {
		return nil, ""
	}
	bc.lru.MoveToFront(el)
	e := el.Value.(*bodyEntry)
	return e.b, e.digest
}

func (bc *BodyCache) put(key string, b []byte) { bc.putDigest(key, b, "") }

// putDigest is put of b under key with b's own digest beside it.
func (bc *BodyCache) putDigest(key string, b []byte, digest string) {
	bc.mu.Lock()
	defer bc.mu.Unlock()
	if _, ok := bc.m[key]; ok {
		return
	}
	bc.m[key] = bc.lru.PushFront(&bodyEntry{key: key, b: b, digest: digest})
	bc.used += int64(len(b))
	for bc.used > bc.budget {
		el := bc.lru.Back()
		e := el.Value.(*bodyEntry)
		bc.lru.Remove(el)
		delete(bc.m, e.key)
		bc.used -= int64(len(e.b))
	}
}

// prime keeps b, a whole body just read from its upstream, under its own
// sha256; a later slice of a committed artifact with that digest is answered
// from it. b must not be changed afterwards.
func (bc *BodyCache) prime(b []byte) {
	if bc == nil || int64(len(b)) > bc.maxObject {
		return
	}
	sum := sha256.Sum256(b)
	bc.put(hex.EncodeToString(sum[:]), b)
}

// Len reports the number of cached bodies and their total size.
func (bc *BodyCache) Len() (n int, bytes int64) {
	bc.mu.Lock()
	defer bc.mu.Unlock()
	return len(bc.m), bc.used
}

// Read returns the whole body of the committed artifact a from memory,
// reading and checking it through open the first time (see slice); ok is
// false when a is not cached this way.
func (bc *BodyCache) Read(ctx context.Context, a db.Artifact, open func(ctx context.Context, off, length int64) (io.ReadCloser, error)) (b []byte, ok bool, err error) {
	return bc.slice(ctx, a, open, 0, -1)
}

// opener reads a stored body from off for length bytes (length < 0: to the end).
type opener func(ctx context.Context, off, length int64) (io.ReadCloser, error)

// slice returns bytes off..off+length of the committed artifact a from
// memory (length < 0: to the end), reading and checking the whole body
// through open the first time. ok is false when a is not cached this way
// (too big, no digest, or the stored blob does not match its digest): the
// caller then opens the blob itself. open's errors (blob.ErrNotFound) pass
// through unchanged.
func (bc *BodyCache) slice(ctx context.Context, a db.Artifact, open opener, off, length int64) (b []byte, ok bool, err error) {
	if bc == nil || len(a.SHA256) != sha256.Size*2 || a.Size < 0 || a.Size > bc.maxObject {
		return nil, false, nil
	}
	b = bc.get(a.SHA256)
	if b == nil {
		rc, err := open(ctx, 0, -1)
		if err != nil {
			return nil, false, err
		}
		b = make([]byte, a.Size)
		_, err = io.ReadFull(rc, b)
		rc.Close()
		sum := sha256.Sum256(b)
		if err != nil || hex.EncodeToString(sum[:]) != a.SHA256 {
			return nil, false, nil
		}
		bc.put(a.SHA256, b)
	}
	off = min(off, int64(len(b)))
	end := int64(len(b))
	if length >= 0 && off+length < end {
		end = off + length
	}
	return b[off:end], true, nil
}
