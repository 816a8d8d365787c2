package db

import (
	"context"
	"fmt"
	"time"
)

// RegistryGCRun is one garbage collection of the local docker repositories.
type RegistryGCRun struct {
	ID         int64
	StartedBy  string // "api", "dashboard"
	StartedAt  time.Time
	FinishedAt time.Time // zero while it runs
	Uploads    int64     // abandoned upload sessions removed
	Blobs      int64     // unreferenced blobs removed
	Bytes      int64     // their size
	Error      string    // "" when it succeeded
}

// Running reports whether the run has not finished (or its replica died).
func (r RegistryGCRun) Running() bool { return r.FinishedAt.IsZero() }

// RegistryGCLog records garbage collections, so that every replica shows
// the same last result, across restarts.
type RegistryGCLog interface {
	// StartRegistryGC records a run started at by startedBy and returns it
	// with its ID. Only the newest KeepGCRuns runs are kept.
	StartRegistryGC(ctx context.Context, startedBy string, at time.Time) (RegistryGCRun, error)
	// FinishRegistryGC records the outcome (FinishedAt, counts, Error) of
	// run r.ID, or returns ErrNotFound.
	FinishRegistryGC(ctx context.Context, r RegistryGCRun) error
	// LastRegistryGC returns the newest run, finished or not, or ErrNotFound.
	LastRegistryGC(ctx context.Context) (RegistryGCRun, error)
}

// KeepGCRuns is how many garbage collection runs are remembered.
const KeepGCRuns = 100

const gcCols = `id, started_by, started_at, finished_at, uploads, blobs, bytes, error`

func scanGCRun(row scanner) (RegistryGCRun, error) {
	var r RegistryGCRun
	var started, finished int64
	if err := row.Scan(&r.ID, &r.StartedBy, &started, &finished, &r.Uploads, &r.Blobs, &r.Bytes, &r.Error); err != nil {
		return r, notFound(err)
	}
	r.StartedAt = fromNanos(started)
	if finished != 0 {
		r.FinishedAt = fromNanos(finished)
	}
	return r, nil
}

// StartRegistryGC implements RegistryGCLog.
func (s *registrySQL) StartRegistryGC(ctx context.Context, startedBy string, at time.Time) (RegistryGCRun, error) {
	r, err := scanGCRun(s.w.QueryRowContext(ctx, s.q(`INSERT INTO oci_gc_runs (started_by, started_at) VALUES (?, ?) RETURNING `+gcCols),
		startedBy, nanos(at)))
	if err == nil {
		_, err = s.w.ExecContext(ctx, s.q(`DELETE FROM oci_gc_runs WHERE id <= ?`), r.ID-KeepGCRuns)
	}
	if err != nil {
		return r, fmt.Errorf("db: start registry gc: %w", err)
	}
	return r, nil
}

// FinishRegistryGC implements RegistryGCLog.
func (s *registrySQL) FinishRegistryGC(ctx context.Context, r RegistryGCRun) error {
	res, err := s.w.ExecContext(ctx, s.q(`UPDATE oci_gc_runs SET finished_at = ?, uploads = ?, blobs = ?, bytes = ?, error = ? WHERE id = ?`),
		nanos(r.FinishedAt), r.Uploads, r.Blobs, r.Bytes, r.Error, r.ID)
	if err == nil {
		err = affected(res)
	}
	if err != nil {
		return fmt.Errorf("db: finish registry gc %d: %w", r.ID, err)
	}
	return nil
}

// LastRegistryGC implements RegistryGCLog.
func (s *registrySQL) LastRegistryGC(ctx context.Context) (RegistryGCRun, error) {
	r, err := scanGCRun(s.r.QueryRowContext(ctx, `SELECT `+gcCols+` FROM oci_gc_runs ORDER BY id DESC LIMIT 1`))
	if err != nil {
		return r, fmt.Errorf("db: last registry gc: %w", err)
	}
	return r, nil
}
