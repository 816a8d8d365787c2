package registry_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"artifactapi/app/apptest"
	"artifactapi/app/registry/registrytest"
)

// buildCrane builds crane at the version go.mod pins as a tool
// (`go get -tool github.com/google/go-containerregistry/cmd/crane@…`).
func buildCrane(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "crane")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/google/go-containerregistry/cmd/crane").CombinedOutput()
	if err != nil {
		t.Fatalf("cannot build crane (go.mod's tool; the Go module proxy must be reachable): %v\n%s", err, out)
	}
	return bin
}

// craneCLI runs crane with its own docker config directory: credentials
// stored there by `crane auth login` are used for every later command.
type craneCLI struct {
	bin, config string
}

func newCrane(t *testing.T, bin string) *craneCLI {
	return &craneCLI{bin: bin, config: t.TempDir()}
}

// run returns stdout, or an error holding stderr.
func (c *craneCLI) run(args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.bin, args...)
	cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+c.config, "HOME="+c.config)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), &craneError{args: args, err: err, stderr: stderr.String()}
	}
	return stdout.Bytes(), nil
}

func (c *craneCLI) must(t *testing.T, args ...string) []byte {
	t.Helper()
	out, err := c.run(args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

type craneError struct {
	args   []string
	err    error
	stderr string
}

func (e *craneError) Error() string {
	return "crane " + strings.Join(e.args, " ") + ": " + e.err.Error() + "\n" + e.stderr
}

// TestCranePushPull pushes with `crane push` (OCI layouts: an OCI image, a
// Docker schema 2 image, a multi-platform index) and `crane copy` (from
// another registry, and between two local repositories, which crane tries as
// a cross-repository mount) into a local repository with the admin
// credential (`crane auth login`: Basic at the token service), then pulls
// anonymously and compares digests, manifests, every blob and `crane
// export`'s files with what was pushed, on both backends.
func TestCranePushPull(t *testing.T) {
	bin := buildCrane(t)
	ctx := context.Background()
	reg, err := registrytest.StartRegistry(ctx, registrytest.RegistryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(reg.Stop)
	upstreamIx, err := registrytest.NewIndex([]string{"linux/amd64", "linux/arm64"}, 3<<10)
	if err != nil {
		t.Fatal(err)
	}
	if err := (&registrytest.Pusher{Base: reg.URL}).PushIndex(ctx, "elsewhere/multi", "v1", upstreamIx); err != nil {
		t.Fatal(err)
	}
	ociImg := image(t, "linux/amd64", []int{3 << 20, 1000}, false)
	dockerImg := image(t, "linux/arm64", []int{5000}, true)
	ix, err := registrytest.NewIndex([]string{"linux/amd64", "linux/arm64", "linux/s390x"}, 2<<10)
	if err != nil {
		t.Fatal(err)
	}
	for _, mode := range apptest.Modes {
		t.Run(string(mode), func(t *testing.T) {
			in := apptest.Start(t, apptest.NewBackends(t, mode), apptest.Options{Remotes: localRemotes})
			host := registrytest.HostPort(in.URL)
			pusher, anon := newCrane(t, bin), newCrane(t, bin)
			pusher.must(t, "auth", "login", host, "-u", "admin", "-p", apptest.AdminToken)

			t.Run("push without the credential is refused", func(t *testing.T) {
				_, err := anon.run("push", "--insecure", layout(t, ociImg.Manifest, ociImg.Blobs()), host+"/loc/crane/denied:v1")
				if err == nil || !strings.Contains(err.Error(), "UNAUTHORIZED") {
					t.Fatalf("anonymous crane push: %v, want UNAUTHORIZED", err)
				}
			})
			tests := []struct {
				name   string
				push   []string // crane arguments; "{host}" is replaced
				ref    string   // what is pulled back
				images []*registrytest.Image
				index  *registrytest.Index // the pulled reference is this index
			}{
				{name: "crane push: OCI image", ref: "loc/crane/app:v1", images: []*registrytest.Image{ociImg},
					push: []string{"push", layout(t, ociImg.Manifest, ociImg.Blobs()), "{host}/loc/crane/app:v1"}},
				{name: "crane push: Docker schema 2 image", ref: "loc/crane/docker:v1", images: []*registrytest.Image{dockerImg},
					push: []string{"push", layout(t, dockerImg.Manifest, dockerImg.Blobs()), "{host}/loc/crane/docker:v1"}},
				{name: "crane push: multi-platform index", ref: "loc/crane/multi:v1", images: ix.Images, index: ix,
					push: []string{"push", layout(t, ix.Manifest, ix.Blobs()), "{host}/loc/crane/multi:v1"}},
				{name: "crane copy from another registry", ref: "loc/crane/copied:v1", images: upstreamIx.Images, index: upstreamIx,
					push: []string{"copy", reg.Addr + "/elsewhere/multi:v1", "{host}/loc/crane/copied:v1"}},
				{name: "crane copy between local repositories", ref: "loc/other/app:v2", images: []*registrytest.Image{ociImg},
					push: []string{"copy", "{host}/loc/crane/app:v1", "{host}/loc/other/app:v2"}},
			}
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					args := []string{"--insecure"}
					for _, a := range tc.push {
						args = append(args, strings.ReplaceAll(a, "{host}", host))
					}
					pusher.must(t, args...)
					want := tc.images[0].Manifest
					if tc.index != nil {
						want = tc.index.Manifest
					}
					ref := host + "/" + tc.ref
					if got := strings.TrimSpace(string(anon.must(t, "digest", "--insecure", ref))); got != want.Digest {
						t.Errorf("crane digest %s = %s, want %s", ref, got, want.Digest)
					}
					if got := anon.must(t, "manifest", "--insecure", ref); !bytes.Equal(got, want.Data) {
						t.Errorf("crane manifest %s differs from the pushed one:\n%s\nwant\n%s", ref, got, want.Data)
					}
					repo := ref[:strings.LastIndex(ref, ":")] // without the tag
					for _, img := range tc.images {
						checkPulled(t, anon, repo, img, tc.index == nil)
					}
				})
			}
		})
	}
}

