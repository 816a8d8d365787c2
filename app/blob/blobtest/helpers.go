package blobtest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"testing"

	"artifactapi/app/blob"
)

// errBoom is what failing readers return.
var errBoom = errors.New("blobtest: reader failed")

// gen returns a deterministic pseudo-random stream of n bytes. The reader is
// a plain io.Reader (no Len, Seek or ReadAt), like a network body.
func gen(seed uint64, n int64) io.Reader {
	var key [32]byte
	key[0], key[1] = byte(seed), byte(seed>>8)
	return io.LimitReader(rand.NewChaCha8(key), n)
}

// genBytes is gen read into memory.
func genBytes(seed uint64, n int64) []byte {
	b, _ := io.ReadAll(gen(seed, n))
	return b
}

// genSum is the sha256 of gen(seed, n).
func genSum(seed uint64, n int64) [32]byte {
	h := sha256.New()
	_, _ = io.Copy(h, gen(seed, n))
	return [32]byte(h.Sum(nil))
}

// failReader yields the bytes of r until after bytes were read, then errBoom.
type failReader struct {
	r     io.Reader
	after int64
}

// Read implements io.Reader.
func (f *failReader) Read(p []byte) (int, error) {
	if f.after <= 0 {
		return 0, errBoom
	}
	if int64(len(p)) > f.after {
		p = p[:f.after]
	}
	n, err := f.r.Read(p)
	f.after -= int64(n)
	return n, err
}

// cancelReader calls cancel once after bytes were read and keeps streaming:
// only the store's own ctx handling can stop the upload.
type cancelReader struct {
	r      io.Reader
	after  int64
	cancel context.CancelFunc
}

// Read implements io.Reader.
func (c *cancelReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if c.after -= int64(n); c.after <= 0 && c.cancel != nil {
		c.cancel()
		c.cancel = nil
	}
	return n, err
}

// put stores data under key with its known size.
func put(t *testing.T, s blob.Store, key string, data []byte) {
	t.Helper()
	if _, err := s.Put(t.Context(), key, bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatalf("Put(%q): %v", key, err)
	}
}

// read returns bytes [off, off+length) of key.
func read(t *testing.T, s blob.Store, key string, off, length int64) []byte {
	t.Helper()
	rc, err := s.Open(t.Context(), key, off, length)
	if err != nil {
		t.Fatalf("Open(%q, %d, %d): %v", key, off, length, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read %q: %v", key, err)
	}
	return b
}

// sum streams key through sha256.
func sum(t *testing.T, s blob.Store, key string) [32]byte {
	t.Helper()
	rc, err := s.Open(t.Context(), key, 0, -1)
	if err != nil {
		t.Fatalf("Open(%q): %v", key, err)
	}
	defer rc.Close()
	h := sha256.New()
	if _, err := io.Copy(h, rc); err != nil {
		t.Fatalf("read %q: %v", key, err)
	}
	return [32]byte(h.Sum(nil))
}

// wantContent checks key holds exactly want.
func wantContent(t *testing.T, s blob.Store, key string, want []byte) {
	t.Helper()
	if got := read(t, s, key, 0, -1); !bytes.Equal(got, want) {
		t.Fatalf("%q holds %d bytes %.20q, want %d bytes %.20q", key, len(got), got, len(want), want)
	}
	info, err := s.Stat(t.Context(), key)
	if err != nil {
		t.Fatalf("Stat(%q): %v", key, err)
	}
	if info.Size != int64(len(want)) || info.Key != key || info.ModTime.IsZero() {
		t.Fatalf("Stat(%q) = %+v, want size %d", key, info, len(want))
	}
}

// wantMissing checks Stat and Open report ErrNotFound for key.
func wantMissing(t *testing.T, s blob.Store, key string) {
	t.Helper()
	if _, err := s.Stat(t.Context(), key); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("Stat(%q) = %v, want ErrNotFound", key, err)
	}
	rc, err := s.Open(t.Context(), key, 0, -1)
	if !errors.Is(err, blob.ErrNotFound) {
		if rc != nil {
			rc.Close()
		}
		t.Fatalf("Open(%q) = %v, want ErrNotFound", key, err)
	}
}

// keys lists prefix and returns key → size.
func keys(t *testing.T, s blob.Store, prefix string) map[string]int64 {
	t.Helper()
	got := map[string]int64{}
	err := s.List(t.Context(), prefix, func(i blob.Info) error {
		if _, dup := got[i.Key]; dup {
			t.Errorf("List(%q) returned %q twice", prefix, i.Key)
		}
		got[i.Key] = i.Size
		return nil
	})
	if err != nil {
		t.Fatalf("List(%q): %v", prefix, err)
	}
	return got
}
