package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

var _ JobStore = (*SQLite)(nil)

// sqliteJobSettle marks job ?2 done when none of its items is pending and
// stamps it with time ?1 (after an item finished or was canceled).
const sqliteJobSettle = `UPDATE jobs SET updated_at = ?1, state = CASE WHEN NOT EXISTS (
	SELECT 1 FROM job_items WHERE job_id = ?2 AND state IN ('queued', 'running'))
	THEN 'done' ELSE state END WHERE id = ?2`

// sqliteItemColumns are the job_items columns scanSQLiteItem reads.
const sqliteItemColumns = `job_id, idx, remote, path, url, state, reason, bytes_done, bytes_total,
	attempts, started_at, finished_at, COALESCE(claimed_by, ''), claimed_until`

func scanSQLiteItem(row scanner) (JobItem, error) {
	var it JobItem
	var started, finished, until sql.NullInt64
	err := row.Scan(&it.JobID, &it.Idx, &it.Remote, &it.Path, &it.URL, &it.State, &it.Reason,
		&it.BytesDone, &it.BytesTotal, &it.Attempts, &started, &finished, &it.ClaimedBy, &until)
	if errors.Is(err, sql.ErrNoRows) {
		return it, fmt.Errorf("%w (%w)", ErrNotFound, err)
	}
	it.StartedAt, it.FinishedAt, it.ClaimedUntil = sqliteOptTime(started), sqliteOptTime(finished), sqliteOptTime(until)
	return it, err
}

func sqliteOptTime(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return fromSQLiteTime(n.Int64)
}

const sqliteJobColumns = `id, COALESCE(remote, ''), state, pin, created_at, updated_at`

func scanSQLiteJob(row scanner) (Job, error) {
	var j Job
	var created, updated int64
	err := row.Scan(&j.ID, &j.Remote, &j.State, &j.Pin, &created, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return j, fmt.Errorf("%w (%w)", ErrNotFound, err)
	}
	j.CreatedAt, j.UpdatedAt = fromSQLiteTime(created), fromSQLiteTime(updated)
	j.Totals = newTotals()
	return j, err
}

