package registry_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"artifactapi/app/registry/registrytest"
	"artifactapi/app/testenv"
)

func (w *world) singleArch(t *testing.T) {
	img := image(t, "linux/amd64", []int{300 << 10, 64 << 10}, true)
	pushImage(t, w.push, "team/app", "v1", img)
	direct := pull(t, w.main.Addr, "team/app:v1")
	w.hubProxy.Reset()
	same(t, direct, pull(t, w.appHost, "hub/team/app:v1"))
	if n := w.hubProxy.Count(http.MethodGet, "blob"); n != 3 {
		t.Errorf("cold pull: %d upstream blob GETs, want 3 (one per blob): %v", n, w.hubProxy.Log())
	}
	if n := w.hubProxy.Count(http.MethodHead, "blob"); n != 0 {
		t.Errorf("cold pull: %d upstream blob HEADs, want none: %v", n, w.hubProxy.Log())
	}
	w.hubProxy.Reset()
	same(t, direct, pull(t, w.appHost, "hub/team/app:v1"))
	if n := w.hubProxy.Total(); n != 0 {
		t.Fatalf("warm pull made %d upstream requests: %v", n, w.hubProxy.Log())
	}
	status, h, body := w.get(t, http.MethodHead, "/v2/hub/team/app/manifests/v1", nil)
	if status != http.StatusOK || len(body) != 0 {
		t.Fatalf("HEAD manifest: %d, %d body bytes", status, len(body))
	}
	for k, want := range map[string]string{
		"Docker-Content-Digest":           img.Manifest.Digest,
		"Content-Length":                  strconv.Itoa(len(img.Manifest.Data)),
		"Content-Type":                    registrytest.DockerManifest,
		"Docker-Distribution-Api-Version": "registry/2.0",
		"X-Artifact-Source":               "cache",
	} {
		if got := h.Get(k); got != want {
			t.Errorf("HEAD manifest %s = %q, want %q", k, got, want)
		}
	}
}

func (w *world) multiArch(t *testing.T) {
	ix, err := registrytest.NewIndex([]string{"linux/amd64", "linux/arm64", "linux/s390x"}, 32<<10)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.push.PushIndex(context.Background(), "team/multi", "v1", ix); err != nil {
		t.Fatal(err)
	}
	direct := pull(t, w.main.Addr, "team/multi:v1", "--all")
	proxied := pull(t, w.appHost, "hub/team/multi:v1", "--all")
	same(t, direct, proxied)
	if !bytes.Equal(proxied["manifest.json"], ix.Manifest.Data) {
		t.Fatalf("index bytes differ from the pushed index")
	}
	status, h, _ := w.get(t, http.MethodGet, "/v2/hub/team/multi/manifests/v1", nil)
	if status != http.StatusOK || h.Get("Docker-Content-Digest") != ix.Manifest.Digest || h.Get("Content-Type") != registrytest.OCIIndex {
		t.Fatalf("index: %d digest %q type %q", status, h.Get("Docker-Content-Digest"), h.Get("Content-Type"))
	}
}

func (w *world) nested(t *testing.T) {
	img := image(t, "linux/arm64", []int{80 << 10}, false)
	pushImage(t, w.push, "org/team/sub/image", "v2", img)
	same(t, pull(t, w.main.Addr, "org/team/sub/image:v2"), pull(t, w.appHost, "hub/org/team/sub/image:v2"))
}

func (w *world) basicAuth(t *testing.T) {
	img := image(t, "linux/amd64", []int{50 << 10}, true)
	pushImage(t, w.pushBasic, "secure/app", "v1", img)
	direct := pull(t, w.basic.Addr, "secure/app:v1", "--src-creds", "puller:s3cret-pass")
	same(t, direct, pull(t, w.appHost, "basicreg/secure/app:v1"))
	// The same upstream without the remote's credentials refuses us.
	status, _, body := w.get(t, http.MethodGet, "/v2/nocreds/secure/app/manifests/v1", nil)
	if status != http.StatusForbidden || ociCode(body) != "DENIED" {
		t.Fatalf("without credentials: %d %s, want 403 DENIED", status, body)
	}
}

