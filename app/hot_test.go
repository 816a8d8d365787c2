package app_test

import (
	"bytes"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"artifactapi/app/apptest"
	"artifactapi/app/blob"
	"artifactapi/app/testenv"
)

// hotOf returns the instance's hot tier.
func hotOf(t *testing.T, in *apptest.Instance) *blob.Hot {
	t.Helper()
	h, ok := in.App.Blobs.(*blob.Hot)
	if !ok {
		t.Fatalf("blob store %T has no hot tier", in.App.Blobs)
	}
	return h
}

// waitHeld waits until in's hot tier holds the stored object of gen/p.
func waitHeld(t *testing.T, in *apptest.Instance, p string) (key, version string) {
	t.Helper()
	settle(t, in)
	a, ok := artifact(t, in, "gen", p)
	if !ok {
		t.Fatalf("gen/%s is not cached", p)
	}
	defer func() {
		if t.Failed() {
			t.Logf("instance log:\n%s", in.Logs.String())
		}
	}()
	testenv.Eventually(t, 20*time.Second, "the hot tier to hold "+p, func() bool { return hotOf(t, in).Holds(a.StorageKey, a.BlobVersion) })
	return a.StorageKey, a.BlobVersion
}

// getHot GETs gen/p and reports whether the hot tier answered it.
func getHot(t *testing.T, in *apptest.Instance, p string) (body []byte, source string, local bool) {
	t.Helper()
	before := hotOf(t, in).Stats().Hits
	st, h, body := in.Get(t, "/api/gen/"+p, nil)
	consistent(t, "GET "+p, st, h, body)
	return body, h.Get("X-Artifact-Source"), hotOf(t, in).Stats().Hits > before
}

// hotFiles lists the data files (not sidecars) under dir.
func hotFiles(t *testing.T, dir string) (files []string, total int64) {
	t.Helper()
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && !strings.HasSuffix(p, ".meta") {
			if fi, err := d.Info(); err == nil {
				files = append(files, p)
				total += fi.Size()
			}
		}
		return nil
	})
	return files, total
}

// metricValue reads one unlabelled series from /metrics.
func metricValue(t *testing.T, in *apptest.Instance, name string) float64 {
	t.Helper()
	_, _, b := in.Get(t, "/metrics", nil)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			return f
		}
	}
	t.Fatalf("/metrics has no %s", name)
	return 0
}

// TestHotTierNeverServesEvictedOrReplacedBytes: two replicas on
// PostgreSQL + Redis + MinIO each hold an artifact in their hot tier; the
// upstream changes it and one replica evicts it (then, for a mutable one,
// refetches it once expired). The other replica, asked at once, answers
// with the new bytes, never the copy it holds, and the copy leaves its disk.
func TestHotTierNeverServesEvictedOrReplacedBytes(t *testing.T) {
	o := newOrigin(t)
	b := apptest.NewBackends(t, apptest.Production)
	r0 := apptest.Start(t, b, apptest.Options{Remotes: remotesFor(o, "")})
	r1 := apptest.Start(t, b, apptest.Options{Remotes: remotesFor(o, "")})
	for _, tc := range []struct {
		name    string
		path    string
		replace func(t *testing.T, p string)
	}{
		{"evicted on the other replica", "files/evicted.bin", func(t *testing.T, p string) {
			resp := r0.Do(t, http.MethodDelete, "/api/gen/"+p, nil, apptest.Admin())
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("DELETE on r0: %d", resp.StatusCode)
			}
		}},
		{"replaced upstream and refetched by the other replica", "charts/index.yaml", func(t *testing.T, p string) {
			waitExpired(t, r0, "gen", p)
			if _, src, _ := getHot(t, r0, p); src != "remote" {
				t.Fatalf("r0 refetch: source %s", src)
			}
			settle(t, r0)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			old, fresh := randBody(1<<20, 1), randBody(1<<20, 2) // beyond the in-memory body cache
			o.set("/"+tc.path, old)
			getHot(t, r0, tc.path)
			key, v0 := waitHeld(t, r0, tc.path) // the download, renamed into r0's tier
			if _, src, _ := getHot(t, r1, tc.path); src != "cache" {
				t.Fatalf("r1 first GET: source %s", src)
			}
			waitHeld(t, r1, tc.path) // the read from MinIO, copied into r1's tier
			if body, _, local := getHot(t, r1, tc.path); !local || !bytes.Equal(body, old) {
				t.Fatalf("r1 warm GET: from the hot tier %v, old bytes %v", local, bytes.Equal(body, old))
			}

			o.set("/"+tc.path, fresh)
			tc.replace(t, tc.path)
			if body, _, _ := getHot(t, r1, tc.path); !bytes.Equal(body, fresh) {
				t.Fatalf("r1 served %d bytes of the old artifact after it was evicted or replaced", len(body))
			}
			testenv.Eventually(t, 10*time.Second, "r1's copy of the old object to be dropped", func() bool { return !hotOf(t, r1).Holds(key, v0) })
			settle(t, r1)
			for _, in := range []*apptest.Instance{r0, r1} {
				if body, _, _ := getHot(t, in, tc.path); !bytes.Equal(body, fresh) {
					t.Fatalf("%s served old bytes later", in.URL)
				}
			}
		})
	}
}

