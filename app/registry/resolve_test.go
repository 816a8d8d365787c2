package registry

import (
	"strings"
	"testing"

	"artifactapi/app/cache"
	"artifactapi/app/config"
	"artifactapi/app/oci"
)

func parse(t *testing.T, yaml string) *config.File {
	t.Helper()
	f, err := config.ParseRemotes("remotes.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

const manyRemotes = `
remotes:
  dockerhub:
    base_url: https://registry-1.docker.io
    package: docker
  ghcr:
    base_url: https://ghcr.io
    package: docker
  quay:
    base_url: https://mirror.internal
    package: docker
    registry_host: quay.io
  github:
    base_url: https://github.com
`

func TestResolve(t *testing.T) {
	many := parse(t, manyRemotes)
	withDefault := parse(t, manyRemotes+"default_docker_remote: ghcr\n")
	twoHubs := parse(t, `
remotes:
  hub-a:
    base_url: https://registry-1.docker.io
    package: docker
  hub-b:
    base_url: https://index.docker.io
    package: docker
`)
	tests := []struct {
		name       string
		f          *config.File
		path, ns   string
		wantRemote string
		wantName   string
		wantCode   string
	}{
		{name: "rke2 prefix", f: many, path: "dockerhub/library/nginx", wantRemote: "dockerhub", wantName: "library/nginx"},
		{name: "prefix adds library/", f: many, path: "dockerhub/nginx", wantRemote: "dockerhub", wantName: "library/nginx"},
		{name: "prefix on a non-hub remote keeps one component", f: many, path: "ghcr/tool", wantRemote: "ghcr", wantName: "tool"},
		{name: "prefix with ns of its own registry", f: many, path: "ghcr/owner/img", ns: "ghcr.io", wantRemote: "ghcr", wantName: "owner/img"},
		{name: "prefix with ns of its registry_host", f: many, path: "quay/org/img", ns: "quay.io", wantRemote: "quay", wantName: "org/img"},
		{name: "a mirrored ns wins over a segment naming another remote", f: many, path: "ghcr/owner/img", ns: "docker.io", wantRemote: "dockerhub", wantName: "ghcr/owner/img"},
		{name: "ns of quay with a first segment naming dockerhub", f: many, path: "dockerhub/img", ns: "quay.io", wantRemote: "quay", wantName: "dockerhub/img"},
		{name: "prefix when nobody mirrors ns", f: many, path: "ghcr/owner/img", ns: "registry.k8s.io", wantRemote: "ghcr", wantName: "owner/img"},
		{name: "ns docker.io", f: many, path: "library/nginx", ns: "docker.io", wantRemote: "dockerhub", wantName: "library/nginx"},
		{name: "ns docker.io one component", f: many, path: "nginx", ns: "docker.io", wantRemote: "dockerhub", wantName: "library/nginx"},
		{name: "ns from base_url host", f: many, path: "owner/img", ns: "ghcr.io", wantRemote: "ghcr", wantName: "owner/img"},
		{name: "ns from registry_host", f: many, path: "org/img", ns: "QUAY.IO", wantRemote: "quay", wantName: "org/img"},
		{name: "ns nobody mirrors", f: many, path: "owner/img", ns: "registry.k8s.io", wantCode: CodeNameUnknown},
		{name: "un-prefixed goes to the only docker.io mirror", f: many, path: "owner/img", wantRemote: "dockerhub", wantName: "owner/img"},
		{name: "un-prefixed one component", f: many, path: "alpine", wantRemote: "dockerhub", wantName: "library/alpine"},
		{name: "default_docker_remote", f: withDefault, path: "owner/img", wantRemote: "ghcr", wantName: "owner/img"},
		{name: "two docker.io mirrors and no default", f: twoHubs, path: "owner/img", wantCode: CodeNameUnknown},
		{name: "ns with two mirrors takes the first by name", f: twoHubs, path: "owner/img", ns: "docker.io", wantRemote: "hub-a", wantName: "owner/img"},
		{name: "non-docker first segment is part of the name", f: many, path: "github/owner/img", wantRemote: "dockerhub", wantName: "github/owner/img"},
		{name: "remote name alone is a name", f: many, path: "ghcr", wantRemote: "dockerhub", wantName: "library/ghcr"},
		{name: "invalid name", f: many, path: "dockerhub/Owner/Img", wantCode: CodeNameInvalid},
		{name: "empty component", f: many, path: "dockerhub/a//b", wantCode: CodeNameInvalid},
		{name: "dot-dot", f: many, path: "dockerhub/../x", wantCode: CodeNameInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Resolve(tc.f, tc.path, tc.ns)
			if tc.wantCode != "" {
				if err == nil || err.Code != tc.wantCode {
					t.Fatalf("Resolve(%q, ns=%q) = %+v, %v; want %s", tc.path, tc.ns, got, err, tc.wantCode)
				}
				return
			}
			if err != nil {
				t.Fatalf("Resolve(%q, ns=%q): %v", tc.path, tc.ns, err)
			}
			if got.Remote.Name != tc.wantRemote || got.Name != tc.wantName {
				t.Fatalf("Resolve(%q, ns=%q) = %s %s, want %s %s", tc.path, tc.ns, got.Remote.Name, got.Name, tc.wantRemote, tc.wantName)
			}
		})
	}
}

func TestNegotiate(t *testing.T) {
	all := strings.Join(oci.ManifestTypes, ", ")
	art := func(mt string) cache.Artifact { return cache.Artifact{ContentType: mt} }
	tests := []struct {
		name       string
		accept     []string
		upstream   string
		variant    string
		acceptable map[string]bool // media type → acceptable (nil: any)
	}{
		{name: "no Accept", upstream: all},
		{name: "wildcard", accept: []string{"*/*"}, upstream: all},
		{name: "all four in one header", accept: []string{all}, upstream: all,
			acceptable: map[string]bool{oci.MediaTypeOCIIndex: true, oci.MediaTypeDockerSchema1: false}},
		{name: "all four in separate headers plus schema1", accept: append(append([]string{}, oci.ManifestTypes...), oci.MediaTypeDockerSchema1),
			upstream:   all + ", " + oci.MediaTypeDockerSchema1,
			acceptable: map[string]bool{oci.MediaTypeDockerSchema1: true, oci.MediaTypeOCIManifest: true}},
		{name: "restrictive client gets its own Accept", accept: []string{oci.MediaTypeDockerManifest + "; q=0.9", oci.MediaTypeOCIManifest},
			upstream:   oci.MediaTypeDockerManifest + ", " + oci.MediaTypeOCIManifest,
			variant:    oci.MediaTypeDockerManifest + "," + oci.MediaTypeOCIManifest,
			acceptable: map[string]bool{oci.MediaTypeDockerManifest: true, oci.MediaTypeOCIIndex: false, oci.MediaTypeDockerManifestList: false}},
		{name: "content type parameters ignored", accept: []string{oci.MediaTypeOCIManifest},
			upstream: oci.MediaTypeOCIManifest, variant: oci.MediaTypeOCIManifest, acceptable: map[string]bool{oci.MediaTypeOCIManifest + "; charset=utf-8": true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			up, variant, ok := negotiate(tc.accept)
			if up != tc.upstream || variant != tc.variant {
				t.Fatalf("negotiate = %q, variant %q; want %q, %q", up, variant, tc.upstream, tc.variant)
			}
			if tc.acceptable == nil {
				if ok != nil {
					t.Fatal("acceptable should be nil (any type)")
				}
				return
			}
			for mt, want := range tc.acceptable {
				if got := ok(art(mt)); got != want {
					t.Errorf("acceptable(%s) = %v, want %v", mt, got, want)
				}
			}
		})
	}
}

func TestManifestType(t *testing.T) {
	tests := []struct {
		name, upstream, body, want string
		ok                         bool
	}{
		{name: "upstream manifest type kept", upstream: oci.MediaTypeDockerManifest, body: `{}`, want: oci.MediaTypeDockerManifest, ok: true},
		{name: "document mediaType", upstream: "application/json", body: `{"schemaVersion":2,"mediaType":"` + oci.MediaTypeDockerManifestList + `"}`, want: oci.MediaTypeDockerManifestList, ok: true},
		{name: "index by shape", upstream: "", body: `{"schemaVersion":2,"manifests":[]}`, want: oci.MediaTypeOCIIndex, ok: true},
		{name: "manifest by shape", upstream: "text/plain", body: `{"schemaVersion":2,"config":{},"layers":[]}`, want: oci.MediaTypeOCIManifest, ok: true},
		{name: "signed schema1", upstream: "application/json", body: `{"schemaVersion":1,"signatures":[]}`, want: oci.MediaTypeDockerSchema1, ok: true},
		{name: "manifest served as html", upstream: "text/html", body: `{"schemaVersion":2,"mediaType":"` + oci.MediaTypeOCIManifest + `","config":{},"layers":[]}`, want: oci.MediaTypeOCIManifest, ok: true},
		{name: "html page", upstream: "text/html; charset=utf-8", body: `<html><script>alert(1)</script></html>`, ok: false},
		{name: "not json", upstream: "application/octet-stream", body: `xx`, ok: false},
		{name: "unknown document mediaType", upstream: "application/json", body: `{"schemaVersion":2,"mediaType":"text/html","config":{},"layers":[]}`, ok: false},
		{name: "json that is no manifest", upstream: "application/json", body: `{"errors":[{"code":"UNKNOWN"}]}`, ok: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := manifestType(tc.upstream, []byte(tc.body))
			if ok != tc.ok || (ok && got != tc.want) {
				t.Fatalf("manifestType = %q, %v; want %q, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestRecentManifestsBounded(t *testing.T) {
	r := newRecentManifests(2, 10)
	r.put("a", []byte("1234"), "t")
	r.put("b", []byte("1234"), "t")
	r.get("a") // b is now the least recently used
	r.put("c", []byte("1234"), "t")
	if _, ok := r.get("b"); ok {
		t.Fatal("least recently used entry kept")
	}
	if _, ok := r.get("a"); !ok {
		t.Fatal("recently used entry dropped")
	}
	r.put("big", make([]byte, 11), "t")
	if _, ok := r.get("big"); ok {
		t.Fatal("entry larger than the byte bound kept")
	}
	r.put("d", []byte("12345678"), "t") // 4 (a or c) + 8 > 10: evicts down to the bound
	if r.bytes > 10 || r.ll.Len() > 2 {
		t.Fatalf("bounds exceeded: %d bytes, %d entries", r.bytes, r.ll.Len())
	}
}
