// Package dbtest is the contract suite every db.Store implementation must
// pass. Backend tests call Run with a function opening a fresh, empty store.
package dbtest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"artifactapi/db"
)

// Precision is the time precision a store must keep: times read back equal
// the written times truncated to it.
const Precision = time.Microsecond

// base is a reference time with a nanosecond component.
var base = time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC)

// Run runs the suite. open must return a fresh, empty, migrated store; it is
// called once per subtest, and Run closes the store when the subtest ends.
func Run(t *testing.T, open func(t *testing.T) db.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s db.Store)
	}{
		{name: "ping_describe", fn: testPingDescribe},
		{name: "crud", fn: testCRUD},
		{name: "not_found", fn: testNotFound},
		{name: "upsert", fn: testUpsert},
		{name: "set_expiry", fn: testSetExpiry},
		{name: "set_blob_version", fn: testSetBlobVersion},
		{name: "record_hits", fn: testRecordHits},
		{name: "totals", fn: testTotals},
		{name: "list_walk", fn: testListWalk},
		{name: "list_walk_with_changes", fn: testListWalkWithChanges},
		{name: "list_filter", fn: testListFilter},
		{name: "list_errors", fn: testListErrors},
		{name: "concurrency", fn: testConcurrency},
		{name: "search", fn: testSearch},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			tc.fn(t, s)
		})
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return c
}

// sample returns a fully populated artifact.
func sample(remote, path string) db.Artifact {
	return db.Artifact{
		Remote: remote, Path: path, StorageKey: "sha256/ab/" + path, Size: 1234,
		SHA256:      "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
		ContentType: "application/java-archive", ETag: `"abc-123"`,
		LastModified: "Mon, 06 May 2024 07:08:09 GMT", Kind: db.KindImmutable, Pattern: "**/*.jar",
		UpstreamURL: "https://repo.example.org/maven2/" + path,
		CachedAt:    base, ExpiresAt: base.Add(24 * time.Hour), LastAccess: base.Add(time.Minute),
		Hits: 3,
	}
}

func put(t *testing.T, s db.Store, a db.Artifact) {
	t.Helper()
	if err := s.PutArtifact(ctx(t), a); err != nil {
		t.Fatalf("PutArtifact(%s/%s): %v", a.Remote, a.Path, err)
	}
}

func get(t *testing.T, s db.Store, remote, path string) db.Artifact {
	t.Helper()
	a, err := s.GetArtifact(ctx(t), remote, path)
	if err != nil {
		t.Fatalf("GetArtifact(%s/%s): %v", remote, path, err)
	}
	return a
}

// checkEqual compares every field but ID, times at Precision.
func checkEqual(t *testing.T, got, want db.Artifact) {
	t.Helper()
	times := []struct {
		name      string
		got, want time.Time
	}{
		{"CachedAt", got.CachedAt, want.CachedAt},
		{"ExpiresAt", got.ExpiresAt, want.ExpiresAt},
		{"LastAccess", got.LastAccess, want.LastAccess},
	}
	for _, tm := range times {
		if tm.got.IsZero() != tm.want.IsZero() || !tm.got.Truncate(Precision).Equal(tm.want.Truncate(Precision)) {
			t.Errorf("%s = %v, want %v", tm.name, tm.got, tm.want)
		}
	}
	got.ID, got.CachedAt, got.ExpiresAt, got.LastAccess = 0, time.Time{}, time.Time{}, time.Time{}
	want.ID, want.CachedAt, want.ExpiresAt, want.LastAccess = 0, time.Time{}, time.Time{}, time.Time{}
	if got != want {
		t.Errorf("artifact mismatch\n got %+v\nwant %+v", got, want)
	}
}

func testPingDescribe(t *testing.T, s db.Store) {
	if err := s.Ping(ctx(t)); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	if s.Describe() == "" {
		t.Error("Describe is empty")
	}
}

