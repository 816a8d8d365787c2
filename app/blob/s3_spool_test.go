package blob_test

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"testing"

	"artifactapi/app/blob"
)

// failAfter returns data, then an error instead of EOF.
type failAfter struct{ r io.Reader }

func (f failAfter) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err == io.EOF {
		return n, errors.New("client went away")
	}
	return n, err
}

// TestS3PutSpooled: a stream of unknown length uploaded part by part from a
// spool file arrives whole (one part, several parts, an exact multiple of
// the part size); a stream that fails publishes nothing and keeps the
// previous object; the spool directory is left empty.
func TestS3PutSpooled(t *testing.T) {
	cfg := newS3Env(t).config()
	cfg.PartSize = 5 << 20
	s := newS3(t, cfg)
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(1, 2))
	data := make([]byte, 13<<20)
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	for _, n := range []int{0, 1000, 5 << 20, 10 << 20, 13 << 20} {
		key := "spooled/obj"
		v, err := s.PutSpooled(t.Context(), key, bytes.NewReader(data[:n]), dir)
		if err != nil || v == "" {
			t.Fatalf("PutSpooled of %d bytes: %q, %v", n, v, err)
		}
		rc, err := s.OpenVersion(t.Context(), key, v, 0, -1)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || !bytes.Equal(got, data[:n]) {
			t.Fatalf("read back %d of %d bytes (%v)", len(got), n, err)
		}
	}
	before, _ := s.Stat(t.Context(), "spooled/obj")
	if _, err := s.PutSpooled(t.Context(), "spooled/obj", failAfter{bytes.NewReader(data[:12<<20])}, dir); err == nil {
		t.Fatal("a failing stream was published")
	}
	if after, err := s.Stat(t.Context(), "spooled/obj"); err != nil || after.Version != before.Version {
		t.Fatalf("the previous object changed after a failed upload: %+v %v", after, err)
	}
	if _, err := s.PutSpooled(t.Context(), "spooled/new", failAfter{bytes.NewReader(data[:1000])}, dir); err == nil {
		t.Fatal("a failing one-part stream was published")
	}
	if _, err := s.Stat(t.Context(), "spooled/new"); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("a failed upload left an object: %v", err)
	}
	if left, _ := filesIn(dir); left != 0 {
		t.Fatalf("%d spool files left", left)
	}
}

func filesIn(dir string) (int, error) {
	entries, err := os.ReadDir(dir)
	return len(entries), err
}
