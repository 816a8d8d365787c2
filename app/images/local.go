package images

import (
	"context"
	"errors"
	"fmt"

	"artifactapi/app/localrepo"
	"artifactapi/app/oci"
	"artifactapi/db"
)

// LocalStore is the part of the store of local docker repositories
// (localrepo.Store) the images are read from and deleted in.
type LocalStore interface {
	Manifest(ctx context.Context, r localrepo.Repo, ref oci.Reference) (db.RegistryManifest, error)
	Blob(ctx context.Context, r localrepo.Repo, d oci.Digest) (db.RegistryBlob, error)
	Manifests(ctx context.Context, r localrepo.Repo) ([]db.RegistryManifest, error)
	TagDetails(ctx context.Context, r localrepo.Repo, after string, n int) ([]localrepo.TagInfo, bool, error)
	DeleteManifest(ctx context.Context, r localrepo.Repo, ref oci.Reference) error
}

var _ LocalStore = (*localrepo.Store)(nil)

// Local reads and deletes the images of local docker repositories.
type Local struct{ Store LocalStore }

// Source returns the Source of repository r.
func (l Local) Source(r localrepo.Repo) Source { return localSource{s: l.Store, r: r} }

type localSource struct {
	s LocalStore
	r localrepo.Repo
}

// Manifest implements Source.
func (s localSource) Manifest(ctx context.Context, digest string) ([]byte, string, error) {
	d, err := oci.ParseContentDigest(digest)
	if err != nil {
		return nil, "", ErrNotFound
	}
	m, err := s.s.Manifest(ctx, s.r, oci.Reference{Digest: d})
	if errors.Is(err, localrepo.ErrManifestUnknown) {
		return nil, "", ErrNotFound
	}
	if err != nil {
		return nil, "", err
	}
	return m.Body, m.MediaType, nil
}

// Blob implements Source.
func (s localSource) Blob(ctx context.Context, digest string) (bool, error) {
	d, err := oci.ParseContentDigest(digest)
	if err != nil {
		return false, nil
	}
	_, err = s.s.Blob(ctx, s.r, d)
	if errors.Is(err, localrepo.ErrBlobUnknown) {
		return false, nil
	}
	return err == nil, err
}

// tagged returns the digests every tag of r points at.
func (l Local) tagged(ctx context.Context, r localrepo.Repo) ([]string, error) {
	var out []string
	after := ""
	for {
		page, more, err := l.Store.TagDetails(ctx, r, after, 1000)
		if err != nil {
			return nil, err
		}
		for _, t := range page {
			out = append(out, t.Digest)
		}
		if !more || len(page) == 0 {
			return out, nil
		}
		after = page[len(page)-1].Tag
	}
}

// Untagged returns the manifests of r no tag reaches (see Untagged).
func (l Local) Untagged(ctx context.Context, r localrepo.Repo) ([]db.RegistryManifest, error) {
	all, err := l.Store.Manifests(ctx, r)
	if err != nil {
		return nil, err
	}
	tagged, err := l.tagged(ctx, r)
	if err != nil {
		return nil, err
	}
	byDigest := make(map[string]db.RegistryManifest, len(all))
	held := make([]string, 0, len(all))
	for _, m := range all {
		byDigest[m.Digest] = m
		held = append(held, m.Digest)
	}
	var out []db.RegistryManifest
	for _, d := range Untagged(held, tagged, func(d string) []byte { return byDigest[d].Body },
		func(d string) string { return byDigest[d].Subject }) {
		out = append(out, byDigest[d])
	}
	return out, nil
}

// Removed is what a deletion removed.
type Removed struct {
	Manifests int64 // manifests (a mirror: cached entries)
	Bytes     int64 // the manifests' bytes (a mirror: every entry's)
}

// DeleteUntagged deletes the manifests of r no tag reaches. Their blobs
// go at the next garbage collection once no manifest references them.
func (l Local) DeleteUntagged(ctx context.Context, r localrepo.Repo) (Removed, error) {
	ms, err := l.Untagged(ctx, r)
	if err != nil {
		return Removed{}, err
	}
	return l.delete(ctx, r, ms)
}

// DeleteRepository deletes every manifest of r, with the tags pointing at
// them: the repository disappears from listings and its pulls fail.
func (l Local) DeleteRepository(ctx context.Context, r localrepo.Repo) (Removed, error) {
	ms, err := l.Store.Manifests(ctx, r)
	if err != nil {
		return Removed{}, err
	}
	return l.delete(ctx, r, ms)
}

func (l Local) delete(ctx context.Context, r localrepo.Repo, ms []db.RegistryManifest) (Removed, error) {
	var res Removed
	for _, m := range ms {
		err := l.Store.DeleteManifest(ctx, r, oci.Reference{Digest: oci.Digest(m.Digest)})
		if errors.Is(err, localrepo.ErrManifestUnknown) {
			continue // deleted meanwhile
		}
		if err != nil {
			return res, fmt.Errorf("images: delete %s of %s/%s: %w", m.Digest, r.Remote, r.Name, err)
		}
		res.Manifests++
		res.Bytes += int64(len(m.Body))
	}
	return res, nil
}