func (w *world) bearer(t *testing.T) {
	img := image(t, "linux/amd64", []int{50 << 10, 20 << 10}, false)
	pushImage(t, w.push, "token/app", "v1", img)
	direct := pull(t, w.main.Addr, "token/app:v1")
	same(t, direct, pull(t, w.appHost, "tokenreg/token/app:v1"))
	// One token for the repository, reused for its manifest and every blob.
	if n := w.front.TokenRequests.Load(); n < 1 || n > 2 {
		t.Fatalf("%d token requests for one pull, want 1 (tokens are cached)", n)
	}
	if n := w.tokenProxy.Count(http.MethodGet, "blob"); n != 3 {
		t.Fatalf("%d authorised blob GETs, want 3", n)
	}
	// Tokens are per repository: alternating between two repositories
	// reuses each one's token instead of fetching one per request.
	one := image(t, "linux/amd64", []int{1 << 10, 1 << 10}, false)
	two := image(t, "linux/amd64", []int{1 << 10, 1 << 10}, false)
	pushImage(t, w.push, "token/one", "v1", one)
	pushImage(t, w.push, "token/two", "v1", two)
	before := w.front.TokenRequests.Load()
	for i := range 2 {
		for repo, b := range map[string]registrytest.Blob{"token/one": one.Layers[i], "token/two": two.Layers[i]} {
			// A HEAD on a blob that is not cached always asks the upstream.
			if status, _, _ := w.get(t, http.MethodHead, "/v2/tokenreg/"+repo+"/blobs/"+b.Digest, nil); status != http.StatusOK {
				t.Fatalf("HEAD %s blob: %d", repo, status)
			}
		}
	}
	if n := w.front.TokenRequests.Load() - before; n != 2 {
		t.Fatalf("%d token requests alternating between two repositories, want 2 (one each)", n)
	}
}

// containerdNS emulates containerd with a mirror in hosts.toml: un-prefixed
// paths with ?ns=<registry>, tag resolved with HEAD, then GET by digest.
func (w *world) containerdNS(t *testing.T) {
	img := image(t, "linux/amd64", []int{40 << 10}, false)
	pushImage(t, w.push, "library/nsimg", "1.0", img)
	w.hubProxy.Reset()
	accept := map[string]string{"Accept": strings.Join([]string{registrytest.OCIIndex, registrytest.OCIManifest, registrytest.DockerManifest}, ", ")}
	status, h, _ := w.get(t, http.MethodHead, "/v2/nsimg/manifests/1.0?ns=docker.io", accept)
	if status != http.StatusOK || h.Get("Docker-Content-Digest") != img.Manifest.Digest {
		t.Fatalf("HEAD tag with ns: %d %q", status, h.Get("Docker-Content-Digest"))
	}
	status, _, body := w.get(t, http.MethodGet, "/v2/nsimg/manifests/"+img.Manifest.Digest+"?ns=docker.io", accept)
	if status != http.StatusOK || !bytes.Equal(body, img.Manifest.Data) {
		t.Fatalf("GET manifest by digest with ns: %d", status)
	}
	for _, b := range append([]registrytest.Blob{img.Config}, img.Layers...) {
		status, _, body := w.get(t, http.MethodGet, "/v2/nsimg/blobs/"+b.Digest+"?ns=docker.io", nil)
		if status != http.StatusOK || !bytes.Equal(body, b.Data) {
			t.Fatalf("GET blob %s with ns: %d, %d bytes", b.Digest, status, len(body))
		}
	}
	// The HEAD filled the tag; the by-digest GET was answered from it.
	if n := w.hubProxy.Count("", "manifest"); n != 1 {
		t.Fatalf("%d upstream manifest requests, want 1: %v", n, w.hubProxy.Log())
	}
	other := image(t, "linux/amd64", []int{10 << 10}, false)
	pushImage(t, w.push, "quayorg/tool", "2", other)
	status, h, _ = w.get(t, http.MethodGet, "/v2/quayorg/tool/manifests/2?ns=quay.io", nil)
	if status != http.StatusOK || h.Get("Docker-Content-Digest") != other.Manifest.Digest {
		t.Fatalf("ns=quay.io: %d %q", status, h.Get("Docker-Content-Digest"))
	}
	// A registry no remote mirrors is not answered from another one.
	before := w.hubProxy.Total()
	status, _, body = w.get(t, http.MethodGet, "/v2/nsimg/manifests/1.0?ns=ghcr.io", nil)
	if status != http.StatusNotFound || ociCode(body) != "NAME_UNKNOWN" || w.hubProxy.Total() != before {
		t.Fatalf("ns=ghcr.io: %d %s (upstream requests %d → %d)", status, body, before, w.hubProxy.Total())
	}
}

