package config

import (
	"strings"
	"testing"
)

// Docker remotes: immutable_patterns restrict images, tags included.
func TestClassifyDockerRestrictsTags(t *testing.T) {
	f, err := ParseRemotes("remotes.yaml", []byte(`
remotes:
  hub:
    base_url: https://registry-1.docker.io
    package: docker
    immutable_patterns: ["^library/nginx"]
    mutable_patterns: ["^extra/list/tags/list$"]
`))
	if err != nil {
		t.Fatal(err)
	}
	r := f.Remotes["hub"]
	dg := "sha256:" + strings.Repeat("ab", 32)
	tests := []struct {
		name string
		path string
		kind string
	}{
		{name: "allowed tag manifest", path: "library/nginx/manifests/latest", kind: "mutable"},
		{name: "allowed tag list", path: "library/nginx/tags/list", kind: "mutable"},
		{name: "allowed blob", path: "library/nginx/blobs/" + dg, kind: "immutable"},
		{name: "denied tag manifest", path: "library/redis/manifests/7", kind: "denied"},
		{name: "denied tag list", path: "library/redis/tags/list", kind: "denied"},
		{name: "denied digest manifest", path: "library/redis/manifests/" + dg, kind: "denied"},
		{name: "user mutable pattern still always served", path: "extra/list/tags/list", kind: "mutable"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if v := r.Classify(tc.path); v.Kind != tc.kind || v.Allowed != (tc.kind != "denied") {
				t.Fatalf("Classify(%q) = %+v, want %s", tc.path, v, tc.kind)
			}
		})
	}
}
