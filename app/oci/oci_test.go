package oci

import (
	"strings"
	"testing"
)

func TestParseDigest(t *testing.T) {
	hex := strings.Repeat("ab", 32)
	tests := []struct {
		name string
		in   string
		ok   bool
	}{
		{name: "sha256", in: "sha256:" + hex, ok: true},
		{name: "upper-case hex", in: "sha256:" + strings.ToUpper(hex)},
		{name: "short", in: "sha256:" + hex[:63]},
		{name: "long", in: "sha256:" + hex + "0"},
		{name: "no algorithm", in: hex},
		{name: "sha512 unsupported", in: "sha512:" + hex + hex},
		{name: "empty", in: ""},
		{name: "non-hex", in: "sha256:" + strings.Repeat("zz", 32)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := ParseDigest(tc.in)
			if (err == nil) != tc.ok {
				t.Fatalf("ParseDigest(%q) err = %v, want ok=%v", tc.in, err, tc.ok)
			}
			if tc.ok && d.Hex() != hex {
				t.Fatalf("Hex() = %q", d.Hex())
			}
		})
	}
}

func TestValidName(t *testing.T) {
	tests := []struct {
		name string
		in   string
		ok   bool
	}{
		{name: "one component", in: "nginx", ok: true},
		{name: "library", in: "library/nginx", ok: true},
		{name: "nested", in: "org/team/sub/image", ok: true},
		{name: "separators", in: "a.b_c__d-e---f/x", ok: true},
		{name: "upper case", in: "Library/nginx"},
		{name: "empty component", in: "a//b"},
		{name: "leading slash", in: "/a"},
		{name: "trailing slash", in: "a/"},
		{name: "dot-dot", in: "a/../b"},
		{name: "leading separator", in: "-a"},
		{name: "triple underscore", in: "a___b"},
		{name: "empty", in: ""},
		{name: "too long", in: strings.Repeat("a", 256)},
		{name: "max length", in: strings.Repeat("a", 255), ok: true},
		{name: "percent", in: "a%2fb"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := ValidName(tc.in); got != tc.ok {
				t.Fatalf("ValidName(%q) = %v, want %v", tc.in, got, tc.ok)
			}
		})
	}
}

func TestParseReference(t *testing.T) {
	dg := "sha256:" + strings.Repeat("0f", 32)
	tests := []struct {
		name   string
		in     string
		digest bool
		err    error
	}{
		{name: "tag", in: "latest"},
		{name: "version tag", in: "v1.2.3-rc_1"},
		{name: "digest", in: dg, digest: true},
		{name: "bad digest", in: "sha256:abc", err: ErrDigestInvalid},
		{name: "tag starting with dot", in: ".hidden", err: ErrTagInvalid},
		{name: "tag too long", in: strings.Repeat("a", 129), err: ErrTagInvalid},
		{name: "empty", in: "", err: ErrTagInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := ParseReference(tc.in)
			if err != tc.err {
				t.Fatalf("ParseReference(%q) err = %v, want %v", tc.in, err, tc.err)
			}
			if err == nil && (r.IsDigest() != tc.digest || r.String() != tc.in) {
				t.Fatalf("ParseReference(%q) = %+v", tc.in, r)
			}
		})
	}
}

func TestSplitPath(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Route
	}{
		{name: "base", in: "/", want: Route{Kind: KindBase}},
		{name: "base without slash", in: "", want: Route{Kind: KindBase}},
		{name: "manifest", in: "/library/nginx/manifests/latest", want: Route{Kind: KindManifest, Name: "library/nginx", Ref: "latest"}},
		{name: "nested manifest", in: "/a/b/c/d/manifests/v1", want: Route{Kind: KindManifest, Name: "a/b/c/d", Ref: "v1"}},
		{name: "name containing manifests", in: "/x/manifests/y/manifests/v1", want: Route{Kind: KindManifest, Name: "x/manifests/y", Ref: "v1"}},
		{name: "blob", in: "/x/blobs/sha256:00", want: Route{Kind: KindBlob, Name: "x", Ref: "sha256:00"}},
		{name: "tags", in: "/a/b/tags/list", want: Route{Kind: KindTags, Name: "a/b"}},
		{name: "referrers", in: "/a/b/referrers/sha256:00", want: Route{Kind: KindReferrers, Name: "a/b", Ref: "sha256:00"}},
		{name: "name containing referrers", in: "/a/referrers/b/manifests/v1", want: Route{Kind: KindManifest, Name: "a/referrers/b", Ref: "v1"}},
		{name: "upload start", in: "/a/blobs/uploads/", want: Route{Kind: KindUpload, Name: "a"}},
		{name: "upload session", in: "/a/b/blobs/uploads/1234-uuid", want: Route{Kind: KindUpload, Name: "a/b"}},
		{name: "blob named uploads-x", in: "/a/blobs/uploadsx", want: Route{Kind: KindBlob, Name: "a", Ref: "uploadsx"}},
		{name: "catalog", in: "/_catalog", want: Route{Kind: KindUnknown}},
		{name: "manifest without name", in: "/manifests/latest", want: Route{Kind: KindUnknown}},
		{name: "empty reference", in: "/a/manifests/", want: Route{Kind: KindUnknown}},
		{name: "referrers without digest", in: "/a/referrers/", want: Route{Kind: KindUnknown}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := SplitPath(tc.in); got != tc.want {
				t.Fatalf("SplitPath(%q) = %+v, want %+v", tc.in, got, tc.want)
			}
		})
	}
}

func TestRoutePath(t *testing.T) {
	r := SplitPath("/nginx/manifests/latest")
	if got := r.Path("library/nginx"); got != "library/nginx/manifests/latest" {
		t.Fatalf("Path = %q", got)
	}
}

func TestIsManifestType(t *testing.T) {
	for _, mt := range ManifestTypes {
		if !IsManifestType(mt + "; charset=utf-8") {
			t.Errorf("%s not recognised", mt)
		}
	}
	if IsManifestType("application/json") {
		t.Error("application/json taken for a manifest type")
	}
}
