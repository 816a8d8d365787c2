package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"artifactapi/app/apptest"
	"artifactapi/app/testenv"
)

// health is GET /health or /ready as a client sees it.
type health struct {
	Status     string `json:"status"`
	Failed     []string
	Components map[string]struct {
		OK    bool   `json:"ok"`
		Error string `json:"error"`
	} `json:"components"`
}

// getHealth fetches path and returns its status, decoded body and duration.
func getHealth(t *testing.T, in *apptest.Instance, path string) (int, health, time.Duration) {
	t.Helper()
	start := time.Now()
	st, _, b := in.Get(t, path, nil)
	took := time.Since(start)
	var h health
	if err := json.Unmarshal(b, &h); err != nil {
		t.Fatalf("GET %s = %d %q: %v", path, st, b, err)
	}
	return st, h, took
}

// artifactHeaders are the headers of a served artifact, none of which an
// error answer may carry.
var artifactHeaders = []string{"X-Artifact-Source", "X-Checksum-Sha256", "ETag", "Last-Modified", "Content-Disposition", "Accept-Ranges", "Docker-Content-Digest"}

// TestBlobStoreDown: with the blob store hung, /health and /ready still
// answer within their per-component deadline and name "blobs" (a hung
// Redis is named "coordination" and does not fail /ready); with it dead, a
// cache hit is a 503 JSON error without any of the artifact's headers, and
// the go-redis client's own reconnect messages reach the structured log.
func TestBlobStoreDown(t *testing.T) {
	o := newOrigin(t)
	body := randBody(300_000, 7) // above the in-memory body cache's limit
	o.set("/files/a.bin", body)
	b := apptest.NewBackends(t, apptest.Production)
	mi := testenv.StartPrivateMinIO(t)
	rd := testenv.StartPrivateRedis(t)
	b.Env["MINIO_ENDPOINT"], b.Env["MINIO_ACCESS_KEY"], b.Env["MINIO_SECRET_KEY"], b.Env["MINIO_BUCKET"] = mi.Endpoint, mi.AccessKey, mi.SecretKey, mi.Bucket
	b.Env["REDIS_URL"] = rd.URL
	// Without the hot tier: a hit it holds is served from local disk
	// whatever S3's state; this test is about reads that need S3.
	b.Env["HOT_CACHE_SIZE"] = "0"
	in := apptest.Start(t, b, apptest.Options{Remotes: remotesFor(o, "")})
	if st, _, got := in.Get(t, "/api/gen/files/a.bin", nil); st != http.StatusOK || len(got) != len(body) {
		t.Fatalf("warm: %d, %d bytes", st, len(got))
	}
	settle(t, in)
	if st, h, _ := getHealth(t, in, "/ready"); st != http.StatusOK || len(h.Failed) != 0 {
		t.Fatalf("/ready before = %d %+v", st, h)
	}

	tests := []struct {
		name      string
		pause     func()
		resume    func()
		component string
		ready     int
	}{
		{"blob store hung", mi.Pause, mi.Resume, "blobs", http.StatusServiceUnavailable},
		{"redis hung", rd.Pause, rd.Resume, "coordination", http.StatusOK},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.pause()
			resumed := false
			resume := func() {
				if !resumed {
					tc.resume()
					resumed = true
				}
			}
			defer resume()
			for _, ep := range []struct {
				path   string
				status int
			}{{"/ready", tc.ready}, {"/health", http.StatusOK}} {
				// SIGSTOP is delivered asynchronously: wait until the
				// outage shows, each probe still bounded by its deadline.
				var st int
				var h health
				var took time.Duration
				testenv.Eventually(t, 15*time.Second, ep.path+" to see the hung "+tc.component, func() bool {
					st, h, took = getHealth(t, in, ep.path)
					return !h.Components[tc.component].OK
				})
				if took > 4*time.Second {
					t.Errorf("%s took %s with a hung %s", ep.path, took, tc.component)
				}
				c := h.Components[tc.component]
				if st != ep.status || !slices.Equal(h.Failed, []string{tc.component}) || c.OK || !strings.Contains(c.Error, "no answer within") {
					t.Errorf("%s = %d %+v, want %d naming only %s as not answering", ep.path, st, h, ep.status, tc.component)
				}
				if !h.Components["metadata"].OK || !h.Components["disk"].OK {
					t.Errorf("%s: healthy components reported failing: %+v", ep.path, h)
				}
			}
			resume()
			testenv.Eventually(t, 20*time.Second, "/ready to recover", func() bool {
				st, h, _ := getHealth(t, in, "/ready")
				return st == http.StatusOK && len(h.Failed) == 0
			})
		})
	}

	t.Run("blob store dead", func(t *testing.T) {
		mi.Kill()
		for _, method := range []string{http.MethodGet} {
			resp := in.Do(t, method, "/api/gen/files/a.bin", nil, nil)
			var e map[string]string
			err := json.NewDecoder(resp.Body).Decode(&e)
			resp.Body.Close()
			if resp.StatusCode != http.StatusServiceUnavailable || err != nil || e["error"] != "blob store unavailable" {
				t.Errorf("%s hit with the blob store dead = %d %v (%v), want 503 blob store unavailable", method, resp.StatusCode, e, err)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("error Content-Type %q", ct)
			}
			for _, k := range artifactHeaders {
				if v := resp.Header.Get(k); v != "" {
					t.Errorf("error answer carries the artifact header %s: %q", k, v)
				}
			}
			if cl := resp.ContentLength; cl == int64(len(body)) {
				t.Errorf("error answer has the artifact's Content-Length %d", cl)
			}
		}
		if st, h, _ := getHealth(t, in, "/ready"); st != http.StatusServiceUnavailable || !slices.Equal(h.Failed, []string{"blobs"}) || h.Components["blobs"].Error == "" {
			t.Errorf("/ready with the blob store dead = %d %+v", st, h)
		}
	})

	t.Run("redis reconnect noise is structured", func(t *testing.T) {
		rd.Kill()
		testenv.Eventually(t, 20*time.Second, "a go-redis dial failure in the structured log", func() bool {
			getHealth(t, in, "/health") // pings Redis: the pool dials
			return strings.Contains(in.Logs.String(), `level=WARN msg="redis client: connection pool: failed to dial`)
		})
		if strings.Contains(in.Logs.String(), "redis: connection pool") {
			t.Errorf("go-redis prefix kept in the structured message")
		}
	})
}

