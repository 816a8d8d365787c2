package formats_test

import (
	"testing"

	"artifactapi/app/config"
	"artifactapi/app/formats"
)

// TestAPTPaths: the built-in classification of an apt remote and the index
// files a suite's Release change evicts.
func TestAPTPaths(t *testing.T) {
	f, err := config.ParseRemotes("remotes.yaml", []byte("remotes:\n  deb:\n    base_url: http://deb.example/debian\n    package: apt\n"))
	if err != nil {
		t.Fatal(err)
	}
	r := f.Remotes["deb"]
	for _, tc := range []struct {
		name, path, kind string
		suite            string // APTSuite's dir, "" when not a Release file
		index            bool   // evicted with dists/bookworm/
	}{
		{name: "InRelease", path: "dists/bookworm/InRelease", kind: "mutable", suite: "dists/bookworm/"},
		{name: "Release", path: "dists/bookworm/Release", kind: "mutable", suite: "dists/bookworm/"},
		{name: "Release.gpg", path: "dists/bookworm/Release.gpg", kind: "mutable", suite: "dists/bookworm/"},
		{name: "nested suite", path: "debian/dists/bookworm-updates/InRelease", kind: "mutable", suite: "debian/dists/bookworm-updates/"},
		{name: "Packages", path: "dists/bookworm/main/binary-amd64/Packages.xz", kind: "immutable", index: true},
		{name: "Sources", path: "dists/bookworm/main/source/Sources.gz", kind: "immutable", index: true},
		{name: "Contents", path: "dists/bookworm/main/Contents-amd64.gz", kind: "immutable", index: true},
		{name: "Translation", path: "dists/bookworm/main/i18n/Translation-en", kind: "immutable", index: true},
		{name: "by-hash", path: "dists/bookworm/main/binary-amd64/by-hash/SHA256/0a1b", kind: "immutable"},
		{name: "pool", path: "pool/main/h/hello/hello_2.10-3_amd64.deb", kind: "immutable"},
		{name: "other suite", path: "dists/trixie/main/binary-amd64/Packages", kind: "immutable"},
		{name: "Release outside dists", path: "pool/Release", kind: "immutable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if v := r.Classify(tc.path); !v.Allowed || v.Kind != tc.kind {
				t.Errorf("Classify(%q) = %+v, want allowed %s", tc.path, v, tc.kind)
			}
			dir, ok := formats.APTSuite(tc.path)
			if ok != (tc.suite != "") || dir != tc.suite {
				t.Errorf("APTSuite(%q) = %q, %v; want %q", tc.path, dir, ok, tc.suite)
			}
			if got := formats.APTSuiteIndex("dists/bookworm/", tc.path); got != tc.index {
				t.Errorf("APTSuiteIndex(dists/bookworm/, %q) = %v, want %v", tc.path, got, tc.index)
			}
		})
	}
}
