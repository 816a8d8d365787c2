package registry_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"artifactapi/app/apptest"
	"artifactapi/app/registry/registrytest"
	"artifactapi/app/testenv"
)

// Artifact types of the referrers the mirror upstream holds.
const (
	sigType  = "application/vnd.dev.cosign.artifact.sig.v1+json"
	sbomType = "application/spdx+json"
)

// mirrorUpstream is an in-process registry for the mirror's edge cases: a
// paginating tag list, a tag published on demand, referrers through the API
// and through the tag schema, every 4xx an upstream may answer, and an
// outage switch. It logs every request it gets.
type mirrorUpstream struct {
	srv       *httptest.Server
	img       *registrytest.Image
	extra     registrytest.Blob // a blob only ever HEADed
	sig, sbom registrytest.Blob // referrer manifests (descriptors only)
	mu        sync.Mutex
	log       []string
	published map[string]bool // "later/app:v2" once pushed
	down      atomic.Bool
}

func newMirrorUpstream(t *testing.T) *mirrorUpstream {
	img := image(t, "linux/amd64", []int{8 << 10}, false)
	extra := image(t, "linux/amd64", []int{2 << 10}, false)
	u := &mirrorUpstream{img: img, extra: extra.Layers[0], published: map[string]bool{},
		sig:  registrytest.Blob{MediaType: registrytest.OCIManifest, Digest: registrytest.Digest([]byte("sig")), Data: []byte("sig")},
		sbom: registrytest.Blob{MediaType: registrytest.OCIManifest, Digest: registrytest.Digest([]byte("sbom")), Data: []byte("sbom")}}
	u.srv = httptest.NewServer(http.HandlerFunc(u.serve))
	t.Cleanup(u.srv.Close)
	return u
}

// host is the upstream's registry host (what ?ns= names).
func (u *mirrorUpstream) host() string { return registrytest.HostPort(u.srv.URL) }

func (u *mirrorUpstream) publish(repoTag string) {
	u.mu.Lock()
	u.published[repoTag] = true
	u.mu.Unlock()
}

// since returns the requests logged after the first n.
func (u *mirrorUpstream) since(n int) []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]string(nil), u.log[n:]...)
}

func (u *mirrorUpstream) count() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.log)
}

// referrersIndex is an OCI index listing descriptors of the given types.
func (u *mirrorUpstream) referrersIndex(types ...string) []byte {
	var ms []map[string]any
	for _, at := range types {
		b := u.sig
		if at == sbomType {
			b = u.sbom
		}
		ms = append(ms, map[string]any{"mediaType": b.MediaType, "digest": b.Digest, "size": len(b.Data), "artifactType": at})
	}
	out, _ := json.Marshal(map[string]any{"schemaVersion": 2, "mediaType": registrytest.OCIIndex, "manifests": ms})
	return out
}