// dockerdDefault pulls un-prefixed paths as dockerd's registry-mirrors
// sends them: they go to the only remote mirroring docker.io.
func (w *world) dockerdDefault(t *testing.T) {
	img := image(t, "linux/amd64", []int{30 << 10}, true)
	pushImage(t, w.push, "library/busybox", "1", img)
	same(t, pull(t, w.main.Addr, "library/busybox:1"), pull(t, w.appHost, "busybox:1"))
	two := image(t, "linux/amd64", []int{30 << 10}, true)
	pushImage(t, w.push, "someorg/tool", "3", two)
	same(t, pull(t, w.main.Addr, "someorg/tool:3"), pull(t, w.appHost, "someorg/tool:3"))
}

// rke2Prefix pulls the paths an RKE2 `rewrite` of "^(.*)$": "hub/$1" makes.
func (w *world) rke2Prefix(t *testing.T) {
	img := image(t, "linux/amd64", []int{30 << 10}, false)
	pushImage(t, w.push, "library/rkeimg", "1", img)
	direct := pull(t, w.main.Addr, "library/rkeimg:1")
	same(t, direct, pull(t, w.appHost, "hub/library/rkeimg:1"))
	same(t, direct, pull(t, w.appHost, "hub/rkeimg:1"))
}

func (w *world) denied(t *testing.T) {
	img := image(t, "linux/amd64", []int{20 << 10}, false)
	pushImage(t, w.push, "blocked/app", "v1", img)
	pushImage(t, w.push, "allowed/app", "v1", img)
	w.hubProxy.Reset()
	for _, p := range []string{"/manifests/v1", "/manifests/" + img.Manifest.Digest, "/blobs/" + img.Layers[0].Digest, "/tags/list"} {
		for _, m := range []string{http.MethodGet, http.MethodHead} {
			status, h, body := w.get(t, m, "/v2/restricted/blocked/app"+p, nil)
			if status != http.StatusForbidden || (m == http.MethodGet && ociCode(body) != "DENIED") || h.Get("Docker-Distribution-Api-Version") != "registry/2.0" {
				t.Fatalf("%s %s: %d %s, want 403 DENIED", m, p, status, body)
			}
		}
	}
	if _, err := tryPull(t, w.appHost, "restricted/blocked/app:v1"); err == nil {
		t.Fatal("pull of a denied image succeeded")
	}
	if n := w.hubProxy.Total(); n != 0 {
		t.Fatalf("denied image: %d upstream requests: %v", n, w.hubProxy.Log())
	}
	same(t, pull(t, w.main.Addr, "allowed/app:v1"), pull(t, w.appHost, "restricted/allowed/app:v1"))
}

func (w *world) tagMoved(t *testing.T) {
	img1 := image(t, "linux/amd64", []int{20 << 10}, false)
	pushImage(t, w.push, "team/moving", "latest", img1)
	first := pull(t, w.appHost, "moving/team/moving:latest")
	if !bytes.Equal(first["manifest.json"], img1.Manifest.Data) {
		t.Fatal("first pull: wrong manifest")
	}
	manifest := func() (int, string) {
		status, h, _ := w.get(t, http.MethodGet, "/v2/moving/team/moving/manifests/latest", nil)
		return status, h.Get("Docker-Content-Digest")
	}
	// Unchanged upstream: after mutable_ttl a HEAD confirms the digest, no GET.
	w.moveProxy.Reset()
	testenv.Eventually(t, 20*time.Second, "a HEAD revalidation of the tag", func() bool {
		status, d := manifest()
		return status == http.StatusOK && d == img1.Manifest.Digest && w.moveProxy.Count(http.MethodHead, "manifest") > 0
	})
	if n := w.moveProxy.Count(http.MethodGet, "manifest"); n != 0 {
		t.Fatalf("unchanged tag fetched again with GET (%d): %v", n, w.moveProxy.Log())
	}
	img2 := image(t, "linux/amd64", []int{20 << 10}, false)
	pushImage(t, w.push, "team/moving", "latest", img2)
	testenv.Eventually(t, 20*time.Second, "the moved tag's new digest", func() bool {
		status, d := manifest()
		return status == http.StatusOK && d == img2.Manifest.Digest
	})
	same(t, pull(t, w.main.Addr, "team/moving:latest"), pull(t, w.appHost, "moving/team/moving:latest"))
}

