package db

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/stdlib"
)

// Policy is a saved cleanup policy: criteria selecting cached artifacts to
// evict, run by hand or on a schedule. Zero criteria are not used; an
// artifact must meet every criterion used.
type Policy struct {
	ID     int64
	Name   string
	Remote string // "" for every cached remote
	// CachedBefore: cached more than this long ago. AccessedBefore: last
	// access more than this long ago. UnusedFor: never served from the
	// cache since it was cached, more than this long ago.
	CachedBefore   time.Duration
	AccessedBefore time.Duration
	UnusedFor      time.Duration
	LargerThan     int64  // bytes
	Query          string // a substring of the path (case-insensitive), or with Regex a regular expression
	Regex          bool
	// Every is the schedule (0: by hand only); NextRunAt is when the next
	// scheduled run is due (zero when not scheduled).
	Every     time.Duration
	NextRunAt time.Time
	// Declared: the policy comes from remotes.yaml (only the file changes it).
	Declared  bool
	CreatedAt time.Time
	UpdatedAt time.Time
}

// PolicyRun is one run of a policy.
type PolicyRun struct {
	ID           int64
	PolicyID     int64
	StartedBy    string    // "schedule", "dashboard", "api"
	ScheduledFor time.Time // the due time a scheduled run took; zero by hand
	Instance     string    // the replica that ran it
	StartedAt    time.Time
	FinishedAt   time.Time // zero while it runs
	Matched      int64
	Evicted      int64
	Bytes        int64 // bytes freed
	Errors       int64 // artifacts that could not be evicted
	Error        string
}

// Running reports whether the run has not finished (or its replica died).
func (r PolicyRun) Running() bool { return r.FinishedAt.IsZero() }

// KeepPolicyRuns is how many runs of each policy are remembered.
const KeepPolicyRuns = 100

// PolicyStore keeps cleanup policies and their runs.
type PolicyStore interface {
	// CreatePolicy stores p (its ID, CreatedAt and UpdatedAt are set) or
	// returns ErrExists when the name is taken.
	CreatePolicy(ctx context.Context, p Policy) (Policy, error)
	// UpdatePolicy replaces the policy p.ID (keeping CreatedAt), or returns
	// ErrNotFound, or ErrExists when the new name is taken.
	UpdatePolicy(ctx context.Context, p Policy) (Policy, error)
	// GetPolicy returns a policy or ErrNotFound.
	GetPolicy(ctx context.Context, id int64) (Policy, error)
	// ListPolicies returns every policy, by name.
	ListPolicies(ctx context.Context) ([]Policy, error)
	// DeletePolicy deletes a policy with its runs, or returns ErrNotFound.
	DeletePolicy(ctx context.Context, id int64) error
	// DuePolicies returns the scheduled policies whose NextRunAt is not after now.
	DuePolicies(ctx context.Context, now time.Time) ([]Policy, error)
	// ClaimPolicySlot moves the policy's NextRunAt from due to next when it
	// is still due, and reports whether this caller did: of any number of
	// replicas claiming the same slot, exactly one gets true.
	ClaimPolicySlot(ctx context.Context, id int64, due, next time.Time) (bool, error)
	// StartPolicyRun records a run (StartedAt set by the caller) and returns
	// it with its ID; only the newest KeepPolicyRuns runs of the policy are kept.
	StartPolicyRun(ctx context.Context, r PolicyRun) (PolicyRun, error)
	// FinishPolicyRun records the outcome (FinishedAt, counts, Error) of run r.ID.
	FinishPolicyRun(ctx context.Context, r PolicyRun) error
	// PolicyRuns returns up to limit runs of a policy, newest first.
	PolicyRuns(ctx context.Context, policyID int64, limit int) ([]PolicyRun, error)
}

// policySQL implements PolicyStore once for both dialects, as registrySQL.
type policySQL struct {
	registrySQL
	unique func(error) error // the dialect's unique violation → ErrExists
}

var _ PolicyStore = (*policySQL)(nil)

// Policies returns the store of cleanup policies.
func (s *SQLite) Policies() PolicyStore {
	return &policySQL{registrySQL: registrySQL{w: s.w, r: s.r}, unique: sqliteUnique}
}

// Policies returns the store of cleanup policies.
func (p *Postgres) Policies() PolicyStore {
	d := stdlib.OpenDBFromPool(p.pool)
	return &policySQL{registrySQL: registrySQL{w: d, r: d, pg: true}, unique: pgUnique}
}

