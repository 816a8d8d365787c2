package db

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
)

// Postgres is the Store on PostgreSQL, through a pgx connection pool.
type Postgres struct {
	pool *pgxpool.Pool
	desc string
}

var _ Store = (*Postgres)(nil)

// PostgresDSN builds a postgres:// URL from its parts, escaping each of them.
// An empty pass leaves the password out; an empty port leaves the port out.
func PostgresDSN(host, port, user, pass, dbname string) string {
	u := url.URL{Scheme: "postgres", Host: host, Path: "/" + dbname}
	if port != "" {
		u.Host = net.JoinHostPort(host, port)
	}
	switch {
	case pass != "":
		u.User = url.UserPassword(user, pass)
	case user != "":
		u.User = url.User(user)
	}
	return u.String()
}

// OpenPostgres connects to the database named by dsn (a postgres:// URL or a
// key=value string), checks it can be reached and applies pending migrations
// (see Migrate). Errors never contain the password of dsn.
func OpenPostgres(ctx context.Context, dsn string, opts ...PostgresOption) (*Postgres, error) {
	if err := checkDSNAuthority(dsn); err != nil {
		return nil, err
	}
	secrets := secrets{dsnPassword(dsn)}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, secrets.redact(parseDSNError(err))
	}
	secrets = append(secrets, cfg.ConnConfig.Password)
	for _, o := range opts {
		o(cfg)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, secrets.redact(fmt.Errorf("db: open PostgreSQL: %w", err))
	}
	p := &Postgres{pool: pool, desc: secrets.scrub(fmt.Sprintf("postgresql %s/%s",
		net.JoinHostPort(cfg.ConnConfig.Host, strconv.Itoa(int(cfg.ConnConfig.Port))), cfg.ConnConfig.Database))}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, secrets.redact(fmt.Errorf("db: connect to %s: %w", p.desc, err))
	}
	sqlDB := stdlib.OpenDBFromPool(pool)
	err = Migrate(ctx, sqlDB, DialectPostgres)
	_ = sqlDB.Close() // does not close the pool
	if err != nil {
		pool.Close()
		return nil, secrets.redact(err)
	}
	return p, nil
}

// Pool returns the underlying pgx pool, for callers needing PostgreSQL
// features beyond Store.
func (p *Postgres) Pool() *pgxpool.Pool { return p.pool }

const pgColumns = `id, remote, path, storage_key, size, sha256, content_type, etag,
	last_modified, kind, pattern, upstream_url, cached_at, expires_at, last_access, hits, pinned, blob_version`

func scanPG(row pgx.Row) (Artifact, error) {
	var a Artifact
	var expires *time.Time
	err := row.Scan(&a.ID, &a.Remote, &a.Path, &a.StorageKey, &a.Size, &a.SHA256, &a.ContentType, &a.ETag,
		&a.LastModified, &a.Kind, &a.Pattern, &a.UpstreamURL, &a.CachedAt, &expires, &a.LastAccess, &a.Hits, &a.Pinned, &a.BlobVersion)
	if errors.Is(err, pgx.ErrNoRows) {
		return a, fmt.Errorf("%w (%w)", ErrNotFound, err)
	}
	if err != nil {
		return a, err
	}
	a.CachedAt, a.LastAccess = a.CachedAt.UTC(), a.LastAccess.UTC()
	if expires != nil {
		a.ExpiresAt = expires.UTC()
	}
	return a, nil
}

// pgTime converts t for a timestamptz parameter. PostgreSQL keeps
// microseconds; t is truncated (not rounded) so that what is read back is
// t.Truncate(time.Microsecond) on both backends.
func pgTime(t time.Time) time.Time { return t.Truncate(time.Microsecond).UTC() }

// pgExpiry maps the zero time (never) to NULL.
func pgExpiry(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return pgTime(t)
}

// GetArtifact implements Store.
func (p *Postgres) GetArtifact(ctx context.Context, remote, path string) (Artifact, error) {
	a, err := scanPG(p.pool.QueryRow(ctx, `SELECT `+pgColumns+` FROM artifacts WHERE remote = $1 AND path = $2`, remote, path))
	if err != nil {
		return a, fmt.Errorf("db: get %s/%s: %w", remote, path, err)
	}
	return a, nil
}