func (w *world) corrupted(t *testing.T) {
	img := image(t, "linux/amd64", []int{256 << 10}, false)
	pushImage(t, w.push, "team/corrupt", "v1", img)
	layer := "/v2/flaky/team/corrupt/blobs/" + img.Layers[0].Digest
	w.flakyProxy.SetCorrupt(true)
	if _, err := tryPull(t, w.appHost, "flaky/team/corrupt:v1"); err == nil {
		t.Fatal("pull of a blob corrupted in transit succeeded")
	}
	if !strings.Contains(w.app.Logs.String(), "digest mismatch") {
		t.Fatal("digest mismatch not logged")
	}
	// Nothing cached: a HEAD is still a miss answered by the upstream.
	if status, h, _ := w.get(t, http.MethodHead, layer, nil); status != http.StatusOK || h.Get("X-Artifact-Source") != "remote" {
		t.Fatalf("after the corrupted pull: HEAD %d source %q, want a miss", status, h.Get("X-Artifact-Source"))
	}
	// Fills of blobs the client gave up on finish (and fail) on their own.
	testenv.Eventually(t, 20*time.Second, "the corrupted downloads to end", func() bool { return w.app.App.Engine.InFlight() == 0 })
	w.flakyProxy.SetCorrupt(false)
	same(t, pull(t, w.main.Addr, "team/corrupt:v1"), pull(t, w.appHost, "flaky/team/corrupt:v1"))
	// The client has every byte once the body is verified; the commit follows.
	testenv.Eventually(t, 20*time.Second, "the healthy downloads to commit", func() bool { return w.app.App.Engine.InFlight() == 0 })
	if _, h, _ := w.get(t, http.MethodHead, layer, nil); h.Get("X-Artifact-Source") != "cache" {
		t.Fatalf("after a healthy pull the layer is not cached (source %q)", h.Get("X-Artifact-Source"))
	}
}

func (w *world) concurrent(t *testing.T) {
	img := image(t, "linux/amd64", []int{4 << 20, 1 << 20}, true)
	pushImage(t, w.push, "team/concurrent", "v1", img)
	direct := pull(t, w.main.Addr, "team/concurrent:v1")
	w.hubProxy.Reset()
	const n = 5
	var wg sync.WaitGroup
	errs := make([]error, n)
	got := make([]map[string][]byte, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i], errs[i] = tryPull(t, w.appHost, "hub/team/concurrent:v1")
		}()
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		same(t, direct, got[i])
	}
	if b, m := w.hubProxy.Count(http.MethodGet, "blob"), w.hubProxy.Count("", "manifest"); b != 3 || m != 1 {
		t.Fatalf("%d concurrent cold pulls: %d blob GETs (want 3), %d manifest requests (want 1): %v", n, b, m, w.hubProxy.Log())
	}
}

func (w *world) upstreamStopped(t *testing.T) {
	img := image(t, "linux/amd64", []int{30 << 10}, true)
	pushImage(t, w.pushOutage, "team/app", "v1", img)
	direct := pull(t, w.outage.Addr, "team/app:v1")
	same(t, direct, pull(t, w.appHost, "outage/team/app:v1"))
	w.outage.Stop()
	testenv.Eventually(t, 20*time.Second, "the cached tag served stale", func() bool {
		status, h, _ := w.get(t, http.MethodGet, "/v2/outage/team/app/manifests/v1", nil)
		return status == http.StatusOK && h.Get("X-Artifact-Stale") == "true" && h.Get("Docker-Content-Digest") == img.Manifest.Digest
	})
	same(t, direct, pull(t, w.appHost, "outage/team/app:v1"))
}

// ociCode returns the first error code of an OCI error envelope.
func ociCode(body []byte) string {
	var env struct {
		Errors []struct {
			Code string `json:"code"`
		} `json:"errors"`
	}
	if json.Unmarshal(body, &env) != nil || len(env.Errors) == 0 {
		return ""
	}
	return env.Errors[0].Code
}
