package app_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"artifactapi/app/apptest"
	"artifactapi/app/testenv"
)

// countingListener counts accepted connections (TLS handshakes attempted).
type countingListener struct {
	net.Listener
	n atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.n.Add(1)
	}
	return c, err
}

// staleRemotes is a remotes.yaml with one mutable generic remote per name,
// each on its base URL.
func staleRemotes(bases map[string]string) string {
	var b strings.Builder
	b.WriteString("remotes:\n")
	for name, base := range bases {
		fmt.Fprintf(&b, "  %s:\n    base_url: %q\n    package: generic\n    mutable_patterns: [\"index\\\\.yaml$\"]\n    cache:\n      mutable_ttl: 1\n", name, base)
	}
	return b.String()
}

// TestStaleOnUpstreamFailure: an expired mutable entry is served with
// X-Artifact-Stale: true when the upstream does not answer in time, its
// name does not resolve, its certificate is not trusted, or it rate-limits.
func TestStaleOnUpstreamFailure(t *testing.T) {
	forModes(t, func(t *testing.T, mode apptest.Mode) {
		var mu sync.Mutex
		asked := map[string]int{}
		origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			prefix := "/" + strings.SplitN(strings.TrimPrefix(r.URL.Path, "/"), "/", 2)[0]
			mu.Lock()
			asked[prefix]++
			mu.Unlock()
			switch prefix {
			case "/ok":
				w.Header().Set("Last-Modified", time.Now().UTC().Format(http.TimeFormat))
				_, _ = w.Write([]byte("v1"))
			case "/hang": // no headers until the client gives up
				<-r.Context().Done()
			case "/429":
				w.Header().Set("Retry-After", "30")
				w.WriteHeader(http.StatusTooManyRequests)
			default:
				http.NotFound(w, r)
			}
		}))
		t.Cleanup(origin.Close)
		count := func(prefix string) int {
			mu.Lock()
			defer mu.Unlock()
			return asked[prefix]
		}
		// An https upstream whose self-signed certificate nobody trusts; it
		// would answer new content if the proxy accepted it.
		untrusted := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte("v2 from an untrusted server"))
		}))
		handshakes := &countingListener{Listener: untrusted.Listener}
		untrusted.Listener = handshakes
		untrusted.StartTLS()
		t.Cleanup(untrusted.Close)

		cases := []struct {
			name   string
			remote string
			broken string // base_url after the reload
			asked  func() bool
		}{
			{name: "header timeout", remote: "s-timeout", broken: origin.URL + "/hang", asked: func() bool { return count("/hang") > 0 }},
			{name: "DNS failure", remote: "s-dns", broken: "http://artifactapi-stale-test.invalid", asked: func() bool { return true }},
			{name: "TLS failure", remote: "s-tls", broken: untrusted.URL, asked: func() bool { return handshakes.n.Load() > 0 }},
			{name: "429", remote: "s-429", broken: origin.URL + "/429", asked: func() bool { return count("/429") > 0 }},
		}
		healthy, broken := map[string]string{}, map[string]string{}
		for _, c := range cases {
			healthy[c.remote] = origin.URL + "/ok"
			broken[c.remote] = c.broken
		}
		in := apptest.Start(t, apptest.NewBackends(t, mode), apptest.Options{Remotes: staleRemotes(healthy),
			Env: map[string]string{"UPSTREAM_HEADER_TIMEOUT": "1s"}})
		for _, c := range cases {
			if st, _, b := in.Get(t, "/api/"+c.remote+"/repo/index.yaml", nil); st != 200 || string(b) != "v1" {
				t.Fatalf("%s: first GET %d %q", c.name, st, b)
			}
		}
		for _, c := range cases {
			waitExpired(t, in, c.remote, "repo/index.yaml")
		}
		// The same remotes now point at upstreams that fail.
		if err := os.WriteFile(filepath.Join(in.DataDir, "remotes.yaml"), []byte(staleRemotes(broken)), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := in.App.Reload(); err != nil {
			t.Fatal(err)
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				started := time.Now()
				st, h, b := in.Get(t, "/api/"+c.remote+"/repo/index.yaml", nil)
				if st != 200 || string(b) != "v1" || h.Get("X-Artifact-Stale") != "true" || h.Get("X-Artifact-Source") != "cache" {
					t.Fatalf("status %d, body %q, stale %q, source %q", st, b, h.Get("X-Artifact-Stale"), h.Get("X-Artifact-Source"))
				}
				if d := time.Since(started); d > 8*time.Second {
					t.Errorf("stale copy served after %s", d)
				}
				if !c.asked() {
					t.Error("the upstream was never asked")
				}
				if a, ok := artifact(t, in, c.remote, "repo/index.yaml"); !ok || !a.ExpiresAt.After(time.Now()) {
					t.Errorf("entry after the stale serve: cached %v, expires %s", ok, a.ExpiresAt)
				}
				testenv.Eventually(t, 5*time.Second, "the stale serve to be logged", func() bool {
					for _, l := range strings.Split(in.Logs.String(), "\n") {
						if strings.Contains(l, "serving stale copy") && strings.Contains(l, "remote="+c.remote+" ") {
							return true
						}
					}
					return false
				})
			})
		}
	})
}

