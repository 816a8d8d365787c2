package db

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"
)

// RegistryRepository summarises one repository of a local docker remote.
type RegistryRepository struct {
	Name      string
	Manifests int64 // tagged or not
	Tags      int64
	// Size is the bytes of the blobs its manifests reference, each once.
	Size int64
	// UpdatedAt is the last manifest push or tag move.
	UpdatedAt time.Time
	// LastPulled is the last pull of one of its manifests (zero: never).
	LastPulled time.Time
}

// RegistryTagDetail is a tag with the manifest it points at.
type RegistryTagDetail struct {
	Tag          string
	Digest       string
	MediaType    string
	ManifestSize int64 // length of the manifest's bytes
	// BlobsSize is the bytes of the blobs the manifest references (config
	// and layers, each once); 0 for an index, whose children hold them.
	BlobsSize  int64
	PushedAt   time.Time // when the manifest was first pushed
	UpdatedAt  time.Time // when the tag was last pointed at it
	LastPulled time.Time // the manifest's last pull (zero: never)
}

// ManifestPull is one pull of a pushed manifest.
type ManifestPull struct {
	Remote, Name, Digest string
	At                   time.Time
}

// RegistryBrowser reads the local docker repositories for the dashboard.
type RegistryBrowser interface {
	// ListRegistryRepositories returns up to limit repositories of remote
	// holding at least one manifest, sorted by name, after after ("": from
	// the first).
	ListRegistryRepositories(ctx context.Context, remote, after string, limit int) ([]RegistryRepository, error)
	// ListRegistryTagDetails returns up to limit tags of a repository with
	// their manifests, sorted bytewise, after after ("": from the first).
	ListRegistryTagDetails(ctx context.Context, remote, name, after string, limit int) ([]RegistryTagDetail, error)
	// RegistryBlobsSize is the bytes of the distinct blobs the repository's
	// manifests (digests) reference: an index's size from its children.
	RegistryBlobsSize(ctx context.Context, remote, name string, manifests []string) (int64, error)
	// ListRegistryManifests returns every manifest of a repository (with
	// its bytes), sorted by digest: what the dashboard walks to find the
	// untagged ones, or to delete the repository.
	ListRegistryManifests(ctx context.Context, remote, name string) ([]RegistryManifest, error)
	// RecordManifestPulls moves each manifest's last pull forward to At
	// (never back); pulls of manifests that are gone are ignored.
	RecordManifestPulls(ctx context.Context, pulls []ManifestPull) error
}

// blobsOfManifests sums the distinct blobs referenced by the manifests of a
// repository: formatted with the remote, the name and an extra condition.
const blobsOfManifests = `SELECT COALESCE(SUM(b.size), 0) FROM oci_blobs b WHERE b.digest IN
	(SELECT mb.digest FROM oci_manifest_blobs mb WHERE mb.remote = %s AND mb.name = %s%s)`

