package registry_test

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"artifactapi/app/apptest"
	"artifactapi/app/registry/registrytest"
	"artifactapi/app/testenv"
)

// TestManifestIndexedByDigest: a manifest the mirror fetched by tag (with
// GET or, as containerd resolves, with HEAD; with every Accept or a narrower
// one) is served by its digest after a restart while the upstream is down,
// and the tag still is.
func TestManifestIndexedByDigest(t *testing.T) {
	for _, mode := range apptest.Modes {
		t.Run(string(mode), func(t *testing.T) {
			up := newMirrorUpstream(t)
			b := apptest.NewBackends(t, mode)
			o := apptest.Options{DataDir: t.TempDir(), Remotes: fmt.Sprintf(`
remotes:
  fake:
    base_url: %q
    package: docker
`, up.srv.URL)}
			m := up.img.Manifest
			first := apptest.Start(t, b, o)
			for _, tc := range []struct {
				method string
				path   string
				hdr    map[string]string
			}{
				{method: "GET", path: "/v2/fake/ok/app/manifests/v1"},
				{method: "HEAD", path: "/v2/ok/app/manifests/v1?ns=" + up.host()},
				{method: "GET", path: "/v2/fake/ok/app/manifests/v1", hdr: map[string]string{"Accept": registrytest.OCIManifest}},
			} {
				resp := first.Do(t, tc.method, tc.path, nil, tc.hdr)
				readBody(t, resp)
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("%s %s: %d", tc.method, tc.path, resp.StatusCode)
				}
			}
			testenv.Eventually(t, 10*time.Second, "fills to finish", func() bool { return first.App.Engine.InFlight() == 0 })
			if n := strings.Count(strings.Join(up.since(0), "\n"), "/manifests/"+m.Digest); n != 0 {
				t.Fatalf("the digest was asked upstream %d times before the test asks for it", n)
			}
			first.Stop()
			up.down.Store(true)
			second := apptest.Start(t, b, o)
			for _, tc := range []struct {
				method, path string
			}{
				{"GET", "/v2/fake/ok/app/manifests/" + m.Digest},
				{"HEAD", "/v2/fake/ok/app/manifests/" + m.Digest},
				{"GET", "/v2/ok/app/manifests/" + m.Digest + "?ns=" + up.host()},
				{"GET", "/v2/fake/ok/app/manifests/v1"},
			} {
				resp := second.Do(t, tc.method, tc.path, nil, nil)
				body := readBody(t, resp)
				if resp.StatusCode != http.StatusOK || resp.Header.Get("Docker-Content-Digest") != m.Digest {
					t.Fatalf("upstream down, after a restart: %s %s = %d (digest %q) %s", tc.method, tc.path, resp.StatusCode,
						resp.Header.Get("Docker-Content-Digest"), body)
				}
				if tc.method == "GET" && !bytes.Equal(body, m.Data) {
					t.Fatalf("%s: bytes differ from the manifest", tc.path)
				}
				if ct := resp.Header.Get("Content-Type"); ct != m.MediaType {
					t.Fatalf("%s: Content-Type %q, want %q", tc.path, ct, m.MediaType)
				}
			}
		})
	}
}

