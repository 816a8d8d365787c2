package app_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"artifactapi/app/apptest"
	"artifactapi/app/testenv"
	"artifactapi/db"
)

// forModes runs fn on the embedded and on the production backends.
func forModes(t *testing.T, fn func(t *testing.T, mode apptest.Mode)) {
	for _, m := range apptest.Modes {
		t.Run(string(m), func(t *testing.T) { fn(t, m) })
	}
}

func start(t *testing.T, mode apptest.Mode, o *origin) *apptest.Instance {
	return apptest.Start(t, apptest.NewBackends(t, mode), apptest.Options{Remotes: remotesFor(o, "")})
}

func artifact(t *testing.T, in *apptest.Instance, remote, p string) (db.Artifact, bool) {
	t.Helper()
	a, err := in.App.Meta.GetArtifact(context.Background(), remote, p)
	if errors.Is(err, db.ErrNotFound) {
		return a, false
	}
	if err != nil {
		t.Fatal(err)
	}
	return a, true
}

// settle waits until no download is running (the last one is committed).
func settle(t *testing.T, in *apptest.Instance) {
	t.Helper()
	testenv.Eventually(t, 20*time.Second, "downloads to finish", func() bool { return in.App.Engine.InFlight() == 0 })
}

// waitExpired waits until the cached entry's expiry has passed.
func waitExpired(t *testing.T, in *apptest.Instance, remote, p string) db.Artifact {
	t.Helper()
	settle(t, in)
	a, ok := artifact(t, in, remote, p)
	if !ok || a.ExpiresAt.IsZero() {
		t.Fatalf("%s/%s is not cached with an expiry", remote, p)
	}
	testenv.Eventually(t, 10*time.Second, "entry expiry", func() bool { return time.Now().After(a.ExpiresAt) })
	return a
}

func TestMissThenHitHeaders(t *testing.T) {
	forModes(t, func(t *testing.T, mode apptest.Mode) {
		o := newOrigin(t)
		body := randBody(300_000, 1)
		o.set("/files/tool_linux_amd64.tar.gz", body)
		in := start(t, mode, o)

		for i, alias := range []string{"/api/gen/", "/api/v1/remote/gen/"} {
			settle(t, in)
			st, h, b := in.Get(t, alias+"files/tool_linux_amd64.tar.gz", nil)
			if st != 200 || sha(b) != sha(body) {
				t.Fatalf("%s: status %d, body sha %s", alias, st, sha(b))
			}
			want := map[string]string{
				"Content-Type":        "application/gzip",
				"Content-Disposition": "attachment; filename=tool_linux_amd64.tar.gz",
				"Content-Length":      "300000",
				"ETag":                o.files["/files/tool_linux_amd64.tar.gz"].etag,
			}
			if i == 0 {
				want["X-Artifact-Source"] = "remote"
			} else {
				want["X-Artifact-Source"] = "cache"
				want["X-Checksum-Sha256"] = sha(body)
			}
			for k, v := range want {
				if h.Get(k) != v {
					t.Errorf("%s: header %s = %q, want %q", alias, k, h.Get(k), v)
				}
			}
			if h.Get("Last-Modified") == "" {
				t.Errorf("%s: no Last-Modified", alias)
			}
		}
		if n := o.count("/files/tool_linux_amd64.tar.gz"); n != 1 {
			t.Fatalf("origin GETs = %d, want 1", n)
		}
		settle(t, in)
		a, ok := artifact(t, in, "gen", "files/tool_linux_amd64.tar.gz")
		if !ok || a.SHA256 != sha(body) || a.Size != int64(len(body)) || a.Kind != "immutable" {
			t.Fatalf("metadata %+v", a)
		}
		if !strings.HasPrefix(a.StorageKey, "gen/") || !strings.HasSuffix(a.StorageKey, "/tool_linux_amd64.tar.gz") || len(strings.Split(a.StorageKey, "/")[1]) != 16 {
			t.Fatalf("storage key %q is not {remote}/{16 hex}/{filename}", a.StorageKey)
		}
		// The access line is written when the response body ends.
		testenv.Eventually(t, 5*time.Second, "Cache HIT and MISS log lines", func() bool {
			return strings.Contains(in.Logs.String(), "Cache MISS") && strings.Contains(in.Logs.String(), "Cache HIT")
		})
	})
}

