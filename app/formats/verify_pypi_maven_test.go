package formats_test

import (
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"artifactapi/app/apptest"
	"artifactapi/app/testenv"
)

// TestPyPIDistributionVerified: a distribution fetched after its project's
// simple page is cached (PEP 503 HTML or PEP 691 JSON) is verified against
// the sha256 the page lists; other bytes are refused and not cached. With
// no page cached it is fetched as it is.
func TestPyPIDistributionVerified(t *testing.T) {
	const jsonAccept = "application/vnd.pypi.simple.v1+json"
	tests := []struct {
		name    string
		project string
		accept  string // the page fetched first; "" for none
		tamper  bool
		cached  bool
	}{
		{name: "html page matches", project: "alpha", accept: "text/html", cached: true},
		{name: "html page differs", project: "beta", accept: "text/html", tamper: true},
		{name: "json page matches", project: "gamma", accept: jsonAccept, cached: true},
		{name: "json page differs", project: "delta-pkg", accept: jsonAccept, tamper: true},
		{name: "no page cached: not verified", project: "epsilon", tamper: true, cached: true},
	}
	index, files := newFakeHost(t), newFakeHost(t)
	for _, tt := range tests {
		name, body, _ := buildWheel(t, tt.project, "1.0.0")
		w := wheelFile{filename: name, url: files.URL() + "/packages/" + name, body: body}
		index.putVariants("/simple/"+tt.project+"/", pypiProjectPage(tt.project, []wheelFile{w}))
		if tt.tamper {
			_, body, _ = buildWheel(t, tt.project, "6.6.6")
		}
		files.put("/packages/"+name, body, "application/octet-stream")
	}
	in := apptest.Start(t, apptest.NewBackends(t, apptest.Embedded), apptest.Options{Remotes: fmt.Sprintf(`
remotes:
  pypi:
    base_url: %q
    package: pypi
    files_url: %q
`, index.URL(), files.URL())})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.accept != "" {
				testenv.Eventually(t, 10*time.Second, "the project page cached", func() bool {
					st, hdr, _ := in.Get(t, "/api/pypi/simple/"+tt.project+"/", map[string]string{"Accept": tt.accept})
					return st == http.StatusOK && hdr.Get("X-Artifact-Source") == "cache"
				})
			}
			name, _, _ := buildWheel(t, tt.project, "1.0.0")
			dist := "/_ext/" + files.Host() + "/packages/" + name
			checkVerified(t, in, "/api/pypi"+dist, tt.cached, func() int {
				all, _ := files.count("/packages/" + name)
				return all
			})
		})
	}
}

// TestMavenArtifactVerified: a release artifact is verified against the
// .sha1 the upstream publishes beside it, fetched first (Maven asks for it
// next, which is then a cache hit: one upstream request each); other bytes
// are refused and not cached. Without a .sha1, or for a SNAPSHOT, the
// artifact is fetched as it is.
func TestMavenArtifactVerified(t *testing.T) {
	tests := []struct {
		name   string
		path   string
		sha1   string // "ok", "wrong", "" (none published)
		tamper bool
		cached bool
	}{
		{name: "sha1 matches", path: "/org/ex/a/1.0/a-1.0.jar", sha1: "ok", cached: true},
		{name: "sha1 with file name matches", path: "/org/ex/b/1.0/b-1.0.pom", sha1: "ok named", cached: true},
		{name: "sha1 differs", path: "/org/ex/c/1.0/c-1.0.jar", sha1: "ok", tamper: true},
		{name: "no sha1 published", path: "/org/ex/d/1.0/d-1.0.jar", cached: true},
		{name: "snapshot not verified", path: "/org/ex/e/1.0-SNAPSHOT/e-1.0-SNAPSHOT.jar", sha1: "ok", tamper: true, cached: true},
	}
	repo := newFakeHost(t)
	for _, tt := range tests {
		body := []byte("artifact bytes of " + tt.path)
		sum := sha1.Sum(body)
		switch tt.sha1 {
		case "ok":
			repo.put(tt.path+".sha1", []byte(hex.EncodeToString(sum[:])), "text/plain")
		case "ok named":
			repo.put(tt.path+".sha1", []byte(hex.EncodeToString(sum[:])+"  b-1.0.pom\n"), "text/plain")
		}
		if tt.tamper {
			body = []byte("other bytes of " + tt.path)
		}
		repo.put(tt.path, body, "application/java-archive")
	}
	in := apptest.Start(t, apptest.NewBackends(t, apptest.Embedded), apptest.Options{Remotes: fmt.Sprintf(`
remotes:
  maven:
    base_url: %q
    package: maven
`, repo.URL())})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkVerified(t, in, "/api/maven"+tt.path, tt.cached, func() int {
				all, _ := repo.count(tt.path)
				sums, _ := repo.count(tt.path + ".")
				return all - sums
			})
			if tt.sha1 == "" {
				return
			}
			// The client's own checksum request is served from the cache.
			if st, _, _ := in.Get(t, "/api/maven"+tt.path+".sha1", nil); st != http.StatusOK {
				t.Fatalf("GET %s.sha1: %d", tt.path, st)
			}
			if n, _ := repo.count(tt.path + ".sha1"); n != 1 {
				t.Fatalf("upstream asked for %s.sha1 %d times, want 1", tt.path, n)
			}
		})
	}
}

// checkVerified downloads path: delivered whole and then served from the
// cache without the upstream when cached, else refused (502, or cut before
// its last byte) and asked of the upstream again on the next request.
// upstream counts the upstream's requests for the file.
func checkVerified(t *testing.T, in *apptest.Instance, path string, cached bool, upstream func() int) {
	t.Helper()
	resp := in.Do(t, http.MethodGet, path, nil, nil)
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	refused := resp.StatusCode == http.StatusBadGateway || (resp.StatusCode == http.StatusOK && err != nil)
	if delivered := resp.StatusCode == http.StatusOK && err == nil; delivered != cached || refused == cached {
		t.Fatalf("GET %s: %d, %d bytes, read error %v; want delivered and cached: %v", path, resp.StatusCode, len(b), err, cached)
	}
	again := func() int {
		resp := in.Do(t, http.MethodGet, path, nil, nil)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return upstream()
	}
	if cached {
		if n := again(); n != 1 {
			t.Fatalf("upstream asked for the cached %s %d times, want 1", path, n)
		}
		return
	}
	testenv.Eventually(t, 10*time.Second, "the refused file asked of the upstream again", func() bool { return again() >= 2 })
}