const policyCols = `id, name, remote, cached_before_s, accessed_before_s, unused_for_s, larger_than, query, regex, every_s, next_run_at,
	declared, created_at, updated_at`

func secs(d time.Duration) int64 { return int64(d / time.Second) }

func fromSecs(n int64) time.Duration { return time.Duration(n) * time.Second }

// optNanos stores the zero time as 0.
func optNanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return nanos(t)
}

func fromOptNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return fromNanos(n)
}

func scanPolicy(row scanner) (Policy, error) {
	var p Policy
	var cached, accessed, unused, every, next, created, updated int64
	if err := row.Scan(&p.ID, &p.Name, &p.Remote, &cached, &accessed, &unused, &p.LargerThan, &p.Query, &p.Regex,
		&every, &next, &p.Declared, &created, &updated); err != nil {
		return p, notFound(err)
	}
	p.CachedBefore, p.AccessedBefore, p.UnusedFor, p.Every = fromSecs(cached), fromSecs(accessed), fromSecs(unused), fromSecs(every)
	p.NextRunAt, p.CreatedAt, p.UpdatedAt = fromOptNanos(next), fromNanos(created), fromNanos(updated)
	return p, nil
}

// CreatePolicy implements PolicyStore.
func (s *policySQL) CreatePolicy(ctx context.Context, p Policy) (Policy, error) {
	now := time.Now()
	out, err := scanPolicy(s.w.QueryRowContext(ctx, s.q(`INSERT INTO cleanup_policies (name, remote, cached_before_s, accessed_before_s,
		unused_for_s, larger_than, query, regex, every_s, next_run_at, declared, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		RETURNING `+policyCols), p.Name, p.Remote, secs(p.CachedBefore), secs(p.AccessedBefore), secs(p.UnusedFor), p.LargerThan,
		p.Query, p.Regex, secs(p.Every), optNanos(p.NextRunAt), p.Declared, nanos(now), nanos(now)))
	if err != nil {
		return out, fmt.Errorf("db: create policy %q: %w", p.Name, s.unique(err))
	}
	return out, nil
}

// UpdatePolicy implements PolicyStore.
func (s *policySQL) UpdatePolicy(ctx context.Context, p Policy) (Policy, error) {
	out, err := scanPolicy(s.w.QueryRowContext(ctx, s.q(`UPDATE cleanup_policies SET name = ?, remote = ?, cached_before_s = ?,
		accessed_before_s = ?, unused_for_s = ?, larger_than = ?, query = ?, regex = ?, every_s = ?, next_run_at = ?, declared = ?,
		updated_at = ? WHERE id = ? RETURNING `+policyCols), p.Name, p.Remote, secs(p.CachedBefore), secs(p.AccessedBefore),
		secs(p.UnusedFor), p.LargerThan, p.Query, p.Regex, secs(p.Every), optNanos(p.NextRunAt), p.Declared, nanos(time.Now()), p.ID))
	if err != nil {
		return out, fmt.Errorf("db: update policy %d: %w", p.ID, s.unique(err))
	}
	return out, nil
}

// GetPolicy implements PolicyStore.
func (s *policySQL) GetPolicy(ctx context.Context, id int64) (Policy, error) {
	p, err := scanPolicy(s.r.QueryRowContext(ctx, s.q(`SELECT `+policyCols+` FROM cleanup_policies WHERE id = ?`), id))
	if err != nil {
		return p, fmt.Errorf("db: get policy %d: %w", id, err)
	}
	return p, nil
}

func (s *policySQL) policies(ctx context.Context, query string, args ...any) ([]Policy, error) {
	rows, err := s.r.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Policy{}
	for rows.Next() {
		p, err := scanPolicy(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// ListPolicies implements PolicyStore.
func (s *policySQL) ListPolicies(ctx context.Context) ([]Policy, error) {
	out, err := s.policies(ctx, `SELECT `+policyCols+` FROM cleanup_policies ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("db: list policies: %w", err)
	}
	return out, nil
}

// DuePolicies implements PolicyStore.
func (s *policySQL) DuePolicies(ctx context.Context, now time.Time) ([]Policy, error) {
	out, err := s.policies(ctx, `SELECT `+policyCols+` FROM cleanup_policies WHERE every_s > 0 AND next_run_at <> 0 AND next_run_at <= ?
		ORDER BY next_run_at`, nanos(now))
	if err != nil {
		return nil, fmt.Errorf("db: due policies: %w", err)
	}
	return out, nil
}

// DeletePolicy implements PolicyStore. The runs go first: foreign keys
// may be off on an SQLite connection.
func (s *policySQL) DeletePolicy(ctx context.Context, id int64) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM cleanup_policy_runs WHERE policy_id = ?`), id); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, s.q(`DELETE FROM cleanup_policies WHERE id = ?`), id)
		if err != nil {
			return err
		}
		return affected(res)
	})
	if err != nil {
		return fmt.Errorf("db: delete policy %d: %w", id, err)
	}
	return nil
}

