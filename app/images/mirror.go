package images

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"artifactapi/app/cache"
	"artifactapi/app/oci"
	"artifactapi/db"
)

// MirrorMeta is the part of the metadata store a mirror's images are read
// from (db.Store): its cached entries, by path.
type MirrorMeta interface {
	ListArtifacts(ctx context.Context, q db.ListQuery) (db.ListPage, error)
	GetArtifact(ctx context.Context, remote, path string) (db.Artifact, error)
}

// MirrorCache is the part of the cache engine (cache.Engine) that reads a
// cached manifest's bytes and evicts entries.
type MirrorCache interface {
	Stored(ctx context.Context, remote, p string, max int64) ([]byte, db.Artifact, error)
	EvictWhere(ctx context.Context, remote, q string, match func(path string) bool, reason string) (cache.BulkResult, error)
}

var _ MirrorCache = (*cache.Engine)(nil)

// Mirror reads the images a docker remote has cached. A mirror stores what
// clients pulled as cache entries of the remote (app/registry):
// <name>/manifests/<tag> (and <tag>?accept=… for a client that accepts
// fewer manifest types), <name>/manifests/<digest> (every manifest fetched by
// tag is indexed by its digest too), <name>/blobs/<digest>, <name>/tags/list.
type Mirror struct {
	Meta  MirrorMeta
	Cache MirrorCache
}

// EvictReason labels the dashboard's evictions in the metrics.
const EvictReason = "evicted"

// maxWalk bounds the entries read to list a mirror's repositories.
const maxWalk = 200_000

// entry is a cached entry of a mirror, its path split.
type entry struct {
	db.Artifact
	route oci.Route
	query string // after "?" ("accept=…" for a manifest variant)
}

// digest is the sha256 digest of the entry's bytes.
func (e entry) digest() string { return "sha256:" + e.SHA256 }

// isTag: a manifest entry by tag (its variants included).
func (e entry) isTag() bool {
	return e.route.Kind == oci.KindManifest && !strings.Contains(e.route.Ref, ":")
}

// isDigest: a manifest entry by digest.
func (e entry) isDigest() bool {
	return e.route.Kind == oci.KindManifest && strings.Contains(e.route.Ref, ":")
}

// walk calls fn for each entry of remote whose path contains q and that
// belongs to repository name ("" = any), in path order.
func (m Mirror) walk(ctx context.Context, remote, q, name string, fn func(entry)) error {
	cur, n := "", 0
	for {
		page, err := m.Meta.ListArtifacts(ctx, db.ListQuery{Remote: remote, Q: q, Limit: db.MaxListLimit, Cursor: cur})
		if err != nil {
			return fmt.Errorf("images: list %s: %w", remote, err)
		}
		for _, a := range page.Items {
			p, query, _ := strings.Cut(a.Path, "?")
			e := entry{Artifact: a, route: oci.SplitPath(p), query: query}
			if e.route.Kind == oci.KindUnknown || (name != "" && e.route.Name != name) {
				continue
			}
			fn(e)
		}
		n += len(page.Items)
		if page.NextCursor == "" || n >= maxWalk {
			return nil
		}
		cur = page.NextCursor
	}
}

