package formats

import (
	"errors"
	"io"
	"net/url"
	"strings"
	"testing"

	"artifactapi/app/config"
)

// testRemote parses one remote of remotes.yaml.
func testRemote(t *testing.T, yaml string) *config.Remote {
	t.Helper()
	f, err := config.ParseRemotes("remotes.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	return f.Remotes["r"]
}

func rewriter(t *testing.T, r *config.Remote, p string) *Rewriter {
	t.Helper()
	doc, err := r.UpstreamURL(p, "")
	if err != nil {
		t.Fatal(err)
	}
	return &Rewriter{Remote: r, DocURL: doc, Base: "https://cache.example/api/r"}
}

func TestHelmIndexRewrite(t *testing.T) {
	r := testRemote(t, `
remotes:
  r:
    base_url: https://charts.example.com/stable
    package: helm
    extra_hosts: ["cdn.example.org", "http://mirror.example.net:8080/x"]
`)
	tests := []struct {
		name, url, want string
	}{
		{"relative", "charts/a-1.0.0.tgz", "https://cache.example/api/r/charts/a-1.0.0.tgz"},
		{"root-relative under base", "/stable/a-1.0.0.tgz", "https://cache.example/api/r/a-1.0.0.tgz"},
		{"absolute on base", "https://charts.example.com/stable/a.tgz", "https://cache.example/api/r/a.tgz"},
		{"extra host", "https://cdn.example.org/pub/a-1.0.0.tgz", "https://cache.example/api/r/_ext/cdn.example.org/pub/a-1.0.0.tgz"},
		{"extra host with path and port", "http://mirror.example.net:8080/x/a.tgz", "https://cache.example/api/r/_ext/mirror.example.net:8080/a.tgz"},
		{"extra host outside its path", "http://mirror.example.net:8080/y/a.tgz", "http://mirror.example.net:8080/y/a.tgz"},
		{"extra host with another scheme", "http://cdn.example.org/pub/a.tgz", "http://cdn.example.org/pub/a.tgz"},
		{"host not allowed", "https://evil.example/a.tgz", "https://evil.example/a.tgz"},
		{"base host outside base path", "https://charts.example.com/other/a.tgz", "https://charts.example.com/other/a.tgz"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := "apiVersion: v1\nentries:\n  a:\n  - name: a\n    version: 1.0.0\n    digest: abc\n    urls:\n    - " + tc.url + "\ngenerated: \"2026-01-01T00:00:00Z\"\n"
			out, err := rewriter(t, r, "index.yaml").Rewrite([]byte(in), "text/yaml")
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(out), "- "+tc.want+"\n") {
				t.Fatalf("got\n%s\nwant url %s", out, tc.want)
			}
			for _, keep := range []string{"digest: abc", "version: 1.0.0", "generated:"} {
				if !strings.Contains(string(out), keep) {
					t.Fatalf("%q lost:\n%s", keep, out)
				}
			}
		})
	}
}

func TestHelmIndexMalformed(t *testing.T) {
	r := testRemote(t, "remotes:\n  r:\n    base_url: https://charts.example.com\n    package: helm\n")
	if _, err := rewriter(t, r, "index.yaml").Rewrite([]byte("entries: [\n"), ""); err == nil {
		t.Fatal("a malformed index was rewritten")
	}
}

func TestExtPaths(t *testing.T) {
	r := testRemote(t, `
remotes:
  r:
    base_url: https://charts.example.com
    package: helm
    extra_hosts: ["cdn.example.org"]
`)
	tests := []struct {
		name, path, want string
		refused          bool
	}{
		{name: "extra host", path: "_ext/cdn.example.org/pub/a.tgz", want: "https://cdn.example.org/pub/a.tgz"},
		{name: "extra host, any case", path: "_ext/CDN.example.org/a.tgz", want: "https://cdn.example.org/a.tgz"},
		{name: "host not listed", path: "_ext/evil.example/a.tgz", refused: true},
		{name: "userinfo trick", path: "_ext/evil.example@cdn.example.org/a.tgz", refused: true},
		{name: "base host", path: "pub/a.tgz", want: "https://charts.example.com/pub/a.tgz"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u, err := r.UpstreamURL(tc.path, "")
			if tc.refused {
				if err == nil {
					t.Fatalf("%s: fetched %s", tc.path, u)
				}
				return
			}
			if err != nil || u.String() != tc.want {
				t.Fatalf("%s: got %v, %v; want %s", tc.path, u, err, tc.want)
			}
			back, ok := r.RemotePath(mustURL(t, tc.want))
			if !ok || strings.ToLower(back) != strings.ToLower(tc.path) {
				t.Fatalf("RemotePath(%s) = %q, %v; want %q", tc.want, back, ok, tc.path)
			}
		})
	}
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// zeros is an endless reader of zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

func TestReadMetadataBound(t *testing.T) {
	tests := []struct {
		name    string
		size    int64
		tooLong bool
	}{
		{"empty", 0, false},
		{"at the bound", MaxMetadata, false},
		{"over the bound", MaxMetadata + 1, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := ReadMetadata(io.LimitReader(zeros{}, tc.size))
			if tc.tooLong != errors.Is(err, ErrTooLarge) || (!tc.tooLong && int64(len(b)) != tc.size) {
				t.Fatalf("ReadMetadata(%d bytes) = %d bytes, %v", tc.size, len(b), err)
			}
		})
	}
}
