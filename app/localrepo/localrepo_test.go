package localrepo_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"artifactapi/app/blob"
	"artifactapi/app/localrepo"
	"artifactapi/app/oci"
	"artifactapi/db"
)

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

type env struct {
	s     *localrepo.Store
	blobs blob.Store
	clk   *clock
}

// newEnv builds a store on SQLite and the filesystem (the engine's embedded
// backends; the PostgreSQL and S3 paths run in the conformance suite).
func newEnv(t *testing.T) env {
	t.Helper()
	meta, err := db.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { meta.Close() })
	bs, err := blob.NewFS(filepath.Join(t.TempDir(), "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	s := localrepo.New(localrepo.Options{Meta: meta.Registry(), Blobs: bs, Now: clk.Now, GCGrace: time.Hour, UploadTimeout: 10 * time.Minute})
	return env{s: s, blobs: bs, clk: clk}
}

// objects counts the objects under the package's key prefix.
func (e env) objects(t *testing.T, prefix string) int {
	t.Helper()
	n := 0
	if err := e.blobs.List(context.Background(), "_registry/"+prefix, func(blob.Info) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}

var repo = localrepo.Repo{Remote: "loc", Name: "team/app"}

func push(t *testing.T, e env, r localrepo.Repo, data string) oci.Digest {
	t.Helper()
	d := oci.FromBytes("sha256", []byte(data))
	if _, err := e.s.PutBlob(context.Background(), r, d, strings.NewReader(data), int64(len(data))); err != nil {
		t.Fatalf("PutBlob: %v", err)
	}
	return d
}

func manifestOf(cfg oci.Digest, cfgSize int, layers ...oci.Digest) []byte {
	var b bytes.Buffer
	b.WriteString(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"` +
		cfg.String() + `","size":` + strconv.Itoa(cfgSize) + `},"layers":[`)
	for i, l := range layers {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(`{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"` + l.String() + `","size":1}`)
	}
	b.WriteString("]}")
	return b.Bytes()
}

func TestChunkedUpload(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	data := "hello, chunked world"
	d := oci.FromBytes("sha512", []byte(data))
	u, err := e.s.StartUpload(ctx, repo)
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name    string
		start   int64
		chunk   string
		want    int64
		wantErr error
	}{
		{name: "first", start: 0, chunk: data[:5], want: 5},
		{name: "out of order", start: 10, chunk: data[10:], want: 5, wantErr: localrepo.ErrRangeInvalid},
		{name: "replayed", start: 0, chunk: data[:5], want: 5, wantErr: localrepo.ErrRangeInvalid},
		{name: "no range: appended", start: -1, chunk: data[5:12], want: 12},
	}
	for _, st := range steps {
		n, err := e.s.AppendUpload(ctx, repo, u.ID, st.start, strings.NewReader(st.chunk), int64(len(st.chunk)))
		if !errors.Is(err, st.wantErr) || (st.wantErr == nil && err != nil) || n != st.want {
			t.Errorf("%s: size %d, err %v; want %d, %v", st.name, n, err, st.want, st.wantErr)
		}
	}
	if _, err := e.s.Upload(ctx, localrepo.Repo{Remote: "loc", Name: "other"}, u.ID); !errors.Is(err, localrepo.ErrUploadUnknown) {
		t.Errorf("the session is visible from another repository: %v", err)
	}
	b, err := e.s.FinishUpload(ctx, repo, u.ID, d, 12, strings.NewReader(data[12:]), int64(len(data)-12))
	if err != nil {
		t.Fatalf("FinishUpload: %v", err)
	}
	rc, err := e.s.OpenBlob(ctx, b, 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if string(got) != data || b.Digest != d.String() {
		t.Errorf("stored %q as %s", got, b.Digest)
	}
	if n := e.objects(t, "uploads/"); n != 0 {
		t.Errorf("%d chunk objects left after the commit", n)
	}
}

func TestDigestMismatchStoresNothing(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	wrong := oci.FromBytes("sha256", []byte("something else"))
	_, err := e.s.PutBlob(ctx, repo, wrong, strings.NewReader("payload"), 7)
	if !errors.Is(err, localrepo.ErrDigestInvalid) {
		t.Fatalf("PutBlob with a wrong digest: %v", err)
	}
	if _, err := e.s.Blob(ctx, repo, wrong); !errors.Is(err, localrepo.ErrBlobUnknown) {
		t.Errorf("a blob was recorded: %v", err)
	}
	if n := e.objects(t, "blobs/"); n != 0 {
		t.Errorf("%d objects published", n)
	}
}

func TestDedupe(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	a := push(t, e, repo, "same bytes")
	other := localrepo.Repo{Remote: "loc", Name: "other"}
	push(t, e, other, "same bytes")
	if n := e.objects(t, "blobs/"); n != 1 {
		t.Errorf("%d objects for one digest pushed to two repositories", n)
	}
	if _, err := e.s.Blob(ctx, other, a); err != nil {
		t.Errorf("second repository: %v", err)
	}
}

func TestGarbageCollection(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	cfg := push(t, e, repo, "{}")
	layer := push(t, e, repo, "layer")
	orphan := push(t, e, repo, "orphan")
	m := manifestOf(cfg, 2, layer)
	p, err := e.s.PutManifest(ctx, repo, oci.Reference{Tag: "v1"}, nil, "application/vnd.oci.image.manifest.v1+json", m)
	if err != nil {
		t.Fatal(err)
	}
	// Within the grace period nothing goes, not even the orphan (a push may
	// be about to reference it).
	if rep, err := e.s.CollectGarbage(ctx); err != nil || rep.Blobs != 0 {
		t.Fatalf("collection inside the grace period: %+v, %v", rep, err)
	}
	e.clk.Add(2 * time.Hour)
	rep, err := e.s.CollectGarbage(ctx)
	if err != nil || rep.Blobs != 1 || rep.Bytes != int64(len("orphan")) {
		t.Fatalf("collection: %+v, %v; want the orphan only", rep, err)
	}
	if _, err := e.s.Blob(ctx, repo, orphan); !errors.Is(err, localrepo.ErrBlobUnknown) {
		t.Errorf("orphan still there: %v", err)
	}
	if err := e.s.DeleteManifest(ctx, repo, oci.Reference{Digest: p.Digest}); err != nil {
		t.Fatal(err)
	}
	e.clk.Add(2 * time.Hour)
	if rep, err := e.s.CollectGarbage(ctx); err != nil || rep.Blobs != 2 {
		t.Fatalf("after the manifest is deleted: %+v, %v; want config and layer", rep, err)
	}
	if n := e.objects(t, "blobs/"); n != 0 {
		t.Errorf("%d objects left", n)
	}
}

// TestGCSparesTouchedBlobs: a manifest push touches the blobs it relies
// on, so a collection running just after finds them inside the grace period.
func TestGCSparesTouchedBlobs(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	cfg := push(t, e, repo, "{}")
	e.clk.Add(2 * time.Hour) // older than the grace period, unreferenced
	if _, err := e.s.Mount(ctx, localrepo.Repo{Remote: "loc", Name: "b"}, cfg, &repo); err != nil {
		t.Fatal(err) // a mount touches it
	}
	if rep, err := e.s.CollectGarbage(ctx); err != nil || rep.Blobs != 0 {
		t.Fatalf("a just-mounted blob was collected: %+v, %v", rep, err)
	}
}

func TestAbandonedUploadsExpire(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	u, err := e.s.StartUpload(ctx, repo)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.AppendUpload(ctx, repo, u.ID, 0, strings.NewReader("part"), 4); err != nil {
		t.Fatal(err)
	}
	if n, err := e.s.ExpireUploads(ctx); err != nil || n != 0 {
		t.Fatalf("a fresh upload expired: %d, %v", n, err)
	}
	e.clk.Add(11 * time.Minute)
	if n, err := e.s.ExpireUploads(ctx); err != nil || n != 1 {
		t.Fatalf("expired %d, %v; want 1", n, err)
	}
	if n := e.objects(t, "uploads/"); n != 0 {
		t.Errorf("%d chunk objects left", n)
	}
	if _, err := e.s.Upload(ctx, repo, u.ID); !errors.Is(err, localrepo.ErrUploadUnknown) {
		t.Errorf("session still there: %v", err)
	}
}

func TestQuota(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	small := localrepo.Repo{Remote: "loc", Name: "q", MaxSize: 10}
	tests := []struct {
		name string
		data string
		size int64
		want error
	}{
		{name: "fits", data: "12345", size: 5},
		{name: "declared too large", data: "123456", size: 6, want: localrepo.ErrQuota},
		{name: "streamed too large", data: "abcdefgh", size: -1, want: localrepo.ErrQuota},
		{name: "fills it exactly", data: "abcde", size: 5},
	}
	for _, tc := range tests {
		d := oci.FromBytes("sha256", []byte(tc.data))
		_, err := e.s.PutBlob(ctx, small, d, strings.NewReader(tc.data), tc.size)
		if !errors.Is(err, tc.want) || (tc.want == nil && err != nil) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
		if tc.want != nil && !strings.Contains(err.Error(), "cache.max_size") {
			t.Errorf("%s: the refusal does not say which setting: %v", tc.name, err)
		}
	}
}

// TestOnePartUploadIsNotCopied: a blob pushed as one streamed PATCH (what
// docker, podman and skopeo send) becomes its blob as stored, verified by
// the digest computed while it arrived: one object, written once.
func TestOnePartUploadIsNotCopied(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	data := strings.Repeat("layer bytes ", 5000)
	d := oci.FromBytes("sha256", []byte(data))
	u, err := e.s.StartUpload(ctx, repo)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.AppendUpload(ctx, repo, u.ID, 0, strings.NewReader(data), int64(len(data))); err != nil {
		t.Fatal(err)
	}
	b, err := e.s.FinishUpload(ctx, repo, u.ID, d, -1, nil, 0)
	if err != nil {
		t.Fatalf("FinishUpload: %v", err)
	}
	if n := e.objects(t, ""); n != 1 {
		t.Fatalf("%d objects after a one-part upload, want 1 (no copy)", n)
	}
	rc, err := e.s.OpenBlob(ctx, b, 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if string(got) != data || b.Digest != d.String() || b.Size != int64(len(data)) {
		t.Fatalf("stored %d bytes as %s", len(got), b.Digest)
	}
	// A one-part upload of other bytes than its digest stores nothing.
	u2, _ := e.s.StartUpload(ctx, repo)
	if _, err := e.s.AppendUpload(ctx, repo, u2.ID, 0, strings.NewReader("not it"), 6); err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.FinishUpload(ctx, repo, u2.ID, oci.FromBytes("sha256", []byte("other")), -1, nil, 0); !errors.Is(err, localrepo.ErrDigestInvalid) {
		t.Fatalf("mismatching one-part upload: %v, want ErrDigestInvalid", err)
	}
	if n := e.objects(t, ""); n != 1 {
		t.Fatalf("%d objects after a refused upload, want 1", n)
	}
	// The same bytes again: the blob is kept once, the new part dropped.
	u3, _ := e.s.StartUpload(ctx, repo)
	if _, err := e.s.AppendUpload(ctx, repo, u3.ID, 0, strings.NewReader(data), int64(len(data))); err != nil {
		t.Fatal(err)
	}
	if b3, err := e.s.FinishUpload(ctx, repo, u3.ID, d, -1, nil, 0); err != nil || b3.StorageKey != b.StorageKey {
		t.Fatalf("second upload of the same blob: %v, key %q want %q", err, b3.StorageKey, b.StorageKey)
	}
	if n := e.objects(t, ""); n != 1 {
		t.Fatalf("%d objects after a duplicate upload, want 1", n)
	}
}
