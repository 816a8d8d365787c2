package formats

import (
	"strings"
	"testing"
)

func TestResolvePyPI(t *testing.T) {
	r := testRemote(t, "remotes:\n  r:\n    base_url: https://pypi.org\n    package: pypi\n")
	tests := []struct {
		name, path, accept string
		want               Resolved
	}{
		{"index", "simple/", "", Resolved{Path: "simple/", Rewrite: true, Accept: pypiHTMLType + ", text/html;q=0.1"}},
		{"index without slash", "simple", "", Resolved{Path: "simple/", Rewrite: true, Accept: pypiHTMLType + ", text/html;q=0.1"}},
		{"project normalised", "simple/Django_Rest.Framework/", "text/html", Resolved{Path: "simple/django-rest-framework/", Rewrite: true, Accept: pypiHTMLType + ", text/html;q=0.1"}},
		{"project without slash", "simple/requests", "", Resolved{Path: "simple/requests/", Rewrite: true, Accept: pypiHTMLType + ", text/html;q=0.1"}},
		{"PEP 691 JSON", "simple/requests/", "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01",
			Resolved{Path: "simple/requests/", Variant: "json", Rewrite: true, Accept: pypiJSONType}},
		{"JSON refused with q=0", "simple/requests/", "application/vnd.pypi.simple.v1+json;q=0, text/html", Resolved{Path: "simple/requests/", Rewrite: true, Accept: pypiHTMLType + ", text/html;q=0.1"}},
		{"distribution", "_ext/files.pythonhosted.org/packages/ab/cd/x-1.0-py3-none-any.whl", "", Resolved{Path: "_ext/files.pythonhosted.org/packages/ab/cd/x-1.0-py3-none-any.whl"}},
		{"deeper simple path", "simple/a/b", "", Resolved{Path: "simple/a/b"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Resolve(r, Request{Path: tc.path, Accept: tc.accept}); got != tc.want {
				t.Fatalf("Resolve(%q, %q) = %+v, want %+v", tc.path, tc.accept, got, tc.want)
			}
			if v := r.Classify(tc.want.Path); tc.want.Rewrite != (v.Kind == "mutable") {
				t.Fatalf("%s classified %s", tc.want.Path, v.Kind)
			}
		})
	}
}

func TestPyPIRewrite(t *testing.T) {
	r := testRemote(t, "remotes:\n  r:\n    base_url: https://pypi.org\n    package: pypi\n")
	const sum = "0123abcd"
	tests := []struct {
		name, ctype, in string
		want, keep      []string
	}{
		{
			name:  "PEP 503 page",
			ctype: "text/html",
			in: `<a href="https://files.pythonhosted.org/packages/ab/x-1.0.whl#sha256=` + sum + `" data-requires-python="&gt;=3.8" data-dist-info-metadata="sha256=` + sum + `" data-core-metadata="sha256=` + sum + `" data-yanked="">x-1.0.whl</a>` +
				`<A HREF='../../packages/cd/x-0.9.tar.gz#sha256=` + sum + `'>x-0.9.tar.gz</A>` +
				`<a href="https://evil.example/x.whl">other host</a>`,
			want: []string{
				`href="https://cache.example/api/r/_ext/files.pythonhosted.org/packages/ab/x-1.0.whl#sha256=` + sum + `"`,
				`HREF="https://cache.example/api/r/packages/cd/x-0.9.tar.gz#sha256=` + sum + `"`,
				`href="https://evil.example/x.whl"`,
			},
			keep: []string{`data-requires-python="&gt;=3.8"`, `data-core-metadata="sha256=` + sum + `"`, `data-dist-info-metadata="sha256=` + sum + `"`, `data-yanked=""`},
		},
		{
			name:  "PEP 503 index",
			ctype: "text/html",
			in:    `<a href="/simple/requests/">requests</a>`,
			want:  []string{`href="https://cache.example/api/r/simple/requests/"`},
		},
		{
			name:  "PEP 691 page",
			ctype: "application/vnd.pypi.simple.v1+json",
			in:    `{"meta":{"api-version":"1.1"},"name":"x","files":[{"filename":"x-1.0.whl","url":"https://files.pythonhosted.org/packages/ab/x-1.0.whl","hashes":{"sha256":"` + sum + `"},"requires-python":">=3.8","core-metadata":{"sha256":"` + sum + `"},"yanked":"broken"}],"versions":["1.0"]}`,
			want:  []string{`"url":"https://cache.example/api/r/_ext/files.pythonhosted.org/packages/ab/x-1.0.whl"`},
			keep:  []string{`"hashes":{"sha256":"` + sum + `"}`, `"requires-python":">=3.8"`, `"core-metadata":{"sha256":"` + sum + `"}`, `"yanked":"broken"`, `"versions":["1.0"]`, `"meta":{"api-version":"1.1"}`},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := rewriter(t, r, "simple/x/").Rewrite([]byte(tc.in), tc.ctype)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range append(tc.want, tc.keep...) {
				if !strings.Contains(string(out), w) {
					t.Fatalf("%s missing from\n%s", w, out)
				}
			}
		})
	}
	if _, err := rewriter(t, r, "simple/x/").Rewrite([]byte(`{"files":[{"url":1}]}`), "application/vnd.pypi.simple.v1+json"); err == nil {
		t.Fatal("a malformed PEP 691 page was rewritten")
	}
}
