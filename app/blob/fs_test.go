package blob_test

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"artifactapi/app/blob"
	"artifactapi/app/blob/blobtest"
)

// newFS returns an empty filesystem store in a temporary directory.
func newFS(t *testing.T) *blob.FS {
	t.Helper()
	s, err := blob.NewFS(filepath.Join(t.TempDir(), "store"))
	if err != nil {
		t.Fatalf("NewFS: %v", err)
	}
	return s
}

// TestFSConformance runs the blob.Store suite on the filesystem store.
func TestFSConformance(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) blob.Store { return newFS(t) })
}

// tmpEntries lists what is left in the store's temp directory.
func tmpEntries(t *testing.T, root string) []string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(root, ".tmp"))
	if err != nil {
		t.Fatalf("read .tmp: %v", err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readKey(t *testing.T, s blob.Store, key string) string {
	t.Helper()
	rc, err := s.Open(t.Context(), key, 0, -1)
	if err != nil {
		t.Fatalf("Open(%q): %v", key, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestFSNewRemovesLeftovers checks that NewFS clears .tmp and List never shows it.
func TestFSNewRemovesLeftovers(t *testing.T) {
	root := filepath.Join(t.TempDir(), "store")
	writeFile(t, filepath.Join(root, ".tmp", "put-123"), "half an upload")
	writeFile(t, filepath.Join(root, ".tmp", "odd", "dir"), "junk")
	writeFile(t, filepath.Join(root, "github", "0123", "kept.tar.gz"), "object")
	s, err := blob.NewFS(root)
	if err != nil {
		t.Fatal(err)
	}
	if left := tmpEntries(t, root); len(left) != 0 {
		t.Fatalf(".tmp still holds %v", left)
	}
	if got := readKey(t, s, "github/0123/kept.tar.gz"); got != "object" {
		t.Fatalf("existing object = %q", got)
	}
	writeFile(t, filepath.Join(root, ".tmp", "put-456"), "in progress")
	var listed []string
	if err := s.List(t.Context(), "", func(i blob.Info) error { listed = append(listed, i.Key); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(listed) != 1 || listed[0] != "github/0123/kept.tar.gz" {
		t.Fatalf("List = %v, want only the object (no temp files)", listed)
	}
}

// TestFSFailedPutLeavesNoTempFiles checks that failed Puts clean up after themselves.
func TestFSFailedPutLeavesNoTempFiles(t *testing.T) {
	root := filepath.Join(t.TempDir(), "store")
	s, err := blob.NewFS(root)
	if err != nil {
		t.Fatal(err)
	}
	bad := io.MultiReader(strings.NewReader("partial"), iotestErr{})
	if _, err := s.Put(t.Context(), "a/b", bad, -1); err == nil {
		t.Fatal("Put with failing reader succeeded")
	}
	if _, err := s.Put(t.Context(), "a/c", strings.NewReader("short"), 10); err == nil {
		t.Fatal("Put with short reader succeeded")
	}
	if left := tmpEntries(t, root); len(left) != 0 {
		t.Fatalf(".tmp holds %v after failed puts", left)
	}
}

// iotestErr is a reader that always fails.
type iotestErr struct{}

// Read implements io.Reader.
func (iotestErr) Read([]byte) (int, error) { return 0, errors.New("boom") }

// TestFSInvalidKeysStayInsideRoot checks that no key writes outside the root.
func TestFSInvalidKeysStayInsideRoot(t *testing.T) {
	parent := t.TempDir()
	s, err := blob.NewFS(filepath.Join(parent, "store"))
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"../escape", "a/../../escape", "/tmp/escape", `..\escape`, "ok\x00/x", "", "a//b"} {
		if _, err := s.Put(t.Context(), key, strings.NewReader("x"), 1); err == nil {
			t.Errorf("Put(%q) succeeded", key)
		}
		if _, err := s.Adopt(t.Context(), key, filepath.Join(parent, "nothing")); err == nil {
			t.Errorf("Adopt(%q) succeeded", key)
		}
	}
	ents, _ := os.ReadDir(parent)
	if len(ents) != 1 || ents[0].Name() != "store" {
		t.Fatalf("parent of root holds %v", ents)
	}
}

// TestFSAdopt checks that Adopt moves a complete file into place.
func TestFSAdopt(t *testing.T) {
	s := newFS(t)
	src := filepath.Join(t.TempDir(), "download.part")
	writeFile(t, src, "first")
	if _, err := s.Adopt(t.Context(), "remote/0123456789abcdef/pkg.tgz", src); err != nil {
		t.Fatalf("Adopt: %v", err)
	}
	if _, err := os.Stat(src); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("source still exists after Adopt: %v", err)
	}
	if got := readKey(t, s, "remote/0123456789abcdef/pkg.tgz"); got != "first" {
		t.Fatalf("adopted content = %q", got)
	}
	writeFile(t, src, "second")
	if _, err := s.Adopt(t.Context(), "remote/0123456789abcdef/pkg.tgz", src); err != nil {
		t.Fatalf("Adopt over existing: %v", err)
	}
	if got := readKey(t, s, "remote/0123456789abcdef/pkg.tgz"); got != "second" {
		t.Fatalf("re-adopted content = %q", got)
	}
	if _, err := s.Adopt(t.Context(), "remote/x", filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Fatal("Adopt of a missing file succeeded")
	}
	if _, err := s.Adopt(t.Context(), "remote/dir", t.TempDir()); err == nil {
		t.Fatal("Adopt of a directory succeeded")
	}
}

// TestFSAdoptAcrossDevices checks the copy fallback when rename fails with EXDEV.
func TestFSAdoptAcrossDevices(t *testing.T) {
	s := newFS(t)
	src := filepath.Join(t.TempDir(), "download.part")
	writeFile(t, src, "copied across devices")
	blob.SetRename(s, func(oldpath, newpath string) error {
		if oldpath == src {
			return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: syscall.EXDEV}
		}
		return os.Rename(oldpath, newpath)
	})
	if _, err := s.Adopt(t.Context(), "k/file", src); err != nil {
		t.Fatalf("Adopt with EXDEV: %v", err)
	}
	if got := readKey(t, s, "k/file"); got != "copied across devices" {
		t.Fatalf("content = %q", got)
	}
	if _, err := os.Stat(src); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("source still exists after copy: %v", err)
	}
}

// TestFSDeleteRemovesEmptyDirs checks that Delete prunes empty parents but not the root.
func TestFSDeleteRemovesEmptyDirs(t *testing.T) {
	root := filepath.Join(t.TempDir(), "store")
	s, err := blob.NewFS(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"r/aaaa/f", "r/bbbb/f"} {
		if _, err := s.Put(t.Context(), k, strings.NewReader("x"), 1); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Delete(t.Context(), "r/aaaa/f"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "r", "aaaa")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("empty dir r/aaaa kept: %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, "r", "bbbb", "f")); err != nil {
		t.Fatalf("sibling removed: %v", err)
	}
	if err := s.Delete(t.Context(), "r/bbbb/f"); err != nil {
		t.Fatal(err)
	}
	if ents, err := os.ReadDir(root); err != nil || len(ents) != 1 || ents[0].Name() != ".tmp" {
		t.Fatalf("root holds %v (%v), want only .tmp", ents, err)
	}
}

// TestFSDescribeAndPing checks Describe and that Ping notices a vanished root.
func TestFSDescribeAndPing(t *testing.T) {
	root := filepath.Join(t.TempDir(), "store")
	s, err := blob.NewFS(root)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Describe(); got != "filesystem "+root {
		t.Fatalf("Describe() = %q", got)
	}
	if err := s.Ping(t.Context()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	if err := os.RemoveAll(root); err != nil {
		t.Fatal(err)
	}
	if err := s.Ping(t.Context()); err == nil {
		t.Fatal("Ping succeeded after the root was removed")
	}
	if _, err := blob.NewFS(""); err == nil {
		t.Fatal("NewFS(\"\") succeeded")
	}
}
