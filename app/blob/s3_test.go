package blob_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/lifecycle"

	"artifactapi/app/blob"
	"artifactapi/app/blob/blobtest"
	"artifactapi/app/testenv"
)

// s3Env is a MinIO server, a fresh bucket name and an admin client for checks.
type s3Env struct {
	p      testenv.MinIOParams
	client *minio.Client
}

// newS3Env returns a MinIO server ready for requests and removes the bucket at cleanup.
func newS3Env(t *testing.T) s3Env {
	t.Helper()
	p := testenv.MinIO(t)
	c, err := minio.New(p.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(p.AccessKey, p.SecretKey, "")})
	if err != nil {
		t.Fatal(err)
	}
	// testenv waits for /minio/health/live, which answers before MinIO has
	// initialized; wait until it serves S3 requests.
	testenv.Eventually(t, 30*time.Second, "MinIO to serve requests", func() bool {
		_, err := c.BucketExists(t.Context(), p.Bucket)
		return err == nil
	})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = c.RemoveBucketWithOptions(ctx, p.Bucket, minio.RemoveBucketOptions{ForceDelete: true})
	})
	return s3Env{p: p, client: c}
}

// config is the store configuration for the environment's bucket.
func (e s3Env) config() blob.S3Config {
	return blob.S3Config{Endpoint: e.p.Endpoint, AccessKey: e.p.AccessKey, SecretKey: e.p.SecretKey, Bucket: e.p.Bucket}
}

// newS3 returns a store for cfg or fails the test.
func newS3(t *testing.T, cfg blob.S3Config) *blob.S3 {
	t.Helper()
	s, err := blob.NewS3(t.Context(), cfg)
	if err != nil {
		t.Fatalf("NewS3: %v", err)
	}
	return s
}

// TestS3Conformance runs the blob.Store suite on MinIO, one bucket per test.
func TestS3Conformance(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) blob.Store { return newS3(t, newS3Env(t).config()) })
}

// TestS3Describe checks Describe and that an http:// endpoint is accepted.
func TestS3Describe(t *testing.T) {
	e := newS3Env(t)
	cfg := e.config()
	cfg.Endpoint = "http://" + cfg.Endpoint // a scheme is accepted
	s := newS3(t, cfg)
	if got, want := s.Describe(), "s3 "+e.p.Endpoint+"/"+e.p.Bucket; got != want {
		t.Fatalf("Describe() = %q, want %q", got, want)
	}
	if err := s.Ping(t.Context()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
}

// TestS3ConcurrentStartup starts several stores on one new bucket at once.
func TestS3ConcurrentStartup(t *testing.T) {
	e := newS3Env(t)
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() { _, errs[i] = blob.NewS3(t.Context(), e.config()) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("replicas starting together: %v", err)
	}
	if ok, err := e.client.BucketExists(t.Context(), e.p.Bucket); !ok || err != nil {
		t.Fatalf("bucket not created: %v", err)
	}
}

// MinIO refuses AbortIncompleteMultipartUpload rules; NewS3 must neither fail
// nor disturb the rules an operator set (the rule itself is checked against a
// fake AWS in s3_lifecycle_test.go).
func TestS3LifecycleKeepsExistingRules(t *testing.T) {
	e := newS3Env(t)
	if err := e.client.MakeBucket(t.Context(), e.p.Bucket, minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	own := lifecycle.NewConfiguration()
	own.Rules = []lifecycle.Rule{{
		ID:         "operator-rule",
		Status:     "Enabled",
		RuleFilter: lifecycle.Filter{Prefix: "scratch/"},
		Expiration: lifecycle.Expiration{Days: 30},
	}}
	if err := e.client.SetBucketLifecycle(t.Context(), e.p.Bucket, own); err != nil {
		t.Fatal(err)
	}
	newS3(t, e.config())
	cfg, err := e.client.GetBucketLifecycle(t.Context(), e.p.Bucket)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Rules) == 0 || cfg.Rules[0].ID != "operator-rule" {
		t.Fatalf("rules after NewS3: %+v", cfg.Rules)
	}
}

// TestS3FailedUploadIsAborted checks that failed multipart uploads are aborted.
func TestS3FailedUploadIsAborted(t *testing.T) {
	e := newS3Env(t)
	s := newS3(t, e.config())
	for _, size := range []int64{-1, 40 << 20} {
		r := io.MultiReader(io.LimitReader(zeros{}, 20<<20), failing{})
		if _, err := s.Put(t.Context(), "big/obj", r, size); err == nil {
			t.Fatalf("Put(size %d) with a failing reader succeeded", size)
		}
	}
	for u := range e.client.ListIncompleteUploads(t.Context(), e.p.Bucket, "", true) {
		if u.Err != nil {
			t.Fatal(u.Err)
		}
		t.Fatalf("incomplete upload left behind: %s (%s)", u.Key, u.UploadID)
	}
	if _, err := s.Stat(t.Context(), "big/obj"); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("Stat after failed uploads = %v, want ErrNotFound", err)
	}
}

