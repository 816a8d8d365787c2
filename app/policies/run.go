package policies

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"artifactapi/app/coord"
	"artifactapi/db"
)

// Who started a run.
const (
	BySchedule  = "schedule"
	ByDashboard = "dashboard"
	ByAPI       = "api"
)

// runLease is how long a run's lock lasts without renewal; it is renewed
// every third of it while the run goes on.
const runLease = 30 * time.Second

func lockKey(id int64) string { return "policy-run:" + strconv.FormatInt(id, 10) }

// Run runs p now and records the run (scheduledFor is the due time a
// scheduled run took; zero by hand). One run of a policy at a time across
// replicas: ErrRunning while another holds the policy's lock. Ending ctx
// interrupts the run (a caller that must not be interrupted by its client
// leaving detaches it); the run is recorded whatever happens.
func (m *Manager) Run(ctx context.Context, p db.Policy, startedBy string, scheduledFor time.Time) (db.PolicyRun, error) {
	// The record is written even when ctx ends.
	rec := context.WithoutCancel(ctx)
	lock, err := m.o.Coord.TryLock(ctx, lockKey(p.ID), runLease)
	switch {
	case errors.Is(err, coord.ErrNotObtained):
		return db.PolicyRun{}, ErrRunning
	case err != nil:
		// Redis is an accelerator: a scheduled run is already unique by
		// its slot claim in the metadata store; a manual one goes ahead.
		m.o.Log.Warn("policies: run lock unavailable; running without it", "policy", p.Name, "err", err)
		lock = nil
	}
	run, cancel := context.WithCancel(ctx)
	if lock != nil {
		kept := make(chan struct{})
		go func() {
			defer close(kept)
			keepLock(run, lock, cancel, m)
		}()
		defer func() {
			cancel()
			<-kept                // no refresh races the release
			_ = lock.Release(rec) // it expires on its own otherwise
		}()
	} else {
		defer cancel()
	}
	r, err := m.o.Store.StartPolicyRun(run, db.PolicyRun{PolicyID: p.ID, StartedBy: startedBy, ScheduledFor: scheduledFor,
		Instance: m.o.Instance, StartedAt: m.o.Now()})
	if err != nil {
		return r, err
	}
	failed := m.evict(run, p, &r)
	switch {
	case run.Err() != nil:
		r.Error = "interrupted: the replica stopped or lost the policy's lock"
	case failed != nil:
		m.o.Log.Error("policies: run failed", "policy", p.Name, "err", failed)
		r.Error = "the run stopped: the artifacts could not be listed; see the log"
	case r.Errors > 0:
		r.Error = fmt.Sprintf("%d artifacts could not be evicted; see the log", r.Errors)
	}
	r.FinishedAt = m.o.Now()
	wctx, wcancel := context.WithTimeout(rec, 30*time.Second)
	defer wcancel()
	if err := m.o.Store.FinishPolicyRun(wctx, r); err != nil {
		return r, err
	}
	m.o.Log.Info("policies: run finished", "policy", p.Name, "by", startedBy, "matched", r.Matched, "evicted", r.Evicted,
		"bytes", r.Bytes, "errors", r.Errors, "error", r.Error)
	return r, nil
}

// evict selects and evicts p's artifacts remote by remote, counting into
// r; it returns an error when a remote could not be listed.
func (m *Manager) evict(ctx context.Context, p db.Policy, r *db.PolicyRun) error {
	q, match, err := selector(p, m.o.Now())
	if err != nil {
		return err
	}
	for _, remote := range m.remotes(p) {
		victims, err := m.o.Engine.Select(ctx, remote, q, match)
		if err != nil {
			return err
		}
		r.Matched += int64(len(victims))
		res, err := m.o.Engine.EvictEach(ctx, remote, victims, "policy")
		r.Evicted, r.Bytes, r.Errors = r.Evicted+res.Count, r.Bytes+res.Bytes, r.Errors+res.Failed
		if err != nil && ctx.Err() == nil {
			m.o.Log.Warn("policies: some artifacts could not be evicted", "policy", p.Name, "remote", remote, "failed", res.Failed, "err", err)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	return nil
}

// keepLock renews the run's lock until ctx ends; a lost lock stops the run
// (another replica may run the policy meanwhile).
func keepLock(ctx context.Context, l coord.Lock, cancel func(), m *Manager) {
	t := time.NewTicker(runLease / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := l.Refresh(ctx, runLease); errors.Is(err, coord.ErrLockLost) {
			m.o.Log.Warn("policies: run lock lost; stopping the run")
			cancel()
			return
		}
	}
}
