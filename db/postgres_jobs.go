package db

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

var _ JobStore = (*Postgres)(nil)

// pgJobSettle marks job $1 done when none of its items is pending (after an
// item finished or was canceled).
const pgJobSettle = `UPDATE jobs SET updated_at = now(), state = CASE WHEN NOT EXISTS (
	SELECT 1 FROM job_items WHERE job_id = $1::text::uuid AND state IN ('queued', 'running'))
	THEN 'done' ELSE state END WHERE id = $1::text::uuid`

// pgItemColumns are the job_items columns scanPGItem reads, for an "i" alias.
const pgItemColumns = `i.job_id::text, i.idx, i.remote, i.path, i.url, i.state, i.reason, i.bytes_done,
	i.bytes_total, i.attempts, i.started_at, i.finished_at, COALESCE(i.claimed_by, ''), i.claimed_until`

func scanPGItem(row pgx.Row, extra ...any) (JobItem, error) {
	var it JobItem
	var started, finished, until *time.Time
	dest := append([]any{&it.JobID, &it.Idx, &it.Remote, &it.Path, &it.URL, &it.State, &it.Reason,
		&it.BytesDone, &it.BytesTotal, &it.Attempts, &started, &finished, &it.ClaimedBy, &until}, extra...)
	if err := row.Scan(dest...); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return it, fmt.Errorf("%w (%w)", ErrNotFound, err)
		}
		return it, err
	}
	it.StartedAt, it.FinishedAt, it.ClaimedUntil = pgOptTime(started), pgOptTime(finished), pgOptTime(until)
	return it, nil
}

func pgOptTime(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

const pgJobColumns = `id::text, COALESCE(remote, ''), state, pin, created_at, updated_at`

func scanPGJob(row pgx.Row) (Job, error) {
	var j Job
	err := row.Scan(&j.ID, &j.Remote, &j.State, &j.Pin, &j.CreatedAt, &j.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return j, fmt.Errorf("%w (%w)", ErrNotFound, err)
	}
	j.CreatedAt, j.UpdatedAt = j.CreatedAt.UTC(), j.UpdatedAt.UTC()
	j.Totals = newTotals()
	return j, err
}

// CreateJob implements JobStore. The items are written with COPY, in the
// job's transaction.
func (p *Postgres) CreateJob(ctx context.Context, j Job) (Job, error) {
	if j.ID == "" {
		j.ID = NewJobID()
	} else if !validJobID(j.ID) {
		return j, fmt.Errorf("db: create job: invalid id %q", j.ID)
	}
	j.State = JobDone
	for i := range j.Items {
		it := &j.Items[i]
		it.JobID, it.Idx = j.ID, i
		if it.State == "" {
			it.State = ItemQueued
		}
		if !ItemTerminal(it.State) {
			it.State, j.State = ItemQueued, JobQueued
		}
	}
	err := pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `INSERT INTO jobs (id, remote, state, pin, items, created_at, updated_at)
			VALUES ($1::text::uuid, NULLIF($2, ''), $3, $4, $5, now(), now()) RETURNING created_at`,
			j.ID, j.Remote, j.State, j.Pin, len(j.Items)).Scan(&j.CreatedAt)
		if err != nil {
			return err
		}
		j.CreatedAt = j.CreatedAt.UTC()
		j.UpdatedAt = j.CreatedAt
		rows := make([][]any, len(j.Items))
		for i, it := range j.Items {
			var finished any
			if ItemTerminal(it.State) {
				finished = j.CreatedAt
				j.Items[i].FinishedAt = j.CreatedAt
			}
			rows[i] = []any{j.ID, it.Idx, it.Remote, it.Path, it.URL, it.State, it.Reason, finished}
		}
		_, err = tx.CopyFrom(ctx, pgx.Identifier{"job_items"},
			[]string{"job_id", "idx", "remote", "path", "url", "state", "reason", "finished_at"}, pgx.CopyFromRows(rows))
		return err
	})
	if err != nil {
		return j, fmt.Errorf("db: create job: %w", err)
	}
	j.Totals = newTotals()
	for _, it := range j.Items {
		j.Totals.add(it.State, 1, 0, 0)
	}
	return j, nil
}

