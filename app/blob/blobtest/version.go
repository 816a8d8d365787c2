package blobtest

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"artifactapi/app/blob"
)

// testVersions: a reader naming the version it expects gets exactly that
// object's bytes, or ErrVersionMismatch once another object replaced it —
// never the new object's bytes under the old object's metadata.
func testVersions(t *testing.T, s blob.Store) {
	ctx := t.Context()
	key := "v/0123456789abcdef/file.bin"
	old := genBytes(11, 4096)
	v1, err := s.Put(ctx, key, bytes.NewReader(old), int64(len(old)))
	if err != nil || v1 == "" {
		t.Fatalf("Put = %q, %v; want a version", v1, err)
	}
	if info, err := s.Stat(ctx, key); err != nil || info.Version != v1 {
		t.Fatalf("Stat = %+v, %v; want version %q", info, err, v1)
	}
	for _, rg := range [][2]int64{{0, -1}, {100, -1}, {100, 50}, {4096, 0}} {
		rc, err := s.OpenVersion(ctx, key, v1, rg[0], rg[1])
		if err != nil {
			t.Fatalf("OpenVersion(v1, %v): %v", rg, err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		end := int64(len(old))
		if rg[1] >= 0 {
			end = rg[0] + rg[1]
		}
		if err != nil || !bytes.Equal(got, old[rg[0]:end]) {
			t.Fatalf("OpenVersion(v1, %v) read %d bytes, %v", rg, len(got), err)
		}
	}
	// Another object under the same key (same size, other bytes).
	repl := genBytes(12, 4096)
	v2, err := s.Put(ctx, key, bytes.NewReader(repl), -1)
	if err != nil {
		t.Fatal(err)
	}
	if v2 == v1 {
		t.Fatalf("two different objects share version %q", v1)
	}
	for _, rg := range [][2]int64{{0, -1}, {100, 50}, {4096, 0}} {
		if rc, err := s.OpenVersion(ctx, key, v1, rg[0], rg[1]); !errors.Is(err, blob.ErrVersionMismatch) {
			if rc != nil {
				rc.Close()
			}
			t.Fatalf("OpenVersion(old version, %v) after replace = %v, want ErrVersionMismatch", rg, err)
		}
	}
	if got := readVersion(t, s, key, v2); !bytes.Equal(got, repl) {
		t.Fatalf("OpenVersion(v2) read other bytes")
	}
	if got := readVersion(t, s, key, ""); !bytes.Equal(got, repl) {
		t.Fatalf("OpenVersion(\"\") read other bytes")
	}
	// A file adopted or uploaded from disk reports its version too.
	path := filepath.Join(t.TempDir(), "spool")
	if err := os.WriteFile(path, old, 0o600); err != nil {
		t.Fatal(err)
	}
	var v3 string
	switch fs := s.(type) {
	case blob.FileAdopter:
		v3, err = fs.Adopt(ctx, key, path)
	case blob.FilePutter:
		v3, err = fs.PutFile(ctx, key, path)
	default:
		return
	}
	if err != nil || v3 == "" || v3 == v2 {
		t.Fatalf("file write = %q, %v; want a new version (previous %q)", v3, err, v2)
	}
	if got := readVersion(t, s, key, v3); !bytes.Equal(got, old) {
		t.Fatalf("OpenVersion(v3) read other bytes")
	}
	if _, err := s.OpenVersion(ctx, key, v2, 0, -1); !errors.Is(err, blob.ErrVersionMismatch) {
		t.Fatalf("OpenVersion(v2) after file write = %v, want ErrVersionMismatch", err)
	}
	if err := s.Delete(ctx, key); err != nil {
		t.Fatal(err)
	}
	if _, err := s.OpenVersion(ctx, key, v3, 0, -1); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("OpenVersion after delete = %v, want ErrNotFound", err)
	}
}

func readVersion(t *testing.T, s blob.Store, key, version string) []byte {
	t.Helper()
	rc, err := s.OpenVersion(t.Context(), key, version, 0, -1)
	if err != nil {
		t.Fatalf("OpenVersion(%q, %q): %v", key, version, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
