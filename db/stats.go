package db

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"time"

	"github.com/jackc/pgx/v5/stdlib"
)

// TrafficCounts are a remote's counters over one minute, or over its whole
// life when Minute is zero. Every replica adds what it saw, so the stored
// figures are those of all replicas together.
type TrafficCounts struct {
	Remote string
	Minute time.Time // start of the minute (UTC); zero: the lifetime totals
	// Upstream exchanges that got an answer / that failed, and the summed
	// time to response headers of those timed.
	UpstreamOK, UpstreamErrors int64
	// BadAnswers are the failures where the upstream was reached but
	// answered badly (5xx, 429, refused credentials, a body cut short).
	BadAnswers                  int64
	LatencyMicros, LatencyCount int64
	// StaleServes are expired copies served because the upstream failed.
	StaleServes int64
	// Requests answered from the cache / through an upstream download, and
	// the bytes each sent to clients; UpstreamBytes were downloaded.
	CacheRequests, RemoteRequests          int64
	CacheBytes, RemoteBytes, UpstreamBytes int64
}

// Add sums o's counts into c.
func (c *TrafficCounts) Add(o TrafficCounts) {
	c.UpstreamOK += o.UpstreamOK
	c.UpstreamErrors += o.UpstreamErrors
	c.BadAnswers += o.BadAnswers
	c.LatencyMicros += o.LatencyMicros
	c.LatencyCount += o.LatencyCount
	c.StaleServes += o.StaleServes
	c.CacheRequests += o.CacheRequests
	c.RemoteRequests += o.RemoteRequests
	c.CacheBytes += o.CacheBytes
	c.RemoteBytes += o.RemoteBytes
	c.UpstreamBytes += o.UpstreamBytes
}

// RemoteHealth is the latest of what the replicas saw of a remote's
// upstream. Zero times mean never.
type RemoteHealth struct {
	Remote      string
	LastSuccess time.Time // the last exchange that got an answer
	LastError   time.Time // the last failure, described by ErrorKind and ErrorMessage
	ErrorKind   string    // e.g. "refused", "dns", "tls", "http_5xx"
	// ErrorMessage is secret-free: the recorder scrubs it before it is stored.
	ErrorMessage string
	LastStale    time.Time // the last time an expired copy was served because of a failure
}

// StatsDelta is what one replica saw of a remote since its last flush: the
// counts fall in Minute and in the lifetime totals; the times move the
// remote's health forward (a zero time leaves it alone).
type StatsDelta struct {
	TrafficCounts
	LastSuccess, LastError, LastStale time.Time
	ErrorKind, ErrorMessage           string
}

// StatsStore keeps per-remote upstream health and traffic, shared by the
// replicas: each adds its own observations, every replica reads the sum.
type StatsStore interface {
	// RecordRemoteStats adds each delta's counts to its minute and to the
	// remote's totals, and moves the remote's health to the newer of the
	// stored and the given times (the error kind and message go with the
	// newest error), in one transaction.
	RecordRemoteStats(ctx context.Context, deltas []StatsDelta) error
	// RemoteHealth returns every remote's health, by remote name.
	RemoteHealth(ctx context.Context) ([]RemoteHealth, error)
	// RemoteTraffic returns every remote's lifetime totals (Minute zero)
	// and its minutes from since on, ordered by remote then minute.
	RemoteTraffic(ctx context.Context, since time.Time) ([]TrafficCounts, error)
	// PruneRemoteTraffic deletes the minutes before before (never the
	// totals) and returns how many it deleted.
	PruneRemoteTraffic(ctx context.Context, before time.Time) (int64, error)
	// TopArtifacts returns up to limit artifacts of remote with the most
	// cache hits (ties: by path), none that was never hit.
	TopArtifacts(ctx context.Context, remote string, limit int) ([]Artifact, error)
}

// statsSQL implements StatsStore once for both dialects ("?" placeholders,
// numbered for PostgreSQL; times as unix seconds and nanoseconds).
type statsSQL struct {
	sqlDialect
	w, r *sql.DB // writes, reads (the same pool on PostgreSQL)
}

var _ StatsStore = (*statsSQL)(nil)

// Stats returns the store of per-remote health and traffic.
func (s *SQLite) Stats() StatsStore { return &statsSQL{w: s.w, r: s.r} }

// Stats returns the store of per-remote health and traffic.
func (p *Postgres) Stats() StatsStore {
	d := stdlib.OpenDBFromPool(p.pool)
	return &statsSQL{sqlDialect: sqlDialect{pg: true}, w: d, r: d}
}

// sqlDialect rewrites "?" placeholders for PostgreSQL.
type sqlDialect struct{ pg bool }

