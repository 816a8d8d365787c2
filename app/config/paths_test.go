package config_test

import (
	"errors"
	"net/url"
	"strings"
	"testing"

	"artifactapi/app/config"
)

// Outcomes of a hostile path.
const (
	refused = "refused" // CleanPath or UpstreamURL answers a PathError (400)
	allowed = "allowed" // an upstream URL on the remote's own scheme and host
)

// hostilePath is one entry of the corpus shared by the config and HTTP tests:
// raw is what follows /api/<remote>/ on the wire, still percent-encoded.
type hostilePath struct {
	name string
	raw  string
	want string
	// upstreamPath, when set, is the path the upstream must see (after the base path).
	upstreamPath string
}

// hostileCorpus is the corpus; host stands for a host the request must never reach.
func hostileCorpus(host string) []hostilePath {
	long := strings.Repeat("a/", 2500) + "x.bin"
	return []hostilePath{
		{name: "dot-dot", raw: "../etc/passwd", want: refused},
		{name: "dot-dot slash only", raw: "../", want: refused},
		{name: "dot-dot escaping after a segment", raw: "a/../../b", want: refused},
		{name: "dot-dot inside", raw: "a/../b", want: refused},
		{name: "trailing dot-dot", raw: "a/..", want: refused},
		{name: "encoded dot-dot", raw: "%2e%2e/x", want: refused},
		{name: "encoded dot-dot upper with encoded slash", raw: "%2E%2E%2Fx", want: refused},
		{name: "dot-dot with encoded slashes", raw: "..%2f..%2fetc", want: refused},
		{name: "half encoded dot-dot", raw: ".%2e/x", want: refused},
		{name: "encoded slash then dot-dot", raw: "a%2F..%2F..%2F" + host, want: refused},
		{name: "encoded slash", raw: "a%2Fb", want: allowed, upstreamPath: "/a/b"},
		{name: "double slash host", raw: "//" + host + "/x", want: allowed, upstreamPath: "/" + host + "/x"},
		{name: "triple slash host", raw: "///" + host + "/x", want: allowed},
		{name: "encoded double slash host", raw: "%2F%2F" + host + "%2Fx", want: allowed},
		{name: "userinfo host", raw: "@" + host + "/x", want: allowed, upstreamPath: "/@" + host + "/x"},
		{name: "encoded userinfo host", raw: "%40" + host, want: allowed},
		{name: "userinfo after a segment", raw: "x@" + host + "/y", want: allowed},
		{name: "absolute URL", raw: "http://" + host + "/x", want: allowed},
		{name: "absolute URL with encoded slashes", raw: "http:%2F%2F" + host + "%2Fx", want: allowed},
		{name: "scheme-relative after a segment", raw: "a//" + host + "/x", want: allowed},
		{name: "port in first segment", raw: host + ":80/x", want: allowed},
		{name: "backslash", raw: `a\b`, want: refused},
		{name: "backslash host", raw: `\\` + host + `\x`, want: refused},
		{name: "encoded backslash", raw: "%5c..%5cx", want: refused},
		{name: "encoded backslash upper", raw: "a%5Cb", want: refused},
		{name: "NUL", raw: "x%00.bin", want: refused},
		{name: "CRLF header injection", raw: "x%0d%0aHost:%20" + host, want: refused},
		{name: "LF", raw: "x%0a", want: refused},
		{name: "tab", raw: "x%09y", want: refused},
		{name: "DEL", raw: "x%7f", want: refused},
		{name: "invalid escape", raw: "%zz", want: refused},
		{name: "truncated escape", raw: "a%2", want: refused},
		{name: "lone percent", raw: "%", want: refused},
		{name: "very long path", raw: long, want: refused},
		{name: "encoded question mark", raw: "file.bin%3Fx=1", want: refused},
		{name: "encoded question mark host", raw: "%3F@" + host, want: refused},
		{name: "encoded hash", raw: "file%23frag.bin", want: allowed, upstreamPath: "/file%23frag.bin"},
		{name: "encoded hash host", raw: "%23@" + host + "/x", want: allowed},
		{name: "dot segment", raw: "a/./b", want: allowed, upstreamPath: "/a/b"},
		{name: "only a dot", raw: ".", want: refused},
		{name: "encoded dot", raw: "%2e", want: refused},
		{name: "empty", raw: "", want: refused},
		{name: "only slashes", raw: "///", want: refused},
		{name: "non-ASCII", raw: "caf%C3%A9.bin", want: allowed, upstreamPath: "/caf%C3%A9.bin"},
		{name: "space", raw: "a%20b.bin", want: allowed, upstreamPath: "/a%20b.bin"},
	}
}

