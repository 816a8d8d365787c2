package formats_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"artifactapi/app/apptest"
	"artifactapi/app/testenv"
)

// TestRewrittenMetadataHTTP: what a rewritten document looks like on the
// wire — its own validators and length (HEAD included, even on a miss),
// Range ignored, the client's scheme and host (X-Forwarded-*), the rewrite
// kept after a revalidation answered 304, and _ext paths limited to the
// allow-list.
func TestRewrittenMetadataHTTP(t *testing.T) {
	repo, cdn := newFakeHost(t), newFakeHost(t)
	chart := chartPackage(t, "demo", "1.0.0")
	cdn.put("/pub/demo-1.0.0.tgz", chart, "application/gzip")
	repo.put("/index.yaml", helmIndex("demo", []helmChart{{version: "1.0.0", url: cdn.URL() + "/pub/demo-1.0.0.tgz", body: chart}}), "text/yaml")
	in := apptest.Start(t, apptest.NewBackends(t, apptest.Embedded), apptest.Options{Remotes: fmt.Sprintf(`
remotes:
  charts:
    base_url: %q
    package: helm
    extra_hosts: [%q]
    mutable_patterns: ["index\\.yaml$"]
    check_mutable_updates: true
    cache:
      mutable_ttl: 1
`, repo.URL(), cdn.URL())})
	wantURL := in.URL + "/api/charts/_ext/" + cdn.Host() + "/pub/demo-1.0.0.tgz"

	// A HEAD on a miss already has the rewritten length.
	head := in.Do(t, http.MethodHead, "/api/charts/index.yaml", nil, nil)
	head.Body.Close()
	status, hdr, body := in.Get(t, "/api/charts/index.yaml", nil)
	if status != http.StatusOK || !strings.Contains(string(body), "- "+wantURL+"\n") {
		t.Fatalf("GET index.yaml: %d\n%s", status, body)
	}
	sum := sha256.Sum256(body)
	if head.StatusCode != http.StatusOK || head.ContentLength != int64(len(body)) || hdr.Get("Content-Length") != strconv.Itoa(len(body)) {
		t.Fatalf("lengths: HEAD %d %d, GET Content-Length %s, body %d", head.StatusCode, head.ContentLength, hdr.Get("Content-Length"), len(body))
	}
	if hdr.Get("X-Checksum-Sha256") != hex.EncodeToString(sum[:]) || hdr.Get("ETag") != `"`+hex.EncodeToString(sum[:])+`"` {
		t.Fatalf("validators are not the rewritten body's: ETag %s, X-Checksum-Sha256 %s", hdr.Get("ETag"), hdr.Get("X-Checksum-Sha256"))
	}

	tests := []struct {
		name       string
		hdr        map[string]string
		status     int
		bodyHas    string
		sameAsBody bool
	}{
		{name: "If-None-Match of the rewritten body", hdr: map[string]string{"If-None-Match": hdr.Get("ETag")}, status: http.StatusNotModified},
		{name: "If-None-Match of another body", hdr: map[string]string{"If-None-Match": `"other"`}, status: http.StatusOK, sameAsBody: true},
		{name: "Range is ignored", hdr: map[string]string{"Range": "bytes=0-9"}, status: http.StatusOK, sameAsBody: true},
		{name: "forwarded scheme and host", hdr: map[string]string{"X-Forwarded-Proto": "https", "X-Forwarded-Host": "cache.example"}, status: http.StatusOK,
			bodyHas: "- https://cache.example/api/charts/_ext/" + cdn.Host() + "/pub/demo-1.0.0.tgz\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st, _, b := in.Get(t, "/api/charts/index.yaml", tc.hdr)
			if st != tc.status || (tc.sameAsBody && string(b) != string(body)) || !strings.Contains(string(b), tc.bodyHas) {
				t.Fatalf("status %d (want %d)\n%s", st, tc.status, b)
			}
		})
	}

	// After mutable_ttl the entry is revalidated; the upstream answers 304
	// and the same rewritten document is served from the kept bytes.
	testenv.Eventually(t, 30*time.Second, "a conditional revalidation of index.yaml", func() bool {
		st, _, b := in.Get(t, "/api/charts/index.yaml", nil)
		if st != http.StatusOK || string(b) != string(body) {
			t.Fatalf("after revalidation: %d\n%s", st, b)
		}
		return repo.conditionals("/index.yaml") > 0
	})

	// _ext paths reach only the allow-list.
	for _, p := range []string{"/api/charts/_ext/evil.example/x.tgz", "/api/charts/_ext/" + repo.Host() + "/index.yaml"} {
		if st, _, b := in.Get(t, p, nil); st != http.StatusBadRequest {
			t.Fatalf("GET %s: %d %s", p, st, b)
		}
	}
	if st, _, b := in.Get(t, "/api/charts/_ext/"+cdn.Host()+"/pub/demo-1.0.0.tgz", nil); st != http.StatusOK || string(b) != string(chart) {
		t.Fatalf("chart through _ext: %d", st)
	}
}