func testCRUD(t *testing.T, s db.Store) {
	tests := []struct {
		name   string
		mutate func(a *db.Artifact)
	}{
		{name: "never expires", mutate: func(a *db.Artifact) { a.ExpiresAt = time.Time{} }},
		{name: "expires", mutate: func(a *db.Artifact) { a.ExpiresAt = base.Add(90*time.Minute + 987654321) }},
		{name: "mutable pinned query path", mutate: func(a *db.Artifact) {
			a.Path, a.Kind, a.Pinned, a.Pattern = "ünï/cödé/index.json?v=2&x=%41", db.KindMutable, true, ""
		}},
		{name: "zero times and empty strings", mutate: func(a *db.Artifact) {
			*a = db.Artifact{Remote: a.Remote, Path: a.Path}
		}},
		{name: "large values", mutate: func(a *db.Artifact) { a.Size, a.Hits = 1<<50, 1<<40 }},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want := sample("crud", fmt.Sprintf("org/x/%d/x-%d.jar", i, i))
			tc.mutate(&want)
			put(t, s, want)
			got := get(t, s, want.Remote, want.Path)
			if got.ID <= 0 {
				t.Errorf("ID = %d, want > 0", got.ID)
			}
			checkEqual(t, got, want)
			del, err := s.DeleteArtifact(ctx(t), want.Remote, want.Path)
			if err != nil {
				t.Fatalf("DeleteArtifact: %v", err)
			}
			if del.ID != got.ID {
				t.Errorf("deleted ID = %d, want %d", del.ID, got.ID)
			}
			checkEqual(t, del, want)
			if _, err := s.GetArtifact(ctx(t), want.Remote, want.Path); !errors.Is(err, db.ErrNotFound) {
				t.Errorf("GetArtifact after delete: %v, want ErrNotFound", err)
			}
		})
	}
}

func testNotFound(t *testing.T, s db.Store) {
	put(t, s, sample("nf", "present.jar"))
	tests := []struct {
		name string
		call func(c context.Context) error
	}{
		{name: "get missing", call: func(c context.Context) error { _, err := s.GetArtifact(c, "nf", "missing.jar"); return err }},
		{name: "get other remote", call: func(c context.Context) error { _, err := s.GetArtifact(c, "nf2", "present.jar"); return err }},
		{name: "get case differs", call: func(c context.Context) error { _, err := s.GetArtifact(c, "nf", "PRESENT.jar"); return err }},
		{name: "delete missing", call: func(c context.Context) error { _, err := s.DeleteArtifact(c, "nf", "missing.jar"); return err }},
		{name: "set expiry missing", call: func(c context.Context) error { return s.SetExpiry(c, "nf", "missing.jar", base) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.call(ctx(t)); !errors.Is(err, db.ErrNotFound) {
				t.Errorf("err = %v, want ErrNotFound", err)
			}
		})
	}
	get(t, s, "nf", "present.jar") // untouched
}

func testUpsert(t *testing.T, s db.Store) {
	first := sample("up", "a.jar")
	first.Hits, first.Pinned = 5, true
	put(t, s, first)
	id := get(t, s, "up", "a.jar").ID

	tests := []struct {
		name       string
		hits       int64
		pinned     bool
		wantHits   int64
		wantPinned bool
	}{
		{name: "lower hits and unpinned keep both", hits: 2, pinned: false, wantHits: 5, wantPinned: true},
		{name: "higher hits win", hits: 9, pinned: false, wantHits: 9, wantPinned: true},
		{name: "pinned stays pinned", hits: 0, pinned: true, wantHits: 9, wantPinned: true},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			next := db.Artifact{
				Remote: "up", Path: "a.jar", StorageKey: fmt.Sprintf("k%d", i), Size: int64(100 + i),
				SHA256: fmt.Sprintf("sha%d", i), ContentType: "text/plain", ETag: fmt.Sprintf("e%d", i),
				LastModified: "x", Kind: db.KindMutable, Pattern: "p", UpstreamURL: "https://u/" + fmt.Sprint(i),
				CachedAt: base.Add(time.Duration(i) * time.Hour), LastAccess: base.Add(-time.Hour),
				Hits: tc.hits, Pinned: tc.pinned,
			}
			if i%2 == 1 {
				next.ExpiresAt = base.Add(48 * time.Hour)
			}
			put(t, s, next)
			got := get(t, s, "up", "a.jar")
			want := next
			want.Hits, want.Pinned = tc.wantHits, tc.wantPinned
			checkEqual(t, got, want)
			if got.ID != id {
				t.Errorf("ID changed from %d to %d", id, got.ID)
			}
		})
	}
	t.Run("unpinned becomes pinned", func(t *testing.T) {
		a := sample("up", "b.jar")
		put(t, s, a)
		a.Pinned = true
		put(t, s, a)
		if !get(t, s, "up", "b.jar").Pinned {
			t.Error("not pinned")
		}
	})
}

