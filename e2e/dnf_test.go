// Package e2e drives artifactapi with real package clients.
package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"artifactapi/app/apptest"
	"artifactapi/app/testenv"
)

// need fails the test when a client tool is missing (make deps installs them).
func need(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is required (apt-get install dnf createrepo-c rpm, or make deps): %v", tool, err)
		}
	}
}

func run(t *testing.T, dir string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// buildRPM builds a noarch package holding one small file and returns its path.
func buildRPM(t *testing.T, top, name, content string) string {
	t.Helper()
	spec := fmt.Sprintf(`Name: %[1]s
Version: 1.0
Release: 1
Summary: artifactapi test package %[1]s
License: MIT
BuildArch: noarch
AutoReqProv: no

%%description
Test package served through artifactapi.

%%install
mkdir -p %%{buildroot}/usr/share/%[1]s
printf '%%s\n' '%[2]s' > %%{buildroot}/usr/share/%[1]s/README

%%files
/usr/share/%[1]s/README
`, name, content)
	specPath := filepath.Join(top, name+".spec")
	if err := os.WriteFile(specPath, []byte(spec), 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, top, "rpmbuild", "-bb", "--define", "_topdir "+top, specPath)
	rpm := filepath.Join(top, "RPMS", "noarch", name+"-1.0-1.noarch.rpm")
	if _, err := os.Stat(rpm); err != nil {
		t.Fatalf("rpmbuild made no %s: %v", rpm, err)
	}
	return rpm
}

// countingOrigin serves dir and counts GETs per path.
type countingOrigin struct {
	URL  string
	mu   sync.Mutex
	gets map[string]int
}

func serveRepo(t *testing.T, dir string) *countingOrigin {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	o := &countingOrigin{URL: "http://" + ln.Addr().String(), gets: map[string]int{}}
	files := http.StripPrefix("/el/1", http.FileServer(http.Dir(dir)))
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			o.mu.Lock()
			o.gets[r.URL.Path]++
			o.mu.Unlock()
		}
		files.ServeHTTP(w, r)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return o
}

func (o *countingOrigin) count(p string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.gets[p]
}

func (o *countingOrigin) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return fmt.Sprint(o.gets)
}

// dnfClient runs dnf with a private configuration against one repository.
type dnfClient struct {
	t    *testing.T
	dir  string
	args []string
}

