package jobs

import (
	"testing"

	"artifactapi/app/config"
	"artifactapi/db"
)

func TestResolveURL(t *testing.T) {
	f, err := config.ParseRemotes("remotes.yaml", []byte(`remotes:
  maven:
    base_url: https://repo.example.org/maven2/
    package: generic
  central:
    base_url: https://repo.example.org
    package: generic
  alpine:
    base_url: https://repo.example.org/alpine
    package: alpine
    query_params: ["x"]
  hub:
    base_url: https://registry-1.docker.io
    package: docker
  uploads:
    type: local
    package: generic
  pypi:
    base_url: https://pypi.example.org/pypi
    package: pypi
`))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, url            string
		remote, path, reason string
	}{
		{name: "longest base wins", url: "https://repo.example.org/maven2/org/x/1.0/x.jar", remote: "maven", path: "org/x/1.0/x.jar"},
		{name: "shorter base", url: "https://repo.example.org/other/y.bin", remote: "central", path: "other/y.bin"},
		{name: "segment boundary", url: "https://repo.example.org/alpinex/a.apk", remote: "central", path: "alpinex/a.apk"},
		{name: "allowed query kept", url: "https://repo.example.org/alpine/v3/APKINDEX.tar.gz?x=1&junk=2", remote: "alpine", path: "v3/APKINDEX.tar.gz?x=1"},
		{name: "query dropped by default", url: "https://repo.example.org/other/y.bin?access_token=s3cret", remote: "central", path: "other/y.bin"},
		{name: "host case", url: "HTTPS://REPO.example.org/maven2/a.pom", remote: "maven", path: "a.pom"},
		{name: "escaped path", url: "https://repo.example.org/maven2/a%20b.jar", remote: "maven", path: "a b.jar"},
		{name: "pypi project name normalised", url: "https://pypi.example.org/pypi/simple/Django_Rest.Framework", remote: "pypi", path: "simple/django-rest-framework/"},
		{name: "other host", url: "https://evil.example/maven2/a.jar", reason: ReasonNoRemote},
		{name: "other scheme", url: "http://repo.example.org/maven2/a.jar", reason: ReasonNoRemote},
		{name: "base itself", url: "https://repo.example.org", reason: ReasonNoRemote},
		{name: "relative", url: "/maven2/a.jar", reason: ReasonInvalidURL},
		{name: "garbage", url: "::", reason: ReasonInvalidURL},
		{name: "credentials", url: "https://u:p@repo.example.org/maven2/a.jar", reason: "URL must not carry credentials"},
		{name: "traversal", url: "https://repo.example.org/maven2/%2e%2e/secret", reason: "invalid path: '..' segment not allowed"},
		{name: "docker", url: "https://registry-1.docker.io/v2/library/alpine/manifests/3", reason: `remote "hub": docker remotes are cached through /v2/`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			it := resolveURL(f, tc.url)
			if it.URL != tc.url {
				t.Errorf("URL = %q", it.URL)
			}
			if tc.reason != "" {
				if it.State != db.ItemFailed || it.Reason != tc.reason || it.Remote != "" {
					t.Errorf("got %+v, want refused with %q", it, tc.reason)
				}
				return
			}
			if it.State != "" || it.Remote != tc.remote || it.Path != tc.path {
				t.Errorf("got %s %q (%s %s), want %s %q", it.Remote, it.Path, it.State, it.Reason, tc.remote, tc.path)
			}
		})
	}
}

// TestResolveURLDenied: a URL whose path the remote's patterns deny is
// refused up front as denied (not fetched), with its remote and path.
func TestResolveURLDenied(t *testing.T) {
	f, err := config.ParseRemotes("remotes.yaml", []byte(`remotes:
  strict:
    base_url: https://strict.example.org
    package: generic
    immutable_patterns: ["\\.jar$"]
`))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, url, state string
	}{
		{name: "allowed", url: "https://strict.example.org/a/b.jar", state: ""},
		{name: "denied", url: "https://strict.example.org/a/readme.txt", state: db.ItemDenied},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			it := resolveURL(f, tc.url)
			if it.State != tc.state || it.Remote != "strict" || (tc.state != "" && it.Reason != ReasonDenied) {
				t.Errorf("got %+v, want state %q", it, tc.state)
			}
		})
	}
}
