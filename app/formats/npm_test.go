package formats_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha1"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"artifactapi/app/apptest"
	"artifactapi/app/testenv"
)

// npmTarball builds a package tarball as `npm pack` lays it out.
func npmTarball(t *testing.T, name, version string) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, f := range []struct{ name, body string }{
		{"package/package.json", fmt.Sprintf(`{"name":%q,"version":%q,"main":"index.js"}`, name, version)},
		{"package/index.js", fmt.Sprintf("module.exports = %q;\n", version)},
	} {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.body)), ModTime: time.Unix(1700000000, 0)}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(f.body)); err != nil {
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

// npmPackage is a package on the test registry.
type npmPackage struct {
	name     string
	versions map[string][]byte // tarballs
}

func integrity(b []byte) string {
	s := sha512.Sum512(b)
	return "sha512-" + base64.StdEncoding.EncodeToString(s[:])
}

func shasum(b []byte) string {
	s := sha1.Sum(b)
	return hex.EncodeToString(s[:])
}

// tarballPath is where the registry serves a version's tarball.
func (p npmPackage) tarballPath(version string) string {
	base := p.name[strings.LastIndex(p.name, "/")+1:]
	return "/" + p.name + "/-/" + base + "-" + version + ".tgz"
}

// publish serves the package's full and abbreviated documents and
// tarballs on h; tarball URLs are absolute on h.
func (p npmPackage) publish(h *fakeHost) {
	full := map[string]any{"_id": p.name, "name": p.name, "description": "a test package"}
	abbrev := map[string]any{"name": p.name, "modified": "2026-11-29T00:00:00.000Z"}
	versions, abVersions := map[string]any{}, map[string]any{}
	latest := ""
	for v, tgz := range p.versions {
		dist := map[string]any{"tarball": h.URL() + p.tarballPath(v), "integrity": integrity(tgz), "shasum": shasum(tgz)}
		versions[v] = map[string]any{"name": p.name, "version": v, "main": "index.js", "dist": dist}
		abVersions[v] = map[string]any{"name": p.name, "version": v, "dist": dist}
		if v > latest {
			latest = v
		}
		h.put(p.tarballPath(v), tgz, "application/octet-stream")
	}
	full["versions"], abbrev["versions"] = versions, abVersions
	full["dist-tags"] = map[string]string{"latest": latest}
	abbrev["dist-tags"] = full["dist-tags"]
	fb, _ := json.Marshal(full)
	ab, _ := json.Marshal(abbrev)
	h.putVariants("/"+p.name, file{body: fb, contentType: "application/json", byAccept: map[string]file{
		"application/vnd.npm.install-v1+json": {body: ab, contentType: "application/vnd.npm.install-v1+json"},
	}})
}

// TestNpmClient: `npm install --registry <remote>` of a package and a
// scoped package through an npm remote; the registry documents name the
// tarballs by absolute URLs on the registry host. npm reaches the registry
// only through artifactapi, integrity and shasum reach it unchanged, a new
// version appears after mutable_ttl, and everything installed before is
// installed again with the registry stopped.
func TestNpmClient(t *testing.T) {
	npm := requireTool(t, "npm", "the npm package")
	for _, mode := range apptest.Modes {
		t.Run(string(mode), func(t *testing.T) { testNpmClient(t, npm, mode) })
	}
}

func testNpmClient(t *testing.T, npm string, mode apptest.Mode) {
	reg := newFakeHost(t)
	plain := npmPackage{name: "demo-npm", versions: map[string][]byte{"1.0.0": npmTarball(t, "demo-npm", "1.0.0")}}
	scoped := npmPackage{name: "@acme/util", versions: map[string][]byte{"2.0.0": npmTarball(t, "@acme/util", "2.0.0")}}
	plain.publish(reg)
	scoped.publish(reg)

	in := apptest.Start(t, apptest.NewBackends(t, mode), apptest.Options{Remotes: fmt.Sprintf(`
remotes:
  npm:
    base_url: %q
    package: npm
    cache:
      mutable_ttl: 1
`, reg.URL())})
	registry := in.URL + "/api/npm/"

	install := func(specs ...string) map[string]any {
		t.Helper()
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "package.json"), []byte(`{"name":"consumer","version":"0.0.0","private":true}`), 0o644); err != nil {
			t.Fatal(err)
		}
		env := []string{"HOME=" + dir, "npm_config_userconfig=" + filepath.Join(dir, "npmrc"), "npm_config_cache=" + filepath.Join(dir, ".npm-cache"),
			"npm_config_update_notifier=false"}
		args := append([]string{"install", "--registry", registry, "--no-audit", "--no-fund", "--prefer-online"}, specs...)
		runTool(t, dir, env, npm, args...)
		b, err := os.ReadFile(filepath.Join(dir, "package-lock.json"))
		if err != nil {
			t.Fatal(err)
		}
		var lock struct {
			Packages map[string]map[string]any `json:"packages"`
		}
		if err := json.Unmarshal(b, &lock); err != nil {
			t.Fatal(err)
		}
		got := map[string]any{}
		for k, v := range lock.Packages {
			got[k] = v
		}
		for _, s := range specs {
			name := s[:strings.LastIndex(s, "@")]
			version := s[strings.LastIndex(s, "@")+1:]
			js, err := os.ReadFile(filepath.Join(dir, "node_modules", name, "index.js"))
			if err != nil || !strings.Contains(string(js), version) {
				t.Fatalf("npm install %s: node_modules/%s/index.js = %q, %v", s, name, js, err)
			}
		}
		return got
	}
	// checkLock: the lock names the remote's tarball URL and the upstream's integrity.
	checkLock := func(lock map[string]any, p npmPackage, version string) {
		t.Helper()
		e, _ := lock["node_modules/"+p.name].(map[string]any)
		if e == nil || e["integrity"] != integrity(p.versions[version]) || e["resolved"] != registry+strings.TrimPrefix(p.tarballPath(version), "/") {
			t.Fatalf("package-lock entry of %s@%s = %v; want integrity %s, resolved through %s", p.name, version, e, integrity(p.versions[version]), registry)
		}
		_, _, b := in.Get(t, "/api/npm"+p.tarballPath(version), nil)
		if !bytes.Equal(b, p.versions[version]) {
			t.Fatalf("tarball of %s@%s through the remote differs from the upstream's", p.name, version)
		}
	}

	lock := install("demo-npm@1.0.0", "@acme/util@2.0.0")
	if _, direct := reg.count("/"); direct != 0 {
		t.Fatalf("registry: %d requests not from artifactapi", direct)
	}
	if all, _ := reg.count("/demo-npm/-/"); all != 1 {
		t.Fatalf("registry: tarball fetched %d times, want 1", all)
	}
	checkLock(lock, plain, "1.0.0")
	checkLock(lock, scoped, "2.0.0")
	// The full document, asked for without the abbreviated type, is its own entry.
	_, hdr, full := in.Get(t, "/api/npm/@acme%2futil", map[string]string{"Accept": "application/json"})
	if !strings.Contains(string(full), `"description":"a test package"`) || !strings.Contains(string(full), `"shasum":"`+shasum(scoped.versions["2.0.0"])+`"`) ||
		!strings.Contains(string(full), `"tarball":"`+registry+"@acme/util/-/util-2.0.0.tgz") {
		t.Fatalf("full document (%s) not rewritten as expected:\n%s", hdr.Get("Content-Type"), full)
	}

	// The abbreviated document (npm 11 asks for it when it inflates an old
	// lockfile; install itself reads the full one) is its own entry, rewritten too.
	_, hdr, corgi := in.Get(t, "/api/npm/@acme%2futil", map[string]string{"Accept": "application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*"})
	if !strings.Contains(hdr.Get("Content-Type"), "application/vnd.npm.install-v1+json") || strings.Contains(string(corgi), "description") ||
		!strings.Contains(string(corgi), `"tarball":"`+registry+"@acme/util/-/util-2.0.0.tgz") ||
		!strings.Contains(string(corgi), `"integrity":"`+integrity(scoped.versions["2.0.0"])+`"`) {
		t.Fatalf("abbreviated document (%s) not served as expected:\n%s", hdr.Get("Content-Type"), corgi)
	}

	// A new version appears once mutable_ttl has passed.
	plain.versions["1.1.0"] = npmTarball(t, "demo-npm", "1.1.0")
	plain.publish(reg)
	// npm asks for the full or the abbreviated document (depending on its
	// version and options): both representations are refreshed.
	for _, accept := range []string{"application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*", "application/json"} {
		testenv.Eventually(t, 30*time.Second, "the document ("+accept+") through the remote to list 1.1.0", func() bool {
			_, _, b := in.Get(t, "/api/npm/demo-npm", map[string]string{"Accept": accept})
			return bytes.Contains(b, []byte(`"1.1.0"`))
		})
	}
	checkLock(install("demo-npm@1.1.0"), plain, "1.1.0")

	// The registry stopped: everything installed before comes from the cache.
	reg.stop()
	if _, direct := reg.count("/"); direct != 0 {
		t.Fatalf("registry: %d requests not from artifactapi", direct)
	}
	lock = install("demo-npm@1.0.0", "@acme/util@2.0.0")
	checkLock(lock, plain, "1.0.0")
	checkLock(lock, scoped, "2.0.0")
	checkLock(install("demo-npm@1.1.0"), plain, "1.1.0")
}