// newDNF writes the configuration; extra lines go into the [test] section
// of the .repo file (username=, password=).
func newDNF(t *testing.T, repoURL string, extra ...string) *dnfClient {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{"repos.d", "cache", "root", "downloads"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	conf := "[main]\ngpgcheck=0\nkeepcache=0\ninstall_weak_deps=False\n"
	// dnf keeps its metadata for a day: only --refresh makes it ask again.
	repo := fmt.Sprintf("[test]\nname=test\nbaseurl=%s\ngpgcheck=0\nrepo_gpgcheck=0\nenabled=1\nmetadata_expire=1d\n", repoURL)
	for _, l := range extra {
		repo += l + "\n"
	}
	if err := os.WriteFile(filepath.Join(dir, "dnf.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "repos.d", "test.repo"), []byte(repo), 0o644); err != nil {
		t.Fatal(err)
	}
	return &dnfClient{t: t, dir: dir, args: []string{
		"-c", filepath.Join(dir, "dnf.conf"),
		"--setopt=reposdir=" + filepath.Join(dir, "repos.d"),
		"--setopt=cachedir=" + filepath.Join(dir, "cache"),
		"--setopt=install_weak_deps=False",
		"--installroot=" + filepath.Join(dir, "root"),
		"--releasever=1", "--disablerepo=*", "--enablerepo=test", "-y",
	}}
}

func (d *dnfClient) run(args ...string) string {
	d.t.Helper()
	return run(d.t, d.dir, "dnf", append(append([]string{}, d.args...), args...)...)
}

// try runs dnf and returns its output and error instead of failing the test.
func (d *dnfClient) try(args ...string) (string, error) {
	cmd := exec.Command("dnf", append(append([]string{}, d.args...), args...)...)
	cmd.Dir = d.dir
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// download fetches pkg into an empty download directory and returns its bytes.
func (d *dnfClient) download(pkg string) []byte {
	d.t.Helper()
	dl := filepath.Join(d.dir, "downloads")
	if err := os.RemoveAll(dl); err != nil {
		d.t.Fatal(err)
	}
	out := d.run("install", "--downloadonly", "--downloaddir="+dl, pkg)
	b, err := os.ReadFile(filepath.Join(dl, pkg+"-1.0-1.noarch.rpm"))
	if err != nil {
		d.t.Fatalf("dnf downloaded no %s: %v\n%s", pkg, err, out)
	}
	return b
}

// clearPackages drops every package dnf cached, so the next download asks the proxy.
func (d *dnfClient) clearPackages() {
	d.t.Helper()
	d.run("clean", "packages")
	var left []string
	_ = filepath.Walk(filepath.Join(d.dir, "cache"), func(p string, fi os.FileInfo, err error) error {
		if err == nil && strings.HasSuffix(p, ".rpm") {
			left = append(left, p)
		}
		return nil
	})
	if len(left) > 0 {
		d.t.Fatalf("dnf clean packages left %q", left)
	}
}

// TestDNFThroughRPMRemote refreshes metadata and downloads a package with
// dnf through an rpm remote, then checks that after mutable_ttl the next
// refresh fetches repomd.xml again while the package stays cached.
func TestDNFThroughRPMRemote(t *testing.T) {
	need(t, "rpmbuild", "createrepo_c", "dnf")
	top := t.TempDir()
	repoDir := t.TempDir()
	want := map[string][]byte{}
	for _, name := range []string{"hello-proxy", "other-proxy"} {
		rpm := buildRPM(t, top, name, "served by artifactapi: "+name)
		b, err := os.ReadFile(rpm)
		if err != nil {
			t.Fatal(err)
		}
		want[name] = b
		if err := os.WriteFile(filepath.Join(repoDir, filepath.Base(rpm)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run(t, repoDir, "createrepo_c", repoDir)

	const (
		repomd = "/el/1/repodata/repomd.xml"
		pkg    = "/el/1/hello-proxy-1.0-1.noarch.rpm"
		other  = "/el/1/other-proxy-1.0-1.noarch.rpm"
	)
	for _, mode := range apptest.Modes {
		t.Run(string(mode), func(t *testing.T) {
			origin := serveRepo(t, repoDir)
			remotes := fmt.Sprintf(`remotes:
  almalinux:
    base_url: %q
    type: remote
    package: rpm
    description: "dnf test repository"
    immutable_patterns: [".*\\.rpm$"]
    cache:
      immutable_ttl: 0
      mutable_ttl: 2
`, origin.URL+"/el/1")
			in := apptest.Start(t, apptest.NewBackends(t, mode), apptest.Options{Remotes: remotes})
			dnf := newDNF(t, in.URL+"/api/almalinux/")

			dnf.run("makecache")
			if got := origin.count(repomd); got != 1 {
				t.Fatalf("origin saw repomd.xml %d times after makecache, want 1: %s", got, origin)
			}
			got := dnf.download("hello-proxy")
			if !bytes.Equal(got, want["hello-proxy"]) {
				t.Fatalf("the RPM dnf downloaded through the proxy differs from the origin's (%d vs %d bytes)", len(got), len(want["hello-proxy"]))
			}
			if origin.count(pkg) != 1 || origin.count(repomd) != 1 || origin.count(other) != 0 {
				t.Fatalf("origin requests after the first download: %s", origin)
			}

			// Wait, on the entry itself, until repomd.xml has expired in the proxy.
			meta, err := in.App.Meta.GetArtifact(context.Background(), "almalinux", "repodata/repomd.xml")
			if err != nil {
				t.Fatalf("repomd.xml is not cached: %v", err)
			}
			// The expiry counts from the commit, a little after CachedAt.
			if ttl := meta.ExpiresAt.Sub(meta.CachedAt); meta.Kind != "mutable" || ttl < 2*time.Second || ttl > 3*time.Second {
				t.Fatalf("repomd.xml cached as %s, expiring %s after caching; want mutable for mutable_ttl 2s", meta.Kind, meta.ExpiresAt.Sub(meta.CachedAt))
			}
			testenv.Eventually(t, 10*time.Second, "repomd.xml to expire", func() bool { return time.Now().After(meta.ExpiresAt) })

			dnf.run("makecache", "--refresh")
			if got := origin.count(repomd); got != 2 {
				t.Fatalf("origin saw repomd.xml %d times after the refresh past mutable_ttl, want 2: %s", got, origin)
			}
			dnf.clearPackages()
			got = dnf.download("hello-proxy")
			if !bytes.Equal(got, want["hello-proxy"]) {
				t.Fatal("the RPM served from the proxy's cache differs from the origin's")
			}
			if n := origin.count(pkg); n != 1 {
				t.Fatalf("origin served the package %d times, want 1 (the second download is a cache hit): %s", n, origin)
			}
			if origin.count(other) != 0 {
				t.Fatalf("the package nobody asked for was fetched: %s", origin)
			}
			settle := func() bool { return in.App.Engine.InFlight() == 0 }
			testenv.Eventually(t, 10*time.Second, "downloads to finish", settle)
			hit := false
			for _, l := range strings.Split(in.Logs.String(), "\n") {
				if strings.Contains(l, "Cache HIT") && strings.Contains(l, "hello-proxy-1.0-1.noarch.rpm") {
					hit = true
				}
			}
			if !hit {
				t.Fatalf("no Cache HIT logged for the package:\n%s", in.Logs.String())
			}
		})
	}
}