func TestRangeConditionalHead(t *testing.T) {
	forModes(t, func(t *testing.T, mode apptest.Mode) {
		o := newOrigin(t)
		// Larger than the sendfile threshold and chunk: hits of the whole body
		// and of large ranges go through sendfile on the filesystem store.
		body := randBody(3_300_000, 2)
		f := o.set("/files/a.bin", body)
		o.set("/files/b.bin", body)
		o.set("/files/c.bin", body)
		in := start(t, mode, o)

		// HEAD on a miss asks upstream with HEAD and caches nothing.
		resp := in.Do(t, http.MethodHead, "/api/gen/files/a.bin", nil, nil)
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("Content-Length") != "3300000" || resp.Header.Get("X-Artifact-Source") != "remote" {
			t.Fatalf("HEAD miss: %d %v", resp.StatusCode, resp.Header)
		}
		if _, ok := artifact(t, in, "gen", "files/a.bin"); ok || o.count("/files/a.bin") != 0 {
			t.Fatal("HEAD on a miss cached something or sent a GET")
		}
		// Range on a miss is answered from the download as it streams.
		st, h, b := in.Get(t, "/api/gen/files/b.bin", map[string]string{"Range": "bytes=10-19"})
		if st != 206 || string(b) != string(body[10:20]) || h.Get("Content-Range") != "bytes 10-19/3300000" {
			t.Fatalf("range on miss: %d %q %v", st, h.Get("Content-Range"), len(b))
		}
		// If-None-Match on a miss with the upstream's ETag.
		st, _, _ = in.Get(t, "/api/gen/files/c.bin", map[string]string{"If-None-Match": f.etag})
		if st != 304 {
			t.Fatalf("If-None-Match on miss: %d", st)
		}
		testenv.Eventually(t, 5*time.Second, "a.bin cached", func() bool {
			in.Get(t, "/api/gen/files/a.bin", nil)
			_, ok := artifact(t, in, "gen", "files/a.bin")
			return ok
		})
		cases := []struct {
			name   string
			method string
			hdr    map[string]string
			status int
			body   []byte
			check  func(h http.Header) string
		}{
			{name: "range middle", method: "GET", hdr: map[string]string{"Range": "bytes=100-199"}, status: 206, body: body[100:200]},
			{name: "range suffix", method: "GET", hdr: map[string]string{"Range": "bytes=-10"}, status: 206, body: body[len(body)-10:]},
			{name: "range open end", method: "GET", hdr: map[string]string{"Range": "bytes=3299990-"}, status: 206, body: body[3299990:]},
			{name: "range large", method: "GET", hdr: map[string]string{"Range": "bytes=1000-2500999"}, status: 206, body: body[1000:2501000]},
			{name: "range large open end", method: "GET", hdr: map[string]string{"Range": "bytes=500000-"}, status: 206, body: body[500000:]},
			{name: "range unsatisfiable", method: "GET", hdr: map[string]string{"Range": "bytes=4000000-"}, status: 416},
			{name: "if-none-match", method: "GET", hdr: map[string]string{"If-None-Match": f.etag}, status: 304},
			{name: "if-none-match other", method: "GET", hdr: map[string]string{"If-None-Match": `"nope"`}, status: 200, body: body},
			{name: "if-modified-since", method: "GET", hdr: map[string]string{"If-Modified-Since": time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)}, status: 304},
			{name: "head hit", method: "HEAD", status: 200, check: func(h http.Header) string {
				if h.Get("Content-Length") != "3300000" || h.Get("X-Artifact-Source") != "cache" || h.Get("X-Checksum-Sha256") != sha(body) {
					return "bad HEAD headers"
				}
				return ""
			}},
		}
		for _, c := range cases {
			resp := in.Do(t, c.method, "/api/gen/files/a.bin", nil, c.hdr)
			got, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != c.status {
				t.Errorf("%s: status %d, want %d", c.name, resp.StatusCode, c.status)
				continue
			}
			if c.body != nil && string(got) != string(c.body) {
				t.Errorf("%s: body differs (%d bytes)", c.name, len(got))
			}
			if c.check != nil {
				if msg := c.check(resp.Header); msg != "" {
					t.Errorf("%s: %s", c.name, msg)
				}
			}
		}
		if n := o.count("/files/a.bin"); n != 1 {
			t.Fatalf("origin GETs for a.bin = %d, want 1", n)
		}
	})
}