func testSetExpiry(t *testing.T, s db.Store) {
	a := sample("exp", "a.jar")
	a.ExpiresAt = time.Time{}
	put(t, s, a)
	tests := []struct {
		name    string
		expires time.Time
	}{
		{name: "set", expires: base.Add(time.Hour + 555)},
		{name: "move", expires: base.Add(-time.Hour)},
		{name: "clear to never", expires: time.Time{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := s.SetExpiry(ctx(t), "exp", "a.jar", tc.expires); err != nil {
				t.Fatalf("SetExpiry: %v", err)
			}
			want := a
			want.ExpiresAt = tc.expires
			checkEqual(t, get(t, s, "exp", "a.jar"), want)
		})
	}
}

// testSetBlobVersion: the version changes only while the row still names
// the storage key at the expected version (a compare-and-set).
func testSetBlobVersion(t *testing.T, s db.Store) {
	a := sample("ver", "a.jar")
	a.BlobVersion = "v1"
	put(t, s, a)
	tests := []struct {
		name          string
		key, from, to string
		changed       bool
		want          string
	}{
		{name: "other key", key: "sha256/ab/other", from: "v1", to: "v9", want: "v1"},
		{name: "other version", key: a.StorageKey, from: "v0", to: "v9", want: "v1"},
		{name: "matches", key: a.StorageKey, from: "v1", to: "v2", changed: true, want: "v2"},
		{name: "already moved", key: a.StorageKey, from: "v1", to: "v3", want: "v2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			changed, err := s.SetBlobVersion(ctx(t), "ver", "a.jar", tc.key, tc.from, tc.to)
			if err != nil {
				t.Fatalf("SetBlobVersion: %v", err)
			}
			want := a
			want.BlobVersion = tc.want
			if changed != tc.changed {
				t.Fatalf("changed %v, want %v", changed, tc.changed)
			}
			checkEqual(t, get(t, s, "ver", "a.jar"), want)
		})
	}
	if changed, err := s.SetBlobVersion(ctx(t), "ver", "missing.jar", a.StorageKey, "v2", "v3"); err != nil || changed {
		t.Fatalf("SetBlobVersion of a missing row: %v, %v", changed, err)
	}
}

