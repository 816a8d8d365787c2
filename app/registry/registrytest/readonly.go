package registrytest

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// Media types of the referrer SeedReadOnly pushes.
const (
	OCIEmpty      = "application/vnd.oci.empty.v1+json"
	SignatureType = "application/vnd.dev.cosign.artifact.sig.v1+json"
)

// ROData is content seeded in a registry for the OCI conformance suite's
// read-only mode: the values of its OCI_RO_DATA_* variables.
type ROData struct {
	Tags      []string // tags of Repo
	Manifests []string // digests of every manifest pushed
	Blobs     []string // digests of every blob pushed
	Referrers []string // subjects whose referrers the suite lists
	// Referrer is the manifest whose subject is Referrers[0], listed
	// under the tag schema (a `sha256-<hex>` tag holding an index).
	Referrer Blob
}

// Env returns the suite's OCI_RO_DATA_* variables as NAME=value.
func (d ROData) Env() []string {
	return []string{
		"OCI_RO_DATA_TAGS=" + strings.Join(d.Tags, " "),
		"OCI_RO_DATA_MANIFESTS=" + strings.Join(d.Manifests, " "),
		"OCI_RO_DATA_BLOBS=" + strings.Join(d.Blobs, " "),
		"OCI_RO_DATA_REFERRERS=" + strings.Join(d.Referrers, " "),
	}
}

// SeedReadOnly pushes to repository name of a registry without a
// referrers API (docker-registry 2.8): an OCI image (tag "image"), a Docker
// schema 2 image ("docker", pulled by digest only), a two-platform OCI
// index ("index") and a
// signature whose subject is the OCI image, listed in the tag-schema
// index `sha256-<hex of the image>` (how clients publish referrers to such
// registries; OCI distribution-spec, "Referrers Tag Schema").
func SeedReadOnly(ctx context.Context, p *Pusher, name string) (ROData, error) {
	var d ROData
	blobs := map[string]bool{}
	addImage := func(img *Image) {
		for _, b := range append([]Blob{img.Config}, img.Layers...) {
			blobs[b.Digest] = true
		}
		d.Manifests = append(d.Manifests, img.Manifest.Digest)
	}
	img, err := NewImage("linux/amd64", []int{4 << 10, 1 << 10}, false)
	if err != nil {
		return d, err
	}
	dock, err := NewImage("linux/arm64", []int{2 << 10}, true)
	if err != nil {
		return d, err
	}
	ix, err := NewIndex([]string{"linux/amd64", "linux/arm64"}, 1<<10)
	if err != nil {
		return d, err
	}
	for _, s := range []struct {
		tag string
		img *Image
	}{{"image", img}, {"docker", dock}} {
		if err := p.PushImage(ctx, name, s.tag, s.img); err != nil {
			return d, err
		}
		addImage(s.img)
	}
	if err := p.PushIndex(ctx, name, "index", ix); err != nil {
		return d, err
	}
	for _, i := range ix.Images {
		addImage(i)
	}
	d.Manifests = append(d.Manifests, ix.Manifest.Digest)

	sig, err := signature(img.Manifest)
	if err != nil {
		return d, err
	}
	for _, b := range append([]Blob{sig.Config}, sig.Layers...) {
		if err := p.PushBlob(ctx, name, b); err != nil {
			return d, err
		}
		blobs[b.Digest] = true
	}
	if err := p.PushManifest(ctx, name, sig.Manifest.Digest, sig.Manifest); err != nil {
		return d, err
	}
	d.Manifests = append(d.Manifests, sig.Manifest.Digest)
	d.Referrer = sig.Manifest
	refs, _ := json.Marshal(map[string]any{"schemaVersion": 2, "mediaType": OCIIndex, "manifests": []map[string]any{{
		"mediaType": sig.Manifest.MediaType, "digest": sig.Manifest.Digest, "size": len(sig.Manifest.Data), "artifactType": SignatureType,
	}}})
	schemaTag := strings.Replace(img.Manifest.Digest, ":", "-", 1)
	refIndex := newBlob(OCIIndex, refs)
	if err := p.PushManifest(ctx, name, schemaTag, refIndex); err != nil {
		return d, err
	}
	d.Manifests = append(d.Manifests, refIndex.Digest)

	// "docker" is left out of Tags: the suite accepts only OCI media types,
	// and a Docker manifest is pulled by tag only by clients accepting it
	// (docker-registry answers 400 otherwise). Its digest is in Manifests.
	d.Tags = []string{"image", "index", schemaTag}
	// The signed image has a referrer; the index has none (an empty list).
	d.Referrers = []string{img.Manifest.Digest, ix.Manifest.Digest}
	for b := range blobs {
		d.Blobs = append(d.Blobs, b)
	}
	sort.Strings(d.Blobs)
	return d, nil
}

// signature builds an OCI artifact (empty config, one layer) whose subject
// is m, as cosign and ORAS push them.
func signature(m Blob) (*Image, error) {
	cfg := newBlob(OCIEmpty, []byte("{}"))
	layer := newBlob("application/vnd.dev.cosign.simplesigning.v1+json",
		[]byte(fmt.Sprintf(`{"critical":{"image":{"docker-manifest-digest":%q}}}`, m.Digest)))
	man, err := json.Marshal(map[string]any{
		"schemaVersion": 2, "mediaType": OCIManifest, "artifactType": SignatureType,
		"config": cfg.desc(), "layers": []descriptor{layer.desc()},
		"subject": map[string]any{"mediaType": m.MediaType, "digest": m.Digest, "size": len(m.Data)},
	})
	if err != nil {
		return nil, err
	}
	return &Image{Config: cfg, Layers: []Blob{layer}, Manifest: newBlob(OCIManifest, man)}, nil
}