func TestFreshness(t *testing.T) {
	forModes(t, func(t *testing.T, mode apptest.Mode) {
		t.Run("304 refreshes TTL without a blob write", func(t *testing.T) {
			o := newOrigin(t)
			o.set("/repo/index.yaml", []byte("v1"))
			in := start(t, mode, o)
			in.Get(t, "/api/gen/repo/index.yaml", nil)
			before := waitExpired(t, in, "gen", "repo/index.yaml")
			info, err := in.App.Blobs.Stat(context.Background(), before.StorageKey)
			if err != nil {
				t.Fatal(err)
			}
			st, h, b := in.Get(t, "/api/gen/repo/index.yaml", nil)
			if st != 200 || string(b) != "v1" || h.Get("X-Artifact-Source") != "cache" {
				t.Fatalf("after 304: %d %q %s", st, b, h.Get("X-Artifact-Source"))
			}
			if o.condCount("/repo/index.yaml") != 1 {
				t.Fatalf("conditional requests = %d, want 1", o.condCount("/repo/index.yaml"))
			}
			after, _ := artifact(t, in, "gen", "repo/index.yaml")
			if !after.ExpiresAt.After(time.Now()) || !after.CachedAt.Equal(before.CachedAt) {
				t.Fatalf("TTL not refreshed in place: %+v", after)
			}
			info2, _ := in.App.Blobs.Stat(context.Background(), before.StorageKey)
			if !info2.ModTime.Equal(info.ModTime) {
				t.Fatal("blob was rewritten on 304")
			}
		})
		t.Run("200 replaces", func(t *testing.T) {
			o := newOrigin(t)
			o.set("/repo/index.yaml", []byte("v1"))
			in := start(t, mode, o)
			in.Get(t, "/api/gen/repo/index.yaml", nil)
			waitExpired(t, in, "gen", "repo/index.yaml")
			o.set("/repo/index.yaml", []byte("version two"))
			if _, _, b := in.Get(t, "/api/gen/repo/index.yaml", nil); string(b) != "version two" {
				t.Fatalf("got %q after change", b)
			}
			settle(t, in)
			st, h, b := in.Get(t, "/api/gen/repo/index.yaml", nil)
			if st != 200 || string(b) != "version two" || h.Get("X-Artifact-Source") != "cache" {
				t.Fatalf("replacement not cached: %q %s", b, h.Get("X-Artifact-Source"))
			}
		})
		t.Run("unreachable serves stale and refreshes TTL", func(t *testing.T) {
			o := newOrigin(t)
			o.set("/repo/index.yaml", []byte("v1"))
			in := start(t, mode, o)
			in.Get(t, "/api/plain/repo/index.yaml", nil)
			waitExpired(t, in, "plain", "repo/index.yaml")
			o.stop()
			st, h, b := in.Get(t, "/api/plain/repo/index.yaml", nil)
			if st != 200 || string(b) != "v1" || h.Get("X-Artifact-Stale") != "true" || h.Get("X-Artifact-Source") != "cache" {
				t.Fatalf("stale serve: %d %q %v", st, b, h)
			}
			a, ok := artifact(t, in, "plain", "repo/index.yaml")
			if !ok || !a.ExpiresAt.After(time.Now()) {
				t.Fatalf("TTL not refreshed: %+v", a)
			}
		})
		for _, c := range []struct {
			name   string
			status int
			want   int
		}{{"upstream 404 evicts", 404, 404}, {"upstream 503 evicts", 503, 502}} {
			t.Run(c.name, func(t *testing.T) {
				o := newOrigin(t)
				o.set("/repo/index.yaml", []byte("v1"))
				in := start(t, mode, o)
				in.Get(t, "/api/plain/repo/index.yaml", nil)
				waitExpired(t, in, "plain", "repo/index.yaml")
				o.setStatus("/repo/index.yaml", c.status)
				if st, _, _ := in.Get(t, "/api/plain/repo/index.yaml", nil); st != c.want {
					t.Fatalf("status %d, want %d", st, c.want)
				}
				if _, ok := artifact(t, in, "plain", "repo/index.yaml"); ok {
					t.Fatal("expired entry not evicted")
				}
			})
		}
		t.Run("package default mutable re-fetched in full", func(t *testing.T) {
			o := newOrigin(t)
			o.set("/os/repodata/repomd.xml", []byte("<repomd/>"))
			in := start(t, mode, o)
			in.Get(t, "/api/rpm/os/repodata/repomd.xml", nil)
			waitExpired(t, in, "rpm", "os/repodata/repomd.xml")
			in.Get(t, "/api/rpm/os/repodata/repomd.xml", nil)
			if o.count("/os/repodata/repomd.xml") != 2 || o.condCount("/os/repodata/repomd.xml") != 0 {
				t.Fatalf("GETs %d conditional %d; want 2 unconditional", o.count("/os/repodata/repomd.xml"), o.condCount("/os/repodata/repomd.xml"))
			}
		})
		t.Run("404 remembered", func(t *testing.T) {
			o := newOrigin(t)
			in := start(t, mode, o)
			for i := 0; i < 3; i++ {
				if st, _, _ := in.Get(t, "/api/gen/files/missing.bin", nil); st != 404 {
					t.Fatalf("status %d", st)
				}
			}
			if n := o.count("/files/missing.bin"); n != 1 {
				t.Fatalf("upstream asked %d times for a missing file", n)
			}
		})
		t.Run("denied path never fetched", func(t *testing.T) {
			o := newOrigin(t)
			o.set("/secret.txt", []byte("x"))
			in := start(t, mode, o)
			if st, _, b := in.Get(t, "/api/gen/secret.txt", nil); st != 403 || !strings.Contains(string(b), "not allowed") {
				t.Fatalf("status %d %s", st, b)
			}
			if o.count("/secret.txt") != 0 {
				t.Fatal("denied path reached upstream")
			}
		})
	})
}

