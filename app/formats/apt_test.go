package formats_test

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"artifactapi/app/apptest"
	"artifactapi/app/testenv"
)

// aptRepo is a signed APT repository the test builds with apt-ftparchive
// and a throwaway gpg key, published on a fakeHost under /debian/.
type aptRepo struct {
	t      *testing.T
	root   string // the repository's files
	gpgEnv []string
	keys   string // the public keyring apt trusts (signed-by)
	byHash bool   // Release says Acquire-By-Hash: yes and by-hash/ exists
}

func newAPTRepo(t *testing.T, byHash bool) *aptRepo {
	t.Helper()
	for _, tool := range [][2]string{{"apt-ftparchive", "apt-utils"}, {"gpg", "gpg"}, {"dpkg-deb", "dpkg"}, {"apt-get", "apt"}} {
		requireTool(t, tool[0], tool[1])
	}
	// gpg-agent's socket path must stay short: not under t.TempDir().
	home, err := os.MkdirTemp("", "gpg")
	if err != nil {
		t.Fatal(err)
	}
	r := &aptRepo{t: t, root: t.TempDir(), gpgEnv: []string{"GNUPGHOME=" + home}, byHash: byHash}
	t.Cleanup(func() {
		runTool(t, home, r.gpgEnv, "gpgconf", "--kill", "gpg-agent")
		os.RemoveAll(home)
	})
	runTool(t, home, r.gpgEnv, "gpg", "--batch", "--passphrase", "", "--quick-gen-key", "artifactapi test <test@example.invalid>", "ed25519", "sign", "never")
	r.keys = filepath.Join(t.TempDir(), "keyring.gpg")
	runTool(t, home, r.gpgEnv, "gpg", "--batch", "--yes", "--output", r.keys, "--export")
	return r
}

// add builds package demo at version into the pool and regenerates the
// suite's indexes, Release, InRelease and Release.gpg.
func (r *aptRepo) add(version string) []byte {
	t := r.t
	t.Helper()
	src := t.TempDir()
	write(t, filepath.Join(src, "DEBIAN", "control"), fmt.Sprintf(
		"Package: demo\nVersion: %s\nArchitecture: all\nMaintainer: test <test@example.invalid>\nDescription: artifactapi test package\n", version))
	write(t, filepath.Join(src, "usr", "share", "demo", "version"), version+"\n")
	deb := filepath.Join(r.root, "pool", "main", "demo_"+version+"_all.deb")
	write(t, deb, "")
	runTool(t, r.root, nil, "dpkg-deb", "--root-owner-group", "--build", src, deb)

	bin := filepath.Join(r.root, "dists", "stable", "main", "binary-amd64")
	packages := runTool(t, r.root, nil, "apt-ftparchive", "packages", "pool")
	write(t, filepath.Join(bin, "Packages"), packages)
	runTool(t, bin, nil, "gzip", "-kf9n", "Packages")
	args := []string{"-o", "APT::FTPArchive::Release::Suite=stable", "-o", "APT::FTPArchive::Release::Codename=stable",
		"-o", "APT::FTPArchive::Release::Architectures=amd64", "-o", "APT::FTPArchive::Release::Components=main"}
	if r.byHash {
		args = append(args, "-o", "APT::FTPArchive::DoByHash=true")
	}
	suite := filepath.Join(r.root, "dists", "stable")
	for _, f := range []string{"Release", "InRelease", "Release.gpg"} {
		os.Remove(filepath.Join(suite, f))
	}
	release := runTool(t, r.root, nil, "apt-ftparchive", append(args, "release", "dists/stable")...)
	write(t, filepath.Join(suite, "Release"), release)
	runTool(t, suite, r.gpgEnv, "gpg", "--batch", "--yes", "--clearsign", "--output", "InRelease", "Release")
	runTool(t, suite, r.gpgEnv, "gpg", "--batch", "--yes", "--armor", "--detach-sign", "--output", "Release.gpg", "Release")
	b, err := os.ReadFile(deb)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// publish puts every file of the repository on host under /debian/.
func (r *aptRepo) publish(host *fakeHost) {
	r.t.Helper()
	err := filepath.WalkDir(r.root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(r.root, p)
		host.put("/debian/"+filepath.ToSlash(rel), b, "")
		return nil
	})
	if err != nil {
		r.t.Fatal(err)
	}
}

