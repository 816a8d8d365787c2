package formats

import (
	"strings"
	"testing"
)

func TestResolveNPM(t *testing.T) {
	r := testRemote(t, "remotes:\n  r:\n    base_url: https://registry.npmjs.org\n    package: npm\n")
	const corgi = "application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*"
	tests := []struct {
		name, path, accept string
		want               Resolved
		kind               string
	}{
		{"document", "lodash", "application/json", Resolved{Path: "lodash", Rewrite: true, Accept: "application/json"}, "mutable"},
		{"document, no Accept", "lodash", "", Resolved{Path: "lodash", Rewrite: true, Accept: "application/json"}, "mutable"},
		{"abbreviated document", "lodash", corgi, Resolved{Path: "lodash", Variant: "abbreviated", Rewrite: true, Accept: corgi}, "mutable"},
		{"scoped document", "@types/node", corgi, Resolved{Path: "@types/node", Variant: "abbreviated", Rewrite: true, Accept: corgi}, "mutable"},
		{"tarball", "lodash/-/lodash-4.17.21.tgz", corgi, Resolved{Path: "lodash/-/lodash-4.17.21.tgz"}, "immutable"},
		{"scoped tarball", "@types/node/-/node-20.0.0.tgz", "", Resolved{Path: "@types/node/-/node-20.0.0.tgz"}, "immutable"},
		{"registry endpoint", "-/ping", "", Resolved{Path: "-/ping"}, "mutable"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Resolve(r, Request{Path: tc.path, Accept: tc.accept}); got != tc.want {
				t.Fatalf("Resolve(%q, %q) = %+v, want %+v", tc.path, tc.accept, got, tc.want)
			}
			if v := r.Classify(tc.path); v.Kind != tc.kind {
				t.Fatalf("%s classified %s, want %s", tc.path, v.Kind, tc.kind)
			}
		})
	}
	if k := (Resolved{Path: "lodash", Variant: "abbreviated"}).Key(); k != "lodash?accept=abbreviated" {
		t.Fatalf("Key() = %q", k)
	}
	// A local repository serves its uploads as they are.
	local := testRemote(t, "remotes:\n  r:\n    type: local\n    package: npm\n")
	if got := Resolve(local, Request{Path: "lodash", Accept: corgi}); got != (Resolved{Path: "lodash"}) {
		t.Fatalf("local: Resolve = %+v", got)
	}
}

func TestNPMRewrite(t *testing.T) {
	r := testRemote(t, `
remotes:
  r:
    base_url: https://registry.npmjs.org
    package: npm
    extra_hosts: ["npm.pkg.example.com"]
`)
	const integ = "sha512-AAAA+/=="
	in := `{"_id":"@s/x","name":"@s/x","dist-tags":{"latest":"1.0.0"},"time":{"1.0.0":"2026-01-01T00:00:00.000Z"},` +
		`"versions":{"1.0.0":{"name":"@s/x","version":"1.0.0","engines":{"node":">=18 <22"},"dist":{"tarball":"https://registry.npmjs.org/@s/x/-/x-1.0.0.tgz","integrity":"` + integ + `","shasum":"abc","signatures":[{"keyid":"k","sig":"s"}]}},` +
		`"0.9.0":{"name":"@s/x","version":"0.9.0","dist":{"tarball":"https://npm.pkg.example.com/x-0.9.0.tgz","shasum":"def"}},` +
		`"0.8.0":{"name":"@s/x","version":"0.8.0","dist":{"tarball":"https://elsewhere.example/x-0.8.0.tgz"}}}}`
	out, err := rewriter(t, r, "@s/x").Rewrite([]byte(in), "application/json")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`"tarball":"https://cache.example/api/r/@s/x/-/x-1.0.0.tgz"`,
		`"tarball":"https://cache.example/api/r/_ext/npm.pkg.example.com/x-0.9.0.tgz"`,
		`"tarball":"https://elsewhere.example/x-0.8.0.tgz"`,
		`"integrity":"` + integ + `"`, `"shasum":"abc"`, `"shasum":"def"`, `"signatures":[{"keyid":"k","sig":"s"}]`,
		`"engines":{"node":">=18 <22"}`, `"dist-tags":{"latest":"1.0.0"}`, `"time":{"1.0.0":"2026-01-01T00:00:00.000Z"}`,
	} {
		if !strings.Contains(string(out), want) {
			t.Fatalf("%s missing from\n%s", want, out)
		}
	}
	for _, bad := range []string{`{"versions":[]}`, `{"versions":{"1.0.0":{"dist":{"tarball":1}}}}`, `not json`} {
		if _, err := rewriter(t, r, "x").Rewrite([]byte(bad), "application/json"); err == nil {
			t.Fatalf("malformed document %s was rewritten", bad)
		}
	}
}