// TestEvictAllRepresentations: evicting a document evicts every
// representation cached for it (npm full and abbreviated, pypi HTML and
// JSON under the normalised name).
func TestEvictAllRepresentations(t *testing.T) {
	reg := newFakeHost(t)
	npmPackage{name: "demo-npm", versions: map[string][]byte{"1.0.0": npmTarball(t, "demo-npm", "1.0.0")}}.publish(reg)
	index := newFakeHost(t)
	index.putVariants("/simple/demo-pkg/", pypiProjectPage("demo-pkg", nil))
	in := apptest.Start(t, apptest.NewBackends(t, apptest.Embedded), apptest.Options{Remotes: fmt.Sprintf(`
remotes:
  npm:
    base_url: %q
    package: npm
  pypi:
    base_url: %q
    package: pypi
`, reg.URL(), index.URL())})
	tests := []struct {
		name, get, evict, upstream string
		accepts                    []string
	}{
		{"npm", "/api/npm/demo-npm", "/api/npm/demo-npm", "/demo-npm", []string{"application/json", "application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*"}},
		{"pypi", "/api/pypi/simple/demo-pkg/", "/api/pypi/simple/Demo_Pkg", "/simple/demo-pkg/", []string{"text/html", "application/vnd.pypi.simple.v1+json"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fetchAll := func() {
				for _, a := range tc.accepts {
					if st, _, b := in.Get(t, tc.get, map[string]string{"Accept": a}); st != http.StatusOK {
						t.Fatalf("GET %s (%s): %d %s", tc.get, a, st, b)
					}
				}
			}
			// Entries are committed once their download ends: wait for both.
			committed := func() bool {
				_, _, l := in.Get(t, "/artifacts/"+tc.name, nil)
				var page struct {
					Totals struct{ Count int } `json:"totals"`
				}
				if err := json.Unmarshal(l, &page); err != nil {
					t.Fatalf("listing: %v\n%s", err, l)
				}
				return page.Totals.Count == len(tc.accepts)
			}
			fetchAll()
			testenv.Eventually(t, 10*time.Second, "both representations to be committed", committed)
			h := reg
			if tc.name == "pypi" {
				h = index
			}
			before, _ := h.count(tc.upstream)
			resp := in.Do(t, http.MethodDelete, tc.evict, nil, apptest.Admin())
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("DELETE %s: %d", tc.evict, resp.StatusCode)
			}
			fetchAll()
			if n, _ := h.count(tc.upstream); n != before+len(tc.accepts) {
				t.Fatalf("after eviction the upstream was asked %d times, want %d (every representation again)", n-before, len(tc.accepts))
			}
		})
	}
	resp := in.Do(t, http.MethodDelete, "/api/npm/not-cached", nil, apptest.Admin())
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("DELETE of an uncached document: %d", resp.StatusCode)
	}
}

// TestRewriteIsMemoised: a document is rewritten once per client base URL,
// on its download (under the digest of the downloaded bytes); later hits,
// the first one included, take the rewrite from memory with identical
// bytes, and a changed upstream document is rewritten again.
func TestRewriteIsMemoised(t *testing.T) {
	repo := newFakeHost(t)
	chart := chartPackage(t, "demo", "1.0.0")
	repo.put("/demo-1.0.0.tgz", chart, "application/gzip")
	repo.put("/index.yaml", helmIndex("demo", []helmChart{{version: "1.0.0", url: "demo-1.0.0.tgz", body: chart}}), "text/yaml")
	in := apptest.Start(t, apptest.NewBackends(t, apptest.Embedded), apptest.Options{Remotes: fmt.Sprintf(`
remotes:
  charts:
    base_url: %q
    package: helm
    cache:
      mutable_ttl: 4
`, repo.URL())})
	rewrites := func(result string) float64 {
		return testutil.ToFloat64(in.App.Metrics.Rewrites.WithLabelValues(result))
	}
	_, _, first := in.Get(t, "/api/charts/index.yaml", nil) // the miss: rewritten and memoised
	testenv.Eventually(t, 10*time.Second, "commit", func() bool { return in.App.Engine.InFlight() == 0 })
	computed := rewrites("computed")
	if computed != 1 {
		t.Fatalf("the miss computed %v rewrites, want 1", computed)
	}
	var bodies [][]byte
	for range 3 {
		st, h, b := in.Get(t, "/api/charts/index.yaml", nil)
		if st != 200 || h.Get("X-Artifact-Source") != "cache" {
			t.Fatalf("hit: %d %s", st, h.Get("X-Artifact-Source"))
		}
		bodies = append(bodies, b)
	}
	if got := rewrites("computed") - computed; got != 0 {
		t.Fatalf("three hits computed %v rewrites, want none", got)
	}
	if got := rewrites("memoised"); got != 3 {
		t.Fatalf("memoised rewrites %v, want 3", got)
	}
	for _, b := range bodies {
		if string(b) != string(first) {
			t.Fatal("a memoised rewrite differs from the computed one")
		}
	}
	// Another base URL (a forwarded host) is another rewrite.
	_, _, other := in.Get(t, "/api/charts/index.yaml", map[string]string{"X-Forwarded-Host": "cache.example.org"})
	if !strings.Contains(string(other), "cache.example.org") || rewrites("computed")-computed != 1 {
		t.Fatalf("a forwarded host reused another host's rewrite:\n%s", other)
	}
	// A new upstream document, once refetched, is rewritten anew.
	repo.put("/index.yaml", helmIndex("demo", []helmChart{{version: "1.0.0", url: "demo-1.0.0.tgz", body: chart}, {version: "1.1.0", url: "demo-1.1.0.tgz", body: chart}}), "text/yaml")
	testenv.Eventually(t, 20*time.Second, "the new index", func() bool {
		_, _, b := in.Get(t, "/api/charts/index.yaml", nil)
		return strings.Contains(string(b), "1.1.0")
	})
}