func TestConcurrentColdRequests(t *testing.T) {
	forModes(t, func(t *testing.T, mode apptest.Mode) {
		o := newOrigin(t)
		body := randBody(2<<20, 3)
		f := o.set("/files/big.bin", body)
		f.gate, f.sentHalf = make(chan struct{}), make(chan struct{})
		b := apptest.NewBackends(t, mode)
		ins := []*apptest.Instance{apptest.Start(t, b, apptest.Options{Remotes: remotesFor(o, "")})}
		if mode == apptest.Production {
			ins = append(ins, apptest.Start(t, b, apptest.Options{Remotes: remotesFor(o, "")}))
		}
		var wg sync.WaitGroup
		sums := make([]string, 50)
		errs := make([]error, 50)
		for i := 0; i < 50; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				resp, err := http.Get(ins[i%len(ins)].URL + "/api/gen/files/big.bin")
				if err != nil {
					errs[i] = err
					return
				}
				defer resp.Body.Close()
				got, err := io.ReadAll(resp.Body)
				errs[i] = err
				sums[i] = sha(got)
			}(i)
		}
		<-f.sentHalf
		close(f.gate)
		wg.Wait()
		for i := range sums {
			if errs[i] != nil || sums[i] != sha(body) {
				t.Fatalf("client %d: err %v, sha %s", i, errs[i], sums[i])
			}
		}
		if n := o.count("/files/big.bin"); n != 1 {
			t.Fatalf("upstream GETs = %d, want exactly 1 for 50 concurrent cold requests on %d instance(s)", n, len(ins))
		}
	})
}

// TestStreaming proves without timing that bytes reach the first client and
// a joining client before the upstream has sent the whole body.
func TestStreaming(t *testing.T) {
	forModes(t, func(t *testing.T, mode apptest.Mode) {
		o := newOrigin(t)
		body := randBody(4<<20, 4)
		f := o.set("/files/stream.bin", body)
		f.gate, f.sentHalf = make(chan struct{}), make(chan struct{})
		in := start(t, mode, o)
		half := len(body) / 2

		first, err := http.Get(in.URL + "/api/gen/files/stream.bin")
		if err != nil {
			t.Fatal(err)
		}
		defer first.Body.Close()
		buf1 := make([]byte, half)
		// The origin blocks after the first half until the gate opens, so
		// this read can only complete if the proxy streams.
		if _, err := io.ReadFull(first.Body, buf1); err != nil {
			t.Fatal(err)
		}
		second, err := http.Get(in.URL + "/api/gen/files/stream.bin")
		if err != nil {
			t.Fatal(err)
		}
		defer second.Body.Close()
		if second.Header.Get("X-Artifact-Source") != "remote" {
			t.Fatalf("joiner source %q", second.Header.Get("X-Artifact-Source"))
		}
		buf2 := make([]byte, half)
		if _, err := io.ReadFull(second.Body, buf2); err != nil {
			t.Fatal(err)
		}
		close(f.gate)
		rest1, err1 := io.ReadAll(first.Body)
		rest2, err2 := io.ReadAll(second.Body)
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		if sha(append(buf1, rest1...)) != sha(body) || sha(append(buf2, rest2...)) != sha(body) {
			t.Fatal("streamed bodies differ from the upstream's")
		}
		if o.count("/files/stream.bin") != 1 {
			t.Fatalf("upstream GETs = %d", o.count("/files/stream.bin"))
		}
	})
}

