// Package oci holds the small vocabulary of the Docker Registry HTTP API v2
// and the OCI distribution spec: digests, manifest media types, repository
// names and references, and the split of a /v2 path into its parts. It is a
// leaf package: standard library only.
package oci

import (
	"errors"
	"regexp"
	"strings"
)

// Manifest media types a registry answers with.
const (
	MediaTypeDockerManifest     = "application/vnd.docker.distribution.manifest.v2+json"
	MediaTypeDockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json"
	MediaTypeOCIManifest        = "application/vnd.oci.image.manifest.v1+json"
	MediaTypeOCIIndex           = "application/vnd.oci.image.index.v1+json"
	// MediaTypeDockerSchema1 is the legacy signed manifest, kept only to recognise it.
	MediaTypeDockerSchema1 = "application/vnd.docker.distribution.manifest.v1+prettyjws"
)

// ManifestTypes are the four manifest media types asked of every upstream.
var ManifestTypes = []string{MediaTypeDockerManifest, MediaTypeDockerManifestList, MediaTypeOCIManifest, MediaTypeOCIIndex}

// MaxManifestSize bounds a manifest body (the limit of the CNCF registry).
const MaxManifestSize = 4 << 20

// MaxNameLength bounds a repository name (distribution reference grammar).
const MaxNameLength = 255

// Digest is a validated content digest such as "sha256:<64 hex>".
type Digest string

// ErrDigestInvalid is returned for a malformed or unsupported digest.
var ErrDigestInvalid = errors.New("oci: invalid digest")

var sha256Hex = regexp.MustCompile(`^[a-f0-9]{64}$`)

// ParseDigest validates s. Only sha256 is accepted: it is what every
// registry serves, and what the cache can verify before commit.
func ParseDigest(s string) (Digest, error) {
	alg, hex, ok := strings.Cut(s, ":")
	if !ok || alg != "sha256" || !sha256Hex.MatchString(hex) {
		return "", ErrDigestInvalid
	}
	return Digest(s), nil
}

// Hex returns the encoded part of the digest.
func (d Digest) Hex() string {
	_, h, _ := strings.Cut(string(d), ":")
	return h
}

// String returns the digest as "algorithm:hex".
func (d Digest) String() string { return string(d) }

// nameComponent is one path component of a repository name (distribution/reference).
var nameComponent = regexp.MustCompile(`^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$`)

// ValidName reports whether name is a valid repository name: lower-case
// components separated by single slashes, at most MaxNameLength long.
func ValidName(name string) bool {
	if name == "" || len(name) > MaxNameLength {
		return false
	}
	for _, c := range strings.Split(name, "/") {
		if !nameComponent.MatchString(c) {
			return false
		}
	}
	return true
}

var tagRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)

// ValidTag reports whether s is a valid tag.
func ValidTag(s string) bool { return tagRE.MatchString(s) }

// Reference is a manifest reference: a tag or a digest.
type Reference struct {
	Tag    string
	Digest Digest
}

// IsDigest reports whether the reference names content by digest.
func (r Reference) IsDigest() bool { return r.Digest != "" }

// String returns the reference as it appears in a URL.
func (r Reference) String() string {
	if r.IsDigest() {
		return string(r.Digest)
	}
	return r.Tag
}

// ErrTagInvalid is returned for a reference that is neither a tag nor a digest.
var ErrTagInvalid = errors.New("oci: invalid tag")

// ParseReference classifies s: anything with a ':' must be a digest
// (tags cannot contain one), anything else must be a valid tag.
func ParseReference(s string) (Reference, error) {
	if strings.Contains(s, ":") {
		d, err := ParseDigest(s)
		if err != nil {
			return Reference{}, err
		}
		return Reference{Digest: d}, nil
	}
	if !ValidTag(s) {
		return Reference{}, ErrTagInvalid
	}
	return Reference{Tag: s}, nil
}

// IsManifestType reports whether mediaType (parameters allowed) is one of
// the manifest types a registry serves, schema 1 included.
func IsManifestType(mediaType string) bool {
	switch BaseType(mediaType) {
	case MediaTypeDockerManifest, MediaTypeDockerManifestList, MediaTypeOCIManifest, MediaTypeOCIIndex,
		MediaTypeDockerSchema1, "application/vnd.docker.distribution.manifest.v1+json":
		return true
	}
	return false
}

// BaseType lower-cases a media type and drops its parameters.
func BaseType(mediaType string) string {
	base, _, _ := strings.Cut(mediaType, ";")
	return strings.ToLower(strings.TrimSpace(base))
}
