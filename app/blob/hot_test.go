package blob_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"artifactapi/app/blob"
	"artifactapi/app/blob/blobtest"
)

// newHot wraps a fresh filesystem store with a hot tier of max bytes in dir.
func newHot(t *testing.T, next blob.Store, dir string, max int64) *blob.Hot {
	t.Helper()
	h, err := blob.NewHot(next, blob.HotConfig{Dir: dir, Size: max})
	if err != nil {
		t.Fatalf("NewHot: %v", err)
	}
	t.Cleanup(h.Close)
	return h
}

// TestHotFSConformance runs the blob.Store suite on a hot tier in front of
// the filesystem store (the S3 one is in s3_test.go).
func TestHotFSConformance(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) blob.Store {
		return newHot(t, newFS(t), filepath.Join(t.TempDir(), "hot"), 64<<20)
	})
}

func randBytes(seed uint64, n int) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(seed, 1))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// putObj stores data and returns its version.
func putObj(t *testing.T, s blob.Store, key string, data []byte) string {
	t.Helper()
	v, err := s.Put(t.Context(), key, bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatalf("Put(%q): %v", key, err)
	}
	return v
}

// readObj reads key at version whole, then waits for the copy to be taken.
func readObj(t *testing.T, h *blob.Hot, key, version string) []byte {
	t.Helper()
	rc, err := h.OpenVersion(t.Context(), key, version, 0, -1)
	if err != nil {
		t.Fatalf("OpenVersion(%q): %v", key, err)
	}
	b, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		t.Fatalf("read %q: %v", key, err)
	}
	h.Close() // waits for the copy to be taken into the tier
	return b
}

// diskBytes is what the tier's files take, sidecars excluded.
func diskBytes(t *testing.T, dir string) int64 {
	t.Helper()
	var n int64
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && !strings.HasSuffix(p, ".meta") {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

// TestHotLRUBound: reading ten times the tier's size through it keeps its
// bytes (counted and on disk) under the bound at every step, evicts the
// least recently used copies first and answers a copy it holds locally.
func TestHotLRUBound(t *testing.T) {
	const max, obj = 1 << 20, 200 << 10 // room for 5 copies
	dir := filepath.Join(t.TempDir(), "hot")
	h := newHot(t, newFS(t), dir, max)
	keep := putObj(t, h, "r/keep/k.bin", randBytes(0, obj))
	readObj(t, h, "r/keep/k.bin", keep)
	for i := 1; i <= 10*max/obj; i++ {
		key := "r/churn/" + strings.Repeat("x", i%7+1) + "/" + string(rune('a'+i%26)) + ".bin"
		data := randBytes(uint64(i), obj)
		v := putObj(t, h, key, data)
		if got := readObj(t, h, key, v); !bytes.Equal(got, data) {
			t.Fatalf("step %d: read other bytes", i)
		}
		if !h.Holds(key, v) {
			t.Fatalf("step %d: the object just read is not held", i)
		}
		if i%3 == 0 { // keep the first object recently used
			hits := h.Stats().Hits
			readObj(t, h, "r/keep/k.bin", keep)
			if h.Stats().Hits != hits+1 {
				t.Fatalf("step %d: a held copy was not answered locally", i)
			}
		}
		st := h.Stats()
		if st.Bytes > max || diskBytes(t, dir) > max {
			t.Fatalf("step %d: %d bytes counted, %d on disk; bound %d", i, st.Bytes, diskBytes(t, dir), max)
		}
	}
	if !h.Holds("r/keep/k.bin", keep) {
		t.Fatal("the most recently used copy was evicted")
	}
	if st := h.Stats(); st.Evictions < int64(10*max/obj-max/obj) {
		t.Fatalf("%d evictions after churning 10x the bound", st.Evictions)
	}
	big := putObj(t, h, "r/big", randBytes(99, max+1))
	readObj(t, h, "r/big", big)
	if h.Holds("r/big", big) || h.Stats().Bytes > max {
		t.Fatal("an object larger than the tier was taken")
	}
}

// TestHotRestartRebuild: a new process on the same directory serves the
// copies left there, and drops one truncated and one rewritten in place
// (same size) as well as a tee that was being written.
func TestHotRestartRebuild(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "hot")
	next := newFS(t)
	h := newHot(t, next, dir, 8<<20)
	data := map[string][]byte{}
	vers := map[string]string{}
	for i, k := range []string{"a/1/ok.bin", "a/2/ok.bin", "a/3/short.bin", "a/4/changed.bin"} {
		data[k] = randBytes(uint64(i), 100<<10)
		vers[k] = putObj(t, h, k, data[k])
		readObj(t, h, k, vers[k])
	}
	if err := os.Truncate(blob.HotPath(h, "a/3/short.bin", vers["a/3/short.bin"]), 50<<10); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(blob.HotPath(h, "a/4/changed.bin", vers["a/4/changed.bin"]), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte("corrupt"), 1000)
	f.Close()
	if err := os.WriteFile(filepath.Join(dir, "tmp", "tee-123"), []byte("partial"), 0o600); err != nil {
		t.Fatal(err)
	}
	h.Close()

	h2 := newHot(t, next, dir, 8<<20)
	for _, tc := range []struct {
		name string
		key  string
		held bool
	}{
		{"intact copy kept", "a/1/ok.bin", true},
		{"another intact copy kept", "a/2/ok.bin", true},
		{"truncated copy dropped", "a/3/short.bin", false},
		{"rewritten copy dropped", "a/4/changed.bin", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := h2.Holds(tc.key, vers[tc.key]); got != tc.held {
				t.Fatalf("Holds = %v, want %v", got, tc.held)
			}
			hits := h2.Stats().Hits
			if got := readObj(t, h2, tc.key, vers[tc.key]); !bytes.Equal(got, data[tc.key]) {
				t.Fatal("read other bytes")
			}
			if hit := h2.Stats().Hits == hits+1; hit != tc.held {
				t.Fatalf("answered locally = %v, want %v", hit, tc.held)
			}
			if !h2.Holds(tc.key, vers[tc.key]) {
				t.Fatal("not held again after a read")
			}
		})
	}
	if n, _ := os.ReadDir(filepath.Join(dir, "tmp")); len(n) != 0 {
		t.Fatalf("tmp not cleared: %v", n)
	}
	if got, want := h2.Stats().Bytes, int64(4*100<<10); got != want {
		t.Fatalf("Bytes = %d, want %d", got, want)
	}
}

