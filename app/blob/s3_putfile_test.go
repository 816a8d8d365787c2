package blob_test

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// TestS3PutFile uploads a multipart-sized local file by sections and reads it back.
func TestS3PutFile(t *testing.T) {
	s := newS3(t, newS3Env(t).config())
	body := bytes.Repeat([]byte("artifactapi-putfile-"), 1<<20) // 20 MiB: several parts
	path := filepath.Join(t.TempDir(), "spool")
	if err := os.WriteFile(path, body, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutFile(t.Context(), "r/0123456789abcdef/file.bin", path); err != nil {
		t.Fatal(err)
	}
	rc, err := s.Open(t.Context(), "r/0123456789abcdef/file.bin", 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	got, err := io.ReadAll(rc)
	if err != nil || !bytes.Equal(got, body) {
		t.Fatalf("read back %d bytes, err %v", len(got), err)
	}
	if _, err := s.PutFile(t.Context(), "r/x/missing", filepath.Join(t.TempDir(), "nope")); err == nil {
		t.Fatal("missing file accepted")
	}
}
