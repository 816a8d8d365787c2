package registry_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"artifactapi/app/apptest"
	"artifactapi/app/registry/registrytest"
	"artifactapi/app/testenv"
)

// fakeUpstream is a tiny in-process registry with fixed content and
// failure paths; it counts the requests it gets.
type fakeUpstream struct {
	srv      *httptest.Server
	manifest registrytest.Blob // ok/app:v1 and multi/app for a client without the index type
	index    registrytest.Blob // multi/app:v1 for a client accepting indexes
	layer    registrytest.Blob
	mu       sync.Mutex
	n        int
}

func newFakeUpstream(t *testing.T) *fakeUpstream {
	img := image(t, "linux/amd64", []int{4 << 10}, false)
	ix, err := registrytest.NewIndex([]string{"linux/amd64"}, 1<<10)
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeUpstream{manifest: img.Manifest, index: ix.Manifest, layer: img.Layers[0]}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeUpstream) requests() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.n
}

func (f *fakeUpstream) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.n++
	f.mu.Unlock()
	send := func(b registrytest.Blob) {
		w.Header().Set("Content-Type", b.MediaType)
		w.Header().Set("Docker-Content-Digest", b.Digest)
		w.Header().Set("Content-Length", strconv.Itoa(len(b.Data)))
		if r.Method != http.MethodHead {
			_, _ = w.Write(b.Data)
		}
	}
	p := r.URL.Path
	switch {
	case p == "/v2/ok/app/manifests/v1" || p == "/v2/ok/app/manifests/"+f.manifest.Digest:
		send(f.manifest)
	case p == "/v2/multi/app/manifests/v1" && strings.Contains(r.Header.Get("Accept"), registrytest.OCIIndex):
		send(f.index)
	case p == "/v2/multi/app/manifests/v1":
		send(f.manifest)
	case p == "/v2/ok/app/blobs/"+f.layer.Digest:
		send(registrytest.Blob{MediaType: "application/octet-stream", Digest: f.layer.Digest, Data: f.layer.Data})
	case p == "/v2/ok/app/tags/list":
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"name":"ok/app","tags":["v1"],"n":%q}`, r.URL.Query().Get("n"))
	case p == "/v2/html/app/tags/list":
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, `{"name":"html/app","tags":["<script>alert(1)</script>"]}`)
	case p == "/v2/html/page/manifests/v1":
		// A login page or error page in place of a manifest.
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<html><script>alert(document.cookie)</script></html>`)
	case p == "/v2/html/json/manifests/v1":
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"schemaVersion":2,"mediaType":"text/html","config":{},"layers":[]}`)
	case p == "/v2/html/app/manifests/v1":
		// A real manifest under a wrong type: served with its own mediaType.
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write(f.manifest.Data)
	case strings.HasPrefix(p, "/v2/limited/"):
		w.WriteHeader(http.StatusTooManyRequests)
	case strings.HasPrefix(p, "/v2/private/"):
		w.WriteHeader(http.StatusUnauthorized)
	case strings.HasPrefix(p, "/v2/broken/"):
		w.WriteHeader(http.StatusInternalServerError)
	default:
		w.WriteHeader(http.StatusNotFound)
	}
}

func TestHTTPSurface(t *testing.T) {
	up := newFakeUpstream(t)
	in := apptest.Start(t, apptest.NewBackends(t, apptest.Embedded), apptest.Options{Remotes: fmt.Sprintf(`
remotes:
  fake:
    base_url: %q
    package: docker
  locked:
    base_url: %q
    package: docker
    immutable_patterns: ["^ok/"]
  files:
    base_url: %q