// GetJob implements JobStore.
func (p *Postgres) GetJob(ctx context.Context, id string) (Job, error) {
	if !validJobID(id) {
		return Job{}, fmt.Errorf("db: get job %q: %w", id, ErrNotFound)
	}
	j, err := scanPGJob(p.pool.QueryRow(ctx, `SELECT `+pgJobColumns+` FROM jobs WHERE id = $1::text::uuid`, id))
	if err != nil {
		return j, fmt.Errorf("db: get job %s: %w", id, err)
	}
	rows, err := p.pool.Query(ctx, `SELECT `+pgItemColumns+` FROM job_items i WHERE i.job_id = $1::text::uuid ORDER BY i.idx`, id)
	if err != nil {
		return j, fmt.Errorf("db: get job %s: %w", id, err)
	}
	defer rows.Close()
	for rows.Next() {
		it, err := scanPGItem(rows)
		if err != nil {
			return j, fmt.Errorf("db: get job %s: %w", id, err)
		}
		j.Items = append(j.Items, it)
		j.Totals.add(it.State, 1, it.BytesDone, it.BytesTotal)
	}
	if err := rows.Err(); err != nil {
		return j, fmt.Errorf("db: get job %s: %w", id, err)
	}
	j.State = derivedState(j.State, j.Totals)
	return j, nil
}

// ListJobs implements JobStore.
func (p *Postgres) ListJobs(ctx context.Context, limit int) ([]Job, error) {
	rows, err := p.pool.Query(ctx, `SELECT `+pgJobColumns+` FROM jobs ORDER BY seq DESC LIMIT $1`, jobLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("db: list jobs: %w", err)
	}
	jobs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Job, error) { return scanPGJob(r) })
	if err != nil {
		return nil, fmt.Errorf("db: list jobs: %w", err)
	}
	if len(jobs) == 0 {
		return jobs, nil
	}
	ids := make([]string, len(jobs))
	byID := make(map[string]*Job, len(jobs))
	for i := range jobs {
		ids[i] = jobs[i].ID
		byID[jobs[i].ID] = &jobs[i]
	}
	rows, err = p.pool.Query(ctx, `SELECT job_id::text, state, count(*), COALESCE(sum(bytes_done), 0)::bigint,
		COALESCE(sum(bytes_total), 0)::bigint FROM job_items WHERE job_id = ANY($1::text[]::uuid[]) GROUP BY 1, 2`, ids)
	if err != nil {
		return nil, fmt.Errorf("db: list jobs: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, state string
		var n int
		var done, total int64
		if err := rows.Scan(&id, &state, &n, &done, &total); err != nil {
			return nil, fmt.Errorf("db: list jobs: %w", err)
		}
		byID[id].Totals.add(state, n, done, total)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("db: list jobs: %w", err)
	}
	for i := range jobs {
		jobs[i].State = derivedState(jobs[i].State, jobs[i].Totals)
	}
	return jobs, nil
}

// ClaimItem implements JobStore in one statement: the oldest claimable
// item is locked with FOR UPDATE SKIP LOCKED, so concurrent claimers (in
// any replica) pass over each other's rows instead of waiting, and the
// lease is compared with the database clock that every replica shares.
func (p *Postgres) ClaimItem(ctx context.Context, instance string, lease time.Duration, skipRemotes ...string) (JobItem, error) {
	if skipRemotes == nil {
		skipRemotes = []string{}
	}
	var pin bool
	it, err := scanPGItem(p.pool.QueryRow(ctx, `
	WITH next AS (
		SELECT job_id, idx FROM job_items
		WHERE state IN ('queued', 'running') AND (state = 'queued' OR claimed_until < now())
			AND NOT (remote = ANY($3::text[]))
		ORDER BY seq LIMIT 1
		FOR UPDATE SKIP LOCKED
	), claimed AS (
		UPDATE job_items i SET state = 'running', claimed_by = $1,
			claimed_until = now() + $2::float8 * interval '1 second', attempts = i.attempts + 1,
			started_at = COALESCE(i.started_at, now()), finished_at = NULL, bytes_done = 0
		FROM next WHERE i.job_id = next.job_id AND i.idx = next.idx
		RETURNING i.*
	), started AS (
		UPDATE jobs SET state = 'running', updated_at = now()
		FROM claimed WHERE jobs.id = claimed.job_id AND jobs.state = 'queued'
	)
	SELECT `+pgItemColumns+`, j.pin FROM claimed i JOIN jobs j ON j.id = i.job_id`,
		instance, lease.Seconds(), skipRemotes), &pin)
	if err != nil {
		return it, fmt.Errorf("db: claim job item: %w", err)
	}
	it.Pin = pin
	return it, nil
}