// TestNegativeTagCache: an upstream 404 of a tag is remembered for the
// remote's negative_ttl (no upstream request meanwhile); a tag pushed
// upstream afterwards is served once that TTL has passed, and at once after
// the path is evicted (DELETE /api/…) or the remote bulk-evicted (POST /evict).
func TestNegativeTagCache(t *testing.T) {
	for _, mode := range apptest.Modes {
		t.Run(string(mode), func(t *testing.T) {
			up := newMirrorUpstream(t)
			in := apptest.Start(t, apptest.NewBackends(t, mode), apptest.Options{Remotes: fmt.Sprintf(`
remotes:
  fake:
    base_url: %q
    package: docker
    negative_ttl: 3600
  quick:
    base_url: %q
    package: docker
    negative_ttl: 1
`, up.srv.URL, up.srv.URL)})
			get := func(path string) (int, int) {
				t.Helper()
				before := up.count()
				resp := in.Do(t, http.MethodGet, path, nil, nil)
				body := readBody(t, resp)
				if resp.StatusCode == http.StatusNotFound && ociCode(body) != "MANIFEST_UNKNOWN" {
					t.Fatalf("GET %s: 404 %s, want MANIFEST_UNKNOWN", path, body)
				}
				testenv.Eventually(t, 10*time.Second, "fills to finish", func() bool { return in.App.Engine.InFlight() == 0 })
				return resp.StatusCode, up.count() - before
			}
			// miss asks upstream once, then remembers the 404 while the tag is published.
			miss := func(path, tag string) {
				t.Helper()
				if status, n := get(path); status != http.StatusNotFound || n != 1 {
					t.Fatalf("GET %s: %d after %d upstream requests, want 404 after 1", path, status, n)
				}
				up.publish("later/app:" + tag)
				if status, n := get(path); status != http.StatusNotFound || n != 0 {
					t.Fatalf("GET %s again: %d after %d upstream requests, want the remembered 404", path, status, n)
				}
			}
			t.Run("evicting the tag forgets its 404", func(t *testing.T) {
				miss("/v2/fake/later/app/manifests/v2", "v2")
				resp := in.Do(t, http.MethodDelete, "/api/fake/later/app/manifests/v2", nil, apptest.Admin())
				if body := readBody(t, resp); resp.StatusCode != http.StatusOK {
					t.Fatalf("DELETE: %d %s", resp.StatusCode, body)
				}
				if status, n := get("/v2/fake/later/app/manifests/v2"); status != http.StatusOK || n != 1 {
					t.Fatalf("after the eviction: %d after %d upstream requests, want 200 from upstream", status, n)
				}
			})
			t.Run("a narrower Accept shares the tag's 404", func(t *testing.T) {
				miss("/v2/fake/later/app/manifests/v3", "v3")
				resp := in.Do(t, http.MethodGet, "/v2/fake/later/app/manifests/v3", nil, map[string]string{"Accept": registrytest.OCIManifest})
				if readBody(t, resp); resp.StatusCode != http.StatusNotFound {
					t.Fatalf("narrower Accept: %d, want the remembered 404", resp.StatusCode)
				}
				resp = in.Do(t, http.MethodDelete, "/api/fake/later/app/manifests/v3", nil, apptest.Admin())
				readBody(t, resp)
				resp = in.Do(t, http.MethodGet, "/v2/fake/later/app/manifests/v3", nil, map[string]string{"Accept": registrytest.OCIManifest})
				if readBody(t, resp); resp.StatusCode != http.StatusOK {
					t.Fatalf("narrower Accept after the eviction: %d", resp.StatusCode)
				}
			})
			t.Run("bulk eviction forgets the remote's 404s", func(t *testing.T) {
				miss("/v2/fake/later/app/manifests/v4", "v4")
				hdr := apptest.Admin()
				hdr["Content-Type"] = "application/json"
				resp := in.Do(t, http.MethodPost, "/evict", strings.NewReader(`{"remote":"fake","q":"later/"}`), hdr)
				if body := readBody(t, resp); resp.StatusCode != http.StatusOK {
					t.Fatalf("POST /evict: %d %s", resp.StatusCode, body)
				}
				if status, _ := get("/v2/fake/later/app/manifests/v4"); status != http.StatusOK {
					t.Fatalf("after the bulk eviction: %d, want 200", status)
				}
			})
			t.Run("visible once negative_ttl has passed", func(t *testing.T) {
				miss("/v2/quick/later/app/manifests/v5", "v5")
				testenv.Eventually(t, 15*time.Second, "the pushed tag after negative_ttl", func() bool {
					status, _ := get("/v2/quick/later/app/manifests/v5")
					return status == http.StatusOK
				})
			})
		})
	}
}
