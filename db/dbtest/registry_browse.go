package dbtest

import (
	"errors"
	"testing"
	"time"

	"artifactapi/db"
)

// browseFixture pushes into remote "r": a/app with two manifests sharing
// blob 1 (tags 1.0 and latest on the second, one manifest untagged after
// its tag moved), b/tool with one, and "other"/a/app (another remote).
func browseFixture(t *testing.T, s db.RegistryStore) (m1, m2, m3 db.RegistryManifest) {
	t.Helper()
	regBlob(t, s, dig(1), 100, base)
	regBlob(t, s, dig(2), 20, base)
	regBlob(t, s, dig(3), 3, base)
	for _, l := range []struct{ remote, name, d string }{
		{"r", "a/app", dig(1)}, {"r", "a/app", dig(2)}, {"r", "b/tool", dig(3)}, {"other", "a/app", dig(3)},
	} {
		link(t, s, l.remote, l.name, l.d, base)
	}
	m1 = manifest("r", "a/app", 1, "", dig(1))
	m2 = manifest("r", "a/app", 2, "", dig(1), dig(2))
	m3 = manifest("r", "b/tool", 3, "", dig(3))
	for _, p := range []struct {
		m    db.RegistryManifest
		tags []string
	}{
		{m1, []string{"1.0"}},
		{m2, []string{"1.0", "latest"}}, // moves 1.0: m1 stays, untagged
		{m3, []string{"v1"}},
		{manifest("other", "a/app", 4, "", dig(3)), []string{"x"}},
	} {
		if err := s.PutRegistryManifest(ctx(t), p.m, p.tags); err != nil {
			t.Fatal(err)
		}
	}
	return m1, m2, m3
}

func testRegBrowseRepos(t *testing.T, s db.RegistryStore) {
	_, m2, m3 := browseFixture(t, s)
	tests := []struct {
		name  string
		after string
		limit int
		want  []db.RegistryRepository
	}{
		{name: "all", limit: 10, want: []db.RegistryRepository{
			{Name: "a/app", Manifests: 2, Tags: 2, Size: 120, UpdatedAt: m2.CreatedAt},
			{Name: "b/tool", Manifests: 1, Tags: 1, Size: 3, UpdatedAt: m3.CreatedAt},
		}},
		{name: "first page", limit: 1, want: []db.RegistryRepository{{Name: "a/app", Manifests: 2, Tags: 2, Size: 120, UpdatedAt: m2.CreatedAt}}},
		{name: "after a/app", after: "a/app", limit: 10, want: []db.RegistryRepository{{Name: "b/tool", Manifests: 1, Tags: 1, Size: 3, UpdatedAt: m3.CreatedAt}}},
		{name: "after the last", after: "b/tool", limit: 10},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.ListRegistryRepositories(ctx(t), "r", tc.after, tc.limit)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("repositories = %+v, want %+v", got, tc.want)
			}
			for i := range got {
				if g, w := got[i], tc.want[i]; g.Name != w.Name || g.Manifests != w.Manifests || g.Tags != w.Tags || g.Size != w.Size || !g.UpdatedAt.Equal(w.UpdatedAt) {
					t.Errorf("repository %d = %+v, want %+v", i, g, w)
				}
			}
		})
	}
	// A tag moved later than any push dates the repository.
	later := base.Add(time.Hour)
	m3.CreatedAt = later
	if err := s.PutRegistryManifest(ctx(t), m3, []string{"v2"}); err != nil {
		t.Fatal(err)
	}
	got, err := s.ListRegistryRepositories(ctx(t), "r", "a/app", 10)
	if err != nil || len(got) != 1 || !got[0].UpdatedAt.Equal(later) || got[0].Tags != 2 {
		t.Errorf("after a tag move: %+v, %v; want updated at %v with 2 tags", got, err, later)
	}
	if got, err := s.ListRegistryRepositories(ctx(t), "empty", "", 10); err != nil || len(got) != 0 {
		t.Errorf("a remote without manifests: %+v, %v", got, err)
	}
}

