package app_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"artifactapi/app/apptest"
	"artifactapi/app/images"
	"artifactapi/app/testenv"
)

func ociDigest(b []byte) string { return "sha256:" + sha(b) }

// pushBlob uploads data to repo of in's local docker remote "images" in one request.
func pushBlob(t *testing.T, in *apptest.Instance, repo string, data []byte) string {
	t.Helper()
	d := ociDigest(data)
	hdr := apptest.Admin()
	hdr["Content-Type"] = "application/octet-stream"
	resp := in.Do(t, http.MethodPost, "/v2/images/"+repo+"/blobs/uploads/?digest="+d, strings.NewReader(string(data)), hdr)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("blob upload: %d", resp.StatusCode)
	}
	return d
}

func pushManifest(t *testing.T, in *apptest.Instance, repo, ref, mediaType string, body []byte) string {
	t.Helper()
	hdr := apptest.Admin()
	hdr["Content-Type"] = mediaType
	resp := in.Do(t, http.MethodPut, "/v2/images/"+repo+"/manifests/"+ref, strings.NewReader(string(body)), hdr)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("manifest push %s: %d %s", ref, resp.StatusCode, b)
	}
	return ociDigest(body)
}

// platformImage pushes an image of one platform sharing layer base; it
// returns its manifest and the bytes its blobs hold.
func platformImage(t *testing.T, in *apptest.Instance, repo, arch string, base []byte) (manifest []byte, digests []string, size int64) {
	cfg := []byte(`{"architecture":"` + arch + `","os":"linux","rootfs":{"type":"layers"}}`)
	own := []byte("the " + arch + " layer, " + strings.Repeat(arch, 50))
	for _, b := range [][]byte{cfg, base, own} {
		digests = append(digests, pushBlob(t, in, repo, b))
		size += int64(len(b))
	}
	manifest = []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",`+
		`"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":%q,"size":%d},"layers":[`+
		`{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":%q,"size":%d},`+
		`{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":%q,"size":%d}]}`,
		digests[0], len(cfg), digests[1], len(base), digests[2], len(own)))
	return manifest, digests, size
}

var bytesOf = regexp.MustCompile(`data-testid="image-size" data-bytes="(\d+)"`)