// PutArtifact implements Store. A replaced row keeps its ID.
func (p *Postgres) PutArtifact(ctx context.Context, a Artifact) error {
	_, err := p.pool.Exec(ctx, `INSERT INTO artifacts (remote, path, storage_key, size, sha256, content_type, etag,
		last_modified, kind, pattern, upstream_url, cached_at, expires_at, last_access, hits, pinned, blob_version)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
	ON CONFLICT (remote, path) DO UPDATE SET
		storage_key = EXCLUDED.storage_key, size = EXCLUDED.size, sha256 = EXCLUDED.sha256,
		content_type = EXCLUDED.content_type, etag = EXCLUDED.etag, last_modified = EXCLUDED.last_modified,
		kind = EXCLUDED.kind, pattern = EXCLUDED.pattern, upstream_url = EXCLUDED.upstream_url,
		cached_at = EXCLUDED.cached_at, expires_at = EXCLUDED.expires_at, last_access = EXCLUDED.last_access,
		hits = GREATEST(artifacts.hits, EXCLUDED.hits), pinned = artifacts.pinned OR EXCLUDED.pinned, blob_version = EXCLUDED.blob_version`,
		a.Remote, a.Path, a.StorageKey, a.Size, a.SHA256, a.ContentType, a.ETag,
		a.LastModified, a.Kind, a.Pattern, a.UpstreamURL, pgTime(a.CachedAt), pgExpiry(a.ExpiresAt),
		pgTime(a.LastAccess), a.Hits, a.Pinned, a.BlobVersion)
	if err != nil {
		return fmt.Errorf("db: put %s/%s: %w", a.Remote, a.Path, err)
	}
	return nil
}

// DeleteArtifact implements Store.
func (p *Postgres) DeleteArtifact(ctx context.Context, remote, path string) (Artifact, error) {
	a, err := scanPG(p.pool.QueryRow(ctx, `DELETE FROM artifacts WHERE remote = $1 AND path = $2 RETURNING `+pgColumns, remote, path))
	if err != nil {
		return a, fmt.Errorf("db: delete %s/%s: %w", remote, path, err)
	}
	return a, nil
}

// SetExpiry implements Store.
func (p *Postgres) SetExpiry(ctx context.Context, remote, path string, expires time.Time) error {
	tag, err := p.pool.Exec(ctx, `UPDATE artifacts SET expires_at = $3 WHERE remote = $1 AND path = $2`,
		remote, path, pgExpiry(expires))
	if err == nil && tag.RowsAffected() == 0 {
		err = ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("db: set expiry of %s/%s: %w", remote, path, err)
	}
	return nil
}

// SetBlobVersion implements Store.
func (p *Postgres) SetBlobVersion(ctx context.Context, remote, path, storageKey, from, to string) (bool, error) {
	tag, err := p.pool.Exec(ctx, `UPDATE artifacts SET blob_version = $5 WHERE remote = $1 AND path = $2 AND storage_key = $3 AND blob_version = $4`,
		remote, path, storageKey, from, to)
	if err != nil {
		return false, fmt.Errorf("db: set blob version of %s/%s: %w", remote, path, err)
	}
	return tag.RowsAffected() == 1, nil
}

// RecordHits implements Store. The batch is applied in one transaction, rows
// in (remote, path) order so that concurrent batches cannot deadlock. Hits
// for rows that do not exist are ignored.
func (p *Postgres) RecordHits(ctx context.Context, hits []Hit) error {
	merged := mergeHits(hits)
	if len(merged) == 0 {
		return nil
	}
	err := pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error {
		var b pgx.Batch
		for _, h := range merged {
			b.Queue(`UPDATE artifacts SET hits = hits + $3, last_access = GREATEST(last_access, $4)
				WHERE remote = $1 AND path = $2`, h.Remote, h.Path, h.Count, pgTime(h.Last))
		}
		return tx.SendBatch(ctx, &b).Close()
	})
	if err != nil {
		return fmt.Errorf("db: record hits: %w", err)
	}
	return nil
}

