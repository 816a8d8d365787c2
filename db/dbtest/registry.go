package dbtest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"artifactapi/db"
)

// RunRegistry runs the db.RegistryStore contract suite. open must return a
// fresh, empty, migrated store.
func RunRegistry(t *testing.T, open func(t *testing.T) db.RegistryStore) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s db.RegistryStore)
	}{
		{name: "blob_put_dedupe", fn: testRegBlobPut},
		{name: "blob_link_get_unlink", fn: testRegBlobLink},
		{name: "blob_touch", fn: testRegBlobTouch},
		{name: "manifest_tags", fn: testRegManifestTags},
		{name: "manifest_delete", fn: testRegManifestDelete},
		{name: "referrers", fn: testRegReferrers},
		{name: "usage", fn: testRegUsage},
		{name: "upload_append", fn: testRegUpload},
		{name: "upload_concurrent_append", fn: testRegUploadRace},
		{name: "upload_stale", fn: testRegUploadStale},
		{name: "gc", fn: testRegGC},
		{name: "browse_repositories", fn: testRegBrowseRepos},
		{name: "browse_tags", fn: testRegBrowseTags},
		{name: "browse_blobs_size", fn: testRegBlobsSize},
		{name: "browse_manifests", fn: testRegListManifests},
		{name: "manifest_pulls", fn: testRegManifestPulls},
		{name: "gc_log", fn: testRegGCLog},
		{name: "search_tags", fn: testRegSearch},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open(t)) })
	}
}

func dig(n int) string { return fmt.Sprintf("sha256:%064x", n) }

func regBlob(t *testing.T, s db.RegistryStore, d string, size int64, at time.Time) db.RegistryBlob {
	t.Helper()
	b, ins, err := s.PutRegistryBlob(ctx(t), db.RegistryBlob{Digest: d, Size: size, StorageKey: "k/" + d + "/" + at.String(), CreatedAt: at, LastUsed: at})
	if err != nil || !ins {
		t.Fatalf("PutRegistryBlob(%s) = %v, inserted %v", d, err, ins)
	}
	return b
}

func link(t *testing.T, s db.RegistryStore, remote, name, d string, at time.Time) {
	t.Helper()
	if _, err := s.LinkRegistryBlob(ctx(t), remote, name, d, at); err != nil {
		t.Fatalf("LinkRegistryBlob(%s/%s, %s): %v", remote, name, d, err)
	}
}

func testRegBlobPut(t *testing.T, s db.RegistryStore) {
	first := regBlob(t, s, dig(1), 10, base)
	if first.Digest != dig(1) || first.Size != 10 || !first.CreatedAt.Equal(base) {
		t.Errorf("row = %+v", first)
	}
	kept, ins, err := s.PutRegistryBlob(ctx(t), db.RegistryBlob{Digest: dig(1), Size: 10, StorageKey: "other", CreatedAt: base.Add(time.Hour), LastUsed: base.Add(time.Hour)})
	if err != nil || ins {
		t.Fatalf("second put: inserted %v, err %v; want the existing row kept", ins, err)
	}
	if kept.StorageKey != first.StorageKey || !kept.LastUsed.Equal(base.Add(time.Hour)) {
		t.Errorf("kept = %+v, want key %s and last_used moved", kept, first.StorageKey)
	}
}

func testRegBlobLink(t *testing.T, s db.RegistryStore) {
	if _, err := s.LinkRegistryBlob(ctx(t), "r", "a/b", dig(9), base); !errors.Is(err, db.ErrNotFound) {
		t.Errorf("link of an unknown blob: %v, want ErrNotFound", err)
	}
	regBlob(t, s, dig(1), 5, base)
	if _, err := s.GetRegistryBlob(ctx(t), "r", "a/b", dig(1)); !errors.Is(err, db.ErrNotFound) {
		t.Errorf("get before link: %v, want ErrNotFound", err)
	}
	link(t, s, "r", "a/b", dig(1), base)
	link(t, s, "r", "a/b", dig(1), base) // idempotent
	if b, err := s.GetRegistryBlob(ctx(t), "r", "a/b", dig(1)); err != nil || b.Size != 5 {
		t.Errorf("get after link = %+v, %v", b, err)
	}
	if _, err := s.GetRegistryBlob(ctx(t), "r", "other", dig(1)); !errors.Is(err, db.ErrNotFound) {
		t.Errorf("get from another repository: %v, want ErrNotFound", err)
	}
	if err := s.UnlinkRegistryBlob(ctx(t), "r", "a/b", dig(1)); err != nil {
		t.Fatal(err)
	}
	if err := s.UnlinkRegistryBlob(ctx(t), "r", "a/b", dig(1)); !errors.Is(err, db.ErrNotFound) {
		t.Errorf("second unlink: %v, want ErrNotFound", err)
	}
}