// TestDashboardImages: an image index of two platforms pushed to a local
// docker repository, and pulled (one platform) through a docker mirror of
// it, is shown on both screens as repository → tag → digest → platforms →
// layers, with sizes, what the mirror cached, and pull commands; evicting
// the mirror's tag and untagged manifests, and deleting the local tag and
// untagged manifests, remove them (the local registry then answers 404).
func TestDashboardImages(t *testing.T) {
	b := apptest.NewBackends(t, apptest.Production)
	local := "  images:\n    type: local\n    package: docker\n"
	reg := apptest.Start(t, b, apptest.Options{Remotes: "remotes:\n" + local})
	in := apptest.Start(t, b, apptest.Options{Remotes: "remotes:\n" + local +
		fmt.Sprintf("  hub:\n    base_url: %q\n    type: remote\n    package: docker\n", reg.URL)})
	const repo = "team/app"
	base := []byte("a base layer both platforms share " + strings.Repeat("x", 100))
	amd, amdBlobs, amdSize := platformImage(t, reg, repo, "amd64", base)
	arm, armBlobs, armSize := platformImage(t, reg, repo, "arm64", base)
	amdD := pushManifest(t, reg, repo, ociDigest(amd), "application/vnd.oci.image.manifest.v1+json", amd)
	armD := pushManifest(t, reg, repo, ociDigest(arm), "application/vnd.oci.image.manifest.v1+json", arm)
	index := []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[`+
		`{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":%q,"size":%d,"platform":{"os":"linux","architecture":"amd64"}},`+
		`{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":%q,"size":%d,"platform":{"os":"linux","architecture":"arm64","variant":"v8"}}]}`,
		amdD, len(amd), armD, len(arm)))
	indexD := pushManifest(t, reg, repo, "multi", "application/vnd.oci.image.index.v1+json", index)
	total := amdSize + armSize - int64(len(base)) // the shared layer once

	// A client of the mirror pulls the linux/amd64 platform: the index by tag, its manifest, its blobs.
	mirrorPath := "/v2/hub/images/" + repo
	for _, p := range append([]string{"/manifests/multi", "/manifests/" + amdD}, "/blobs/"+amdBlobs[0], "/blobs/"+amdBlobs[1], "/blobs/"+amdBlobs[2]) {
		st, _, body := in.Get(t, mirrorPath+p, map[string]string{"Accept": "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json"})
		if st != http.StatusOK {
			t.Fatalf("pull %s through the mirror: %d %s", p, st, body)
		}
	}
	mirror := images.Mirror{Meta: in.App.Meta, Cache: in.App.Engine}
	ctx := context.Background()
	// The index is indexed by its digest in the background.
	testenv.Eventually(t, 10*time.Second, "the mirror to cache the index by digest", func() bool {
		_, err := in.App.Meta.GetArtifact(ctx, "hub", "images/"+repo+"/manifests/"+indexD)
		return err == nil
	})

	d := signInDashboard(t, in, "", apptest.AdminToken)
	page := func(path string) string {
		t.Helper()
		resp, body := d.do(http.MethodGet, path, nil, nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d\n%s", path, resp.StatusCode, body)
		}
		return body
	}
	host := strings.TrimPrefix(in.URL, "http://")
	regHost := strings.TrimPrefix(reg.URL, "http://")
	tests := []struct {
		name, path string
		size       int64
		want       []string
		not        []string
	}{
		{name: "local repository: both platforms, every layer stored", path: "/ui/remotes/images?" + url.Values{"repo": {repo}, "ref": {"multi"}}.Encode(),
			size: total, want: []string{
				`data-platform="linux/amd64"`, `data-platform="linux/arm64/v8"`, `data-digest="` + indexD + `"`,
				`data-layer="` + armBlobs[2] + `" data-kind="layer" data-state="stored"`,
				`data-layer="` + amdBlobs[0] + `" data-kind="config" data-state="stored"`,
				`value="docker pull ` + host + `/images/team/app:multi"`,
				`value="ctr images pull --plain-http ` + host + `/images/team/app:multi"`,
				`data-testid="rke2-image">` + host + `/images/team/app:multi<`,
				`Run garbage collection`,
			}, not: []string{"not cached"}},
		{name: "mirror: the pulled platform cached, the other's manifest not", path: "/ui/remotes/hub?" + url.Values{"repo": {"images/" + repo}, "ref": {"multi"}}.Encode(),
			size: amdSize, want: []string{
				`data-repo="images/team/app"`, `data-tag="multi"`, `data-platform="linux/amd64"`, `data-platform="linux/arm64/v8"`,
				`data-layer="` + amdBlobs[2] + `" data-kind="layer" data-state="cached"`,
				`data-state="not-cached">manifest not cached`,
				`data-testid="image-held" data-bytes="` + strconv.FormatInt(amdSize, 10) + `"`,
				`value="docker pull ` + host + `/hub/images/team/app:multi"`,
				`&#34;^(.*)$&#34;: &#34;hub/$1&#34;`, `data-testid="rke2-image">` + regHost + `/images/team/app:multi<`,
				`data-snippet="containerd"`, `http://` + host,
			}, not: []string{"Run garbage collection", `data-layer="` + armBlobs[2] + `"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body := page(tc.path)
			for _, w := range tc.want {
				if !strings.Contains(body, w) {
					t.Errorf("missing %s", w)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(body, n) {
					t.Errorf("unexpected %s", n)
				}
			}
			if m := bytesOf.FindStringSubmatch(body); m == nil || m[1] != strconv.FormatInt(tc.size, 10) {
				t.Errorf("image size %v, want %d", m, tc.size)
			}
		})
	}

	post := func(path string, form url.Values) string {
		t.Helper()
		form.Set("_csrf", d.csrf)
		resp, body := d.do(http.MethodPost, path, form, map[string]string{"HX-Request": "true"})
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("POST %s: %d\n%s", path, resp.StatusCode, body)
		}
		return body
	}
	// Mirror: evict the tag, then count and evict what no tag reaches any more.
	post("/ui/remotes/hub/images/tags/delete", url.Values{"repo": {"images/" + repo}, "tag": {"multi"}})
	if tags, err := mirror.Tags(ctx, "hub", "images/"+repo); err != nil || len(tags) != 0 {
		t.Fatalf("tags after evicting multi: %+v, %v", tags, err)
	}
	body := post("/ui/remotes/hub/images/repo", url.Values{"repo": {"images/" + repo}, "what": {"untagged"}})
	if !strings.Contains(body, `data-testid="repo-action-count">5<`) { // index, amd64 manifest, config and two layers
		t.Fatalf("untagged count:\n%s", body)
	}
	post("/ui/remotes/hub/images/repo", url.Values{"repo": {"images/" + repo}, "what": {"untagged"}, "confirm": {"yes"}})
	if repos, err := mirror.Repositories(ctx, "hub"); err != nil || len(repos) != 0 {
		t.Errorf("the mirror still holds %+v (%v)", repos, err)
	}

	// Local: delete the tag, then the untagged manifests: every pull fails.
	post("/ui/remotes/images/images/tags/delete", url.Values{"repo": {repo}, "tag": {"multi"}})
	body = post("/ui/remotes/images/images/repo", url.Values{"repo": {repo}, "what": {"untagged"}})
	if !strings.Contains(body, `data-testid="repo-action-count">3<`) {
		t.Fatalf("untagged count:\n%s", body)
	}
	post("/ui/remotes/images/images/repo", url.Values{"repo": {repo}, "what": {"untagged"}, "confirm": {"yes"}})
	for _, ref := range []string{"multi", indexD, amdD, armD} {
		if st, _, body := reg.Get(t, "/v2/images/"+repo+"/manifests/"+ref, nil); st != http.StatusNotFound || !strings.Contains(string(body), "MANIFEST_UNKNOWN") {
			t.Errorf("%s after the deletion: %d %s", ref, st, body)
		}
	}
	if !strings.Contains(page("/ui/remotes/images"), "Nothing was pushed to this repository yet.") {
		t.Error("the repository is still listed")
	}
	// Both deletions are in the audit log.
	st, _, audit := in.Get(t, "/audit?remote=images", apptest.Admin())
	if st != http.StatusOK || !strings.Contains(string(audit), "team/app (untagged)") || !strings.Contains(string(audit), "team/app:multi") {
		t.Errorf("audit: %d %s", st, audit)
	}
}
