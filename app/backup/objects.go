package backup

import (
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"artifactapi/app/blob"
	"artifactapi/db"
)

// errChanged marks an object that is no longer what its row describes.
var errChanged = errors.New("object changed after the metadata snapshot")

// copier copies the objects the exported rows reference.
type copier struct {
	blobs blob.Store
	dir   string
	log   *slog.Logger
	done  map[string]bool // keys copied
	enc   *json.Encoder   // objects.jsonl
}

// copyReferenced copies the object of every artifact and pushed registry
// blob of the exported metadata.
func (c *copier) copyReferenced(ctx context.Context, m *Manifest) error {
	f, err := os.OpenFile(filepath.Join(c.dir, objectsFile), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	defer f.Close()
	c.enc = json.NewEncoder(f)
	count := func(o Object, copied bool) {
		if copied {
			m.Objects++
			m.Bytes += o.Size
		}
	}
	err = eachRow(c.dir, "artifacts", func(r db.Row) error {
		key := str(r["storage_key"])
		if key == "" {
			return nil
		}
		o, copied, err := c.copy(ctx, key, str(r["blob_version"]), num(r["size"]), "sha256:"+str(r["sha256"]))
		if errors.Is(err, errChanged) {
			m.Dropped = append(m.Dropped, Dropped{Remote: str(r["remote"]), Path: str(r["path"]), Why: err.Error()})
			c.log.Info("backup: artifact left out: its object changed after the snapshot", "remote", r["remote"], "path", r["path"])
			return nil
		}
		count(o, copied)
		return err
	})
	if err != nil {
		return fmt.Errorf("backup: artifacts: %w", err)
	}
	err = eachRow(c.dir, "oci_blobs", func(r db.Row) error {
		o, copied, err := c.copy(ctx, str(r["storage_key"]), "", num(r["size"]), str(r["digest"]))
		if errors.Is(err, errChanged) {
			return fmt.Errorf("pushed blob %s: %w (a registry garbage collection ran during the backup?): run the backup again", r["digest"], err)
		}
		count(o, copied)
		return err
	})
	if err != nil {
		return fmt.Errorf("backup: registry blobs: %w", err)
	}
	return errors.Join(f.Sync(), f.Close())
}

// copy copies key (at version; "" any) into the backup unless already done,
// checking its size and digest ("algo:hex"; the hex may be empty: not known).
func (c *copier) copy(ctx context.Context, key, version string, size int64, digest string) (Object, bool, error) {
	if c.done[key] {
		return Object{}, false, nil
	}
	rc, err := c.blobs.OpenVersion(ctx, key, version, 0, -1)
	if errors.Is(err, blob.ErrNotFound) || errors.Is(err, blob.ErrVersionMismatch) {
		return Object{}, false, fmt.Errorf("%w: %v", errChanged, err)
	}
	if err != nil {
		return Object{}, false, err
	}
	defer rc.Close()
	tmp, err := os.CreateTemp(filepath.Join(c.dir), ".object-*")
	if err != nil {
		return Object{}, false, err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	algo, want, _ := strings.Cut(digest, ":")
	sum256 := sha256.New()
	check, w := hash.Hash(sum256), io.MultiWriter(tmp, sum256)
	if algo == "sha512" {
		check = sha512.New()
		w = io.MultiWriter(tmp, sum256, check)
	}
	n, err := io.Copy(w, rc)
	if err != nil {
		if errors.Is(err, blob.ErrNotFound) || errors.Is(err, blob.ErrVersionMismatch) {
			return Object{}, false, fmt.Errorf("%w: %v", errChanged, err)
		}
		return Object{}, false, fmt.Errorf("copy %s: %w", key, err)
	}
	if size > 0 && n != size {
		return Object{}, false, fmt.Errorf("%w: %s has %d bytes, its row says %d", errChanged, key, n, size)
	}
	if got := hex.EncodeToString(check.Sum(nil)); want != "" && got != want {
		return Object{}, false, fmt.Errorf("%w: %s has digest %s:%s, its row says %s", errChanged, key, algo, got, digest)
	}
	if err := tmp.Sync(); err != nil {
		return Object{}, false, err
	}
	o := Object{Key: key, SHA256: hex.EncodeToString(sum256.Sum(nil)), Size: n}
	dst := objectPath(c.dir, o.SHA256)
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return Object{}, false, err
	}
	if _, err := os.Stat(dst); err != nil {
		if err := os.Rename(tmp.Name(), dst); err != nil {
			return Object{}, false, err
		}
	}
	c.done[key] = true
	return o, true, c.enc.Encode(o)
}

// objectPath is where the bytes with this sha256 are kept in a backup.
func objectPath(dir, sum string) string {
	return filepath.Join(dir, objectsDir, "sha256", sum[:2], sum)
}

// str and num read dumped column values.
func str(v any) string {
	s, _ := v.(string)
	return s
}

func num(v any) int64 {
	if n, ok := v.(json.Number); ok {
		i, _ := n.Int64()
		return i
	}
	return -1
}