func (u *mirrorUpstream) serve(w http.ResponseWriter, r *http.Request) {
	if u.down.Load() {
		hangUp(w)
		return
	}
	u.mu.Lock()
	u.log = append(u.log, r.Method+" "+r.URL.RequestURI())
	u.mu.Unlock()
	send := func(b registrytest.Blob) {
		w.Header().Set("Content-Type", b.MediaType)
		w.Header().Set("Docker-Content-Digest", b.Digest)
		w.Header().Set("Content-Length", strconv.Itoa(len(b.Data)))
		if r.Method != http.MethodHead {
			_, _ = w.Write(b.Data)
		}
	}
	m, l := u.img.Manifest, u.img.Layers[0]
	subject := strings.Replace(m.Digest, ":", "-", 1)
	p := r.URL.Path
	switch {
	case p == "/v2/ok/app/manifests/v1", p == "/v2/ok/app/manifests/"+m.Digest, p == "/v2/fake/img/manifests/v1":
		send(m)
	case p == "/v2/ok/app/blobs/"+l.Digest:
		send(registrytest.Blob{MediaType: "application/octet-stream", Digest: l.Digest, Data: l.Data})
	case p == "/v2/ok/app/blobs/"+u.extra.Digest:
		send(registrytest.Blob{MediaType: "application/octet-stream", Digest: u.extra.Digest, Data: u.extra.Data})
	case strings.HasPrefix(p, "/v2/later/app/manifests/"):
		u.mu.Lock()
		ok := u.published["later/app:"+strings.TrimPrefix(p, "/v2/later/app/manifests/")]
		u.mu.Unlock()
		if !ok {
			http.Error(w, `{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}`, http.StatusNotFound)
			return
		}
		send(m)
	case p == "/v2/pg/app/tags/list":
		u.tagPage(w, r, []string{"a", "b", "c", "d", "e"})
	case p == "/v2/ref/api/referrers/"+m.Digest:
		send(registrytest.Blob{MediaType: registrytest.OCIIndex, Data: u.referrersIndex(sigType, sbomType)})
	case p == "/v2/ref/tag/manifests/"+subject:
		send(registrytest.Blob{MediaType: registrytest.OCIIndex, Data: u.referrersIndex(sbomType)})
	case strings.HasPrefix(p, "/v2/bad/"):
		w.WriteHeader(http.StatusBadRequest)
	case strings.HasPrefix(p, "/v2/forbidden/"):
		w.WriteHeader(http.StatusForbidden)
	case strings.HasPrefix(p, "/v2/method/"):
		w.WriteHeader(http.StatusMethodNotAllowed)
	case strings.HasPrefix(p, "/v2/range/"):
		w.WriteHeader(http.StatusRequestedRangeNotSatisfiable)
	case strings.HasPrefix(p, "/v2/conflict/"):
		w.WriteHeader(http.StatusConflict)
	case strings.HasPrefix(p, "/v2/broken/"):
		w.WriteHeader(http.StatusServiceUnavailable)
	default:
		w.WriteHeader(http.StatusNotFound)
	}
}

// tagPage answers one page of tags the way the CNCF registry does (n and
// last, a Link to the next page), two tags a page when n is absent (like
// registries that cap their pages).
func (u *mirrorUpstream) tagPage(w http.ResponseWriter, r *http.Request, all []string) {
	n := 2
	if v, err := strconv.Atoi(r.URL.Query().Get("n")); err == nil && v > 0 {
		n = v
	}
	i := 0
	if last := r.URL.Query().Get("last"); last != "" {
		i = sort.SearchStrings(all, last) + 1
	}
	page := all[min(i, len(all)):min(i+n, len(all))]
	if i+n < len(all) {
		w.Header().Set("Link", fmt.Sprintf(`</v2/pg/app/tags/list?last=%s&n=%d>; rel="next"`, page[len(page)-1], n))
	}
	w.Header().Set("Content-Type", "application/json")
	if r.Method != http.MethodHead {
		_ = json.NewEncoder(w).Encode(map[string]any{"name": "pg/app", "tags": page})
	}
}

func hangUp(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if c, _, err := hj.Hijack(); err == nil {
			c.Close()
			return
		}
	}
	panic(http.ErrAbortHandler)
}

// tagsOf decodes a tag list.
func tagsOf(t *testing.T, body []byte) []string {
	t.Helper()
	var l struct {
		Tags []string `json:"tags"`
	}
	if err := json.Unmarshal(body, &l); err != nil {
		t.Fatalf("tag list %s: %v", body, err)
	}
	return l.Tags
}

// referrerTypes decodes a referrers answer into its artifact types.
func referrerTypes(t *testing.T, body []byte) []string {
	t.Helper()
	var ix struct {
		SchemaVersion int    `json:"schemaVersion"`
		MediaType     string `json:"mediaType"`
		Manifests     []struct {
			ArtifactType string `json:"artifactType"`
		} `json:"manifests"`
	}
	if err := json.Unmarshal(body, &ix); err != nil || ix.SchemaVersion != 2 || ix.MediaType != registrytest.OCIIndex || ix.Manifests == nil {
		t.Fatalf("not an OCI image index: %s (%v)", body, err)
	}
	out := []string{}
	for _, m := range ix.Manifests {
		out = append(out, m.ArtifactType)
	}
	return out
}

