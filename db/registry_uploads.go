package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

const uploadCols = `id, remote, name, size, created_at, updated_at`

func scanUpload(row scanner) (RegistryUpload, error) {
	var u RegistryUpload
	var created, updated int64
	if err := row.Scan(&u.ID, &u.Remote, &u.Name, &u.Size, &created, &updated); err != nil {
		return u, notFound(err)
	}
	u.CreatedAt, u.UpdatedAt = fromNanos(created), fromNanos(updated)
	return u, nil
}

// CreateRegistryUpload implements RegistryStore.
func (s *registrySQL) CreateRegistryUpload(ctx context.Context, u RegistryUpload) error {
	_, err := s.w.ExecContext(ctx, s.q(`INSERT INTO oci_uploads (`+uploadCols+`) VALUES (?, ?, ?, 0, ?, ?)`),
		u.ID, u.Remote, u.Name, nanos(u.CreatedAt), nanos(u.CreatedAt))
	if err != nil {
		return fmt.Errorf("db: create upload %s: %w", u.ID, err)
	}
	return nil
}

// GetRegistryUpload implements RegistryStore.
func (s *registrySQL) GetRegistryUpload(ctx context.Context, id string) (RegistryUpload, error) {
	u, err := s.getUpload(ctx, s.r, id)
	if err != nil {
		return u, fmt.Errorf("db: get upload %s: %w", id, err)
	}
	return u, nil
}

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func (s *registrySQL) getUpload(ctx context.Context, q querier, id string) (RegistryUpload, error) {
	u, err := scanUpload(q.QueryRowContext(ctx, s.q(`SELECT `+uploadCols+` FROM oci_uploads WHERE id = ?`), id))
	if err != nil {
		return u, err
	}
	rows, err := q.QueryContext(ctx, s.q(`SELECT seq, storage_key, size, sha256 FROM oci_upload_parts WHERE upload_id = ? ORDER BY seq`), id)
	if err != nil {
		return u, err
	}
	defer rows.Close()
	for rows.Next() {
		var p UploadPart
		if err := rows.Scan(&p.Seq, &p.StorageKey, &p.Size, &p.SHA256); err != nil {
			return u, err
		}
		u.Parts = append(u.Parts, p)
	}
	return u, rows.Err()
}

// AppendRegistryUpload implements RegistryStore. The size check and the
// update are one statement, so of two appends at one offset exactly one
// matches.
func (s *registrySQL) AppendRegistryUpload(ctx context.Context, id string, offset int64, part UploadPart, now time.Time) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.q(`UPDATE oci_uploads SET size = size + ?, updated_at = ? WHERE id = ? AND size = ?`),
			part.Size, nanos(now), id, offset)
		if err != nil {
			return err
		}
		if err := affected(res); err != nil {
			var one int
			if err := tx.QueryRowContext(ctx, s.q(`SELECT 1 FROM oci_uploads WHERE id = ?`), id).Scan(&one); err != nil {
				return notFound(err)
			}
			return ErrConflict
		}
		_, err = tx.ExecContext(ctx, s.q(`INSERT INTO oci_upload_parts (upload_id, seq, storage_key, size, sha256)
			VALUES (?, (SELECT COALESCE(MAX(seq) + 1, 0) FROM oci_upload_parts WHERE upload_id = ?), ?, ?, ?)`),
			id, id, part.StorageKey, part.Size, part.SHA256)
		return err
	})
	if err != nil {
		return fmt.Errorf("db: append to upload %s at %d: %w", id, offset, err)
	}
	return nil
}

// DeleteRegistryUpload implements RegistryStore.
func (s *registrySQL) DeleteRegistryUpload(ctx context.Context, id string) (RegistryUpload, error) {
	var u RegistryUpload
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		if u, err = s.getUpload(ctx, tx, id); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, s.q(`DELETE FROM oci_uploads WHERE id = ?`), id)
		if err == nil {
			err = affected(res)
		}
		return err
	})
	if err != nil {
		return u, fmt.Errorf("db: delete upload %s: %w", id, err)
	}
	return u, nil
}

// StaleRegistryUploads implements RegistryStore.
func (s *registrySQL) StaleRegistryUploads(ctx context.Context, before time.Time, limit int) ([]RegistryUpload, error) {
	rows, err := s.r.QueryContext(ctx, s.q(`SELECT `+uploadCols+` FROM oci_uploads WHERE updated_at < ? ORDER BY updated_at LIMIT ?`),
		nanos(before), limit)
	if err != nil {
		return nil, fmt.Errorf("db: stale uploads: %w", err)
	}
	defer rows.Close()
	var out []RegistryUpload
	for rows.Next() {
		u, err := scanUpload(rows)
		if err != nil {
			return nil, fmt.Errorf("db: stale uploads: %w", err)
		}
		out = append(out, u)
	}
	if err := rows.Err(); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("db: stale uploads: %w", err)
	}
	return out, nil
}