// mergeHits sums the counts and keeps the latest time of hits for the same
// artifact, and sorts the result by (Remote, Path).
func mergeHits(hits []Hit) []Hit {
	type key struct{ remote, path string }
	idx := make(map[key]int, len(hits))
	out := make([]Hit, 0, len(hits))
	for _, h := range hits {
		k := key{h.Remote, h.Path}
		i, ok := idx[k]
		if !ok {
			idx[k] = len(out)
			out = append(out, h)
			continue
		}
		out[i].Count += h.Count
		if h.Last.After(out[i].Last) {
			out[i].Last = h.Last
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Remote != out[j].Remote {
			return out[i].Remote < out[j].Remote
		}
		return out[i].Path < out[j].Path
	})
	return out
}

// Ping implements Store.
func (p *Postgres) Ping(ctx context.Context) error {
	if err := p.pool.Ping(ctx); err != nil {
		return fmt.Errorf("db: ping %s: %w", p.desc, err)
	}
	return nil
}

// Describe implements Store: "postgresql host:port/dbname", no credentials.
func (p *Postgres) Describe() string { return p.desc }

// Close implements Store.
func (p *Postgres) Close() error {
	p.pool.Close()
	return nil
}

// kvPassword finds password=... in a key/value DSN.
var kvPassword = regexp.MustCompile(`password\s*=\s*('(?:[^'\\]|\\.)*'|[^\s]+)`)

// dsnPassword extracts the password of a DSN that may not parse, so that it
// can be scrubbed from errors.
func dsnPassword(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && u.User != nil {
		if pw, ok := u.User.Password(); ok {
			return pw
		}
	}
	if m := kvPassword.FindStringSubmatch(dsn); m != nil {
		return strings.Trim(m[1], "'")
	}
	if i, j := strings.Index(dsn, "://"), strings.LastIndex(dsn, "@"); i >= 0 && j > i { // URL that did not parse
		if k := strings.Index(dsn[i+3:j], ":"); k >= 0 {
			return dsn[i+3+k+1 : j]
		}
	}
	return ""
}

// parseDSNError rewrites a DSN parse error without the DSN: pgx quotes it
// with a best-effort redaction, and its ParseConfigError exposes it.
func parseDSNError(err error) error {
	msg := err.Error()
	if pce := (*pgconn.ParseConfigError)(nil); errors.As(err, &pce) {
		msg = "invalid connection string"
		if i := strings.LastIndex(pce.Error(), "`: "); i >= 0 {
			msg = pce.Error()[i+3:]
		}
	}
	return errors.New("db: parse PostgreSQL DSN: " + msg)
}

// checkDSNAuthority rejects a URL whose user information holds an
// unescaped '@': it cannot be parsed unambiguously, and a misparsed password
// would end up in host names and error messages.
func checkDSNAuthority(dsn string) error {
	i := strings.Index(dsn, "://")
	if i < 0 {
		return nil
	}
	authority := dsn[i+3:]
	if j := strings.IndexAny(authority, "/?#"); j >= 0 {
		authority = authority[:j]
	}
	if strings.Count(authority, "@") > 1 {
		return errors.New("db: parse PostgreSQL DSN: '@' in the user name or password must be percent-encoded (see PostgresDSN)")
	}
	return nil
}

// secrets are strings (passwords) that must not appear in messages.
type secrets []string

// scrub replaces every secret in msg, also in its URL-escaped forms.
func (ss secrets) scrub(msg string) string {
	for _, s := range ss {
		for _, form := range []string{s, url.QueryEscape(s), url.PathEscape(s), url.UserPassword("", s).String()[1:]} {
			if form != "" {
				msg = strings.ReplaceAll(msg, form, "xxxxx")
			}
		}
	}
	return msg
}

// redact returns err with its message scrubbed of the secrets.
func (ss secrets) redact(err error) error {
	if err == nil {
		return nil
	}
	return &redactedError{err: err, secrets: ss}
}

// redactedError hides secrets in the message of the error it wraps.
type redactedError struct {
	err     error
	secrets secrets
}

func (e *redactedError) Error() string { return e.secrets.scrub(e.err.Error()) }

func (e *redactedError) Unwrap() error { return e.err }