func testRegBrowseTags(t *testing.T, s db.RegistryStore) {
	_, m2, _ := browseFixture(t, s)
	want := func(tag string) db.RegistryTagDetail {
		return db.RegistryTagDetail{Tag: tag, Digest: m2.Digest, MediaType: m2.MediaType, ManifestSize: int64(len(m2.Body)),
			BlobsSize: 120, PushedAt: m2.CreatedAt, UpdatedAt: m2.CreatedAt}
	}
	tests := []struct {
		name  string
		after string
		limit int
		want  []db.RegistryTagDetail
	}{
		{name: "all", limit: 10, want: []db.RegistryTagDetail{want("1.0"), want("latest")}},
		{name: "first page", limit: 1, want: []db.RegistryTagDetail{want("1.0")}},
		{name: "after 1.0", after: "1.0", limit: 10, want: []db.RegistryTagDetail{want("latest")}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.ListRegistryTagDetails(ctx(t), "r", "a/app", tc.after, tc.limit)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("tags = %+v, want %+v", got, tc.want)
			}
			for i := range got {
				g, w := got[i], tc.want[i]
				if g.Tag != w.Tag || g.Digest != w.Digest || g.MediaType != w.MediaType || g.ManifestSize != w.ManifestSize ||
					g.BlobsSize != w.BlobsSize || !g.PushedAt.Equal(w.PushedAt) || !g.UpdatedAt.Equal(w.UpdatedAt) {
					t.Errorf("tag %d = %+v, want %+v", i, g, w)
				}
			}
		})
	}
	if err := s.DeleteRegistryTag(ctx(t), "r", "a/app", "latest"); err != nil {
		t.Fatal(err)
	}
	got, err := s.ListRegistryTagDetails(ctx(t), "r", "a/app", "", 10)
	if err != nil || len(got) != 1 || got[0].Tag != "1.0" {
		t.Errorf("after deleting latest: %+v, %v; want 1.0 only", got, err)
	}
	if got, err := s.ListRegistryTagDetails(ctx(t), "other", "b/tool", "", 10); err != nil || len(got) != 0 {
		t.Errorf("a repository of another remote: %+v, %v", got, err)
	}
}

func testRegBlobsSize(t *testing.T, s db.RegistryStore) {
	m1, m2, m3 := browseFixture(t, s)
	tests := []struct {
		name      string
		repo      string
		manifests []string
		want      int64
	}{
		{name: "none", repo: "a/app"},
		{name: "one", repo: "a/app", manifests: []string{m1.Digest}, want: 100},
		{name: "shared blob counted once", repo: "a/app", manifests: []string{m1.Digest, m2.Digest}, want: 120},
		{name: "manifest of another repository", repo: "a/app", manifests: []string{m3.Digest}, want: 0},
		{name: "unknown", repo: "a/app", manifests: []string{dig(999)}, want: 0},
	}
	for _, tc := range tests {
		got, err := s.RegistryBlobsSize(ctx(t), "r", tc.repo, tc.manifests)
		if err != nil || got != tc.want {
			t.Errorf("%s: size = %d, %v; want %d", tc.name, got, err, tc.want)
		}
	}
}

func testRegListManifests(t *testing.T, s db.RegistryStore) {
	m1, m2, m3 := browseFixture(t, s)
	tests := []struct {
		name, remote, repo string
		want               []db.RegistryManifest
	}{
		{name: "tagged and untagged, by digest", remote: "r", repo: "a/app", want: sortByDigest(m1, m2)},
		{name: "one", remote: "r", repo: "b/tool", want: []db.RegistryManifest{m3}},
		{name: "unknown repository", remote: "r", repo: "c/none"},
		{name: "another remote's repository of that name", remote: "other", repo: "b/tool"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.ListRegistryManifests(ctx(t), tc.remote, tc.repo)
			if err != nil || len(got) != len(tc.want) {
				t.Fatalf("got %d manifests, %v; want %d", len(got), err, len(tc.want))
			}
			for i, w := range tc.want {
				g := got[i]
				if g.Digest != w.Digest || g.MediaType != w.MediaType || string(g.Body) != string(w.Body) || !g.CreatedAt.Equal(w.CreatedAt) {
					t.Errorf("manifest %d = %s %s %s; want %s %s %s", i, g.Digest, g.MediaType, g.CreatedAt, w.Digest, w.MediaType, w.CreatedAt)
				}
			}
		})
	}
}

func sortByDigest(ms ...db.RegistryManifest) []db.RegistryManifest {
	if len(ms) == 2 && ms[0].Digest > ms[1].Digest {
		ms[0], ms[1] = ms[1], ms[0]
	}
	return ms
}