// hangingOrigin accepts connections and never answers them.
func hangingOrigin(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { close(done); ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { <-done; c.Close() }()
		}
	}()
	return "http://" + ln.Addr().String()
}

// rateLimitedOrigin answers every request 429 with Retry-After: 37.
func rateLimitedOrigin(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "37")
		w.WriteHeader(http.StatusTooManyRequests)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}

// TestUpstreamFailureAnswers: an upstream that never sends its headers is a
// 504 "upstream timed out" after UPSTREAM_HEADER_TIMEOUT, and a 429 passes
// the upstream's Retry-After on, on both /api and /v2.
func TestUpstreamFailureAnswers(t *testing.T) {
	forModes(t, func(t *testing.T, mode apptest.Mode) {
		hang, limited := hangingOrigin(t), rateLimitedOrigin(t)
		remotes := fmt.Sprintf(`remotes:
  hang:
    base_url: %q
    package: generic
  limited:
    base_url: %q
    package: generic
  hangreg:
    base_url: %q
    package: docker
  limitedreg:
    base_url: %q
    package: docker
`, hang, limited, hang, limited)
		in := apptest.Start(t, apptest.NewBackends(t, mode), apptest.Options{Remotes: remotes,
			Env: map[string]string{"UPSTREAM_HEADER_TIMEOUT": "1s"}})
		tests := []struct {
			name       string
			path       string
			status     int
			msg        string // in the body
			retryAfter string
		}{
			{"api header timeout", "/api/hang/files/a.bin", http.StatusGatewayTimeout, `"upstream timed out"`, ""},
			{"v2 header timeout", "/v2/hangreg/team/app/manifests/v1", http.StatusGatewayTimeout, `"upstream timed out"`, ""},
			{"api rate limit", "/api/limited/files/a.bin", http.StatusTooManyRequests, `"upstream rate limit"`, "37"},
			{"v2 rate limit", "/v2/limitedreg/team/app/manifests/v1", http.StatusTooManyRequests, `"TOOMANYREQUESTS"`, "37"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				start := time.Now()
				st, h, b := in.Get(t, tc.path, nil)
				took := time.Since(start)
				if st != tc.status || !strings.Contains(string(b), tc.msg) || h.Get("Retry-After") != tc.retryAfter {
					t.Errorf("GET %s = %d Retry-After %q %s, want %d Retry-After %q %s", tc.path, st, h.Get("Retry-After"), b, tc.status, tc.retryAfter, tc.msg)
				}
				if took > 8*time.Second {
					t.Errorf("GET %s took %s", tc.path, took)
				}
			})
		}
	})
}

// mountTmpfs mounts a tmpfs of size bytes at a fresh directory, unmounted
// at cleanup (after the instances using it have stopped: register it
// before starting them). It needs root, as the rest of the suite's setup.
func mountTmpfs(t *testing.T, size int) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "artifactapi-full-")
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, fmt.Sprintf("size=%d", size)); err != nil {
		os.Remove(dir)
		t.Fatalf("mount a tmpfs at %s (this test needs root): %v", dir, err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
		os.Remove(dir)
	})
	return dir
}

// fillDisk writes to a file in dir until the filesystem is full.
func fillDisk(t *testing.T, dir string) string {
	t.Helper()
	p := filepath.Join(dir, "filler")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 64<<10)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !strings.Contains(err.Error(), "no space left") {
				t.Fatalf("fill %s: %v", dir, err)
			}
			break
		}
	}
	// The last partial pages too.
	for {
		if _, err := f.Write(chunk[:512]); err != nil {
			break
		}
	}
	return p
}

