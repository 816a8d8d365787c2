package db_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"artifactapi/app/testenv"
	"artifactapi/db"
)

// dumpStore is what the round trip exercises on each dialect.
type dumpStore interface {
	db.Store
	db.Dumper
	db.AuthStore
	db.JobStore
	Registry() db.RegistryStore
}

// dump exports s into table → rows (each row as JSON, for comparison).
func dump(t *testing.T, s db.Dumper) ([]string, map[string][]string) {
	t.Helper()
	var order []string
	rows := map[string][]string{}
	err := s.Export(context.Background(), func(table string, r db.Row) error {
		if _, ok := rows[table]; !ok {
			order = append(order, table)
		}
		b, err := json.Marshal(r)
		rows[table] = append(rows[table], string(b))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return order, rows
}

// TestDumpRoundTrip: on both dialects, a store filled through its API
// (NULL and set times, booleans, bytes, identity columns) exports, imports
// into a fresh store and exports again to exactly the same rows; tables
// come in foreign-key order; identities continue after the imported ones.
func TestDumpRoundTrip(t *testing.T) {
	open := map[string]func(t *testing.T) dumpStore{
		db.DialectSQLite: func(t *testing.T) dumpStore {
			s, err := db.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "a.db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		},
		db.DialectPostgres: func(t *testing.T) dumpStore {
			s, err := db.OpenPostgres(context.Background(), testenv.Postgres(t).DSN)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		},
	}
	for _, dialect := range []string{db.DialectSQLite, db.DialectPostgres} {
		t.Run(dialect, func(t *testing.T) {
			ctx := context.Background()
			src := open[dialect](t)
			now := time.Now().UTC().Truncate(time.Microsecond)
			for i, a := range []db.Artifact{
				{Remote: "r", Path: "a.bin", StorageKey: "r/1/a.bin", Size: 3, SHA256: "abc", Kind: "immutable", CachedAt: now, LastAccess: now, BlobVersion: "v1"},
				{Remote: "r", Path: "b.yaml", StorageKey: "r/2/b.yaml", Size: 4, Kind: "mutable", CachedAt: now, LastAccess: now, ExpiresAt: now.Add(time.Hour), Pinned: true},
			} {
				if err := src.PutArtifact(ctx, a); err != nil {
					t.Fatalf("artifact %d: %v", i, err)
				}
			}
			if err := src.CreateUser(ctx, db.User{Name: "u", PasswordHash: "$argon2id$x", Scopes: []string{"read"}, CreatedAt: now, UpdatedAt: now}); err != nil {
				t.Fatal(err)
			}
			if _, err := src.CreateJob(ctx, db.Job{Remote: "r", Items: []db.JobItem{{Remote: "r", Path: "a.bin"}}}); err != nil {
				t.Fatal(err)
			}
			if err := src.AppendAudit(ctx, db.AuditEntry{At: now, Actor: "u", Action: "login"}); err != nil {
				t.Fatal(err)
			}
			reg := src.Registry()
			if _, _, err := reg.PutRegistryBlob(ctx, db.RegistryBlob{Digest: "sha256:aa", Size: 2, StorageKey: "_registry/aa", CreatedAt: now, LastUsed: now}); err != nil {
				t.Fatal(err)
			}
			if _, err := reg.LinkRegistryBlob(ctx, "img", "team/app", "sha256:aa", now); err != nil {
				t.Fatal(err)
			}
			m := db.RegistryManifest{Remote: "img", Name: "team/app", Digest: "sha256:mm", MediaType: "application/vnd.oci.image.manifest.v1+json",
				Body: []byte{0, 1, 2, 0xff, '{'}, Blobs: []string{"sha256:aa"}, CreatedAt: now}
			if err := reg.PutRegistryManifest(ctx, m, []string{"v1"}); err != nil {
				t.Fatal(err)
			}

			order, rows := dump(t, src)
			pos := map[string]int{}
			for i, tb := range order {
				pos[tb] = i
			}
			for _, dep := range [][2]string{{"jobs", "job_items"}, {"oci_manifests", "oci_tags"}, {"oci_manifests", "oci_manifest_blobs"}} {
				if pos[dep[0]] >= pos[dep[1]] {
					t.Errorf("%s exported after %s, which references it: %v", dep[0], dep[1], order)
				}
			}
			for _, tb := range []string{"oci_uploads", "oci_upload_parts", "goose_db_version"} {
				if _, ok := pos[tb]; ok {
					t.Errorf("%s exported", tb)
				}
			}

			dst := open[dialect](t)
			err := dst.Import(ctx, func(put func(string, db.Row) error) error {
				return src.Export(ctx, put)
			})
			if err != nil {
				t.Fatal(err)
			}
			order2, rows2 := dump(t, dst)
			if !reflect.DeepEqual(order, order2) || !reflect.DeepEqual(rows, rows2) {
				t.Fatalf("rows differ after the round trip:\nbefore %v\nafter  %v", rows, rows2)
			}
			got, err := dst.Registry().GetRegistryManifest(ctx, "img", "team/app", "sha256:mm")
			if err != nil || string(got.Body) != string(m.Body) {
				t.Fatalf("manifest body after the round trip: %q %v", got.Body, err)
			}
			// New rows get identities after the imported ones.
			if err := dst.PutArtifact(ctx, db.Artifact{Remote: "r", Path: "c.bin", Kind: "immutable", CachedAt: now, LastAccess: now}); err != nil {
				t.Fatalf("insert after import: %v", err)
			}
			if err := dst.AppendAudit(ctx, db.AuditEntry{At: now, Action: "x"}); err != nil {
				t.Fatalf("audit after import: %v", err)
			}
			if err := dst.CheckEmpty(ctx); err == nil {
				t.Fatal("CheckEmpty on a filled store")
			}
		})
	}
}
