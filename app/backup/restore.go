package backup

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"artifactapi/app/blob"
	"artifactapi/db"
)

// Restore loads the backup in dir into meta, which must be empty and of the
// backup's dialect and schema version, and blobs. Objects are stored first
// and the metadata imported last, in one transaction: an interrupted
// restore leaves no row naming a missing object. Each artifact row records
// the version its object got in blobs (a new store gives new versions).
func Restore(ctx context.Context, meta db.Dumper, blobs blob.Store, dir string, log *slog.Logger) (Report, error) {
	var m Manifest
	b, err := os.ReadFile(filepath.Join(dir, manifestFile))
	if errors.Is(err, os.ErrNotExist) {
		return Report{}, fmt.Errorf("restore: %s has no %s: not a backup, or an interrupted one", dir, manifestFile)
	}
	if err != nil {
		return Report{}, fmt.Errorf("restore: %w", err)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return Report{}, fmt.Errorf("restore: %s: %w", manifestFile, err)
	}
	if m.Format != Format {
		return Report{}, fmt.Errorf("restore: backup format %d, this artifactapi reads format %d", m.Format, Format)
	}
	if m.Dialect != meta.Dialect() {
		return Report{}, fmt.Errorf("restore: the backup holds a %s metadata store; the target is %s (configure the same kind of database)", m.Dialect, meta.Dialect())
	}
	sv, err := meta.SchemaVersion(ctx)
	if err != nil {
		return Report{}, err
	}
	if sv != m.SchemaVersion {
		return Report{}, fmt.Errorf("restore: the backup has schema version %d (artifactapi %s), this artifactapi migrates to %d: restore with the version that made the backup, then upgrade",
			m.SchemaVersion, m.Version, sv)
	}
	// Checked before any object is stored: a restore over live data
	// would replace the objects its rows name.
	if err := meta.CheckEmpty(ctx); err != nil {
		return Report{}, fmt.Errorf("restore: %w", err)
	}
	versions, rep, err := restoreObjects(ctx, blobs, dir, log)
	if err != nil {
		return rep, err
	}
	dropped := map[[2]string]bool{}
	for _, d := range m.Dropped {
		dropped[[2]string{d.Remote, d.Path}] = true
	}
	err = meta.Import(ctx, func(put func(table string, row db.Row) error) error {
		for _, t := range m.Tables {
			err := eachRow(dir, t.Name, func(r db.Row) error {
				switch t.Name {
				case "artifacts":
					if dropped[[2]string{str(r["remote"]), str(r["path"])}] {
						return nil
					}
					if key := str(r["storage_key"]); key != "" {
						v, ok := versions[key]
						if !ok {
							return fmt.Errorf("artifact %s/%s: object %s is not in the backup", str(r["remote"]), str(r["path"]), key)
						}
						r["blob_version"] = v
					}
				case "oci_blobs":
					if _, ok := versions[str(r["storage_key"])]; !ok {
						return fmt.Errorf("registry blob %s: object is not in the backup", str(r["digest"]))
					}
				}
				rep.Rows++
				return put(t.Name, r)
			})
			if err != nil {
				return fmt.Errorf("restore: %s: %w", t.Name, err)
			}
		}
		return nil
	})
	if err != nil {
		return rep, err
	}
	rep.Dropped = len(m.Dropped)
	return rep, nil
}

// restoreObjects stores every object of the backup under its key, checking
// its sha256, and returns each key's new version.
func restoreObjects(ctx context.Context, blobs blob.Store, dir string, log *slog.Logger) (map[string]string, Report, error) {
	var rep Report
	f, err := os.Open(filepath.Join(dir, objectsFile))
	if err != nil {
		return nil, rep, fmt.Errorf("restore: %w", err)
	}
	defer f.Close()
	versions := map[string]string{}
	d := json.NewDecoder(f)
	for {
		var o Object
		if err := d.Decode(&o); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, rep, fmt.Errorf("restore: %s: %w", objectsFile, err)
		}
		v, err := putObject(ctx, blobs, dir, o)
		if err != nil {
			return nil, rep, err
		}
		versions[o.Key] = v
		rep.Objects++
		rep.Bytes += o.Size
	}
	log.Info("restore: objects stored", "objects", rep.Objects, "bytes", rep.Bytes)
	return versions, rep, nil
}

// putObject stores one object; bytes that do not match their recorded
// sha256 (a damaged backup) are deleted again and fail the restore.
func putObject(ctx context.Context, blobs blob.Store, dir string, o Object) (string, error) {
	f, err := os.Open(objectPath(dir, o.SHA256))
	if err != nil {
		return "", fmt.Errorf("restore: object of %s: %w", o.Key, err)
	}
	defer f.Close()
	h := sha256.New()
	v, err := blobs.Put(ctx, o.Key, io.TeeReader(f, h), o.Size)
	if err != nil {
		return "", fmt.Errorf("restore: %w", err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != o.SHA256 {
		_ = blobs.Delete(ctx, o.Key)
		return "", fmt.Errorf("restore: the backup's copy of %s is damaged (sha256 %s, recorded %s)", o.Key, got, o.SHA256)
	}
	return v, nil
}