func testRegBlobTouch(t *testing.T, s db.RegistryStore) {
	regBlob(t, s, dig(1), 1, base)
	regBlob(t, s, dig(2), 1, base)
	link(t, s, "r", "n", dig(1), base)
	got, err := s.TouchRegistryBlobs(ctx(t), "r", "n", []string{dig(1), dig(2), dig(3)}, base.Add(time.Hour))
	if err != nil || !slices.Equal(got, []string{dig(1)}) {
		t.Fatalf("touch = %v, %v; want only the linked blob", got, err)
	}
	// A touched blob is inside the grace period of a collection at base+30m.
	gone, err := s.DeleteUnreferencedRegistryBlobs(ctx(t), base.Add(30*time.Minute), 100)
	if err != nil || len(gone) != 1 || gone[0].Digest != dig(2) {
		t.Errorf("collected %+v, %v; want only %s", gone, err, dig(2))
	}
}

func manifest(remote, name string, n int, subject string, blobs ...string) db.RegistryManifest {
	return db.RegistryManifest{Remote: remote, Name: name, Digest: dig(100 + n), MediaType: "application/vnd.oci.image.manifest.v1+json",
		Body: []byte(fmt.Sprintf(`{"n":%d}`, n)), Subject: subject, ArtifactType: "t", Blobs: blobs, CreatedAt: base.Add(time.Duration(n) * time.Second)}
}

func testRegManifestTags(t *testing.T, s db.RegistryStore) {
	m := manifest("r", "n", 1, "")
	if err := s.PutRegistryManifest(ctx(t), m, []string{"b", "a", "c"}); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetRegistryManifest(ctx(t), "r", "n", m.Digest)
	if err != nil || string(got.Body) != string(m.Body) || got.MediaType != m.MediaType || got.ArtifactType != "t" {
		t.Fatalf("get = %+v, %v", got, err)
	}
	if _, err := s.GetRegistryManifest(ctx(t), "r", "other", m.Digest); !errors.Is(err, db.ErrNotFound) {
		t.Errorf("other repository: %v, want ErrNotFound", err)
	}
	m2 := manifest("r", "n", 2, "")
	if err := s.PutRegistryManifest(ctx(t), m2, []string{"c"}); err != nil { // moves c
		t.Fatal(err)
	}
	if d, err := s.ResolveRegistryTag(ctx(t), "r", "n", "c"); err != nil || d != m2.Digest {
		t.Errorf("tag c = %s, %v; want %s", d, err, m2.Digest)
	}
	if _, err := s.ResolveRegistryTag(ctx(t), "r", "n", "zz"); !errors.Is(err, db.ErrNotFound) {
		t.Errorf("unknown tag: %v", err)
	}
	tests := []struct {
		name  string
		last  string
		limit int
		want  []string
	}{
		{name: "all", want: []string{"a", "b", "c"}},
		{name: "first page", limit: 2, want: []string{"a", "b"}},
		{name: "after a", last: "a", want: []string{"b", "c"}},
		{name: "after c", last: "c", want: nil},
	}
	for _, tc := range tests {
		got, err := s.ListRegistryTags(ctx(t), "r", "n", tc.last, tc.limit)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("%s: tags = %v, %v; want %v", tc.name, got, err, tc.want)
		}
	}
	if err := s.DeleteRegistryTag(ctx(t), "r", "n", "a"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteRegistryTag(ctx(t), "r", "n", "a"); !errors.Is(err, db.ErrNotFound) {
		t.Errorf("second tag delete: %v", err)
	}
	if _, err := s.GetRegistryManifest(ctx(t), "r", "n", m.Digest); err != nil {
		t.Errorf("the manifest must survive its tag: %v", err)
	}
}