// CreateJob implements JobStore.
func (s *SQLite) CreateJob(ctx context.Context, j Job) (Job, error) {
	if j.ID == "" {
		j.ID = NewJobID()
	} else if !validJobID(j.ID) {
		return j, fmt.Errorf("db: create job: invalid id %q", j.ID)
	}
	now := time.Now().UTC()
	j.CreatedAt, j.UpdatedAt, j.State, j.Totals = now, now, JobDone, newTotals()
	for i := range j.Items {
		it := &j.Items[i]
		it.JobID, it.Idx = j.ID, i
		if !ItemTerminal(it.State) {
			it.State, j.State = ItemQueued, JobQueued
		} else {
			it.FinishedAt = now
		}
		j.Totals.add(it.State, 1, 0, 0)
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var remote any
		if j.Remote != "" {
			remote = j.Remote
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO jobs (id, remote, state, pin, items, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, j.ID, remote, j.State, j.Pin, len(j.Items), sqliteTime(now), sqliteTime(now)); err != nil {
			return err
		}
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO job_items (job_id, idx, remote, path, url, state, reason, finished_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, it := range j.Items {
			var finished any
			if ItemTerminal(it.State) {
				finished = sqliteTime(now)
			}
			if _, err := stmt.ExecContext(ctx, j.ID, it.Idx, it.Remote, it.Path, it.URL, it.State, it.Reason, finished); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return j, fmt.Errorf("db: create job: %w", err)
	}
	return j, nil
}

// inTx runs fn in a write transaction (BEGIN IMMEDIATE: the single writer).
func (s *SQLite) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
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

// GetJob implements JobStore.
func (s *SQLite) GetJob(ctx context.Context, id string) (Job, error) {
	j, err := scanSQLiteJob(s.r.QueryRowContext(ctx, `SELECT `+sqliteJobColumns+` FROM jobs WHERE id = ?`, id))
	if err != nil {
		return j, fmt.Errorf("db: get job %s: %w", id, err)
	}
	rows, err := s.r.QueryContext(ctx, `SELECT `+sqliteItemColumns+` FROM job_items WHERE job_id = ? ORDER BY idx`, id)
	if err != nil {
		return j, fmt.Errorf("db: get job %s: %w", id, err)
	}
	defer rows.Close()
	for rows.Next() {
		it, err := scanSQLiteItem(rows)
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
func (s *SQLite) ListJobs(ctx context.Context, limit int) ([]Job, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+sqliteJobColumns+` FROM jobs ORDER BY rowid DESC LIMIT ?`, jobLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("db: list jobs: %w", err)
	}
	defer rows.Close()
	var jobs []Job
	for rows.Next() {
		j, err := scanSQLiteJob(rows)
		if err != nil {
			return nil, fmt.Errorf("db: list jobs: %w", err)
		}
		jobs = append(jobs, j)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("db: list jobs: %w", err)
	}
	if len(jobs) == 0 {
		return jobs, nil
	}
	args := make([]any, len(jobs))
	byID := make(map[string]*Job, len(jobs))
	for i := range jobs {
		args[i] = jobs[i].ID
		byID[jobs[i].ID] = &jobs[i]
	}
	trows, err := s.r.QueryContext(ctx, `SELECT job_id, state, count(*), COALESCE(sum(bytes_done), 0), COALESCE(sum(bytes_total), 0)
		FROM job_items WHERE job_id IN (`+placeholders(len(args))+`) GROUP BY 1, 2`, args...)
	if err != nil {
		return nil, fmt.Errorf("db: list jobs: %w", err)
	}
	defer trows.Close()
	for trows.Next() {
		var id, state string
		var n int
		var done, total int64
		if err := trows.Scan(&id, &state, &n, &done, &total); err != nil {
			return nil, fmt.Errorf("db: list jobs: %w", err)
		}
		byID[id].Totals.add(state, n, done, total)
	}
	if err := trows.Err(); err != nil {
		return nil, fmt.Errorf("db: list jobs: %w", err)
	}
	for i := range jobs {
		jobs[i].State = derivedState(jobs[i].State, jobs[i].Totals)
	}
	return jobs, nil
}

// placeholders returns "?, ?, …" for n parameters.
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// ClaimItem implements JobStore. The claim runs in a write transaction on
// the single writer connection (BEGIN IMMEDIATE, also across processes), so
// claims are serialised and never hand out an item twice.
func (s *SQLite) ClaimItem(ctx context.Context, instance string, lease time.Duration, skipRemotes ...string) (JobItem, error) {
	now := time.Now()
	args := []any{instance, sqliteTime(now.Add(lease)), sqliteTime(now), sqliteTime(now)}
	skip := ""
	if len(skipRemotes) > 0 {
		skip = ` AND remote NOT IN (` + placeholders(len(skipRemotes)) + `)`
		for _, r := range skipRemotes {
			args = append(args, r)
		}
	}
	var it JobItem
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		it, err = scanSQLiteItem(tx.QueryRowContext(ctx, `UPDATE job_items SET state = 'running', claimed_by = ?,
			claimed_until = ?, attempts = attempts + 1, started_at = COALESCE(started_at, ?), finished_at = NULL, bytes_done = 0
		WHERE rowid = (SELECT rowid FROM job_items
			WHERE state IN ('queued', 'running') AND (state = 'queued' OR claimed_until < ?)`+skip+`
			ORDER BY rowid LIMIT 1)
		RETURNING `+sqliteItemColumns, args...))
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE jobs SET state = 'running', updated_at = ? WHERE id = ? AND state = 'queued'`,
			sqliteTime(now), it.JobID); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, `SELECT pin FROM jobs WHERE id = ?`, it.JobID).Scan(&it.Pin)
	})
	if err != nil {
		return it, fmt.Errorf("db: claim job item: %w", err)
	}
	return it, nil
}

// RenewClaim implements JobStore.
func (s *SQLite) RenewClaim(ctx context.Context, instance, jobID string, idx int, lease time.Duration) error {
	res, err := s.w.ExecContext(ctx, `UPDATE job_items SET claimed_until = ?
		WHERE job_id = ? AND idx = ? AND state = 'running' AND claimed_by = ?`,
		sqliteTime(time.Now().Add(lease)), jobID, idx, instance)
	if err == nil {
		err = affectedOr(res, ErrClaimLost)
	}
	if err != nil {
		return fmt.Errorf("db: renew claim on %s/%d: %w", jobID, idx, err)
	}
	return nil
}

// affectedOr returns notFound when res affected no row.
func affectedOr(res sql.Result, notFound error) error {
	n, err := res.RowsAffected()
	if err == nil && n == 0 {
		err = notFound
	}
	return err
}

// UpdateItem implements JobStore; the item and, when it is the job's last,
// the job are updated in one transaction.
func (s *SQLite) UpdateItem(ctx context.Context, instance string, u ItemUpdate) error {
	if err := checkUpdate(u); err != nil {
		return err
	}
	now := sqliteTime(time.Now())
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE job_items SET state = ?1, reason = ?2, bytes_done = ?3, bytes_total = ?4,
			finished_at = CASE WHEN ?1 IN ('queued', 'running') THEN NULL ELSE ?5 END,
			claimed_until = CASE WHEN ?1 = 'running' THEN claimed_until END,
			claimed_by = CASE WHEN ?1 = 'queued' THEN NULL ELSE claimed_by END,
			attempts = attempts + ?9
			WHERE job_id = ?6 AND idx = ?7 AND state = 'running' AND claimed_by = ?8`,
			u.State, u.Reason, u.BytesDone, u.BytesTotal, now, u.JobID, u.Idx, instance, u.Retries)
		if err == nil {
			err = affectedOr(res, ErrClaimLost)
		}
		if err != nil || !ItemTerminal(u.State) {
			return err
		}
		_, err = tx.ExecContext(ctx, sqliteJobSettle, now, u.JobID)
		return err
	})
	if err != nil {
		return fmt.Errorf("db: update job item %s/%d: %w", u.JobID, u.Idx, err)
	}
	return nil
}

// PinArtifact implements JobStore.
func (s *SQLite) PinArtifact(ctx context.Context, remote, path string) error {
	res, err := s.w.ExecContext(ctx, `UPDATE artifacts SET pinned = 1 WHERE remote = ? AND path = ?`, remote, path)
	if err == nil {
		err = affectedOr(res, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("db: pin %s/%s: %w", remote, path, err)
	}
	return nil
}

// CancelJob implements JobStore, in one transaction.
func (s *SQLite) CancelJob(ctx context.Context, id string) (int, error) {
	now := sqliteTime(time.Now())
	var n int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var one int
		if err := tx.QueryRowContext(ctx, `SELECT 1 FROM jobs WHERE id = ?`, id).Scan(&one); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return ErrNotFound
			}
			return err
		}
		res, err := tx.ExecContext(ctx, `UPDATE job_items SET state = 'canceled', reason = ?1, finished_at = ?2,
			claimed_by = NULL, claimed_until = NULL WHERE job_id = ?3 AND state = 'queued'`, CancelReason, now, id)
		if err != nil {
			return err
		}
		if n, err = res.RowsAffected(); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, sqliteJobSettle, now, id)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("db: cancel job %s: %w", id, err)
	}
	return int(n), nil
}

// DeleteJobsDoneBefore implements JobStore (items first: the foreign key
// cascade is not relied upon).
func (s *SQLite) DeleteJobsDoneBefore(ctx context.Context, before time.Time) (int, error) {
	var n int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		// Done: no pending item (the stored state may lag after a crash).
		const old = `SELECT id FROM jobs WHERE updated_at < ?1 AND NOT EXISTS (
			SELECT 1 FROM job_items p WHERE p.job_id = jobs.id AND p.state IN ('queued', 'running'))`
		res, err := tx.ExecContext(ctx, `DELETE FROM job_items WHERE job_id IN (`+old+`)`, sqliteTime(before))
		if err != nil {
			return err
		}
		res, err = tx.ExecContext(ctx, `DELETE FROM jobs WHERE id IN (`+old+`)`, sqliteTime(before))
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("db: delete old jobs: %w", err)
	}
	return int(n), nil
}
