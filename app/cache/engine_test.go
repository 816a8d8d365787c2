package cache_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"artifactapi/app/blob"
	"artifactapi/app/cache"
	"artifactapi/app/config"
	"artifactapi/app/coord"
	"artifactapi/app/metrics"
	"artifactapi/app/testenv"
	"artifactapi/app/upstream"
	"artifactapi/db"
)

// countingOrigin serves a fixed body and counts fetches.
type countingOrigin struct {
	body  []byte
	calls atomic.Int64
}

func (o *countingOrigin) Fetch(ctx context.Context, method string, h http.Header) (*upstream.Response, error) {
	o.calls.Add(1)
	return &upstream.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/octet-stream"}},
		ContentLength: int64(len(o.body)), Body: io.NopCloser(bytes.NewReader(o.body))}, nil
}

// brokenCoord fails every operation, like an unreachable Redis.
type brokenCoord struct{}

var errDown = errors.New("redis: connection refused")

func (brokenCoord) TryLock(context.Context, string, time.Duration) (coord.Lock, error) {
	return nil, errDown
}
func (brokenCoord) Locked(context.Context, string) (bool, error) { return false, errDown }
func (brokenCoord) Subscribe(context.Context, string) (coord.Subscription, error) {
	return nil, errDown
}
func (brokenCoord) Publish(context.Context, string, string) error            { return errDown }
func (brokenCoord) Set(context.Context, string, string, time.Duration) error { return errDown }
func (brokenCoord) Get(context.Context, string) (string, bool, error)        { return "", false, errDown }
func (brokenCoord) Del(context.Context, string) error                        { return errDown }
func (brokenCoord) Ping(context.Context) error                               { return errDown }
func (brokenCoord) Describe() string                                         { return "broken" }
func (brokenCoord) Close() error                                             { return nil }

func newEngine(t *testing.T, c coord.Coordinator) (*cache.Engine, *metrics.Metrics) {
	t.Helper()
	e, m, _ := newEngineMeta(t, c)
	return e, m
}

// newEngineMeta is newEngine that also returns the metadata store.
func newEngineMeta(t *testing.T, c coord.Coordinator) (*cache.Engine, *metrics.Metrics, db.Store) {
	t.Helper()
	return newEngineOpts(t, c, nil)
}

// newEngineOpts is newEngineMeta whose options adjust can change first.
func newEngineOpts(t *testing.T, c coord.Coordinator, adjust func(*cache.Options)) (*cache.Engine, *metrics.Metrics, db.Store) {
	t.Helper()
	dir := t.TempDir()
	ctx := context.Background()
	meta, err := db.OpenSQLite(ctx, filepath.Join(dir, "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { meta.Close() })
	blobs, err := blob.NewFS(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	m := metrics.New()
	o := cache.Options{Meta: meta, Blobs: blobs, Coord: c, Metrics: m, SpoolDir: filepath.Join(dir, "spool")}
	if adjust != nil {
		adjust(&o)
	}
	e, err := cache.New(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close(context.Background()) })
	return e, m, meta
}

func remote(t *testing.T) *config.Remote {
	f, err := config.ParseRemotes("test", []byte("remotes:\n  gen:\n    base_url: http://127.0.0.1:1\n"))
	if err != nil {
		t.Fatal(err)
	}
	return f.Remotes["gen"]
}

func readAll(t *testing.T, e *cache.Engine, req cache.Request) (*cache.Result, []byte) {
	t.Helper()
	res, err := e.Get(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Release()
	rc, err := res.Open(context.Background(), 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return res, b
}

// TestServesWhenCoordinationIsDown: Redis is an accelerator; when it fails
// the engine logs, counts it, and keeps serving correctly.
func TestServesWhenCoordinationIsDown(t *testing.T) {
	e, m := newEngine(t, brokenCoord{})
	r := remote(t)
	o := &countingOrigin{body: []byte("hello, artifact")}
	req := cache.Request{Remote: r, Path: "a/file.bin", Verdict: r.Classify("a/file.bin"), Origin: o, Method: "GET"}
	res, b := readAll(t, e, req)
	if string(b) != "hello, artifact" || res.Source != "remote" {
		t.Fatalf("miss: %q %s", b, res.Source)
	}
	testenv.Eventually(t, 5*time.Second, "commit", func() bool { return e.InFlight() == 0 })
	res, b = readAll(t, e, req)
	if string(b) != "hello, artifact" || res.Source != "cache" {
		t.Fatalf("hit: %q %s", b, res.Source)
	}
	if o.calls.Load() != 1 {
		t.Fatalf("origin fetched %d times", o.calls.Load())
	}
	if testutil.ToFloat64(m.CoordFailures) == 0 {
		t.Fatal("coordination failures not counted")
	}
}