func testRegManifestDelete(t *testing.T, s db.RegistryStore) {
	regBlob(t, s, dig(1), 1, base)
	m := manifest("r", "n", 1, "", dig(1))
	if err := s.PutRegistryManifest(ctx(t), m, []string{"latest"}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutRegistryManifest(ctx(t), m, nil); err != nil { // idempotent
		t.Fatal(err)
	}
	if gone, err := s.DeleteUnreferencedRegistryBlobs(ctx(t), base.Add(time.Hour), 10); err != nil || len(gone) != 0 {
		t.Fatalf("a referenced blob was collected: %+v, %v", gone, err)
	}
	if err := s.DeleteRegistryManifest(ctx(t), "r", "n", m.Digest); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteRegistryManifest(ctx(t), "r", "n", m.Digest); !errors.Is(err, db.ErrNotFound) {
		t.Errorf("second delete: %v", err)
	}
	if _, err := s.ResolveRegistryTag(ctx(t), "r", "n", "latest"); !errors.Is(err, db.ErrNotFound) {
		t.Errorf("the tag must go with its manifest: %v", err)
	}
	if gone, err := s.DeleteUnreferencedRegistryBlobs(ctx(t), base.Add(time.Hour), 10); err != nil || len(gone) != 1 {
		t.Errorf("after the manifest is deleted the blob is garbage: %+v, %v", gone, err)
	}
}

func testRegReferrers(t *testing.T, s db.RegistryStore) {
	subj := dig(7)
	for i, m := range []db.RegistryManifest{manifest("r", "n", 1, subj), manifest("r", "n", 2, ""), manifest("r", "n", 3, subj), manifest("r", "o", 4, subj)} {
		if err := s.PutRegistryManifest(ctx(t), m, nil); err != nil {
			t.Fatalf("%d: %v", i, err)
		}
	}
	got, err := s.ListRegistryReferrers(ctx(t), "r", "n", subj)
	if err != nil || len(got) != 2 || got[0].Digest != dig(101) || got[1].Digest != dig(103) {
		t.Errorf("referrers = %+v, %v", got, err)
	}
	if got, err := s.ListRegistryReferrers(ctx(t), "r", "n", dig(8)); err != nil || len(got) != 0 {
		t.Errorf("referrers of another subject = %+v, %v", got, err)
	}
}

func testRegUsage(t *testing.T, s db.RegistryStore) {
	regBlob(t, s, dig(1), 100, base)
	regBlob(t, s, dig(2), 1000, base)
	link(t, s, "r", "a", dig(1), base)
	link(t, s, "r", "b", dig(1), base) // the same blob twice: counted once
	link(t, s, "other", "a", dig(2), base)
	m := manifest("r", "a", 1, "")
	if err := s.PutRegistryManifest(ctx(t), m, nil); err != nil {
		t.Fatal(err)
	}
	if n, err := s.RegistryUsage(ctx(t), "r"); err != nil || n != 100+int64(len(m.Body)) {
		t.Errorf("usage = %d, %v; want %d", n, err, 100+len(m.Body))
	}
	if n, err := s.RegistryUsage(ctx(t), "none"); err != nil || n != 0 {
		t.Errorf("usage of an empty remote = %d, %v", n, err)
	}
}

func testRegUpload(t *testing.T, s db.RegistryStore) {
	if err := s.CreateRegistryUpload(ctx(t), db.RegistryUpload{ID: "u1", Remote: "r", Name: "n", CreatedAt: base}); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name   string
		offset int64
		size   int64
		want   error
	}{
		{name: "first", offset: 0, size: 10},
		{name: "out of order", offset: 20, size: 5, want: db.ErrConflict},
		{name: "replayed", offset: 0, size: 10, want: db.ErrConflict},
		{name: "second", offset: 10, size: 7},
	}
	for i, st := range steps {
		err := s.AppendRegistryUpload(ctx(t), "u1", st.offset, db.UploadPart{StorageKey: fmt.Sprintf("p%d", i), Size: st.size}, base.Add(time.Minute))
		if !errors.Is(err, st.want) || (st.want == nil && err != nil) {
			t.Errorf("%s: %v, want %v", st.name, err, st.want)
		}
	}
	u, err := s.GetRegistryUpload(ctx(t), "u1")
	if err != nil || u.Size != 17 || len(u.Parts) != 2 || u.Parts[0].StorageKey != "p0" || u.Parts[1].StorageKey != "p3" || u.Parts[1].Seq != 1 {
		t.Fatalf("upload = %+v, %v", u, err)
	}
	if err := s.AppendRegistryUpload(ctx(t), "nope", 0, db.UploadPart{StorageKey: "x", Size: 1}, base); !errors.Is(err, db.ErrNotFound) {
		t.Errorf("append to an unknown upload: %v", err)
	}
	del, err := s.DeleteRegistryUpload(ctx(t), "u1")
	if err != nil || len(del.Parts) != 2 {
		t.Fatalf("delete = %+v, %v", del, err)
	}
	if _, err := s.GetRegistryUpload(ctx(t), "u1"); !errors.Is(err, db.ErrNotFound) {
		t.Errorf("get after delete: %v", err)
	}
	if _, err := s.DeleteRegistryUpload(ctx(t), "u1"); !errors.Is(err, db.ErrNotFound) {
		t.Errorf("second delete: %v", err)
	}
}