// zeros is an endless stream of zero bytes.
type zeros struct{}

// Read implements io.Reader.
func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// failing is a reader that always fails.
type failing struct{}

// Read implements io.Reader.
func (failing) Read([]byte) (int, error) { return 0, errors.New("upstream broke") }

// TestS3MissingBucketIsNotErrNotFound checks that a missing bucket is a real error.
func TestS3MissingBucketIsNotErrNotFound(t *testing.T) {
	e := newS3Env(t)
	s := newS3(t, e.config())
	if err := e.client.RemoveBucketWithOptions(t.Context(), e.p.Bucket, minio.RemoveBucketOptions{ForceDelete: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Open(t.Context(), "k/x", 0, -1); err == nil || errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("Open in a removed bucket = %v, want a non-ErrNotFound error", err)
	}
	if err := s.Ping(t.Context()); err == nil {
		t.Fatal("Ping succeeded for a removed bucket")
	}
}

// TestS3SecretNeverInErrors checks every error path for the secret key.
func TestS3SecretNeverInErrors(t *testing.T) {
	const secret = "sup3r-s3cret-Value-9f2c"
	e := newS3Env(t)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	check := func(what string, err error) {
		t.Helper()
		if err == nil {
			t.Fatalf("%s: no error", what)
		}
		if strings.Contains(err.Error(), secret) {
			t.Fatalf("%s: secret in error %q", what, err)
		}
	}
	for _, tc := range []struct {
		name string
		cfg  blob.S3Config
	}{
		{"wrong secret", blob.S3Config{Endpoint: e.p.Endpoint, AccessKey: e.p.AccessKey, SecretKey: secret, Bucket: e.p.Bucket}},
		{"unknown access key", blob.S3Config{Endpoint: e.p.Endpoint, AccessKey: "nobody", SecretKey: secret, Bucket: e.p.Bucket}},
		{"closed port", blob.S3Config{Endpoint: closedAddr(t), AccessKey: "a", SecretKey: secret, Bucket: e.p.Bucket}},
		{"bad endpoint", blob.S3Config{Endpoint: "http://bad host/" + secret, AccessKey: "a", SecretKey: secret, Bucket: e.p.Bucket}},
		{"bad bucket name", blob.S3Config{Endpoint: e.p.Endpoint, AccessKey: "a", SecretKey: secret, Bucket: "Bad_" + secret}},
		{"small part size", blob.S3Config{Endpoint: e.p.Endpoint, AccessKey: "a", SecretKey: secret, Bucket: e.p.Bucket, PartSize: 1 << 20}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := blob.NewS3(ctx, tc.cfg)
			check("NewS3", err)
		})
	}

	// A working store whose credentials stop working: every operation fails.
	s := newS3(t, e.config())
	if strings.Contains(s.Describe(), e.p.SecretKey) {
		t.Fatalf("Describe() = %q contains the secret", s.Describe())
	}
	bad := e.config()
	bad.SecretKey = secret
	broken := blob.NewS3Unchecked(bad)
	if strings.Contains(broken.Describe(), secret) {
		t.Fatalf("Describe() = %q contains the secret", broken.Describe())
	}
	_, err := broken.Put(ctx, "k/x", strings.NewReader("data"), 4)
	check("Put", err)
	_, err = broken.Put(ctx, "k/x", strings.NewReader("data"), -1)
	check("Put unknown size", err)
	_, err = broken.Open(ctx, "k/x", 0, -1)
	check("Open", err)
	_, err = broken.Open(ctx, "k/x", 2, 0)
	check("Open empty range", err)
	_, err = broken.Stat(ctx, "k/x")
	check("Stat", err)
	check("Delete", broken.Delete(ctx, "k/x"))
	check("List", broken.List(ctx, "", func(blob.Info) error { return nil }))
	check("Ping", broken.Ping(ctx))
}

// closedAddr returns a local address nothing listens on.
func closedAddr(t *testing.T) string {
	addr, err := testenv.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}