// RenewClaim implements JobStore.
func (p *Postgres) RenewClaim(ctx context.Context, instance, jobID string, idx int, lease time.Duration) error {
	if !validJobID(jobID) {
		return fmt.Errorf("db: renew claim on %s/%d: %w", jobID, idx, ErrClaimLost)
	}
	tag, err := p.pool.Exec(ctx, `UPDATE job_items SET claimed_until = now() + $4::float8 * interval '1 second'
		WHERE job_id = $1::text::uuid AND idx = $2 AND state = 'running' AND claimed_by = $3`,
		jobID, idx, instance, lease.Seconds())
	if err == nil && tag.RowsAffected() == 0 {
		err = ErrClaimLost
	}
	if err != nil {
		return fmt.Errorf("db: renew claim on %s/%d: %w", jobID, idx, err)
	}
	return nil
}

// UpdateItem implements JobStore. When the item becomes terminal, the job
// row is updated by a second statement after the item's commit, so that of
// two workers finishing a job's last items at once, the later one sees both
// items finished (readers also derive the state from the items).
func (p *Postgres) UpdateItem(ctx context.Context, instance string, u ItemUpdate) error {
	if err := checkUpdate(u); err != nil {
		return err
	}
	if !validJobID(u.JobID) {
		return fmt.Errorf("db: update job item %s/%d: %w", u.JobID, u.Idx, ErrClaimLost)
	}
	// The item and its job's totals change together: a failure between
	// them would leave the job unsettled.
	err := pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE job_items SET state = $4, reason = $5, bytes_done = $6, bytes_total = $7,
		finished_at = CASE WHEN $4 IN ('queued', 'running') THEN NULL ELSE now() END,
		claimed_until = CASE WHEN $4 = 'running' THEN claimed_until END,
		claimed_by = CASE WHEN $4 = 'queued' THEN NULL ELSE claimed_by END,
		attempts = attempts + $8
		WHERE job_id = $1::text::uuid AND idx = $2 AND state = 'running' AND claimed_by = $3`,
			u.JobID, u.Idx, instance, u.State, u.Reason, u.BytesDone, u.BytesTotal, u.Retries)
		if err == nil && tag.RowsAffected() == 0 {
			err = ErrClaimLost
		}
		if err == nil && ItemTerminal(u.State) {
			_, err = tx.Exec(ctx, pgJobSettle, u.JobID)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("db: update job item %s/%d: %w", u.JobID, u.Idx, err)
	}
	return nil
}

// PinArtifact implements JobStore.
func (p *Postgres) PinArtifact(ctx context.Context, remote, path string) error {
	tag, err := p.pool.Exec(ctx, `UPDATE artifacts SET pinned = true WHERE remote = $1 AND path = $2`, remote, path)
	if err == nil && tag.RowsAffected() == 0 {
		err = ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("db: pin %s/%s: %w", remote, path, err)
	}
	return nil
}

// CancelJob implements JobStore. As in UpdateItem, the job row is updated
// after the items' commit.
func (p *Postgres) CancelJob(ctx context.Context, id string) (int, error) {
	if !validJobID(id) {
		return 0, fmt.Errorf("db: cancel job %q: %w", id, ErrNotFound)
	}
	var exists bool
	err := p.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM jobs WHERE id = $1::text::uuid)`, id).Scan(&exists)
	if err == nil && !exists {
		err = ErrNotFound
	}
	if err != nil {
		return 0, fmt.Errorf("db: cancel job %s: %w", id, err)
	}
	tag, err := p.pool.Exec(ctx, `UPDATE job_items SET state = 'canceled', reason = $2, finished_at = now(),
		claimed_by = NULL, claimed_until = NULL WHERE job_id = $1::text::uuid AND state = 'queued'`, id, CancelReason)
	if err == nil {
		_, err = p.pool.Exec(ctx, pgJobSettle, id)
	}
	if err != nil {
		return 0, fmt.Errorf("db: cancel job %s: %w", id, err)
	}
	return int(tag.RowsAffected()), nil
}

// DeleteJobsDoneBefore implements JobStore; items go with their job (ON
// DELETE CASCADE).
func (p *Postgres) DeleteJobsDoneBefore(ctx context.Context, before time.Time) (int, error) {
	// Done: no pending item (the stored state may lag after a crash).
	tag, err := p.pool.Exec(ctx, `DELETE FROM jobs WHERE updated_at < $1 AND NOT EXISTS (
		SELECT 1 FROM job_items p WHERE p.job_id = jobs.id AND p.state IN ('queued', 'running'))`, before)
	if err != nil {
		return 0, fmt.Errorf("db: delete old jobs: %w", err)
	}
	return int(tag.RowsAffected()), nil
}
