package formats_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"artifactapi/app/apptest"
	"artifactapi/app/testenv"
)

// helmVersion is the helm client the test builds from the Go module proxy.
const helmVersion = "v3.22.0"

// buildHelm builds helm into a temporary directory (go install of a
// pinned version: helm's dependency tree stays out of go.mod).
func buildHelm(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "install", "helm.sh/helm/v3/cmd/helm@"+helmVersion)
	cmd.Env = append(os.Environ(), "GOBIN="+dir, "GOFLAGS=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("cannot build helm %s (the Go module proxy must be reachable): %v\n%s", helmVersion, err, out)
	}
	return filepath.Join(dir, "helm")
}

// chartPackage builds a chart archive as `helm package` lays it out.
func chartPackage(t *testing.T, name, version string) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	files := map[string]string{
		name + "/Chart.yaml":  fmt.Sprintf("apiVersion: v2\nname: %s\nversion: %s\ndescription: test chart\n", name, version),
		name + "/values.yaml": "replicas: 1\n",
	}
	for _, n := range []string{name + "/Chart.yaml", name + "/values.yaml"} {
		body := files[n]
		if err := tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(body)), ModTime: time.Unix(1700000000, 0)}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// helmChart is one version in a test index.
type helmChart struct {
	version, url string
	body         []byte
}

func helmIndex(name string, charts []helmChart) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: v1\nentries:\n  %s:\n", name)
	for _, c := range charts {
		sum := sha256.Sum256(c.body)
		fmt.Fprintf(&b, "  - apiVersion: v2\n    name: %s\n    version: %s\n    created: \"2026-11-29T00:00:00Z\"\n    digest: %s\n    urls:\n    - %s\n",
			name, c.version, hex.EncodeToString(sum[:]), c.url)
	}
	b.WriteString("generated: \"2026-11-29T00:00:00Z\"\n")
	return []byte(b.String())
}

// TestHelmClient: `helm repo add` + `helm pull` through a helm remote whose
// index names charts relative to itself and on another host of the
// remote's extra_hosts. The cold pull reaches that host only through
// artifactapi, a new version appears after mutable_ttl, and everything
// pulled before is served with both upstream hosts stopped.
func TestHelmClient(t *testing.T) {
	helm := buildHelm(t)
	for _, mode := range apptest.Modes {
		t.Run(string(mode), func(t *testing.T) { testHelmClient(t, helm, mode) })
	}
}

func testHelmClient(t *testing.T, helm string, mode apptest.Mode) {
	repo, cdn := newFakeHost(t), newFakeHost(t)
	v090 := chartPackage(t, "demo", "0.9.0")
	v100 := chartPackage(t, "demo", "1.0.0")
	v110 := chartPackage(t, "demo", "1.1.0")
	charts := []helmChart{
		{version: "0.9.0", url: "charts/demo-0.9.0.tgz", body: v090},
		{version: "1.0.0", url: cdn.URL() + "/pub/demo-1.0.0.tgz", body: v100},
	}
	repo.put("/stable/charts/demo-0.9.0.tgz", v090, "application/gzip")
	cdn.put("/pub/demo-1.0.0.tgz", v100, "application/gzip")
	repo.put("/stable/index.yaml", helmIndex("demo", charts), "text/yaml")

	in := apptest.Start(t, apptest.NewBackends(t, mode), apptest.Options{Remotes: fmt.Sprintf(`
remotes:
  charts:
    base_url: %q
    package: helm
    extra_hosts: [%q]
    cache:
      mutable_ttl: 1
`, repo.URL()+"/stable", cdn.URL())})
	remote := in.URL + "/api/charts"

	pull := func(home, version string) []byte {
		t.Helper()
		env := []string{"HELM_CACHE_HOME=" + home + "/cache", "HELM_CONFIG_HOME=" + home + "/config", "HELM_DATA_HOME=" + home + "/data"}
		out := t.TempDir()
		runTool(t, home, env, helm, "pull", "demo/demo", "--version", version, "-d", out)
		b, err := os.ReadFile(filepath.Join(out, "demo-"+version+".tgz"))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	addRepo := func() string {
		t.Helper()
		home := t.TempDir()
		env := []string{"HELM_CACHE_HOME=" + home + "/cache", "HELM_CONFIG_HOME=" + home + "/config", "HELM_DATA_HOME=" + home + "/data"}
		runTool(t, home, env, helm, "repo", "add", "demo", remote)
		return home
	}

	// Cold: both charts through artifactapi.
	home := addRepo()
	for _, c := range []struct {
		version string
		want    []byte
	}{{"0.9.0", v090}, {"1.0.0", v100}} {
		if got := pull(home, c.version); !bytes.Equal(got, c.want) {
			t.Fatalf("helm pull %s: %d bytes differ from the upstream's %d", c.version, len(got), len(c.want))
		}
	}
	if all, direct := cdn.count("/"); all != 1 || direct != 0 {
		t.Fatalf("extra host: %d requests, %d not from artifactapi; want 1 and 0", all, direct)
	}
	if all, direct := repo.count("/"); direct != 0 || all != 2 {
		t.Fatalf("repository host: %d requests, %d not from artifactapi; want 2 and 0", all, direct)
	}

	// A new version on the extra host appears once mutable_ttl has passed.
	cdn.put("/pub/demo-1.1.0.tgz", v110, "application/gzip")
	charts = append(charts, helmChart{version: "1.1.0", url: cdn.URL() + "/pub/demo-1.1.0.tgz", body: v110})
	repo.put("/stable/index.yaml", helmIndex("demo", charts), "text/yaml")
	testenv.Eventually(t, 30*time.Second, "index.yaml through the remote to list 1.1.0", func() bool {
		_, _, b := in.Get(t, "/api/charts/index.yaml", nil)
		return bytes.Contains(b, []byte("version: 1.1.0"))
	})
	runTool(t, home, []string{"HELM_CACHE_HOME=" + home + "/cache", "HELM_CONFIG_HOME=" + home + "/config", "HELM_DATA_HOME=" + home + "/data"},
		helm, "repo", "update", "demo")
	if got := pull(home, "1.1.0"); !bytes.Equal(got, v110) {
		t.Fatal("helm pull 1.1.0: bytes differ from the upstream's")
	}

	// Both upstream hosts stopped: a fresh client gets everything from the cache.
	repo.stop()
	cdn.stop()
	if _, direct := cdn.count("/"); direct != 0 {
		t.Fatalf("extra host: %d requests not from artifactapi", direct)
	}
	home = addRepo()
	for _, c := range []struct {
		version string
		want    []byte
	}{{"0.9.0", v090}, {"1.0.0", v100}, {"1.1.0", v110}} {
		if got := pull(home, c.version); !bytes.Equal(got, c.want) {
			t.Fatalf("helm pull %s with the upstream stopped: bytes differ", c.version)
		}
	}
}
