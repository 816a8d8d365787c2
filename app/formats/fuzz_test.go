package formats

import (
	"net/url"
	"regexp"
	"strings"
	"testing"

	"artifactapi/app/config"
)

// FuzzMetadata feeds upstream metadata documents (outside input: any bytes
// an upstream sends) to every format's rewriter and checksum lookup: none
// may panic, a rewrite never links outside the remote's base or the
// document's own hosts, and a digest found is always "<algo>:<hex>" of
// the algorithm's length.
func FuzzMetadata(f *testing.F) {
	seeds := []string{
		`<a href="https://files.pythonhosted.org/packages/a-1.0-py3-none-any.whl#sha256=` + strings.Repeat("ab", 32) + `">a</a>`,
		`{"files":[{"filename":"a-1.0.tar.gz","url":"../../packages/a-1.0.tar.gz","hashes":{"sha256":"` + strings.Repeat("0", 64) + `"}}]}`,
		`{"name":"a","versions":{"1.0.0":{"dist":{"tarball":"https://registry.npmjs.org/a/-/a-1.0.0.tgz","integrity":"sha512-AAAA","shasum":"` + strings.Repeat("f", 40) + `"}}}}`,
		"apiVersion: v1\nentries:\n  a:\n  - urls: [charts/a-1.0.0.tgz, 'https://cdn.example.org/a.tgz']\n",
		strings.Repeat("c", 40) + "  a-1.0.jar\n",
		"",
	}
	for _, s := range seeds {
		f.Add([]byte(s), "application/json")
		f.Add([]byte(s), "text/html")
	}
	remotes := map[string]*config.Remote{}
	for _, pkg := range []string{config.PackageHelm, config.PackagePyPI, config.PackageNPM} {
		file, err := config.ParseRemotes("remotes.yaml", []byte("remotes:\n  r:\n    base_url: https://up.example/base\n    package: "+pkg+"\n    extra_hosts: [cdn.example.org]\n"))
		if err != nil {
			f.Fatal(err)
		}
		remotes[pkg] = file.Remotes["r"]
	}
	digest := regexp.MustCompile(`^(sha512:[0-9a-f]{128}|sha256:[0-9a-f]{64}|sha1:[0-9a-f]{40})$`)
	f.Fuzz(func(t *testing.T, doc []byte, contentType string) {
		for pkg, r := range remotes {
			w := &Rewriter{Remote: r, DocURL: &url.URL{Scheme: "https", Host: "up.example", Path: "/base/doc"}, Base: "https://cache.example/api/r"}
			out, err := w.Rewrite(doc, contentType)
			if err == nil && pkg != config.PackagePyPI && strings.Contains(string(out), "https://cache.example/api/r/_ext/") &&
				!strings.Contains(string(out), "https://cache.example/api/r/_ext/cdn.example.org/") {
				t.Fatalf("%s: a link to a host not allowed was rewritten into the remote:\n%s", pkg, out)
			}
		}
		for _, d := range []string{
			pypiFileDigest(doc, contentType, "a-1.0-py3-none-any.whl"),
			pypiFileDigest(doc, contentType, "a-1.0.tar.gz"),
			npmTarballDigest(doc, "a-1.0.0.tgz"),
			mavenDigest(doc, contentType),
		} {
			if d != "" && !digest.MatchString(d) {
				t.Fatalf("digest %q is not <algo>:<hex>", d)
			}
		}
	})
}
