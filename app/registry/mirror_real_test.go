package registry_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"

	"artifactapi/app/apptest"
	"artifactapi/app/registry/registrytest"
)

// TestMirrorOfRealRegistry checks the mirror of the CNCF registry (Debian's
// docker-registry 2.8), which has no referrers API and ignores n and last on
// tags/list: the referrers an image has under the tag schema are listed
// through the mirror, and the mirror pages the tag list itself. (Relaying
// an upstream's own pages is tested by TestMirrorSurface.)
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

	t.Run("tag list paged by the mirror", func(t *testing.T) {
		img := image(t, "linux/amd64", []int{64}, false)
		// Pushed in an order that is not lexical: docker-registry lists
		// tags in its own order.
		for _, tag := range []string{"c", "a", "e", "b", "d"} {
			pushImage(t, push, "team/paged", tag, img)
		}
		tests := []struct {
			name     string
			query    string
			want     []string
			wantLink string
		}{
			{name: "no parameters: every tag", query: "", want: []string{"a", "b", "c", "d", "e"}},
			{name: "n: the first page and a link", query: "?n=2", want: []string{"a", "b"},
				wantLink: `</v2/hub/team/paged/tags/list?last=b&n=2>; rel="next"`},
			{name: "n and last: a middle page", query: "?n=2&last=b", want: []string{"c", "d"},
				wantLink: `</v2/hub/team/paged/tags/list?last=d&n=2>; rel="next"`},
			{name: "the last page has no link", query: "?n=2&last=d", want: []string{"e"}},
			{name: "n covering the rest: no link", query: "?n=3&last=b", want: []string{"c", "d", "e"}},
			{name: "last only: every later tag", query: "?last=c", want: []string{"d", "e"}},
			{name: "last after every tag: empty", query: "?last=z", want: []string{}},
			{name: "n=0: empty", query: "?n=0", want: []string{}},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				code, hdr, body := in.Get(t, "/v2/hub/team/paged/tags/list"+tc.query, nil)
				var list struct {
					Name string   `json:"name"`
					Tags []string `json:"tags"`
				}
				if code != http.StatusOK || json.Unmarshal(body, &list) != nil || list.Name != "team/paged" {
					t.Fatalf("tags/list%s: %d %s", tc.query, code, body)
				}
				got := append([]string{}, list.Tags...)
				if tc.query == "" {
					sort.Strings(got) // without n or last the upstream's order is kept
				}
				if strings.Join(got, ",") != strings.Join(tc.want, ",") {
					t.Errorf("tags %v, want %v", list.Tags, tc.want)
				}
				if got := hdr.Get("Link"); got != tc.wantLink {
					t.Errorf("Link %q, want %q", got, tc.wantLink)
				}
			})
		}
	})
}
