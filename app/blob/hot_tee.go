package blob

import (
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"io"
	"os"
	"path/filepath"
)

// hotTee is a whole-object read from the store behind that is copied into
// a temporary file of the tier as it is read. When the stream ends at the
// object's size (and with the expected digest), the file is taken into the
// tier in the background; a read that breaks off, is closed early or whose
// object is replaced meanwhile leaves nothing behind.
type hotTee struct {
	h                     *Hot
	rc                    io.ReadCloser
	id, key, version, sum string
	size, n               int64
	tmp                   *os.File // nil once finished or abandoned
	hash                  hash.Hash
	stale                 bool // the key was written or deleted meanwhile (guarded by h.idx.mu)
}

// sizer is implemented by a body from Open that knows its object's whole
// size, whatever range it reads (S3).
type sizer interface{ Size() int64 }

// bodySize returns the length of a whole-object body, when it is known.
func bodySize(rc io.ReadCloser) (int64, bool) {
	switch b := rc.(type) {
	case sizer:
		return b.Size(), true
	case *os.File:
		if fi, err := b.Stat(); err == nil {
			return fi.Size(), true
		}
	}
	return 0, false
}

// startTee wraps rc, a read from offset 0 of length bytes (< 0: to the
// end), in a tee, or returns nil when the object is not to be copied: the
// read is not the whole object, its size is unknown or zero, it cannot fit,
// or another reader is copying it already.
func (h *Hot) startTee(rc io.ReadCloser, key, version, sum string, length int64) *hotTee {
	size, ok := bodySize(rc)
	if !ok || size <= 0 || size > h.max || (length >= 0 && length < size) {
		return nil
	}
	t := &hotTee{h: h, rc: rc, id: key + "\x00" + version, key: key, version: version, sum: sum, size: size, hash: sha256.New()}
	if !h.idx.startTee(t) {
		return nil
	}
	if !h.makeRoom(size) {
		h.idx.endTee(t)
		return nil
	}
	f, err := os.CreateTemp(filepath.Join(h.dir, "tmp"), "tee-*")
	if err != nil {
		h.idx.unreserve(size)
		h.idx.endTee(t)
		return nil
	}
	t.tmp = f
	return t
}

// Read implements io.Reader. A failure to write the copy only ends the copy.
func (t *hotTee) Read(p []byte) (int, error) {
	n, err := t.rc.Read(p)
	if n > 0 && t.tmp != nil {
		if t.n+int64(n) > t.size {
			t.abandon()
		} else if _, werr := t.tmp.Write(p[:n]); werr != nil {
			t.abandon()
		} else {
			t.hash.Write(p[:n])
			t.n += int64(n)
		}
	}
	if err == io.EOF && t.tmp != nil {
		t.finish()
	}
	return n, err
}

// Close implements io.Closer: a copy not read to its end is discarded.
func (t *hotTee) Close() error {
	err := t.rc.Close()
	if t.tmp != nil {
		t.abandon()
	}
	return err
}

// finish checks the complete copy and hands it to a background adoption
// (fsync and rename must not hold up the reader).
func (t *hotTee) finish() {
	sum := hex.EncodeToString(t.hash.Sum(nil))
	if t.n != t.size || (t.sum != "" && sum != t.sum) {
		if t.sum != "" && t.n == t.size {
			t.h.log.Warn("hot tier: bytes read differ from the recorded digest; not kept", "key", t.key, "want", t.sum, "got", sum)
		}
		t.abandon()
		return
	}
	f := t.tmp
	t.tmp = nil
	t.h.wg.Add(1)
	go func() {
		defer t.h.wg.Done()
		err := f.Sync()
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			_ = os.Remove(f.Name())
			t.h.idx.unreserve(t.size)
			t.h.idx.endTee(t)
			return
		}
		_ = t.h.take(f.Name(), t.key, t.version, sum, t.size, t)
	}()
}

// abandon discards the copy and its reservation.
func (t *hotTee) abandon() {
	f := t.tmp
	t.tmp = nil
	_ = f.Close()
	_ = os.Remove(f.Name())
	t.h.idx.unreserve(t.size)
	t.h.idx.endTee(t)
}
