package localrepo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"artifactapi/app/oci"
	"artifactapi/db"
)

// Descriptor is an OCI content descriptor (image-spec descriptor.md).
type Descriptor struct {
	MediaType    string            `json:"mediaType"`
	Digest       string            `json:"digest"`
	Size         int64             `json:"size"`
	ArtifactType string            `json:"artifactType,omitempty"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	URLs         []string          `json:"urls,omitempty"`
}

// document is the part of an image manifest or index this store reads.
type document struct {
	SchemaVersion int               `json:"schemaVersion"`
	MediaType     string            `json:"mediaType"`
	ArtifactType  string            `json:"artifactType"`
	Config        *Descriptor       `json:"config"`
	Layers        []Descriptor      `json:"layers"`
	Manifests     []Descriptor      `json:"manifests"`
	Subject       *Descriptor       `json:"subject"`
	Annotations   map[string]string `json:"annotations"`
}

// Pushed is the result of a manifest push.
type Pushed struct {
	Digest  oci.Digest
	Subject string // the subject's digest ("" when none): the OCI-Subject header
}

// pushable are the manifest types a push may use.
var pushable = map[string]bool{
	oci.MediaTypeOCIManifest: true, oci.MediaTypeOCIIndex: true,
	oci.MediaTypeDockerManifest: true, oci.MediaTypeDockerManifestList: true,
}

// PutManifest stores body (the exact bytes) as a manifest of r, by tag or
// by digest (ref), also under tags (the ?tag= parameters of a push by
// digest). The document must parse, its media type (contentType,
// else its own mediaType) must be an image manifest or index, a by-digest
// ref must be the bytes' digest, and the blobs and child manifests it
// references must be in r (non-distributable layers excepted). A subject
// need not exist (OCI 1.1 pushes referrers before their subject).
func (s *Store) PutManifest(ctx context.Context, r Repo, ref oci.Reference, tags []string, contentType string, body []byte) (Pushed, error) {
	alg := "sha256"
	if ref.IsDigest() {
		alg = ref.Digest.Algorithm()
	}
	d := oci.FromBytes(alg, body)
	if ref.IsDigest() && d != ref.Digest {
		return Pushed{}, fmt.Errorf("%w: the manifest's %s digest is %s, not %s", ErrDigestInvalid, alg, d, ref.Digest)
	}
	var doc document
	if err := json.Unmarshal(body, &doc); err != nil {
		return Pushed{}, fmt.Errorf("%w: not JSON: %v", ErrManifestInvalid, err)
	}
	mt := oci.BaseType(contentType)
	switch {
	case doc.MediaType != "" && pushable[mt] && mt != doc.MediaType:
		return Pushed{}, fmt.Errorf("%w: Content-Type %s but mediaType %s", ErrManifestInvalid, mt, doc.MediaType)
	case doc.MediaType != "":
		mt = doc.MediaType
	case !pushable[mt] && doc.Manifests != nil:
		mt = oci.MediaTypeOCIIndex
	case !pushable[mt]:
		mt = oci.MediaTypeOCIManifest
	}
	if !pushable[mt] || doc.SchemaVersion != 2 {
		return Pushed{}, fmt.Errorf("%w: media type %q, schemaVersion %d (want an image manifest or index, schemaVersion 2)", ErrManifestInvalid, mt, doc.SchemaVersion)
	}
	isIndex := mt == oci.MediaTypeOCIIndex || mt == oci.MediaTypeDockerManifestList
	var blobs, children []string
	if isIndex {
		for _, m := range doc.Manifests {
			children = append(children, m.Digest)
		}
	} else {
		if doc.Config == nil {
			return Pushed{}, fmt.Errorf("%w: an image manifest needs a config", ErrManifestInvalid)
		}
		blobs = append(blobs, doc.Config.Digest)
		for _, l := range doc.Layers {
			if !nonDistributable(l.MediaType) {
				blobs = append(blobs, l.Digest)
			}
		}
	}
	for _, c := range append(append([]string(nil), blobs...), children...) {
		if _, err := oci.ParseContentDigest(c); err != nil {
			return Pushed{}, fmt.Errorf("%w: invalid digest %q", ErrManifestInvalid, c)
		}
	}
	blobs = unique(blobs)
	// Touching the blobs both checks them and protects them from garbage
	// collection until the manifest row references them.
	held, err := s.o.Meta.TouchRegistryBlobs(ctx, r.Remote, r.Name, blobs, s.o.Now())
	if err != nil {
		return Pushed{}, err
	}
	if missing := minus(blobs, held); len(missing) > 0 {
		return Pushed{}, fmt.Errorf("%w: %s", ErrManifestBlobUnknown, strings.Join(missing, ", "))
	}
	for _, c := range children {
		if _, err := s.o.Meta.GetRegistryManifest(ctx, r.Remote, r.Name, c); err != nil {
			if errors.Is(err, db.ErrNotFound) {
				return Pushed{}, fmt.Errorf("%w: child manifest %s", ErrManifestBlobUnknown, c)
			}
			return Pushed{}, err
		}
	}
	if _, err := s.o.Meta.GetRegistryManifest(ctx, r.Remote, r.Name, d.String()); errors.Is(err, db.ErrNotFound) {
		if err := s.checkQuota(ctx, r, int64(len(body))); err != nil {
			return Pushed{}, err
		}
	}
	m := db.RegistryManifest{Remote: r.Remote, Name: r.Name, Digest: d.String(), MediaType: mt, Body: body,
		ArtifactType: artifactType(doc, isIndex), Blobs: blobs, CreatedAt: s.o.Now()}
	if doc.Subject != nil {
		m.Subject = doc.Subject.Digest
	}
	if !ref.IsDigest() {
		tags = append([]string{ref.Tag}, tags...)
	}
	if err := s.o.Meta.PutRegistryManifest(ctx, m, tags); err != nil {
		return Pushed{}, err
	}
	return Pushed{Digest: d, Subject: m.Subject}, nil
}

// artifactType is what the referrers API reports: the manifest's
// artifactType, else an image manifest's config media type.
func artifactType(doc document, isIndex bool) string {
	if doc.ArtifactType != "" || isIndex || doc.Config == nil {
		return doc.ArtifactType
	}
	return doc.Config.MediaType
}

// nonDistributable layers are not pushed to registries (their bytes are
// elsewhere, see their urls).
func nonDistributable(mediaType string) bool {
	return strings.Contains(mediaType, ".nondistributable.") || strings.Contains(mediaType, ".foreign.")
}

func unique(v []string) []string {
	seen := map[string]bool{}
	out := v[:0]
	for _, s := range v {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

func minus(all, have []string) []string {
	h := map[string]bool{}
	for _, s := range have {
		h[s] = true
	}
	var out []string
	for _, s := range all {
		if !h[s] {
			out = append(out, s)
		}
	}
	return out
}

// Manifest returns the manifest ref (a tag or a digest) of r, or ErrManifestUnknown.
func (s *Store) Manifest(ctx context.Context, r Repo, ref oci.Reference) (db.RegistryManifest, error) {
	d := ref.Digest.String()
	if !ref.IsDigest() {
		var err error
		if d, err = s.o.Meta.ResolveRegistryTag(ctx, r.Remote, r.Name, ref.Tag); err != nil {
			return db.RegistryManifest{}, unknown(err, ErrManifestUnknown, ref.Tag)
		}
	}
	m, err := s.o.Meta.GetRegistryManifest(ctx, r.Remote, r.Name, d)
	return m, unknown(err, ErrManifestUnknown, d)
}

// DeleteManifest deletes a tag (the manifest stays), or a manifest by
// digest with every tag pointing at it. Its blobs become garbage once no
// manifest references them.
func (s *Store) DeleteManifest(ctx context.Context, r Repo, ref oci.Reference) error {
	if ref.IsDigest() {
		return unknown(s.o.Meta.DeleteRegistryManifest(ctx, r.Remote, r.Name, ref.Digest.String()), ErrManifestUnknown, ref.String())
	}
	return unknown(s.o.Meta.DeleteRegistryTag(ctx, r.Remote, r.Name, ref.Tag), ErrManifestUnknown, ref.Tag)
}

// Tags returns up to n tags of r after last (n <= 0: all), and whether
// more follow.
func (s *Store) Tags(ctx context.Context, r Repo, last string, n int) ([]string, bool, error) {
	limit := 0
	if n > 0 {
		limit = n + 1
	}
	tags, err := s.o.Meta.ListRegistryTags(ctx, r.Remote, r.Name, last, limit)
	if err != nil {
		return nil, false, err
	}
	if n > 0 && len(tags) > n {
		return tags[:n], true, nil
	}
	return tags, false, nil
}

// Referrers returns the descriptors of r's manifests whose subject is
// subject, those of artifactType only when it is not "".
func (s *Store) Referrers(ctx context.Context, r Repo, subject oci.Digest, artifactType string) ([]Descriptor, error) {
	ms, err := s.o.Meta.ListRegistryReferrers(ctx, r.Remote, r.Name, subject.String())
	if err != nil {
		return nil, err
	}
	out := []Descriptor{}
	for _, m := range ms {
		if artifactType != "" && m.ArtifactType != artifactType {
			continue
		}
		var doc document
		_ = json.Unmarshal(m.Body, &doc) // validated when pushed
		out = append(out, Descriptor{MediaType: m.MediaType, Digest: m.Digest, Size: int64(len(m.Body)),
			ArtifactType: m.ArtifactType, Annotations: doc.Annotations})
	}
	return out, nil
}

// unknown maps db.ErrNotFound to sentinel.
func unknown(err, sentinel error, what string) error {
	if errors.Is(err, db.ErrNotFound) {
		return fmt.Errorf("%w: %s", sentinel, what)
	}
	return err
}