// testRegUploadRace appends concurrently at one offset: exactly one wins.
func testRegUploadRace(t *testing.T, s db.RegistryStore) {
	if err := s.CreateRegistryUpload(ctx(t), db.RegistryUpload{ID: "u", Remote: "r", Name: "n", CreatedAt: base}); err != nil {
		t.Fatal(err)
	}
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			errs[i] = s.AppendRegistryUpload(ctx(t), "u", 0, db.UploadPart{StorageKey: fmt.Sprint(i), Size: 3}, base)
		})
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, db.ErrConflict):
			t.Errorf("append: %v", err)
		}
	}
	if u, err := s.GetRegistryUpload(ctx(t), "u"); won != 1 || err != nil || u.Size != 3 || len(u.Parts) != 1 {
		t.Errorf("%d appends won, upload %+v, %v", won, u, err)
	}
}

func testRegUploadStale(t *testing.T, s db.RegistryStore) {
	for i, at := range []time.Time{base, base.Add(time.Hour)} {
		if err := s.CreateRegistryUpload(ctx(t), db.RegistryUpload{ID: fmt.Sprint("u", i), Remote: "r", Name: "n", CreatedAt: at}); err != nil {
			t.Fatal(err)
		}
	}
	// An append moves UpdatedAt: u0 is no longer stale at base+30m.
	if err := s.AppendRegistryUpload(ctx(t), "u0", 0, db.UploadPart{StorageKey: "p", Size: 1}, base.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	got, err := s.StaleRegistryUploads(ctx(t), base.Add(90*time.Minute), 10)
	if err != nil || len(got) != 1 || got[0].ID != "u1" {
		t.Errorf("stale = %+v, %v; want u1", got, err)
	}
}

func testRegGC(t *testing.T, s db.RegistryStore) {
	regBlob(t, s, dig(1), 1, base)                   // referenced
	regBlob(t, s, dig(2), 1, base)                   // old, unreferenced: garbage
	regBlob(t, s, dig(3), 1, base.Add(2*time.Hour))  // unreferenced but recent
	regBlob(t, s, dig(4), 1, base.Add(-time.Minute)) // garbage, linked
	link(t, s, "r", "n", dig(4), base.Add(-time.Minute))
	if err := s.PutRegistryManifest(ctx(t), manifest("r", "n", 1, "", dig(1)), nil); err != nil {
		t.Fatal(err)
	}
	var all []string
	for {
		gone, err := s.DeleteUnreferencedRegistryBlobs(ctx(t), base.Add(time.Hour), 1)
		if err != nil {
			t.Fatal(err)
		}
		if len(gone) == 0 {
			break
		}
		for _, b := range gone {
			all = append(all, b.Digest)
		}
	}
	slices.Sort(all)
	if !slices.Equal(all, []string{dig(2), dig(4)}) {
		t.Errorf("collected %v, want %s and %s", all, dig(2), dig(4))
	}
	if _, err := s.GetRegistryBlob(ctx(t), "r", "n", dig(4)); !errors.Is(err, db.ErrNotFound) {
		t.Errorf("the link of a collected blob must go: %v", err)
	}
}