// Repositories lists the repositories remote has cached, by name.
func (m Mirror) Repositories(ctx context.Context, remote string) ([]Repository, error) {
	byName := map[string]*Repository{}
	tags := map[string]bool{} // repository NUL tag: a tag cached in several variants counts once
	err := m.walk(ctx, remote, "", "", func(e entry) {
		r := byName[e.route.Name]
		if r == nil {
			r = &Repository{Name: e.route.Name}
			byName[e.route.Name] = r
		}
		r.Size += e.Size
		r.Entries++
		if e.CachedAt.After(r.UpdatedAt) {
			r.UpdatedAt = e.CachedAt
		}
		switch {
		case e.isTag() && !tags[e.route.Name+"\x00"+e.route.Ref]:
			tags[e.route.Name+"\x00"+e.route.Ref] = true
			r.Tags++
		case e.isDigest():
			r.Manifests++
		}
		if e.route.Kind == oci.KindManifest && e.LastAccess.After(r.LastPulled) {
			r.LastPulled = e.LastAccess
		}
	})
	if err != nil {
		return nil, err
	}
	out := make([]Repository, 0, len(byName))
	for _, r := range byName {
		out = append(out, *r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// manifests returns the manifest entries of repository name.
func (m Mirror) manifests(ctx context.Context, remote, name string) ([]entry, error) {
	var out []entry
	err := m.walk(ctx, remote, name+"/manifests/", name, func(e entry) {
		if e.route.Kind == oci.KindManifest {
			out = append(out, e)
		}
	})
	return out, err
}

// Tags lists the tags of repository name remote has cached (without sizes:
// see Image), by tag. A tag cached only for a client that accepts fewer
// manifest types (an ?accept= variant) is shown with that variant's manifest.
func (m Mirror) Tags(ctx context.Context, remote, name string) ([]Tag, error) {
	es, err := m.manifests(ctx, remote, name)
	if err != nil {
		return nil, err
	}
	byTag := map[string]entry{}
	for _, e := range es {
		if !e.isTag() {
			continue
		}
		if prev, ok := byTag[e.route.Ref]; !ok || (prev.query != "" && e.query == "") {
			byTag[e.route.Ref] = e
		}
	}
	var out []Tag
	for _, e := range byTag {
		out = append(out, Tag{Tag: e.route.Ref, Digest: e.digest(), MediaType: manifestType(e.ContentType), ManifestSize: e.Size,
			UpdatedAt: e.CachedAt, LastPulled: e.LastAccess, Path: e.Path})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Tag < out[j].Tag })
	return out, nil
}

// manifestType is ct when it is a manifest media type, else "" (the
// manifest's own mediaType then decides).
func manifestType(ct string) string {
	if mt := oci.BaseType(ct); oci.IsManifestType(mt) {
		return mt
	}
	return ""
}

// Source returns the Source of repository name of remote. aliases maps a
// digest to another cached path holding its bytes (a tag's entry), used when
// the manifest is not cached by digest.
func (m Mirror) Source(remote, name string, aliases map[string]string) Source {
	return mirrorSource{m: m, remote: remote, name: name, aliases: aliases}
}

type mirrorSource struct {
	m            Mirror
	remote, name string
	aliases      map[string]string
}

// Manifest implements Source.
func (s mirrorSource) Manifest(ctx context.Context, digest string) ([]byte, string, error) {
	body, a, err := s.m.Cache.Stored(ctx, s.remote, s.name+"/manifests/"+digest, oci.MaxManifestSize)
	if errors.Is(err, db.ErrNotFound) && s.aliases[digest] != "" {
		body, a, err = s.m.Cache.Stored(ctx, s.remote, s.aliases[digest], oci.MaxManifestSize)
	}
	if errors.Is(err, db.ErrNotFound) {
		return nil, "", ErrNotFound
	}
	if err != nil {
		return nil, "", err
	}
	return body, manifestType(a.ContentType), nil
}

// Blob implements Source: the blob is cached under the repository.
func (s mirrorSource) Blob(ctx context.Context, digest string) (bool, error) {
	_, err := s.m.Meta.GetArtifact(ctx, s.remote, s.name+"/blobs/"+digest)
	if errors.Is(err, db.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// Image builds the tree of the manifest digest of repository name.
func (m Mirror) Image(ctx context.Context, remote, name, digest string, aliases map[string]string) (Image, error) {
	return Build(ctx, m.Source(remote, name, aliases), digest)
}

// Aliases maps the digest of each tag of tags to the tag's entry.
func Aliases(tags []Tag) map[string]string {
	out := make(map[string]string, len(tags))
	for _, t := range tags {
		out[t.Digest] = t.Path
	}
	return out
}

// EvictTag evicts the tag's entries (all its Accept variants). The
// manifests and layers stay cached by digest (other tags may share them):
// "untagged" evicts those no tag reaches any more.
func (m Mirror) EvictTag(ctx context.Context, remote, name, tag string) (cache.BulkResult, error) {
	p := name + "/manifests/" + tag
	return m.Cache.EvictWhere(ctx, remote, p, func(path string) bool { return path == p || strings.HasPrefix(path, p+"?") }, EvictReason)
}

// EvictRepository evicts every entry of repository name: manifests,
// layers, tag lists, referrers.
func (m Mirror) EvictRepository(ctx context.Context, remote, name string) (cache.BulkResult, error) {
	return m.Cache.EvictWhere(ctx, remote, name+"/", func(path string) bool {
		p, _, _ := strings.Cut(path, "?")
		return oci.SplitPath(p).Name == name
	}, EvictReason)
}

// Untagged returns the entries of the manifests of repository name that no
// cached tag reaches, and of the layers and configs only they (or no
// cached manifest at all) reference.
func (m Mirror) Untagged(ctx context.Context, remote, name string) ([]db.Artifact, error) {
	es, err := m.manifests(ctx, remote, name)
	if err != nil {
		return nil, err
	}
	bodies := map[string][]byte{}
	byDigest := map[string]db.Artifact{}
	var held, tagged []string
	for _, e := range es {
		if e.isTag() {
			tagged = append(tagged, e.digest())
			continue
		}
		body, _, err := m.Cache.Stored(ctx, remote, e.Path, oci.MaxManifestSize)
		if errors.Is(err, db.ErrNotFound) {
			continue // evicted meanwhile
		}
		if err != nil {
			return nil, err
		}
		bodies[e.route.Ref], byDigest[e.route.Ref] = body, e.Artifact
		held = append(held, e.route.Ref)
	}
	gone := Untagged(held, tagged, func(d string) []byte { return bodies[d] }, func(d string) string { return subjectOf(bodies[d]) })
	var out []db.Artifact
	drop := map[string]bool{}
	for _, d := range gone {
		drop[d] = true
		out = append(out, byDigest[d])
	}
	// Blobs some manifest that stays references stay; the others go.
	used := map[string]bool{}
	for _, d := range held {
		if !drop[d] {
			for _, b := range BlobDigests(bodies[d]) {
				used[b] = true
			}
		}
	}
	for _, e := range es { // a tag's bytes may be the only copy of its manifest
		if e.isTag() {
			if body, _, err := m.Cache.Stored(ctx, remote, e.Path, oci.MaxManifestSize); err == nil {
				for _, b := range BlobDigests(body) {
					used[b] = true
				}
			}
		}
	}
	err = m.walk(ctx, remote, name+"/blobs/", name, func(e entry) {
		if e.route.Kind == oci.KindBlob && !used[e.route.Ref] {
			out = append(out, e.Artifact)
		}
	})
	return out, err
}

// EvictUntagged evicts what Untagged returns.
func (m Mirror) EvictUntagged(ctx context.Context, remote, name string) (cache.BulkResult, error) {
	victims, err := m.Untagged(ctx, remote, name)
	if err != nil || len(victims) == 0 {
		return cache.BulkResult{}, err
	}
	set := make(map[string]bool, len(victims))
	for _, a := range victims {
		set[a.Path] = true
	}
	return m.Cache.EvictWhere(ctx, remote, name+"/", func(path string) bool { return set[path] }, EvictReason)
}