func testRecordHits(t *testing.T, s db.Store) {
	a, b := sample("hits", "a.jar"), sample("hits", "b.jar")
	a.Hits, a.LastAccess = 1, base
	b.Hits, b.LastAccess = 0, base.Add(time.Hour)
	put(t, s, a)
	put(t, s, b)
	if err := s.RecordHits(ctx(t), nil); err != nil {
		t.Fatalf("RecordHits(nil): %v", err)
	}
	err := s.RecordHits(ctx(t), []db.Hit{
		{Remote: "hits", Path: "a.jar", Count: 2, Last: base.Add(10 * time.Minute)},
		{Remote: "hits", Path: "b.jar", Count: 1, Last: base}, // older than b's LastAccess
		{Remote: "hits", Path: "missing.jar", Count: 5, Last: base},
		{Remote: "hits", Path: "a.jar", Count: 3, Last: base.Add(5 * time.Minute)}, // same artifact again
	})
	if err != nil {
		t.Fatalf("RecordHits: %v", err)
	}
	tests := []struct {
		name     string
		path     string
		wantHits int64
		wantLast time.Time
	}{
		{name: "counts summed, last moves forward", path: "a.jar", wantHits: 6, wantLast: base.Add(10 * time.Minute)},
		{name: "last never moves back", path: "b.jar", wantHits: 1, wantLast: base.Add(time.Hour)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := get(t, s, "hits", tc.path)
			if got.Hits != tc.wantHits || !got.LastAccess.Truncate(Precision).Equal(tc.wantLast.Truncate(Precision)) {
				t.Errorf("hits=%d last=%v, want %d %v", got.Hits, got.LastAccess, tc.wantHits, tc.wantLast)
			}
		})
	}
	t.Run("missing rows are not created", func(t *testing.T) {
		if _, err := s.GetArtifact(ctx(t), "hits", "missing.jar"); !errors.Is(err, db.ErrNotFound) {
			t.Errorf("err = %v, want ErrNotFound", err)
		}
	})
	t.Run("put keeps recorded hits", func(t *testing.T) {
		put(t, s, a) // Hits: 1
		if got := get(t, s, "hits", "a.jar").Hits; got != 6 {
			t.Errorf("hits = %d, want 6", got)
		}
	})
}

func testTotals(t *testing.T, s db.Store) {
	for i, size := range []int64{10, 20, 30} {
		a := sample("tot", fmt.Sprintf("dir%d/f%d.bin", i%2, i))
		a.Size = size
		put(t, s, a)
	}
	put(t, s, sample("tot-other", "dir0/x.bin"))
	tests := []struct {
		name   string
		remote string
		q      string
		want   db.Totals
	}{
		{name: "all", remote: "tot", want: db.Totals{Count: 3, Bytes: 60}},
		{name: "filtered", remote: "tot", q: "DIR0/", want: db.Totals{Count: 2, Bytes: 40}},
		{name: "no match", remote: "tot", q: "nope", want: db.Totals{}},
		{name: "empty remote", remote: "none", want: db.Totals{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.Totals(ctx(t), tc.remote, tc.q)
			if err != nil {
				t.Fatalf("Totals: %v", err)
			}
			if got != tc.want {
				t.Errorf("Totals = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func testConcurrency(t *testing.T, s db.Store) {
	const workers, rounds = 20, 25
	put(t, s, sample("conc", "hot.jar"))
	c := ctx(t)
	start := make(chan struct{})
	errs := make(chan error, workers*rounds*5)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for i := range rounds {
				a := sample("conc", fmt.Sprintf("w%02d/%03d.jar", w, i))
				a.Size = int64(w*rounds + i)
				if err := s.PutArtifact(c, a); err != nil {
					errs <- err
				}
				if _, err := s.GetArtifact(c, a.Remote, a.Path); err != nil {
					errs <- err
				}
				if err := s.RecordHits(c, []db.Hit{{Remote: "conc", Path: "hot.jar", Count: 1, Last: base}, {Remote: "conc", Path: a.Path, Count: 1, Last: base}}); err != nil {
					errs <- err
				}
				if _, err := s.ListArtifacts(c, db.ListQuery{Remote: "conc", Sort: db.SortSize, Desc: true, Limit: 10}); err != nil {
					errs <- err
				}
				if _, err := s.Totals(c, "conc", "w"); err != nil {
					errs <- err
				}
			}
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := get(t, s, "conc", "hot.jar").Hits; got != 3+workers*rounds {
		t.Errorf("hot hits = %d, want %d", got, 3+workers*rounds)
	}
	if tot, err := s.Totals(c, "conc", "w"); err != nil || tot.Count != workers*rounds {
		t.Errorf("Totals = %+v, %v; want %d entries", tot, err, workers*rounds)
	}
}