// TestRevalidationByIfModifiedSinceAlone: an upstream that sends only
// Last-Modified (no ETag) is revalidated with If-Modified-Since; its 304
// refreshes the TTL without a download or a blob write.
func TestRevalidationByIfModifiedSinceAlone(t *testing.T) {
	forModes(t, func(t *testing.T, mode apptest.Mode) {
		lastMod := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
		var mu sync.Mutex
		var seen []http.Header
		full := 0
		origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			defer mu.Unlock()
			seen = append(seen, r.Header.Clone())
			if since, err := http.ParseTime(r.Header.Get("If-Modified-Since")); err == nil && !lastMod.After(since) {
				w.WriteHeader(http.StatusNotModified)
				return
			}
			w.Header().Set("Last-Modified", lastMod.Format(http.TimeFormat))
			w.Header().Set("Content-Type", "application/yaml")
			_, _ = w.Write([]byte("entries: v1\n"))
			full++
		}))
		t.Cleanup(origin.Close)
		remotes := fmt.Sprintf("remotes:\n  ims:\n    base_url: %q\n    package: generic\n    mutable_patterns: [\"index\\\\.yaml$\"]\n    check_mutable_updates: true\n    cache:\n      mutable_ttl: 1\n", origin.URL)
		in := apptest.Start(t, apptest.NewBackends(t, mode), apptest.Options{Remotes: remotes})
		if st, _, b := in.Get(t, "/api/ims/repo/index.yaml", nil); st != 200 || string(b) != "entries: v1\n" {
			t.Fatalf("first GET: %d %q", st, b)
		}
		before := waitExpired(t, in, "ims", "repo/index.yaml")
		if before.ETag != "" {
			t.Fatalf("recorded ETag %q from an upstream that sends none", before.ETag)
		}
		blobBefore, err := in.App.Blobs.Stat(context.Background(), before.StorageKey)
		if err != nil {
			t.Fatal(err)
		}
		st, h, b := in.Get(t, "/api/ims/repo/index.yaml", nil)
		if st != 200 || string(b) != "entries: v1\n" || h.Get("X-Artifact-Source") != "cache" || h.Get("X-Artifact-Stale") != "" {
			t.Fatalf("after revalidation: %d %q source %q stale %q", st, b, h.Get("X-Artifact-Source"), h.Get("X-Artifact-Stale"))
		}
		mu.Lock()
		requests, bodies := len(seen), full
		var cond http.Header
		if requests == 2 {
			cond = seen[1]
		}
		mu.Unlock()
		if requests != 2 || bodies != 1 {
			t.Fatalf("upstream saw %d requests and sent %d bodies; want 2 requests, 1 body", requests, bodies)
		}
		if got := cond.Get("If-Modified-Since"); got != lastMod.Format(http.TimeFormat) {
			t.Errorf("revalidation If-Modified-Since %q, want %q", got, lastMod.Format(http.TimeFormat))
		}
		if got := cond.Get("If-None-Match"); got != "" {
			t.Errorf("revalidation sent If-None-Match %q with no ETag known", got)
		}
		after, _ := artifact(t, in, "ims", "repo/index.yaml")
		if !after.ExpiresAt.After(time.Now()) || !after.CachedAt.Equal(before.CachedAt) || after.StorageKey != before.StorageKey {
			t.Errorf("TTL not refreshed in place: before %+v, after %+v", before, after)
		}
		if blobAfter, err := in.App.Blobs.Stat(context.Background(), before.StorageKey); err != nil || !blobAfter.ModTime.Equal(blobBefore.ModTime) {
			t.Errorf("blob rewritten on 304 (err %v)", err)
		}
	})
}

// TestNegativeCacheExpiry: an upstream 404 is remembered for negative_ttl,
// then asked again; with negative_ttl: 0 every request reaches the upstream.
func TestNegativeCacheExpiry(t *testing.T) {
	forModes(t, func(t *testing.T, mode apptest.Mode) {
		o := newOrigin(t)
		extra := fmt.Sprintf("  neg:\n    base_url: %q\n    negative_ttl: 1\n  noneg:\n    base_url: %q\n    negative_ttl: 0\n", o.URL, o.URL)
		in := apptest.Start(t, apptest.NewBackends(t, mode), apptest.Options{Remotes: remotesFor(o, extra)})
		body := []byte("arrived later")

		t.Run("remembered for negative_ttl then asked again", func(t *testing.T) {
			const p = "/files/late.bin"
			asked := time.Now()
			if st, _, _ := in.Get(t, "/api/neg"+p, nil); st != 404 {
				t.Fatalf("first GET: %d, want 404", st)
			}
			o.set(p, body) // the upstream has it now; the 404 is still remembered
			if st, _, _ := in.Get(t, "/api/neg"+p, nil); st != 404 || o.count(p) != 1 {
				t.Fatalf("second GET: %d after %d upstream GETs; want a remembered 404", st, o.count(p))
			}
			// Requests during the negative TTL never reach the upstream, so
			// polling with them is harmless.
			testenv.Eventually(t, 10*time.Second, "the remembered 404 to expire", func() bool {
				st, _, b := in.Get(t, "/api/neg"+p, nil)
				return st == 200 && string(b) == string(body)
			})
			if d := time.Since(asked); d < time.Second {
				t.Errorf("404 forgotten after %s, before negative_ttl", d)
			}
			if n := o.count(p); n != 2 {
				t.Errorf("upstream GETs = %d, want 2 (the 404, then one after the expiry)", n)
			}
		})
		t.Run("negative_ttl 0 asks every time", func(t *testing.T) {
			const p = "/files/never.bin"
			for i := 1; i <= 3; i++ {
				if st, _, _ := in.Get(t, "/api/noneg"+p, nil); st != 404 || o.count(p) != i {
					t.Fatalf("GET %d: %d after %d upstream GETs; want 404 after %d\n%s", i, st, o.count(p), i, in.Logs.String())
				}
			}
			o.set(p, body)
			if st, _, b := in.Get(t, "/api/noneg"+p, nil); st != 200 || string(b) != string(body) || o.count(p) != 4 {
				t.Fatalf("after it appeared: %d %q after %d upstream GETs", st, b, o.count(p))
			}
		})
	})
}