`, up.srv.URL, up.srv.URL, up.srv.URL)})
	m, l := up.manifest, up.layer
	allTypes := strings.Join([]string{registrytest.OCIIndex, registrytest.OCIManifest, registrytest.DockerManifest,
		"application/vnd.docker.distribution.manifest.list.v2+json"}, ", ")
	const none = -1
	tests := []struct {
		name       string
		method     string
		path       string
		hdr        map[string]string
		status     int
		code       string            // OCI error code, "" for a success
		headers    map[string]string // expected response headers ("" = absent)
		body       string            // expected body when not ""
		upstreamed int               // upstream requests this row may make (none: not checked)
	}{
		{name: "base", method: "GET", path: "/v2/", status: 200, body: "{}", upstreamed: 0},
		{name: "base without slash", method: "GET", path: "/v2", status: 200, body: "{}", upstreamed: 0},
		{name: "base HEAD", method: "HEAD", path: "/v2/", status: 200, upstreamed: 0},
		{name: "push: start upload", method: "POST", path: "/v2/fake/ok/app/blobs/uploads/", status: 405, code: "UNSUPPORTED", headers: map[string]string{"Allow": "GET, HEAD"}, upstreamed: 0},
		{name: "push: upload chunk", method: "PATCH", path: "/v2/fake/ok/app/blobs/uploads/3f1c", status: 405, code: "UNSUPPORTED", upstreamed: 0},
		{name: "push: put manifest", method: "PUT", path: "/v2/fake/ok/app/manifests/v1", status: 405, code: "UNSUPPORTED", upstreamed: 0},
		{name: "push: delete manifest", method: "DELETE", path: "/v2/fake/ok/app/manifests/" + m.Digest, status: 405, code: "UNSUPPORTED", upstreamed: 0},
		{name: "push: upload status", method: "GET", path: "/v2/fake/ok/app/blobs/uploads/3f1c", status: 405, code: "UNSUPPORTED", upstreamed: 0},
		{name: "catalog is not served", method: "GET", path: "/v2/_catalog", status: 404, code: "UNSUPPORTED", upstreamed: 0},
		{name: "unknown remote and no default", method: "GET", path: "/v2/nope/app/manifests/v1", status: 404, code: "NAME_UNKNOWN", upstreamed: 0},
		{name: "generic remote is not a registry", method: "GET", path: "/v2/files/x/manifests/v1", status: 404, code: "NAME_UNKNOWN", upstreamed: 0},
		{name: "ns nobody mirrors", method: "GET", path: "/v2/ok/app/manifests/v1?ns=docker.io", status: 404, code: "NAME_UNKNOWN", upstreamed: 0},
		{name: "invalid name", method: "GET", path: "/v2/fake/Ok/App/manifests/v1", status: 400, code: "NAME_INVALID", upstreamed: 0},
		{name: "dot-dot in name", method: "GET", path: "/v2/fake/ok/../app/manifests/v1", status: 400, code: "NAME_INVALID", upstreamed: 0},
		{name: "invalid blob digest", method: "GET", path: "/v2/fake/ok/app/blobs/sha256:xyz", status: 400, code: "DIGEST_INVALID", upstreamed: 0},
		{name: "invalid manifest digest", method: "GET", path: "/v2/fake/ok/app/manifests/sha256:abc", status: 400, code: "DIGEST_INVALID", upstreamed: 0},
		{name: "unsupported digest algorithm", method: "GET", path: "/v2/fake/ok/app/blobs/sha512:" + strings.Repeat("a", 128), status: 400, code: "DIGEST_INVALID", upstreamed: 0},
		{name: "invalid tag", method: "GET", path: "/v2/fake/ok/app/manifests/-bad", status: 404, code: "MANIFEST_UNKNOWN", upstreamed: 0},
		{name: "manifest by tag", method: "GET", path: "/v2/fake/ok/app/manifests/v1", status: 200, body: string(m.Data), upstreamed: 1,
			headers: map[string]string{"Content-Type": m.MediaType, "Docker-Content-Digest": m.Digest, "X-Artifact-Source": "remote", "Content-Disposition": ""}},
		{name: "manifest HEAD from cache", method: "HEAD", path: "/v2/fake/ok/app/manifests/v1", status: 200, upstreamed: 0,
			headers: map[string]string{"Content-Length": strconv.Itoa(len(m.Data)), "Docker-Content-Digest": m.Digest, "X-Artifact-Source": "cache"}},
		{name: "manifest If-None-Match", method: "GET", path: "/v2/fake/ok/app/manifests/v1", hdr: map[string]string{"If-None-Match": `"` + m.Digest + `"`}, status: 304, upstreamed: 0},
		{name: "manifest by digest, filled from the tag just served", method: "GET", path: "/v2/fake/ok/app/manifests/" + m.Digest, status: 200, body: string(m.Data), upstreamed: 0,
			headers: map[string]string{"Docker-Content-Digest": m.Digest}},
		{name: "manifest HEAD on a miss", method: "HEAD", path: "/v2/fake/multi/app/manifests/v1", status: 200, upstreamed: 1,
			headers: map[string]string{"Docker-Content-Digest": up.index.Digest, "Content-Length": strconv.Itoa(len(up.index.Data))}},
		{name: "client without the index type gets the manifest", method: "GET", path: "/v2/fake/multi/app/manifests/v1", hdr: map[string]string{"Accept": registrytest.OCIManifest}, status: 200, upstreamed: 1,
			headers: map[string]string{"Docker-Content-Digest": m.Digest, "Content-Type": registrytest.OCIManifest}},
		{name: "client accepting every type still gets the cached index", method: "GET", path: "/v2/fake/multi/app/manifests/v1", hdr: map[string]string{"Accept": allTypes}, status: 200, upstreamed: 0,
			headers: map[string]string{"Docker-Content-Digest": up.index.Digest, "Content-Type": registrytest.OCIIndex}},
		{name: "client without the index type again, from cache", method: "GET", path: "/v2/fake/multi/app/manifests/v1", hdr: map[string]string{"Accept": registrytest.OCIManifest}, status: 200, upstreamed: 0,
			headers: map[string]string{"Docker-Content-Digest": m.Digest, "X-Artifact-Source": "cache"}},
		{name: "manifest unknown", method: "GET", path: "/v2/fake/ok/missing/manifests/v1", status: 404, code: "MANIFEST_UNKNOWN", upstreamed: 1},
		{name: "blob", method: "GET", path: "/v2/fake/ok/app/blobs/" + l.Digest, status: 200, body: string(l.Data), upstreamed: 1,
			headers: map[string]string{"Docker-Content-Digest": l.Digest, "Content-Type": "application/octet-stream", "Content-Disposition": ""}},
		{name: "blob range from cache", method: "GET", path: "/v2/fake/ok/app/blobs/" + l.Digest, hdr: map[string]string{"Range": "bytes=0-9"}, status: 206, body: string(l.Data[:10]), upstreamed: 0},
		{name: "blob HEAD", method: "HEAD", path: "/v2/fake/ok/app/blobs/" + l.Digest, status: 200, upstreamed: 0,
			headers: map[string]string{"Content-Length": strconv.Itoa(len(l.Data)), "Docker-Content-Digest": l.Digest}},
		{name: "blob unknown", method: "GET", path: "/v2/fake/ok/app/blobs/sha256:" + strings.Repeat("0", 64), status: 404, code: "BLOB_UNKNOWN", upstreamed: 1},
		{name: "tags list", method: "GET", path: "/v2/fake/ok/app/tags/list?n=5&ns=example.org", status: 200, body: `{"name":"ok/app","tags":["v1"],"n":"5"}`, upstreamed: 1},
		{name: "tags list of an unknown repository", method: "GET", path: "/v2/fake/ok/gone/tags/list", status: 404, code: "NAME_UNKNOWN", upstreamed: 1},
		{name: "upstream rate limit", method: "GET", path: "/v2/fake/limited/app/manifests/v1", status: 429, code: "TOOMANYREQUESTS", upstreamed: 1},
		{name: "upstream refuses the credentials", method: "GET", path: "/v2/fake/private/app/manifests/v1", status: 403, code: "DENIED", upstreamed: 1},
		{name: "upstream error", method: "GET", path: "/v2/fake/broken/app/blobs/" + l.Digest, status: 502, code: "UNKNOWN", upstreamed: 1},
		{name: "denied image tag", method: "GET", path: "/v2/locked/other/app/manifests/v1", status: 403, code: "DENIED", upstreamed: 0},
		{name: "denied image blob", method: "GET", path: "/v2/locked/other/app/blobs/" + l.Digest, status: 403, code: "DENIED", upstreamed: 0},
		{name: "allowed image on a restricted remote", method: "GET", path: "/v2/locked/ok/app/manifests/v1", status: 200, upstreamed: 1},
		{name: "an HTML page as a manifest is refused", method: "GET", path: "/v2/fake/html/page/manifests/v1", status: 502, code: "MANIFEST_INVALID", upstreamed: 1,
			headers: map[string]string{"Content-Type": "application/json"}},
		{name: "and is not cached", method: "HEAD", path: "/v2/fake/html/page/manifests/v1", status: 502, code: "MANIFEST_INVALID", upstreamed: 1},
		{name: "a document with an unknown mediaType is refused", method: "GET", path: "/v2/fake/html/json/manifests/v1", status: 502, code: "MANIFEST_INVALID", upstreamed: 1},
		{name: "a manifest served as text/html gets its own media type", method: "GET", path: "/v2/fake/html/app/manifests/v1", status: 200, body: string(m.Data), upstreamed: 1,
			headers: map[string]string{"Content-Type": m.MediaType, "Docker-Content-Digest": m.Digest}},
		{name: "a tag list served as text/html is JSON", method: "GET", path: "/v2/fake/html/app/tags/list", status: 200, upstreamed: 1,
			headers: map[string]string{"Content-Type": "application/json"}},
		{name: "and so is its cached copy", method: "GET", path: "/v2/fake/html/app/tags/list", status: 200, upstreamed: 0,
			headers: map[string]string{"Content-Type": "application/json", "X-Artifact-Source": "cache"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := up.requests()
			resp := in.Do(t, tc.method, tc.path, nil, tc.hdr)
			body := readBody(t, resp)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d; body %s", resp.StatusCode, tc.status, body)
			}
			if v := resp.Header.Get("Docker-Distribution-API-Version"); v != "registry/2.0" {
				t.Errorf("Docker-Distribution-API-Version = %q", v)
			}
			// Never sniffed, never a live document, errors included.
			if v := resp.Header.Get("X-Content-Type-Options"); v != "nosniff" {
				t.Errorf("X-Content-Type-Options = %q", v)
			}
			if v := resp.Header.Get("Content-Security-Policy"); v != "sandbox" {
				t.Errorf("Content-Security-Policy = %q", v)
			}
			if ct := resp.Header.Get("Content-Type"); strings.Contains(ct, "html") {
				t.Errorf("Content-Type = %q", ct)
			}
			if tc.code != "" {
				if tc.method != http.MethodHead && ociCode(body) != tc.code {
					t.Errorf("error body %s, want code %s", body, tc.code)
				}
				if tc.method != http.MethodHead && !validEnvelope(body) {
					t.Errorf("not an OCI error envelope: %s", body)
				}
			}
			if tc.body != "" && string(body) != tc.body {
				t.Errorf("body %q, want %q", body, tc.body)
			}
			if tc.method == http.MethodHead && len(body) != 0 {
				t.Errorf("HEAD answered %d body bytes", len(body))
			}
			for k, want := range tc.headers {
				if got := resp.Header.Get(k); got != want {
					t.Errorf("header %s = %q, want %q", k, got, want)
				}
			}
			// Let fills commit, so the next row sees the cache deterministically.
			testenv.Eventually(t, 10*time.Second, "fills to finish", func() bool { return in.App.Engine.InFlight() == 0 })
			if got := up.requests() - before; tc.upstreamed != none && got != tc.upstreamed {
				t.Errorf("%d upstream requests, want %d", got, tc.upstreamed)
			}
		})
	}
}

func readBody(t *testing.T, resp *http.Response) []byte {
	t.Helper()
	defer resp.Body.Close()
	var sb strings.Builder
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		sb.Write(buf[:n])
		if err != nil {
			return []byte(sb.String())
		}
	}
}

// validEnvelope checks {"errors":[{"code","message","detail"}]}.
func validEnvelope(body []byte) bool {
	var env struct {
		Errors []map[string]json.RawMessage `json:"errors"`
	}
	if json.Unmarshal(body, &env) != nil || len(env.Errors) != 1 {
		return false
	}
	for _, k := range []string{"code", "message", "detail"} {
		if _, ok := env.Errors[0][k]; !ok {
			return false
		}
	}
	return true
}
