package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"artifactapi/app/apptest"
)

// createToken makes an API token through the management API and returns its secret.
func createToken(t *testing.T, in *apptest.Instance, name string, scopes ...string) string {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"name": name, "owner": "dnf-ci", "owner_kind": "service", "scopes": scopes})
	hdr := apptest.Admin()
	hdr["Content-Type"] = "application/json"
	resp := in.Do(t, http.MethodPost, "/admin/tokens", bytes.NewReader(body), hdr)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out struct{ Token string }
	if resp.StatusCode != http.StatusCreated || json.Unmarshal(b, &out) != nil || out.Token == "" {
		t.Fatalf("create token %s: %d %s", name, resp.StatusCode, b)
	}
	return out.Token
}

// TestDNFWithCredentialsOnScopedRemote: an rpm remote with access: scoped
// is read by dnf with username= and password= (an API token holding read on
// it) in the .repo file; without credentials, or with a token scoped to
// another remote, dnf cannot even load the metadata, and the origin is
// never asked.
func TestDNFWithCredentialsOnScopedRemote(t *testing.T) {
	need(t, "rpmbuild", "createrepo_c", "dnf")
	top, repoDir := t.TempDir(), t.TempDir()
	rpm := buildRPM(t, top, "private-tool", "served to token holders only")
	want, err := os.ReadFile(rpm)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(repoDir, filepath.Base(rpm)), want, 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, repoDir, "createrepo_c", repoDir)

	for _, mode := range apptest.Modes {
		t.Run(string(mode), func(t *testing.T) {
			origin := serveRepo(t, repoDir)
			remotes := fmt.Sprintf(`remotes:
  internal-rpms:
    base_url: %q
    type: remote
    package: rpm
    access: scoped
    immutable_patterns: [".*\\.rpm$"]
  other:
    base_url: %q
    type: remote
    package: rpm
`, origin.URL+"/el/1", origin.URL+"/el/1")
			in := apptest.Start(t, apptest.NewBackends(t, mode), apptest.Options{Remotes: remotes})
			repoURL := in.URL + "/api/internal-rpms/"
			reader := createToken(t, in, "dnf-reader", "read:internal-rpms")
			elsewhere := createToken(t, in, "dnf-elsewhere", "read:other")

			for _, tc := range []struct {
				name  string
				extra []string
				want  string // in dnf's output
			}{
				{name: "no credentials", want: "401"},
				{name: "token for another remote", extra: []string{"username=ci", "password=" + elsewhere}, want: "403"},
				{name: "wrong password", extra: []string{"username=ci", "password=aat_not-a-token"}, want: "401"},
			} {
				out, err := newDNF(t, repoURL, tc.extra...).try("makecache")
				if err == nil {
					t.Fatalf("%s: dnf makecache succeeded on a scoped remote:\n%s", tc.name, out)
				}
				if !strings.Contains(out, tc.want) {
					t.Errorf("%s: dnf failed without naming HTTP %s:\n%s", tc.name, tc.want, out)
				}
			}
			if n := origin.count("/el/1/repodata/repomd.xml"); n != 0 {
				t.Fatalf("the origin was asked %d times for the metadata on behalf of refused clients", n)
			}

			dnf := newDNF(t, repoURL, "username=ci", "password="+reader)
			dnf.run("makecache")
			if got := dnf.download("private-tool"); !bytes.Equal(got, want) {
				t.Fatalf("the RPM dnf downloaded with credentials differs from the origin's (%d vs %d bytes)", len(got), len(want))
			}
		})
	}
}