// ClaimPolicySlot implements PolicyStore: a compare-and-set on
// next_run_at, atomic on both dialects.
func (s *policySQL) ClaimPolicySlot(ctx context.Context, id int64, due, next time.Time) (bool, error) {
	res, err := s.w.ExecContext(ctx, s.q(`UPDATE cleanup_policies SET next_run_at = ? WHERE id = ? AND next_run_at = ?`),
		optNanos(next), id, optNanos(due))
	if err != nil {
		return false, fmt.Errorf("db: claim policy %d slot: %w", id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("db: claim policy %d slot: %w", id, err)
	}
	return n == 1, nil
}

const runCols = `id, policy_id, started_by, scheduled_for, instance, started_at, finished_at, matched, evicted, bytes, errors, error`

func scanRun(row scanner) (PolicyRun, error) {
	var r PolicyRun
	var sched, started, finished int64
	if err := row.Scan(&r.ID, &r.PolicyID, &r.StartedBy, &sched, &r.Instance, &started, &finished, &r.Matched, &r.Evicted,
		&r.Bytes, &r.Errors, &r.Error); err != nil {
		return r, notFound(err)
	}
	r.ScheduledFor, r.StartedAt, r.FinishedAt = fromOptNanos(sched), fromNanos(started), fromOptNanos(finished)
	return r, nil
}

// StartPolicyRun implements PolicyStore.
func (s *policySQL) StartPolicyRun(ctx context.Context, r PolicyRun) (PolicyRun, error) {
	out, err := scanRun(s.w.QueryRowContext(ctx, s.q(`INSERT INTO cleanup_policy_runs (policy_id, started_by, scheduled_for, instance,
		started_at) VALUES (?, ?, ?, ?, ?) RETURNING `+runCols), r.PolicyID, r.StartedBy, optNanos(r.ScheduledFor), r.Instance, nanos(r.StartedAt)))
	if err == nil {
		_, err = s.w.ExecContext(ctx, s.q(`DELETE FROM cleanup_policy_runs WHERE policy_id = ? AND id NOT IN
			(SELECT id FROM cleanup_policy_runs WHERE policy_id = ? ORDER BY id DESC LIMIT ?)`), r.PolicyID, r.PolicyID, KeepPolicyRuns)
	}
	if err != nil {
		return out, fmt.Errorf("db: start policy %d run: %w", r.PolicyID, err)
	}
	return out, nil
}

// FinishPolicyRun implements PolicyStore.
func (s *policySQL) FinishPolicyRun(ctx context.Context, r PolicyRun) error {
	res, err := s.w.ExecContext(ctx, s.q(`UPDATE cleanup_policy_runs SET finished_at = ?, matched = ?, evicted = ?, bytes = ?, errors = ?,
		error = ? WHERE id = ?`), nanos(r.FinishedAt), r.Matched, r.Evicted, r.Bytes, r.Errors, r.Error, r.ID)
	if err == nil {
		err = affected(res)
	}
	if err != nil {
		return fmt.Errorf("db: finish policy run %d: %w", r.ID, err)
	}
	return nil
}

// PolicyRuns implements PolicyStore.
func (s *policySQL) PolicyRuns(ctx context.Context, policyID int64, limit int) ([]PolicyRun, error) {
	if limit <= 0 || limit > KeepPolicyRuns {
		limit = KeepPolicyRuns
	}
	rows, err := s.r.QueryContext(ctx, s.q(`SELECT `+runCols+` FROM cleanup_policy_runs WHERE policy_id = ? ORDER BY id DESC LIMIT ?`), policyID, limit)
	if err != nil {
		return nil, fmt.Errorf("db: policy %d runs: %w", policyID, err)
	}
	defer rows.Close()
	out := []PolicyRun{}
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return nil, fmt.Errorf("db: policy %d runs: %w", policyID, err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}