// layout writes an OCI layout of top and blobs in a temporary directory.
func layout(t *testing.T, top registrytest.Blob, blobs []registrytest.Blob) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "layout")
	if err := registrytest.WriteLayout(dir, top, blobs); err != nil {
		t.Fatal(err)
	}
	return dir
}

// checkPulled pulls an image of repo by digest: its manifest and every blob
// must be the bytes pushed, and `crane export` (of a single image: export
// of an index picks a platform) must hold each layer's files.
func checkPulled(t *testing.T, c *craneCLI, repo string, img *registrytest.Image, export bool) {
	t.Helper()
	ref := repo + "@" + img.Manifest.Digest
	if got := c.must(t, "manifest", "--insecure", ref); !bytes.Equal(got, img.Manifest.Data) {
		t.Errorf("manifest %s differs", ref)
	}
	want := map[string][]byte{}
	for _, b := range append([]registrytest.Blob{img.Config}, img.Layers...) {
		if got := c.must(t, "blob", "--insecure", repo+"@"+b.Digest); !bytes.Equal(got, b.Data) {
			t.Errorf("blob %s: %d bytes differ from the %d pushed", b.Digest, len(got), len(b.Data))
		}
		if b.Digest == img.Config.Digest {
			continue
		}
		files, err := registrytest.TarFiles(bytes.NewReader(b.Data))
		if err != nil {
			t.Fatal(err)
		}
		for n, f := range files {
			want[n] = f
		}
	}
	if !export {
		return
	}
	out, err := c.run("export", "--insecure", ref, "-")
	if err != nil {
		t.Fatal(err)
	}
	got, err := registrytest.TarFiles(bytes.NewReader(out))
	if err != nil {
		t.Fatalf("crane export %s: %v", ref, err)
	}
	if err := registrytest.SameFiles(want, got); err != nil {
		t.Errorf("crane export %s: %v", ref, err)
	}
}

// TestCraneLogsInToAnAuthenticatedRemote: crane follows the 401 of a docker
// remote with `access: authenticated` to the token service: refused without
// a login, served after `crane auth login` with a user's password.
func TestCraneLogsInToAnAuthenticatedRemote(t *testing.T) {
	bin := buildCrane(t)
	ctx := context.Background()
	reg, err := registrytest.StartRegistry(ctx, registrytest.RegistryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(reg.Stop)
	img := image(t, "linux/amd64", []int{4 << 10}, false)
	if err := (&registrytest.Pusher{Base: reg.URL}).PushImage(ctx, "team/app", "v1", img); err != nil {
		t.Fatal(err)
	}
	in := apptest.Start(t, apptest.NewBackends(t, apptest.Embedded), apptest.Options{
		Remotes: "remotes:\n  private:\n    base_url: \"" + reg.URL + "\"\n    package: docker\n    access: authenticated\n"})
	resp := in.Do(t, "POST", "/admin/users", strings.NewReader(`{"name":"dev","password":"correct horse battery","scopes":["read:private"]}`),
		map[string]string{"Authorization": "Bearer " + apptest.AdminToken, "Content-Type": "application/json"})
	resp.Body.Close()
	if resp.StatusCode != 201 {
		t.Fatalf("create user: %d", resp.StatusCode)
	}
	host := registrytest.HostPort(in.URL)
	ref := host + "/private/team/app:v1"
	anon := newCrane(t, bin)
	if _, err := anon.run("digest", "--insecure", ref); err == nil || !strings.Contains(err.Error(), "UNAUTHORIZED") {
		t.Fatalf("crane digest without a login: %v, want UNAUTHORIZED", err)
	}
	dev := newCrane(t, bin)
	dev.must(t, "auth", "login", host, "-u", "dev", "-p", "correct horse battery")
	got := strings.TrimSpace(string(dev.must(t, "digest", "--insecure", ref)))
	if got != img.Manifest.Digest {
		t.Fatalf("digest through the authenticated remote %s, want %s", got, img.Manifest.Digest)
	}
	manifest := dev.must(t, "manifest", "--insecure", ref)
	if !bytes.Equal(manifest, img.Manifest.Data) {
		t.Fatal("the manifest pulled after login differs from the upstream's")
	}
}