// ListRegistryRepositories implements RegistryBrowser.
func (s *registrySQL) ListRegistryRepositories(ctx context.Context, remote, after string, limit int) ([]RegistryRepository, error) {
	rows, err := s.r.QueryContext(ctx, s.q(`SELECT m.name, COUNT(*), MAX(m.created_at), MAX(m.last_pulled),
		(SELECT COUNT(*) FROM oci_tags t WHERE t.remote = m.remote AND t.name = m.name),
		(SELECT COALESCE(MAX(t.updated_at), 0) FROM oci_tags t WHERE t.remote = m.remote AND t.name = m.name),
		(`+fmt.Sprintf(blobsOfManifests, "m.remote", "m.name", "")+`)
		FROM oci_manifests m WHERE m.remote = ? AND m.name > ?
		GROUP BY m.remote, m.name ORDER BY m.name LIMIT ?`), remote, after, limit)
	if err != nil {
		return nil, fmt.Errorf("db: list repositories of %s: %w", remote, err)
	}
	defer rows.Close()
	var out []RegistryRepository
	for rows.Next() {
		var r RegistryRepository
		var pushed, pulled, tagged int64
		if err := rows.Scan(&r.Name, &r.Manifests, &pushed, &pulled, &r.Tags, &tagged, &r.Size); err != nil {
			return nil, fmt.Errorf("db: list repositories of %s: %w", remote, err)
		}
		r.UpdatedAt = fromNanos(max(pushed, tagged))
		if pulled > 0 {
			r.LastPulled = fromNanos(pulled)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("db: list repositories of %s: %w", remote, err)
	}
	return out, nil
}

// ListRegistryTagDetails implements RegistryBrowser.
func (s *registrySQL) ListRegistryTagDetails(ctx context.Context, remote, name, after string, limit int) ([]RegistryTagDetail, error) {
	rows, err := s.r.QueryContext(ctx, s.q(`SELECT t.tag, t.digest, m.media_type, LENGTH(m.body), m.created_at, t.updated_at, m.last_pulled,
		(`+fmt.Sprintf(blobsOfManifests, "t.remote", "t.name", " AND mb.manifest = t.digest")+`)
		FROM oci_tags t JOIN oci_manifests m ON m.remote = t.remote AND m.name = t.name AND m.digest = t.digest
		WHERE t.remote = ? AND t.name = ? AND t.tag > ? ORDER BY t.tag LIMIT ?`), remote, name, after, limit)
	if err != nil {
		return nil, fmt.Errorf("db: list tags of %s/%s: %w", remote, name, err)
	}
	defer rows.Close()
	var out []RegistryTagDetail
	for rows.Next() {
		var d RegistryTagDetail
		var pushed, updated, pulled int64
		if err := rows.Scan(&d.Tag, &d.Digest, &d.MediaType, &d.ManifestSize, &pushed, &updated, &pulled, &d.BlobsSize); err != nil {
			return nil, fmt.Errorf("db: list tags of %s/%s: %w", remote, name, err)
		}
		d.PushedAt, d.UpdatedAt = fromNanos(pushed), fromNanos(updated)
		if pulled > 0 {
			d.LastPulled = fromNanos(pulled)
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("db: list tags of %s/%s: %w", remote, name, err)
	}
	return out, nil
}

// RegistryBlobsSize implements RegistryBrowser.
func (s *registrySQL) RegistryBlobsSize(ctx context.Context, remote, name string, manifests []string) (int64, error) {
	if len(manifests) == 0 {
		return 0, nil
	}
	in, args := inList(manifests)
	args = append([]any{remote, name}, args...)
	var n int64
	err := s.r.QueryRowContext(ctx, s.q(fmt.Sprintf(blobsOfManifests, "?", "?", " AND mb.manifest IN ("+in+")")), args...).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("db: size of manifests of %s/%s: %w", remote, name, err)
	}
	return n, nil
}

// ListRegistryManifests implements RegistryBrowser.
func (s *registrySQL) ListRegistryManifests(ctx context.Context, remote, name string) ([]RegistryManifest, error) {
	rows, err := s.r.QueryContext(ctx, s.q(`SELECT `+manifestCols+` FROM oci_manifests
		WHERE remote = ? AND name = ? ORDER BY digest`), remote, name)
	if err != nil {
		return nil, fmt.Errorf("db: manifests of %s/%s: %w", remote, name, err)
	}
	defer rows.Close()
	var out []RegistryManifest
	for rows.Next() {
		m, err := scanManifest(rows)
		if err != nil {
			return nil, fmt.Errorf("db: manifests of %s/%s: %w", remote, name, err)
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("db: manifests of %s/%s: %w", remote, name, err)
	}
	return out, nil
}

// RecordManifestPulls implements RegistryBrowser: one transaction, rows in
// key order (concurrent batches cannot deadlock).
func (s *registrySQL) RecordManifestPulls(ctx context.Context, pulls []ManifestPull) error {
	if len(pulls) == 0 {
		return nil
	}
	sorted := slices.Clone(pulls)
	slices.SortFunc(sorted, func(a, b ManifestPull) int {
		return cmp.Or(cmp.Compare(a.Remote, b.Remote), cmp.Compare(a.Name, b.Name), cmp.Compare(a.Digest, b.Digest))
	})
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("db: record pulls: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	for _, p := range sorted {
		at := p.At.UnixNano()
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE oci_manifests SET last_pulled = ?
			WHERE remote = ? AND name = ? AND digest = ? AND last_pulled < ?`), at, p.Remote, p.Name, p.Digest, at); err != nil {
			return fmt.Errorf("db: record pull of %s/%s@%s: %w", p.Remote, p.Name, p.Digest, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("db: record pulls: %w", err)
	}
	return nil
}
