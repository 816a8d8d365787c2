package backup_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"artifactapi/app/backup"
	"artifactapi/app/blob"
	"artifactapi/db"
)

// site is an embedded installation: SQLite and filesystem blobs.
type site struct {
	meta  *db.SQLite
	blobs *blob.FS
}

func newSite(t *testing.T) site {
	t.Helper()
	dir := t.TempDir()
	meta, err := db.OpenSQLite(context.Background(), filepath.Join(dir, "artifactapi.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { meta.Close() })
	blobs, err := blob.NewFS(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	return site{meta, blobs}
}

// commit stores body as the artifact remote/path, as the engine does.
func (s site) commit(t *testing.T, path string, body []byte) db.Artifact {
	t.Helper()
	ctx := context.Background()
	key := "gen/" + path
	v, err := s.blobs.Put(ctx, key, bytes.NewReader(body), int64(len(body)))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(body)
	now := time.Now().UTC().Truncate(time.Microsecond)
	a := db.Artifact{Remote: "gen", Path: path, StorageKey: key, Size: int64(len(body)), SHA256: hex.EncodeToString(sum[:]),
		Kind: "immutable", CachedAt: now, LastAccess: now, BlobVersion: v}
	if err := s.meta.PutArtifact(ctx, a); err != nil {
		t.Fatal(err)
	}
	return a
}

func read(t *testing.T, s site, a db.Artifact) []byte {
	t.Helper()
	rc, err := s.blobs.OpenVersion(context.Background(), a.StorageKey, a.BlobVersion, 0, -1)
	if err != nil {
		t.Fatalf("%s: %v", a.Path, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// TestBackupLeavesOutChangedObjects: an object replaced or deleted after
// the metadata snapshot is not what its row describes; the backup leaves
// that row out instead of restoring a row that names missing or other
// bytes, and every restored row reads back exactly.
func TestBackupLeavesOutChangedObjects(t *testing.T) {
	ctx := context.Background()
	src := newSite(t)
	kept := src.commit(t, "kept.bin", []byte("kept bytes"))
	replaced := src.commit(t, "replaced.bin", []byte("old bytes"))
	deleted := src.commit(t, "deleted.bin", []byte("deleted bytes"))
	// What a concurrent writer does between the snapshot and the copy.
	if _, err := src.blobs.Put(ctx, replaced.StorageKey, strings.NewReader("new bytes"), 9); err != nil {
		t.Fatal(err)
	}
	if err := src.blobs.Delete(ctx, deleted.StorageKey); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "b")
	rep, err := backup.Backup(ctx, src.meta, src.blobs, dir, "test", quiet)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Dropped != 2 || rep.Objects != 1 {
		t.Fatalf("report %+v: want 1 object copied, 2 rows left out", rep)
	}

	dst := newSite(t)
	if _, err := backup.Restore(ctx, dst.meta, dst.blobs, dir, quiet); err != nil {
		t.Fatal(err)
	}
	got, err := dst.meta.GetArtifact(ctx, "gen", kept.Path)
	if err != nil {
		t.Fatal(err)
	}
	if b := read(t, dst, got); string(b) != "kept bytes" {
		t.Fatalf("restored %q", b)
	}
	for _, a := range []db.Artifact{replaced, deleted} {
		if _, err := dst.meta.GetArtifact(ctx, "gen", a.Path); !errors.Is(err, db.ErrNotFound) {
			t.Errorf("%s restored (err %v): its row names bytes the backup does not have", a.Path, err)
		}
	}
}

// TestRestoreRefuses: a directory that is not a complete backup, a store
// that is not empty and a damaged object stop the restore before any row
// is written.
func TestRestoreRefuses(t *testing.T) {
	ctx := context.Background()
	src := newSite(t)
	a := src.commit(t, "a.bin", []byte("some bytes"))
	dir := filepath.Join(t.TempDir(), "b")
	if _, err := backup.Backup(ctx, src.meta, src.blobs, dir, "test", quiet); err != nil {
		t.Fatal(err)
	}
	if _, err := backup.Backup(ctx, src.meta, src.blobs, dir, "test", quiet); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("backup into a used directory: %v", err)
	}
	tests := []struct {
		name string
		dir  func(t *testing.T) string
		site func(t *testing.T) site
		want string
	}{
		{"not a backup", func(t *testing.T) string { return t.TempDir() }, newSite, "not a backup"},
		{"store not empty", func(t *testing.T) string { return dir }, func(t *testing.T) site { return src }, "not empty"},
		{"damaged object", func(t *testing.T) string {
			d := filepath.Join(t.TempDir(), "copy")
			if err := os.CopyFS(d, os.DirFS(dir)); err != nil {
				t.Fatal(err)
			}
			p := filepath.Join(d, "objects", "sha256", a.SHA256[:2], a.SHA256)
			if err := os.WriteFile(p, []byte("Some bytes"), 0o600); err != nil {
				t.Fatal(err)
			}
			return d
		}, newSite, "damaged"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.site(t)
			_, err := backup.Restore(ctx, s.meta, s.blobs, tc.dir(t), quiet)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("restore: %v, want an error saying %q", err, tc.want)
			}
			if s != src {
				if err := s.meta.CheckEmpty(ctx); err != nil {
					t.Fatalf("a refused restore wrote rows: %v", err)
				}
				if _, err := s.blobs.Stat(ctx, a.StorageKey); !errors.Is(err, blob.ErrNotFound) {
					t.Fatalf("a refused restore left the object behind: %v", err)
				}
			}
		})
	}
}