func testRegGCLog(t *testing.T, s db.RegistryStore) {
	if _, err := s.LastRegistryGC(ctx(t)); !errors.Is(err, db.ErrNotFound) {
		t.Fatalf("no run yet: %v, want ErrNotFound", err)
	}
	first, err := s.StartRegistryGC(ctx(t), "api", base)
	if err != nil || first.ID == 0 || first.StartedBy != "api" || !first.StartedAt.Equal(base) || !first.Running() {
		t.Fatalf("start = %+v, %v", first, err)
	}
	first.FinishedAt, first.Uploads, first.Blobs, first.Bytes = base.Add(time.Second), 1, 2, 3000
	if err := s.FinishRegistryGC(ctx(t), first); err != nil {
		t.Fatal(err)
	}
	last, err := s.LastRegistryGC(ctx(t))
	if err != nil || last != first {
		t.Errorf("last = %+v, %v; want %+v", last, err, first)
	}
	second, err := s.StartRegistryGC(ctx(t), "dashboard", base.Add(time.Minute))
	if err != nil || second.ID <= first.ID {
		t.Fatalf("second start = %+v, %v", second, err)
	}
	if last, err := s.LastRegistryGC(ctx(t)); err != nil || last.ID != second.ID || !last.Running() {
		t.Errorf("last while the second runs = %+v, %v", last, err)
	}
	second.FinishedAt, second.Error = base.Add(2*time.Minute), "blob store unreachable"
	if err := s.FinishRegistryGC(ctx(t), second); err != nil {
		t.Fatal(err)
	}
	if last, err := s.LastRegistryGC(ctx(t)); err != nil || last != second {
		t.Errorf("last = %+v, %v; want %+v", last, err, second)
	}
	if err := s.FinishRegistryGC(ctx(t), db.RegistryGCRun{ID: second.ID + 1000, FinishedAt: base}); !errors.Is(err, db.ErrNotFound) {
		t.Errorf("finish of an unknown run: %v, want ErrNotFound", err)
	}
	// Only the newest KeepGCRuns are kept.
	var newest db.RegistryGCRun
	for i := 0; i < db.KeepGCRuns; i++ {
		if newest, err = s.StartRegistryGC(ctx(t), "api", base.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.FinishRegistryGC(ctx(t), first); !errors.Is(err, db.ErrNotFound) {
		t.Errorf("the oldest run is still recorded (%v) after %d newer ones", err, db.KeepGCRuns)
	}
	if last, err := s.LastRegistryGC(ctx(t)); err != nil || last.ID != newest.ID {
		t.Errorf("last = %+v, %v; want run %d", last, err, newest.ID)
	}
}

// testRegManifestPulls: a pull moves a manifest's last pull forward only;
// the tag rows and the repository show it; pulls of unknown manifests are
// ignored.
func testRegManifestPulls(t *testing.T, s db.RegistryStore) {
	_, m2, m3 := browseFixture(t, s)
	t1, t2 := base.Add(time.Hour), base.Add(2*time.Hour)
	err := s.RecordManifestPulls(ctx(t), []db.ManifestPull{
		{Remote: "r", Name: "a/app", Digest: m2.Digest, At: t2},
		{Remote: "r", Name: "b/tool", Digest: m3.Digest, At: t1},
		{Remote: "r", Name: "c/none", Digest: dig(9), At: t1},
	})
	if err != nil {
		t.Fatal(err)
	}
	// An older pull (a slow replica's batch) does not move it back.
	if err := s.RecordManifestPulls(ctx(t), []db.ManifestPull{{Remote: "r", Name: "a/app", Digest: m2.Digest, At: t1}}); err != nil {
		t.Fatal(err)
	}
	tags, err := s.ListRegistryTagDetails(ctx(t), "r", "a/app", "", 10)
	if err != nil || len(tags) != 2 {
		t.Fatalf("tags: %v, %v", tags, err)
	}
	for _, tg := range tags {
		if !tg.LastPulled.Equal(t2) {
			t.Errorf("tag %s last pulled %v, want %v", tg.Tag, tg.LastPulled, t2)
		}
	}
	repos, err := s.ListRegistryRepositories(ctx(t), "r", "", 10)
	if err != nil || len(repos) != 2 {
		t.Fatalf("repos: %v, %v", repos, err)
	}
	if !repos[0].LastPulled.Equal(t2) || !repos[1].LastPulled.Equal(t1) {
		t.Errorf("repositories last pulled %v, %v; want %v, %v", repos[0].LastPulled, repos[1].LastPulled, t2, t1)
	}
	other, err := s.ListRegistryRepositories(ctx(t), "other", "", 10)
	if err != nil || len(other) != 1 || !other[0].LastPulled.IsZero() {
		t.Fatalf("a repository never pulled: %+v, %v", other, err)
	}
}