func TestClientDisconnectDoesNotStopDownload(t *testing.T) {
	forModes(t, func(t *testing.T, mode apptest.Mode) {
		o := newOrigin(t)
		body := randBody(4<<20, 5)
		f := o.set("/files/leave.bin", body)
		f.gate, f.sentHalf = make(chan struct{}), make(chan struct{})
		in := start(t, mode, o)
		resp, err := http.Get(in.URL + "/api/gen/files/leave.bin")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(resp.Body, make([]byte, 1<<20)); err != nil {
			t.Fatal(err)
		}
		resp.Body.Close() // the client leaves mid-download
		close(f.gate)
		testenv.Eventually(t, 20*time.Second, "artifact committed", func() bool {
			_, ok := artifact(t, in, "gen", "files/leave.bin")
			return ok
		})
		st, h, b := in.Get(t, "/api/gen/files/leave.bin", nil)
		if st != 200 || h.Get("X-Artifact-Source") != "cache" || sha(b) != sha(body) {
			t.Fatalf("after disconnect: %d %s sha ok=%v", st, h.Get("X-Artifact-Source"), sha(b) == sha(body))
		}
		if o.count("/files/leave.bin") != 1 {
			t.Fatalf("upstream GETs = %d", o.count("/files/leave.bin"))
		}
	})
}

func TestBrokenUpstreamCachesNothing(t *testing.T) {
	forModes(t, func(t *testing.T, mode apptest.Mode) {
		o := newOrigin(t)
		body := randBody(1<<20, 6)
		f := o.set("/files/broken.bin", body)
		f.short = true // half the body, then the connection ends (fewer bytes than Content-Length)
		in := start(t, mode, o)
		resp, err := http.Get(in.URL + "/api/gen/files/broken.bin")
		if err == nil {
			got, rerr := io.ReadAll(resp.Body)
			resp.Body.Close()
			if rerr == nil && sha(got) == sha(body) {
				t.Fatal("a broken download was delivered as complete")
			}
		}
		testenv.Eventually(t, 10*time.Second, "download finished", func() bool { return in.App.Engine.InFlight() == 0 })
		if _, ok := artifact(t, in, "gen", "files/broken.bin"); ok {
			t.Fatal("broken download was cached")
		}
		o.set("/files/broken.bin", body)
		st, h, b := in.Get(t, "/api/gen/files/broken.bin", nil)
		if st != 200 || h.Get("X-Artifact-Source") != "remote" || sha(b) != sha(body) {
			t.Fatalf("retry: %d %s", st, h.Get("X-Artifact-Source"))
		}
		if o.count("/files/broken.bin") != 2 {
			t.Fatalf("upstream GETs = %d, want 2", o.count("/files/broken.bin"))
		}
	})
}

// TestStreamingAcrossReplicas proves that a client of a second replica
// streams a download the first replica is running: it receives bytes
// before the upstream has sent the whole body, and the upstream is asked once.
func TestStreamingAcrossReplicas(t *testing.T) {
	o := newOrigin(t)
	body := randBody(4<<20, 7)
	f := o.set("/files/shared.bin", body)
	f.gate, f.sentHalf = make(chan struct{}), make(chan struct{})
	b := apptest.NewBackends(t, apptest.Production)
	a := apptest.Start(t, b, apptest.Options{Remotes: remotesFor(o, "")})
	c := apptest.Start(t, b, apptest.Options{Remotes: remotesFor(o, "")})
	half := len(body) / 2
	readHalf := func(in *apptest.Instance) (*http.Response, []byte) {
		resp, err := http.Get(in.URL + "/api/gen/files/shared.bin")
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, half)
		if _, err := io.ReadFull(resp.Body, buf); err != nil {
			t.Fatal(err)
		}
		return resp, buf
	}
	r1, b1 := readHalf(a)
	defer r1.Body.Close()
	r2, b2 := readHalf(c) // only possible while the gate is closed if c relays a's download
	defer r2.Body.Close()
	close(f.gate)
	rest1, err1 := io.ReadAll(r1.Body)
	rest2, err2 := io.ReadAll(r2.Body)
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	if sha(append(b1, rest1...)) != sha(body) || sha(append(b2, rest2...)) != sha(body) {
		t.Fatal("bodies differ")
	}
	if n := o.count("/files/shared.bin"); n != 1 {
		t.Fatalf("upstream GETs = %d, want 1", n)
	}
	settle(t, a)
	settle(t, c)
	if _, h, got := c.Get(t, "/api/gen/files/shared.bin", nil); h.Get("X-Artifact-Source") != "cache" || sha(got) != sha(body) {
		t.Fatalf("second replica after commit: %s", h.Get("X-Artifact-Source"))
	}
}
