package localrepo_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"artifactapi/app/blob"
	"artifactapi/app/localrepo"
	"artifactapi/app/oci"
	"artifactapi/db"
)

// downPulls is a metadata store whose pull writes fail while down is set
// (the database unreachable).
type downPulls struct {
	db.RegistryStore
	down atomic.Bool
}

func (d *downPulls) RecordManifestPulls(ctx context.Context, p []db.ManifestPull) error {
	if d.down.Load() {
		return errors.New("connection refused")
	}
	return d.RegistryStore.RecordManifestPulls(ctx, p)
}

// TestPullsKeptWhileTheDatabaseIsDown: pulls recorded while the metadata
// store cannot be written are kept and written by the next flush, with
// the time of the pull (not of the flush).
func TestPullsKeptWhileTheDatabaseIsDown(t *testing.T) {
	ctx := context.Background()
	meta, err := db.OpenSQLite(ctx, filepath.Join(t.TempDir(), "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { meta.Close() })
	bs, err := blob.NewFS(filepath.Join(t.TempDir(), "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	store := &downPulls{RegistryStore: meta.Registry()}
	clk := &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	s := localrepo.New(localrepo.Options{Meta: store, Blobs: bs, Now: clk.Now})
	e := env{s: s, blobs: bs, clk: clk}
	cfg := push(t, e, repo, "config")
	m := manifestOf(cfg, len("config"))
	if _, err := s.PutManifest(ctx, repo, oci.Reference{Tag: "v1"}, nil, "application/vnd.oci.image.manifest.v1+json", m); err != nil {
		t.Fatal(err)
	}
	pulledAt := clk.Now()
	s.Pulled(repo, oci.FromBytes("sha256", m).String())
	store.down.Store(true)
	if err := s.FlushPulls(ctx); err == nil {
		t.Fatal("a flush with the database down reported success")
	}
	clk.Add(time.Minute)
	store.down.Store(false)
	if err := s.FlushPulls(ctx); err != nil {
		t.Fatal(err)
	}
	tags, err := meta.Registry().ListRegistryTagDetails(ctx, repo.Remote, repo.Name, "", 10)
	if err != nil || len(tags) != 1 {
		t.Fatalf("tags: %v, %v", tags, err)
	}
	if !tags[0].LastPulled.Equal(pulledAt) {
		t.Fatalf("last pulled %v, want the pull's time %v", tags[0].LastPulled, pulledAt)
	}
}
