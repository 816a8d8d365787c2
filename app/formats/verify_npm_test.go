package formats_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"artifactapi/app/apptest"
	"artifactapi/app/testenv"
)

// TestNpmTarballVerified: a tarball fetched after its package document is
// cached (full or abbreviated) is verified against the document's
// dist.integrity, else dist.shasum: bytes that do not match are answered 502
// (or, when the headers are already sent, cut
// before their last byte) and not cached; matching bytes are cached. With no document cached it is
// fetched as it is.
func TestNpmTarballVerified(t *testing.T) {
	const abbreviated = "application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*"
	tests := []struct {
		name   string
		accept string // the document fetched first; "" for none
		dist   string // "integrity" (both), "shasum" (only)
		tamper bool   // the registry serves other bytes than the document lists
		status int
		cached bool
	}{
		{name: "full document integrity matches", accept: "application/json", dist: "integrity", cached: true},
		{name: "full document integrity differs", accept: "application/json", dist: "integrity", tamper: true},
		{name: "abbreviated document integrity matches", accept: abbreviated, dist: "integrity", cached: true},
		{name: "abbreviated document integrity differs", accept: abbreviated, dist: "integrity", tamper: true},
		{name: "shasum matches", accept: "application/json", dist: "shasum", cached: true},
		{name: "shasum differs", accept: "application/json", dist: "shasum", tamper: true},
		{name: "no document cached: not verified", dist: "integrity", tamper: true, cached: true},
	}
	reg := newFakeHost(t)
	for i, tt := range tests {
		name := fmt.Sprintf("pkg%d", i)
		tgz := npmTarball(t, name, "1.0.0")
		dist := map[string]any{"tarball": reg.URL() + "/" + name + "/-/" + name + "-1.0.0.tgz", "shasum": shasum(tgz)}
		if tt.dist == "integrity" {
			dist["integrity"] = integrity(tgz)
		}
		doc, _ := json.Marshal(map[string]any{"name": name, "versions": map[string]any{"1.0.0": map[string]any{"name": name, "version": "1.0.0", "dist": dist}}})
		reg.putVariants("/"+name, file{body: doc, contentType: "application/json", byAccept: map[string]file{
			"application/vnd.npm.install-v1+json": {body: doc, contentType: "application/vnd.npm.install-v1+json"},
		}})
		if tt.tamper {
			tgz = npmTarball(t, name, "6.6.6")
		}
		reg.put("/"+name+"/-/"+name+"-1.0.0.tgz", tgz, "application/octet-stream")
	}
	in := apptest.Start(t, apptest.NewBackends(t, apptest.Embedded), apptest.Options{Remotes: fmt.Sprintf(`
remotes:
  npm:
    base_url: %q
    package: npm
`, reg.URL())})
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := fmt.Sprintf("pkg%d", i)
			if tt.accept != "" {
				// The document is committed once it is served from the cache.
				testenv.Eventually(t, 10*time.Second, "the document cached", func() bool {
					st, hdr, _ := in.Get(t, "/api/npm/"+name, map[string]string{"Accept": tt.accept})
					return st == http.StatusOK && hdr.Get("X-Artifact-Source") == "cache"
				})
			}
			tarball := "/" + name + "/-/" + name + "-1.0.0.tgz"
			resp := in.Do(t, http.MethodGet, "/api/npm"+tarball, nil, nil)
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			// A download found wrong after its headers were sent is cut
			// before its last byte: the client never has the whole body.
			refused := resp.StatusCode == http.StatusBadGateway || (resp.StatusCode == http.StatusOK && err != nil)
			if delivered := resp.StatusCode == http.StatusOK && err == nil; delivered != tt.cached || refused == tt.cached {
				t.Fatalf("tarball: %d, %d bytes, read error %v; want delivered and cached: %v", resp.StatusCode, len(b), err, tt.cached)
			}
			// A cached tarball is served without the registry; one that was
			// not is asked of it again (once the failed download is over).
			again := func() int {
				resp := in.Do(t, http.MethodGet, "/api/npm"+tarball, nil, nil)
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				all, _ := reg.count(tarball)
				return all
			}
			if tt.cached {
				if all := again(); all != 1 {
					t.Fatalf("registry asked for the cached tarball %d times, want 1", all)
				}
				return
			}
			testenv.Eventually(t, 10*time.Second, "the tarball asked of the registry again", func() bool { return again() >= 2 })
		})
	}
}
