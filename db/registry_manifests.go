package db

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

const manifestCols = `remote, name, digest, media_type, body, subject, artifact_type, created_at`

func scanManifest(row scanner) (RegistryManifest, error) {
	var m RegistryManifest
	var created int64
	if err := row.Scan(&m.Remote, &m.Name, &m.Digest, &m.MediaType, &m.Body, &m.Subject, &m.ArtifactType, &created); err != nil {
		return m, notFound(err)
	}
	m.CreatedAt = fromNanos(created)
	return m, nil
}

// PutRegistryManifest implements RegistryStore.
func (s *registrySQL) PutRegistryManifest(ctx context.Context, m RegistryManifest, tags []string) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, s.q(`INSERT INTO oci_manifests (`+manifestCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (remote, name, digest) DO NOTHING`),
			m.Remote, m.Name, m.Digest, m.MediaType, m.Body, m.Subject, m.ArtifactType, nanos(m.CreatedAt))
		if err != nil {
			return err
		}
		for _, d := range m.Blobs {
			if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO oci_manifest_blobs (remote, name, manifest, digest) VALUES (?, ?, ?, ?)
				ON CONFLICT (remote, name, manifest, digest) DO NOTHING`), m.Remote, m.Name, m.Digest, d); err != nil {
				return err
			}
		}
		for _, t := range tags {
			if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO oci_tags (remote, name, tag, digest, updated_at) VALUES (?, ?, ?, ?, ?)
				ON CONFLICT (remote, name, tag) DO UPDATE SET digest = excluded.digest, updated_at = excluded.updated_at`),
				m.Remote, m.Name, t, m.Digest, nanos(m.CreatedAt)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("db: put manifest %s of %s/%s: %w", m.Digest, m.Remote, m.Name, err)
	}
	return nil
}

// GetRegistryManifest implements RegistryStore.
func (s *registrySQL) GetRegistryManifest(ctx context.Context, remote, name, digest string) (RegistryManifest, error) {
	m, err := scanManifest(s.r.QueryRowContext(ctx, s.q(`SELECT `+manifestCols+` FROM oci_manifests
		WHERE remote = ? AND name = ? AND digest = ?`), remote, name, digest))
	if err != nil {
		return m, fmt.Errorf("db: get manifest %s of %s/%s: %w", digest, remote, name, err)
	}
	return m, nil
}

// ResolveRegistryTag implements RegistryStore.
func (s *registrySQL) ResolveRegistryTag(ctx context.Context, remote, name, tag string) (string, error) {
	var d string
	err := s.r.QueryRowContext(ctx, s.q(`SELECT digest FROM oci_tags WHERE remote = ? AND name = ? AND tag = ?`), remote, name, tag).Scan(&d)
	if err != nil {
		return "", fmt.Errorf("db: resolve tag %s of %s/%s: %w", tag, remote, name, notFound(err))
	}
	return d, nil
}

// ListRegistryTags implements RegistryStore. Tags are compared bytewise
// (COLLATE "C" on PostgreSQL, SQLite's default BINARY).
func (s *registrySQL) ListRegistryTags(ctx context.Context, remote, name, last string, limit int) ([]string, error) {
	query := `SELECT tag FROM oci_tags WHERE remote = ? AND name = ? AND tag > ? ORDER BY tag`
	args := []any{remote, name, last}
	if limit > 0 {
		query += ` LIMIT ?`
		args = append(args, limit)
	}
	rows, err := s.r.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return nil, fmt.Errorf("db: list tags of %s/%s: %w", remote, name, err)
	}
	tags, err := scanStrings(rows)
	if err != nil {
		return nil, fmt.Errorf("db: list tags of %s/%s: %w", remote, name, err)
	}
	return tags, nil
}

// DeleteRegistryManifest implements RegistryStore; tags and references go
// with it (ON DELETE CASCADE).
func (s *registrySQL) DeleteRegistryManifest(ctx context.Context, remote, name, digest string) error {
	res, err := s.w.ExecContext(ctx, s.q(`DELETE FROM oci_manifests WHERE remote = ? AND name = ? AND digest = ?`), remote, name, digest)
	if err == nil {
		err = affected(res)
	}
	if err != nil {
		return fmt.Errorf("db: delete manifest %s of %s/%s: %w", digest, remote, name, err)
	}
	return nil
}

// DeleteRegistryTag implements RegistryStore.
func (s *registrySQL) DeleteRegistryTag(ctx context.Context, remote, name, tag string) error {
	res, err := s.w.ExecContext(ctx, s.q(`DELETE FROM oci_tags WHERE remote = ? AND name = ? AND tag = ?`), remote, name, tag)
	if err == nil {
		err = affected(res)
	}
	if err != nil {
		return fmt.Errorf("db: delete tag %s of %s/%s: %w", tag, remote, name, err)
	}
	return nil
}

// ListRegistryReferrers implements RegistryStore.
func (s *registrySQL) ListRegistryReferrers(ctx context.Context, remote, name, subject string) ([]RegistryManifest, error) {
	rows, err := s.r.QueryContext(ctx, s.q(`SELECT `+manifestCols+` FROM oci_manifests
		WHERE remote = ? AND name = ? AND subject = ? ORDER BY created_at, digest`), remote, name, subject)
	if err != nil {
		return nil, fmt.Errorf("db: referrers of %s in %s/%s: %w", subject, remote, name, err)
	}
	defer rows.Close()
	var out []RegistryManifest
	for rows.Next() {
		m, err := scanManifest(rows)
		if err != nil {
			return nil, fmt.Errorf("db: referrers of %s in %s/%s: %w", subject, remote, name, err)
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("db: referrers of %s in %s/%s: %w", subject, remote, name, err)
	}
	return out, nil
}

// RegistryUsage implements RegistryStore.
func (s *registrySQL) RegistryUsage(ctx context.Context, remote string) (int64, error) {
	var blobs, manifests int64
	err := s.r.QueryRowContext(ctx, s.q(`SELECT COALESCE(SUM(size), 0) FROM oci_blobs
		WHERE digest IN (SELECT digest FROM oci_repo_blobs WHERE remote = ?)`), remote).Scan(&blobs)
	if err == nil {
		err = s.r.QueryRowContext(ctx, s.q(`SELECT COALESCE(SUM(LENGTH(body)), 0) FROM oci_manifests WHERE remote = ?`), remote).Scan(&manifests)
	}
	if err != nil {
		return 0, fmt.Errorf("db: registry usage of %s: %w", remote, err)
	}
	return blobs + manifests, nil
}

// DeleteUnreferencedRegistryBlobs implements RegistryStore. The conditions
// are repeated in the DELETE itself: a row touched since the SELECT (its
// LastUsed moved) is re-checked and kept.
func (s *registrySQL) DeleteUnreferencedRegistryBlobs(ctx context.Context, before time.Time, limit int) ([]RegistryBlob, error) {
	const cond = `last_used < ? AND NOT EXISTS (SELECT 1 FROM oci_manifest_blobs m WHERE m.digest = oci_blobs.digest)`
	var out []RegistryBlob
	err := s.tx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, s.q(`DELETE FROM oci_blobs WHERE digest IN (SELECT digest FROM oci_blobs WHERE `+cond+` LIMIT ?)
			AND `+cond+` RETURNING `+blobCols), nanos(before), limit, nanos(before))
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			b, err := scanBlob(rows)
			if err != nil {
				return err
			}
			out = append(out, b)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		rows.Close()
		for _, b := range out {
			if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM oci_repo_blobs WHERE digest = ?`), b.Digest); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("db: collect registry blobs: %w", err)
	}
	return out, nil
}
