package db_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"artifactapi/db"
	"artifactapi/db/dbtest"
)

func TestSQLiteStore(t *testing.T) {
	dbtest.Run(t, func(t *testing.T) db.Store {
		s, err := db.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "nested", "dir", "meta.db"))
		if err != nil {
			t.Fatalf("OpenSQLite: %v", err)
		}
		return s
	})
}

func TestSQLiteReopen(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		file string
	}{
		{name: "plain", file: "meta.db"},
		{name: "special characters", file: "we?ird #name%20.db"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), tc.file)
			s, err := db.OpenSQLite(ctx, path)
			if err != nil {
				t.Fatalf("OpenSQLite: %v", err)
			}
			if got, want := s.Describe(), "sqlite "+path; got != want {
				t.Errorf("Describe = %q, want %q", got, want)
			}
			a := db.Artifact{Remote: "r", Path: "p", Kind: db.KindImmutable}
			if err := s.PutArtifact(ctx, a); err != nil {
				t.Fatal(err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s, err = db.OpenSQLite(ctx, path) // migrations already applied
			if err != nil {
				t.Fatalf("reopen: %v", err)
			}
			defer s.Close()
			if _, err := s.GetArtifact(ctx, "r", "p"); err != nil {
				t.Errorf("GetArtifact after reopen: %v", err)
			}
			matches, _ := filepath.Glob(filepath.Join(filepath.Dir(path), "*"))
			for _, m := range matches {
				if !strings.HasPrefix(filepath.Base(m), tc.file) {
					t.Errorf("unexpected file %s (the path was not escaped?)", m)
				}
			}
		})
	}
}
