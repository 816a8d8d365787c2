// Package formats is what the package formats (helm, pypi, npm) add to the
// generic proxy: the cache path of a request (normalised names, the
// representation chosen by Accept) and the rewrite of their metadata, whose
// URLs point at the upstream's hosts, into URLs that go through the remote.
// Rewrites are made from the cached upstream bytes each time they are
// served; the cache itself never holds rewritten bytes.
package formats

import (
	"fmt"
	"io"
	"net/url"
	"strings"

	"artifactapi/app/config"
)

// MaxMetadata bounds the size of a metadata document that is rewritten.
const MaxMetadata = 64 << 20

// ErrTooLarge is returned by a Rewrite whose document exceeds MaxMetadata.
var ErrTooLarge = fmt.Errorf("formats: metadata document larger than %d MiB cannot be rewritten", MaxMetadata>>20)

// Request is one request for a remote's path, as the formats see it.
type Request struct {
	// Path is the clean request path (config.CleanPath).
	Path string
	// Accept is the client's Accept header.
	Accept string
}

// Resolved is how a request is fetched and cached.
type Resolved struct {
	// Path is the path asked of the upstream (normalised).
	Path string
	// Variant names the representation of Path that the client asked for
	// by Accept ("" for the default one); it is part of the cache key.
	Variant string
	// Accept is sent upstream when set.
	Accept string
	// Rewrite is set when the answer is metadata to rewrite.
	Rewrite bool
}

// Key is the cache key of a resolved request without query: a variant is
// stored under "path?accept=variant" (a request path never holds '?', and
// format metadata takes no query, so no other request has this key).
func (r Resolved) Key() string {
	if r.Variant == "" {
		return r.Path
	}
	return r.Path + "?accept=" + r.Variant
}

// Resolve decides how req for remote r is fetched, cached and served. A
// local repository serves its uploads as they are, under the path they
// were uploaded to.
func Resolve(r *config.Remote, req Request) Resolved {
	if r.IsLocal() {
		return Resolved{Path: req.Path}
	}
	switch r.Package {
	case config.PackageHelm:
		return resolveHelm(req)
	case config.PackagePyPI:
		return resolvePyPI(req)
	case config.PackageNPM:
		return resolveNPM(req)
	}
	return Resolved{Path: req.Path}
}

// Keys returns every cache key a request path of remote r is stored under
// (one per representation), for evicting all of them.
func Keys(r *config.Remote, p string) []string {
	res := Resolve(r, Request{Path: p})
	keys := []string{res.Key()}
	switch {
	case r.Package == config.PackagePyPI && res.Rewrite:
		keys = append(keys, Resolved{Path: res.Path, Variant: "json"}.Key())
	case r.Package == config.PackageNPM && res.Rewrite:
		keys = append(keys, Resolved{Path: res.Path, Variant: "abbreviated"}.Key())
	}
	return keys
}

// Rewriter rewrites one metadata document of remote r, fetched from
// docURL, so that its links go through base (the remote's externally
// visible URL, "https://cache.example/api/pypi").
type Rewriter struct {
	Remote *config.Remote
	// DocURL is the document's upstream URL: relative links resolve against it.
	DocURL *url.URL
	// Base is the remote's URL as the client reaches it, without a trailing '/'.
	Base string
}

// Rewrite returns a metadata document (at most MaxMetadata bytes, read by
// ReadMetadata) rewritten for the remote's package. An error means the
// upstream's document is malformed.
func (w *Rewriter) Rewrite(b []byte, contentType string) ([]byte, error) {
	switch w.Remote.Package {
	case config.PackageHelm:
		return w.helmIndex(b)
	case config.PackagePyPI:
		if isJSON(contentType, b) {
			return w.pypiJSON(b)
		}
		return w.pypiHTML(b), nil
	case config.PackageNPM:
		return w.npmDocument(b)
	}
	return b, nil
}

// ReadMetadata reads a whole metadata document, or fails with ErrTooLarge.
func ReadMetadata(body io.Reader) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(body, MaxMetadata+1))
	if err != nil {
		return nil, fmt.Errorf("formats: read metadata: %w", err)
	}
	if len(b) > MaxMetadata {
		return nil, ErrTooLarge
	}
	return b, nil
}

// link maps a URL found in the document to the remote. ok is false when
// it names a host the remote may not fetch: it is then left as it is.
func (w *Rewriter) link(ref string) (string, bool) {
	u, err := url.Parse(strings.TrimSpace(ref))
	if err != nil {
		return ref, false
	}
	abs := w.DocURL.ResolveReference(u)
	frag := abs.EscapedFragment()
	abs.Fragment, abs.RawFragment = "", ""
	p, ok := w.Remote.RemotePath(abs)
	if !ok {
		return ref, false
	}
	out := w.Base + "/" + p
	if frag != "" {
		out += "#" + frag
	}
	return out, true
}

// isJSON reports a JSON document, by its type or its first byte.
func isJSON(contentType string, b []byte) bool {
	if strings.Contains(contentType, "json") {
		return true
	}
	for _, c := range b {
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		case '{':
			return true
		}
		return false
	}
	return false
}

// acceptsType reports whether an Accept header names media type t with a
// non-zero quality.
func acceptsType(accept, t string) bool {
	for _, part := range strings.Split(accept, ",") {
		typ, params, _ := strings.Cut(part, ";")
		if !strings.EqualFold(strings.TrimSpace(typ), t) {
			continue
		}
		for _, p := range strings.Split(params, ";") {
			k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
			if strings.EqualFold(k, "q") && strings.Trim(strings.TrimSpace(v), "0.") == "" {
				return false
			}
		}
		return true
	}
	return false
}
