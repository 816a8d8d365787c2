package app_test

import (
	"net/http"
	"regexp"
	"testing"
	"time"

	"artifactapi/app/apptest"
	"artifactapi/app/testenv"
)

var pulledCell = regexp.MustCompile(`data-col="pulled">([^<]*)<`)

// TestLocalImageLastPulled: the images screen of a local docker repository
// shows when each tag (and the repository) was last pulled: "—" until a
// client pulls the manifest, then the pull's time (written in batches).
func TestLocalImageLastPulled(t *testing.T) {
	for _, mode := range apptest.Modes {
		t.Run(string(mode), func(t *testing.T) {
			in := apptest.Start(t, apptest.NewBackends(t, mode), apptest.Options{Remotes: "remotes:\n  images:\n    type: local\n    package: docker\n"})
			const repo = "team/app"
			m, _, _ := platformImage(t, in, repo, "amd64", []byte("base layer"))
			pushManifest(t, in, repo, "v1", "application/vnd.oci.image.manifest.v1+json", m)
			d := signInDashboard(t, in, "", apptest.AdminToken)
			cells := func(path string) []string {
				t.Helper()
				resp, body := d.do(http.MethodGet, path, nil, nil)
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("GET %s: %d", path, resp.StatusCode)
				}
				var out []string
				for _, c := range pulledCell.FindAllStringSubmatch(body, -1) {
					out = append(out, c[1])
				}
				return out
			}
			// The remote's page lists the repository and, opened, its tags.
			page := "/ui/remotes/images?repo=" + repo
			if got := cells(page); len(got) != 2 || got[0] != "—" || got[1] != "—" {
				t.Fatalf("before any pull: last pulled cells %q, want the repository's and the tag's, dashes", got)
			}
			if st, _, _ := in.Get(t, "/v2/images/"+repo+"/manifests/v1", apptest.Admin()); st != http.StatusOK {
				t.Fatalf("pull: %d", st)
			}
			testenv.Eventually(t, 15*time.Second, "the repository and the tag to show the pull", func() bool {
				got := cells(page)
				return len(got) == 2 && got[0] != "—" && got[1] != "—"
			})
		})
	}
}
