package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver (pure Go)
)

// SQLite is the Store on an embedded SQLite database (modernc.org/sqlite, no
// cgo). The database is in WAL mode; all writes go through a pool of a single
// connection, so goroutines queue for it instead of failing with SQLITE_BUSY,
// while reads use a separate pool of read-only connections that run
// concurrently with the writer.
type SQLite struct {
	w, r *sql.DB
	path string
}

var _ Store = (*SQLite)(nil)

// sqliteBusyTimeout bounds how long a connection waits for a lock held by
// another connection (or process) before SQLITE_BUSY.
const sqliteBusyTimeout = 10 * time.Second

// OpenSQLite opens (creating it and its parent directory if needed) the
// SQLite database at path and applies pending migrations (see Migrate).
func OpenSQLite(ctx context.Context, path string) (*SQLite, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("db: sqlite path %q: %w", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o755); err != nil {
		return nil, fmt.Errorf("db: sqlite directory: %w", err)
	}
	common := url.Values{
		"_busy_timeout": {fmt.Sprint(sqliteBusyTimeout.Milliseconds())},
		"_foreign_keys": {"1"},
	}
	wq := url.Values{"_journal_mode": {"WAL"}, "_synchronous": {"NORMAL"}, "_txlock": {"immediate"}}
	rq := url.Values{"_query_only": {"1"}}
	for k, v := range common {
		wq[k], rq[k] = v, v
	}
	// A file: URI so that '?', '#' or '%' in the path are escaped.
	u := url.URL{Scheme: "file", Path: abs}
	s := &SQLite{path: path}
	u.RawQuery = wq.Encode()
	if s.w, err = sql.Open("sqlite", u.String()); err != nil {
		return nil, fmt.Errorf("db: open sqlite %s: %w", path, err)
	}
	s.w.SetMaxOpenConns(1)
	s.w.SetConnMaxIdleTime(0)
	s.w.SetConnMaxLifetime(0)
	if err := s.w.PingContext(ctx); err != nil {
		s.w.Close()
		return nil, fmt.Errorf("db: open sqlite %s: %w", path, err)
	}
	if err := Migrate(ctx, s.w, DialectSQLite); err != nil {
		s.w.Close()
		return nil, err
	}
	u.RawQuery = rq.Encode()
	if s.r, err = sql.Open("sqlite", u.String()); err != nil {
		s.w.Close()
		return nil, fmt.Errorf("db: open sqlite %s: %w", path, err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	s.r.SetMaxOpenConns(n)
	s.r.SetMaxIdleConns(n)
	return s, nil
}

const sqliteColumns = pgColumns

// Times are unix nanoseconds. The zero time is math.MinInt64 so that it
// sorts first and reads back as the zero time; other times are clamped to
// the representable range (years 1678 to 2262).
var (
	minSQLiteTime = time.Unix(0, math.MinInt64+1)
	maxSQLiteTime = time.Unix(0, math.MaxInt64)
)

func sqliteTime(t time.Time) int64 {
	switch {
	case t.IsZero():
		return math.MinInt64
	case t.Before(minSQLiteTime):
		return math.MinInt64 + 1
	case t.After(maxSQLiteTime):
		return math.MaxInt64
	}
	return t.UnixNano()
}

func fromSQLiteTime(n int64) time.Time {
	if n == math.MinInt64 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// sqliteExpiry maps the zero time (never) to NULL.
func sqliteExpiry(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return sqliteTime(t)
}

type scanner interface{ Scan(dest ...any) error }

func scanSQLite(row scanner) (Artifact, error) {
	var a Artifact
	var cached, access int64
	var expires sql.NullInt64
	err := row.Scan(&a.ID, &a.Remote, &a.Path, &a.StorageKey, &a.Size, &a.SHA256, &a.ContentType, &a.ETag,
		&a.LastModified, &a.Kind, &a.Pattern, &a.UpstreamURL, &cached, &expires, &access, &a.Hits, &a.Pinned, &a.BlobVersion)
	if errors.Is(err, sql.ErrNoRows) {
		return a, fmt.Errorf("%w (%w)", ErrNotFound, err)
	}
	if err != nil {
		return a, err
	}
	a.CachedAt, a.LastAccess = fromSQLiteTime(cached), fromSQLiteTime(access)
	if expires.Valid {
		a.ExpiresAt = fromSQLiteTime(expires.Int64)
	}
	return a, nil
}

// GetArtifact implements Store.
func (s *SQLite) GetArtifact(ctx context.Context, remote, path string) (Artifact, error) {
	a, err := scanSQLite(s.r.QueryRowContext(ctx, `SELECT `+sqliteColumns+` FROM artifacts WHERE remote = ? AND path = ?`, remote, path))
	if err != nil {
		return a, fmt.Errorf("db: get %s/%s: %w", remote, path, err)
	}
	return a, nil
}

// PutArtifact implements Store. A replaced row keeps its ID.
func (s *SQLite) PutArtifact(ctx context.Context, a Artifact) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO artifacts (remote, path, storage_key, size, sha256, content_type, etag,
		last_modified, kind, pattern, upstream_url, cached_at, expires_at, last_access, hits, pinned, blob_version)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
	ON CONFLICT (remote, path) DO UPDATE SET
		storage_key = excluded.storage_key, size = excluded.size, sha256 = excluded.sha256,
		content_type = excluded.content_type, etag = excluded.etag, last_modified = excluded.last_modified,
		kind = excluded.kind, pattern = excluded.pattern, upstream_url = excluded.upstream_url,
		cached_at = excluded.cached_at, expires_at = excluded.expires_at, last_access = excluded.last_access,
		hits = max(artifacts.hits, excluded.hits), pinned = (artifacts.pinned OR excluded.pinned), blob_version = excluded.blob_version`,
		a.Remote, a.Path, a.StorageKey, a.Size, a.SHA256, a.ContentType, a.ETag,
		a.LastModified, a.Kind, a.Pattern, a.UpstreamURL, sqliteTime(a.CachedAt), sqliteExpiry(a.ExpiresAt),
		sqliteTime(a.LastAccess), a.Hits, a.Pinned, a.BlobVersion)
	if err != nil {
		return fmt.Errorf("db: put %s/%s: %w", a.Remote, a.Path, err)
	}
	return nil
}

// DeleteArtifact implements Store.
func (s *SQLite) DeleteArtifact(ctx context.Context, remote, path string) (Artifact, error) {
	a, err := scanSQLite(s.w.QueryRowContext(ctx, `DELETE FROM artifacts WHERE remote = ? AND path = ? RETURNING `+sqliteColumns, remote, path))
	if err != nil {
		return a, fmt.Errorf("db: delete %s/%s: %w", remote, path, err)
	}
	return a, nil
}

// SetExpiry implements Store.
func (s *SQLite) SetExpiry(ctx context.Context, remote, path string, expires time.Time) error {
	res, err := s.w.ExecContext(ctx, `UPDATE artifacts SET expires_at = ? WHERE remote = ? AND path = ?`,
		sqliteExpiry(expires), remote, path)
	if err == nil {
		var n int64
		if n, err = res.RowsAffected(); err == nil && n == 0 {
			err = ErrNotFound
		}
	}
	if err != nil {
		return fmt.Errorf("db: set expiry of %s/%s: %w", remote, path, err)
	}
	return nil
}

// SetBlobVersion implements Store.
func (s *SQLite) SetBlobVersion(ctx context.Context, remote, path, storageKey, from, to string) (bool, error) {
	res, err := s.w.ExecContext(ctx, `UPDATE artifacts SET blob_version = ? WHERE remote = ? AND path = ? AND storage_key = ? AND blob_version = ?`,
		to, remote, path, storageKey, from)
	var n int64
	if err == nil {
		n, err = res.RowsAffected()
	}
	if err != nil {
		return false, fmt.Errorf("db: set blob version of %s/%s: %w", remote, path, err)
	}
	return n == 1, nil
}

// RecordHits implements Store. The batch is applied in one transaction;
// hits for rows that do not exist are ignored.
func (s *SQLite) RecordHits(ctx context.Context, hits []Hit) (err error) {
	merged := mergeHits(hits)
	if len(merged) == 0 {
		return nil
	}
	defer func() {
		if err != nil {
			err = fmt.Errorf("db: record hits: %w", err)
		}
	}()
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	stmt, err := tx.PrepareContext(ctx, `UPDATE artifacts SET hits = hits + ?, last_access = max(last_access, ?)
		WHERE remote = ? AND path = ?`)
	if err != nil {
		return err
	}
	defer stmt.Close()
	for _, h := range merged {
		if _, err := stmt.ExecContext(ctx, h.Count, sqliteTime(h.Last), h.Remote, h.Path); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// Ping implements Store.
func (s *SQLite) Ping(ctx context.Context) error {
	if err := s.r.PingContext(ctx); err != nil {
		return fmt.Errorf("db: ping %s: %w", s.Describe(), err)
	}
	if err := s.w.PingContext(ctx); err != nil {
		return fmt.Errorf("db: ping %s: %w", s.Describe(), err)
	}
	return nil
}

// Describe implements Store: "sqlite <path>".
func (s *SQLite) Describe() string { return "sqlite " + s.path }

// Close implements Store.
func (s *SQLite) Close() error {
	return errors.Join(s.r.Close(), s.w.Close())
}
