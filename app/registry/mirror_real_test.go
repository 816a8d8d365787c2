package registry_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"artifactapi/app/apptest"
	"artifactapi/app/registry/registrytest"
)

// TestMirrorOfRealRegistry checks referrers against the CNCF registry
// (Debian's docker-registry 2.8), which has no referrers API: the referrers
// an image has under the tag schema are listed through the mirror. (That
// registry also ignores n on tags/list, so pagination is tested against the
// in-process upstream of TestMirrorSurface.)
func TestMirrorOfRealRegistry(t *testing.T) {
	ctx := context.Background()
	reg, err := registrytest.StartRegistry(ctx, registrytest.RegistryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(reg.Stop)
	in := apptest.Start(t, apptest.NewBackends(t, apptest.Embedded), apptest.Options{Remotes: fmt.Sprintf(`
remotes:
  hub:
    base_url: %q
    package: docker
    registry_host: docker.io
`, reg.URL)})
	push := &registrytest.Pusher{Base: reg.URL}

	t.Run("referrers from the tag schema", func(t *testing.T) {
		subject := image(t, "linux/amd64", []int{1 << 10}, false)
		sig := image(t, "linux/amd64", []int{64}, false)
		pushImage(t, push, "team/signed", "v1", subject)
		pushImage(t, push, "team/signed", "sig", sig)
		ix, _ := json.Marshal(map[string]any{"schemaVersion": 2, "mediaType": registrytest.OCIIndex, "manifests": []map[string]any{{
			"mediaType": sig.Manifest.MediaType, "digest": sig.Manifest.Digest, "size": len(sig.Manifest.Data), "artifactType": sigType,
		}}})
		tag := strings.Replace(subject.Manifest.Digest, ":", "-", 1)
		if err := push.PushManifest(ctx, "team/signed", tag, registrytest.Blob{MediaType: registrytest.OCIIndex, Data: ix}); err != nil {
			t.Fatal(err)
		}
		resp := in.Do(t, http.MethodGet, "/v2/hub/team/signed/referrers/"+subject.Manifest.Digest, nil, nil)
		body := readBody(t, resp)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != registrytest.OCIIndex {
			t.Fatalf("referrers: %d %q %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
		if got := referrerTypes(t, body); strings.Join(got, ",") != sigType {
			t.Fatalf("referrers %v, want [%s]", got, sigType)
		}
		resp = in.Do(t, http.MethodGet, "/v2/hub/team/signed/referrers/"+sig.Manifest.Digest, nil, nil)
		body = readBody(t, resp)
		if resp.StatusCode != http.StatusOK || len(referrerTypes(t, body)) != 0 {
			t.Fatalf("referrers of an unreferenced digest: %d %s, want an empty index", resp.StatusCode, body)
		}
	})
}