func write(t *testing.T, name, body string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

// aptClient is a throwaway apt configuration (APT_CONFIG): its own state,
// cache, sources.list and keyring; nothing of the machine's /etc/apt.
type aptClient struct {
	t   *testing.T
	dir string
	env []string
}

func newAPTClient(t *testing.T, sourcesLine string) *aptClient {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{"state/lists/partial", "cache/archives/partial", "etc/apt.conf.d", "etc/preferences.d", "etc/trusted.gpg.d", "etc/sources.list.d", "log", "work"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write(t, filepath.Join(dir, "status"), "")
	write(t, filepath.Join(dir, "etc", "sources.list"), sourcesLine+"\n")
	write(t, filepath.Join(dir, "apt.conf"), fmt.Sprintf(`Dir::State "%[1]s/state";
Dir::State::status "%[1]s/status";
Dir::Cache "%[1]s/cache";
Dir::Etc "%[1]s/etc";
Dir::Etc::sourceparts "-";
Dir::Log "%[1]s/log";
APT::Architecture "amd64";
APT::Architectures { "amd64"; };
APT::Sandbox::User "root";
Acquire::http::Proxy "DIRECT";
Acquire::Languages "none";
Acquire::Retries "0";
`, dir))
	return &aptClient{t: t, dir: dir, env: []string{"APT_CONFIG=" + filepath.Join(dir, "apt.conf")}}
}

func (c *aptClient) update() string {
	c.t.Helper()
	out := runTool(c.t, c.dir, c.env, "apt-get", "update", "-o", "APT::Update::Error-Mode=any")
	if strings.Contains(out, "W: ") || strings.Contains(out, "E: ") {
		c.t.Fatalf("apt-get update warned:\n%s", out)
	}
	return out
}

// download runs `apt-get download demo=version` and returns the .deb.
func (c *aptClient) download(version string) []byte {
	c.t.Helper()
	work := filepath.Join(c.dir, "work")
	runTool(c.t, work, c.env, "apt-get", "download", "demo="+version)
	b, err := os.ReadFile(filepath.Join(work, "demo_"+version+"_all.deb"))
	if err != nil {
		c.t.Fatal(err)
	}
	return b
}

// TestAPTClient: `apt-get update` + `apt-get download` through an apt
// remote of a signed repository, with plain index paths and with by-hash.
// The cold download goes through artifactapi only, a new version appears
// after mutable_ttl (with plain paths, the cached Packages of the old
// Release must not be served with the new one: apt would reject its hash),
// and everything is served with the upstream stopped.
func TestAPTClient(t *testing.T) {
	for _, mode := range apptest.Modes {
		for _, tc := range []struct {
			name   string
			byHash bool
		}{{"plain", false}, {"by-hash", true}} {
			t.Run(string(mode)+"/"+tc.name, func(t *testing.T) { testAPTClient(t, mode, tc.byHash) })
		}
	}
}

func testAPTClient(t *testing.T, mode apptest.Mode, byHash bool) {
	upstream := newFakeHost(t)
	repo := newAPTRepo(t, byHash)
	v100 := repo.add("1.0.0")
	repo.publish(upstream)

	in := apptest.Start(t, apptest.NewBackends(t, mode), apptest.Options{Remotes: fmt.Sprintf(`
remotes:
  deb:
    base_url: %q
    package: apt
    cache:
      mutable_ttl: 1
`, upstream.URL()+"/debian")})
	sources := fmt.Sprintf("deb [signed-by=%s] %s/api/deb stable main", repo.keys, in.URL)

	client := newAPTClient(t, sources)
	client.update()
	if got := client.download("1.0.0"); !bytes.Equal(got, v100) {
		t.Fatalf("apt-get download 1.0.0: %d bytes differ from the upstream's %d", len(got), len(v100))
	}
	if all, direct := upstream.count("/"); direct != 0 || all == 0 {
		t.Fatalf("upstream: %d requests, %d not from artifactapi; want some and 0", all, direct)
	}
	index := "/debian/dists/stable/main/binary-amd64/"
	if all, _ := upstream.count(index + "by-hash/"); (all > 0) != byHash {
		t.Fatalf("%d by-hash requests; want them only when the Release says Acquire-By-Hash", all)
	}
	if all, _ := upstream.count(index + "Packages"); byHash == (all > 0) {
		t.Fatalf("%d plain Packages requests with by-hash %v", all, byHash)
	}

	// A new version: new Packages, Release and InRelease upstream.
	v110 := repo.add("1.1.0")
	repo.publish(upstream)
	inRelease, err := os.ReadFile(filepath.Join(repo.root, "dists", "stable", "InRelease"))
	if err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 30*time.Second, "InRelease through the remote to be the new one", func() bool {
		_, _, b := in.Get(t, "/api/deb/dists/stable/InRelease", nil)
		return bytes.Equal(b, inRelease)
	})
	client.update()
	if got := client.download("1.1.0"); !bytes.Equal(got, v110) {
		t.Fatal("apt-get download 1.1.0: bytes differ from the upstream's")
	}

	// The upstream stopped: a fresh client gets everything from the cache.
	upstream.stop()
	if _, direct := upstream.count("/"); direct != 0 {
		t.Fatalf("upstream: %d requests not from artifactapi", direct)
	}
	client = newAPTClient(t, sources)
	client.update()
	for v, want := range map[string][]byte{"1.0.0": v100, "1.1.0": v110} {
		if got := client.download(v); !bytes.Equal(got, want) {
			t.Fatalf("apt-get download %s with the upstream stopped: bytes differ", v)
		}
	}
}
