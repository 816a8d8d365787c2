package migrations

import (
	"io/fs"
	"strings"
	"testing"
)

func TestEmbedded(t *testing.T) {
	tests := []struct {
		name string
		fsys fs.FS
	}{
		{name: "postgres", fsys: Postgres},
		{name: "sqlite", fsys: SQLite},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			names, err := fs.Glob(tc.fsys, "*.sql")
			if err != nil {
				t.Fatal(err)
			}
			if len(names) == 0 || names[0] != "00001_artifacts.sql" {
				t.Fatalf("migrations at the FS root = %v, want 00001_artifacts.sql first", names)
			}
			for _, n := range names {
				b, err := fs.ReadFile(tc.fsys, n)
				if err != nil {
					t.Fatal(err)
				}
				for _, marker := range []string{"-- +goose Up", "-- +goose Down"} {
					if !strings.Contains(string(b), marker) {
						t.Errorf("%s lacks %q", n, marker)
					}
				}
			}
		})
	}
}
