package config

import "testing"

// Go remotes: the GOPROXY protocol's and the checksum database's mutable
// answers; everything else is immutable.
func TestClassifyGo(t *testing.T) {
	f, err := ParseRemotes("remotes.yaml", []byte(`
remotes:
  gomods:
    base_url: https://proxy.golang.org
    package: go
`))
	if err != nil {
		t.Fatal(err)
	}
	r := f.Remotes["gomods"]
	tests := []struct {
		name string
		path string
		kind string
	}{
		{name: "version list", path: "github.com/!burnt!sushi/toml/@v/list", kind: "mutable"},
		{name: "latest", path: "golang.org/x/mod/@latest", kind: "mutable"},
		{name: "info", path: "golang.org/x/mod/@v/v0.42.0.info", kind: "immutable"},
		{name: "mod", path: "golang.org/x/mod/@v/v0.42.0.mod", kind: "immutable"},
		{name: "zip", path: "golang.org/x/mod/@v/v0.42.0.zip", kind: "immutable"},
		{name: "module named list", path: "example.com/list/@v/v1.0.0.info", kind: "immutable"},
		{name: "sumdb supported", path: "sumdb/sum.golang.org/supported", kind: "mutable"},
		{name: "sumdb latest", path: "sumdb/sum.golang.org/latest", kind: "mutable"},
		{name: "sumdb lookup", path: "sumdb/sum.golang.org/lookup/golang.org/x/mod@v0.42.0", kind: "immutable"},
		{name: "sumdb full tile", path: "sumdb/sum.golang.org/tile/8/0/x123/456", kind: "immutable"},
		{name: "sumdb full data tile", path: "sumdb/sum.golang.org/tile/8/data/x123/456", kind: "immutable"},
		{name: "sumdb partial tile", path: "sumdb/sum.golang.org/tile/8/0/x123/457.p/12", kind: "mutable"},
		{name: "sumdb partial data tile", path: "sumdb/sum.golang.org/tile/8/data/000.p/3", kind: "mutable"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if v := r.Classify(tc.path); v.Kind != tc.kind || !v.Allowed {
				t.Fatalf("Classify(%q) = %+v, want %s", tc.path, v, tc.kind)
			}
		})
	}
}
