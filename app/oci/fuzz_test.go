package oci

import (
	"strings"
	"testing"
)

// FuzzSplitPath: every /v2 path splits into parts that name something
// (a repository for every per-repository surface, a reference without '/')
// and rebuild to the path they came from.
func FuzzSplitPath(f *testing.F) {
	for _, s := range []string{"/", "", "/library/nginx/manifests/latest", "/a/b/blobs/sha256:" + strings.Repeat("a", 64),
		"/a/b/tags/list", "/a/blobs/uploads/", "/a/blobs/uploads/x", "//tags/list", "/manifests/x",
		"/x/manifests/y/manifests/v1", "/a/manifests/", "/a/blobs/uploadsx", "/_catalog", "/a//blobs/b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		r := SplitPath(p)
		trimmed := strings.TrimPrefix(p, "/")
		switch r.Kind {
		case KindBase:
			if trimmed != "" {
				t.Fatalf("SplitPath(%q) = base", p)
			}
		case KindManifest, KindBlob, KindTags, KindReferrers:
			if r.Name == "" {
				t.Fatalf("SplitPath(%q) = %v without a repository name", p, r.Kind)
			}
			if strings.Contains(r.Ref, "/") || (r.Kind != KindTags && r.Ref == "") {
				t.Fatalf("SplitPath(%q) = %+v: bad reference", p, r)
			}
			if got := r.Path(r.Name); got != trimmed {
				t.Fatalf("SplitPath(%q) = %+v rebuilds to %q", p, r, got)
			}
			if again := SplitPath("/" + r.Path(r.Name)); again != r {
				t.Fatalf("SplitPath(%q) = %+v, then %+v", p, r, again)
			}
		case KindUpload:
			if r.Name == "" || !strings.HasPrefix(trimmed, r.Name+"/blobs/uploads") {
				t.Fatalf("SplitPath(%q) = %+v", p, r)
			}
		case KindUnknown:
			if r != (Route{Kind: KindUnknown}) {
				t.Fatalf("SplitPath(%q) = %+v: unknown with parts", p, r)
			}
		default:
			t.Fatalf("SplitPath(%q): kind %d", p, r.Kind)
		}
	})
}

// FuzzParseReference: an accepted reference (tag or digest) is printed back
// unchanged, a digest is always sha256 with 64 lower-case hex digits, and a
// tag never contains ':' or '/'.
func FuzzParseReference(f *testing.F) {
	for _, s := range []string{"latest", "v1.2.3", "sha256:" + strings.Repeat("0", 64), "sha256:" + strings.Repeat("A", 64),
		"sha512:abc", "", ":", "a:b", ".hidden", strings.Repeat("t", 129), "sha256:" + strings.Repeat("f", 63) + "\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseReference(s)
		if err != nil {
			if r != (Reference{}) {
				t.Fatalf("ParseReference(%q) failed (%v) but returned %+v", s, err, r)
			}
			return
		}
		if r.String() != s {
			t.Fatalf("ParseReference(%q).String() = %q", s, r.String())
		}
		if r.IsDigest() {
			d, err := ParseDigest(s)
			if err != nil || d != r.Digest || !strings.HasPrefix(s, "sha256:") || len(d.Hex()) != 64 || strings.ToLower(d.Hex()) != d.Hex() {
				t.Fatalf("ParseReference(%q) = digest %q (%v)", s, r.Digest, err)
			}
			return
		}
		if r.Tag == "" || strings.ContainsAny(r.Tag, ":/") || len(r.Tag) > 128 {
			t.Fatalf("ParseReference(%q) = tag %q", s, r.Tag)
		}
	})
}
