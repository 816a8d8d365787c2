package oci

import "strings"

// Kind is the API surface a /v2 path addresses.
type Kind int

// The surfaces of a /v2 path.
const (
	KindUnknown   Kind = iota
	KindBase           // /v2/
	KindManifest       // /v2/<name>/manifests/<reference>
	KindBlob           // /v2/<name>/blobs/<digest>
	KindTags           // /v2/<name>/tags/list
	KindUpload         // /v2/<name>/blobs/uploads/... (push)
	KindReferrers      // /v2/<name>/referrers/<digest> (OCI 1.1)
)

// String names the kind for logs.
func (k Kind) String() string {
	return [...]string{"unknown", "base", "manifest", "blob", "tags", "upload", "referrers"}[k]
}

// Route is a /v2 path split into its parts. Name is not validated.
type Route struct {
	Kind Kind
	Name string // repository name, may contain slashes
	Ref  string // manifest reference or blob digest, unvalidated
}

// SplitPath splits the part of a /v2 path after "/v2" by its suffix, so
// repository names with slashes need no regular expression: the last
// "/manifests/", "/blobs/", "/referrers/" or "/tags/list" decides.
func SplitPath(p string) Route {
	p = strings.TrimPrefix(p, "/")
	if p == "" {
		return Route{Kind: KindBase}
	}
	if name, ok := strings.CutSuffix(p, "/tags/list"); ok && name != "" {
		return Route{Kind: KindTags, Name: name}
	}
	if i := strings.Index(p, "/blobs/uploads"); i > 0 {
		rest := p[i+len("/blobs/uploads"):]
		if rest == "" || rest[0] == '/' {
			return Route{Kind: KindUpload, Name: p[:i]}
		}
	}
	if i := strings.LastIndex(p, "/manifests/"); i > 0 {
		ref := p[i+len("/manifests/"):]
		if ref != "" && !strings.Contains(ref, "/") {
			return Route{Kind: KindManifest, Name: p[:i], Ref: ref}
		}
	}
	if i := strings.LastIndex(p, "/blobs/"); i > 0 {
		ref := p[i+len("/blobs/"):]
		if ref != "" && !strings.Contains(ref, "/") {
			return Route{Kind: KindBlob, Name: p[:i], Ref: ref}
		}
	}
	if i := strings.LastIndex(p, "/referrers/"); i > 0 {
		ref := p[i+len("/referrers/"):]
		if ref != "" && !strings.Contains(ref, "/") {
			return Route{Kind: KindReferrers, Name: p[:i], Ref: ref}
		}
	}
	return Route{Kind: KindUnknown}
}

// Path rebuilds the path of a route below /v2/ for name (which may differ
// from r.Name, e.g. after adding "library/").
func (r Route) Path(name string) string {
	switch r.Kind {
	case KindManifest:
		return name + "/manifests/" + r.Ref
	case KindBlob:
		return name + "/blobs/" + r.Ref
	case KindTags:
		return name + "/tags/list"
	case KindReferrers:
		return name + "/referrers/" + r.Ref
	}
	return name
}