// TestHotCorruptCopy: a copy whose bytes change on disk (same size) is
// detected when opened: the read comes from the store behind and is right.
func TestHotCorruptCopy(t *testing.T) {
	h := newHot(t, newFS(t), filepath.Join(t.TempDir(), "hot"), 8<<20)
	data := randBytes(7, 300<<10)
	v := putObj(t, h, "c/obj.bin", data)
	readObj(t, h, "c/obj.bin", v)
	p := blob.HotPath(h, "c/obj.bin", v)
	bad := bytes.Clone(data)
	copy(bad[1000:], "corrupted bytes")
	if err := os.WriteFile(p, bad, 0o600); err != nil {
		t.Fatal(err)
	}
	if got := readObj(t, h, "c/obj.bin", v); !bytes.Equal(got, data) {
		t.Fatal("served the corrupted copy")
	}
	onDisk, err := os.ReadFile(p)
	if err != nil || !bytes.Equal(onDisk, data) {
		t.Fatalf("the copy was not taken again from the store behind: %v", err)
	}
}

// TestHotVerifiesDigest: a tee is kept only with the digest its reader
// expects, and an adopted file lands in the tier without a copy.
func TestHotVerifiesDigest(t *testing.T) {
	h := newHot(t, newFS(t), filepath.Join(t.TempDir(), "hot"), 8<<20)
	data := randBytes(8, 100<<10)
	v := putObj(t, h, "d/obj.bin", data)
	sum := sha256.Sum256(data)
	for _, tc := range []struct {
		name string
		sum  string
		held bool
	}{
		{"wrong digest", strings.Repeat("0", 64), false},
		{"right digest", hex.EncodeToString(sum[:]), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc, err := h.OpenThrough(t.Context(), "d/obj.bin", v, tc.sum, 0, -1)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, rc)
			rc.Close()
			h.Close()
			if h.Holds("d/obj.bin", v) != tc.held {
				t.Fatalf("Holds = %v, want %v", !tc.held, tc.held)
			}
		})
	}
	spool := filepath.Join(t.TempDir(), "spool")
	os.WriteFile(spool, data, 0o600)
	v2, err := h.Adopt(t.Context(), "d/adopted.bin", spool)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(spool); !os.IsNotExist(err) {
		t.Fatalf("adopted file still at its path: %v", err)
	}
	rc, ok := h.OpenLocal("d/adopted.bin", v2, 0, -1)
	if !ok {
		t.Fatal("adopted file not held")
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if !bytes.Equal(got, data) {
		t.Fatal("adopted copy holds other bytes")
	}
}

// TestHotS3Conformance runs the blob.Store suite on a hot tier in front of
// MinIO: the production composition.
func TestHotS3Conformance(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) blob.Store {
		return newHot(t, newS3(t, newS3Env(t).config()), filepath.Join(t.TempDir(), "hot"), 64<<20)
	})
}

// TestHotPartialReadNotTaken: a read of the first bytes only, or of the
// whole object by its length, through S3: only the whole one becomes a copy.
func TestHotPartialReadNotTaken(t *testing.T) {
	h := newHot(t, newS3(t, newS3Env(t).config()), filepath.Join(t.TempDir(), "hot"), 64<<20)
	data := randBytes(9, 300<<10)
	v := putObj(t, h, "p/obj.bin", data)
	for _, tc := range []struct {
		name   string
		length int64
		held   bool
	}{
		{"first bytes", 1000, false},
		{"all but the last byte", int64(len(data)) - 1, false},
		{"whole, by its length", int64(len(data)), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc, err := h.OpenVersion(t.Context(), "p/obj.bin", v, 0, tc.length)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(rc)
			rc.Close()
			h.Close()
			if err != nil || !bytes.Equal(got, data[:tc.length]) {
				t.Fatalf("read %d bytes, %v", len(got), err)
			}
			if h.Holds("p/obj.bin", v) != tc.held {
				t.Fatalf("Holds = %v, want %v", !tc.held, tc.held)
			}
		})
	}
	if got := readObj(t, h, "p/obj.bin", v); !bytes.Equal(got, data) {
		t.Fatal("the copy holds other bytes")
	}
}
