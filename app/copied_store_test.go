package app_test

import (
	"bytes"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"artifactapi/app/apptest"
)

// TestCopiedDataDirKeepsEverything: a data directory copied file by file
// (a restore from a file-level backup, a volume moved with rsync: every
// object gets a new inode and modification time) is served whole by an
// instance started on the copy. Uploads to a local repository are not
// lost, and cached artifacts are served without asking the upstream: each
// object is proven to hold the recorded bytes once, and its new version is
// recorded.
func TestCopiedDataDirKeepsEverything(t *testing.T) {
	cached := bytes.Repeat([]byte("cached artifact "), 20<<10) // 320 KiB: not kept in memory
	uploaded := bytes.Repeat([]byte("uploaded file "), 10<<10)
	var upstream atomic.Int64
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		upstream.Add(1)
		_, _ = w.Write(cached)
	}))
	remotes := fmt.Sprintf(`
remotes:
  files:
    type: local
  up:
    base_url: %q
`, origin.URL)
	b := apptest.NewBackends(t, apptest.Embedded)
	in := apptest.Start(t, b, apptest.Options{Remotes: remotes})
	hdr := apptest.Admin()
	resp := in.Do(t, http.MethodPut, "/api/files/tools/tool-1.0.bin", bytes.NewReader(uploaded), hdr)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
		t.Fatalf("upload: %d", resp.StatusCode)
	}
	if st, _, got := in.Get(t, "/api/up/dist/a.bin", nil); st != http.StatusOK || !bytes.Equal(got, cached) {
		t.Fatalf("first GET: %d, %d bytes", st, len(got))
	}
	in.Stop()
	origin.Close()

	// Copy every file anew: new inodes, new modification times.
	copyDir := t.TempDir()
	err := filepath.WalkDir(in.DataDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(in.DataDir, p)
		dst := filepath.Join(copyDir, rel)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}

	re := apptest.Start(t, b, apptest.Options{Remotes: remotes, DataDir: copyDir})
	for range 2 {
		if st, _, got := re.Get(t, "/api/files/tools/tool-1.0.bin", nil); st != http.StatusOK || !bytes.Equal(got, uploaded) {
			t.Fatalf("upload on the copy: %d, %d bytes", st, len(got))
		}
		if st, hdr, got := re.Get(t, "/api/up/dist/a.bin", nil); st != http.StatusOK || !bytes.Equal(got, cached) || hdr.Get("X-Artifact-Source") != "cache" {
			t.Fatalf("cached artifact on the copy: %d (%s), %d bytes", st, hdr.Get("X-Artifact-Source"), len(got))
		}
	}
	if n := upstream.Load(); n != 1 {
		t.Fatalf("upstream asked %d times, want 1 (before the copy)", n)
	}
	if n := strings.Count(re.Logs.String(), "new version is recorded"); n != 2 {
		t.Fatalf("%d objects re-adopted, want 2 (each once):\n%s", n, re.Logs.String())
	}
}
