package localrepo_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"artifactapi/app/localrepo"
	"artifactapi/app/oci"
)

// TestTagDetails: a tag shows its manifest's digest, media type and the
// size a pull downloads; an index counts its platforms' blobs once.
func TestTagDetails(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	cfg := push(t, e, repo, "{}")
	shared := push(t, e, repo, "shared layer")
	arm := push(t, e, repo, "arm layer!")
	amd, err := e.s.PutManifest(ctx, repo, oci.Reference{Tag: "amd64"}, nil, oci.MediaTypeOCIManifest, manifestOf(cfg, 2, shared))
	if err != nil {
		t.Fatal(err)
	}
	armM := manifestOf(cfg, 2, shared, arm)
	armP, err := e.s.PutManifest(ctx, repo, oci.Reference{Tag: "arm64"}, nil, oci.MediaTypeOCIManifest, armM)
	if err != nil {
		t.Fatal(err)
	}
	index := []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[` +
		`{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"` + amd.Digest.String() + `","size":1},` +
		`{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"` + armP.Digest.String() + `","size":1}]}`)
	idx, err := e.s.PutManifest(ctx, repo, oci.Reference{Tag: "multi"}, nil, oci.MediaTypeOCIIndex, index)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		after  string
		n      int
		want   map[string]int64 // tag → size
		digest map[string]string
		more   bool
	}{
		{name: "all", n: 10, want: map[string]int64{"amd64": 2 + 12, "arm64": 2 + 12 + 10, "multi": 2 + 12 + 10},
			digest: map[string]string{"amd64": amd.Digest.String(), "arm64": armP.Digest.String(), "multi": idx.Digest.String()}},
		{name: "first page", n: 1, want: map[string]int64{"amd64": 14}, more: true},
		{name: "after arm64", after: "arm64", n: 1, want: map[string]int64{"multi": 24}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, more, err := e.s.TagDetails(ctx, repo, tc.after, tc.n)
			if err != nil || more != tc.more || len(got) != len(tc.want) {
				t.Fatalf("TagDetails = %+v, more %v, %v; want %d tags, more %v", got, more, err, len(tc.want), tc.more)
			}
			for _, g := range got {
				if g.Size != tc.want[g.Tag] {
					t.Errorf("%s: size %d, want %d", g.Tag, g.Size, tc.want[g.Tag])
				}
				if d := tc.digest[g.Tag]; d != "" && g.Digest != d {
					t.Errorf("%s: digest %s, want %s", g.Tag, g.Digest, d)
				}
				if g.IsIndex() != (g.Tag == "multi") {
					t.Errorf("%s: IsIndex %v (media type %s)", g.Tag, g.IsIndex(), g.MediaType)
				}
			}
		})
	}
	repos, more, err := e.s.Repositories(ctx, repo.Remote, "", 10)
	if err != nil || more || len(repos) != 1 || repos[0].Name != repo.Name || repos[0].Tags != 3 || repos[0].Size != 24 {
		t.Errorf("Repositories = %+v, more %v, %v", repos, more, err)
	}
	if err := e.s.DeleteTag(ctx, repo, "amd64"); err != nil {
		t.Fatal(err)
	}
	if err := e.s.DeleteTag(ctx, repo, "amd64"); !errors.Is(err, localrepo.ErrManifestUnknown) {
		t.Errorf("second delete: %v, want ErrManifestUnknown", err)
	}
	if _, err := e.s.Manifest(ctx, repo, oci.Reference{Tag: "amd64"}); !errors.Is(err, localrepo.ErrManifestUnknown) {
		t.Errorf("pull of the deleted tag: %v, want ErrManifestUnknown", err)
	}
}

// TestRecordedGC: a collection is recorded with what it removed, and the
// last run is read back from the metadata store.
func TestRecordedGC(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	if _, ok, err := e.s.LastGC(ctx); ok || err != nil {
		t.Fatalf("LastGC before any run: ok %v, %v", ok, err)
	}
	push(t, e, repo, "orphan")
	e.clk.Add(2 * time.Hour)
	run, err := e.s.RunGC(ctx, "api")
	if err != nil || run.Blobs != 1 || run.Bytes != int64(len("orphan")) || run.StartedBy != "api" || run.Running() {
		t.Fatalf("RunGC = %+v, %v", run, err)
	}
	last, ok, err := e.s.LastGC(ctx)
	if err != nil || !ok || last != run {
		t.Errorf("LastGC = %+v, %v, %v; want %+v", last, ok, err, run)
	}
	started, done, err := e.s.StartGC(ctx, "dashboard")
	if err != nil || !started.Running() {
		t.Fatalf("StartGC = %+v, %v", started, err)
	}
	select {
	case fin := <-done:
		if fin.ID != started.ID || fin.Blobs != 0 || fin.Running() || fin.Error != "" {
			t.Errorf("second run = %+v", fin)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the collection did not finish")
	}
	if last, _, _ := e.s.LastGC(ctx); last.ID != started.ID || last.StartedBy != "dashboard" || last.Running() {
		t.Errorf("LastGC = %+v, want the finished second run", last)
	}
}