// TestHotTierCorruptCopy: a copy whose bytes change on disk (same size) is
// detected; the hit is read from MinIO, right, and the copy is taken again.
func TestHotTierCorruptCopy(t *testing.T) {
	o := newOrigin(t)
	body := randBody(1<<20, 3)
	o.set("/files/c.bin", body)
	in := start(t, apptest.Production, o)
	getHot(t, in, "files/c.bin")
	waitHeld(t, in, "files/c.bin")
	files, _ := hotFiles(t, filepath.Join(in.DataDir, "hot"))
	if len(files) != 1 {
		t.Fatalf("hot tier files: %v", files)
	}
	f, err := os.OpenFile(files[0], os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("not the artifact"), 4096); err != nil {
		t.Fatal(err)
	}
	f.Close()
	misses := hotOf(t, in).Stats().Misses
	got, src, local := getHot(t, in, "files/c.bin")
	if !bytes.Equal(got, body) || src != "cache" || local {
		t.Fatalf("after corruption: right bytes %v, source %s, from the hot tier %v", bytes.Equal(got, body), src, local)
	}
	if hotOf(t, in).Stats().Misses != misses+1 {
		t.Fatal("the hit was not read from the blob store")
	}
	waitHeld(t, in, "files/c.bin")
	if got, _, local := getHot(t, in, "files/c.bin"); !local || !bytes.Equal(got, body) {
		t.Fatalf("copy taken again: from the hot tier %v, right bytes %v", local, bytes.Equal(got, body))
	}
}

// TestHotTierBound: serving ten times the tier's size keeps it (counted and
// on disk) under HOT_CACHE_SIZE at every step, least recently used first.
func TestHotTierBound(t *testing.T) {
	const bound, size = 1 << 20, 200 << 10
	o := newOrigin(t)
	in := apptest.Start(t, apptest.NewBackends(t, apptest.Production), apptest.Options{Remotes: remotesFor(o, ""),
		Env: map[string]string{"HOT_CACHE_SIZE": "1MiB"}})
	o.set("/files/keep.bin", randBody(size, 0))
	getHot(t, in, "files/keep.bin")
	for i := 1; i <= 10*bound/size; i++ {
		p := fmt.Sprintf("files/churn-%d.bin", i)
		o.set("/"+p, randBody(size, byte(i)))
		getHot(t, in, p)
		waitHeld(t, in, p)
		if i%3 == 0 {
			if _, _, local := getHot(t, in, "files/keep.bin"); !local {
				t.Fatalf("step %d: the recently used artifact was not served from the hot tier", i)
			}
		}
		_, onDisk := hotFiles(t, filepath.Join(in.DataDir, "hot"))
		if counted := metricValue(t, in, "artifactapi_hot_tier_bytes"); counted > bound || onDisk > bound {
			t.Fatalf("step %d: %v bytes counted, %d on disk, bound %d", i, counted, onDisk, bound)
		}
	}
	if ev := metricValue(t, in, "artifactapi_hot_tier_evictions_total"); ev < float64(10*bound/size-bound/size) {
		t.Fatalf("%v evictions after serving ten times the bound", ev)
	}
	if hits, misses := metricValue(t, in, "artifactapi_hot_tier_hits_total"), metricValue(t, in, "artifactapi_hot_tier_misses_total"); hits < 1 || misses != 0 {
		t.Fatalf("hits %v, misses %v: every copy came from its download", hits, misses)
	}
}

// TestHotTierRestart: a restarted replica serves the copies it kept from
// its hot tier and drops one that was truncated meanwhile.
func TestHotTierRestart(t *testing.T) {
	o := newOrigin(t)
	b := apptest.NewBackends(t, apptest.Production)
	dir := t.TempDir()
	bodies := map[string][]byte{"files/kept.bin": randBody(1<<20, 4), "files/cut.bin": randBody(1<<20, 5)}
	in := apptest.Start(t, b, apptest.Options{Remotes: remotesFor(o, ""), DataDir: dir})
	paths := map[string]string{}
	for p, body := range bodies {
		o.set("/"+p, body)
		getHot(t, in, p)
		key, v := waitHeld(t, in, p)
		paths[p] = key + "\x00" + v
	}
	in.Stop()
	files, _ := hotFiles(t, filepath.Join(dir, "hot"))
	if len(files) != 2 {
		t.Fatalf("hot tier files after stop: %v", files)
	}
	// Which file is which: the one holding cut.bin's first bytes.
	for _, f := range files {
		head := make([]byte, 64)
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		fh.Read(head)
		fh.Close()
		if bytes.Equal(head, bodies["files/cut.bin"][:64]) {
			if err := os.Truncate(f, 1000); err != nil {
				t.Fatal(err)
			}
		}
	}

	in2 := apptest.Start(t, b, apptest.Options{Remotes: remotesFor(o, ""), DataDir: dir})
	for _, tc := range []struct {
		name  string
		path  string
		local bool
	}{
		{"intact copy served from the hot tier", "files/kept.bin", true},
		{"truncated copy dropped, read from MinIO", "files/cut.bin", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key, v, _ := strings.Cut(paths[tc.path], "\x00")
			if held := hotOf(t, in2).Holds(key, v); held != tc.local {
				t.Fatalf("held after restart %v, want %v", held, tc.local)
			}
			body, src, local := getHot(t, in2, tc.path)
			if !bytes.Equal(body, bodies[tc.path]) || src != "cache" || local != tc.local {
				t.Fatalf("right bytes %v, source %s, from the hot tier %v", bytes.Equal(body, bodies[tc.path]), src, local)
			}
		})
	}
	if n := o.count("/files/kept.bin") + o.count("/files/cut.bin"); n != 2 {
		t.Fatalf("upstream asked %d times; want once per artifact", n)
	}
}
