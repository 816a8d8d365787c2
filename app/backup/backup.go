// Package backup copies an artifactapi installation — its metadata store and
// exactly the blob objects that metadata references — into a directory, and
// restores such a directory into a fresh metadata store and blob store.
//
// Consistency: the metadata is exported from one snapshot first; only then
// are the objects its rows name copied, each read at the object version the
// row recorded and checked against the row's size and digest. An object
// evicted or replaced after the snapshot cannot be copied as the row
// describes it: the row is left out of the restore (a cached artifact is
// simply fetched again later), so a restored store never references an
// object that is missing or different. A pushed registry blob that vanished
// (garbage collection ran meanwhile) fails the backup instead.
package backup

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"artifactapi/app/blob"
	"artifactapi/db"
)

// Format is the version of the directory layout written here.
const Format = 1

// Layout of a backup directory. The manifest is written last: a directory
// without it is an interrupted backup and is never restored.
const (
	manifestFile = "backup.json"
	objectsFile  = "objects.jsonl" // one Object per line
	metadataDir  = "metadata"      // <table>.jsonl, one db.Row per line
	objectsDir   = "objects"       // sha256/<2 hex>/<64 hex>, deduplicated by content
)

// Manifest describes a complete backup.
type Manifest struct {
	Format        int       `json:"format"`
	CreatedAt     time.Time `json:"created_at"`
	Version       string    `json:"version"` // of the artifactapi that wrote it
	Dialect       string    `json:"dialect"`
	SchemaVersion int64     `json:"schema_version"`
	Tables        []Table   `json:"tables"` // in restore order
	Objects       int64     `json:"objects"`
	Bytes         int64     `json:"bytes"`
	Dropped       []Dropped `json:"dropped,omitempty"`
}

// Table is one exported table.
type Table struct {
	Name string `json:"name"`
	Rows int64  `json:"rows"`
}

// Dropped is an artifact row left out because its object changed after the
// metadata snapshot.
type Dropped struct {
	Remote string `json:"remote"`
	Path   string `json:"path"`
	Why    string `json:"why"`
}

// Object maps a blob-store key to the copied bytes.
type Object struct {
	Key    string `json:"key"`
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
}

// Report is what a backup or a restore did.
type Report struct {
	Rows    int64
	Objects int64
	Bytes   int64
	Dropped int
}

// Backup writes meta and the objects it references in blobs to dir, which
// must not exist or be empty.
func Backup(ctx context.Context, meta db.Dumper, blobs blob.Store, dir, version string, log *slog.Logger) (Report, error) {
	if err := emptyDir(dir); err != nil {
		return Report{}, err
	}
	m := Manifest{Format: Format, CreatedAt: time.Now().UTC(), Version: version, Dialect: meta.Dialect()}
	var err error
	if m.SchemaVersion, err = meta.SchemaVersion(ctx); err != nil {
		return Report{}, err
	}
	if m.Tables, err = exportMetadata(ctx, meta, dir); err != nil {
		return Report{}, err
	}
	c := &copier{blobs: blobs, dir: dir, log: log, done: map[string]bool{}}
	if err := c.copyReferenced(ctx, &m); err != nil {
		return Report{}, err
	}
	if err := writeJSON(filepath.Join(dir, manifestFile), m); err != nil {
		return Report{}, err
	}
	var rows int64
	for _, t := range m.Tables {
		rows += t.Rows
	}
	return Report{Rows: rows, Objects: m.Objects, Bytes: m.Bytes, Dropped: len(m.Dropped)}, nil
}

// exportMetadata writes every table to metadata/<table>.jsonl.
func exportMetadata(ctx context.Context, meta db.Dumper, dir string) ([]Table, error) {
	if err := os.MkdirAll(filepath.Join(dir, metadataDir), 0o700); err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	var tables []Table
	var f *os.File
	var enc *json.Encoder
	closeTable := func() error {
		if f == nil {
			return nil
		}
		err := errors.Join(f.Sync(), f.Close())
		f = nil
		return err
	}
	err := meta.Export(ctx, func(table string, row db.Row) error {
		if len(tables) == 0 || tables[len(tables)-1].Name != table {
			if err := closeTable(); err != nil {
				return err
			}
			var err error
			if f, err = os.OpenFile(filepath.Join(dir, metadataDir, table+".jsonl"), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600); err != nil {
				return err
			}
			enc = json.NewEncoder(f)
			tables = append(tables, Table{Name: table})
		}
		tables[len(tables)-1].Rows++
		return enc.Encode(row)
	})
	if cerr := closeTable(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("backup: metadata: %w", err)
	}
	return tables, nil
}

// emptyDir creates dir, or accepts it when it exists and is empty.
func emptyDir(dir string) error {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("backup: %w", err)
		}
		return nil
	case err != nil:
		return fmt.Errorf("backup: %w", err)
	case len(entries) > 0:
		return fmt.Errorf("backup: %s is not empty: write each backup to a new directory", dir)
	}
	return nil
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	_, err = f.Write(append(b, '\n'))
	if err = errors.Join(err, f.Sync(), f.Close()); err != nil {
		return fmt.Errorf("backup: %s: %w", path, err)
	}
	return nil
}

// eachRow calls fn with every row of a table file (a missing file: none).
func eachRow(dir, table string, fn func(db.Row) error) error {
	f, err := os.Open(filepath.Join(dir, metadataDir, table+".jsonl"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	d := json.NewDecoder(f)
	d.UseNumber()
	for {
		var r db.Row
		if err := d.Decode(&r); errors.Is(err, io.EOF) {
			return nil
		} else if err != nil {
			return fmt.Errorf("%s.jsonl: %w", table, err)
		}
		if err := fn(r); err != nil {
			return err
		}
	}
}
