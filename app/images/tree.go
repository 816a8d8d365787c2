// Package images reads the images a docker repository holds — a local
// docker repository (pushed) or a docker remote (a mirror's cache) — as the
// tree an operator thinks in: repository → tags → digest → platforms (for an
// index) → config and layers, with sizes and, per blob, whether it is held.
// The tree is built from manifests by Build; where the manifests and blobs
// come from is a Source (local.go, mirror.go).
package images

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"artifactapi/app/oci"
)

// ErrNotFound is returned by a Source for a manifest it does not hold.
var ErrNotFound = errors.New("images: not found")

// Source reads the manifests and blobs of one repository.
type Source interface {
	// Manifest returns the bytes and media type of the manifest digest, or
	// ErrNotFound when the repository does not hold it.
	Manifest(ctx context.Context, digest string) (body []byte, mediaType string, err error)
	// Blob reports whether the repository holds the blob digest.
	Blob(ctx context.Context, digest string) (bool, error)
}

// Image is one manifest: an image (config and layers) or an index (one
// image per platform).
type Image struct {
	Digest    string
	MediaType string
	// ManifestSize is the length of the manifest's bytes (0 when not held).
	ManifestSize int64
	// Held: the repository holds the manifest's bytes. A child of an index
	// that no client pulled through a mirror is not held: its layers are
	// unknown.
	Held      bool
	Platforms []Platform // an index's images
	Config    *Blob
	Layers    []Blob
	// Size is what a pull downloads: config and layers; for an index, the
	// distinct blobs of the images it lists whose manifests are held.
	Size int64
	// HeldSize is the part of Size the repository holds.
	HeldSize int64
}

// Platform is one image listed by an index.
type Platform struct {
	OS, Architecture, Variant string
	// Attestation: the entry is a build attestation (buildx provenance or
	// SBOM), not a runnable image.
	Attestation bool
	Image       Image
}

// Name is "os/arch[/variant]", or "attestation" / "unknown".
func (p Platform) Name() string {
	switch {
	case p.Attestation:
		return "attestation"
	case p.OS == "" && p.Architecture == "":
		return "unknown"
	}
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// Blob is a config or layer descriptor of an image.
type Blob struct {
	Digest    string
	MediaType string
	Size      int64
	Held      bool
	// Foreign: a non-distributable layer (urls) the registry never holds.
	Foreign bool
}

// IsIndex reports whether mediaType is an image index or manifest list.
func IsIndex(mediaType string) bool {
	mt := oci.BaseType(mediaType)
	return mt == oci.MediaTypeOCIIndex || mt == oci.MediaTypeDockerManifestList
}

// descriptor is an OCI content descriptor as manifests write it.
type descriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	URLs        []string          `json:"urls"`
	Annotations map[string]string `json:"annotations"`
	Platform    *struct {
		OS           string `json:"os"`
		Architecture string `json:"architecture"`
		Variant      string `json:"variant"`
	} `json:"platform"`
}

// document is the part of a manifest or index the tree reads.
type document struct {
	MediaType string       `json:"mediaType"`
	Config    *descriptor  `json:"config"`
	Layers    []descriptor `json:"layers"`
	Manifests []descriptor `json:"manifests"`
}

// Build reads the manifest digest from src and, for an index, the images it
// lists (one level: an index of indexes is shown as its first level).
// A manifest src does not hold is returned with Held false and no error.
func Build(ctx context.Context, src Source, digest string) (Image, error) {
	return build(ctx, src, digest, "", true)
}

func build(ctx context.Context, src Source, digest, mediaType string, descend bool) (Image, error) {
	img := Image{Digest: digest, MediaType: mediaType}
	body, mt, err := src.Manifest(ctx, digest)
	if errors.Is(err, ErrNotFound) {
		return img, nil
	}
	if err != nil {
		return img, fmt.Errorf("images: manifest %s: %w", digest, err)
	}
	var doc document
	if err := json.Unmarshal(body, &doc); err != nil {
		return img, fmt.Errorf("images: manifest %s: %w", digest, err)
	}
	img.Held, img.ManifestSize = true, int64(len(body))
	if img.MediaType = mt; img.MediaType == "" {
		img.MediaType = doc.MediaType
	}
	if IsIndex(img.MediaType) || (len(doc.Manifests) > 0 && doc.Config == nil) {
		if !descend {
			return img, nil
		}
		return buildIndex(ctx, src, img, doc.Manifests)
	}
	if doc.Config != nil {
		b, err := blobOf(ctx, src, *doc.Config)
		if err != nil {
			return img, err
		}
		img.Config = &b
	}
	for _, l := range doc.Layers {
		b, err := blobOf(ctx, src, l)
		if err != nil {
			return img, err
		}
		img.Layers = append(img.Layers, b)
	}
	for _, b := range img.Blobs() {
		img.Size += b.Size
		if b.Held {
			img.HeldSize += b.Size
		}
	}
	return img, nil
}

