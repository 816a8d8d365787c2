package config

import (
	"errors"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// FuzzCleanPath: a path CleanPath accepts can never leave the remote (no
// ".." segment, no NUL or control character, no backslash, no encoded '?'),
// is already clean (cleaning it again changes nothing), builds an upstream
// URL on the remote's own scheme and host below its base path, and is
// classified without contradiction.
func FuzzCleanPath(f *testing.F) {
	for _, s := range []string{"a/b.tgz", "../etc/passwd", "%2e%2e/x", "a%2F..%2F..%2Fb", "//evil.example/x", "a/./b/",
		"x%00.bin", "x%0d%0aHost:%20e", `a\b`, "%zz", "file.bin%3Fx=1", "caf%C3%A9.bin", "a%20b.bin", ".", "///",
		"@evil.example/x", "http:%2F%2Fevil%2Fx", "x/APKINDEX.tar.gz", "v3.19/main/x86_64/a.apk", "%25", "a/%2e"} {
		f.Add(s)
	}
	fl, err := ParseRemotes("remotes.yaml", []byte(`remotes:
  r:
    base_url: "https://up.example/base/"
    package: alpine
    immutable_patterns: ["\\.apk$", "^safe/"]
    mutable_patterns: ["index\\.json$"]
`))
	if err != nil {
		f.Fatal(err)
	}
	r := fl.Remotes["r"]
	f.Fuzz(func(t *testing.T, raw string) {
		p, err := CleanPath(raw)
		if err != nil {
			var pe *PathError
			if !errors.As(err, &pe) || p != "" {
				t.Fatalf("CleanPath(%q) = %q, %v: want a PathError and no path", raw, p, err)
			}
			return
		}
		if p == "" || strings.HasPrefix(p, "/") {
			t.Fatalf("CleanPath(%q) = %q: empty or absolute", raw, p)
		}
		for _, seg := range strings.Split(p, "/") {
			if seg == ".." || seg == "." {
				t.Fatalf("CleanPath(%q) = %q keeps a dot segment", raw, p)
			}
		}
		if strings.ContainsAny(p, "\\?\x00") {
			t.Fatalf("CleanPath(%q) = %q keeps a backslash, '?' or NUL", raw, p)
		}
		for _, c := range p {
			if c < 0x20 || c == 0x7f {
				t.Fatalf("CleanPath(%q) = %q keeps a control character", raw, p)
			}
		}
		// A clean path is a fixed point (once its '%' are escaped, as on the wire).
		if esc := strings.ReplaceAll(p, "%", "%25"); len(esc) <= MaxPathLen {
			if again, err := CleanPath(esc); err != nil || again != p {
				t.Fatalf("CleanPath(%q) = %q, but cleaning it again gives %q, %v", raw, p, again, err)
			}
		}
		u, err := r.UpstreamURL(p, "")
		if err == nil {
			back, perr := url.Parse(u.String())
			if perr != nil || back.Scheme != "https" || back.Host != "up.example" || back.User != nil ||
				!strings.HasPrefix(back.Path, "/base/") || back.RawQuery != "" || back.Fragment != "" {
				t.Fatalf("CleanPath(%q) = %q leaves the remote: %s", raw, p, u)
			}
		}
		v := r.Classify(p)
		if v.Allowed != (v.Kind != "denied") || (v.Kind != "mutable" && v.Kind != "immutable" && v.Kind != "denied") {
			t.Fatalf("Classify(%q) = %+v", p, v)
		}
		if v.Allowed && v.Pattern != "" && !regexpMatches(r, v.Pattern, p) {
			t.Fatalf("Classify(%q) = %+v names a pattern that does not match", p, v)
		}
	})
}

func regexpMatches(r *Remote, src, p string) bool {
	for _, ps := range [][]pattern{r.compiled.mutable, r.compiled.immutable} {
		for _, m := range ps {
			if m.src == src {
				return m.re.MatchString(p)
			}
		}
	}
	return false
}

// FuzzParseRemotes: any remotes file either loads into remotes that are
// complete (named, typed, with a base URL when they fetch, no negative TTL)
// and survive a YAML round trip unchanged, or is refused with a
// ValidationError that lists at least one non-empty problem.
func FuzzParseRemotes(f *testing.F) {
	for _, s := range []string{
		"remotes:\n  r:\n    base_url: https://x.example\n",
		"remotes:\n  l:\n    type: local\n    allow_overwrite: true\n",
		"remotes:\n  d:\n    base_url: https://registry-1.docker.io\n    package: docker\ndefault_docker_remote: d\n",
		"remotes:\n  r:\n    base_url: https://x\n    negative_ttl: 0\n    cache:\n      immutable_ttl: 0\n      mutable_ttl: 60\n      max_size: 5GiB\n",
		"remotes:\n  r:\n    base_ur: https://x\n",
		"remotes:\n  r:\n    base_url: https://x\n    immutable_patterns: [\"(?=x)\"]\n",
		"remotes:\n  r:\n    base_url: https://x\n  bad: [\n",
		"remotes:\n  r:\n   base_url: https://x\n    type: local\n",
		"remotes: &a\n  r: *a\n",
		"remotes:\n  r: ~\n",
		"",
		"\t",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fl, err := ParseRemotes("remotes.yaml", b)
		if err != nil {
			var ve *ValidationError
			if !errors.As(err, &ve) || len(ve.Problems) == 0 {
				t.Fatalf("refused without problems: %v", err)
			}
			for _, p := range ve.Problems {
				if strings.TrimSpace(p) == "" {
					t.Fatalf("empty problem in %v", err)
				}
			}
			return
		}
		if len(fl.Remotes) == 0 {
			t.Fatal("accepted a file without remotes")
		}
		for name, r := range fl.Remotes {
			if r == nil || r.Name != name || (r.Type != TypeRemote && r.Type != TypeLocal) {
				t.Fatalf("remote %q incomplete: %+v", name, r)
			}
			if !r.IsLocal() && r.BaseURLParsed() == nil {
				t.Fatalf("remote %q fetches without a base URL", name)
			}
			if r.ImmutableTTL() < 0 || r.MutableTTL() < 0 || r.NegativeTTLSeconds() < 0 || r.MaxSizeBytes() < 0 {
				t.Fatalf("remote %q has a negative limit", name)
			}
			r.Classify("a/b")
		}
		out, err := yaml.Marshal(fl)
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		again, err := ParseRemotes("remotes.yaml", out)
		if err != nil {
			t.Fatalf("round trip refused:\n%s\n%v", out, err)
		}
		for name, r := range fl.Remotes {
			if !sameRemote(r, again.Remotes[name]) {
				t.Fatalf("remote %q changed in a round trip:\n%s\n%v\n%v", name, out, remoteView(r), remoteView(again.Remotes[name]))
			}
		}
	})
}

// sameRemote compares what the operator wrote and what was derived from
// it (an omitted list and an empty one are the same).
func sameRemote(a, b *Remote) bool {
	return b != nil && reflect.DeepEqual(remoteView(a), remoteView(b))
}

func remoteView(r *Remote) []any {
	if r == nil {
		return nil
	}
	u := ""
	if r.baseURL != nil {
		u = r.baseURL.String()
	}
	return []any{r.Name, r.BaseURL, r.Type, r.Package, r.Description, strings.Join(r.ImmutablePatterns, "\x00"),
		strings.Join(r.MutablePatterns, "\x00"), r.CheckMutableUpdates, r.Cache.MaxSize, r.AllowOverwrite,
		r.Username, r.Password, r.Registry(), u, r.maxSize, r.immTTL, r.mutTTL, r.negTTL}
}