// TestMirrorSurface covers what the mirror owes to clients beyond a plain
// pull: pagination, upstream 4xx kept, OCI envelopes, remote selection,
// referrers and blob HEADs. Rows run in order and share the cache.
func TestMirrorSurface(t *testing.T) {
	up := newMirrorUpstream(t)
	in := apptest.Start(t, apptest.NewBackends(t, apptest.Embedded), apptest.Options{Remotes: fmt.Sprintf(`
remotes:
  fake:
    base_url: %q
    package: docker
  other:
    base_url: %q
    package: docker
    registry_host: quay.io
`, up.srv.URL, up.srv.URL)})
	m, l, extra := up.img.Manifest, up.img.Layers[0], up.extra
	ns := url.QueryEscape(up.host())
	link := func(path, last string, n int) string {
		return fmt.Sprintf(`<%s?last=%s&n=%d>; rel="next"`, path, last, n)
	}
	tags := func(want ...string) func(*testing.T, []byte) {
		return func(t *testing.T, b []byte) {
			if got := tagsOf(t, b); strings.Join(got, ",") != strings.Join(want, ",") {
				t.Errorf("tags %v, want %v", got, want)
			}
		}
	}
	referrers := func(want ...string) func(*testing.T, []byte) {
		return func(t *testing.T, b []byte) {
			if got := referrerTypes(t, b); strings.Join(got, ",") != strings.Join(want, ",") {
				t.Errorf("referrers %v, want %v", got, want)
			}
		}
	}
	const none = -1
	tests := []struct {
		name     string
		method   string
		path     string
		hdr      map[string]string
		status   int
		code     string            // OCI error code of a failure
		headers  map[string]string // expected response headers ("" = absent)
		check    func(*testing.T, []byte)
		upstream []string // the requests the upstream gets (nil: not checked)
		count    int      // how many upstream requests (none: not checked)
	}{
		// Tag-list pagination: the upstream's Link, on our path.
		{name: "first page with n", method: "GET", path: "/v2/fake/pg/app/tags/list?n=2", status: 200, check: tags("a", "b"), count: 1,
			headers: map[string]string{"Link": link("/v2/fake/pg/app/tags/list", "b", 2), "Content-Type": "application/json"}},
		{name: "next page from the Link", method: "GET", path: "/v2/fake/pg/app/tags/list?last=b&n=2", status: 200, check: tags("c", "d"), count: 1,
			headers: map[string]string{"Link": link("/v2/fake/pg/app/tags/list", "d", 2)}},
		{name: "last page has no Link", method: "GET", path: "/v2/fake/pg/app/tags/list?last=d&n=2", status: 200, check: tags("e"), count: 1,
			headers: map[string]string{"Link": ""}},
		{name: "cached page keeps its Link", method: "GET", path: "/v2/fake/pg/app/tags/list?n=2", status: 200, check: tags("a", "b"), count: 0,
			headers: map[string]string{"Link": link("/v2/fake/pg/app/tags/list", "b", 2), "X-Artifact-Source": "cache", "Content-Type": "application/json"}},
		{name: "upstream paging without n", method: "GET", path: "/v2/fake/pg/app/tags/list", status: 200, check: tags("a", "b"), count: 1,
			headers: map[string]string{"Link": link("/v2/fake/pg/app/tags/list", "b", 2)}},
		{name: "ns form keeps ns in the Link", method: "GET", path: "/v2/pg/app/tags/list?n=3&ns=" + ns, status: 200, check: tags("a", "b", "c"), count: 1,
			headers: map[string]string{"Link": fmt.Sprintf(`</v2/pg/app/tags/list?last=c&n=3&ns=%s>; rel="next"`, ns)}},
		{name: "HEAD of a page", method: "HEAD", path: "/v2/fake/pg/app/tags/list?n=4", status: 200, count: 1,
			headers: map[string]string{"Link": link("/v2/fake/pg/app/tags/list", "d", 4), "Content-Type": "application/json"}},

		// Upstream 4xx answers keep their meaning.
		{name: "upstream 400 on a manifest", method: "GET", path: "/v2/fake/bad/app/manifests/v1", status: 400, code: "NAME_INVALID", count: 1},
		{name: "upstream 400 on a blob", method: "GET", path: "/v2/fake/bad/app/blobs/" + l.Digest, status: 400, code: "DIGEST_INVALID", count: 1},
		{name: "upstream 400 on a blob HEAD", method: "HEAD", path: "/v2/fake/bad/app/blobs/" + l.Digest, status: 400, count: 1},
		{name: "upstream 403", method: "GET", path: "/v2/fake/forbidden/app/manifests/v1", status: 403, code: "DENIED", count: 1},
		{name: "upstream 404 on a tag list", method: "GET", path: "/v2/fake/gone/app/tags/list", status: 404, code: "NAME_UNKNOWN", count: 1},
		{name: "upstream 405", method: "GET", path: "/v2/fake/method/app/manifests/v1", status: 405, code: "UNSUPPORTED", count: 1},
		{name: "upstream 416", method: "GET", path: "/v2/fake/range/app/blobs/" + l.Digest, status: 416, code: "RANGE_INVALID", count: 1},
		{name: "other upstream 4xx", method: "GET", path: "/v2/fake/conflict/app/manifests/v1", status: 409, code: "UNKNOWN", count: 1},
		{name: "upstream 5xx is a 502", method: "GET", path: "/v2/fake/broken/app/manifests/v1", status: 502, code: "UNKNOWN", count: 1},

		// Blobs: Range advertised, 416 in the envelope, HEADs remembered.
		{name: "blob GET", method: "GET", path: "/v2/fake/ok/app/blobs/" + l.Digest, status: 200, count: 1,
			headers: map[string]string{"Accept-Ranges": "bytes", "Content-Type": "application/octet-stream"}},
		{name: "blob range not satisfiable", method: "GET", path: "/v2/fake/ok/app/blobs/" + l.Digest, hdr: map[string]string{"Range": "bytes=999999-"},
			status: 416, code: "RANGE_INVALID", count: 0, headers: map[string]string{"Content-Range": "bytes */" + strconv.Itoa(len(l.Data))}},
		{name: "cached blob HEAD", method: "HEAD", path: "/v2/fake/ok/app/blobs/" + l.Digest, status: 200, count: 0,
			headers: map[string]string{"Accept-Ranges": "bytes", "Content-Length": strconv.Itoa(len(l.Data))}},
		{name: "uncached blob HEAD asks upstream once", method: "HEAD", path: "/v2/fake/ok/app/blobs/" + extra.Digest, status: 200, count: 1,
			upstream: []string{"HEAD /v2/ok/app/blobs/" + extra.Digest},
			headers:  map[string]string{"Accept-Ranges": "bytes", "Content-Length": strconv.Itoa(len(extra.Data)), "Docker-Content-Digest": extra.Digest, "X-Artifact-Source": "remote"}},
		{name: "and is remembered", method: "HEAD", path: "/v2/fake/ok/app/blobs/" + extra.Digest, status: 200, count: 0,
			headers: map[string]string{"Accept-Ranges": "bytes", "Content-Length": strconv.Itoa(len(extra.Data)), "Docker-Content-Digest": extra.Digest}},

		// Remote selection: a mirrored ns beats a first segment naming another remote.
		{name: "ns of another remote's registry", method: "GET", path: "/v2/fake/img/manifests/v1?ns=quay.io", status: 200, count: 1,
			upstream: []string{"GET /v2/fake/img/manifests/v1"}, headers: map[string]string{"Docker-Content-Digest": m.Digest}},
		{name: "ns of the prefix remote's own registry", method: "GET", path: "/v2/fake/ok/app/manifests/v1?ns=" + ns, status: 200, count: 1,
			upstream: []string{"GET /v2/ok/app/manifests/v1"}},

		// Referrers.
		{name: "referrers from the upstream's API", method: "GET", path: "/v2/fake/ref/api/referrers/" + m.Digest, status: 200, count: 1,
			check: referrers(sigType, sbomType), headers: map[string]string{"Content-Type": registrytest.OCIIndex, "OCI-Filters-Applied": ""}},
		{name: "referrers cached", method: "GET", path: "/v2/fake/ref/api/referrers/" + m.Digest, status: 200, count: 0,
			check: referrers(sigType, sbomType), headers: map[string]string{"X-Artifact-Source": "cache"}},
		{name: "referrers filtered by artifactType", method: "GET", path: "/v2/fake/ref/api/referrers/" + m.Digest + "?artifactType=" + url.QueryEscape(sbomType),
			status: 200, count: 0, check: referrers(sbomType), headers: map[string]string{"OCI-Filters-Applied": "artifactType", "Content-Type": registrytest.OCIIndex}},
		{name: "referrers from the tag schema", method: "GET", path: "/v2/fake/ref/tag/referrers/" + m.Digest, status: 200, count: 2,
			upstream: []string{"GET /v2/ref/tag/referrers/" + m.Digest, "GET /v2/ref/tag/manifests/" + strings.Replace(m.Digest, ":", "-", 1)},
			check:    referrers(sbomType), headers: map[string]string{"Content-Type": registrytest.OCIIndex}},
		{name: "no referrers at all is an empty index", method: "GET", path: "/v2/fake/ref/none/referrers/" + m.Digest, status: 200, count: 2,
			check: referrers(), headers: map[string]string{"Content-Type": registrytest.OCIIndex}},
		{name: "referrers HEAD", method: "HEAD", path: "/v2/fake/ref/none/referrers/" + m.Digest, status: 200, count: 0,
			headers: map[string]string{"Content-Type": registrytest.OCIIndex}},
		{name: "referrers of an invalid digest", method: "GET", path: "/v2/fake/ref/api/referrers/sha256:xyz", status: 400, code: "DIGEST_INVALID", count: 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := up.count()
			resp := in.Do(t, tc.method, tc.path, nil, tc.hdr)
			body := readBody(t, resp)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d; body %s", resp.StatusCode, tc.status, body)
			}
			if v := resp.Header.Get("X-Content-Type-Options"); v != "nosniff" {
				t.Errorf("X-Content-Type-Options = %q", v)
			}
			if tc.code != "" && tc.method != http.MethodHead {
				if ociCode(body) != tc.code || !validEnvelope(body) {
					t.Errorf("body %s, want an OCI error envelope with code %s", body, tc.code)
				}
				if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
					t.Errorf("error Content-Type %q", ct)
				}
			}
			if tc.method == http.MethodHead && len(body) != 0 {
				t.Errorf("HEAD answered %d body bytes", len(body))
			}
			if tc.check != nil {
				tc.check(t, body)
			}
			for k, want := range tc.headers {
				if got := resp.Header.Get(k); got != want {
					t.Errorf("header %s = %q, want %q", k, got, want)
				}
			}
			testenv.Eventually(t, 10*time.Second, "fills to finish", func() bool { return in.App.Engine.InFlight() == 0 })
			got := up.since(before)
			if tc.count != none && len(got) != tc.count {
				t.Errorf("%d upstream requests %v, want %d", len(got), got, tc.count)
			}
			if tc.upstream != nil && strings.Join(got, "\n") != strings.Join(tc.upstream, "\n") {
				t.Errorf("upstream got %v, want %v", got, tc.upstream)
			}
		})
	}
}
