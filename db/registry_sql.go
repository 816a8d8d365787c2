package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/stdlib"
)

// registrySQL implements RegistryStore once for both dialects: the tables
// keep times as unix nanoseconds and the statements are written with "?"
// placeholders, numbered for PostgreSQL by q.
type registrySQL struct {
	w, r *sql.DB // writes, reads (the same pool on PostgreSQL)
	pg   bool
}

var _ RegistryStore = (*registrySQL)(nil)

// Registry returns the store of local docker repositories.
func (s *SQLite) Registry() RegistryStore { return &registrySQL{w: s.w, r: s.r} }

// Registry returns the store of local docker repositories.
func (p *Postgres) Registry() RegistryStore {
	d := stdlib.OpenDBFromPool(p.pool)
	return &registrySQL{w: d, r: d, pg: true}
}

// q numbers the placeholders for PostgreSQL.
func (s *registrySQL) q(query string) string { return numbered(query, s.pg) }

// numbered turns the "?" placeholders of query into $1, $2… when pg is set.
func numbered(query string, pg bool) string {
	if !pg {
		return query
	}
	var b strings.Builder
	n := 0
	for _, c := range query {
		if c == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(c)
	}
	return b.String()
}

func nanos(t time.Time) int64 { return t.UTC().UnixNano() }

func fromNanos(n int64) time.Time { return time.Unix(0, n).UTC() }

// inList returns "?, ?, …" for vals and the values as []any.
func inList(vals []string) (string, []any) {
	args := make([]any, len(vals))
	for i, v := range vals {
		args[i] = v
	}
	return placeholders(len(vals)), args
}

func notFound(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%w (%w)", ErrNotFound, err)
	}
	return err
}

func scanBlob(row scanner) (RegistryBlob, error) {
	var b RegistryBlob
	var created, used int64
	if err := row.Scan(&b.Digest, &b.Size, &b.StorageKey, &created, &used); err != nil {
		return b, notFound(err)
	}
	b.CreatedAt, b.LastUsed = fromNanos(created), fromNanos(used)
	return b, nil
}

const blobCols = `digest, size, storage_key, created_at, last_used`

// PutRegistryBlob implements RegistryStore.
func (s *registrySQL) PutRegistryBlob(ctx context.Context, b RegistryBlob) (RegistryBlob, bool, error) {
	// The no-op update makes RETURNING yield the existing row on conflict;
	// xmax/changes() would be dialect-specific, so compare the key instead.
	kept, err := scanBlob(s.w.QueryRowContext(ctx, s.q(`INSERT INTO oci_blobs (`+blobCols+`) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (digest) DO UPDATE SET last_used = excluded.last_used RETURNING `+blobCols),
		b.Digest, b.Size, b.StorageKey, nanos(b.CreatedAt), nanos(b.LastUsed)))
	if err != nil {
		return kept, false, fmt.Errorf("db: put registry blob %s: %w", b.Digest, err)
	}
	return kept, kept.StorageKey == b.StorageKey, nil
}

// LinkRegistryBlob implements RegistryStore.
func (s *registrySQL) LinkRegistryBlob(ctx context.Context, remote, name, digest string, now time.Time) (RegistryBlob, error) {
	var b RegistryBlob
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		b, err = scanBlob(tx.QueryRowContext(ctx, s.q(`UPDATE oci_blobs SET last_used = ? WHERE digest = ? RETURNING `+blobCols), nanos(now), digest))
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, s.q(`INSERT INTO oci_repo_blobs (remote, name, digest, created_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (remote, name, digest) DO NOTHING`), remote, name, digest, nanos(now))
		return err
	})
	if err != nil {
		return b, fmt.Errorf("db: link blob %s into %s/%s: %w", digest, remote, name, err)
	}
	return b, nil
}

// TouchRegistryBlobs implements RegistryStore.
func (s *registrySQL) TouchRegistryBlobs(ctx context.Context, remote, name string, digests []string, now time.Time) ([]string, error) {
	if len(digests) == 0 {
		return nil, nil
	}
	in, args := inList(digests)
	args = append([]any{nanos(now), remote, name}, args...)
	rows, err := s.w.QueryContext(ctx, s.q(`UPDATE oci_blobs SET last_used = ? WHERE EXISTS (SELECT 1 FROM oci_repo_blobs r
		WHERE r.remote = ? AND r.name = ? AND r.digest = oci_blobs.digest) AND digest IN (`+in+`) RETURNING digest`), args...)
	if err != nil {
		return nil, fmt.Errorf("db: touch blobs of %s/%s: %w", remote, name, err)
	}
	out, err := scanStrings(rows)
	if err != nil {
		return nil, fmt.Errorf("db: touch blobs of %s/%s: %w", remote, name, err)
	}
	return out, nil
}

func scanStrings(rows *sql.Rows) ([]string, error) {
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// GetRegistryBlob implements RegistryStore.
func (s *registrySQL) GetRegistryBlob(ctx context.Context, remote, name, digest string) (RegistryBlob, error) {
	b, err := scanBlob(s.r.QueryRowContext(ctx, s.q(`SELECT b.digest, b.size, b.storage_key, b.created_at, b.last_used
		FROM oci_blobs b JOIN oci_repo_blobs r ON r.digest = b.digest WHERE r.remote = ? AND r.name = ? AND r.digest = ?`),
		remote, name, digest))
	if err != nil {
		return b, fmt.Errorf("db: get blob %s of %s/%s: %w", digest, remote, name, err)
	}
	return b, nil
}

// UnlinkRegistryBlob implements RegistryStore.
func (s *registrySQL) UnlinkRegistryBlob(ctx context.Context, remote, name, digest string) error {
	res, err := s.w.ExecContext(ctx, s.q(`DELETE FROM oci_repo_blobs WHERE remote = ? AND name = ? AND digest = ?`), remote, name, digest)
	if err == nil {
		err = affected(res)
	}
	if err != nil {
		return fmt.Errorf("db: unlink blob %s of %s/%s: %w", digest, remote, name, err)
	}
	return nil
}

func affected(res sql.Result) error {
	n, err := res.RowsAffected()
	if err == nil && n == 0 {
		err = ErrNotFound
	}
	return err
}

// tx runs fn in a transaction.
func (s *registrySQL) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}
