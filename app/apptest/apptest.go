// Package apptest starts complete artifactapi instances for integration
// tests, on the embedded backends or on real PostgreSQL + Redis + MinIO.
package apptest

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"artifactapi/app"
	"artifactapi/app/config"
	"artifactapi/app/testenv"
)

// Mode selects the backends.
type Mode string

// The two run modes of PRODUCT §1.
const (
	Embedded   Mode = "embedded"
	Production Mode = "production"
)

// Modes lists both, for tests that run on each.
var Modes = []Mode{Embedded, Production}

// AdminToken is the admin credential of test instances.
const AdminToken = "test-admin-token-0123456789abcdef0123"

// Backends is a shared set of production services (one database, one Redis
// prefix, one bucket) that several instances can use together.
type Backends struct {
	Env map[string]string
}

// NewBackends provisions fresh production services for mode (nil env for Embedded).
func NewBackends(t testing.TB, mode Mode) *Backends {
	t.Helper()
	b := &Backends{Env: map[string]string{}}
	if mode != Production {
		return b
	}
	pg := testenv.Postgres(t)
	rurl, prefix := testenv.Redis(t)
	mi := testenv.MinIO(t)
	b.Env = map[string]string{
		"DBHOST": pg.Host, "DBPORT": pg.Port, "DBUSER": pg.User, "DBPASS": pg.Pass, "DBNAME": pg.Database, "DBSSLMODE": "disable",
		"REDIS_URL": rurl, "REDIS_PREFIX": prefix,
		"MINIO_ENDPOINT": mi.Endpoint, "MINIO_ACCESS_KEY": mi.AccessKey, "MINIO_SECRET_KEY": mi.SecretKey,
		"MINIO_BUCKET": mi.Bucket, "MINIO_SECURE": "false",
	}
	return b
}

// Instance is a running in-process app.
type Instance struct {
	App     *app.App
	URL     string
	DataDir string
	Logs    *SyncBuffer
	cancel  context.CancelFunc
	done    chan error
	stopped bool
}

// Options tweak an instance.
type Options struct {
	Remotes string            // remotes.yaml content
	Env     map[string]string // extra environment
	DataDir string            // reuse a data dir (restart tests); default fresh
}

// Start runs an instance on b's backends with its own data directory.
func Start(t testing.TB, b *Backends, o Options) *Instance {
	t.Helper()
	dir := o.DataDir
	if dir == "" {
		dir = t.TempDir()
	}
	remotes := filepath.Join(dir, "remotes.yaml")
	if err := os.WriteFile(remotes, []byte(o.Remotes), 0o644); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"DATA_DIR": dir, "ADVERTISE_URL": "http://" + ln.Addr().String(), "REMOTES_CONFIG": remotes, "ADMIN_TOKEN": AdminToken,
		"UPSTREAM_CONNECT_TIMEOUT": "2s", "UPSTREAM_HEADER_TIMEOUT": "10s", "UPSTREAM_IDLE_TIMEOUT": "10s", "SHUTDOWN_TIMEOUT": "20s"}
	for k, v := range b.Env {
		env[k] = v
	}
	for k, v := range o.Env {
		env[k] = v
	}
	e, err := config.LoadEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	f, err := config.LoadRemotesFile(remotes)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &config.Config{Env: e, Remotes: f}
	logs := &SyncBuffer{}
	log := app.NewLogger(logs, "text", "debug", cfg.Secrets())
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.New(ctx, cfg, log)
	if err != nil {
		cancel()
		ln.Close()
		t.Fatalf("start app: %v", err)
	}
	in := &Instance{App: a, URL: "http://" + ln.Addr().String(), DataDir: dir, Logs: logs, cancel: cancel, done: make(chan error, 1)}
	go func() { in.done <- a.Serve(ctx, ln) }()
	t.Cleanup(in.Stop)
	return in
}

// Stop shuts the instance down gracefully (idempotent).
func (in *Instance) Stop() {
	if in.stopped {
		return
	}
	in.stopped = true
	in.cancel()
	select {
	case <-in.done:
	case <-time.After(30 * time.Second):
	}
}

// Do sends a request with optional admin credential.
func (in *Instance) Do(t testing.TB, method, path string, body io.Reader, hdr map[string]string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, in.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return resp
}

// Get fetches path and returns status, headers and body.
func (in *Instance) Get(t testing.TB, path string, hdr map[string]string) (int, http.Header, []byte) {
	t.Helper()
	resp := in.Do(t, http.MethodGet, path, nil, hdr)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: read body: %v", path, err)
	}
	return resp.StatusCode, resp.Header, b
}

// Admin returns the admin Authorization header.
func Admin() map[string]string { return map[string]string{"Authorization": "Bearer " + AdminToken} }

// SyncBuffer is a goroutine-safe log sink.
type SyncBuffer struct {
	mu      sync.Mutex
	b       strings.Builder
	discard bool
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.discard {
		return len(p), nil
	}
	return s.b.Write(p)
}

// Discard drops what is logged from now on (lines are still formatted and
// written): benchmarks measure the server, not a buffer growing by a line
// per request.
func (s *SyncBuffer) Discard() {
	s.mu.Lock()
	s.discard = true
	s.mu.Unlock()
}

// String returns everything logged so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