// buildIndex adds the images of an index, and its size: each distinct blob
// of the held children once (platforms often share a config or a layer).
func buildIndex(ctx context.Context, src Source, img Image, children []descriptor) (Image, error) {
	seen := map[string]bool{}
	for _, d := range children {
		child, err := build(ctx, src, d.Digest, d.MediaType, false)
		if err != nil {
			return img, err
		}
		if !child.Held {
			child.ManifestSize = d.Size
		}
		p := Platform{Image: child, Attestation: d.Annotations["vnd.docker.reference.type"] == "attestation-manifest"}
		if d.Platform != nil {
			p.OS, p.Architecture, p.Variant = d.Platform.OS, d.Platform.Architecture, d.Platform.Variant
		}
		img.Platforms = append(img.Platforms, p)
		for _, b := range child.Blobs() {
			if seen[b.Digest] {
				continue
			}
			seen[b.Digest] = true
			img.Size += b.Size
			if b.Held {
				img.HeldSize += b.Size
			}
		}
	}
	return img, nil
}

func blobOf(ctx context.Context, src Source, d descriptor) (Blob, error) {
	b := Blob{Digest: d.Digest, MediaType: d.MediaType, Size: d.Size, Foreign: len(d.URLs) > 0}
	held, err := src.Blob(ctx, d.Digest)
	if err != nil {
		return b, fmt.Errorf("images: blob %s: %w", d.Digest, err)
	}
	b.Held = held
	return b, nil
}

// Blobs are the config (first, when there is one) and the layers.
func (img Image) Blobs() []Blob {
	var out []Blob
	if img.Config != nil {
		out = append(out, *img.Config)
	}
	return append(out, img.Layers...)
}

// Children are the digests of the manifests an index body lists (nil for
// an image or a body that does not parse).
func Children(body []byte) []string {
	var doc document
	if json.Unmarshal(body, &doc) != nil {
		return nil
	}
	out := make([]string, 0, len(doc.Manifests))
	for _, d := range doc.Manifests {
		out = append(out, d.Digest)
	}
	return out
}

// BlobDigests are the config and layer digests an image manifest body
// references (nil for an index).
func BlobDigests(body []byte) []string {
	var doc document
	if json.Unmarshal(body, &doc) != nil {
		return nil
	}
	var out []string
	if doc.Config != nil {
		out = append(out, doc.Config.Digest)
	}
	for _, l := range doc.Layers {
		out = append(out, l.Digest)
	}
	return out
}

// Repository summarises one repository.
type Repository struct {
	Name      string
	Tags      int64
	Manifests int64 // held, tagged or not
	Size      int64 // bytes held (a mirror: cached; a local repository: its blobs)
	Entries   int64 // a mirror: its cached entries (manifests, blobs, tag lists)
	UpdatedAt time.Time
	// LastPulled is the last pull of one of its manifests (zero: unknown or never).
	LastPulled time.Time
}

// Tag is a tag of a repository and the manifest it points at.
type Tag struct {
	Tag          string
	Digest       string
	MediaType    string
	ManifestSize int64
	// Size is what a pull downloads (Image.Size); HeldSize what is held of it.
	Size, HeldSize int64
	UpdatedAt      time.Time // pushed or tag moved (local); cached (mirror)
	LastPulled     time.Time // zero: unknown or never
	Path           string    // a mirror: the cache entry holding the tag's manifest
}

// IsIndex reports whether the tag points at a multi-platform image.
func (t Tag) IsIndex() bool { return IsIndex(t.MediaType) }

// Untagged returns the manifests of held that no tag reaches: neither
// tagged, nor listed by a tagged index, nor (a referrer: a signature, an
// SBOM) attached to a manifest that stays. bodies gives a manifest's bytes;
// subjects a referrer's subject ("" when none). The result is sorted.
func Untagged(held []string, tagged []string, bodies func(string) []byte, subjects func(string) string) []string {
	keep := map[string]bool{}
	var walk func(d string)
	walk = func(d string) {
		if keep[d] {
			return
		}
		keep[d] = true
		for _, c := range Children(bodies(d)) {
			walk(c)
		}
	}
	for _, d := range tagged {
		walk(d)
	}
	// Referrers of kept manifests stay, and what they list (repeat until stable).
	for changed := true; changed; {
		changed = false
		for _, d := range held {
			if s := subjects(d); s != "" && keep[s] && !keep[d] {
				walk(d)
				changed = true
			}
		}
	}
	var out []string
	for _, d := range held {
		if !keep[d] {
			out = append(out, d)
		}
	}
	sort.Strings(out)
	return out
}

// subjectOf is the digest of a referrer's subject ("" when none).
func subjectOf(body []byte) string {
	var doc struct {
		Subject *descriptor `json:"subject"`
	}
	if json.Unmarshal(body, &doc) != nil || doc.Subject == nil {
		return ""
	}
	return doc.Subject.Digest
}