func (d sqlDialect) q(query string) string { return numbered(query, d.pg) }

// nanosOrZero stores the zero time as 0 ("never").
func nanosOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return nanos(t)
}

func fromNanosOrZero(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return fromNanos(n)
}

// newer is the SQL for the newer of the stored column and the new value.
func newer(col string) string {
	return col + ` = CASE WHEN excluded.` + col + ` > remote_health.` + col + ` THEN excluded.` + col + ` ELSE remote_health.` + col + ` END`
}

// RecordRemoteStats implements StatsStore.
func (s *statsSQL) RecordRemoteStats(ctx context.Context, deltas []StatsDelta) (err error) {
	if len(deltas) == 0 {
		return nil
	}
	defer func() {
		if err != nil {
			err = fmt.Errorf("db: record remote stats: %w", err)
		}
	}()
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	traffic, err := tx.PrepareContext(ctx, s.q(`INSERT INTO remote_traffic (remote, minute, upstream_ok, upstream_errors, bad_answers,
		latency_us, latency_count, stale_serves, cache_requests, remote_requests, cache_bytes, remote_bytes, upstream_bytes)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
	ON CONFLICT (remote, minute) DO UPDATE SET
		upstream_ok = remote_traffic.upstream_ok + excluded.upstream_ok,
		upstream_errors = remote_traffic.upstream_errors + excluded.upstream_errors,
		bad_answers = remote_traffic.bad_answers + excluded.bad_answers,
		latency_us = remote_traffic.latency_us + excluded.latency_us,
		latency_count = remote_traffic.latency_count + excluded.latency_count,
		stale_serves = remote_traffic.stale_serves + excluded.stale_serves,
		cache_requests = remote_traffic.cache_requests + excluded.cache_requests,
		remote_requests = remote_traffic.remote_requests + excluded.remote_requests,
		cache_bytes = remote_traffic.cache_bytes + excluded.cache_bytes,
		remote_bytes = remote_traffic.remote_bytes + excluded.remote_bytes,
		upstream_bytes = remote_traffic.upstream_bytes + excluded.upstream_bytes`))
	if err != nil {
		return err
	}
	defer traffic.Close()
	health, err := tx.PrepareContext(ctx, s.q(`INSERT INTO remote_health (remote, last_success, last_error, error_kind, error_message, last_stale)
	VALUES (?, ?, ?, ?, ?, ?)
	ON CONFLICT (remote) DO UPDATE SET
		error_kind = CASE WHEN excluded.last_error > remote_health.last_error THEN excluded.error_kind ELSE remote_health.error_kind END,
		error_message = CASE WHEN excluded.last_error > remote_health.last_error THEN excluded.error_message ELSE remote_health.error_message END,
		`+newer("last_error")+`, `+newer("last_success")+`, `+newer("last_stale")))
	if err != nil {
		return err
	}
	defer health.Close()
	for _, d := range mergeDeltas(deltas) {
		c := d.TrafficCounts
		for _, minute := range []int64{minuteOf(c.Minute), 0} { // the minute, then the totals
			if _, err := traffic.ExecContext(ctx, c.Remote, minute, c.UpstreamOK, c.UpstreamErrors, c.BadAnswers, c.LatencyMicros, c.LatencyCount,
				c.StaleServes, c.CacheRequests, c.RemoteRequests, c.CacheBytes, c.RemoteBytes, c.UpstreamBytes); err != nil {
				return err
			}
		}
		if d.LastSuccess.IsZero() && d.LastError.IsZero() && d.LastStale.IsZero() {
			continue
		}
		if _, err := health.ExecContext(ctx, c.Remote, nanosOrZero(d.LastSuccess), nanosOrZero(d.LastError),
			d.ErrorKind, d.ErrorMessage, nanosOrZero(d.LastStale)); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// minuteOf is the unix second of t's minute; a zero Minute counts in the
// current one (never in the totals row, whose minute is 0).
func minuteOf(t time.Time) int64 {
	if t.IsZero() {
		t = time.Now()
	}
	return t.UTC().Truncate(time.Minute).Unix()
}

// mergeDeltas sums the deltas of the same remote and minute (keeping the
// newest times), in a stable order so concurrent flushes lock rows alike.
func mergeDeltas(deltas []StatsDelta) []StatsDelta {
	type key struct {
		remote string
		minute int64
	}
	idx := map[key]int{}
	var out []StatsDelta
	for _, d := range deltas {
		k := key{d.Remote, minuteOf(d.Minute)}
		i, ok := idx[k]
		if !ok {
			idx[k] = len(out)
			out = append(out, d)
			continue
		}
		m := &out[i]
		m.TrafficCounts.Add(d.TrafficCounts)
		if d.LastSuccess.After(m.LastSuccess) {
			m.LastSuccess = d.LastSuccess
		}
		if d.LastError.After(m.LastError) {
			m.LastError, m.ErrorKind, m.ErrorMessage = d.LastError, d.ErrorKind, d.ErrorMessage
		}
		if d.LastStale.After(m.LastStale) {
			m.LastStale = d.LastStale
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Remote != out[j].Remote {
			return out[i].Remote < out[j].Remote
		}
		return minuteOf(out[i].Minute) < minuteOf(out[j].Minute)
	})
	return out
}

// RemoteHealth implements StatsStore.
func (s *statsSQL) RemoteHealth(ctx context.Context) ([]RemoteHealth, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT remote, last_success, last_error, error_kind, error_message, last_stale
		FROM remote_health ORDER BY remote`)
	if err != nil {
		return nil, fmt.Errorf("db: remote health: %w", err)
	}
	defer rows.Close()
	var out []RemoteHealth
	for rows.Next() {
		var h RemoteHealth
		var ok, bad, stale int64
		if err := rows.Scan(&h.Remote, &ok, &bad, &h.ErrorKind, &h.ErrorMessage, &stale); err != nil {
			return nil, fmt.Errorf("db: remote health: %w", err)
		}
		h.LastSuccess, h.LastError, h.LastStale = fromNanosOrZero(ok), fromNanosOrZero(bad), fromNanosOrZero(stale)
		out = append(out, h)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("db: remote health: %w", err)
	}
	return out, nil
}

// RemoteTraffic implements StatsStore.
func (s *statsSQL) RemoteTraffic(ctx context.Context, since time.Time) ([]TrafficCounts, error) {
	rows, err := s.r.QueryContext(ctx, s.q(`SELECT remote, minute, upstream_ok, upstream_errors, bad_answers, latency_us, latency_count,
		stale_serves, cache_requests, remote_requests, cache_bytes, remote_bytes, upstream_bytes
		FROM remote_traffic WHERE minute = 0 OR minute >= ? ORDER BY remote, minute`), since.UTC().Truncate(time.Minute).Unix())
	if err != nil {
		return nil, fmt.Errorf("db: remote traffic: %w", err)
	}
	defer rows.Close()
	var out []TrafficCounts
	for rows.Next() {
		var c TrafficCounts
		var minute int64
		if err := rows.Scan(&c.Remote, &minute, &c.UpstreamOK, &c.UpstreamErrors, &c.BadAnswers, &c.LatencyMicros, &c.LatencyCount,
			&c.StaleServes, &c.CacheRequests, &c.RemoteRequests, &c.CacheBytes, &c.RemoteBytes, &c.UpstreamBytes); err != nil {
			return nil, fmt.Errorf("db: remote traffic: %w", err)
		}
		if minute != 0 {
			c.Minute = time.Unix(minute, 0).UTC()
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("db: remote traffic: %w", err)
	}
	return out, nil
}

// PruneRemoteTraffic implements StatsStore.
func (s *statsSQL) PruneRemoteTraffic(ctx context.Context, before time.Time) (int64, error) {
	res, err := s.w.ExecContext(ctx, s.q(`DELETE FROM remote_traffic WHERE minute > 0 AND minute < ?`), before.UTC().Unix())
	if err != nil {
		return 0, fmt.Errorf("db: prune remote traffic: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("db: prune remote traffic: %w", err)
	}
	return n, nil
}

// TopArtifacts implements StatsStore.
func (s *statsSQL) TopArtifacts(ctx context.Context, remote string, limit int) ([]Artifact, error) {
	if limit <= 0 || limit > 1000 {
		limit = 10
	}
	rows, err := s.r.QueryContext(ctx, s.q(`SELECT path, size, hits, last_access FROM artifacts
		WHERE remote = ? AND hits > 0 ORDER BY hits DESC, path LIMIT ?`), remote, limit)
	if err != nil {
		return nil, fmt.Errorf("db: top artifacts of %s: %w", remote, err)
	}
	defer rows.Close()
	var out []Artifact
	for rows.Next() {
		a := Artifact{Remote: remote}
		var access any
		if err := rows.Scan(&a.Path, &a.Size, &a.Hits, &access); err != nil {
			return nil, fmt.Errorf("db: top artifacts of %s: %w", remote, err)
		}
		switch v := access.(type) {
		case time.Time:
			a.LastAccess = v.UTC()
		case int64:
			a.LastAccess = fromSQLiteTime(v)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("db: top artifacts of %s: %w", remote, err)
	}
	return out, nil
}