// TestDiskFull: when DATA_DIR (the download spool) is full, a miss is a 507
// "storage full" rather than an upstream error, cache hits still work, and
// /ready names the disk.
func TestDiskFull(t *testing.T) {
	forModes(t, func(t *testing.T, mode apptest.Mode) {
		dir := mountTmpfs(t, 4<<20)
		o := newOrigin(t)
		o.set("/files/hit.bin", randBody(20_000, 1))
		o.set("/files/miss.bin", randBody(200_000, 2))
		in := apptest.Start(t, apptest.NewBackends(t, mode), apptest.Options{Remotes: remotesFor(o, ""), DataDir: dir,
			Env: map[string]string{"DISK_MIN_FREE": "256KiB"}})
		if st, _, _ := in.Get(t, "/api/gen/files/hit.bin", nil); st != http.StatusOK {
			t.Fatalf("warm: %d", st)
		}
		settle(t, in)
		if st, h, _ := getHealth(t, in, "/ready"); st != http.StatusOK {
			t.Fatalf("/ready before the disk fills = %d %+v", st, h)
		}
		filler := fillDisk(t, dir)

		st, h, b := in.Get(t, "/api/gen/files/miss.bin", nil)
		if st != http.StatusInsufficientStorage || !strings.Contains(string(b), `"storage full"`) || h.Get("X-Artifact-Source") != "" {
			t.Errorf("miss on a full disk = %d %s, want 507 storage full", st, b)
		}
		if st, _, _ := in.Get(t, "/api/gen/files/hit.bin", nil); st != http.StatusOK {
			t.Errorf("hit on a full disk = %d", st)
		}
		st, hh, _ := getHealth(t, in, "/ready")
		if st != http.StatusServiceUnavailable || !slices.Contains(hh.Failed, "disk") || !strings.Contains(hh.Components["disk"].Error, "storage full") {
			t.Errorf("/ready on a full disk = %d %+v", st, hh)
		}
		if err := os.Remove(filler); err != nil {
			t.Fatal(err)
		}
		if st, _, got := in.Get(t, "/api/gen/files/miss.bin", nil); st != http.StatusOK || len(got) != 200_000 {
			t.Errorf("miss after space was freed = %d, %d bytes", st, len(got))
		}
		settle(t, in)
	})
}

// TestJobOutcomeRecordRetried: when the metadata store fails to record an
// item's outcome (a PostgreSQL blip, injected by a trigger that refuses the
// first two final updates), the worker keeps its claim and records it again
// within seconds, not after the 30 s lease, and downloads it only once.
func TestJobOutcomeRecordRetried(t *testing.T) {
	o := newOrigin(t)
	o.set("/files/job.bin", randBody(100_000, 3))
	b := apptest.NewBackends(t, apptest.Production)
	in := apptest.Start(t, b, apptest.Options{Remotes: remotesFor(o, "")})
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, fmt.Sprintf("postgres://%s@%s:%s/%s?sslmode=disable", b.Env["DBUSER"], b.Env["DBHOST"], b.Env["DBPORT"], b.Env["DBNAME"]))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	// nextval is not rolled back with the failing statement: exactly two
	// final updates fail, whatever else runs.
	for _, q := range []string{
		`CREATE SEQUENCE blip_seq`,
		`CREATE FUNCTION blip() RETURNS trigger LANGUAGE plpgsql AS $$
		 BEGIN
		   IF NEW.state NOT IN ('queued', 'running') AND nextval('blip_seq') <= 2 THEN
		     RAISE EXCEPTION 'injected blip';
		   END IF;
		   RETURN NEW;
		 END $$`,
		`CREATE TRIGGER blip BEFORE UPDATE ON job_items FOR EACH ROW EXECUTE FUNCTION blip()`,
	} {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	start := time.Now()
	id := submitJob(t, in, `{"remote": "gen", "paths": ["files/job.bin"]}`)
	var v jobView
	testenv.Eventually(t, 10*time.Second, "the job to finish (well before the 30 s lease)", func() bool {
		v = getJobView(t, in, id)
		return v.State == "done"
	})
	if it := v.Items[0]; it.State != "cached" || it.Attempts != 1 {
		t.Errorf("item %+v, want cached in one attempt", it)
	}
	if n := o.count("/files/job.bin"); n != 1 {
		t.Errorf("downloaded %d times, want 1", n)
	}
	var blips int64
	if err := conn.QueryRow(ctx, `SELECT last_value FROM blip_seq`).Scan(&blips); err != nil || blips < 3 {
		t.Errorf("the injected failures did not happen (sequence at %d, %v)", blips, err)
	}
	t.Logf("job done %s after submission", time.Since(start).Round(time.Millisecond))
}