func TestHostilePathsStayOnTheRemote(t *testing.T) {
	bases := []string{"http://origin.test", "https://origin.test:8443/base/path"}
	for _, base := range bases {
		f, err := config.ParseRemotes("remotes.yaml", []byte("remotes:\n  r:\n    base_url: "+base+"\n"))
		if err != nil {
			t.Fatal(err)
		}
		r := f.Remotes["r"]
		for _, tc := range hostileCorpus("evil.example") {
			t.Run(base+"/"+tc.name, func(t *testing.T) {
				u, err := upstreamFor(r, tc.raw)
				if err != nil {
					var pe *config.PathError
					if !errors.As(err, &pe) {
						t.Fatalf("%q: error %v is not a PathError (400)", tc.raw, err)
					}
					if tc.want != refused {
						t.Fatalf("%q refused (%v), want %s", tc.raw, err, tc.want)
					}
					return
				}
				if tc.want != allowed {
					t.Fatalf("%q allowed as %s, want %s", tc.raw, u, tc.want)
				}
				assertOnBase(t, base, u)
				if tc.upstreamPath != "" {
					if got := u.EscapedPath(); got != mustParse(t, base).Path+tc.upstreamPath {
						t.Fatalf("%q → upstream path %q, want %q under the base path", tc.raw, got, tc.upstreamPath)
					}
				}
			})
		}
	}
}

// upstreamFor runs a raw request path through the same two steps as the handler.
func upstreamFor(r *config.Remote, raw string) (*url.URL, error) {
	p, err := config.CleanPath(raw)
	if err != nil {
		return nil, err
	}
	if containsSegment(p, "..") {
		return nil, errors.New("clean path kept a '..' segment: " + p)
	}
	return r.UpstreamURL(p, "")
}

func containsSegment(p, seg string) bool {
	for _, s := range strings.Split(p, "/") {
		if s == seg {
			return true
		}
	}
	return false
}

// assertOnBase checks that what goes on the wire targets the base URL's
// scheme and host and stays under its path.
func assertOnBase(t *testing.T, base string, u *url.URL) {
	t.Helper()
	b := mustParse(t, base)
	if u.Scheme != b.Scheme || u.Host != b.Host || u.User != nil {
		t.Fatalf("upstream URL %s left %s", u, base)
	}
	wire := u.String()
	back, err := url.Parse(wire)
	if err != nil || back.Scheme != b.Scheme || back.Host != b.Host || back.User != nil {
		t.Fatalf("upstream URL %q re-parses to another host (%v)", wire, err)
	}
	if !strings.HasPrefix(wire, strings.TrimRight(base, "/")+"/") {
		t.Fatalf("upstream URL %q is not under %s/", wire, base)
	}
	if containsSegment(back.Path, "..") {
		t.Fatalf("upstream URL %q has a '..' segment", wire)
	}
}

func mustParse(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestCleanPath(t *testing.T) {
	tests := []struct {
		name, raw, want string
	}{
		{"plain", "a/b/c.tar.gz", "a/b/c.tar.gz"},
		{"leading slashes dropped", "//a/b", "a/b"},
		{"duplicate slashes collapsed", "a//b///c", "a/b/c"},
		{"trailing slash kept", "dists/stable/", "dists/stable/"},
		{"percent-decoded", "a%20b/c%2Bd", "a b/c+d"},
		{"plus is literal", "c++.tar.gz", "c++.tar.gz"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := config.CleanPath(tc.raw)
			if err != nil || got != tc.want {
				t.Fatalf("CleanPath(%q) = %q, %v; want %q", tc.raw, got, err, tc.want)
			}
		})
	}
}

func TestQueryStaysOnTheRemote(t *testing.T) {
	f, err := config.ParseRemotes("remotes.yaml", []byte("remotes:\n  r:\n    base_url: http://origin.test/base\n"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, raw string
		ok        bool
	}{
		{"plain", "a=1&b=2", true},
		{"encoded CRLF stays encoded", "a=%0d%0aHost:evil", true},
		{"host-looking value", "u=//evil.example/x&v=@evil.example", true},
		{"raw hash", "a=1#frag", false},
		{"raw space", "a=1 2", false},
		{"bad escape", "a=%zz", false},
		{"too long", "a=" + strings.Repeat("x", 5000), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q, err := config.CleanQuery(tc.raw)
			if !tc.ok {
				var pe *config.PathError
				if !errors.As(err, &pe) {
					t.Fatalf("CleanQuery(%q) = %q, %v; want a PathError", tc.raw, q, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("CleanQuery(%q): %v", tc.raw, err)
			}
			u, err := f.Remotes["r"].UpstreamURL("file.bin", q)
			if err != nil {
				t.Fatal(err)
			}
			assertOnBase(t, "http://origin.test/base", u)
			if u.RawQuery != tc.raw {
				t.Fatalf("query forwarded as %q, want %q", u.RawQuery, tc.raw)
			}
		})
	}
}
